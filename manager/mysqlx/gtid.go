package mysqlx

import "context"

// The version gates of the GTID system variables, shared by State and
// BinlogGTIDQuery: MySQL has @@gtid_mode and @@gtid_executed from 5.6.5;
// MariaDB has @@gtid_current_pos, @@gtid_slave_pos, @@gtid_binlog_pos and
// @@gtid_strict_mode from 10.0.3. Neither flavor has the other's variables.
func mysqlGTIDVars(v Version) bool   { return v.isMySQL(5, 6, 5) }
func mariaDBGTIDVars(v Version) bool { return v.isMariaDB(10, 0, 3) }

// Binlog returns the GTID position of the server's own binary log, where
// its replicas continue from: MariaDB's @@gtid_binlog_pos, MySQL's
// @@gtid_executed; "" when the server has neither.
func (g GTIDState) Binlog() string {
	if g.BinlogPos != "" {
		return g.BinlogPos
	}
	return g.Executed
}

// Current returns the furthest GTID position the server holds, applied or
// logged: MySQL's @@gtid_executed; MariaDB's @@gtid_current_pos, or
// @@gtid_binlog_pos when the current position is empty; "" when the server
// has none.
func (g GTIDState) Current() string {
	switch {
	case g.Executed != "":
		return g.Executed
	case g.CurrentPos != "":
		return g.CurrentPos
	}
	return g.BinlogPos
}

// BinlogGTIDQuery returns the SELECT that reads GTIDState.Binlog alone from
// a server of version v, "" when it has no GTIDs. It is for sessions that
// are not a *Conn (fakes, other drivers); a *Conn uses BinlogGTID.
func BinlogGTIDQuery(v Version) string {
	switch {
	case mariaDBGTIDVars(v):
		return "SELECT @@global.gtid_binlog_pos"
	case mysqlGTIDVars(v):
		return "SELECT @@global.gtid_executed"
	}
	return ""
}

// BinlogGTID reads the GTID position of the server's binary log (see
// GTIDState.Binlog) in one query, without the line breaks MySQL puts in a
// set; "" without a query when the server has no GTIDs.
func (c *Conn) BinlogGTID(ctx context.Context) (string, error) {
	q := BinlogGTIDQuery(c.version)
	if q == "" {
		return "", nil
	}
	var s string
	if err := c.QueryRow(ctx, q).Scan(&s); err != nil {
		return "", err
	}
	return normalizeGTIDSet(s), nil
}
