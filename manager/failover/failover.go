// Package failover recovers a replication cluster whose master died, as
// MHA's dead-master failover does (mha-compat §6), in explicit phases:
//
//  1. configuration check: every survivor is read once into a topology
//     snapshot; the dead master is double-checked over MySQL and never
//     contacted otherwise; the replicas' failover advisory locks are taken;
//     then, in parallel, everything a later step needs is checked (SSH and
//     the node tools on every survivor, the relay logs each target's events
//     will come from, the dead master's binlog directory when its host
//     answers SSH) and a Plan is made (plan.go): nothing has changed yet;
//  2. dead master shutdown: the replicas' IO threads stop, then the
//     master_ip_failover_script (stop or stopssh), the shutdown_script and
//     the Fencer make the old master unable to take writes;
//  3. master recovery: the plan is made again from the final positions;
//     the dead master's binlog tail after the end point is read once; the
//     new master converges to the end point and is opened (hook start,
//     read_only=0). When it fails before it is opened, the next candidate
//     of the plan is used;
//  4. replica recovery, in parallel: each replica converges to the same end
//     point (file/position topologies) and is pointed at the new master
//     (GTID topologies fetch by GTID); one that fails is reported, not fatal;
//  5. cleanup: RESET SLAVE ALL on the new master, locks released.
//
// One end point: the furthest any reachable host holds (the latest Read
// position, then the dead master's binlog to its end when readable). A
// target first finishes its own relay log with its own SQL thread (at the
// server's speed, parallel applier included), then takes the latest
// replica's relay-log difference from where its SQL thread stopped and the
// dead master's tail, both in ONE client session so that a transaction
// split between them is applied whole.
//
// Every step has its own deadline (hooks: none unless HookTimeout) and is
// logged with its duration. A failover refuses, saying why, rather than
// guess.
package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/failpoint"
	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/manager/topology"
	"github.com/gomha/gomha/node/binlog"
)

// Exit codes of a failover, MHA's.
const (
	ExitOK      = 0
	ExitPartial = 10
	ExitError   = 1
)

// Sentinel errors.
var (
	// ErrMasterAlive reports a master that answers MySQL during the double
	// check: no failover.
	ErrMasterAlive = errors.New("the master is reachable via MySQL")
	// ErrWrongMaster reports a dead master that is not the cluster's master.
	ErrWrongMaster = errors.New("the dead master is not the current master")
	// ErrTopology reports a survivor set that cannot be failed over safely.
	ErrTopology = errors.New("unsafe topology")
	// ErrHook reports a hook that refused (exit code other than 0 and 10).
	ErrHook = errors.New("hook failed")
	// ErrNotActive reports a failover stopped by Options.Gate: this
	// manager lost the right to act (another manager may act now).
	ErrNotActive = errors.New("this manager is no longer the active one")
)

// Options configure one failover.
type Options struct {
	// Config is the cluster's configuration.
	Config *config.Config
	// DeadMasterHost and DeadMasterPort name the dead master
	// (--dead_master_host, --dead_master_port); the host may be the
	// hostname or the ip of a configured server. Empty means the master
	// the replicas replicate from.
	DeadMasterHost string
	DeadMasterPort int
	// SSHReachable is what the monitor learned about SSH to the dead master
	// (MHA's --ssh_reachable through sshexec.FromMHA); the zero value,
	// sshexec.ReachUnknown, has it probed in Phase 1.
	SSHReachable sshexec.Reach
	// NewMasterHost and NewMasterPort force the new master
	// (--new_master_host), without fallback.
	NewMasterHost string
	NewMasterPort int
	// Workdir is the manager's workdir (saved binlogs are kept there).
	Workdir string
	// SkipSaveMasterBinlog, SkipChangeMaster and SkipDisableReadOnly are
	// MHA's flags of the same names.
	SkipSaveMasterBinlog bool
	SkipChangeMaster     bool
	SkipDisableReadOnly  bool
	// NodeBinary is the local mha-node executable installed on the hosts.
	NodeBinary string
	// Hooks runs the hook scripts (a hooks.Runner).
	Hooks HookRunner
	// Log receives the failover's log; nil discards it.
	Log *slog.Logger
	// StepTimeout bounds each step (default 60 s); ApplyTimeout bounds
	// each apply of missing events (default 30 minutes); HookTimeout bounds
	// each hook run (0, the default: no limit, as in MHA).
	StepTimeout  time.Duration
	ApplyTimeout time.Duration
	HookTimeout  time.Duration
	// DoubleCheckTimeout bounds the connect of Phase 1's MySQL double
	// check of the dead master; 0 means one second. The detection sets it
	// shorter for a master every replica found silent or hung: one that is
	// back on a LAN answers in milliseconds.
	DoubleCheckTimeout time.Duration
	// Fencer makes the old master unable to take writes in Phase 2; nil
	// skips fencing with a warning (a shutdown_script that powered the host
	// off fences it too).
	Fencer Fencer
	// Now returns the current time (tests); nil means time.Now.
	Now func() time.Time
	// Journal receives an intent record before each irreversible step and
	// a done record after it; nil records nothing.
	Journal Journal
	// Gate, when set, is asked before each irreversible step whether this
	// manager may still act (the standby managers' lock: a fencing check
	// that this manager still holds it); an error stops the failover
	// before the step, which is not run.
	Gate func(ctx context.Context, step string) error

	// world replaces the real servers and hosts in tests.
	world world
}

