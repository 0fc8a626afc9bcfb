package switchover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/node/binlog"
)

// block is Phase 2: the watchdogs out of the way and the hook "stop", then
// writes are blocked on the old master, the new master catches up and
// becomes writable, all within MaxWriteBlock, or everything is rolled
// back. The hook "start" is not in it: it runs after the point of no
// return (finish).
func (s *switcher) block(ctx context.Context) error {
	p := s.plan
	orig, newm := p.Orig, p.New
	origEP, newEP := s.endpoints()
	u := &undo{}

	// The fencing watchdogs, over SSH, before the bounded block: the old
	// master's must not outlive its mastership, and one left on the new
	// master would set read_only=1 again once it is writable.
	if p.Lease.StopOrig {
		u.watchdogStopped = true // a failed stop may have stopped it anyway
		if err := s.step(ctx, StepStopWatchdog, orig.Host(), nil, s.bounded(func(ctx context.Context) error {
			return s.o.Watchdog.Stop(ctx, orig.Server)
		})); err != nil {
			return s.rollback(ctx, u, fmt.Errorf("stopping the fencing watchdog on the old master %s: %w", orig.Host(), err))
		}
	}
	if p.Lease.ReleaseNew {
		if err := s.step(ctx, StepReleaseWatchdog, newm.Host(), nil, s.bounded(func(ctx context.Context) error {
			return s.o.Watchdog.Release(ctx, newm.Server)
		})); err != nil {
			return s.rollback(ctx, u, fmt.Errorf("releasing the fencing watchdog on the new master %s: %w", newm.Host(), err))
		}
	}

	if err := s.step(ctx, StepPreSync, newm.Host(), nil, s.preSync); err != nil {
		err = fmt.Errorf("the new master %s did not catch up before the write block: %w", newm.Host(), err)
		if u.watchdogStopped {
			return s.rollback(ctx, u, err)
		}
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}

	// MHA releases the monitor lock and disconnects before the stop hook:
	// the hook may kill sessions on the master.
	if _, err := s.origConn.ReleaseLock(ctx, mysqlx.MonitorLock); err != nil {
		s.log.Warn("releasing the monitor lock", "host", orig.Host(), "err", err)
	}
	_ = s.origConn.Close()
	s.origConn = nil

	if p.StopHook != "" {
		u.hookStopped = true // a failed stop may have done part of its work
		if err := s.step(ctx, StepHookStop, orig.Host(), nil, s.bounded(func(ctx context.Context) error {
			return s.hook(ctx, "stop", p.StopHook, origEP, newEP)
		})); err != nil {
			return s.rollback(ctx, u, err)
		}
	}

	if err := s.step(ctx, StepPrepareLock, orig.Host(), nil, func(ctx context.Context) error {
		return s.prepareLock(ctx, u)
	}); err != nil {
		return s.rollback(ctx, u, err)
	}

	u.start = time.Now()
	deadline := u.start.Add(s.o.MaxWriteBlock)
	bound := fmt.Errorf("the write block reached its bound of %s (--max_write_block)", s.o.MaxWriteBlock)
	bctx, cancel := context.WithDeadlineCause(ctx, deadline, bound)
	defer cancel()
	fail := func(what string, err error) error {
		switch {
		case errors.Is(err, bound):
			err = fmt.Errorf("%w while %s", bound, what)
		case mysqlx.ErrorNumber(err) == erLockWaitTimeout:
			// The server-side lock_wait_timeout, set to the bound, fired
			// first.
			err = fmt.Errorf("%w while %s (lock_wait_timeout): %v", bound, what, err)
		case bctx.Err() != nil && ctx.Err() == nil:
			err = fmt.Errorf("%w while %s: %v", context.Cause(bctx), what, err)
		default:
			err = fmt.Errorf("%s: %w", what, err)
		}
		return s.rollback(ctx, u, err)
	}

	if err := s.lock(bctx, u); err != nil {
		return fail("blocking writes on the old master "+orig.Host(), err)
	}
	if err := s.step(bctx, StepOrigPos, orig.Host(), nil, s.recordOrigPos); err != nil {
		return fail("reading the old master's binlog position", err)
	}
	if err := s.step(bctx, StepCatchUp, newm.Host(), nil, func(ctx context.Context) error {
		return s.catchUp(ctx, deadline)
	}); err != nil {
		return fail("waiting for the new master "+newm.Host()+" to catch up", err)
	}
	nc := s.conns[newm]
	u.newStopped = true
	if err := s.step(bctx, StepStopReplication, newm.Host(), nil, nc.StopReplication); err != nil {
		return fail("stopping replication on the new master", err)
	}
	if err := s.step(bctx, StepNewPos, newm.Host(), nil, func(ctx context.Context) error {
		pos, _, err := nc.BinlogStatus(ctx)
		if err != nil {
			return err
		}
		if pos.IsZero() {
			return errors.New("binary logging is off")
		}
		s.newPos = pos
		return nil
	}); err != nil {
		return fail("reading the new master's binlog position", err)
	}
	s.log.Info("new master caught up", "host", newm.Host(), "binlog_file", s.newPos.File, "binlog_pos", s.newPos.Offset)
	// read_only=1 does not stop accounts with SUPER or READ_ONLY ADMIN:
	// what they wrote since the final coordinate is not on the new
	// master. Rolling back loses nothing; switching would.
	if err := s.step(bctx, StepOrigStill, orig.Host(), nil, s.origUnchanged); err != nil {
		return fail("checking the old master's binlog position", err)
	}
	if time.Now().After(deadline) {
		return s.rollback(ctx, u, bound)
	}
	u.newWritable = true
	detail := map[string]string{"host": newm.Host(), "binlog_file": s.newPos.File, "binlog_pos": fmt.Sprint(s.newPos.Offset)}
	if err := s.step(bctx, StepWritable, newm.Host(), detail, func(ctx context.Context) error {
		return nc.SetReadOnly(ctx, false)
	}); err != nil {
		return fail("SET GLOBAL read_only=0 on the new master", err)
	}
	s.res.WriteBlock = time.Since(u.start)
	s.res.Switched = true
	s.log.Info("new master is writable", "host", newm.Host(), "write_block", s.res.WriteBlock.Round(time.Millisecond))
	return nil
}

