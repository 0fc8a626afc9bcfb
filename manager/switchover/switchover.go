// Package switchover moves the master role to a replica while the current
// master is alive, for maintenance: MHA's masterha_master_switch
// --master_state=alive (mha-compat §7), with a hard bound on how long
// writes are blocked.
//
// The decisions are pure: NewPlan takes the Phase 1 topology and the
// options and returns a Plan (what refuses the switch, the new master, the
// steps in order, how each server is repointed, what happens to the
// fencing watchdogs), and rollbackSteps says how a failed switch is undone
// from what it had changed. The executor (Run) carries a plan out through
// small interfaces the package owns (Server, HookRunner, Watchdog,
// Journal), each step logged with its duration and the irreversible ones
// journaled; tests put fakes in their place.
//
// The switch runs in three phases:
//
//  1. Checks, changing nothing: every configured server answers, replication
//     is healthy and within --seconds_behind_master, no manager monitors the
//     master (MHA's monitor lock) and no failover holds a replica, no update
//     runs on the master for longer than --running_updates_limit, no query
//     on the new master for longer than --running_seconds_limit, filters
//     agree, and the new master is eligible (MHA's selection with the delay
//     check off).
//  2. With fence_lease, first (over SSH, outside the bound): the old
//     master's fencing watchdog is stopped, and one left on the new master
//     is released (stopped, its demotion cleared), so that it cannot set
//     read_only=1 on the new master once it is writable; a rollback starts
//     the old master's watchdog again. The online-change hook "stop" runs
//     next, before the bound (it is the site's way to turn applications
//     away, and may take its time).
//     The write block, bounded by Options.MaxWriteBlock, holds only what
//     must happen while nobody can write: SET GLOBAL read_only=1 on the old
//     master (with LockAllTables also FLUSH TABLES WITH READ LOCK), under a
//     server-side lock_wait_timeout; the old master's final binlog
//     coordinate (and MariaDB gtid_binlog_pos); the new master catches up
//     to it (MASTER_POS_WAIT / MASTER_GTID_WAIT) and stops replicating; the
//     old master's coordinate is read once more and must not have moved;
//     SET GLOBAL read_only=0 on the new master, the point of no return.
//     Anything failing, or the bound passing, before that last statement
//     rolls back: UNLOCK TABLES and read_only restored on the old master,
//     replication restarted on the new master, the hook "start" called with
//     the old master as the new one when the hook "stop" ran (so a VIP or
//     DNS name returns), and no replica touched, because none is repointed
//     before the new master is writable. Two masters are never writable at
//     once: the new master is made writable only once the old one is
//     read-only and caught up with.
//  3. After the point of no return nothing is rolled back: the hook
//     "start" (moving the VIP or DNS name: often SSH and arping, seconds)
//     runs with its own timeout, Options.StepTimeout; UNLOCK TABLES (with
//     LockAllTables; the old master stays read-only); the old master's
//     coordinate is checked again, so that a write that slipped past
//     read_only is reported; then every other replica waits until it has
//     applied the old master's final coordinate, and is pointed at the new
//     master (at the new master's coordinate taken after the catch-up, or
//     by GTID: MariaDB replicas stay on slave_pos), in parallel; with
//     OrigMasterIsNewSlave the old master (still read-only) replicates from
//     the new one, with the connection settings the new master had as a
//     replica (heartbeat, connect retry, TLS; read in Phase 1); with
//     fence_lease the new master's watchdog is started (lease.Ensure); the
//     new master forgets its replication settings (RESET SLAVE ALL) unless
//     skip_reset_slave or something failed. A failed hook "start", a moved
//     old master or a replica not repointed make the result ErrPartial
//     (MHA's exit 10: the master switched, something after it did not).
//
// What MHA 0.58 does (MasterRotate.pm; mha-compat §7): reject_update
// releases the monitor lock, runs the hook "stop", reconnects (SET
// wait_timeout=86400) and calls Server::lock_all_tables, whose
// DBHelper::flush_tables_with_read_lock sends SET GLOBAL read_only=1 and
// FLUSH TABLES WITH READ LOCK only when that fails (check_binlog_stop when
// both failed or with --skip_lock_all_tables); switch_master waits with
// MASTER_POS_WAIT(file, pos, 0), no timeout, reads SHOW MASTER STATUS, runs
// the hook "start" and then disable_read_only on the new master;
// switch_slaves repoints the replicas in parallel, then UNLOCK TABLES and
// the old master as a new slave; Phase 5 only when all went well (exit 0,
// else 10). No step has a timeout, and a failure anywhere (a failed hook
// "start" included) ends the run with exit 1 and nothing undone: the old
// master read-only, the new one read-only too when the hook failed.
//
// Where gomha differs from MHA 0.58 on purpose:
//   - The write block is bounded and rolled back (MHA waits without limit,
//     and leaves the old master read-only when anything fails). The hook
//     "start" is outside the bound and runs after read_only=0 on the new
//     master (MHA: before it, without a time limit); its failure is
//     reported, exit 10, instead of stopping a switch whose writes already
//     moved. MHA's sample hook makes the new master writable itself in
//     "start", so hooks do not rely on the order.
//   - read_only=1 does not stop accounts with SUPER (MySQL; MariaDB before
//     11.0.1) or READ_ONLY ADMIN (MariaDB from 10.5.2), nor events whose
//     definer has them; MHA 0.58 leaves such writes to the hook "stop"
//     (its sample kills every application session after read_only=1) and
//     loses them otherwise: they stay on the old master only. gomha checks
//     the old master's binlog coordinate again just before the point of no
//     return: if it moved, the switch rolls back and nothing is lost. A
//     write between that check and the address moving is reported after
//     the switch (ErrPartial). LockAllTables (FLUSH TABLES WITH READ LOCK,
//     held until the hook "start" has moved the address) also stops those
//     accounts, at the price of waiting behind every long SELECT (the
//     table flush), which is why it is not the default.
//   - --skip_lock_all_tables keeps read_only=1 (MHA skips it too), which
//     costs nothing and keeps "never two writable masters" true, and then
//     checks that the binary log stopped moving, as MHA does.
//   - MariaDB GTID topologies stay on GTID (MHA turns replicas to file and
//     position).
//   - KillBlocking (--kill_blocking, off by default): sessions whose running
//     statement would make read_only or the global read lock wait are killed
//     once the write block starts, instead of waiting for them until the
//     bound passes.
package switchover

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gomha/gomha/manager/config"
)

