package keepalived

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gomha/gomha/node/watchdog"
)

// queryTag marks the check's statements in the processlist and logs.
const queryTag = "/* gomha keepalived-check */ "

// ReadServer connects to the local mysqld described by c (read from a MySQL
// option file, watchdog.ParseDefaults) and reads Server: the variables, then
// the replica status in the spelling the version wants. The whole look is
// bounded by ctx's deadline: a server that does not answer in time is an
// error, never a wait. It uses one session, closed before returning.
func ReadServer(ctx context.Context, c watchdog.Client) (*Server, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = c.User, c.Password
	if c.Socket != "" {
		cfg.Net, cfg.Addr = "unix", c.Socket
	} else {
		cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	}
	if dl, ok := ctx.Deadline(); ok {
		t := max(time.Until(dl), time.Millisecond)
		cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = t, t, t
	}
	cfg.Logger = &mysql.NopLogger{}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql %s: %w", c, err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	db.SetMaxOpenConns(1)

	stmt := queryTag + "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('version', 'read_only', 'super_read_only')"
	cols, rows, err := query(ctx, db, stmt)
	if err != nil {
		return nil, fmt.Errorf("mysql %s: read variables: %w", c, err)
	}
	s, err := parseVariables(cols, rows)
	if err != nil {
		return nil, fmt.Errorf("mysql %s: %w", c, err)
	}
	status := ReplicaStatusStatement(s.Version)
	cols, rows, err = query(ctx, db, queryTag+status)
	if err != nil {
		return nil, fmt.Errorf("mysql %s: %s: %w", c, status, err)
	}
	if s.Channels, err = parseChannels(cols, rows); err != nil {
		return nil, fmt.Errorf("mysql %s: %s: %w", c, status, err)
	}
	return s, nil
}

// query runs a statement and returns its rows as nullable strings.
func query(ctx context.Context, db *sql.DB, stmt string) ([]string, [][]sql.NullString, error) {
	rs, err := db.QueryContext(ctx, stmt)
	if err != nil {
		return nil, nil, contextErr(ctx, err)
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return nil, nil, err
	}
	var rows [][]sql.NullString
	for rs.Next() {
		row := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		rows = append(rows, row)
	}
	if err := rs.Err(); err != nil {
		return nil, nil, contextErr(ctx, err)
	}
	return cols, rows, nil
}

// contextErr names a deadline that ran out, which the driver reports as an
// I/O timeout or a closed connection.
func contextErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// ReplicaStatusStatement returns the statement that lists every
// replication channel for a server version (@@version):
//
//   - MariaDB (10.0 and later): SHOW ALL SLAVES STATUS, because its SHOW
//     SLAVE STATUS shows the default connection only, and a multi-source
//     replica replicates through named ones too.
//   - MySQL 8.0.22 and later: SHOW REPLICA STATUS (8.4 removed SHOW SLAVE
//     STATUS). It has one row per channel from 5.7 on.
//   - Older MySQL: SHOW SLAVE STATUS.
func ReplicaStatusStatement(version string) string {
	v := strings.ToLower(version)
	if strings.Contains(v, "mariadb") {
		return "SHOW ALL SLAVES STATUS"
	}
	var n [3]int
	for i, part := range strings.SplitN(strings.SplitN(v, "-", 2)[0], ".", 3) {
		n[i], _ = strconv.Atoi(part)
	}
	if n[0] > 8 || (n[0] == 8 && (n[1] > 0 || n[2] >= 22)) {
		return "SHOW REPLICA STATUS"
	}
	return "SHOW SLAVE STATUS"
}