// Journal is the failover's intent journal (journal.Journal satisfies
// it): Intent is on disk before the step runs, Done after it worked.
type Journal interface {
	Intent(step, host string, detail map[string]string) error
	Done(step, host string, detail map[string]string) error
}

// irreversible are the steps that change a server or the address for good:
// each gets a journal record before and after it, and failpoints named
// failover/<step>/before and failover/<step>/after (package failpoint).
// The journal records carry these details (a crash-recovery helper reads
// them):
//
//	fence old master      ssh_reachable; after: fenced, method
//	finish relay log      host, until (its Read position); after: reached
//	apply missing events  host, files (the pieces, comma-separated, applied
//	                      as one), file (the path applied on the host),
//	                      from (its Exec), to (the end point), tail (true
//	                      when the dead master's tail is included)
//	set read_only=0       block, host, binlog_file, binlog_pos, gtid (the
//	                      new master's coordinates)
//	change master         replica, source_host, source_port, mode, and
//	                      binlog_file+binlog_pos or gtid
var irreversible = map[string]bool{
	"stop IO thread":                  true,
	"master_ip_failover_script stop":  true,
	"shutdown_script stop":            true,
	"fence old master":                true,
	"finish relay log":                true,
	"stop SQL thread":                 true,
	"apply missing events":            true,
	"master_ip_failover_script start": true,
	"set read_only=0":                 true,
	"change master":                   true,
	"reset slave all":                 true,
}

// Phase is the timing of one phase.
type Phase struct {
	Name     string
	Duration time.Duration
}

// Result is a failover's outcome, whether it succeeded or not.
type Result struct {
	// Code is the exit code: ExitOK, ExitPartial or ExitError.
	Code int
	// DeadMaster is the failed master's block; NewMaster the promoted
	// server's ("" until chosen).
	DeadMaster, NewMaster config.Server
	// Why says why the new master won (the §6.4 rule and its position).
	Why string
	// Phases are the phase timings, in order.
	Phases []Phase
	// ShutdownStarted is true once Phase 2 began: a failure from then on
	// must leave <app>.failover.error.
	ShutdownStarted bool
	// Recovered lists the replicas now replicating from the new master;
	// Failed the ones that could not be recovered, with why.
	Recovered []string
	Failed    []string
	// NewMasterPos and NewMasterGTID are the new master's coordinates once
	// it was recovered.
	NewMasterPos  binlog.Pos
	NewMasterGTID string
	// Lost says what the survivors could not recover: empty when the dead
	// master's binlog was read to its end (nothing lost); otherwise the
	// coordinates on the dead master from which events may be missing.
	Lost string
	// EndPoint is where every survivor converged: the latest Read
	// position, and with TailEvents > 0 the dead master's events after it.
	EndPoint binlog.Pos
	// TailEvents and TailBytes are what only the dead master had (its
	// binlog after EndPoint), when it was read.
	TailEvents int
	TailBytes  int64
	// Fence is how the old master was fenced (Fenced false: it was not).
	Fence FenceResult
	// Plan is the plan the failover carried out (Phase 3's).
	Plan string
	// MasterActivatedAt is when the new master was made writable.
	MasterActivatedAt time.Time
	// Body is the report, a line per event, as MHA mails it.
	Body []string
	// Err is why the failover failed (Code ExitError).
	Err error
}