// prepareLock opens the sessions of the write block on the old master,
// reads its read_only and sets the server-side bound.
func (s *switcher) prepareLock(ctx context.Context, u *undo) error {
	orig := s.plan.Orig.Server
	var err error
	if s.lockConn, err = s.open(ctx, orig); err != nil {
		return err
	}
	if s.o.KillBlocking {
		if s.ctlConn, err = s.open(ctx, orig); err != nil {
			return err
		}
	}
	if u.prevReadOnly, err = s.lockConn.ReadOnly(ctx); err != nil {
		return err
	}
	// The server-side bound: lock waits give up by themselves even if this
	// process dies. lock_wait_timeout takes whole seconds (MariaDB 10.11
	// rejects fractions), so the manager's own deadline is the exact bound
	// and this one is a backstop.
	return s.lockConn.SetLockWaitTimeout(ctx, s.plan.LockWaitTimeout)
}

// lock sets read_only=1 and takes the global read lock on the old master,
// killing sessions in the way when KillBlocking allows.
func (s *switcher) lock(ctx context.Context, u *undo) error {
	host := s.plan.Orig.Host()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if s.ctlConn != nil {
		wg.Go(func() { s.killBlockers(ctx, stop) })
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()
	if s.plan.BinlogStill {
		s.log.Info("Skipping locking all tables.", "host", host)
	} else {
		s.log.Info("Locking all tables on the orig master to reject updates from everybody (including root):", "host", host)
	}
	u.readOnly = true
	if err := s.step(ctx, StepReadOnly, host, nil, func(ctx context.Context) error {
		return s.lockConn.SetReadOnly(ctx, true)
	}); err != nil {
		return err
	}
	if s.plan.LockTables {
		u.locked = true
		if err := s.step(ctx, StepLockTables, host, nil, s.lockConn.LockTables); err != nil {
			return err
		}
		s.log.Info("Executing SET GLOBAL read_only=1 and FLUSH TABLES WITH READ LOCK.. ok", "host", host)
	} else {
		s.log.Info("Executing SET GLOBAL read_only=1.. ok", "host", host)
	}
	if s.plan.BinlogStill {
		return s.step(ctx, StepBinlogStill, host, nil, s.binlogStopped)
	}
	return nil
}

// origUnchanged checks, just before the point of no return, that the old
// master's binlog coordinate is still the final one the new master caught
// up with: something that read_only=1 lets write (an account with SUPER,
// or READ_ONLY ADMIN on MariaDB >= 10.5.2; an event whose definer has it)
// would otherwise leave its writes on the old master only.
func (s *switcher) origUnchanged(ctx context.Context) error {
	pos, _, err := s.lockConn.BinlogStatus(ctx)
	if err != nil {
		return err
	}
	if pos != s.origPos {
		return fmt.Errorf("the old master's binary log moved from %s to %s after read_only=1: a session that read_only does not stop (SUPER, READ_ONLY ADMIN, an event) wrote, and its writes would be lost on the new master (stop such writers in the online-change hook \"stop\", or use the global read lock)", s.origPos, pos)
	}
	return nil
}

// binlogStopped is MHA's check with --skip_lock_all_tables: the binary log
// must not move in 200 ms.
func (s *switcher) binlogStopped(ctx context.Context) error {
	a, _, err := s.lockConn.BinlogStatus(ctx)
	if err != nil {
		return err
	}
	t := time.NewTimer(s.w.binlogStill)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
	}
	b, _, err := s.lockConn.BinlogStatus(ctx)
	if err != nil {
		return err
	}
	if a != b {
		return fmt.Errorf("Binlog is not stopped! (%s, then %s %s later): something with SUPER still writes", a, b, s.w.binlogStill)
	}
	return nil
}

