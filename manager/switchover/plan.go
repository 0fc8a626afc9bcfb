package switchover

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/repoint"
	"github.com/gomha/gomha/manager/topology"
)

// Step names: the executor logs and journals each step under its name, and
// a Plan lists them in the order they run. Failpoints are named
// switchover/<step>/before and switchover/<step>/after (package failpoint).
const (
	StepStopWatchdog    = "stop fencing watchdog"
	StepReleaseWatchdog = "release fencing watchdog"
	StepPreSync         = "pre-sync new master"
	StepHookStop        = "online-change hook stop"
	StepPrepareLock     = "prepare write lock"
	StepReadOnly        = "set read_only=1"
	StepLockTables      = "flush tables with read lock"
	StepBinlogStill     = "check binlog stopped"
	StepOrigPos         = "read old master position"
	StepCatchUp         = "new master catch-up"
	StepStopReplication = "stop replication"
	StepNewPos          = "read new master position"
	StepOrigStill       = "check old master position unchanged"
	StepWritable        = "set read_only=0"
	StepHookStart       = "online-change hook start"
	StepUnlock          = "unlock tables"
	StepOrigAfter       = "check old master position after the switch"
	StepRepoint         = "change master"
	StepEnsureWatchdog  = "ensure fencing watchdog"
	StepResetSlave      = "reset slave all"
	StepRemoveConf      = "remove old master block"

	// Rollback steps (see rollbackSteps).
	StepUndoWritable    = "rollback: set read_only=1 on new master"
	StepUndoLock        = "rollback: unlock tables"
	StepUndoReadOnly    = "rollback: set read_only=0 on old master"
	StepUndoHook        = "rollback: online-change hook start"
	StepUndoReplication = "rollback: start replication on new master"
	StepUndoWatchdog    = "rollback: ensure fencing watchdog"
)

// irreversible are the steps that change a server, the address or a
// watchdog: each gets a journal record before and after it.
var irreversible = map[string]bool{
	StepStopWatchdog: true, StepReleaseWatchdog: true, StepHookStop: true,
	StepReadOnly: true, StepLockTables: true, StepStopReplication: true,
	StepHookStart: true, StepWritable: true, StepUnlock: true, StepRepoint: true,
	StepEnsureWatchdog: true, StepResetSlave: true, StepRemoveConf: true,
	StepUndoWritable: true, StepUndoLock: true, StepUndoReadOnly: true,
	StepUndoHook: true, StepUndoReplication: true, StepUndoWatchdog: true,
}

// PlanOptions are the switch options a plan depends on.
type PlanOptions struct {
	NewMasterHost        string
	NewMasterPort        int
	OrigMasterIsNewSlave bool
	// LockAllTables adds FLUSH TABLES WITH READ LOCK after read_only=1;
	// SkipLockAllTables wins over it.
	LockAllTables        bool
	SkipLockAllTables    bool
	RemoveOrigMasterConf bool
	// MaxWriteBlock bounds the write block (lock_wait_timeout follows it).
	MaxWriteBlock time.Duration
	// RunningUpdatesLimit and RunningSecondsLimit are the process-list
	// limits on the old and the new master.
	RunningUpdatesLimit time.Duration
	RunningSecondsLimit time.Duration
	// HaveWatchdog is true when the switch can control fencing watchdogs
	// (Options.Watchdog is set).
	HaveWatchdog bool
}

