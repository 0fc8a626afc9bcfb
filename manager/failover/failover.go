// Package failover recovers a replication cluster whose master died, as
// MHA's dead-master failover does (mha-compat §6), in explicit phases:
//
//  1. configuration check: every survivor is read once into a topology
//     snapshot; the dead master is double-checked over MySQL and never
//     contacted otherwise; the replicas' failover advisory locks are taken;
//  2. dead master shutdown: the replicas' IO threads stop, then the
//     master_ip_failover_script (stop or stopssh) and the shutdown_script
//     fence the old master;
//  3. master recovery: the latest replicas and the new master are chosen;
//     the new master receives every event it lacks, from the dead master's
//     own binlog when its host answers SSH, else from the latest replica's
//     relay logs; its coordinates are recorded; the hook's start call moves
//     the address; read_only=0;
//  4. replica recovery, in parallel: each replica receives what it lacks
//     the same way (file/position topologies) and is pointed at the new
//     master (GTID topologies stay on GTID);
//  5. cleanup: RESET SLAVE ALL on the new master, locks released.
//
// Every step has its own deadline and is logged with its duration. A
// failover refuses, saying why, rather than guess.
//
// One deliberate difference from MHA: each target receives the events it
// lacks as ONE file starting at its own executed position (its SQL thread is
// stopped first), taken from the dead master's binlog when readable and
// otherwise from the latest replica's relay logs. MHA stitches its own relay
// tail, the latest replica's diff and the dead master's tail together; one
// source per target means no transaction is ever split between files, and
// no wait for a lagging SQL thread is needed before the apply starts.
package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/failpoint"
	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/repoint"
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