// Subject renders the report's subject line as MHA does.
func (r *Result) Subject(app string) string {
	s := fmt.Sprintf("%s: MySQL Master failover %s", app, hostInfo(r.DeadMaster))
	if r.NewMaster.Block != "" && !r.MasterActivatedAt.IsZero() {
		s += " to " + hostInfo(r.NewMaster)
	}
	if r.Code == ExitOK {
		s += " succeeded"
	}
	return s
}

// hostInfo is the failover's host label, "name(ip:port)".
func hostInfo(s config.Server) string { return s.Label() }

// run is the state of one failover.
type run struct {
	opts  Options
	cfg   *config.Config
	log   *slog.Logger
	res   *Result
	ts    string
	nodes Nodes

	// conns are the survivors' sessions, by block; they hold the failover
	// advisory locks.
	conns map[string]Server
	topo  *topology.Topology
	dead  *topology.Node
	// mode is how replicas are repointed.
	mode topology.GTIDMode
	// rep is the start-up report of topo.
	rep topology.Report
	// reach is SSH to the dead master.
	reach sshexec.Reach
	// problems are the pre-check failures per block; tailProblem why the
	// dead master's binlog cannot be read.
	problems    map[string][]string
	tailProblem string
	// plan is the current plan.
	plan Plan
	// tail is the dead master's binlog after the end point, in the
	// manager's workdir ("" when not read or empty).
	tail string
	// own are the background own-SQL-thread steps of Phase 3, by block.
	own map[string]chan error
	// purged are the latest replicas whose relay_log_purge was turned off.
	purged []*topology.Node
	// hookStartFor is the block the hook's start ran for ("" when not).
	hookStartFor string
	// mu guards res and conns during the parallel phases.
	mu sync.Mutex
}

// Run performs a dead-master failover. The Result is always returned, also
// on failure (Code ExitError and Err set).
func Run(ctx context.Context, opts Options) *Result {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.StepTimeout <= 0 {
		opts.StepTimeout = 60 * time.Second
	}
	if opts.ApplyTimeout <= 0 {
		opts.ApplyTimeout = 30 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.world.defaults(opts.NodeBinary)
	r := &run{
		nodes: opts.world.nodes,
		opts:  opts,
		cfg:   opts.Config,
		log:   opts.Log,
		res:   &Result{Code: ExitError},
		ts:    opts.Now().Format("20060102150405"),
		conns: map[string]Server{},
		reach: opts.SSHReachable,
	}
	defer r.close()
	err := r.phases(ctx)
	if err != nil {
		r.res.Code = ExitError
		r.res.Err = err
		r.note("Got Error so couldn't continue failover from here.")
		r.log.Error("failover failed", "err", err)
	} else if len(r.res.Failed) > 0 {
		r.res.Code = ExitPartial
		r.note(fmt.Sprintf("Master failover to %s done, but recovery on slave partially failed.", hostInfo(r.res.NewMaster)))
	} else {
		r.res.Code = ExitOK
		r.note(fmt.Sprintf("Master failover to %s completed successfully.", hostInfo(r.res.NewMaster)))
	}
	return r.res
}

func (r *run) close() {
	// Locks end with the sessions; release explicitly so a reused pool
	// would not keep them.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, c := range r.conns {
		_, _ = c.ReleaseLock(ctx, mysqlx.FailoverLock)
		c.Close()
	}
	r.nodes.Close()
}

// note adds a line to the report body and logs it.
func (r *run) note(line string) {
	r.mu.Lock()
	r.res.Body = append(r.res.Body, line)
	r.mu.Unlock()
	r.log.Info(line)
}