// killBlockers kills, until stop closes, the old master's sessions whose
// statement has run for at least RunningUpdatesLimit and is not itself
// queued behind our lock (KILL CONNECTION).
func (s *switcher) killBlockers(ctx context.Context, stop <-chan struct{}) {
	host := s.plan.Orig.Host()
	f := ThreadFilter{WithReads: true, NotWaiting: true, Exclude: []uint64{s.lockConn.ConnectionID()}}
	killed := map[uint64]bool{}
	t := time.NewTicker(s.w.killPoll)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		th, err := s.ctlConn.LongThreads(ctx, s.plan.KillSecs, f)
		if err != nil {
			s.log.Warn("reading the process list to kill blocking sessions", "host", host, "err", err)
			return
		}
		for _, id := range th.IDs {
			if killed[id] {
				continue
			}
			killed[id] = true
			s.log.Warn("killing a session that blocks the write lock (--kill_blocking)", "host", host, "id", id, "sessions", th.Desc)
			if err := s.ctlConn.Kill(ctx, id); err != nil && mysqlx.ErrorNumber(err) != erNoSuchThread {
				s.log.Warn("kill failed", "host", host, "id", id, "err", err)
			}
		}
	}
}

// MySQL error numbers.
const (
	// erNoSuchThread is ER_NO_SUCH_THREAD: the session ended already.
	erNoSuchThread = 1094
	// erLockWaitTimeout is ER_LOCK_WAIT_TIMEOUT: lock_wait_timeout passed.
	erLockWaitTimeout = 1205
)