// SSH reachability of the dead master, MHA's --ssh_reachable values.
const (
	SSHUnreachable = 0
	SSHReachable   = 1
	SSHUnknown     = 2
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
	// (SSHUnreachable, SSHReachable, SSHUnknown: probed in Phase 2).
	SSHReachable int
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
	// Hooks runs the hook scripts.
	Hooks hooks.Runner
	// Log receives the failover's log; nil discards it.
	Log *slog.Logger
	// StepTimeout bounds each step (default 60 s); ApplyTimeout bounds
	// each apply of missing events (default 30 minutes).
	StepTimeout  time.Duration
	ApplyTimeout time.Duration
	// Now returns the current time (tests); nil means time.Now.
	Now func() time.Time
	// Journal receives an intent record before each irreversible step and
	// a done record after it; nil records nothing.
	Journal Journal
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
var irreversible = map[string]bool{
	"stop IO thread":                  true,
	"master_ip_failover_script stop":  true,
	"shutdown_script stop":            true,
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

func hostInfo(s config.Server) string {
	return fmt.Sprintf("%s(%s:%d)", s.Hostname, s.IP, s.Port)
}

// run is the state of one failover.
type run struct {
	opts  Options
	cfg   *config.Config
	log   *slog.Logger
	res   *Result
	ts    string
	hosts hosts

	// conns are the survivors' sessions, by block; they hold the failover
	// advisory locks.
	conns map[string]*mysqlx.Conn
	topo  *topology.Topology
	dead  *topology.Node
	// mode is how replicas are repointed.
	mode topology.GTIDMode
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
	r := &run{
		opts:  opts,
		cfg:   opts.Config,
		log:   opts.Log,
		res:   &Result{Code: ExitError},
		ts:    opts.Now().Format("20060102150405"),
		hosts: hosts{binary: opts.NodeBinary},
		conns: map[string]*mysqlx.Conn{},
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
	r.hosts.close()
}

// note adds a line to the report body and logs it.
func (r *run) note(line string) {
	r.res.Body = append(r.res.Body, line)
	r.log.Info(line)
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
		r.log.Info("phase done", "step", p.name, "duration", d.Round(time.Millisecond).String())
		if err != nil {
			return err
		}
	}
	return nil
}

// step runs fn with the step deadline and logs its duration.
func (r *run) step(ctx context.Context, name, host string, timeout time.Duration, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	journaled := irreversible[name] && r.opts.Journal != nil
	if journaled {
		// A journal that cannot be written is logged, not fatal: refusing
		// in the middle of a failover would leave the cluster worse off
		// than going on without the record.
		if err := r.opts.Journal.Intent(name, host, nil); err != nil {
			r.log.Error("cannot write the failover journal", "step", name, "host", host, "err", err)
		}
	}
	if irreversible[name] {
		failpoint.Hit(failpoint.Name("failover", name, "before"))
	}
	start := time.Now()
	err := fn(ctx)
	d := time.Since(start).Round(time.Millisecond).String()
	if err != nil {
		r.log.Warn("step failed", "step", name, "host", host, "duration", d, "err", err)
		return fmt.Errorf("%s on %s: %w", name, host, err)
	}
	if journaled {
		if err := r.opts.Journal.Done(name, host, nil); err != nil {
			r.log.Error("cannot write the failover journal", "step", name, "host", host, "err", err)
		}
	}
	if irreversible[name] {
		failpoint.Hit(failpoint.Name("failover", name, "after"))
	}
	r.log.Info("step done", "step", name, "host", host, "duration", d)
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
	r.dead = t.Master
	var fatal []string
	for _, f := range rep.Errors() {
		switch f.Code {
		case topology.CodeMasterDead, topology.CodeDeadServerIgnored, topology.CodeNoAliveReplica:
			continue
		}
		fatal = append(fatal, f.String())
	}
	for _, n := range t.Dead() {
		if n.Server.Block != dead.Block && !n.Server.IgnoreFail {
			fatal = append(fatal, fmt.Sprintf("%s is dead too and has no ignore_fail=1", n.Host()))
		}
	}
	for _, n := range t.Failed() {
		fatal = append(fatal, fmt.Sprintf("%s: replica SQL thread stopped with an error", n.Host()))
	}
	if len(r.replicas()) == 0 {
		fatal = append(fatal, "no alive replica to promote")
	}
	if len(fatal) > 0 {
		return fmt.Errorf("%w:\n  %s", ErrTopology, strings.Join(fatal, "\n  "))
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
		return r.step(ctx, "get failover lock", n.Host(), r.opts.StepTimeout, func(ctx context.Context) error {
			ok, err := r.conns[n.Server.Block].GetLock(ctx, mysqlx.FailoverLock, time.Second)
			if err == nil && !ok {
				err = errors.New("advisory lock " + mysqlx.FailoverLock + " is held by another session: is a failover or purge_relay_logs running on this replica?")
			}
			return err
		})
	})
	return firstError(errs)
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
	return config.Server{}, fmt.Errorf("%s is not a server of %s", mysqlx.JoinAddr(host, port), cfg.File)
}

func (r *run) observe(ctx context.Context, srv config.Server) (topology.Observation, *mysqlx.Conn) {
	o := topology.Observation{Server: srv}
	ctx, cancel := context.WithTimeout(ctx, 3*check.DefaultConnectTimeout)
	defer cancel()
	c, err := mysqlx.Open(ctx, check.Target(r.cfg, srv, check.DefaultConnectTimeout))
	if err == nil {
		o.State, err = c.State(ctx)
	}
	if err != nil {
		if c != nil {
			c.Close()
		}
		o.Err, o.Errno = err, int(mysqlx.ErrorNumber(err))
		return o, nil
	}
	if rs := o.State.Replica; rs != nil && rs.SourceHost != "" {
		if ips, err := net.DefaultResolver.LookupHost(ctx, rs.SourceHost); err == nil {
			o.SourceIPs = ips
		}
	}
	return o, c
}

// replicas are the alive replicas of the dead master, in configuration
// order.
func (r *run) replicas() []*topology.Node {
	var out []*topology.Node
	for _, n := range r.topo.Nodes {
		if n.Role == topology.RoleReplica && r.conns[n.Server.Block] != nil {
			out = append(out, n)
		}
	}
	return out
}

func (r *run) doubleCheck(ctx context.Context, dead config.Server) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	t := check.Target(r.cfg, dead, time.Second)
	c, err := mysqlx.Open(ctx, t)
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
	errs := each(r.replicas(), func(n *topology.Node) error {
		return r.step(ctx, "stop IO thread", n.Host(), r.opts.StepTimeout, func(ctx context.Context) error {
			c := r.conns[n.Server.Block]
			if err := c.StopReplicaIOThread(ctx); err != nil {
				return err
			}
			for {
				rs, err := c.ReplicaStatus(ctx)
				if err != nil {
					return err
				}
				if rs == nil || rs.IORunning == "No" {
					return nil
				}
				if err := sleep(ctx, 50*time.Millisecond); err != nil {
					return err
				}
			}
		})
	})
	if err := firstError(errs); err != nil {
		return err
	}

	dead := r.res.DeadMaster
	if r.opts.SSHReachable == SSHUnknown {
		r.opts.SSHReachable = SSHUnreachable
		if err := r.step(ctx, "ssh check", check.SSHName(dead), dead.SSHConnectionTimeout+time.Second, func(ctx context.Context) error {
			t, err := check.SSHTarget(dead)
			if err != nil {
				return err
			}
			res, err := sshexec.RunOnce(ctx, t, []string{"true"})
			if err == nil && res.ExitCode != 0 {
				err = fmt.Errorf("exit %d", res.ExitCode)
			}
			return err
		}); err == nil {
			r.opts.SSHReachable = SSHReachable
		}
	}
	reachable := r.opts.SSHReachable == SSHReachable

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
			r.opts.SSHReachable = SSHUnreachable
		case 10:
			r.note("SSH reachable on " + hostInfo(dead) + ". Shutting down mysqld done.")
			r.opts.SSHReachable = SSHReachable
		default:
			return fmt.Errorf("%w: shutdown_script exited %d", ErrHook, res.Code)
		}
	} else {
		r.log.Warn("shutdown_script is not set. Skipping explicit shutting down of the dead master.")
	}
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
	err := r.step(ctx, name+" "+command, "manager", r.opts.StepTimeout, func(ctx context.Context) error {
		var err error
		res, err = r.opts.Hooks.Run(ctx, name, cmd, args)
		return err
	})
	return res, err
}