// fail records a survivor that could not be recovered and drops it: the
// failover goes on without it.
func (r *run) fail(n *topology.Node, err error) {
	r.mu.Lock()
	r.res.Failed = append(r.res.Failed, fmt.Sprintf("%s: %v", n.Host(), err))
	if c := r.conns[n.Server.Block]; c != nil {
		c.Close()
		delete(r.conns, n.Server.Block)
	}
	r.mu.Unlock()
	r.note(fmt.Sprintf("%s: ERROR: %v (skipped)", n.Host(), err))
}

// conn returns the session to a survivor (nil when it was dropped).
func (r *run) conn(block string) Server {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns[block]
}

func (r *run) phases(ctx context.Context) error {
	type phase struct {
		name string
		fn   func(context.Context) error
	}
	for _, p := range []phase{
		{"Phase 1: Configuration Check Phase", r.configurationCheck},
		{"Phase 2: Dead Master Shutdown Phase", r.shutdown},
		{"Phase 3: Master Recovery Phase", r.recoverMaster},
		{"Phase 4: Slaves Recovery Phase", r.recoverReplicas},
		{"Phase 5: New master cleanup phase", r.cleanup},
	} {
		start := time.Now()
		r.log.Info("* " + p.name + "..")
		err := p.fn(ctx)
		d := time.Since(start)
		r.res.Phases = append(r.res.Phases, Phase{Name: p.name, Duration: d})
		r.log.Info("phase done", "step", p.name, "duration", d.Round(time.Millisecond).String(), "duration_ms", d.Milliseconds())
		if err != nil {
			return err
		}
	}
	return nil
}

// step runs fn with the step deadline (none when timeout is 0) and logs
// its duration. An irreversible step is journaled with detail before and
// after (fn may add to detail what it learned), and has failpoints.
func (r *run) step(ctx context.Context, name, host string, timeout time.Duration, detail map[string]string, fn func(context.Context) error) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if irreversible[name] && r.opts.Gate != nil {
		if err := r.opts.Gate(ctx, name); err != nil {
			r.log.Error("not acting: this manager may no longer act for the cluster", "step", name, "host", host, "err", err)
			return fmt.Errorf("%s on %s: %w: %w", name, host, ErrNotActive, err)
		}
	}
	journaled := irreversible[name] && r.opts.Journal != nil
	if journaled {
		// A journal that cannot be written is logged, not fatal: refusing
		// in the middle of a failover would leave the cluster worse off
		// than going on without the record.
		if err := r.opts.Journal.Intent(name, host, detail); err != nil {
			r.log.Error("cannot write the failover journal", "step", name, "host", host, "err", err)
		}
	}
	if irreversible[name] {
		failpoint.Hit(failpoint.Name("failover", name, "before"))
	}
	start := time.Now()
	err := fn(ctx)
	took := time.Since(start)
	d, dms := took.Round(time.Millisecond).String(), took.Milliseconds()
	if err != nil {
		r.log.Warn("step failed", "step", name, "host", host, "duration", d, "duration_ms", dms, "err", err)
		return fmt.Errorf("%s on %s: %w", name, host, err)
	}
	if journaled {
		if err := r.opts.Journal.Done(name, host, detail); err != nil {
			r.log.Error("cannot write the failover journal", "step", name, "host", host, "err", err)
		}
	}
	if irreversible[name] {
		failpoint.Hit(failpoint.Name("failover", name, "after"))
	}
	r.log.Info("step done", "step", name, "host", host, "duration", d, "duration_ms", dms)
	return nil
}