// recordOrigPos reads the old master's final coordinate, and its GTID
// position in GTID modes.
func (s *switcher) recordOrigPos(ctx context.Context) error {
	pos, gtid, err := s.masterPos(ctx, s.lockConn)
	if err != nil {
		return err
	}
	s.origPos, s.origGTID = pos, gtid
	s.log.Info(fmt.Sprintf("Orig master binlog:pos is %s.", pos), "binlog_file", pos.File, "binlog_pos", pos.Offset, "gtid", gtid)
	return nil
}

// masterPos reads the old master's current binlog coordinate, and its GTID
// position in GTID modes.
func (s *switcher) masterPos(ctx context.Context, c Server) (binlog.Pos, string, error) {
	pos, _, err := c.BinlogStatus(ctx)
	if err != nil {
		return pos, "", err
	}
	if pos.IsZero() {
		return pos, "", errors.New("binary logging is off on the old master")
	}
	gtid, err := c.GTIDPos(ctx, s.plan.Mode)
	return pos, gtid, err
}

// preSync waits, before the stop hook and the write block, until the new
// master has applied what the old master had logged a moment ago, so that
// the catch-up inside the block has only the last few transactions left
// (MHA does not: a replica up to --seconds_behind_master behind would make
// every switch roll back at the bound).
func (s *switcher) preSync(ctx context.Context) error {
	pos, gtid, err := s.masterPos(ctx, s.origConn)
	if err != nil {
		return err
	}
	return waitApplied(ctx, s.conns[s.plan.New], s.plan.Mode.UsesGTID(), pos, gtid, s.o.StepTimeout)
}

// waitApplied waits until the replica behind c has applied pos (gtid in
// GTID modes).
func waitApplied(ctx context.Context, c Server, byGTID bool, pos binlog.Pos, gtid string, timeout time.Duration) error {
	if byGTID {
		return c.WaitForGTID(ctx, gtid, timeout)
	}
	return c.WaitForPos(ctx, pos, timeout)
}