// Plan is what a switch will do, decided from the Phase 1 topology alone:
// what refuses it, who becomes the new master, the steps in order, and how
// each server is repointed. It changes nothing; NewPlan is pure.
type Plan struct {
	// Blockers are the reasons the switch must not start, in check order;
	// empty when it may.
	Blockers []string
	// Warnings are findings worth logging that do not block.
	Warnings []string
	// Orig is the current master; New the server taking over; Others the
	// replicas other than New. Nil/empty when a blocker came first.
	Orig, New *topology.Node
	Others    []*topology.Node
	// Mode is how replicas are repointed and caught up with (by GTID or by
	// binlog position).
	Mode topology.GTIDMode
	// StopHook and StartHook are the master_ip_online_change_script
	// commands of --command=stop (the old master's, else the new
	// master's) and --command=start (the new master's); both "" when the
	// new master has none (MHA: no hook at all then). The stop hook runs
	// before the write block; the start hook after the point of no return,
	// outside the bound, with the step timeout. The rollback runs StopHook
	// with --command=start and the two masters swapped.
	StopHook, StartHook string
	// LockTables: FLUSH TABLES WITH READ LOCK after read_only=1 (opt-in,
	// PlanOptions.LockAllTables, and never with --skip_lock_all_tables).
	// By default only read_only=1 blocks writes, as in MHA 0.58.
	LockTables bool
	// BinlogStill: --skip_lock_all_tables: the binary log must stand still
	// for a moment after read_only=1 (MHA's check_binlog_stop).
	BinlogStill bool
	// MaxWriteBlock bounds the write block: from read_only=1 on the old
	// master to read_only=0 on the new one (Plan.Steps marks them).
	MaxWriteBlock time.Duration
	// LockWaitTimeout is the old master's session lock_wait_timeout in
	// whole seconds (the server-side backstop of the bound).
	LockWaitTimeout int64
	// UpdatesSecs: an update running this long on the old master refuses
	// the switch (MHA: running_updates_limit + 1). KillSecs is the age from
	// which KillBlocking kills a session in the way.
	UpdatesSecs, KillSecs int64
	// QueriesSecs: any statement running this long on the new master
	// refuses the switch.
	QueriesSecs int64
	// Repoints are the servers moved to the new master after the point of
	// no return: Others in order, then the old master with
	// OrigMasterIsNewSlave.
	Repoints []Repoint
	// Lease is what happens to the fencing watchdogs (fence_lease).
	Lease LeasePlan
	// ResetSlave is RESET SLAVE ALL on the new master at the end (unless
	// skip_reset_slave).
	ResetSlave bool
	// RemoveOrigConf removes the old master's block from the configuration
	// file at the end (--remove_orig_master_conf without
	// OrigMasterIsNewSlave).
	RemoveOrigConf bool
}

// Repoint is how one server is moved to the new master.
type Repoint struct {
	Node *topology.Node
	// Source is the new master as this server names it, with the
	// replication account.
	Source repoint.Source
	// How are the coordinates it starts from; Pos is filled in by the
	// executor once the new master's position is known.
	How repoint.How
	// WaitApplied: a replica of the old master first waits until it has
	// applied the old master's final coordinate.
	WaitApplied bool
	// ResetSlavePos: the old master, on MariaDB GTID, gets gtid_slave_pos
	// set to its own final GTID position first (a former master's slave
	// position is stale).
	ResetSlavePos bool
}

// LeasePlan says what the switch does with the fencing watchdogs.
type LeasePlan struct {
	// StopOrig: the old master runs a watchdog (its fence_lease > 0): it
	// is stopped before the write block, and started again by a rollback.
	StopOrig bool
	// ReleaseNew: a watchdog left on the new master is stopped and its
	// demotion cleared before the write block, so that it cannot set
	// read_only=1 again once the new master is writable.
	ReleaseNew bool
	// EnsureNew: the new master's fence_lease > 0: its watchdog is started
	// after the point of no return, watching Peers.
	EnsureNew bool
	// Peers are the servers replicating from the new master afterwards.
	Peers []config.Server
	// OrigPeers are the old master's replicas, for a rollback's restart of
	// its watchdog.
	OrigPeers []config.Server
}