// Defaults of Options, MHA's where MHA has the setting.
const (
	// DefaultMaxWriteBlock bounds the write block (--max_write_block).
	DefaultMaxWriteBlock = 2 * time.Second
	// DefaultRunningUpdatesLimit is --running_updates_limit (MHA: 1 s).
	DefaultRunningUpdatesLimit = 1 * time.Second
	// DefaultRunningSecondsLimit is --running_seconds_limit (MHA: 10 s).
	DefaultRunningSecondsLimit = 10 * time.Second
	// DefaultSecondsBehindMaster is --seconds_behind_master (MHA: 30 s).
	DefaultSecondsBehindMaster = 30 * time.Second
	// DefaultConnectTimeout bounds each SQL connection attempt.
	DefaultConnectTimeout = 4 * time.Second
	// DefaultReplicaTimeout bounds the repointing of one replica, its wait
	// for the old master's final coordinate included.
	DefaultReplicaTimeout = 60 * time.Second
	// DefaultStepTimeout bounds each step outside the write block (a hook,
	// a rollback statement).
	DefaultStepTimeout = 60 * time.Second
)

// HookParam is the configuration parameter of the online-change hook.
const HookParam = "master_ip_online_change_script"

// Sentinel errors. Run's error wraps exactly one of them.
var (
	// ErrRefused: a Phase 1 check failed or the operator said no; nothing
	// was changed.
	ErrRefused = errors.New("switch refused")
	// ErrRolledBack: the write block started but the switch could not
	// finish in time or a step failed; everything was put back (the old
	// master is writable again and nothing was repointed).
	ErrRolledBack = errors.New("switch rolled back")
	// ErrRollbackIncomplete: the switch failed and putting things back
	// failed too; the error says what is left to do by hand.
	ErrRollbackIncomplete = errors.New("switch failed and its rollback is incomplete")
	// ErrPartial: the new master is writable, but the online-change hook
	// "start" failed, the old master took writes past its final position,
	// or some replica (or the old master as a new replica) could not be
	// repointed (MHA exit 10).
	ErrPartial = errors.New("master switched, but a step after it failed")
	// ErrAfterSwitch: the new master took over and every server follows
	// it, but a cleanup step failed (e.g. RESET SLAVE ALL).
	ErrAfterSwitch = errors.New("master switched, but a later step failed")
)

