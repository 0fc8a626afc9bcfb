package watchdog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MySQL error numbers the watchdog tells apart.
const (
	erBadField          = 1054 // ER_BAD_FIELD_ERROR: no TIME_MS column (MySQL)
	erNoSuchThread      = 1094 // ER_NO_SUCH_THREAD: the session ended by itself
	erUnknownSystemVar  = 1193 // ER_UNKNOWN_SYSTEM_VARIABLE: no super_read_only (MariaDB, MySQL < 5.7.8)
	localLockWaitSecond = 1    // lock_wait_timeout of SET GLOBAL read_only
)

// queryTag marks the watchdog's statements in the processlist and logs.
const queryTag = "/* gomha watchdog */ "

// MySQL is the watchdog's single session on the local mysqld.
type MySQL struct {
	db *sql.DB
	// seconds is set once the server turned out to lack TIME_MS.
	seconds bool
	// port and socket are where the server listens (Kill finds mysqld by
	// them); pidPath is @@pid_file, read at pidAt.
	port   int
	socket string
	stop   stopper

	mu      sync.Mutex
	pidPath string
	pidAt   time.Time
}

// OpenMySQL prepares a connection pool of one session to c. Nothing is
// dialled until the first statement.
func OpenMySQL(c Client, timeout time.Duration) (*MySQL, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = c.User, c.Password
	if c.Socket != "" {
		cfg.Net, cfg.Addr = "unix", c.Socket
	} else {
		cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	}
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = timeout, timeout, timeout
	cfg.Logger = &mysql.NopLogger{}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("watchdog: mysql %s: %w", c, err)
	}
	db := sql.OpenDB(conn)
	// One session: CONNECTION_ID() in a statement is the watchdog's only
	// session, which the demotion must not kill.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	m := &MySQL{db: db, socket: c.Socket, stop: newStopper()}
	if c.Socket == "" {
		m.port = c.Port
	}
	return m, nil
}

// Close closes the session.
func (m *MySQL) Close() error { return m.db.Close() }