// parseVariables reads the rows of SHOW GLOBAL VARIABLES (Variable_name,
// Value). read_only and version must be there; super_read_only only where
// the server has it (MySQL 5.7.8 and later; no MariaDB).
func parseVariables(cols []string, rows [][]sql.NullString) (*Server, error) {
	if len(cols) < 2 {
		return nil, fmt.Errorf("SHOW GLOBAL VARIABLES returned %d columns, want 2", len(cols))
	}
	s := &Server{}
	seen := map[string]bool{}
	for _, r := range rows {
		if len(r) < 2 {
			continue
		}
		name, val := strings.ToLower(r[0].String), strings.TrimSpace(r[1].String)
		seen[name] = true
		switch name {
		case "version":
			s.Version = val
		case "read_only", "super_read_only":
			on, err := parseBool(val)
			if err != nil {
				return nil, fmt.Errorf("@@global.%s = %q: %w", name, val, err)
			}
			if name == "read_only" {
				s.ReadOnly = on
			} else {
				s.SuperReadOnly = &on
			}
		}
	}
	if !seen["read_only"] {
		return nil, errors.New("the server reported no read_only variable")
	}
	return s, nil
}

// parseBool reads a boolean variable as SHOW VARIABLES spells it: ON/OFF,
// or 1/0.
func parseBool(s string) (bool, error) {
	switch strings.ToUpper(s) {
	case "ON", "1", "TRUE", "YES":
		return true, nil
	case "OFF", "0", "FALSE", "NO":
		return false, nil
	}
	return false, errors.New("not a boolean")
}

// column names one Channel field in the replica status, MariaDB's and old
// MySQL's name first, then MySQL 8.0.22's SHOW REPLICA STATUS name. This is
// the only place that knows them.
var (
	colName      = []string{"Connection_name", "Channel_Name", "Channel_name"}
	colHost      = []string{"Master_Host", "Source_Host"}
	colPort      = []string{"Master_Port", "Source_Port"}
	colIO        = []string{"Slave_IO_Running", "Replica_IO_Running"}
	colSQL       = []string{"Slave_SQL_Running", "Replica_SQL_Running"}
	colLag       = []string{"Seconds_Behind_Master", "Seconds_Behind_Source"}
	colIOError   = []string{"Last_IO_Error"}
	colSQLError  = []string{"Last_SQL_Error"}
	requiredCols = [][]string{colHost, colIO, colSQL, colLag}
)

// parseChannels maps the replica status' rows to channels by column name.
// No rows is no channel. A result without one of the columns every
// supported version has (host, both threads, the lag) is an error: the
// check must not pass on a server it cannot read.
func parseChannels(cols []string, rows [][]sql.NullString) ([]Channel, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	index := make(map[string]int, len(cols))
	for i, c := range cols {
		index[strings.ToLower(c)] = i
	}
	find := func(names []string) int {
		for _, n := range names {
			if i, ok := index[strings.ToLower(n)]; ok {
				return i
			}
		}
		return -1
	}
	for _, names := range requiredCols {
		if find(names) < 0 {
			return nil, fmt.Errorf("no column %s in the replica status", strings.Join(names, "/"))
		}
	}
	get := func(r []sql.NullString, names []string) sql.NullString {
		if i := find(names); i >= 0 && i < len(r) {
			return r[i]
		}
		return sql.NullString{}
	}
	var out []Channel
	for _, r := range rows {
		c := Channel{
			Name:         get(r, colName).String,
			SourceHost:   strings.TrimSpace(get(r, colHost).String),
			IO:           strings.TrimSpace(get(r, colIO).String),
			SQL:          strings.TrimSpace(get(r, colSQL).String),
			LastIOError:  get(r, colIOError).String,
			LastSQLError: get(r, colSQLError).String,
		}
		if p := get(r, colPort); p.Valid && p.String != "" {
			n, err := strconv.Atoi(strings.TrimSpace(p.String))
			if err != nil {
				return nil, fmt.Errorf("source port %q: not a number", p.String)
			}
			c.SourcePort = n
		}
		if l := get(r, colLag); l.Valid && strings.TrimSpace(l.String) != "" {
			n, err := strconv.ParseInt(strings.TrimSpace(l.String), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("Seconds_Behind_Master %q: not a number", l.String)
			}
			c.Lag = &n
		}
		out = append(out, c)
	}
	return out, nil
}