// NewPlan decides a switch from the Phase 1 topology and its start-up
// report (health findings merged in).
func NewPlan(topo *topology.Topology, rep topology.Report, o PlanOptions) Plan {
	if o.NewMasterPort == 0 {
		o.NewMasterPort = 3306
	}
	if o.MaxWriteBlock <= 0 {
		o.MaxWriteBlock = DefaultMaxWriteBlock
	}
	p := Plan{Mode: topo.GTIDMode, LockTables: o.LockAllTables && !o.SkipLockAllTables,
		BinlogStill: o.SkipLockAllTables, MaxWriteBlock: o.MaxWriteBlock}
	p.LockWaitTimeout = max(int64(math.Ceil(o.MaxWriteBlock.Seconds())), 1)
	p.UpdatesSecs = int64(o.RunningUpdatesLimit.Seconds()) + 1
	p.KillSecs = int64(o.RunningUpdatesLimit.Seconds())
	p.QueriesSecs = max(int64(o.RunningSecondsLimit.Seconds()), 1)

	if dead := topo.Dead(); len(dead) > 0 {
		var names []string
		for _, n := range dead {
			names = append(names, fmt.Sprintf("%s (%s)", n.Host(), oneLine(n.Err)))
		}
		// MHA's refusal, alone: the health findings would only say it
		// again.
		p.Blockers = append(p.Blockers, "Switching master should not be started if one or more servers is down: "+strings.Join(names, "; "))
		if m := topo.Master; m != nil && m.Alive() {
			p.Orig = m
		}
		return p
	}
	for _, f := range rep.Problems() {
		if f.Severity == topology.SeverityWarning {
			p.Warnings = append(p.Warnings, f.String())
		}
	}
	if errs := check.Blockers(rep, check.Switch); len(errs) > 0 {
		var lines []string
		for _, f := range errs {
			lines = append(lines, f.String())
		}
		p.Blockers = append(p.Blockers, "the topology is not healthy:\n"+strings.Join(lines, "\n"))
	}
	if topo.Master == nil || !topo.Master.Alive() {
		p.Blockers = append(p.Blockers, "no alive master found")
		return p
	}
	p.Orig = topo.Master
	if len(p.Blockers) > 0 {
		return p
	}
	sel, err := topology.SelectNewMaster(topo, topology.SelectOptions{
		NewMasterHost:  o.NewMasterHost,
		NewMasterPort:  o.NewMasterPort,
		SkipDelayCheck: true,
	})
	if err != nil {
		p.Blockers = append(p.Blockers, err.Error())
		return p
	}
	p.New = sel.NewMaster
	for _, n := range topo.Replicas() {
		if n != p.New {
			p.Others = append(p.Others, n)
		}
	}
	// With MariaDB GTID every replica reconnects to the new master by its
	// gtid_slave_pos, which the new master's binary log must hold.
	if p.Mode == topology.GTIDMariaDB && !p.New.State.LogSlaveUpdates {
		p.Blockers = append(p.Blockers, fmt.Sprintf("%s has log_slave_updates off: with MariaDB GTID the replicas need the old master's transactions in the new master's binary log", p.New.Host()))
	}

	if cmd := p.New.Server.MasterIPOnlineChangeScript; cmd != "" {
		p.StartHook = cmd
		p.StopHook = firstOf(p.Orig.Server.MasterIPOnlineChangeScript, cmd)
	}

	src := sourceHost(topo, p.Orig, p.New)
	how := repoint.How{Mode: p.Mode}
	for _, r := range p.Others {
		user := r.Server.ReplUser
		if user == "" {
			user = r.Replica().SourceUser
		}
		p.Repoints = append(p.Repoints, Repoint{Node: r, WaitApplied: true, How: how,
			Source: repoint.Source{Host: src, Port: p.New.Server.Port, User: user, Password: r.Server.ReplPassword}})
		p.Lease.Peers = append(p.Lease.Peers, r.Server)
	}
	if o.OrigMasterIsNewSlave {
		user := p.Orig.Server.ReplUser
		if user == "" {
			for _, r := range topo.Replicas() {
				if rs := r.Replica(); rs != nil && rs.SourceUser != "" {
					user = rs.SourceUser
					break
				}
			}
		}
		p.Repoints = append(p.Repoints, Repoint{Node: p.Orig, How: how, ResetSlavePos: p.Mode == topology.GTIDMariaDB,
			Source: repoint.Source{Host: src, Port: p.New.Server.Port, User: user, Password: p.Orig.Server.ReplPassword}})
		p.Lease.Peers = append(p.Lease.Peers, p.Orig.Server)
	}
	for _, r := range topo.Replicas() {
		p.Lease.OrigPeers = append(p.Lease.OrigPeers, r.Server)
	}
	p.Lease.StopOrig = p.Orig.Server.FenceLease > 0
	p.Lease.EnsureNew = p.New.Server.FenceLease > 0
	p.Lease.ReleaseNew = p.Lease.StopOrig || p.Lease.EnsureNew
	if (p.Lease.StopOrig || p.Lease.EnsureNew) && !o.HaveWatchdog {
		p.Blockers = append(p.Blockers, "fence_lease is set but this switch cannot control the fencing watchdogs")
	}
	p.ResetSlave = !p.New.Server.SkipResetSlave
	p.RemoveOrigConf = o.RemoveOrigMasterConf && !o.OrigMasterIsNewSlave
	return p
}

