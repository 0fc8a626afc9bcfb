package switchover

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/repoint"
	"github.com/gomha/gomha/manager/topology"
	"github.com/gomha/gomha/node/binlog"
)

// undo records what the write block changed, for the rollback.
type undo struct {
	hookStopped  bool      // the online-change hook "stop" ran (perhaps in part)
	readOnly     bool      // SET GLOBAL read_only=1 was sent to the old master
	prevReadOnly bool      // the old master's read_only before
	locked       bool      // FLUSH TABLES WITH READ LOCK was sent
	newStopped   bool      // replication was stopped on the new master
	newWritable  bool      // SET GLOBAL read_only=0 was sent to the new master
	start        time.Time // when the write block started; zero before
}

// killPoll is how often KillBlocking looks for sessions in the way, after
// the same grace period.
const killPoll = 100 * time.Millisecond

// block is Phase 2: writes are blocked on the old master, the new master
// catches up and becomes writable, all within MaxWriteBlock, or everything
// is rolled back.
func (s *switcher) block(ctx context.Context) error {
	s.log.Info("* Phase 2: Rejecting updates Phase..")
	orig, newm := s.endpoints()
	u := &undo{}

	if err := s.preSync(ctx); err != nil {
		return fmt.Errorf("%w: the new master %s did not catch up before the write block: %w", ErrRefused, s.new.Host(), err)
	}

	// MHA releases the monitor lock and disconnects before the stop hook:
	// the hook may kill sessions on the master.
	if _, err := s.origConn.ReleaseLock(ctx, mysqlx.MonitorLock); err != nil {
		s.log.Warn("releasing the monitor lock", "host", s.orig.Host(), "err", err)
	}
	_ = s.origConn.Close()
	s.origConn = nil

	if s.newHook != "" {
		u.hookStopped = true // a failed stop may have done part of its work
		hctx, cancel := context.WithTimeout(ctx, s.o.StepTimeout)
		err := s.hook(hctx, "stop", firstOf(s.origHook, s.newHook), orig, newm, 0)
		cancel()
		if err != nil {
			return s.rollback(ctx, u, err)
		}
	}

	var err error
	if s.lockConn, err = s.open(ctx, s.orig); err != nil {
		return s.rollback(ctx, u, err)
	}
	if s.o.KillBlocking {
		if s.ctlConn, err = s.open(ctx, s.orig); err != nil {
			return s.rollback(ctx, u, err)
		}
	}
	if err := s.lockConn.QueryRow(ctx, "SELECT @@global.read_only").Scan(&u.prevReadOnly); err != nil {
		return s.rollback(ctx, u, err)
	}
	// The server-side bound: lock waits give up by themselves even if this
	// process dies. lock_wait_timeout takes whole seconds (MariaDB 10.11
	// rejects fractions), so the manager's own deadline below is the exact
	// bound and this one is a backstop.
	lwt := max(int64(math.Ceil(s.o.MaxWriteBlock.Seconds())), 1)
	if _, err := s.lockConn.Exec(ctx, fmt.Sprintf("SET SESSION lock_wait_timeout = %d", lwt)); err != nil {
		return s.rollback(ctx, u, err)
	}

	u.start = time.Now()
	deadline := u.start.Add(s.o.MaxWriteBlock)
	bound := fmt.Errorf("the write block reached its bound of %s (--max_write_block)", s.o.MaxWriteBlock)
	bctx, cancel := context.WithDeadlineCause(ctx, deadline, bound)
	defer cancel()
	fail := func(step string, err error) error {
		switch {
		case errors.Is(err, bound):
			err = fmt.Errorf("%w while %s", bound, step)
		case mysqlx.ErrorNumber(err) == erLockWaitTimeout:
			// The server-side lock_wait_timeout, set to the bound, fired
			// first.
			err = fmt.Errorf("%w while %s (lock_wait_timeout): %v", bound, step, err)
		case bctx.Err() != nil && ctx.Err() == nil:
			err = fmt.Errorf("%w while %s: %v", context.Cause(bctx), step, err)
		default:
			err = fmt.Errorf("%s: %w", step, err)
		}
		return s.rollback(ctx, u, err)
	}

	if err := s.lock(bctx, u); err != nil {
		return fail("blocking writes on the old master "+s.orig.Host(), err)
	}
	if err := s.recordOrigPos(bctx); err != nil {
		return fail("reading the old master's binlog position", err)
	}
	if err := s.catchUp(bctx, deadline); err != nil {
		return fail("waiting for the new master "+s.new.Host()+" to catch up", err)
	}
	nc := s.conns[s.new]
	u.newStopped = true
	if err := repoint.Stop(bctx, nc); err != nil {
		return fail("stopping replication on the new master", err)
	}
	pos, _, err := nc.BinlogStatus(bctx)
	if err != nil {
		return fail("reading the new master's binlog position", err)
	}
	if pos.IsZero() {
		return fail("reading the new master's binlog position", errors.New("binary logging is off"))
	}
	s.newPos = pos
	s.log.Info("new master caught up", "host", s.new.Host(), "binlog_file", pos.File, "binlog_pos", pos.Offset)
	if s.newHook != "" {
		rem := time.Until(deadline)
		if rem <= 0 {
			return fail("starting the online-change hook", bound)
		}
		if err := s.hook(bctx, "start", s.newHook, orig, newm, rem); err != nil {
			return fail("the online-change hook start", err)
		}
	}
	if time.Now().After(deadline) {
		return s.rollback(ctx, u, bound)
	}
	u.newWritable = true
	if err := nc.SetReadOnly(bctx, false); err != nil {
		return fail("SET GLOBAL read_only=0 on the new master", err)
	}
	s.res.WriteBlock = time.Since(u.start)
	s.res.Switched = true
	s.log.Info("new master is writable", "host", s.new.Host(), "write_block", s.res.WriteBlock.Round(time.Millisecond))
	return nil
}

