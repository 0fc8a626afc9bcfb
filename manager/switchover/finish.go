package switchover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/topology"
	"github.com/gomha/gomha/node/binlog"
)

// finish is what follows the point of no return, where nothing is rolled
// back: the hook "start" (with its own timeout), the old master unlocked
// (it stays read-only) and checked for writes that slipped past
// read_only, every other replica and optionally the old master repointed
// in parallel, the new master's fencing watchdog started, its replication
// settings reset. A failed hook, a moved old master or a replica left
// behind make it ErrPartial.
func (s *switcher) finish(ctx context.Context) error {
	p := s.plan
	orig, newm := p.Orig, p.New
	var problems []string
	if p.StartHook != "" {
		origEP, newEP := s.endpoints()
		err := s.step(ctx, StepHookStart, newm.Host(), nil, s.bounded(func(ctx context.Context) error {
			return s.hook(ctx, "start", p.StartHook, origEP, newEP)
		}))
		if err != nil {
			s.res.StartHookErr = err
			msg := fmt.Sprintf("the online-change hook start failed after %s became the master (not rolled back: writes already moved); the master's address may still lead to the old master %s, move it by hand: %s",
				newm.Host(), orig.Host(), oneLine(err))
			s.log.Error(msg)
			problems = append(problems, msg)
		}
	}
	if s.lockConn != nil && p.LockTables {
		if err := s.step(ctx, StepUnlock, orig.Host(), nil, s.lockConn.UnlockTables); err != nil {
			// Ending the session releases the global read lock too.
			s.log.Warn("UNLOCK TABLES on the old master failed; closing the session instead", "host", orig.Host(), "err", err)
			_ = s.lockConn.Close()
			s.lockConn = nil
		}
	}
	if msg := s.origAfter(ctx); msg != "" {
		s.log.Error(msg)
		problems = append(problems, msg)
	}
	s.log.Info("Switching slaves in parallel..")
	s.res.Replicas = make([]Repointed, len(p.Repoints))
	var wg sync.WaitGroup
	for i, r := range p.Repoints {
		r.How.Pos = s.newPos
		wg.Go(func() {
			detail := map[string]string{"replica": r.Node.Host(), "source_host": r.Source.Host, "source_port": fmt.Sprint(r.Source.Port),
				"mode": r.How.Mode.String(), "binlog_file": r.How.Pos.File, "binlog_pos": fmt.Sprint(r.How.Pos.Offset)}
			err := s.step(ctx, StepRepoint, r.Node.Host(), detail, func(ctx context.Context) error {
				return s.repoint(ctx, r)
			})
			s.mu.Lock()
			s.res.Replicas[i] = Repointed{Host: r.Node.Host(), Err: err}
			s.mu.Unlock()
			s.logRepointed(r.Node, err)
		})
	}
	wg.Wait()
	var watchdogErr error
	if p.Lease.EnsureNew {
		// The new master is writable: its watchdog goes up even when a
		// replica failed.
		watchdogErr = s.step(ctx, StepEnsureWatchdog, newm.Host(), nil, s.bounded(func(ctx context.Context) error {
			return s.o.Watchdog.Ensure(ctx, newm.Server, p.Lease.Peers)
		}))
		if watchdogErr != nil {
			watchdogErr = fmt.Errorf("fence_lease: the fencing watchdog on the new master %s did not start (start `mha manager`, which retries it): %w", newm.Host(), watchdogErr)
			s.log.Error(watchdogErr.Error())
		}
	}
	failed := s.result().Failed()
	if len(failed) > 0 || len(problems) > 0 {
		lines := problems
		for _, f := range failed {
			lines = append(lines, f.Host+": "+oneLine(f.Err))
		}
		if watchdogErr != nil {
			lines = append(lines, watchdogErr.Error())
		}
		s.log.Error(fmt.Sprintf("Switching master to %s done, but switching slaves partially failed.", newm.Host()))
		return fmt.Errorf("%w: %s", ErrPartial, strings.Join(lines, "; "))
	}
	s.log.Info("All new slave servers switched successfully.")
	var errs []error
	if watchdogErr != nil {
		errs = append(errs, watchdogErr)
	}
	if p.ResetSlave {
		if err := s.step(ctx, StepResetSlave, newm.Host(), nil, s.conns[newm].ResetReplicaAll); err != nil {
			errs = append(errs, fmt.Errorf("RESET SLAVE ALL on the new master %s: %w", newm.Host(), err))
		} else {
			s.log.Info("Resetting slave info on the new master succeeded.", "host", newm.Host())
		}
	}
	if p.RemoveOrigConf {
		var found bool
		err := s.step(ctx, StepRemoveConf, orig.Host(), nil, func(context.Context) error {
			var err error
			found, err = config.RemoveServerBlock(s.o.Config.File, orig.Server.Block)
			return err
		})
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("removing [%s] from %s: %w", orig.Server.Block, s.o.Config.File, err))
		case found:
			s.log.Info(fmt.Sprintf("Removed [%s] (%s) from %s.", orig.Server.Block, orig.Host(), s.o.Config.File))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrAfterSwitch, errors.Join(errs...))
	}
	s.log.Info(fmt.Sprintf("Switching master to %s completed successfully.", newm.Host()), "write_block", s.res.WriteBlock)
	return nil
}