// sourceHost is how replicas name the new master: by hostname when they
// named the old master by its hostname (and it differs from the ip), else
// by ip (MHA's rule, mha-compat §7 Phase 2 step 10).
func sourceHost(topo *topology.Topology, orig, newm *topology.Node) string {
	h := orig.Server.Hostname
	if h == orig.Server.IP {
		return newm.Server.IP
	}
	for _, r := range topo.Replicas() {
		if rs := r.Replica(); rs != nil && rs.SourceHost == h {
			return newm.Server.Hostname
		}
	}
	return newm.Server.IP
}

// Steps lists the plan's steps in the order a successful switch runs them,
// each with the host it acts on.
func (p Plan) Steps() []PlannedStep {
	if len(p.Blockers) > 0 || p.New == nil {
		return nil
	}
	orig, newm := p.Orig.Host(), p.New.Host()
	var s []PlannedStep
	add := func(name, host string) { s = append(s, PlannedStep{Name: name, Host: host}) }
	if p.Lease.StopOrig {
		add(StepStopWatchdog, orig)
	}
	if p.Lease.ReleaseNew {
		add(StepReleaseWatchdog, newm)
	}
	add(StepPreSync, newm)
	if p.StopHook != "" {
		add(StepHookStop, orig)
	}
	add(StepPrepareLock, orig)
	add(StepReadOnly, orig)
	if p.LockTables {
		add(StepLockTables, orig)
	}
	if p.BinlogStill {
		add(StepBinlogStill, orig)
	}
	add(StepOrigPos, orig)
	add(StepCatchUp, newm)
	add(StepStopReplication, newm)
	add(StepNewPos, newm)
	add(StepOrigStill, orig)
	add(StepWritable, newm)
	if p.StartHook != "" {
		add(StepHookStart, newm)
	}
	if p.LockTables {
		add(StepUnlock, orig)
	}
	add(StepOrigAfter, orig)
	for _, r := range p.Repoints {
		add(StepRepoint, r.Node.Host())
	}
	if p.Lease.EnsureNew {
		add(StepEnsureWatchdog, newm)
	}
	if p.ResetSlave {
		add(StepResetSlave, newm)
	}
	if p.RemoveOrigConf {
		add(StepRemoveConf, orig)
	}
	return s
}

// PlannedStep is one step of Plan.Steps.
type PlannedStep struct {
	Name, Host string
}

