package switchover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/failpoint"
	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/repoint"
	"github.com/gomha/gomha/manager/topology"
	"github.com/gomha/gomha/node/binlog"
)

// switcher holds one switch's state. Its connections are opened in Phase 1
// and kept, so that nothing connects during the write block.
type switcher struct {
	o   Options
	w   world
	log *slog.Logger

	mu  sync.Mutex // guards res during the parallel repointing
	res Result

	topo *topology.Topology
	plan Plan

	origConn Server                    // Phase 1 session on the old master (monitor lock)
	conns    map[*topology.Node]Server // replicas, new master included (failover lock)
	// newSettings are the new master's replication connection settings,
	// read in Phase 1 for an old master that joins as a replica; nil
	// when not read.
	newSettings *repoint.Settings

	// set during the write block
	lockConn, ctlConn Server
	origPos           binlog.Pos
	origGTID          string
	newPos            binlog.Pos

	bg sync.WaitGroup // goroutines that may outlive a step (a catch-up abandoned at the bound)
}

// Run switches the master as Options say. The error wraps ErrRefused,
// ErrRolledBack, ErrRollbackIncomplete, ErrPartial or ErrAfterSwitch, or
// is nil on success (also for CheckOnly).
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Config == nil {
		return Result{}, errors.New("switchover: no configuration")
	}
	o = o.withDefaults()
	s := &switcher{o: o, w: o.world, conns: map[*topology.Node]Server{}}
	s.w.defaults()
	s.log = o.Log.With("cluster", o.Config.App)
	if s.o.Hooks == nil {
		s.o.Hooks = hooks.Runner{Log: s.log}
	}
	defer s.close()
	if err := s.phase(ctx, "Phase 1: Configuration Check Phase", s.phase1); err != nil {
		return s.result(), err
	}
	if s.o.CheckOnly {
		s.res.CheckOnly = true
		s.log.Info("--check_only is set. Exit.")
		return s.result(), nil
	}
	if err := s.phase(ctx, "Phase 2: Rejecting updates Phase", s.block); err != nil {
		return s.result(), err
	}
	err := s.phase(ctx, "Phase 3: Switching slaves", s.finish)
	return s.result(), err
}

// phase runs one phase and logs its duration.
func (s *switcher) phase(ctx context.Context, name string, fn func(context.Context) error) error {
	start := time.Now()
	s.log.Info("* " + name + "..")
	err := fn(ctx)
	s.log.Info("phase done", "step", name, "duration", time.Since(start).Round(time.Millisecond).String())
	return err
}

func (s *switcher) result() Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.res
}

// close releases every session (and with them the advisory locks) and
// waits for abandoned goroutines.
func (s *switcher) close() {
	s.bg.Wait()
	for _, c := range []Server{s.origConn, s.lockConn, s.ctlConn} {
		if c != nil {
			_ = c.Close()
		}
	}
	for _, c := range s.conns {
		_ = c.Close()
	}
}

// open connects to srv.
func (s *switcher) open(ctx context.Context, srv config.Server) (Server, error) {
	c, err := s.w.connect(ctx, s.o.Config, srv, s.o.ConnectTimeout)
	if err != nil {
		// The label of topology.Node.Host, as everywhere in the switch.
		return nil, fmt.Errorf("switchover: connect to %s: %w", srv.Label(), err)
	}
	return c, nil
}

// step runs fn as the step name on host and logs its duration. An
// irreversible step gets a journal record before and after it, and
// failpoints. The error is fn's, unwrapped: the caller says what failed.
func (s *switcher) step(ctx context.Context, name, host string, detail map[string]string, fn func(context.Context) error) error {
	journal := s.o.Journal
	if !irreversible[name] {
		journal = nil
	}
	if journal != nil {
		// A journal that cannot be written is logged, not fatal (as in a
		// failover).
		if err := journal.Intent(name, host, detail); err != nil {
			s.log.Error("cannot write the switch journal", "step", name, "host", host, "err", err)
		}
	}
	if irreversible[name] {
		failpoint.Hit(failpoint.Name("switchover", name, "before"))
	}
	start := time.Now()
	err := fn(ctx)
	d := time.Since(start)
	s.mu.Lock()
	s.res.Steps = append(s.res.Steps, StepResult{Name: name, Host: host, Duration: d, Err: err})
	s.mu.Unlock()
	if err != nil {
		s.log.Warn("step failed", "step", name, "host", host, "duration", d.Round(time.Millisecond).String(), "err", err)
		return err
	}
	if journal != nil {
		if err := journal.Done(name, host, detail); err != nil {
			s.log.Error("cannot write the switch journal", "step", name, "host", host, "err", err)
		}
	}
	if irreversible[name] {
		failpoint.Hit(failpoint.Name("switchover", name, "after"))
	}
	s.log.Info("step done", "step", name, "host", host, "duration", d.Round(time.Millisecond).String())
	return nil
}

// withConn runs f on *cp, opening a new session to n first when *cp is nil
// or its session was lost (a statement cut by the bound kills it).
func (s *switcher) withConn(ctx context.Context, n *topology.Node, cp *Server, f func(Server) error) error {
	if *cp != nil {
		err := f(*cp)
		if !errors.Is(err, mysqlx.ErrSessionLost) {
			return err
		}
		_ = (*cp).Close()
		*cp = nil
	}
	c, err := s.open(ctx, n.Server)
	if err != nil {
		return err
	}
	*cp = c
	return f(c)
}

// bounded gives fn the step deadline, StepTimeout.
func (s *switcher) bounded(fn func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, s.o.StepTimeout)
		defer cancel()
		return fn(ctx)
	}
}
