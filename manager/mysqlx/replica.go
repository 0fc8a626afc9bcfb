package mysqlx

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// replicaColumn maps one SHOW SLAVE STATUS / SHOW REPLICA STATUS column to a
// ReplicaStatus field. names lists every spelling: the MySQL < 8.0.22 and
// MariaDB one first, then MySQL 8.0.22's SHOW REPLICA STATUS one when it
// differs.
type replicaColumn struct {
	names []string
	// needed reports whether the column must exist for this server; a
	// needed column that is missing is an error, never a silent zero.
	needed func(Version) bool
	set    func(rs *ReplicaStatus, v any) error
}

func always(Version) bool { return true }

// never marks a column that may be missing on any server.
func never(Version) bool { return false }

// mysqlGTIDColumns: MySQL 5.6.5 added Retrieved_Gtid_Set, Executed_Gtid_Set
// and Auto_Position (with SQL_Delay, Slave_SQL_Running_State and
// Master_Server_Id from 5.6.2 and earlier).
func mysqlGTIDColumns(v Version) bool { return v.isMySQL(5, 6, 5) }

// MariaDB 10.0.2 added Using_Gtid and Gtid_IO_Pos.
func mariaDBGTIDColumns(v Version) bool { return v.isMariaDB(10, 0, 2) }

// Master_Server_Id: MySQL 5.6 and MariaDB 10.0 have it (both older series
// too, but we do not insist there).
func serverIDColumn(v Version) bool { return v.isMySQL(5, 6, 0) || v.isMariaDB(10, 0, 0) }

// SQL_Delay and Slave_SQL_Running_State: MySQL 5.6, MariaDB 10.2.3
// (delayed replication, MDEV-7145).
func delayColumns(v Version) bool { return v.isMySQL(5, 6, 0) || v.isMariaDB(10, 2, 3) }

func setString(f func(*ReplicaStatus) *string) func(*ReplicaStatus, any) error {
	return func(rs *ReplicaStatus, v any) error { *f(rs) = str(v); return nil }
}

func setUint64(f func(*ReplicaStatus) *uint64) func(*ReplicaStatus, any) error {
	return func(rs *ReplicaStatus, v any) error {
		n, err := toUint64(v)
		*f(rs) = n
		return err
	}
}

func setInt(f func(*ReplicaStatus) *int) func(*ReplicaStatus, any) error {
	return func(rs *ReplicaStatus, v any) error {
		n, err := toInt(v)
		*f(rs) = n
		return err
	}
}

// setYesNo sets *f(rs) to whether the value is one of yes (any case),
// and leaves it nil for NULL or a value that is neither yes nor "No".
func setYesNo(f func(*ReplicaStatus) **bool, yes ...string) func(*ReplicaStatus, any) error {
	return func(rs *ReplicaStatus, v any) error {
		s, null := text(v)
		s = strings.TrimSpace(s)
		if null {
			return nil
		}
		on := slices.ContainsFunc(yes, func(y string) bool { return strings.EqualFold(s, y) })
		if on || strings.EqualFold(s, "No") {
			*f(rs) = &on
		}
		return nil
	}
}

func setFilter(f func(*ReplicaStatus) *string) func(*ReplicaStatus, any) error {
	return func(rs *ReplicaStatus, v any) error { *f(rs) = normalizeList(str(v)); return nil }
}

func setGTIDSet(f func(*ReplicaStatus) *string) func(*ReplicaStatus, any) error {
	return func(rs *ReplicaStatus, v any) error { *f(rs) = normalizeGTIDSet(str(v)); return nil }
}

