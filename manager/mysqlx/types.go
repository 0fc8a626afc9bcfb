// Package mysqlx talks SQL to one MySQL or MariaDB server: replica status,
// binlog coordinates, GTID state and the variables a failover manager needs.
// Server columns (Master_*/Slave_* or Source_*/Replica_*) are mapped to these
// types here and nowhere else.
package mysqlx

import "github.com/gomha/gomha/node/binlog"

// Flavor is the server family.
type Flavor int

// Server families.
const (
	MySQL Flavor = iota
	MariaDB
)

func (f Flavor) String() string {
	if f == MariaDB {
		return "MariaDB"
	}
	return "MySQL"
}

// Version is a server version parsed from its first numeric groups; any
// suffix ("-MariaDB-0+deb12u1-log", "-0ubuntu0.16.04.1-log") is kept in Raw
// only.
type Version struct {
	Major, Minor, Patch int
	Flavor              Flavor
	Raw                 string
}

// ReplicaStatus is the default replication connection's status, from
// SHOW SLAVE STATUS (MariaDB, MySQL < 8.0.22) or SHOW REPLICA STATUS.
type ReplicaStatus struct {
	SourceHost string // Master_Host / Source_Host
	SourcePort int    // Master_Port / Source_Port
	SourceUser string // Master_User / Source_User
	// SourceServerID is Master_Server_Id / Source_Server_Id: the server_id of
	// the source the IO thread last connected to (0 before the first
	// connection; MySQL >= 5.6 and MariaDB >= 10.0 only).
	SourceServerID uint32

	// Read is the source coordinate the IO thread has received up to
	// (Master_Log_File, Read_Master_Log_Pos).
	Read binlog.Pos
	// Exec is the source coordinate the SQL thread has applied up to
	// (Relay_Master_Log_File, Exec_Master_Log_Pos).
	Exec binlog.Pos
	// Relay is the replica's own relay-log coordinate of Exec
	// (Relay_Log_File, Relay_Log_Pos).
	Relay binlog.Pos

	IORunning  IOThread // Slave_IO_Running / Replica_IO_Running: IOConnected, IOConnecting or IOStopped
	SQLRunning bool     // Slave_SQL_Running / Replica_SQL_Running == "Yes"
	IOState    string   // Slave_IO_State / Replica_IO_State
	SQLState   string   // Slave_SQL_Running_State / Replica_SQL_Running_State

	LastIOErrno  int
	LastIOError  string
	LastSQLErrno int
	LastSQLError string

	// SecondsBehind is Seconds_Behind_Master (Seconds_Behind_Source on
	// MySQL >= 8.0.22); nil when the server says NULL (a replication thread
	// is not running).
	SecondsBehind *int64
	// SQLDelay is the configured MASTER_DELAY in seconds (0 on MySQL < 5.6
	// and MariaDB < 10.2.3, which have no such column).
	SQLDelay int64

	// Filters holds the Replicate_* filters, each a comma-separated list
	// de-duplicated and sorted so that lists compare as strings. BinlogDoDB
	// and BinlogIgnoreDB are filled only by (*Conn).State, from the
	// replica's own SHOW MASTER STATUS.
	Filters Filters

	// MySQL GTID columns (MySQL >= 5.6.5), with the server's line breaks
	// removed.
	RetrievedGTIDSet string
	ExecutedGTIDSet  string
	AutoPosition     bool

	// MariaDB GTID columns (MariaDB >= 10.0.2): Using_Gtid is "No",
	// "Slave_Pos" or "Current_Pos"; Gtid_IO_Pos is empty unless GTID is used.
	UsingGTID string
	GTIDIOPos string

	// Connection settings, which a repoint gives again (package repoint).
	// They are best effort: a missing column or a value that does not
	// parse leaves the pointer nil (unknown), never an error.
	//
	// ConnectRetry is Connect_Retry, MASTER_CONNECT_RETRY in seconds (every
	// MySQL and MariaDB).
	ConnectRetry *int
	// RetryCount is Master_Retry_Count / Source_Retry_Count, the
	// connection's MASTER_RETRY_COUNT: MySQL >= 5.6 and MariaDB versions
	// that took MASTER_RETRY_COUNT into CHANGE MASTER. MariaDB 10.x and
	// 11.x have no such column: their retry count is the server option
	// master_retry_count, which CHANGE MASTER neither changes nor accepts.
	RetryCount *uint64
	// SSL is Master_SSL_Allowed / Source_SSL_Allowed: MASTER_SSL=1 when
	// "Yes", or "Ignored" (MySQL: MASTER_SSL=1 on a server built without
	// TLS).
	SSL *bool
	// SSLVerifyServerCert is Master_SSL_Verify_Server_Cert /
	// Source_SSL_Verify_Server_Cert.
	SSLVerifyServerCert *bool
	// The MASTER_SSL_* files and the cipher list: Master_SSL_CA_File,
	// _CA_Path, _Cert, _Cipher, _Key, _Crl, _Crlpath (Source_SSL_* on
	// MySQL >= 8.0.22); "" when not set.
	SSLCA, SSLCAPath, SSLCert, SSLCipher, SSLKey, SSLCRL, SSLCRLPath string
}

