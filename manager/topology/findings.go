package topology

import (
	"fmt"
	"strings"
)

// Severity ranks a finding.
type Severity int

// Severities, least severe first.
const (
	// SeverityInfo is worth knowing but needs no action.
	SeverityInfo Severity = iota
	// SeverityWarning does not stop the manager but weakens a failover.
	SeverityWarning
	// SeverityError stops the manager from starting (MHA's "Error happened
	// on checking configurations").
	SeverityError
)

// String returns "info", "warning" or "error", the words of MHA's log.
func (s Severity) String() string {
	switch s {
	case SeverityInfo:
		return "info"
	case SeverityWarning:
		return "warning"
	case SeverityError:
		return "error"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// Code names a kind of finding. Codes are stable: scripts and alerts may
// match them. Codes() lists them all with their severity.
type Code string

// Finding codes, in the order the checks run. See Codes for each one's
// severity and meaning.
const (
	// CodeConnectRefused (error): the server answered the connection with an error that proves it is running (access denied, too many connections, host blocked...).
	CodeConnectRefused Code = "ConnectRefused"
	// CodeNoAliveServer (error): no configured server could be reached.
	CodeNoAliveServer Code = "NoAliveServer"
	// CodeSourceNotConfigured (error): a replica replicates from a host:port that is not a configured server.
	CodeSourceNotConfigured Code = "SourceNotConfigured"
	// CodeTooManyNonReplicas (error): two or more alive servers are not replicas; at most one may be.
	CodeTooManyNonReplicas Code = "TooManyNonReplicas"
	// CodeNoWritableMaster (error): replicas use several sources and all of them are alive and read_only.
	CodeNoWritableMaster Code = "NoWritableMaster"
	// CodeTooManyWritableMasters (error): replicas use several sources and two or more are writable or dead.
	CodeTooManyWritableMasters Code = "TooManyWritableMasters"
	// CodeMultiMaster (info): replicas use several sources; the single writable one was taken as the master.
	CodeMultiMaster Code = "MultiMaster"
	// CodeReplicaSQLError (error): a replica's SQL thread stopped with an error (ignore_fail does not excuse it).
	CodeReplicaSQLError Code = "ReplicaSQLError"
	// CodeNotReplicating (error): an alive server other than the master is not a replica.
	CodeNotReplicating Code = "NotReplicating"
	// CodeWrongSource (error): a replica replicates from a server other than the master and multi_tier_slave is off.
	CodeWrongSource Code = "WrongSource"
	// CodeUnmanagedReplica (info): a replica of another replica is left unmanaged (multi_tier_slave=1).
	CodeUnmanagedReplica Code = "UnmanagedReplica"
	// CodeNoAliveReplica (error): no alive, working replica of the master.
	CodeNoAliveReplica Code = "NoAliveReplica"
	// CodeMasterDead (warning): the master the replicas point at is not reachable.
	CodeMasterDead Code = "MasterDead"
	// CodeFlavorMix (warning): MySQL and MariaDB servers are mixed.
	CodeFlavorMix Code = "FlavorMix"
	// CodeNotLowestVersion (info): a replica runs a newer major.minor version than the oldest replica and will not be promoted.
	CodeNotLowestVersion Code = "NotLowestVersion"
	// CodeGTIDPartial (info): some servers use GTID replication but not all, so failover uses file/position recovery.
	CodeGTIDPartial Code = "GTIDPartial"
	// CodeReplicaWritable (info): a replica is not read_only.
	CodeReplicaWritable Code = "ReplicaWritable"
	// CodeRelayLogPurge (warning): relay_log_purge is on, so relay logs needed for recovery may be gone.
	CodeRelayLogPurge Code = "RelayLogPurge"
	// CodeLogBinOff (warning): a replica has no binary log and cannot become master.
	CodeLogBinOff Code = "LogBinOff"
	// CodeSlaveNetTimeoutHigh (warning): slave_net_timeout is so long that a replica notices a vanished source late.
	CodeSlaveNetTimeoutHigh Code = "SlaveNetTimeoutHigh"
	// CodeHeartbeatSlow (warning): the replication heartbeat is off, longer than slave_net_timeout or slower than the detection window.
	CodeHeartbeatSlow Code = "HeartbeatSlow"
	// CodeNoMasterCandidate (error): no replica may become master (no_master, log-bin off, newer version).
	CodeNoMasterCandidate Code = "NoMasterCandidate"
	// CodeReplicateFilterDiffers (error): replicas have different replicate_* filters (check_repl_filter=1).
	CodeReplicateFilterDiffers Code = "ReplicateFilterDiffers"
	// CodeBinlogFilterDiffers (error): servers with a binary log have different binlog_do_db/binlog_ignore_db (check_repl_filter=1).
	CodeBinlogFilterDiffers Code = "BinlogFilterDiffers"
	// CodeBinlogReplicateFilter (error): binlog_do_db/binlog_ignore_db differ from replicate_do_db/replicate_ignore_db (check_repl_filter=1).
	CodeBinlogReplicateFilter Code = "BinlogReplicateFilterMismatch"
	// CodeServerIDCollision (error): two servers share a server_id.
	CodeServerIDCollision Code = "ServerIDCollision"
	// CodeErrantGTID (error): a replica has GTIDs the master lacks and failover would use GTID.
	CodeErrantGTID Code = "ErrantGTID"
	// CodeErrantGTIDUnused (warning): a replica has GTIDs the master lacks; failover uses file/position so it is not blocked, but the data differ.
	CodeErrantGTIDUnused Code = "ErrantGTIDUnused"
	// CodeGTIDUnreadable (warning): a GTID position could not be parsed, so errant transactions were not checked.
	CodeGTIDUnreadable Code = "GTIDUnreadable"
	// CodeDeadServer (error): a server other than the master is unreachable.
	CodeDeadServer Code = "DeadServer"
	// CodeDeadServerIgnored (warning): an unreachable server is tolerated (ignore_fail=1 and --ignore_fail_on_start).
	CodeDeadServerIgnored Code = "DeadServerIgnored"
	// CodeReplicaIOStopped (error): a replica's IO thread is not running.
	CodeReplicaIOStopped Code = "ReplicaIOStopped"
	// CodeReplicaSQLStopped (error): a replica's SQL thread is not running.
	CodeReplicaSQLStopped Code = "ReplicaSQLStopped"
	// CodeReplicaLagUnknown (error): Seconds_Behind_Master is NULL.
	CodeReplicaLagUnknown Code = "ReplicaLagUnknown"
	// CodeReplicaLagging (error): Seconds_Behind_Master is above the limit.
	CodeReplicaLagging Code = "ReplicaLagging"
)

// CodeInfo describes one finding code.
type CodeInfo struct {
	Code     Code
	Severity Severity
	// Check is where the check comes from: an MHA start-up step
	// (mha-compat §5.1) or "gomha" for our additions.
	Check string
	// Meaning is a one-line description for documentation.
	Meaning string
}

// codes is the declarative table of every finding: its code fixes its
// severity, as VTOrc's analysis codes do.
var codes = []CodeInfo{
	{CodeConnectRefused, SeverityError, "MHA 5.1 step 3", "the server answered the connection with an error that proves it is running (access denied, too many connections, host blocked...)"},
	{CodeNoAliveServer, SeverityError, "MHA 5.1 step 4", "no configured server could be reached"},
	{CodeSourceNotConfigured, SeverityError, "MHA 5.1 step 6", "a replica replicates from a host:port that is not a configured server"},
	{CodeTooManyNonReplicas, SeverityError, "MHA 5.1 step 6", "two or more alive servers are not replicas; at most one may be"},
	{CodeNoWritableMaster, SeverityError, "MHA 5.1 step 6", "replicas use several sources and all of them are alive and read_only"},
	{CodeTooManyWritableMasters, SeverityError, "MHA 5.1 step 6", "replicas use several sources and two or more are writable or dead"},
	{CodeMultiMaster, SeverityInfo, "MHA 5.1 step 6", "replicas use several sources; the single writable one was taken as the master"},
	{CodeReplicaSQLError, SeverityError, "MHA 5.1 step 6", "a replica's SQL thread stopped with an error (ignore_fail does not excuse it)"},
	{CodeNotReplicating, SeverityError, "MHA 5.1 step 6", "an alive server other than the master is not a replica"},
	{CodeWrongSource, SeverityError, "MHA 5.1 step 6", "a replica replicates from a server other than the master and multi_tier_slave is off"},
	{CodeUnmanagedReplica, SeverityInfo, "MHA 5.1 step 6", "a replica of another replica is left unmanaged (multi_tier_slave=1)"},
	{CodeNoAliveReplica, SeverityError, "MHA 5.1 step 4", "no alive, working replica of the master"},
	{CodeMasterDead, SeverityWarning, "MHA 5.1 step 8", "the master the replicas point at is not reachable"},
	{CodeFlavorMix, SeverityWarning, "gomha", "MySQL and MariaDB servers are mixed"},
	{CodeNotLowestVersion, SeverityInfo, "MHA 5.1 step 5", "a replica runs a newer major.minor version than the oldest replica and will not be promoted"},
	{CodeGTIDPartial, SeverityInfo, "MHA 5.1 step 7", "some servers use GTID replication but not all, so failover uses file/position recovery"},
	{CodeReplicaWritable, SeverityInfo, "MHA 5.1 step 9", "a replica is not read_only"},
	{CodeRelayLogPurge, SeverityWarning, "MHA 5.1 step 9", "relay_log_purge is on, so relay logs needed for recovery may be gone"},
	{CodeLogBinOff, SeverityWarning, "MHA 5.1 step 9", "a replica has no binary log and cannot become master"},
	{CodeSlaveNetTimeoutHigh, SeverityWarning, "gomha", "slave_net_timeout is so long that a replica notices a vanished source late"},
	{CodeHeartbeatSlow, SeverityWarning, "gomha", "the replication heartbeat is off, longer than slave_net_timeout or slower than the detection window"},
	{CodeNoMasterCandidate, SeverityError, "MHA 5.1 step 9", "no replica may become master (no_master, log-bin off, newer version)"},
	{CodeReplicateFilterDiffers, SeverityError, "MHA 5.1 step 9", "replicas have different replicate_* filters (check_repl_filter=1)"},
	{CodeBinlogFilterDiffers, SeverityError, "MHA 5.1 step 9", "servers with a binary log have different binlog_do_db/binlog_ignore_db (check_repl_filter=1)"},
	{CodeBinlogReplicateFilter, SeverityError, "MHA 5.1 step 9", "binlog_do_db/binlog_ignore_db differ from replicate_do_db/replicate_ignore_db (check_repl_filter=1)"},
	{CodeServerIDCollision, SeverityError, "gomha", "two servers share a server_id"},
	{CodeErrantGTID, SeverityError, "gomha", "a replica has GTIDs the master lacks and failover would use GTID"},
	{CodeErrantGTIDUnused, SeverityWarning, "gomha", "a replica has GTIDs the master lacks; failover uses file/position so it is not blocked, but the data differ"},
	{CodeGTIDUnreadable, SeverityWarning, "gomha", "a GTID position could not be parsed, so errant transactions were not checked"},
	{CodeDeadServer, SeverityError, "MHA 5.1 step 12", "a server other than the master is unreachable"},
	{CodeDeadServerIgnored, SeverityWarning, "MHA 5.1 step 12", "an unreachable server is tolerated (ignore_fail=1 and --ignore_fail_on_start)"},
	{CodeReplicaIOStopped, SeverityError, "check_repl (MHA 2.3)", "a replica's IO thread is not running"},
	{CodeReplicaSQLStopped, SeverityError, "check_repl (MHA 2.3)", "a replica's SQL thread is not running"},
	{CodeReplicaLagUnknown, SeverityError, "check_repl (MHA 2.3)", "Seconds_Behind_Master is NULL"},
	{CodeReplicaLagging, SeverityError, "check_repl (MHA 2.3)", "Seconds_Behind_Master is above the limit"},
}

// Codes returns a copy of the table of finding codes, in check order.
func Codes() []CodeInfo { return append([]CodeInfo(nil), codes...) }

// LookupCode returns the table entry of c.
func LookupCode(c Code) (CodeInfo, bool) {
	for _, ci := range codes {
		if ci.Code == c {
			return ci, true
		}
	}
	return CodeInfo{}, false
}

// Finding is one result of a check.
type Finding struct {
	Code     Code
	Severity Severity
	// Host is the server concerned as MHA logs it, "hostname(ip:port)"; ""
	// for a finding about the whole cluster.
	Host string
	// Message says what is wrong and what to do, for a DBA.
	Message string
}

// String renders f as one log line: "[error] DeadServer db3(10.0.0.3:3306): ...".
func (f Finding) String() string {
	host := ""
	if f.Host != "" {
		host = " " + f.Host
	}
	return fmt.Sprintf("[%s] %s%s: %s", f.Severity, f.Code, host, f.Message)
}

// Report is the list of findings of one check run, in check order.
type Report struct {
	Findings []Finding
}

// OK reports whether no finding is an error.
func (r Report) OK() bool {
	for _, f := range r.Findings {
		if f.Severity == SeverityError {
			return false
		}
	}
	return true
}

// Errors returns the error findings.
func (r Report) Errors() []Finding { return r.atLeast(SeverityError) }

// Problems returns the findings at warning level or above.
func (r Report) Problems() []Finding { return r.atLeast(SeverityWarning) }

func (r Report) atLeast(s Severity) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Severity >= s {
			out = append(out, f)
		}
	}
	return out
}

// Has reports whether r holds a finding with code c.
func (r Report) Has(c Code) bool {
	for _, f := range r.Findings {
		if f.Code == c {
			return true
		}
	}
	return false
}

// Merge appends o's findings to r.
func (r *Report) Merge(o Report) { r.Findings = append(r.Findings, o.Findings...) }

// String renders one finding per line.
func (r Report) String() string {
	var b strings.Builder
	for _, f := range r.Findings {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// add appends a finding whose severity comes from the code table; an
// unknown code is reported as an error so it cannot pass silently.
func (r *Report) add(c Code, host string, format string, args ...any) {
	sev := SeverityError
	if ci, ok := LookupCode(c); ok {
		sev = ci.Severity
	}
	r.Findings = append(r.Findings, Finding{Code: c, Severity: sev, Host: host, Message: fmt.Sprintf(format, args...)})
}
