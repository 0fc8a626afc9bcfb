package switchover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/topology"
	"github.com/gomha/gomha/node/binlog"
)

// switcher holds one switch's state. Its connections are opened in Phase 1
// and kept, so that nothing connects during the write block.
type switcher struct {
	o   Options
	log *slog.Logger
	res Result

	topo      *topology.Topology
	orig, new *topology.Node
	others    []*topology.Node // replicas other than the new master

	origConn *mysqlx.Conn                    // Phase 1 session on the old master (monitor lock)
	conns    map[*topology.Node]*mysqlx.Conn // replicas, new master included (failover lock)

	origHook, newHook string // master_ip_online_change_script of each side

	// set during the write block
	lockConn, ctlConn *mysqlx.Conn
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
	s := &switcher{o: o.withDefaults(), conns: map[*topology.Node]*mysqlx.Conn{}}
	s.log = s.o.Log.With("cluster", o.Config.App)
	defer s.close()
	if err := s.phase1(ctx); err != nil {
		return s.res, err
	}
	if s.o.CheckOnly {
		s.res.CheckOnly = true
		s.log.Info("--check_only is set. Exit.")
		return s.res, nil
	}
	if err := s.block(ctx); err != nil {
		return s.res, err
	}
	return s.res, s.finish(ctx)
}

// close releases every session (and with them the advisory locks) and
// waits for abandoned goroutines.
func (s *switcher) close() {
	s.bg.Wait()
	for _, c := range []*mysqlx.Conn{s.origConn, s.lockConn, s.ctlConn} {
		if c != nil {
			_ = c.Close()
		}
	}
	for _, c := range s.conns {
		_ = c.Close()
	}
}

func (s *switcher) open(ctx context.Context, n *topology.Node) (*mysqlx.Conn, error) {
	c, err := mysqlx.Open(ctx, check.Target(s.o.Config, n.Server, s.o.ConnectTimeout))
	if err != nil {
		return nil, fmt.Errorf("switchover: connect to %s: %w", n.Host(), err)
	}
	return c, nil
}

// phase1 is MHA's "Configuration Check Phase" (mha-compat §7 Phase 1).
func (s *switcher) phase1(ctx context.Context) error {
	s.log.Info("* Phase 1: Configuration Check Phase..")
	obs := check.Survey(ctx, s.o.Config, s.o.ConnectTimeout, s.o.Resolver)
	topo, rep := topology.Build(obs, topology.Options{})
	s.topo = topo
	if dead := topo.Dead(); len(dead) > 0 {
		var names []string
		for _, n := range dead {
			names = append(names, fmt.Sprintf("%s (%s)", n.Host(), oneLine(n.Err)))
		}
		return refuse("Switching master should not be started if one or more servers is down: %s", strings.Join(names, "; "))
	}
	rep.Merge(topology.CheckReplHealth(topo, s.o.SecondsBehindMaster))
	for _, f := range rep.Problems() {
		if f.Severity == topology.SeverityWarning {
			s.log.Warn(f.String())
		}
	}
	if errs := rep.Errors(); len(errs) > 0 {
		var lines []string
		for _, f := range errs {
			lines = append(lines, f.String())
		}
		return refuse("the topology is not healthy:\n%s", strings.Join(lines, "\n"))
	}
	if topo.Master == nil || !topo.Master.Alive() {
		return refuse("no alive master found")
	}
	s.orig = topo.Master
	s.res.OrigMaster = s.orig.Host()
	s.log.Info("current master", "host", s.orig.Host(), "gtid_mode", topo.GTIDMode.String())

	if err := s.connect(ctx); err != nil {
		return err
	}
	if err := s.flushTables(ctx); err != nil {
		return err
	}
	if err := s.locks(ctx); err != nil {
		return err
	}
	if err := s.runningUpdates(ctx); err != nil {
		return err
	}
	sel, err := topology.SelectNewMaster(topo, topology.SelectOptions{
		NewMasterHost:  s.o.NewMasterHost,
		NewMasterPort:  s.o.NewMasterPort,
		SkipDelayCheck: true,
	})
	if err != nil {
		return refuse("%v", err)
	}
	s.new = sel.NewMaster
	s.res.NewMaster = s.new.Host()
	for _, n := range topo.Replicas() {
		if n != s.new {
			s.others = append(s.others, n)
		}
	}
	if err := s.gtidChecks(); err != nil {
		return err
	}
	if err := s.runningQueries(ctx); err != nil {
		return err
	}
	s.origHook = s.orig.Server.MasterIPOnlineChangeScript
	s.newHook = s.new.Server.MasterIPOnlineChangeScript
	s.printPlan()
	if s.newHook == "" {
		q := HookParam + " is not defined. If you do not disable writes on the current master manually, applications keep writing on the current master. Is it ok to proceed?"
		if s.o.Ask == nil {
			s.log.Warn(HookParam + " is not defined: applications must find the new master by themselves")
		} else if ok, err := s.o.Ask(q, false); err != nil || !ok {
			return refuse("not confirmed (%s)", answerErr(err))
		}
	}
	if s.o.Ask != nil {
		q := fmt.Sprintf("Starting master switch from %s to %s?", s.orig.Host(), s.new.Host())
		if ok, err := s.o.Ask(q, false); err != nil || !ok {
			return refuse("not confirmed (%s)", answerErr(err))
		}
	}
	s.log.Info("Phase 1 checks passed", "orig_master", s.orig.Host(), "new_master", s.new.Host())
	return nil
}