// catchUp waits until the new master applied the old master's final
// coordinate. It returns at the deadline even when the server does not
// answer (a lost network would otherwise hold the wait until the
// connection's own timeouts): the wait itself then ends in the background.
func (s *switcher) catchUp(ctx context.Context, deadline time.Time) error {
	rem := time.Until(deadline)
	if rem <= 0 {
		return context.Cause(ctx)
	}
	c := s.conns[s.plan.New]
	done := make(chan error, 1)
	s.bg.Go(func() { done <- waitApplied(ctx, c, s.plan.Mode.UsesGTID(), s.origPos, s.origGTID, rem) })
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// hook runs master_ip_online_change_script --command=command; the time
// limit is ctx's (and the runner's own, if it has one).
func (s *switcher) hook(ctx context.Context, command, cmdline string, orig, newm hooks.Endpoint) error {
	args := hooks.OnlineChangeArgs(hooks.OnlineChange{Command: command, Orig: orig, New: newm, OrigIsNewSlave: s.o.OrigMasterIsNewSlave})
	res, err := s.o.Hooks.Run(ctx, HookParam, cmdline, args)
	if err != nil {
		return fmt.Errorf("switchover: %s --command=%s: %w", HookParam, command, err)
	}
	ok, warned := res.Proceed()
	if !ok {
		return fmt.Errorf("switchover: %s --command=%s failed with return code %s", HookParam, command, res.MHACode())
	}
	if warned {
		s.log.Warn(fmt.Sprintf("%s --command=%s returned %s. Proceeding.", HookParam, command, res.MHACode()))
	}
	return nil
}

// rollback undoes the switch after why, by rollbackSteps. Each step has
// its own deadline and runs even when ctx was cancelled.
func (s *switcher) rollback(ctx context.Context, u *undo, why error) error {
	s.log.Error("switch failed, rolling back", "err", why)
	p := s.plan
	orig, newm := p.Orig, p.New
	base := context.WithoutCancel(ctx)
	var problems []string
	nc := s.conns[newm]
	newReadOnlyFailed := false
	for _, name := range rollbackSteps(*u) {
		var host string
		var fn func(ctx context.Context) error
		var problem func(err error) string
		switch name {
		case StepUndoWritable:
			host = newm.Host()
			fn = func(ctx context.Context) error {
				return s.withConn(ctx, newm, &nc, func(c Server) error { return c.SetReadOnly(ctx, true) })
			}
			problem = func(err error) string {
				newReadOnlyFailed = true
				return fmt.Sprintf("the new master %s may be writable (SET GLOBAL read_only=1 failed: %v), so the old master %s was left read-only: make sure only one is writable, then SET GLOBAL read_only=0 on the right one", newm.Host(), err, orig.Host())
			}
		case StepUndoLock:
			if s.lockConn == nil {
				continue
			}
			host = orig.Host()
			fn = s.lockConn.UnlockTables
			problem = func(err error) string {
				if !errors.Is(err, mysqlx.ErrSessionLost) {
					// Closing the session releases the lock as well.
					_ = s.lockConn.Close()
					s.lockConn = nil
				}
				return ""
			}
		case StepUndoReadOnly:
			if newReadOnlyFailed {
				continue
			}
			host = orig.Host()
			fn = func(ctx context.Context) error {
				return s.withConn(ctx, orig, &s.lockConn, func(c Server) error { return c.SetReadOnly(ctx, false) })
			}
			problem = func(err error) string {
				return fmt.Sprintf("the old master %s is still read-only (SET GLOBAL read_only=0 failed: %v)", orig.Host(), err)
			}
		case StepUndoHook:
			host = orig.Host()
			origEP, newEP := s.endpoints()
			fn = func(ctx context.Context) error { return s.hook(ctx, "start", p.StopHook, newEP, origEP) }
			problem = func(err error) string {
				return fmt.Sprintf("the online-change hook could not move the master's address back to %s: %v", orig.Host(), err)
			}
		case StepUndoReplication:
			host = newm.Host()
			fn = func(ctx context.Context) error {
				return s.withConn(ctx, newm, &nc, func(c Server) error { return c.StartReplication(ctx) })
			}
			problem = func(err error) string {
				return fmt.Sprintf("replication on %s did not restart: %v", newm.Host(), err)
			}
		case StepUndoWatchdog:
			host = orig.Host()
			fn = func(ctx context.Context) error { return s.o.Watchdog.Ensure(ctx, orig.Server, p.Lease.OrigPeers) }
			problem = func(err error) string {
				return fmt.Sprintf("the fencing watchdog on %s did not start again (fence_lease does not protect it): %v", orig.Host(), err)
			}
		}
		if name != StepUndoWritable && name != StepUndoLock && name != StepUndoReadOnly {
			s.endBlock(u)
		}
		sctx, cancel := context.WithTimeout(base, s.o.StepTimeout)
		err := s.step(sctx, name, host, nil, fn)
		cancel()
		if err != nil {
			if msg := problem(err); msg != "" {
				problems = append(problems, msg)
			}
		} else if name == StepUndoReadOnly {
			s.log.Info("the old master is writable again", "host", orig.Host())
		}
	}
	s.endBlock(u)
	if nc != nil {
		s.conns[newm] = nc
	}
	s.res.RolledBack = true
	if len(problems) > 0 {
		return fmt.Errorf("%w: %w; left to do by hand: %s", ErrRollbackIncomplete, why, strings.Join(problems, "; "))
	}
	s.log.Info("rollback done: the old master is the master again", "host", orig.Host(), "write_block", s.res.WriteBlock.Round(time.Millisecond))
	return fmt.Errorf("%w: %w", ErrRolledBack, why)
}

// endBlock records how long writes were blocked, once: a rollback's write
// block ends when the old master is writable again, before the hook and
// the rest of the rollback run.
func (s *switcher) endBlock(u *undo) {
	if !u.start.IsZero() && s.res.WriteBlock == 0 {
		s.res.WriteBlock = time.Since(u.start)
	}
}
