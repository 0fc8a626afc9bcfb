package check

import (
	"fmt"

	"github.com/gomha/gomha/manager/topology"
)

// Op is an operation that a check-repl finding may block.
type Op int

// Operations the findings gate.
const (
	// Start is `mha manager`'s start-up check (masterha_manager) without
	// --check_repl_health: replication health is MHA's optional part.
	Start Op = iota
	// StartHealth is the start-up check with --check_repl_health, and
	// check-repl's own verdict (masterha_check_repl runs the health check
	// always).
	StartHealth
	// Failover is a dead-master failover (`mha manager`, and
	// `mha switch --master_state=dead`): the checks of its Phase 1.
	Failover
	// Switch is the online master switch (`mha switch
	// --master_state=alive`).
	Switch
)

func (o Op) String() string {
	switch o {
	case Start:
		return "start"
	case StartHealth:
		return "start with --check_repl_health"
	case Failover:
		return "failover"
	case Switch:
		return "switch"
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// Gate is one row of the table: whether an error finding of Code blocks
// each operation, and why. Findings below error severity block nothing.
type Gate struct {
	Code        topology.Code
	Start       bool
	StartHealth bool
	Failover    bool
	Switch      bool
	// Why explains the row, the exceptions above all.
	Why string
}

// Blocks reports whether the row blocks op.
func (g Gate) Blocks(op Op) bool {
	switch op {
	case Start:
		return g.Start
	case StartHealth:
		return g.StartHealth
	case Failover:
		return g.Failover
	case Switch:
		return g.Switch
	}
	return true
}

// The table's words: stop blocks the operation, pass lets it go on.
const (
	stop = true
	pass = false
)

// gates is the one table saying which check-repl findings block a start, a
// failover or a switch: every code of topology.Codes has exactly one row
// (TestGates). Warnings and infos block nothing.
var gates = []Gate{
	{topology.CodeConnectRefused, stop, stop, stop, stop, "the server runs but cannot be read, so its role and position are unknown"},
	{topology.CodeNoAliveServer, stop, stop, stop, stop, "nothing to manage"},
	{topology.CodeSourceNotConfigured, stop, stop, stop, stop, "a replica follows a server the configuration does not know: the topology is not the configured one"},
	{topology.CodeTooManyNonReplicas, stop, stop, stop, stop, "the master cannot be told"},
	{topology.CodeNoWritableMaster, stop, stop, stop, stop, "the master cannot be told"},
	{topology.CodeTooManyWritableMasters, stop, stop, stop, stop, "the master cannot be told"},
	{topology.CodeMultiMaster, pass, pass, pass, pass, "info: the single writable source was taken as the master"},
	{topology.CodeReplicaSQLError, stop, stop, stop, stop, "the replica's data may differ from the master's; ignore_fail does not excuse it"},
	{topology.CodeNotReplicating, stop, stop, stop, stop, "a server outside replication would be left behind or repointed blindly"},
	{topology.CodeWrongSource, stop, stop, stop, stop, "a tiered replica is not managed without multi_tier_slave"},
	{topology.CodeUnmanagedReplica, pass, pass, pass, pass, "info: multi_tier_slave leaves it as it is"},
	{topology.CodeNoAliveReplica, stop, stop, pass, stop,
		"nothing could take over; a failover does not stop here because it judges its survivors itself (no usable replica is a blocker of its plan)"},
	{topology.CodeMasterDead, pass, pass, pass, pass, "warning: what a failover is for"},
	{topology.CodeFlavorMix, pass, pass, pass, pass, "warning"},
	{topology.CodeNotLowestVersion, pass, pass, pass, pass, "info: the replica is not promoted"},
	{topology.CodeGTIDPartial, pass, pass, pass, pass, "info: file/position recovery is used"},
	{topology.CodeReplicaWritable, pass, pass, pass, pass, "info"},
	{topology.CodeRelayLogPurge, pass, pass, pass, pass, "warning"},
	{topology.CodeLogBinOff, pass, pass, pass, pass, "warning: the replica is not promoted"},
	{topology.CodeSlaveNetTimeoutHigh, pass, pass, pass, pass, "warning"},
	{topology.CodeHeartbeatSlow, pass, pass, pass, pass, "warning"},
	{topology.CodeNoMasterCandidate, stop, stop, stop, stop, "nothing may be promoted"},
	{topology.CodeReplicateFilterDiffers, stop, stop, stop, stop, "replicas would apply different events after a repoint"},
	{topology.CodeBinlogFilterDiffers, stop, stop, stop, stop, "a promoted replica would log different events than the master did"},
	{topology.CodeBinlogReplicateFilter, stop, stop, stop, stop, "a promoted replica would log different events than the master did"},
	{topology.CodeServerIDCollision, stop, stop, stop, stop, "replication skips events of its own server_id: the relay-log diff and repointing go wrong"},
	{topology.CodeErrantGTID, stop, stop, stop, stop, "GTID repointing would replicate the errant transactions or fail"},
	{topology.CodeErrantGTIDUnused, pass, pass, pass, pass, "warning: file/position recovery is not affected"},
	{topology.CodeGTIDUnreadable, pass, pass, pass, pass, "warning: errant transactions not checked"},
	{topology.CodeDeadServer, stop, stop, stop, stop, "a dead server without ignore_fail=1 would be left out of recovery"},
	{topology.CodeDeadServerIgnored, pass, pass, pass, pass, "warning: ignore_fail=1 tolerates it"},
	{topology.CodeReplicaIOStopped, pass, stop, pass, stop,
		"replication health: the start checks it only with --check_repl_health (as MHA); a failover expects the IO threads to have lost the dead master; a switch needs every replica replicating"},
	{topology.CodeReplicaSQLStopped, pass, stop, pass, stop,
		"replication health: the start checks it only with --check_repl_health (as MHA); a failover finishes a stopped SQL thread's relay log itself; a switch needs every replica replicating"},
	{topology.CodeReplicaLagUnknown, pass, stop, pass, stop,
		"replication health: the start checks it only with --check_repl_health (as MHA); a failover waits for the relay logs instead; a switch would wait for ever"},
	{topology.CodeReplicaLagging, pass, stop, pass, stop,
		"replication health: the start checks it only with --check_repl_health (as MHA); a failover waits for the relay logs instead; a switch would hold the write block too long"},
}

// Gates returns a copy of the table.
func Gates() []Gate { return append([]Gate(nil), gates...) }

// LookupGate returns the row of c.
func LookupGate(c topology.Code) (Gate, bool) {
	for _, g := range gates {
		if g.Code == c {
			return g, true
		}
	}
	return Gate{}, false
}

// Blocks reports whether finding f stops op. Only error findings can; an
// error whose code has no row blocks everything, so that a new check cannot
// pass silently.
func Blocks(f topology.Finding, op Op) bool {
	if f.Severity < topology.SeverityError {
		return false
	}
	g, ok := LookupGate(f.Code)
	if !ok {
		return true
	}
	return g.Blocks(op)
}

// Blockers returns the findings of rep that stop op, in report order.
func Blockers(rep topology.Report, op Op) []topology.Finding {
	var out []topology.Finding
	for _, f := range rep.Findings {
		if Blocks(f, op) {
			out = append(out, f)
		}
	}
	return out
}