func answerErr(err error) string {
	if err != nil {
		return err.Error()
	}
	return "answered no"
}

func oneLine(err error) string {
	if err == nil {
		return ""
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// connect opens one session per alive server, in parallel.
func (s *switcher) connect(ctx context.Context) error {
	nodes := append([]*topology.Node{s.orig}, s.topo.Replicas()...)
	conns := make([]*mysqlx.Conn, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { conns[i], errs[i] = s.open(ctx, n) })
	}
	wg.Wait()
	for i, n := range nodes {
		if conns[i] == nil {
			continue
		}
		if i == 0 {
			s.origConn = conns[i]
		} else {
			s.conns[n] = conns[i]
		}
	}
	if err := errors.Join(errs...); err != nil {
		return refuse("%v", err)
	}
	return nil
}

// flushTables is MHA's FLUSH NO_WRITE_TO_BINLOG TABLES on the master, which
// makes the later global read lock quick.
func (s *switcher) flushTables(ctx context.Context) error {
	run := false
	switch s.o.FlushTables {
	case FlushRun:
		run = true
	case FlushAsk:
		run = true
		if s.o.Ask != nil {
			ok, err := s.o.Ask("Executing FLUSH NO_WRITE_TO_BINLOG TABLES. This may take long time..", true)
			if err != nil {
				return refuse("not confirmed (%s)", answerErr(err))
			}
			run = ok
		}
	}
	if !run {
		return nil
	}
	if _, err := s.origConn.Exec(ctx, "FLUSH NO_WRITE_TO_BINLOG TABLES"); err != nil {
		return refuse("FLUSH NO_WRITE_TO_BINLOG TABLES on %s: %v", s.orig.Host(), err)
	}
	s.log.Info("Executing FLUSH NO_WRITE_TO_BINLOG TABLES.. ok", "host", s.orig.Host())
	return nil
}

// locks takes MHA's advisory locks without waiting: the monitor lock on the
// master (a running manager holds it) and the failover lock on every replica.
func (s *switcher) locks(ctx context.Context) error {
	ok, err := s.origConn.GetLock(ctx, mysqlx.MonitorLock, 0)
	if err != nil {
		return refuse("monitor lock on %s: %v", s.orig.Host(), err)
	}
	if !ok {
		return refuse("Getting advisory lock failed on the current master. MHA Monitor runs on the current master. Stop MHA Manager/Monitor and try again")
	}
	for n, c := range s.conns {
		ok, err := c.GetLock(ctx, mysqlx.FailoverLock, 0)
		if err != nil {
			return refuse("failover lock on %s: %v", n.Host(), err)
		}
		if !ok {
			return refuse("Getting advisory lock failed on %s: another failover or switch is running on it", n.Host())
		}
	}
	return nil
}

// runningUpdates refuses a switch while a statement other than SELECT or
// SHOW has been running on the master for longer than RunningUpdatesLimit
// (MHA: Time >= running_updates_limit + 1).
func (s *switcher) runningUpdates(ctx context.Context) error {
	secs := int64(s.o.RunningUpdatesLimit.Seconds()) + 1
	th, err := longThreads(ctx, s.origConn, secs, threadFilter{})
	if err != nil {
		return refuse("reading the master's process list: %v", err)
	}
	if th.count > 0 {
		return refuse("Currently %d update thread(s) are running on the master %s for %d s or more (--running_updates_limit=%d):\n%s",
			th.count, s.orig.Host(), secs, secs-1, th.desc)
	}
	return nil
}

// runningQueries refuses a switch while any statement has been running on
// the new master for RunningSecondsLimit or longer.
func (s *switcher) runningQueries(ctx context.Context) error {
	secs := max(int64(s.o.RunningSecondsLimit.Seconds()), 1)
	th, err := longThreads(ctx, s.conns[s.new], secs, threadFilter{withReads: true})
	if err != nil {
		return refuse("reading the new master's process list: %v", err)
	}
	if th.count > 0 {
		return refuse("Currently %d thread(s) on the new master %s run for %d s or more (--running_seconds_limit=%d):\n%s",
			th.count, s.new.Host(), secs, secs, th.desc)
	}
	return nil
}

// gtidChecks: with MariaDB GTID every replica reconnects to the new master
// by its gtid_slave_pos, which the new master's binary log must hold.
func (s *switcher) gtidChecks() error {
	if s.topo.GTIDMode == topology.GTIDMariaDB && !s.new.State.LogSlaveUpdates {
		return refuse("%s has log_slave_updates off: with MariaDB GTID the replicas need the old master's transactions in the new master's binary log", s.new.Host())
	}
	return nil
}

// printPlan logs the topology from and to.
func (s *switcher) printPlan() {
	from := []string{s.orig.Host() + " (current master)"}
	to := []string{s.new.Host() + " (new master)"}
	for _, n := range s.topo.Replicas() {
		from = append(from, " +--"+n.Host())
	}
	for _, n := range s.others {
		to = append(to, " +--"+n.Host())
	}
	if s.o.OrigMasterIsNewSlave {
		to = append(to, " +--"+s.orig.Host())
	}
	s.log.Info("From:\n" + strings.Join(from, "\n"))
	s.log.Info("To:\n" + strings.Join(to, "\n"))
}

// endpoints returns the hook endpoints of the old and the new master.
func (s *switcher) endpoints() (orig, newm hooks.Endpoint) {
	return hooks.EndpointOf(s.orig.Server), hooks.EndpointOf(s.new.Server)
}
