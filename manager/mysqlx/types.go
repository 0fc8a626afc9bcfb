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

	// Read is the source coordinate the IO thread has received up to
	// (Master_Log_File, Read_Master_Log_Pos).
	Read binlog.Pos
	// Exec is the source coordinate the SQL thread has applied up to
	// (Relay_Master_Log_File, Exec_Master_Log_Pos).
	Exec binlog.Pos
	// Relay is the replica's own relay-log coordinate of Exec
	// (Relay_Log_File, Relay_Log_Pos).
	Relay binlog.Pos

	IORunning  string // Slave_IO_Running / Replica_IO_Running: "Yes", "No" or "Connecting"
	SQLRunning bool   // Slave_SQL_Running / Replica_SQL_Running == "Yes"
	IOState    string // Slave_IO_State / Replica_IO_State
	SQLState   string // Slave_SQL_Running_State / Replica_SQL_Running_State

	LastIOErrno  int
	LastIOError  string
	LastSQLErrno int
	LastSQLError string

	// SecondsBehind is Seconds_Behind_Master; nil when the server says NULL.
	SecondsBehind *int64
	SQLDelay      int64

	Filters Filters

	// MySQL GTID columns.
	RetrievedGTIDSet string
	ExecutedGTIDSet  string
	AutoPosition     bool

	// MariaDB GTID columns: Using_Gtid is "No", "Slave_Pos" or "Current_Pos".
	UsingGTID string
	GTIDIOPos string
}

// Filters are the replication and binlog filters that must agree across a
// topology.
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
	// MySQL: @@global.gtid_mode ("" on MariaDB) and @@global.gtid_executed.
	Mode     string
	Executed string

	// MariaDB: @@gtid_current_pos, @@gtid_slave_pos, @@gtid_binlog_pos and
	// @@gtid_strict_mode.
	CurrentPos string
	SlavePos   string
	BinlogPos  string
	StrictMode bool
}

// State is everything the manager reads from one server in one visit.
type State struct {
	Version         Version
	ServerID        uint32
	Hostname        string // @@hostname
	Port            int    // @@port
	ReadOnly        bool
	LogBin          bool
	LogSlaveUpdates bool
	BinlogFormat    string
	RelayLogPurge   bool
	SlaveNetTimeout int     // seconds
	HeartbeatPeriod float64 // seconds; MariaDB Slave_heartbeat_period status, MySQL HEARTBEAT_INTERVAL
	DataDir         string
	RelayLogBase    string // @@relay_log_basename or derived from @@relay_log
	// Binlog is SHOW MASTER STATUS (SHOW BINARY LOG STATUS on MySQL 8.4);
	// zero when log_bin is off.
	Binlog         binlog.Pos
	BinlogDoDB     string
	BinlogIgnoreDB string
	GTID           GTIDState
	// Replica is nil when the server is not a replica.
	Replica *ReplicaStatus
}