// String renders the plan for the log and the scenario files.
func (p Plan) String() string {
	var b strings.Builder
	for _, x := range p.Blockers {
		fmt.Fprintf(&b, "refused: %s\n", x)
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	if p.New == nil {
		return b.String()
	}
	fmt.Fprintf(&b, "switch %s -> %s (%s)\n", p.Orig.Host(), p.New.Host(), modeWord(p.Mode))
	hook := "none"
	if p.StartHook != "" {
		hook = fmt.Sprintf("stop %q, start %q", p.StopHook, p.StartHook)
	}
	fmt.Fprintf(&b, "hook: %s\n", hook)
	fmt.Fprintf(&b, "limits: updates on the old master %d s, queries on the new master %d s, kill from %d s, lock_wait_timeout %d s\n",
		p.UpdatesSecs, p.QueriesSecs, p.KillSecs, p.LockWaitTimeout)
	if len(p.Blockers) > 0 {
		return b.String()
	}
	steps := p.Steps()
	first := slices.IndexFunc(steps, func(s PlannedStep) bool { return s.Name == StepReadOnly })
	last := slices.IndexFunc(steps, func(s PlannedStep) bool { return s.Name == StepWritable })
	fmt.Fprintf(&b, "write block: steps %d-%d, bounded by %s (--max_write_block)\n", first+1, last+1, p.MaxWriteBlock)
	b.WriteString("steps:\n")
	for i, s := range steps {
		fmt.Fprintf(&b, "  %2d. %s on %s", i+1, s.Name, s.Host)
		if s.Name == StepWritable {
			b.WriteString(" (point of no return)")
		}
		b.WriteString("\n")
	}
	for _, r := range p.Repoints {
		fmt.Fprintf(&b, "repoint %s: %s user %s", r.Node.Host(), config.HostPort(r.Source.Host, r.Source.Port), r.Source.User)
		if r.WaitApplied {
			b.WriteString(", after the old master's final position")
		}
		if r.ResetSlavePos {
			b.WriteString(", gtid_slave_pos set to its own final position")
		}
		b.WriteString("\n")
	}
	if p.Lease.EnsureNew {
		var peers []string
		for _, s := range p.Lease.Peers {
			peers = append(peers, s.Hostname)
		}
		fmt.Fprintf(&b, "watchdog on %s watches %s\n", p.New.Host(), strings.Join(peers, ", "))
	}
	return b.String()
}

func modeWord(m topology.GTIDMode) string {
	if m.UsesGTID() {
		return "by GTID, " + m.String()
	}
	return "by binlog position"
}

// updatesBlocker is the refusal for long updates on the old master, ""
// when there are none.
func (p Plan) updatesBlocker(th Threads) string {
	if th.Count == 0 {
		return ""
	}
	return fmt.Sprintf("Currently %d update thread(s) are running on the master %s for %d s or more (--running_updates_limit=%d):\n%s",
		th.Count, p.Orig.Host(), p.UpdatesSecs, p.UpdatesSecs-1, th.Desc)
}

// queriesBlocker is the refusal for long statements on the new master, ""
// when there are none.
func (p Plan) queriesBlocker(th Threads) string {
	if th.Count == 0 {
		return ""
	}
	return fmt.Sprintf("Currently %d thread(s) on the new master %s run for %d s or more (--running_seconds_limit=%d):\n%s",
		th.Count, p.New.Host(), p.QueriesSecs, p.QueriesSecs, th.Desc)
}

// undo records what the switch changed before the point of no return, for
// the rollback.
type undo struct {
	watchdogStopped bool      // the old master's watchdog was stopped (perhaps in part)
	hookStopped     bool      // the online-change hook "stop" ran (perhaps in part)
	readOnly        bool      // SET GLOBAL read_only=1 was sent to the old master
	prevReadOnly    bool      // the old master's read_only before
	locked          bool      // FLUSH TABLES WITH READ LOCK was sent
	newStopped      bool      // replication was stopped on the new master
	newWritable     bool      // SET GLOBAL read_only=0 was sent to the new master
	start           time.Time // when the write block started; zero before
}

// rollbackSteps are the steps that undo u, in the order that keeps a single
// writable master: the new master read-only again (when it may have been
// made writable), the old master unlocked and writable (unless it was
// read-only before), the hook "start" with the old master as the new one,
// replication restarted on the new master, the old master's watchdog
// started again. The executor skips StepUndoReadOnly when
// StepUndoWritable failed: the new master may then be writable, and two
// writable masters are worse than none.
func rollbackSteps(u undo) []string {
	var s []string
	if u.newWritable {
		s = append(s, StepUndoWritable)
	}
	if u.locked {
		s = append(s, StepUndoLock)
	}
	if u.readOnly && !u.prevReadOnly {
		s = append(s, StepUndoReadOnly)
	}
	if u.hookStopped {
		s = append(s, StepUndoHook)
	}
	if u.newStopped {
		s = append(s, StepUndoReplication)
	}
	if u.watchdogStopped {
		s = append(s, StepUndoWatchdog)
	}
	return s
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