func errno(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// ManagerIdle returns the smallest idle time among the sessions of user
// whose client host is one of hosts, and whether there was any.
//
// The idle time is information_schema.PROCESSLIST's time in the current
// state, which for the manager's pinging session (Sleep between pings) is
// the time since its last statement ended. MariaDB has TIME_MS (ms with
// µs precision, every version gomha supports); MySQL has only TIME in
// whole seconds (5.7, 8.0, 8.4: the column is deprecated in favour of
// performance_schema.processlist from 8.0.22 but still there), which is
// rounded up by a second so that the contact is never dated later than it
// was.
func (m *MySQL) ManagerIdle(ctx context.Context, user string, hosts []string) (time.Duration, bool, error) {
	col := "TIME_MS"
	if m.seconds {
		col = "TIME"
	}
	q := queryTag + "SELECT HOST, " + col + " FROM information_schema.PROCESSLIST WHERE USER = ? AND ID <> CONNECTION_ID()"
	rows, err := m.db.QueryContext(ctx, q, user)
	if err != nil && !m.seconds && errno(err) == erBadField {
		m.seconds = true
		return m.ManagerIdle(ctx, user, hosts)
	}
	if err != nil {
		return 0, false, fmt.Errorf("read processlist: %w", err)
	}
	defer rows.Close()
	var (
		best time.Duration
		seen bool
	)
	for rows.Next() {
		var host, t sql.NullString
		if err := rows.Scan(&host, &t); err != nil {
			return 0, false, fmt.Errorf("read processlist: %w", err)
		}
		if !MatchHost(host.String, hosts) {
			continue
		}
		idle, ok := parseIdle(t.String, m.seconds)
		if !ok {
			continue
		}
		if !seen || idle < best {
			best, seen = idle, true
		}
	}
	if err := rows.Err(); err != nil {
		return 0, false, fmt.Errorf("read processlist: %w", err)
	}
	rows.Close()
	m.refreshPID(ctx)
	return best, seen, nil
}

// parseIdle reads TIME_MS ("1234.567") or, with seconds, TIME ("3"),
// rounding up.
func parseIdle(s string, seconds bool) (time.Duration, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	if seconds {
		return time.Duration(f+1) * time.Second, true
	}
	return time.Duration(math.Ceil(f)) * time.Millisecond, true
}

// MatchHost reports whether a processlist HOST ("198.18.0.2:41234",
// "[fd00::2]:41234", "fd00::2:41234", "mgr.example:41234", or a bare name)
// is one of hosts, comparing IP addresses by value and names without case.
func MatchHost(processHost string, hosts []string) bool {
	h := processHost
	if i := strings.LastIndexByte(h, ':'); i >= 0 && allDigitsStr(h[i+1:]) {
		h = h[:i]
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	a, aerr := netip.ParseAddr(h)
	for _, want := range hosts {
		w := strings.TrimSuffix(strings.TrimPrefix(want, "["), "]")
		if b, err := netip.ParseAddr(w); err == nil && aerr == nil {
			if a.Unmap() == b.Unmap() {
				return true
			}
			continue
		}
		if strings.EqualFold(h, w) {
			return true
		}
	}
	return false
}

func allDigitsStr(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// systemUsers are processlist users that are the server's own threads.
var systemUsers = []string{"system user", "event_scheduler"}

// keepSession reports whether a session survives the demotion: the server's
// own threads (replication SQL/IO threads, workers, the event scheduler:
// USER 'system user' or 'event_scheduler', COMMAND 'Daemon' in MySQL 8 and
// MariaDB) and the binlog dump threads that feed the replicas (COMMAND
// 'Binlog Dump', 'Binlog Dump GTID' in MySQL).
func keepSession(user, command string) bool {
	for _, u := range systemUsers {
		if strings.EqualFold(user, u) {
			return true
		}
	}
	c := strings.ToLower(command)
	return strings.HasPrefix(c, "binlog dump") || c == "daemon" || strings.HasPrefix(c, "slave_") || c == "register slave"
}

// Demote makes the local server refuse writes, in this order:
//
//  1. KILL CONNECTION of every client session but the watchdog's own, the
//     replication threads and the server's threads: open transactions are
//     rolled back (so that read_only does not wait for them), and sessions
//     with SUPER (or READ_ONLY ADMIN, MariaDB >= 10.11), which ignore
//     read_only, are gone.
//  2. SET GLOBAL read_only = 1, with lock_wait_timeout 1 s: a write that
//     started between the kills and this step must not stall the demotion.
//  3. KILL CONNECTION again, for the sessions that connected meanwhile.
//  4. read_only again if step 2 failed.
//  5. SET GLOBAL super_read_only = 1 where the server has it (MySQL >=
//     5.7.8; MariaDB has no super_read_only, the step is then reported as
//     not applicable).
//  6. Check that @@global.read_only is 1.
//
// Every step is reported; the demotion is complete when all are OK. The
// whole fits in DemoteSQLBudget on a server that answers. What a failed
// step leads to is JudgeDemotion's: only a server that is not verified
// read-only (step 6) is stopped by the caller (Killer); one that is, with
// a session that could not be killed, is demoted again at the next tick.
func (m *MySQL) Demote(ctx context.Context) []Step {
	conn, err := m.db.Conn(ctx)
	if err != nil {
		return []Step{{Name: StepConnect, Err: err.Error()}}
	}
	defer conn.Close()
	var steps []Step
	readOnly := func() Step {
		st := Step{Name: StepReadOnly}
		if _, err := conn.ExecContext(ctx, queryTag+"SET SESSION lock_wait_timeout = "+strconv.Itoa(localLockWaitSecond)); err != nil {
			st.Err = err.Error()
			return st
		}
		if _, err := conn.ExecContext(ctx, queryTag+"SET GLOBAL read_only = 1"); err != nil {
			st.Err = err.Error()
			return st
		}
		st.OK, st.Detail = true, "SET GLOBAL read_only = 1"
		return st
	}
	steps = append(steps, m.killClients(ctx, conn))
	ro := readOnly()
	steps = append(steps, ro)
	again := m.killClients(ctx, conn)
	again.Name += " (again)"
	steps = append(steps, again)
	if !ro.OK {
		ro = readOnly()
		ro.Name = StepReadOnly + " (after kill)"
		steps = append(steps, ro)
	}
	sro := Step{Name: StepSuperReadOnly}
	if _, err := conn.ExecContext(ctx, queryTag+"SET GLOBAL super_read_only = 1"); err != nil {
		if errno(err) == erUnknownSystemVar {
			sro.OK, sro.Detail = true, "not applicable: the server has no super_read_only (MariaDB; MySQL before 5.7.8)"
		} else {
			sro.Err = err.Error()
		}
	} else {
		sro.OK, sro.Detail = true, "SET GLOBAL super_read_only = 1"
	}
	steps = append(steps, sro)
	chk := Step{Name: StepVerify}
	var v int
	if err := conn.QueryRowContext(ctx, queryTag+"SELECT @@global.read_only").Scan(&v); err != nil {
		chk.Err = err.Error()
	} else if v != 1 {
		chk.Err = fmt.Sprintf("@@global.read_only is %d", v)
	} else {
		chk.OK, chk.Detail = true, "@@global.read_only = 1"
	}
	return append(steps, chk)
}

// ReadOnly reports @@global.read_only.
func (m *MySQL) ReadOnly(ctx context.Context) (bool, error) {
	var v int
	if err := m.db.QueryRowContext(ctx, queryTag+"SELECT @@global.read_only").Scan(&v); err != nil {
		return false, err
	}
	return v == 1, nil
}

func (m *MySQL) killClients(ctx context.Context, conn *sql.Conn) Step {
	st := Step{Name: StepKillSessions}
	rows, err := conn.QueryContext(ctx, queryTag+"SELECT ID, USER, COMMAND FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()")
	if err != nil {
		st.Err = err.Error()
		return st
	}
	var ids []uint64
	for rows.Next() {
		var (
			id            uint64
			user, command sql.NullString
		)
		if err := rows.Scan(&id, &user, &command); err != nil {
			rows.Close()
			st.Err = err.Error()
			return st
		}
		if !keepSession(user.String, command.String) {
			ids = append(ids, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		st.Err = err.Error()
		return st
	}
	var failed []string
	killed := 0
	for _, id := range ids {
		// KILL takes no placeholder; id is an integer read from the server.
		if _, err := conn.ExecContext(ctx, queryTag+"KILL CONNECTION "+strconv.FormatUint(id, 10)); err != nil && errno(err) != erNoSuchThread {
			failed = append(failed, fmt.Sprintf("%d: %v", id, err))
			continue
		}
		killed++
	}
	st.Detail = fmt.Sprintf("killed %d sessions", killed)
	if len(failed) > 0 {
		st.Err = strings.Join(failed, "; ")
		return st
	}
	st.OK = true
	return st
}