// FlushTables is --flush_tables: whether FLUSH NO_WRITE_TO_BINLOG TABLES
// runs on the master in Phase 1, which makes the global read lock quick.
type FlushTables int

// FlushTables values (MHA's 0, 1, 2).
const (
	FlushSkip FlushTables = 0
	FlushRun  FlushTables = 1
	// FlushAsk asks when interactive, runs otherwise (the default).
	FlushAsk FlushTables = 2
)

// Options are a switch's settings. Config is required. A zero duration
// means the field's default, except RunningUpdatesLimit and
// RunningSecondsLimit, which are taken as given (the CLI passes MHA's
// defaults, DefaultRunningUpdatesLimit and DefaultRunningSecondsLimit).
type Options struct {
	// Config is the loaded configuration.
	Config *config.Config
	// NewMasterHost and NewMasterPort name the new master (hostname or ip;
	// port 3306 when 0). Empty means MHA's selection rules choose.
	NewMasterHost string
	NewMasterPort int
	// OrigMasterIsNewSlave makes the old master replicate from the new one.
	OrigMasterIsNewSlave bool
	// RunningUpdatesLimit: a statement other than SELECT/SHOW running on
	// the master for longer than this refuses the switch; with KillBlocking
	// it is also the age from which a blocking statement is killed.
	RunningUpdatesLimit time.Duration
	// RunningSecondsLimit: any statement running on the new master for at
	// least this long refuses the switch.
	RunningSecondsLimit time.Duration
	// SecondsBehindMaster is the largest replica lag accepted.
	SecondsBehindMaster time.Duration
	// LockAllTables (gomha, opt-in) adds FLUSH TABLES WITH READ LOCK
	// after SET GLOBAL read_only=1, held until the hook "start" has run:
	// it also stops accounts that read_only lets write (SUPER, READ_ONLY
	// ADMIN), but waits behind every long-running SELECT. MHA 0.58 sends
	// it only when read_only=1 fails.
	LockAllTables bool
	// SkipLockAllTables (--skip_lock_all_tables) leaves out the global
	// read lock even with LockAllTables; the binary log must then stand
	// still after read_only=1 (MHA's check).
	SkipLockAllTables bool
	// FlushTables is --flush_tables. Zero value is FlushSkip; the CLI passes
	// FlushAsk by default as MHA does.
	FlushTables FlushTables
	// CheckOnly stops after Phase 1.
	CheckOnly bool
	// RemoveOrigMasterConf removes the old master's block from the
	// configuration file after a successful switch (ignored with
	// OrigMasterIsNewSlave, as in MHA).
	RemoveOrigMasterConf bool
	// MaxWriteBlock is the hard bound on the write block; 0 means
	// DefaultMaxWriteBlock.
	MaxWriteBlock time.Duration
	// KillBlocking kills, during the write block, the master's sessions
	// whose statement has run for longer than RunningUpdatesLimit and
	// keeps read_only or the global read lock waiting (KILL CONNECTION:
	// their transactions roll back, their clients get an error).
	KillBlocking bool
	// Ask puts a yes/no question to the operator (--interactive=1); nil
	// means non-interactive: no questions, MHA's non-interactive answers.
	Ask func(question string, defaultYes bool) (bool, error)
	// ConnectTimeout bounds each SQL connection attempt.
	ConnectTimeout time.Duration
	// ReplicaTimeout bounds repointing one replica.
	ReplicaTimeout time.Duration
	// StepTimeout bounds each hook run (the hook "start" included, which
	// runs after the write block) and each rollback step.
	StepTimeout time.Duration
	// Log receives the progress; nil discards it.
	Log *slog.Logger
	// Hooks runs master_ip_online_change_script (a hooks.Runner); nil
	// means a hooks.Runner logging to Log, without a time limit of its own.
	Hooks HookRunner
	// Watchdog controls the fencing lease's watchdogs (LeaseWatchdog). It
	// is needed when the old or the new master has fence_lease > 0: the old
	// master's watchdog is stopped before the write block, a watchdog left
	// on the new master is released, and the new master gets one once it
	// is writable. Without it such a switch is refused.
	Watchdog Watchdog
	// Journal receives an intent record before each irreversible step and
	// a done record after it; nil records nothing.
	Journal Journal
	// Resolver resolves replicas' source host names; nil means the system
	// resolver.
	Resolver config.Resolver

	// world replaces the real servers in tests.
	world world
}

