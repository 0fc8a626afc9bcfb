// Package topology is the pure model of one replication cluster and the
// start-up checks' decisions (MHA's masterha_check_repl and the monitor's
// start-up, mha-compat §5.1 steps 4-12 and §2.3), plus the choice of the
// latest replicas and of a new master (§6.3-6.4).
//
// Nothing here talks to a server, resolves a name or logs: callers read
// every server (package mysqlx) and hand the facts to Build as
// Observations, in configuration order; Build returns the Topology and a
// Report of findings, each with a stable Code (see Codes). The same facts
// always give the same decisions, so every decision is tested from
// scenario files in testdata/ without a network.
//
// Vocabulary: the master is the cluster's writable server (MHA's word, kept
// in candidate_master, no_master and the log); a replica's source is the
// server it replicates from.
package topology

import (
	"fmt"
	"time"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/mysqlx"
)

// Observation is what the caller learned about one configured server in one
// visit.
type Observation struct {
	// Server is the server's resolved configuration block.
	Server config.Server
	// State is what the server reported; nil when it could not be read.
	State *mysqlx.State
	// Err is why State is nil (the connect or read error).
	Err error
	// Errno is the MySQL error number of Err when the server answered with
	// an error packet (mysqlx.ErrorNumber), 0 otherwise. See ServerUpErrno.
	Errno int
	// SourceIPs are the addresses the caller resolved the replica's
	// SourceHost to (MHA resolves Master_Host with gethostbyname). Optional:
	// SourceHost is also matched against the configured hostname and ip.
	SourceIPs []string
}

// ServerUpErrno reports whether a connection error number proves the server
// is running: MHA's "alive" error list (too many connections 1040, bad
// handshake 1043, access denied 1044/1045, host blocked 1129, host not
// allowed 1130, too many user connections 1203, resource limit 1226, auth
// protocol 1251, old password 1275, and 1042 "can't get hostname"). At
// start-up such an error is a configuration problem, never a crash.
func ServerUpErrno(n int) bool {
	return n > 0 && n <= 0xffff && mysqlx.IsAliveErrno(uint16(n))
}

// Options are the run's settings that are not per-server configuration.
type Options struct {
	// IgnoreFailOnStart is --ignore_fail_on_start: dead servers with
	// ignore_fail=1 are tolerated at start.
	IgnoreFailOnStart bool
	// PingInterval is the manager's ping interval; zero means the master's
	// ping_interval from the configuration (3 s when unset).
	PingInterval time.Duration
	// MaxSlaveNetTimeout is the largest slave_net_timeout accepted without
	// a warning; zero means DefaultMaxSlaveNetTimeout.
	MaxSlaveNetTimeout time.Duration
	// MaxHeartbeatPeriod is the largest replication heartbeat period
	// accepted without a warning; zero means HeartbeatIntervals ping
	// intervals.
	MaxHeartbeatPeriod time.Duration
}

// DefaultMaxSlaveNetTimeout is the default of Options.MaxSlaveNetTimeout:
// 60 s, the server default since MySQL 5.7.7 and MariaDB 10.2.4. Older
// releases default to 3600 s, which makes a replica trust a silently dead
// source connection for an hour.
const DefaultMaxSlaveNetTimeout = 60 * time.Second

// HeartbeatIntervals is how many ping intervals a replication heartbeat
// period may last before it is reported. The manager declares a master dead
// after about four failed pings; a replica can only confirm that its source
// went silent once a heartbeat is overdue, so a heartbeat slower than ten
// ping intervals (30 s with the default 3 s: the server default heartbeat
// of slave_net_timeout/2 passes) leaves the replicas' evidence several
// detection windows behind the manager's.
const HeartbeatIntervals = 10

// DefaultPingInterval is MHA's default ping_interval.
const DefaultPingInterval = 3 * time.Second

// Role is a server's place in the topology.
type Role int

// Roles.
const (
	// RoleDead is an unreachable server other than the master.
	RoleDead Role = iota
	// RoleMaster is the current master, alive or dead.
	RoleMaster
	// RoleReplica is an alive replica of the master whose SQL thread has
	// not stopped with an error (MHA's "alive slave").
	RoleReplica
	// RoleFailedReplica is an alive replica whose SQL thread stopped with
	// an error (MHA's "failed slave").
	RoleFailedReplica
	// RoleUnmanaged is a replica of another replica, left alone because of
	// multi_tier_slave=1.
	RoleUnmanaged
	// RoleStray is an alive server that fits nowhere: not a replica, a
	// replica of an unconfigured source, or of a server other than the
	// master without multi_tier_slave. It is always reported as an error.
	RoleStray
)