// lock sets read_only=1 and takes the global read lock on the old master,
// killing sessions in the way when KillBlocking allows.
func (s *switcher) lock(ctx context.Context, u *undo) error {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if s.ctlConn != nil {
		wg.Go(func() { s.killBlockers(ctx, stop) })
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()
	s.log.Info("Locking all tables on the orig master to reject updates from everybody (including root):", "host", s.orig.Host())
	u.readOnly = true
	if err := s.lockConn.SetReadOnly(ctx, true); err != nil {
		return err
	}
	if s.o.SkipLockAllTables {
		return s.binlogStopped(ctx)
	}
	u.locked = true
	if _, err := s.lockConn.Exec(ctx, "FLUSH TABLES WITH READ LOCK"); err != nil {
		return err
	}
	s.log.Info("Executing SET GLOBAL read_only=1 and FLUSH TABLES WITH READ LOCK.. ok", "host", s.orig.Host())
	return nil
}

// binlogStopped is MHA's check with --skip_lock_all_tables: the binary log
// must not move in 200 ms.
func (s *switcher) binlogStopped(ctx context.Context) error {
	a, _, err := s.lockConn.BinlogStatus(ctx)
	if err != nil {
		return err
	}
	t := time.NewTimer(200 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	b, _, err := s.lockConn.BinlogStatus(ctx)
	if err != nil {
		return err
	}
	if a != b {
		return fmt.Errorf("Binlog is not stopped! (%s, then %s 200 ms later): something with SUPER still writes", a, b)
	}
	return nil
}

// killBlockers kills, until stop closes, the old master's sessions whose
// statement has run for at least RunningUpdatesLimit and is not itself
// queued behind our lock (KILL CONNECTION).
func (s *switcher) killBlockers(ctx context.Context, stop <-chan struct{}) {
	secs := int64(s.o.RunningUpdatesLimit.Seconds())
	f := threadFilter{withReads: true, notWaiting: true, exclude: []uint64{s.lockConn.ConnectionID()}}
	killed := map[uint64]bool{}
	t := time.NewTicker(killPoll)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		th, err := longThreads(ctx, s.ctlConn, secs, f)
		if err != nil {
			s.log.Warn("reading the process list to kill blocking sessions", "host", s.orig.Host(), "err", err)
			return
		}
		for _, id := range th.ids {
			if killed[id] {
				continue
			}
			killed[id] = true
			s.log.Warn("killing a session that blocks the write lock (--kill_blocking)", "host", s.orig.Host(), "id", id, "sessions", th.desc)
			if err := s.ctlConn.Kill(ctx, id); err != nil && mysqlx.ErrorNumber(err) != erNoSuchThread {
				s.log.Warn("kill failed", "host", s.orig.Host(), "id", id, "err", err)
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
func (s *switcher) masterPos(ctx context.Context, c *mysqlx.Conn) (binlog.Pos, string, error) {
	pos, _, err := c.BinlogStatus(ctx)
	if err != nil {
		return pos, "", err
	}
	if pos.IsZero() {
		return pos, "", errors.New("binary logging is off on the old master")
	}
	var gtid string
	switch s.topo.GTIDMode {
	case topology.GTIDMariaDB:
		err = c.QueryRow(ctx, "SELECT @@global.gtid_binlog_pos").Scan(&gtid)
	case topology.GTIDMySQL:
		err = c.QueryRow(ctx, "SELECT @@global.gtid_executed").Scan(&gtid)
		gtid = strings.Join(strings.Fields(gtid), "")
	}
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
	c := s.conns[s.new]
	if s.topo.GTIDMode.UsesGTID() {
		return c.WaitForGTID(ctx, gtid, s.o.StepTimeout)
	}
	return c.WaitForPos(ctx, pos, s.o.StepTimeout)
}

// waitApplied waits until the replica behind c has applied the old
// master's final coordinate: by GTID in GTID modes, else by position.
func (s *switcher) waitApplied(ctx context.Context, c *mysqlx.Conn, timeout time.Duration) error {
	if s.topo.GTIDMode.UsesGTID() {
		return c.WaitForGTID(ctx, s.origGTID, timeout)
	}
	return c.WaitForPos(ctx, s.origPos, timeout)
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
	done := make(chan error, 1)
	s.bg.Go(func() { done <- s.waitApplied(ctx, s.conns[s.new], rem) })
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// hook runs master_ip_online_change_script --command=command.
func (s *switcher) hook(ctx context.Context, command, cmdline string, orig, newm hooks.Endpoint, timeout time.Duration) error {
	r := s.o.Hooks
	if r.Log == nil {
		r.Log = s.log
	}
	if timeout > 0 {
		r.Timeout = timeout
	}
	args := hooks.OnlineChangeArgs(hooks.OnlineChange{Command: command, Orig: orig, New: newm, OrigIsNewSlave: s.o.OrigMasterIsNewSlave})
	res, err := r.Run(ctx, HookParam, cmdline, args)
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

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// withConn runs f on *cp, opening a new session to n first when *cp is nil
// or its session was lost (a statement cut by the bound kills it).
func (s *switcher) withConn(ctx context.Context, n *topology.Node, cp **mysqlx.Conn, f func(*mysqlx.Conn) error) error {
	if *cp != nil {
		err := f(*cp)
		if !errors.Is(err, mysqlx.ErrSessionLost) {
			return err
		}
		_ = (*cp).Close()
	}
	c, err := s.open(ctx, n)
	if err != nil {
		return err
	}
	*cp = c
	return f(c)
}

// rollback undoes the write block after why, in the order that keeps a
// single writable master: the new master read-only again (when it may have
// been made writable), the old master unlocked and writable, then the hook
// "start" with the old master as the new one, and replication restarted on
// the new master. Each step has its own deadline and runs even when ctx was
// cancelled.
func (s *switcher) rollback(ctx context.Context, u *undo, why error) error {
	s.log.Error("switch failed, rolling back", "err", why)
	base := context.WithoutCancel(ctx)
	step := func() (context.Context, context.CancelFunc) { return context.WithTimeout(base, s.o.StepTimeout) }
	var problems []string
	oldMayWrite := true
	nc := s.conns[s.new]
	if u.newWritable {
		sctx, cancel := step()
		err := s.withConn(sctx, s.new, &nc, func(c *mysqlx.Conn) error { return c.SetReadOnly(sctx, true) })
		cancel()
		if err != nil {
			oldMayWrite = false
			problems = append(problems, fmt.Sprintf("the new master %s may be writable (SET GLOBAL read_only=1 failed: %v), so the old master %s was left read-only: make sure only one is writable, then SET GLOBAL read_only=0 on the right one", s.new.Host(), err, s.orig.Host()))
		}
	}
	if u.locked && s.lockConn != nil {
		sctx, cancel := step()
		_, err := s.lockConn.Exec(sctx, "UNLOCK TABLES")
		cancel()
		if err != nil && !errors.Is(err, mysqlx.ErrSessionLost) {
			// Closing the session releases the lock as well.
			_ = s.lockConn.Close()
			s.lockConn = nil
		}
	}
	if u.readOnly && oldMayWrite && !u.prevReadOnly {
		sctx, cancel := step()
		err := s.withConn(sctx, s.orig, &s.lockConn, func(c *mysqlx.Conn) error { return c.SetReadOnly(sctx, false) })
		cancel()
		if err != nil {
			problems = append(problems, fmt.Sprintf("the old master %s is still read-only (SET GLOBAL read_only=0 failed: %v)", s.orig.Host(), err))
		} else {
			s.log.Info("the old master is writable again", "host", s.orig.Host())
		}
	}
	if !u.start.IsZero() {
		s.res.WriteBlock = time.Since(u.start)
	}
	if u.hookStopped {
		orig, newm := s.endpoints()
		sctx, cancel := step()
		err := s.hook(sctx, "start", firstOf(s.origHook, s.newHook), newm, orig, 0)
		cancel()
		if err != nil {
			problems = append(problems, fmt.Sprintf("the online-change hook could not move the master's address back to %s: %v", s.orig.Host(), err))
		}
	}
	if u.newStopped {
		sctx, cancel := step()
		err := s.withConn(sctx, s.new, &nc, func(c *mysqlx.Conn) error {
			if err := c.StartReplica(sctx); err != nil {
				return err
			}
			return repoint.WaitRunning(sctx, c)
		})
		cancel()
		if err != nil {
			problems = append(problems, fmt.Sprintf("replication on %s did not restart: %v", s.new.Host(), err))
		}
	}
	if nc != s.conns[s.new] {
		s.conns[s.new] = nc
	}
	s.res.RolledBack = true
	if len(problems) > 0 {
		return fmt.Errorf("%w: %w; left to do by hand: %s", ErrRollbackIncomplete, why, strings.Join(problems, "; "))
	}
	s.log.Info("rollback done: the old master is the master again", "host", s.orig.Host(), "write_block", s.res.WriteBlock.Round(time.Millisecond))
	return fmt.Errorf("%w: %w", ErrRolledBack, why)
}
