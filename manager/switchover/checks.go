package switchover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/topology"
)

// phase1 is MHA's "Configuration Check Phase" (mha-compat §7 Phase 1): the
// plan from the topology first (pure), then the checks that need a
// session, then the operator's answers. Nothing is changed.
func (s *switcher) phase1(ctx context.Context) error {
	obs := s.w.survey(ctx, s.o.Config, s.o.ConnectTimeout, s.o.Resolver)
	topo, rep := topology.Build(obs, topology.Options{})
	rep.Merge(topology.CheckReplHealth(topo, s.o.SecondsBehindMaster))
	s.topo = topo
	p := NewPlan(topo, rep, s.o.planOptions())
	s.plan = p
	for _, w := range p.Warnings {
		s.log.Warn(w)
	}
	if p.Orig != nil {
		s.res.OrigMaster = p.Orig.Host()
		s.log.Info("current master", "host", p.Orig.Host(), "gtid_mode", topo.GTIDMode.String())
	}
	if p.New != nil {
		s.res.NewMaster = p.New.Host()
	}
	if len(p.Blockers) > 0 {
		return refuse("%s", strings.Join(p.Blockers, "\n"))
	}
	s.res.Plan = p.String()

	if err := s.connect(ctx); err != nil {
		return err
	}
	if err := s.flushTables(ctx); err != nil {
		return err
	}
	if err := s.locks(ctx); err != nil {
		return err
	}
	s.readNewSettings(ctx)
	th, err := s.origConn.LongThreads(ctx, p.UpdatesSecs, ThreadFilter{})
	if err != nil {
		return refuse("reading the master's process list: %v", err)
	}
	if b := p.updatesBlocker(th); b != "" {
		return refuse("%s", b)
	}
	th, err = s.conns[p.New].LongThreads(ctx, p.QueriesSecs, ThreadFilter{WithReads: true})
	if err != nil {
		return refuse("reading the new master's process list: %v", err)
	}
	if b := p.queriesBlocker(th); b != "" {
		return refuse("%s", b)
	}
	s.printPlan()
	if p.StartHook == "" {
		q := HookParam + " is not defined. If you do not disable writes on the current master manually, applications keep writing on the current master. Is it ok to proceed?"
		if s.o.Ask == nil {
			s.log.Warn(HookParam + " is not defined: applications must find the new master by themselves")
		} else if ok, err := s.o.Ask(q, false); err != nil || !ok {
			return refuse("not confirmed (%s)", answerErr(err))
		}
	}
	if s.o.Ask != nil {
		q := fmt.Sprintf("Starting master switch from %s to %s?", p.Orig.Host(), p.New.Host())
		if ok, err := s.o.Ask(q, false); err != nil || !ok {
			return refuse("not confirmed (%s)", answerErr(err))
		}
	}
	s.log.Info("Phase 1 checks passed", "orig_master", p.Orig.Host(), "new_master", p.New.Host())
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
	nodes := append([]*topology.Node{s.plan.Orig}, s.topo.Replicas()...)
	conns := make([]Server, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { conns[i], errs[i] = s.open(ctx, n.Server) })
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
	if err := s.origConn.FlushTables(ctx); err != nil {
		return refuse("FLUSH NO_WRITE_TO_BINLOG TABLES on %s: %v", s.plan.Orig.Host(), err)
	}
	s.log.Info("Executing FLUSH NO_WRITE_TO_BINLOG TABLES.. ok", "host", s.plan.Orig.Host())
	return nil
}

// locks takes MHA's advisory locks without waiting: the monitor lock on the
// master (a running manager holds it) and the failover lock on every replica.
func (s *switcher) locks(ctx context.Context) error {
	ok, err := s.origConn.GetLock(ctx, mysqlx.MonitorLock)
	if err != nil {
		return refuse("monitor lock on %s: %v", s.plan.Orig.Host(), err)
	}
	if !ok {
		return refuse("Getting advisory lock failed on the current master. MHA Monitor runs on the current master. Stop MHA Manager/Monitor and try again")
	}
	for _, n := range s.topo.Replicas() {
		ok, err := s.conns[n].GetLock(ctx, mysqlx.FailoverLock)
		if err != nil {
			return refuse("failover lock on %s: %v", n.Host(), err)
		}
		if !ok {
			return refuse("Getting advisory lock failed on %s: another failover or switch is running on it", n.Host())
		}
	}
	return nil
}

// readNewSettings reads, for an old master that joins as a replica, the
// new master's replication connection settings, which its RESET SLAVE ALL
// at the end forgets: the old master gets them (heartbeat, connect retry,
// TLS), not the server defaults. MASTER_DELAY is left out: it belongs to
// the replica that had it, not to the connection. Best effort: without
// them the old master takes the defaults, as before.
func (s *switcher) readNewSettings(ctx context.Context) {
	if !s.o.OrigMasterIsNewSlave {
		return
	}
	st, err := s.conns[s.plan.New].ReplicationSettings(ctx)
	if err != nil {
		s.log.Warn("cannot read the new master's replication settings; the old master replicates with the server defaults", "host", s.plan.New.Host(), "err", err)
		return
	}
	st.Delay = nil
	s.newSettings = &st
}

// printPlan logs the topology from and to, and the plan.
func (s *switcher) printPlan() {
	p := s.plan
	from := []string{p.Orig.Host() + " (current master)"}
	to := []string{p.New.Host() + " (new master)"}
	for _, n := range s.topo.Replicas() {
		from = append(from, " +--"+n.Host())
	}
	for _, n := range p.Others {
		to = append(to, " +--"+n.Host())
	}
	if s.o.OrigMasterIsNewSlave {
		to = append(to, " +--"+p.Orig.Host())
	}
	s.log.Info("From:\n" + strings.Join(from, "\n"))
	s.log.Info("To:\n" + strings.Join(to, "\n"))
	s.log.Info("switch plan\n" + p.String())
}

// endpoints returns the hook endpoints of the old and the new master.
func (s *switcher) endpoints() (orig, newm hooks.Endpoint) {
	return hooks.EndpointOf(s.plan.Orig.Server), hooks.EndpointOf(s.plan.New.Server)
}