// ---- Phase 3 ----

// target is one survivor to bring up to date.
type target struct {
	node *topology.Node
	conn *mysqlx.Conn
	// exec is where its SQL thread stopped; read what its IO thread
	// received.
	exec, read binlog.Pos
}

func (r *run) recoverMaster(ctx context.Context) error {
	// Fresh positions, now that no IO thread runs.
	if err := r.refresh(ctx); err != nil {
		return err
	}
	reps := r.replicas()
	latest, oldest, err := topology.LatestReplicas(reps)
	if err != nil {
		return err
	}
	lr := latest[0].Replica()
	r.log.Info(fmt.Sprintf("The latest binary log file/position on all slaves is %s", lr.Read), "host", latest[0].Host())
	r.log.Info(fmt.Sprintf("The oldest binary log file/position on all slaves is %s", oldest[0].Replica().Read), "host", oldest[0].Host())

	sel, err := topology.SelectNewMaster(r.topo, topology.SelectOptions{
		NewMasterHost: r.opts.NewMasterHost,
		NewMasterPort: r.opts.NewMasterPort,
		Base:          latest[0],
	})
	if err != nil {
		return err
	}
	nm := sel.NewMaster
	r.res.NewMaster = nm.Server
	r.res.Why = fmt.Sprintf("%s: rule %q; it had received up to %s (latest %s)", nm.Host(), sel.Rule, nm.Replica().Read, lr.Read)
	for _, x := range sel.Excluded {
		r.log.Info("not a candidate", "host", x.Node.Host(), "why", strings.Join(x.Reasons, "; "))
	}
	r.note(fmt.Sprintf("Selected %s as a new master (%s).", nm.Host(), sel.Rule))

	if r.opts.SSHReachable == SSHReachable && !r.opts.SkipSaveMasterBinlog {
		r.log.Info("The dead master's host answers SSH: events it did not send are read from its binlog.")
	} else {
		r.res.Lost = fmt.Sprintf("Dead master %s could not be read (SSH unreachable or --skip_save_master_binlog): any transaction it wrote after %s (the latest Read position, on %s) is lost.", hostInfo(r.res.DeadMaster), lr.Read, latest[0].Host())
		r.log.Warn(r.res.Lost)
	}

	t := &target{node: nm, conn: r.conns[nm.Server.Block]}
	if err := r.catchUp(ctx, t, latest); err != nil {
		return fmt.Errorf("recover new master %s: %w", nm.Host(), err)
	}
	r.note(fmt.Sprintf("%s: OK: Applying all logs succeeded.", nm.Host()))

	// The new master's coordinates: where the other replicas start.
	if err := r.step(ctx, "read new master coordinates", nm.Host(), r.opts.StepTimeout, func(ctx context.Context) error {
		pos, _, err := t.conn.BinlogStatus(ctx)
		if err != nil {
			return err
		}
		r.res.NewMasterPos = pos
		st, err := t.conn.State(ctx)
		if err != nil {
			return err
		}
		r.res.NewMasterGTID = st.GTID.BinlogPos
		if r.res.NewMasterGTID == "" {
			r.res.NewMasterGTID = st.GTID.Executed
		}
		return nil
	}); err != nil {
		return err
	}
	r.log.Info("new master coordinates", "host", nm.Host(), "binlog_file", r.res.NewMasterPos.File, "binlog_pos", r.res.NewMasterPos.Offset, "gtid", r.res.NewMasterGTID)

	if cmd := nm.Server.MasterIPFailoverScript; cmd != "" {
		orig := hooks.EndpointOf(r.res.DeadMaster)
		orig.SSHUnreachable = r.opts.SSHReachable != SSHReachable
		if err := r.hook(ctx, "master_ip_failover_script", "start", cmd, hooks.FailoverStartArgs(orig, hooks.EndpointOf(nm.Server))); err != nil {
			return err
		}
		r.note(fmt.Sprintf("%s: OK: Activated master IP address.", nm.Host()))
	} else {
		r.log.Warn("master_ip_failover_script is not set. Skipping taking over new master IP address.")
	}
	if !r.opts.SkipDisableReadOnly {
		if err := r.step(ctx, "set read_only=0", nm.Host(), r.opts.StepTimeout, func(ctx context.Context) error {
			return t.conn.SetReadOnly(ctx, false)
		}); err != nil {
			return err
		}
	}
	r.res.MasterActivatedAt = time.Now()
	r.log.Info("** Finished master recovery successfully.", "host", nm.Host())
	return nil
}