// origAfter reads the old master's binlog coordinate once the address has
// moved (the hook "start" ran) and the global read lock is gone, and
// returns what to report when it moved past the final coordinate: writes
// that read_only let through between the last check and now, which the
// new master does not have. A coordinate that cannot be read is only
// logged.
func (s *switcher) origAfter(ctx context.Context) string {
	orig := s.plan.Orig
	var pos binlog.Pos
	err := s.step(ctx, StepOrigAfter, orig.Host(), nil, s.bounded(func(ctx context.Context) error {
		return s.withConn(ctx, orig, &s.lockConn, func(c Server) error {
			var err error
			pos, _, err = c.BinlogStatus(ctx)
			return err
		})
	}))
	switch {
	case err != nil:
		s.log.Warn("cannot read the old master's binlog position after the switch", "host", orig.Host(), "err", err)
		return ""
	case pos != s.origPos:
		return fmt.Sprintf("the old master %s took writes after the switch (binary log at %s, final position %s): a session that read_only does not stop (SUPER, READ_ONLY ADMIN, an event) wrote there, and the new master %s does not have it; compare the two before using the old master again",
			orig.Host(), pos, s.origPos, s.plan.New.Host())
	}
	return ""
}

func (s *switcher) logRepointed(n *topology.Node, err error) {
	if err != nil {
		s.log.Error("repointing failed", "host", n.Host(), "err", err)
		return
	}
	s.log.Info("Slave started, replicating from "+s.plan.New.Host(), "host", n.Host())
}

// repoint moves one server to the new master as r says: a replica first
// waits until it applied the old master's final coordinate; the old master
// (read-only, unlocked) reuses its write-block session.
func (s *switcher) repoint(ctx context.Context, r Repoint) error {
	ctx, cancel := context.WithTimeout(ctx, s.o.ReplicaTimeout)
	defer cancel()
	var c Server
	if r.Node == s.plan.Orig {
		if s.lockConn == nil {
			var err error
			if s.lockConn, err = s.open(ctx, r.Node.Server); err != nil {
				return err
			}
		}
		c = s.lockConn
	} else {
		c = s.conns[r.Node]
	}
	if r.WaitApplied {
		if err := waitApplied(ctx, c, s.plan.Mode.UsesGTID(), s.origPos, s.origGTID, s.o.ReplicaTimeout); err != nil {
			return fmt.Errorf("switchover: %s did not apply the old master's last transaction: %w", r.Node.Host(), err)
		}
	}
	if r.Node == s.plan.Orig && s.newSettings != nil {
		r.How.Settings = s.newSettings
	}
	if r.ResetSlavePos {
		if err := c.SetGTIDSlavePos(ctx, s.origGTID); err != nil {
			return fmt.Errorf("switchover: SET GLOBAL gtid_slave_pos='%s' on %s: %w", s.origGTID, r.Node.Host(), err)
		}
	}
	return c.Repoint(ctx, r.Source, r.How)
}