func (o Options) withDefaults() Options {
	if o.MaxWriteBlock <= 0 {
		o.MaxWriteBlock = DefaultMaxWriteBlock
	}
	if o.SecondsBehindMaster <= 0 {
		o.SecondsBehindMaster = DefaultSecondsBehindMaster
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.ReplicaTimeout <= 0 {
		o.ReplicaTimeout = DefaultReplicaTimeout
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = DefaultStepTimeout
	}
	if o.NewMasterPort == 0 {
		o.NewMasterPort = 3306
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// planOptions are the options NewPlan reads.
func (o Options) planOptions() PlanOptions {
	return PlanOptions{
		NewMasterHost:        o.NewMasterHost,
		NewMasterPort:        o.NewMasterPort,
		OrigMasterIsNewSlave: o.OrigMasterIsNewSlave,
		LockAllTables:        o.LockAllTables,
		SkipLockAllTables:    o.SkipLockAllTables,
		RemoveOrigMasterConf: o.RemoveOrigMasterConf,
		MaxWriteBlock:        o.MaxWriteBlock,
		RunningUpdatesLimit:  o.RunningUpdatesLimit,
		RunningSecondsLimit:  o.RunningSecondsLimit,
		HaveWatchdog:         o.Watchdog != nil,
	}
}

// Result is what a switch did.
type Result struct {
	// OrigMaster and NewMaster are the servers as MHA logs them
	// ("host(ip:port)"); NewMaster is empty when Phase 1 failed before the
	// selection.
	OrigMaster, NewMaster string
	// CheckOnly is true when the run stopped after Phase 1 on request.
	CheckOnly bool
	// WriteBlock is how long writes were blocked: from SET GLOBAL
	// read_only=1 on the old master until the new master was writable, or
	// until the old master was writable again after a rollback. Zero when
	// the block never started. The hooks are not in it (nor is the time
	// the address takes to move, the hook "start").
	WriteBlock time.Duration
	// Switched is true once the new master is writable.
	Switched bool
	// StartHookErr is the online-change hook "start"'s failure after the
	// point of no return (the address may still lead to the old master);
	// nil when it ran well or did not run.
	StartHookErr error
	// RolledBack is true when the write block started and was undone.
	RolledBack bool
	// Replicas are the repointed servers (the old master last, with
	// OrigMasterIsNewSlave), each with its error.
	Replicas []Repointed
	// Plan is the plan the switch carried out (Plan.String), "" when Phase
	// 1 stopped before one was made.
	Plan string
	// Steps are the steps run, in the order they ended, with their
	// durations (rollback steps included).
	Steps []StepResult
}

// StepResult is one step a switch ran.
type StepResult struct {
	Name, Host string
	Duration   time.Duration
	Err        error
}

// Repointed is one server moved to the new master.
type Repointed struct {
	Host string
	Err  error
}

// Failed returns the servers whose repointing failed.
func (r Result) Failed() []Repointed {
	var out []Repointed
	for _, x := range r.Replicas {
		if x.Err != nil {
			out = append(out, x)
		}
	}
	return out
}

// refuse wraps a Phase 1 failure.
func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}