// refresh rereads every survivor's state into the topology.
func (r *run) refresh(ctx context.Context) error {
	errs := each(r.replicas(), func(n *topology.Node) error {
		return r.step(ctx, "read replica status", n.Host(), r.opts.StepTimeout, func(ctx context.Context) error {
			st, err := r.conns[n.Server.Block].State(ctx)
			if err != nil {
				return err
			}
			n.State = st
			return nil
		})
	})
	return firstError(errs)
}

// catchUp brings target t up to the latest events any survivor or the dead
// master holds: its SQL thread is stopped where it is, then ONE file of the
// events from there on is applied: from the dead master's binlog when
// readable, else from a latest replica's relay logs (see the package doc).
func (r *run) catchUp(ctx context.Context, t *target, latest []*topology.Node) error {
	host := t.node.Host()
	if err := r.step(ctx, "stop SQL thread", host, r.opts.StepTimeout, func(ctx context.Context) error {
		if err := repoint.Stop(ctx, t.conn); err != nil {
			return err
		}
		rs, err := t.conn.ReplicaStatus(ctx)
		if err != nil {
			return err
		}
		if rs == nil {
			return errors.New("not a replica any more")
		}
		t.exec, t.read = rs.Exec, rs.Read
		return nil
	}); err != nil {
		return err
	}
	lr := latest[0].Replica().Read
	r.log.Info(fmt.Sprintf("Server %s executed up to %s and received up to %s; the latest replica received up to %s.", host, t.exec, t.read, lr), "host", host)

	file, src, err := r.missingEvents(ctx, t, latest)
	if err != nil {
		return err
	}
	if file == "" {
		r.log.Info("nothing to apply", "host", host)
		return nil
	}
	th, err := r.hosts.get(ctx, t.node.Server)
	if err != nil {
		return err
	}
	var local string
	if err := r.step(ctx, "copy missing events", host, r.opts.StepTimeout, func(ctx context.Context) error {
		var err error
		local, err = move(ctx, src, th, file, r.opts.Workdir)
		return err
	}); err != nil {
		return err
	}
	// In GTID topologies events must reach the binlog so that the other
	// replicas fetch them by GTID; otherwise disable_log_bin decides, as
	// in MHA.
	disable := t.node.Server.DisableLogBin && !r.mode.UsesGTID()
	return r.step(ctx, "apply missing events", host, r.opts.ApplyTimeout, func(ctx context.Context) error {
		return th.apply(ctx, local, disable, r.ts)
	})
}