// Filters are the replication and binlog filters that must agree across a
// topology. Every field is a comma-separated list as the server reports it,
// de-duplicated and sorted.
type Filters struct {
	ReplicateDoDB          string
	ReplicateIgnoreDB      string
	ReplicateDoTable       string
	ReplicateIgnoreTable   string
	ReplicateWildDoTable   string
	ReplicateWildIgnoreTbl string
	BinlogDoDB             string // SHOW MASTER STATUS Binlog_Do_DB
	BinlogIgnoreDB         string // SHOW MASTER STATUS Binlog_Ignore_DB
}

// GTIDState is a server's GTID position for either flavor.
type GTIDState struct {
	// MySQL (>= 5.6.5): @@global.gtid_mode ("" on MariaDB) and
	// @@global.gtid_executed with line breaks removed.
	Mode     string
	Executed string

	// MariaDB (>= 10.0.3): @@global.gtid_current_pos, @@global.gtid_slave_pos,
	// @@global.gtid_binlog_pos and @@global.gtid_strict_mode.
	CurrentPos string
	SlavePos   string
	BinlogPos  string
	StrictMode bool
}

// State is everything the manager reads from one server in one visit.
type State struct {
	Version  Version
	ServerID uint32
	Hostname string // @@hostname
	Port     int    // @@port
	ReadOnly bool
	// SuperReadOnly is @@global.super_read_only (MySQL >= 5.7.8); always
	// false on MariaDB, which has no such variable.
	SuperReadOnly   bool
	LogBin          bool
	LogSlaveUpdates bool // @@log_slave_updates (@@log_replica_updates on MySQL >= 8.0.26)
	BinlogFormat    string
	RelayLogPurge   bool
	SlaveNetTimeout int // seconds; @@slave_net_timeout (@@replica_net_timeout on MySQL >= 8.0.26)
	// HeartbeatPeriod is the replica's heartbeat period in seconds: MariaDB's
	// Slave_heartbeat_period status variable, MySQL's HEARTBEAT_INTERVAL from
	// performance_schema.replication_connection_configuration. 0 when the
	// server is not a replica or the value cannot be read.
	HeartbeatPeriod float64
	DataDir         string
	// RelayLogBase is the relay log's path without the numeric extension:
	// @@relay_log_basename, or derived from @@relay_log, @@datadir and
	// @@hostname where the server lacks relay_log_basename.
	RelayLogBase string
	// Binlog is SHOW MASTER STATUS (SHOW BINARY LOG STATUS on MySQL >= 8.2);
	// zero when log_bin is off.
	Binlog         binlog.Pos
	BinlogDoDB     string
	BinlogIgnoreDB string
	GTID           GTIDState
	// Replica is nil when the server is not a replica.
	Replica *ReplicaStatus
}
