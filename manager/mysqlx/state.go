package mysqlx

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gomha/gomha/node/binlog"
)

// parseBinlogStatus maps a SHOW MASTER STATUS / SHOW BINARY LOG STATUS
// result. No row (log_bin off) gives the zero position and no error.
func parseBinlogStatus(cols []string, rows [][]any) (binlog.Pos, Filters, error) {
	if len(rows) == 0 {
		return binlog.Pos{}, Filters{}, nil
	}
	row := rows[0]
	get := func(name string, needed bool) (any, bool, error) {
		for i, c := range cols {
			if c == name && i < len(row) {
				return row[i], true, nil
			}
		}
		if needed {
			return nil, false, fmt.Errorf("%w %s in binary log status", ErrMissingColumn, name)
		}
		return nil, false, nil
	}
	var pos binlog.Pos
	var f Filters
	file, _, err := get("File", true)
	if err != nil {
		return pos, f, err
	}
	off, _, err := get("Position", true)
	if err != nil {
		return pos, f, err
	}
	pos.File = str(file)
	if pos.Offset, err = toUint64(off); err != nil {
		return binlog.Pos{}, f, fmt.Errorf("binary log status column Position = %q: %w", str(off), err)
	}
	if v, ok, _ := get("Binlog_Do_DB", false); ok {
		f.BinlogDoDB = normalizeList(str(v))
	}
	if v, ok, _ := get("Binlog_Ignore_DB", false); ok {
		f.BinlogIgnoreDB = normalizeList(str(v))
	}
	return pos, f, nil
}

// BinlogStatus reads the server's current binary log coordinate and its
// binlog filters (only BinlogDoDB and BinlogIgnoreDB of the Filters are
// set): SHOW MASTER STATUS, or SHOW BINARY LOG STATUS on MySQL >= 8.2 (8.4
// knows only the latter). With log_bin off it returns the zero position and
// no error.
func (c *Conn) BinlogStatus(ctx context.Context) (binlog.Pos, Filters, error) {
	stmt := c.version.binlogStatusStmt()
	res, err := c.query(ctx, stmt, stmt)
	if err != nil {
		return binlog.Pos{}, Filters{}, err
	}
	pos, f, err := parseBinlogStatus(res.cols, res.rows)
	if err != nil {
		return binlog.Pos{}, Filters{}, c.errorf(stmt, err)
	}
	return pos, f, nil
}

// stateVar is one system variable State reads, with where it goes.
type stateVar struct {
	expr string
	set  func(st *State, raw *rawState, v any) error
}

// rawState holds the variables State combines before use.
type rawState struct {
	relayLog, relayLogBasename string
}

// stateVars lists the @@ variables State selects for a server. Selecting a
// variable the server lacks is an error ("Unknown system variable"), so
// flavor- and version-specific ones are chosen here: MariaDB has no
// super_read_only and no gtid_mode; MySQL has no gtid_*_pos.
func stateVars(v Version) []stateVar {
	vars := []stateVar{
		{"@@global.server_id", func(st *State, _ *rawState, x any) (err error) { st.ServerID, err = toUint32(x); return }},
		{"@@global.hostname", func(st *State, _ *rawState, x any) error { st.Hostname = str(x); return nil }},
		{"@@global.port", func(st *State, _ *rawState, x any) (err error) { st.Port, err = toInt(x); return }},
		{"@@global.read_only", func(st *State, _ *rawState, x any) (err error) { st.ReadOnly, err = toBool(x); return }},
		{"@@global.log_bin", func(st *State, _ *rawState, x any) (err error) { st.LogBin, err = toBool(x); return }},
		{"@@global.binlog_format", func(st *State, _ *rawState, x any) error { st.BinlogFormat = str(x); return nil }},
		{"@@global.relay_log_purge", func(st *State, _ *rawState, x any) (err error) { st.RelayLogPurge, err = toBool(x); return }},
		{"@@global.datadir", func(st *State, _ *rawState, x any) error { st.DataDir = str(x); return nil }},
		{"@@global.relay_log", func(_ *State, raw *rawState, x any) error { raw.relayLog = str(x); return nil }},
	}
	// MySQL 8.0.26 renamed the slave_* variables; the old names remain as
	// deprecated aliases, so use the new ones from there on.
	if v.isMySQL(8, 0, 26) {
		vars = append(vars,
			stateVar{"@@global.log_replica_updates", func(st *State, _ *rawState, x any) (err error) { st.LogSlaveUpdates, err = toBool(x); return }},
			stateVar{"@@global.replica_net_timeout", func(st *State, _ *rawState, x any) (err error) { st.SlaveNetTimeout, err = toInt(x); return }},
		)
	} else {
		vars = append(vars,
			stateVar{"@@global.log_slave_updates", func(st *State, _ *rawState, x any) (err error) { st.LogSlaveUpdates, err = toBool(x); return }},
			stateVar{"@@global.slave_net_timeout", func(st *State, _ *rawState, x any) (err error) { st.SlaveNetTimeout, err = toInt(x); return }},
		)
	}
	// relay_log_basename: MySQL 5.6.2. MariaDB has it too (checked on
	// 10.11); we select it from 10.6 on and derive it before that.
	if v.isMySQL(5, 6, 2) || v.isMariaDB(10, 6, 0) {
		vars = append(vars, stateVar{"@@global.relay_log_basename", func(_ *State, raw *rawState, x any) error { raw.relayLogBasename = str(x); return nil }})
	}
	switch v.Flavor {
	case MySQL:
		if v.AtLeast(5, 7, 8) {
			vars = append(vars, stateVar{"@@global.super_read_only", func(st *State, _ *rawState, x any) (err error) { st.SuperReadOnly, err = toBool(x); return }})
		}
		if mysqlGTIDVars(v) {
			vars = append(vars,
				stateVar{"@@global.gtid_mode", func(st *State, _ *rawState, x any) error { st.GTID.Mode = str(x); return nil }},
				stateVar{"@@global.gtid_executed", func(st *State, _ *rawState, x any) error { st.GTID.Executed = normalizeGTIDSet(str(x)); return nil }},
			)
		}
	case MariaDB:
		if mariaDBGTIDVars(v) {
			vars = append(vars,
				stateVar{"@@global.gtid_current_pos", func(st *State, _ *rawState, x any) error { st.GTID.CurrentPos = str(x); return nil }},
				stateVar{"@@global.gtid_slave_pos", func(st *State, _ *rawState, x any) error { st.GTID.SlavePos = str(x); return nil }},
				stateVar{"@@global.gtid_binlog_pos", func(st *State, _ *rawState, x any) error { st.GTID.BinlogPos = str(x); return nil }},
				stateVar{"@@global.gtid_strict_mode", func(st *State, _ *rawState, x any) (err error) { st.GTID.StrictMode, err = toBool(x); return }},
			)
		}
	}
	return vars
}