// missingEvents produces the file of events t lacks and says on which host
// it is. "" means t lacks nothing.
func (r *run) missingEvents(ctx context.Context, t *target, latest []*topology.Node) (string, *nodeHost, error) {
	host := t.node.Host()
	srv := t.node.Server
	lr := latest[0].Replica().Read
	if r.opts.SSHReachable == SSHReachable && !r.opts.SkipSaveMasterBinlog {
		var file string
		var h *nodeHost
		err := r.step(ctx, "save dead master binlog", check.SSHName(r.res.DeadMaster), r.opts.ApplyTimeout, func(ctx context.Context) error {
			var err error
			h, err = r.hosts.get(ctx, r.res.DeadMaster)
			if err != nil {
				return err
			}
			name := fmt.Sprintf("saved_master_binlog_from_%s_%d_for_%s_%d_%s.binlog", r.res.DeadMaster.Hostname, r.res.DeadMaster.Port, srv.Hostname, srv.Port, r.ts)
			res, ok, err := h.saveTail(ctx, t.exec, name)
			if err != nil {
				return err
			}
			// The dead master's binlog must hold at least what the latest
			// replica received (it may not after an OS crash with
			// sync_binlog=0); else the relay logs are the better source.
			end, perr := binlog.ParsePos(res.End)
			if ok && perr == nil {
				if c, cerr := binlog.Compare(end, lr); cerr == nil && c < 0 {
					return fmt.Errorf("its binlog ends at %s, before %s that a replica received", end, lr)
				}
			}
			if !ok {
				if c, cerr := binlog.Compare(t.exec, lr); cerr != nil || c < 0 {
					return fmt.Errorf("nothing after %s in its binlog, though a replica received up to %s", t.exec, lr)
				}
				return nil
			}
			file = res.OutputFile
			return nil
		})
		if err == nil {
			if file == "" {
				return "", nil, nil
			}
			r.note(fmt.Sprintf("%s: events after %s saved from the dead master's binlog.", host, t.exec))
			return file, h, nil
		}
		r.log.Warn("Failed to save binary log events from the dead master; using the latest replica's relay logs instead. Maybe disks on binary logs are not accessible or binary log itself is corrupt?", "host", hostInfo(r.res.DeadMaster), "err", err)
		r.res.Lost = fmt.Sprintf("Dead master %s's binlog could not be read (%v): any transaction it wrote after %s (the latest Read position) is lost.", hostInfo(r.res.DeadMaster), err, lr)
	}
	if c, err := binlog.Compare(t.exec, lr); err == nil && c >= 0 {
		return "", nil, nil
	}
	// From a latest replica's relay logs (the target itself when it is a
	// latest replica).
	var errs []error
	for _, base := range latest {
		var file string
		var h *nodeHost
		err := r.step(ctx, "generate relay log diff", base.Host(), r.opts.ApplyTimeout, func(ctx context.Context) error {
			var err error
			h, err = r.hosts.get(ctx, base.Server)
			if err != nil {
				return err
			}
			name := fmt.Sprintf("relay_from_read_to_latest_%s_%d_%s.binlog", srv.Hostname, srv.Port, r.ts)
			if base.Server.Block == srv.Block {
				name = fmt.Sprintf("relay_from_exec_to_read_%s_%d_%s.binlog", srv.Hostname, srv.Port, r.ts)
			}
			res, ok, err := h.generate(ctx, base.State.ServerID, relayDir(base.State), base.Replica().Read, t.exec, name, r.ts)
			if err != nil {
				return err
			}
			if ok {
				file = res.DiffFile
			}
			return nil
		})
		if err == nil {
			if file != "" {
				r.note(fmt.Sprintf("%s: Generating relay diff files from the latest slave %s succeeded.", host, base.Host()))
			}
			return file, h, nil
		}
		errs = append(errs, err)
	}
	return "", nil, fmt.Errorf("no latest replica has the relay logs from %s on: %w", t.exec, errors.Join(errs...))
}

// relayDir is the directory of a replica's relay logs.
func relayDir(st *mysqlx.State) string {
	if st.RelayLogBase != "" {
		return filepath.Dir(st.RelayLogBase)
	}
	return st.DataDir
}

// ---- Phase 4 ----