// replicaColumns is the one table of replica status columns, for both
// flavors and both vocabularies.
var replicaColumns = []replicaColumn{
	{[]string{"Slave_IO_State", "Replica_IO_State"}, always, setString(func(r *ReplicaStatus) *string { return &r.IOState })},
	{[]string{"Master_Host", "Source_Host"}, always, setString(func(r *ReplicaStatus) *string { return &r.SourceHost })},
	{[]string{"Master_User", "Source_User"}, always, setString(func(r *ReplicaStatus) *string { return &r.SourceUser })},
	{[]string{"Master_Port", "Source_Port"}, always, setInt(func(r *ReplicaStatus) *int { return &r.SourcePort })},
	{[]string{"Master_Log_File", "Source_Log_File"}, always, setString(func(r *ReplicaStatus) *string { return &r.Read.File })},
	{[]string{"Read_Master_Log_Pos", "Read_Source_Log_Pos"}, always, setUint64(func(r *ReplicaStatus) *uint64 { return &r.Read.Offset })},
	{[]string{"Relay_Log_File"}, always, setString(func(r *ReplicaStatus) *string { return &r.Relay.File })},
	{[]string{"Relay_Log_Pos"}, always, setUint64(func(r *ReplicaStatus) *uint64 { return &r.Relay.Offset })},
	{[]string{"Relay_Master_Log_File", "Relay_Source_Log_File"}, always, setString(func(r *ReplicaStatus) *string { return &r.Exec.File })},
	{[]string{"Exec_Master_Log_Pos", "Exec_Source_Log_Pos"}, always, setUint64(func(r *ReplicaStatus) *uint64 { return &r.Exec.Offset })},
	{[]string{"Slave_IO_Running", "Replica_IO_Running"}, always, func(r *ReplicaStatus, v any) error {
		r.IORunning = ParseIOThread(str(v))
		return nil
	}},
	{[]string{"Slave_SQL_Running", "Replica_SQL_Running"}, always, func(r *ReplicaStatus, v any) error {
		r.SQLRunning = strings.EqualFold(str(v), "Yes")
		return nil
	}},
	{[]string{"Replicate_Do_DB"}, always, setFilter(func(r *ReplicaStatus) *string { return &r.Filters.ReplicateDoDB })},
	{[]string{"Replicate_Ignore_DB"}, always, setFilter(func(r *ReplicaStatus) *string { return &r.Filters.ReplicateIgnoreDB })},
	{[]string{"Replicate_Do_Table"}, always, setFilter(func(r *ReplicaStatus) *string { return &r.Filters.ReplicateDoTable })},
	{[]string{"Replicate_Ignore_Table"}, always, setFilter(func(r *ReplicaStatus) *string { return &r.Filters.ReplicateIgnoreTable })},
	{[]string{"Replicate_Wild_Do_Table"}, always, setFilter(func(r *ReplicaStatus) *string { return &r.Filters.ReplicateWildDoTable })},
	{[]string{"Replicate_Wild_Ignore_Table"}, always, setFilter(func(r *ReplicaStatus) *string { return &r.Filters.ReplicateWildIgnoreTbl })},
	{[]string{"Last_IO_Errno"}, always, setInt(func(r *ReplicaStatus) *int { return &r.LastIOErrno })},
	{[]string{"Last_IO_Error"}, always, setString(func(r *ReplicaStatus) *string { return &r.LastIOError })},
	{[]string{"Last_SQL_Errno"}, always, setInt(func(r *ReplicaStatus) *int { return &r.LastSQLErrno })},
	{[]string{"Last_SQL_Error"}, always, setString(func(r *ReplicaStatus) *string { return &r.LastSQLError })},
	{[]string{"Seconds_Behind_Master", "Seconds_Behind_Source"}, always, func(r *ReplicaStatus, v any) error {
		if _, null := text(v); null {
			r.SecondsBehind = nil
			return nil
		}
		n, err := toInt64(v)
		if err != nil {
			return err
		}
		r.SecondsBehind = &n
		return nil
	}},
	{[]string{"Master_Server_Id", "Source_Server_Id"}, serverIDColumn, func(r *ReplicaStatus, v any) error {
		n, err := toUint32(v)
		r.SourceServerID = n
		return err
	}},
	{[]string{"SQL_Delay"}, delayColumns, func(r *ReplicaStatus, v any) error {
		n, err := toInt64(v)
		r.SQLDelay = n
		return err
	}},
	{[]string{"Slave_SQL_Running_State", "Replica_SQL_Running_State"}, delayColumns, setString(func(r *ReplicaStatus) *string { return &r.SQLState })},
	{[]string{"Retrieved_Gtid_Set"}, mysqlGTIDColumns, setGTIDSet(func(r *ReplicaStatus) *string { return &r.RetrievedGTIDSet })},
	{[]string{"Executed_Gtid_Set"}, mysqlGTIDColumns, setGTIDSet(func(r *ReplicaStatus) *string { return &r.ExecutedGTIDSet })},
	{[]string{"Auto_Position"}, mysqlGTIDColumns, func(r *ReplicaStatus, v any) error {
		b, err := toBool(v)
		r.AutoPosition = b
		return err
	}},
	{[]string{"Using_Gtid"}, mariaDBGTIDColumns, setString(func(r *ReplicaStatus) *string { return &r.UsingGTID })},
	{[]string{"Gtid_IO_Pos"}, mariaDBGTIDColumns, setString(func(r *ReplicaStatus) *string { return &r.GTIDIOPos })},
	// Connection settings (see ReplicaStatus.ConnectRetry): never needed,
	// and never an error.
	{[]string{"Connect_Retry"}, never, func(r *ReplicaStatus, v any) error {
		if n, err := toInt(v); err == nil {
			r.ConnectRetry = &n
		}
		return nil
	}},
	{[]string{"Master_Retry_Count", "Source_Retry_Count"}, never, func(r *ReplicaStatus, v any) error {
		if n, err := toUint64(v); err == nil {
			r.RetryCount = &n
		}
		return nil
	}},
	{[]string{"Master_SSL_Allowed", "Source_SSL_Allowed"}, never, setYesNo(func(r *ReplicaStatus) **bool { return &r.SSL }, "Yes", "Ignored")},
	{[]string{"Master_SSL_Verify_Server_Cert", "Source_SSL_Verify_Server_Cert"}, never, setYesNo(func(r *ReplicaStatus) **bool { return &r.SSLVerifyServerCert }, "Yes")},
	{[]string{"Master_SSL_CA_File", "Source_SSL_CA_File"}, never, setString(func(r *ReplicaStatus) *string { return &r.SSLCA })},
	{[]string{"Master_SSL_CA_Path", "Source_SSL_CA_Path"}, never, setString(func(r *ReplicaStatus) *string { return &r.SSLCAPath })},
	{[]string{"Master_SSL_Cert", "Source_SSL_Cert"}, never, setString(func(r *ReplicaStatus) *string { return &r.SSLCert })},
	{[]string{"Master_SSL_Cipher", "Source_SSL_Cipher"}, never, setString(func(r *ReplicaStatus) *string { return &r.SSLCipher })},
	{[]string{"Master_SSL_Key", "Source_SSL_Key"}, never, setString(func(r *ReplicaStatus) *string { return &r.SSLKey })},
	{[]string{"Master_SSL_Crl", "Source_SSL_Crl"}, never, setString(func(r *ReplicaStatus) *string { return &r.SSLCRL })},
	{[]string{"Master_SSL_Crlpath", "Source_SSL_Crlpath"}, never, setString(func(r *ReplicaStatus) *string { return &r.SSLCRLPath })},
}