// String names the role as the tree printer shows it.
func (r Role) String() string {
	switch r {
	case RoleDead:
		return "dead"
	case RoleMaster:
		return "master"
	case RoleReplica:
		return "replica"
	case RoleFailedReplica:
		return "failed replica"
	case RoleUnmanaged:
		return "unmanaged"
	case RoleStray:
		return "stray"
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// GTIDMode is how a failover would recover the replicas (MHA's "GTID
// failover mode", mha-compat §6.8). Values 0-2 are MHA's; 3 is gomha's
// MariaDB GTID extension (MHA never uses MariaDB GTID, §0 item 10).
type GTIDMode int

// GTID modes.
const (
	// GTIDOff is MHA mode 0: relay-log diffs and CHANGE MASTER with
	// MASTER_LOG_FILE/POS.
	GTIDOff GTIDMode = 0
	// GTIDMySQL is MHA mode 1: MySQL GTID everywhere and auto-position
	// allowed; CHANGE MASTER ... MASTER_AUTO_POSITION=1.
	GTIDMySQL GTIDMode = 1
	// GTIDMySQLNoAutoPos is MHA mode 2: MySQL GTID everywhere but
	// auto-position disabled (use_gtid_auto_pos=0 and no replica using
	// it); file/position recovery with disable_log_bin forced on replicas.
	GTIDMySQLNoAutoPos GTIDMode = 2
	// GTIDMariaDB is gomha's extension: every server is MariaDB and every
	// replica already replicates with GTID (Using_Gtid is Slave_Pos or
	// Current_Pos); CHANGE MASTER ... MASTER_USE_GTID=slave_pos.
	GTIDMariaDB GTIDMode = 3
)

// String renders the mode for logs: "0 (file/position)".
func (m GTIDMode) String() string {
	switch m {
	case GTIDOff:
		return "0 (file/position)"
	case GTIDMySQL:
		return "1 (MySQL GTID auto-position)"
	case GTIDMySQLNoAutoPos:
		return "2 (MySQL GTID without auto-position: file/position)"
	case GTIDMariaDB:
		return "3 (MariaDB GTID)"
	}
	return fmt.Sprintf("%d (unknown)", int(m))
}

// UsesGTID reports whether a failover in mode m repoints replicas by GTID.
func (m GTIDMode) UsesGTID() bool { return m == GTIDMySQL || m == GTIDMariaDB }

// Node is one configured server in the topology.
type Node struct {
	// Server is the configuration block.
	Server config.Server
	// State is what the server reported; nil when it is dead.
	State *mysqlx.State
	// Err is why the server is dead (nil when alive).
	Err error
	// Errno is the MySQL error number of Err, 0 when none.
	Errno int
	// Role is the server's place.
	Role Role
	// Source is the configured server this one replicates from; nil when
	// it is not a replica or its source is not configured.
	Source *Node
	// LowestVersion is true for a replica running the lowest major.minor
	// version among the replicas (MHA's "oldest major version"): only those
	// may become master, because a replica must not be older than its
	// source.
	LowestVersion bool

	sourceIPs []string
}

// Alive reports whether the server answered.
func (n *Node) Alive() bool { return n.State != nil }

// Host renders the server as MHA logs it: "hostname(ip:port)", IPv6-safe
// (config.Server.Label).
func (n *Node) Host() string { return n.Server.Label() }

// Replica returns the server's replication status, nil when the server is
// dead or not a replica.
func (n *Node) Replica() *mysqlx.ReplicaStatus {
	if n.State == nil || n.State.Replica == nil || n.State.Replica.SourceHost == "" {
		return nil
	}
	return n.State.Replica
}

// sqlError reports a replica whose SQL thread stopped with an error.
func (n *Node) sqlError() bool {
	r := n.Replica()
	return r != nil && !r.SQLRunning && r.LastSQLErrno != 0
}

// Topology is the model of one cluster built from Observations.
type Topology struct {
	// Nodes are every configured server, in configuration order.
	Nodes []*Node
	// Master is the current master, alive or dead; nil when it could not be
	// determined (the Report then has an error).
	Master *Node
	// GTIDMode is how a failover would repoint replicas.
	GTIDMode GTIDMode
}

func (t *Topology) filter(keep func(*Node) bool) []*Node {
	var out []*Node
	for _, n := range t.Nodes {
		if keep(n) {
			out = append(out, n)
		}
	}
	return out
}

// Replicas returns the alive, working replicas of the master in
// configuration order (MHA's "alive slaves"): the servers a failover
// recovers and may promote.
func (t *Topology) Replicas() []*Node {
	return t.filter(func(n *Node) bool { return n.Role == RoleReplica })
}

// Alive returns the alive servers that the manager manages: the master when
// alive, the replicas and the failed replicas (MHA's "alive servers").
func (t *Topology) Alive() []*Node {
	return t.filter(func(n *Node) bool {
		return n.Alive() && (n.Role == RoleMaster || n.Role == RoleReplica || n.Role == RoleFailedReplica)
	})
}

// Dead returns the unreachable servers, the master included when it is
// unreachable.
func (t *Topology) Dead() []*Node {
	return t.filter(func(n *Node) bool { return !n.Alive() })
}

// Failed returns the replicas whose SQL thread stopped with an error.
func (t *Topology) Failed() []*Node {
	return t.filter(func(n *Node) bool { return n.Role == RoleFailedReplica })
}

// Unmanaged returns the replicas left alone by multi_tier_slave=1.
func (t *Topology) Unmanaged() []*Node {
	return t.filter(func(n *Node) bool { return n.Role == RoleUnmanaged })
}

// Lookup returns the server whose hostname or ip is host and whose port is
// port, or nil.
func (t *Topology) Lookup(host string, port int) *Node {
	for _, n := range t.Nodes {
		if n.Server.Port == port && (n.Server.Hostname == host || n.Server.IP == host) {
			return n
		}
	}
	return nil
}