func (r *run) recoverReplicas(ctx context.Context) error {
	if r.opts.SkipChangeMaster {
		r.log.Info("--skip_change_master is set: the replicas are left as they are.")
		return nil
	}
	nm := r.res.NewMaster
	var others []*topology.Node
	for _, n := range r.replicas() {
		if n.Server.Block != nm.Block {
			others = append(others, n)
		}
	}
	latest, _, err := topology.LatestReplicas(r.replicas())
	if err != nil {
		return err
	}
	var mu sync.Mutex
	each(others, func(n *topology.Node) error {
		err := r.recoverReplica(ctx, n, latest)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			r.res.Failed = append(r.res.Failed, fmt.Sprintf("%s: %v", n.Host(), err))
			r.note(fmt.Sprintf("%s: ERROR: %v", n.Host(), err))
		} else {
			r.res.Recovered = append(r.res.Recovered, n.Server.Hostname)
			r.note(fmt.Sprintf("%s: OK: Slave started, replicating from %s", n.Host(), hostInfo(nm)))
		}
		return err
	})
	slices.Sort(r.res.Recovered)
	slices.Sort(r.res.Failed)
	return nil
}

func (r *run) recoverReplica(ctx context.Context, n *topology.Node, latest []*topology.Node) error {
	t := &target{node: n, conn: r.conns[n.Server.Block]}
	// With GTID, a replica fetches what it lacks from the new master by
	// GTID: applying a file here would not advance gtid_slave_pos and the
	// events would come twice.
	if !r.mode.UsesGTID() {
		if err := r.catchUp(ctx, t, latest); err != nil {
			return err
		}
	}
	nm := r.res.NewMaster
	src := repoint.Source{Host: nm.Hostname, Port: nm.Port, User: n.Server.ReplUser, Password: n.Server.ReplPassword}
	if rs := n.Replica(); rs != nil {
		if src.User == "" {
			src.User = rs.SourceUser
		}
		// MHA's rule: the hostname, or the ip when this replica named its
		// master by ip.
		if net.ParseIP(rs.SourceHost) != nil {
			src.Host = nm.IP
		}
	}
	how := repoint.How{Mode: r.mode, Pos: r.res.NewMasterPos}
	return r.step(ctx, "change master", n.Host(), r.opts.StepTimeout, func(ctx context.Context) error {
		return repoint.Replica(ctx, t.conn, src, how)
	})
}

// ---- Phase 5 ----

func (r *run) cleanup(ctx context.Context) error {
	nm := r.res.NewMaster
	if r.opts.SkipChangeMaster || len(r.res.Failed) > 0 || nm.SkipResetSlave {
		r.log.Info("Skipping RESET SLAVE ALL on the new master.", "host", hostInfo(nm))
		return nil
	}
	c := r.conns[nm.Block]
	err := r.step(ctx, "reset slave all", hostInfo(nm), r.opts.StepTimeout, func(ctx context.Context) error {
		if err := repoint.Stop(ctx, c); err != nil {
			return err
		}
		return c.ResetReplicaAll(ctx)
	})
	if err != nil {
		// The master is recovered and writable; a leftover replica
		// configuration is a warning, not a failed failover.
		r.res.Failed = append(r.res.Failed, fmt.Sprintf("%s: RESET SLAVE ALL: %v", hostInfo(nm), err))
		return nil
	}
	r.note(fmt.Sprintf("%s: Resetting slave info succeeded.", hostInfo(nm)))
	return nil
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
	var b strings.Builder
	b.WriteString("----- Failover Report -----\n\n")
	b.WriteString(r.Subject(app) + "\n\n")
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
	if r.Lost != "" {
		b.WriteString("Possibly lost: " + r.Lost + "\n")
	} else if r.NewMaster.Block != "" && r.Code != ExitError {
		b.WriteString("Nothing lost: every event the survivors or the dead master's binlog held is on the new master.\n")
	}
	if len(r.Failed) > 0 {
		b.WriteString("Failed: " + strings.Join(r.Failed, "; ") + "\n")
	}
	b.WriteString("Timings:")
	for _, p := range r.Phases {
		b.WriteString(" " + strings.TrimPrefix(strings.SplitN(p.Name, ":", 2)[0], "Phase ") + "=" + p.Duration.Round(time.Millisecond).String())
	}
	b.WriteString("\n")
	if r.Err != nil {
		b.WriteString("Error: " + r.Err.Error() + "\n")
	}
	return b.String()
}