// each runs fn for every node at once and returns the errors by block.
func each(nodes []*topology.Node, fn func(n *topology.Node) error) map[string]error {
	var mu sync.Mutex
	errs := map[string]error{}
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(n); err != nil {
				mu.Lock()
				errs[n.Server.Block] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

// ---- Phase 1 ----

func (r *run) configurationCheck(ctx context.Context) error {
	dead, err := r.findDeadMaster()
	if err != nil {
		return err
	}
	r.res.DeadMaster = dead
	r.note(fmt.Sprintf("Master %s is down!", hostInfo(dead)))

	// Read every survivor once; the dead master is not contacted.
	obs := make([]topology.Observation, len(r.cfg.Servers))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, srv := range r.cfg.Servers {
		if srv.Block == dead.Block {
			obs[i] = topology.Observation{Server: srv, Err: errors.New("dead master (not contacted)")}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, c := r.observe(ctx, srv)
			obs[i] = o
			if c != nil {
				mu.Lock()
				r.conns[srv.Block] = c
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t, rep := topology.Build(obs, topology.Options{IgnoreFailOnStart: true})
	r.topo, r.mode = t, t.GTIDMode
	if t.Master == nil || t.Master.Server.Block != dead.Block {
		got := "none"
		if t.Master != nil {
			got = t.Master.Host()
		}
		return fmt.Errorf("%w: the replicas' master is %s, not %s\n%s", ErrWrongMaster, got, hostInfo(dead), rep.String())
	}
	r.dead, r.rep = t.Master, rep
	// The topology's own blockers first: nothing else is worth checking.
	if p := r.makePlan(); len(p.Blockers) > 0 {
		return fmt.Errorf("%w:\n  %s", ErrTopology, strings.Join(p.Blockers, "\n  "))
	}
	r.log.Info("GTID failover mode", "mode", r.mode.String())

	// Double check: the master must not answer MySQL (MHA skips this with
	// ping_type=INSERT, where a read-only or full master is "dead").
	if dead.PingType != "INSERT" {
		if err := r.doubleCheck(ctx, dead); err != nil {
			return err
		}
	}

	// Advisory locks: a purge_relay_logs or another failover must not run
	// on the replicas meanwhile.
	errs := each(r.replicas(), func(n *topology.Node) error {
		return r.step(ctx, "get failover lock", n.Host(), r.opts.StepTimeout, nil, func(ctx context.Context) error {
			ok, err := r.conns[n.Server.Block].GetLock(ctx, mysqlx.FailoverLock, time.Second)
			if err == nil && !ok {
				err = errors.New("advisory lock " + mysqlx.FailoverLock + " is held by another session: is a failover or purge_relay_logs running on this replica?")
			}
			return err
		})
	})
	if err := firstError(errs); err != nil {
		return err
	}

	// Everything a later step needs, checked before anything changes.
	r.precheck(ctx, r.makePlan())
	p := r.makePlan()
	r.log.Info("failover plan (positions move until the IO threads stop)\n" + p.String())
	if len(p.Blockers) > 0 {
		return fmt.Errorf("%w:\n  %s", ErrTopology, strings.Join(p.Blockers, "\n  "))
	}
	// ignore_fail survivors that failed a pre-check are left alone.
	for _, n := range r.replicas() {
		if why := r.problems[n.Server.Block]; len(why) > 0 {
			r.fail(n, fmt.Errorf("ignore_fail=1 and %s: left out of the failover", strings.Join(why, "; ")))
		}
	}
	return nil
}

// makePlan plans from the current snapshot.
func (r *run) makePlan() Plan {
	var survivors []string
	r.mu.Lock()
	for b := range r.conns {
		survivors = append(survivors, b)
	}
	r.mu.Unlock()
	return NewPlan(Snapshot{
		Topo:        r.topo,
		Report:      r.rep,
		Survivors:   survivors,
		DeadSSH:     r.reach,
		TailProblem: r.tailProblem,
		Problems:    r.problems,
	}, PlanOptions{
		NewMasterHost:        r.opts.NewMasterHost,
		NewMasterPort:        r.opts.NewMasterPort,
		SkipSaveMasterBinlog: r.opts.SkipSaveMasterBinlog,
	})
}

// precheck checks, in parallel, what the steps of plan p will need: SSH
// to the dead master (when unknown) and its binlog directory; SSH and the
// node tools on every survivor; the relay logs each file/position target's
// missing events will come from. What fails is recorded in r.problems and
// r.tailProblem for the next plan.
func (r *run) precheck(ctx context.Context, p Plan) {
	problems := map[string][]string{}
	var mu sync.Mutex
	add := func(block, why string) {
		mu.Lock()
		problems[block] = append(problems[block], why)
		mu.Unlock()
	}
	dead := r.res.DeadMaster
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if r.reach == sshexec.ReachUnknown {
			r.reach = sshexec.Unreachable
			if err := r.step(ctx, "ssh check", check.SSHName(dead), dead.SSHConnectionTimeout+time.Second, nil, func(ctx context.Context) error {
				return r.opts.world.sshCheck(ctx, dead)
			}); err == nil {
				r.reach = sshexec.Reachable
			}
		}
		if r.reach != sshexec.Reachable || r.opts.SkipSaveMasterBinlog || p.End.File == "" {
			return
		}
		if err := r.step(ctx, "check dead master binlogs", check.SSHName(dead), r.opts.StepTimeout, nil, func(ctx context.Context) error {
			h, err := r.nodes.Get(ctx, dead)
			if err != nil {
				return err
			}
			return h.TestBinlogs(ctx, p.End.File, r.ts)
		}); err != nil {
			r.tailProblem = err.Error()
		}
	}()
	for _, n := range r.replicas() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.step(ctx, "check node tools", n.Host(), r.opts.StepTimeout, nil, func(ctx context.Context) error {
				_, err := r.nodes.Get(ctx, n.Server)
				return err
			}); err != nil {
				add(n.Server.Block, err.Error())
				return
			}
			tg := p.Target(n.Server.Block)
			if r.mode.UsesGTID() || tg == nil {
				return
			}
			for _, src := range tg.Sources {
				if src.Kind != SourceRelayDiff || src.Conditional {
					continue
				}
				rs := n.Replica()
				base := src.Host
				err := r.step(ctx, "check relay logs", base.Host(), r.opts.StepTimeout, nil, func(ctx context.Context) error {
					h, err := r.nodes.Get(ctx, base.Server)
					if err != nil {
						return err
					}
					err = h.Find(ctx, relayDir(base.State), base.Replica().Read, rs.Exec)
					if err != nil && rs.Read != rs.Exec {
						// Its own SQL thread will take it to about its Read
						// position first.
						if h.Find(ctx, relayDir(base.State), base.Replica().Read, rs.Read) == nil {
							r.log.Warn("the latest replica's relay logs start after this target's Exec position, but hold its Read position", "host", n.Host(), "exec", rs.Exec.String(), "read", rs.Read.String())
							return nil
						}
					}
					return err
				})
				if err != nil {
					add(n.Server.Block, fmt.Sprintf("the relay logs of %s do not hold its events from %s: %v", base.Host(), rs.Exec, err))
				}
			}
		}()
	}
	wg.Wait()
	r.problems = problems
}

func firstError(errs map[string]error) error {
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var all []error
	for _, k := range keys {
		all = append(all, errs[k])
	}
	return errors.Join(all...)
}

// findDeadMaster resolves --dead_master_host/port among the servers.
func (r *run) findDeadMaster() (config.Server, error) {
	if r.opts.DeadMasterHost == "" {
		return config.Server{}, errors.New("no dead master named (--dead_master_host)")
	}
	return FindServer(r.cfg, r.opts.DeadMasterHost, r.opts.DeadMasterPort)
}

// FindServer returns the configured server whose hostname or ip is host
// and whose port is port (any port when 0).
func FindServer(cfg *config.Config, host string, port int) (config.Server, error) {
	for _, s := range cfg.Servers {
		if (s.Hostname == host || s.IP == host) && (port == 0 || s.Port == port) {
			return s, nil
		}
	}
	return config.Server{}, fmt.Errorf("%s is not a server of %s", config.HostPort(host, port), cfg.File)
}

func (r *run) observe(ctx context.Context, srv config.Server) (topology.Observation, Server) {
	ctx, cancel := context.WithTimeout(ctx, 3*check.DefaultConnectTimeout)
	defer cancel()
	c, err := r.opts.world.connect(ctx, r.cfg, srv, check.DefaultConnectTimeout)
	var st *mysqlx.State
	if err == nil {
		st, err = c.State(ctx)
	}
	if err != nil {
		if c != nil {
			c.Close()
		}
		c = nil
	}
	return check.Observed(ctx, srv, st, err, check.DefaultConnectTimeout, net.DefaultResolver), c
}

// replicas are the alive replicas of the dead master, in configuration
// order.
func (r *run) replicas() []*topology.Node {
	var out []*topology.Node
	for _, n := range r.topo.Nodes {
		if n.Role == topology.RoleReplica && r.conn(n.Server.Block) != nil {
			out = append(out, n)
		}
	}
	return out
}

func (r *run) doubleCheck(ctx context.Context, dead config.Server) error {
	timeout := r.opts.DoubleCheckTimeout
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, 2*timeout)
	defer cancel()
	c, err := r.opts.world.connect(ctx, r.cfg, dead, timeout)
	if err == nil {
		c.Close()
		return fmt.Errorf("%w: %s answered: stop failover", ErrMasterAlive, hostInfo(dead))
	}
	if mysqlx.IsAliveError(err) {
		return fmt.Errorf("%w: %s answered with error %d (the server is up): stop failover", ErrMasterAlive, hostInfo(dead), mysqlx.ErrorNumber(err))
	}
	r.log.Info("Checking master reachability via MySQL(double check)... ok.", "host", hostInfo(dead))
	return nil
}

// ---- Phase 2 ----

func (r *run) shutdown(ctx context.Context) error {
	r.res.ShutdownStarted = true
	// Stop the IO threads first, so positions stop moving (a master that
	// is only cut off from the manager must not feed them meanwhile).
	// A replica that vanished meanwhile is reported and skipped.
	each(r.replicas(), func(n *topology.Node) error {
		err := r.step(ctx, "stop IO thread", n.Host(), r.opts.StepTimeout, nil, func(ctx context.Context) error {
			c := r.conn(n.Server.Block)
			if c == nil {
				return errors.New("no session")
			}
			return c.StopIO(ctx)
		})
		if err != nil {
			r.fail(n, err)
		}
		return err
	})
	if len(r.replicas()) == 0 {
		return errors.New("no replica left: every IO thread stop failed")
	}

	dead := r.res.DeadMaster
	reachable := r.reach == sshexec.Reachable

	ep := hooks.EndpointOf(dead)
	if cmd := dead.MasterIPFailoverScript; cmd != "" {
		if err := r.hook(ctx, "master_ip_failover_script", "stop", cmd, hooks.FailoverStopArgs(ep, reachable)); err != nil {
			return err
		}
		r.note("Invalidated master IP address on " + hostInfo(dead) + ".")
	} else {
		r.log.Warn("master_ip_failover_script is not set. Skipping invalidating dead master IP address.")
	}
	if cmd := dead.ShutdownScript; cmd != "" {
		res, err := r.runHook(ctx, "shutdown_script", "stop", cmd, hooks.ShutdownStopArgs(ep, reachable, dead.MasterPIDFile))
		if err != nil {
			return err
		}
		switch res.Code {
		case 0:
			r.note("Power off done.")
			r.reach = sshexec.Unreachable
			r.res.Fence = FenceResult{Fenced: true, Method: "powered off by shutdown_script", Proof: "shutdown_script --command=stop exited 0"}
		case 10:
			r.note("SSH reachable on " + hostInfo(dead) + ". Shutting down mysqld done.")
			r.reach = sshexec.Reachable
		default:
			return fmt.Errorf("%w: shutdown_script exited %d", ErrHook, res.Code)
		}
	} else {
		r.log.Warn("shutdown_script is not set. Skipping explicit shutting down of the dead master.")
	}
	return r.fence(ctx)
}

// fence makes the old master unable to take writes through the Fencer,
// unless the shutdown_script powered it off. An error aborts the failover
// before anything is promoted; a fencer that could not fence lets it go on
// with a loud warning.
func (r *run) fence(ctx context.Context) error {
	dead := r.res.DeadMaster
	if r.res.Fence.Fenced {
		r.note(fmt.Sprintf("Old master %s fenced: %s.", hostInfo(dead), r.res.Fence.Method))
		return nil
	}
	if r.opts.Fencer == nil {
		r.log.Warn("No fencer configured: the old master is not fenced; if it comes back it may take writes.", "host", hostInfo(dead))
		r.res.Fence = FenceResult{Proof: "no fencer configured"}
		return nil
	}
	detail := map[string]string{"ssh_reachable": r.reach.String()}
	var fr FenceResult
	err := r.step(ctx, "fence old master", hostInfo(dead), 0, detail, func(ctx context.Context) error {
		var err error
		fr, err = r.opts.Fencer.Fence(ctx, dead, r.reach)
		detail["fenced"] = fmt.Sprint(fr.Fenced)
		detail["method"] = fr.Method
		return err
	})
	if err != nil {
		return fmt.Errorf("old master %s could not be fenced, nothing was promoted: %w", hostInfo(dead), err)
	}
	r.res.Fence = fr
	if !fr.Fenced {
		why := fr.Proof
		if why == "" {
			why = fr.Method
		}
		r.log.Error("THE OLD MASTER IS NOT FENCED: if it comes back it may take writes", "host", hostInfo(dead), "why", why)
		r.note(fmt.Sprintf("old master NOT fenced: %s", why))
		return nil
	}
	r.note(fmt.Sprintf("Old master %s fenced: %s (%s).", hostInfo(dead), fr.Method, fr.Proof))
	return nil
}

// hook runs a hook whose exit 0 means done and 10 "go on with a warning".
func (r *run) hook(ctx context.Context, name, command, cmd string, args []string) error {
	res, err := r.runHook(ctx, name, command, cmd, args)
	if err != nil {
		return err
	}
	ok, warned := res.Proceed()
	if !ok {
		return fmt.Errorf("%w: %s exited %d%s", ErrHook, name, res.Code, signalText(res.Signal))
	}
	if warned {
		r.log.Warn(name+" exited 10. Proceeding.", "step", name)
	}
	return nil
}

func signalText(sig string) string {
	if sig == "" {
		return ""
	}
	return " (signal " + sig + ")"
}

// runHook runs hook name with --command=command as the step "name command".
func (r *run) runHook(ctx context.Context, name, command, cmd string, args []string) (hooks.Result, error) {
	var res hooks.Result
	err := r.step(ctx, name+" "+command, "manager", r.opts.HookTimeout, nil, func(ctx context.Context) error {
		var err error
		res, err = r.opts.Hooks.Run(ctx, name, cmd, args)
		return err
	})
	return res, err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Report renders the failover report as MHA logs it.
func (r *Result) Report(app string) string {
	return "----- Failover Report -----\n\n" + r.Subject(app) + "\n\n" + r.ReportBody()
}

// ReportBody is the report without its header and subject: what MHA hands
// report_script in --body (its log gets the header and subject as well).
func (r *Result) ReportBody() string {
	var b strings.Builder
	for _, l := range r.Body {
		b.WriteString(l + "\n")
	}
	if r.Why != "" {
		b.WriteString("\nNew master: " + r.Why + "\n")
	}
	if r.NewMasterPos.File != "" {
		b.WriteString("New master coordinates: " + r.NewMasterPos.String())
		if r.NewMasterGTID != "" {
			b.WriteString(" (GTID " + r.NewMasterGTID + ")")
		}
		b.WriteString("\n")
	}
	if r.EndPoint.File != "" {
		b.WriteString("End point: every survivor converged to " + r.EndPoint.String() + " (the latest Read position)")
		if r.TailEvents > 0 {
			fmt.Fprintf(&b, " and then to the end of the dead master's binlog: %d events (%d bytes) only it had", r.TailEvents, r.TailBytes)
		}
		b.WriteString("\n")
	}
	switch {
	case r.Fence.Fenced:
		b.WriteString("Old master fenced: " + r.Fence.Method)
		if r.Fence.Proof != "" {
			b.WriteString(" (" + r.Fence.Proof + ")")
		}
		b.WriteString("\n")
	case r.ShutdownStarted && r.Fence.Proof != "":
		b.WriteString("Old master NOT fenced: " + r.Fence.Proof + "\n")
	}
	if r.Lost != "" {
		b.WriteString("Possibly lost: " + r.Lost + "\n")
	} else if r.NewMaster.Block != "" && r.Code != ExitError {
		b.WriteString("Nothing lost: every event the survivors or the dead master's binlog held is on the new master.\n")
	}
	if len(r.Failed) > 0 {
		b.WriteString("Failed: " + strings.Join(r.Failed, "; ") + "\n")
	}
	b.WriteString("Timings (ms):")
	for _, p := range r.Phases {
		b.WriteString(" " + strings.TrimPrefix(strings.SplitN(p.Name, ":", 2)[0], "Phase ") + "=" + strconv.FormatInt(p.Duration.Milliseconds(), 10))
	}
	b.WriteString("\n")
	if r.Err != nil {
		b.WriteString("Error: " + r.Err.Error() + "\n")
	}
	return b.String()
}