// channelColumn names the replication channel in MySQL >= 5.7's replica
// status, which has one row per channel. We manage the default channel
// (named "") only, as MHA does.
const channelColumn = "Channel_Name"

// parseReplicaStatus maps a SHOW SLAVE STATUS / SHOW REPLICA STATUS result
// to a ReplicaStatus, by column name. It returns nil when the server is not
// a replica: no row, or an empty Master_Host (MHA also treats an empty
// Master_Log_File as "not a slave"; we do not, because a MariaDB replica set
// up with MASTER_USE_GTID has none until its IO thread first connects).
// Values are driver values: []byte or string, nil for NULL.
func parseReplicaStatus(v Version, cols []string, rows [][]any) (*ReplicaStatus, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	index := make(map[string]int, len(cols))
	for i, c := range cols {
		index[c] = i
	}
	row := rows[0]
	if ci, ok := index[channelColumn]; ok && len(rows) > 1 {
		row = nil
		var names []string
		for _, r := range rows {
			if ci < len(r) && str(r[ci]) == "" {
				row = r
				break
			}
			if ci < len(r) {
				names = append(names, str(r[ci]))
			}
		}
		if row == nil {
			return nil, fmt.Errorf("%w: replicates through named channels only (%s); only the default channel is supported",
				ErrUnsupported, strings.Join(names, ", "))
		}
	}
	rs := &ReplicaStatus{}
	for _, col := range replicaColumns {
		i, name, found := -1, "", false
		for _, n := range col.names {
			if j, ok := index[n]; ok {
				i, name, found = j, n, true
				break
			}
		}
		if !found {
			if col.needed(v) {
				return nil, fmt.Errorf("%w %s in replica status of %s", ErrMissingColumn, strings.Join(col.names, "/"), v)
			}
			continue
		}
		if i >= len(row) {
			return nil, fmt.Errorf("replica status row has %d values for %d columns", len(row), len(cols))
		}
		if err := col.set(rs, row[i]); err != nil {
			return nil, fmt.Errorf("replica status column %s = %q: %w", name, str(row[i]), err)
		}
	}
	if rs.SourceHost == "" {
		return nil, nil
	}
	return rs, nil
}

// normalizeList de-duplicates and sorts a comma-separated list, so that
// filter lists compare as strings: "b,a,b" -> "a,b".
func normalizeList(s string) string {
	if s == "" {
		return ""
	}
	var items []string
	for _, it := range strings.Split(s, ",") {
		if it = strings.TrimSpace(it); it != "" {
			items = append(items, it)
		}
	}
	slices.Sort(items)
	return strings.Join(slices.Compact(items), ",")
}

// normalizeGTIDSet removes the line breaks MySQL puts after each comma of a
// GTID set with several source UUIDs.
func normalizeGTIDSet(s string) string {
	return strings.NewReplacer("\r", "", "\n", "").Replace(strings.TrimSpace(s))
}

// ReplicaStatus reads the default replication connection's status: SHOW
// SLAVE STATUS on MariaDB and MySQL < 8.0.22, SHOW REPLICA STATUS on MySQL
// >= 8.0.22 (8.4 knows only the latter). It returns nil, nil when the server
// is not a replica.
func (c *Conn) ReplicaStatus(ctx context.Context) (*ReplicaStatus, error) {
	stmt := c.version.replicaStatusStmt()
	res, err := c.query(ctx, stmt, stmt)
	if err != nil {
		return nil, err
	}
	rs, err := parseReplicaStatus(c.version, res.cols, res.rows)
	if err != nil {
		return nil, c.errorf(stmt, err)
	}
	return rs, nil
}