// stateQuery is the one SELECT that reads vars.
func stateQuery(vars []stateVar) string {
	exprs := make([]string, len(vars))
	for i, sv := range vars {
		exprs[i] = sv.expr
	}
	return "SELECT " + strings.Join(exprs, ", ")
}

// applyStateVars fills st from the row returned by stateQuery(vars).
func applyStateVars(st *State, vars []stateVar, row []any) error {
	if len(row) != len(vars) {
		return fmt.Errorf("got %d values for %d variables", len(row), len(vars))
	}
	var raw rawState
	for i, sv := range vars {
		if err := sv.set(st, &raw, row[i]); err != nil {
			return fmt.Errorf("%s = %q: %w", sv.expr, str(row[i]), err)
		}
	}
	st.RelayLogBase = relayLogBase(raw.relayLogBasename, raw.relayLog, st.DataDir, st.Hostname)
	return nil
}

// relayLogBase returns the relay log path without its numeric extension:
// relay_log_basename when the server has it; otherwise relay_log (or the
// default "<hostname>-relay-bin") made absolute against datadir. An
// extension given in relay_log ("relay.log") is dropped by the server, and
// so here.
func relayLogBase(basename, relayLog, dataDir, hostname string) string {
	if basename != "" {
		return basename
	}
	name := relayLog
	if name == "" {
		name = hostname + "-relay-bin"
	} else if ext := filepath.Ext(name); ext != "" && ext != name {
		name = strings.TrimSuffix(name, ext)
	}
	if !filepath.IsAbs(name) && dataDir != "" {
		name = filepath.Join(dataDir, name)
	}
	return name
}

// State reads everything in State: one SELECT of system variables chosen
// for the server's flavor and version, then SHOW MASTER STATUS (when log_bin
// is on), the replica status and, for a replica, its heartbeat period: at
// most four round trips.
func (c *Conn) State(ctx context.Context) (*State, error) {
	st := &State{Version: c.version}
	vars := stateVars(c.version)
	const step = "SELECT @@variables"
	res, err := c.query(ctx, step, stateQuery(vars))
	if err != nil {
		return nil, err
	}
	if len(res.rows) != 1 {
		return nil, c.errorf(step, fmt.Errorf("got %d rows, want 1", len(res.rows)))
	}
	if err := applyStateVars(st, vars, res.rows[0]); err != nil {
		return nil, c.errorf(step, err)
	}
	if st.LogBin {
		var f Filters
		if st.Binlog, f, err = c.BinlogStatus(ctx); err != nil {
			return nil, err
		}
		st.BinlogDoDB, st.BinlogIgnoreDB = f.BinlogDoDB, f.BinlogIgnoreDB
	}
	if st.Replica, err = c.ReplicaStatus(ctx); err != nil {
		return nil, err
	}
	if st.Replica != nil {
		st.Replica.Filters.BinlogDoDB = st.BinlogDoDB
		st.Replica.Filters.BinlogIgnoreDB = st.BinlogIgnoreDB
		if st.HeartbeatPeriod, err = c.heartbeatPeriod(ctx); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// heartbeatPeriod reads the replica's heartbeat period, best effort: a
// server error (no such status variable, performance_schema off) gives 0;
// only a lost session is an error.
func (c *Conn) heartbeatPeriod(ctx context.Context) (float64, error) {
	var step, q string
	col := 1
	switch {
	case c.version.isMySQL(5, 7, 0):
		// MySQL 5.7 moved it to performance_schema; 8.0 removed the
		// Slave_heartbeat_period status variable.
		step = "SELECT HEARTBEAT_INTERVAL"
		q = "SELECT HEARTBEAT_INTERVAL FROM performance_schema.replication_connection_configuration WHERE CHANNEL_NAME = ''"
		col = 0
	default:
		// MariaDB (default connection) and MySQL 5.6.
		step = "SHOW GLOBAL STATUS LIKE 'Slave_heartbeat_period'"
		q = step
	}
	res, err := c.query(ctx, step, q)
	if err != nil {
		if ErrorNumber(err) != 0 {
			return 0, nil
		}
		return 0, err
	}
	if len(res.rows) == 0 || col >= len(res.rows[0]) {
		return 0, nil
	}
	p, err := toFloat(res.rows[0][col])
	if err != nil {
		return 0, nil
	}
	return p, nil
}
