package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/detect"
	"github.com/gomha/gomha/manager/failover"
	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/lease"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/manager/statefile"
)

// StartOptions are masterha_manager's own start-up and monitoring options.
type StartOptions struct {
	// WaitOnMonitorError keeps 31:CONFIG_ERROR visible this many seconds
	// before the cluster's manager exits.
	WaitOnMonitorError int
	// IgnoreFailOnStart tolerates dead servers that have ignore_fail=1.
	IgnoreFailOnStart bool
	// SkipSSHCheck skips the SSH checks at start.
	SkipSSHCheck bool
	// CheckReplHealth also requires every replica's threads running and
	// lag within SecondsBehindMaster at start.
	CheckReplHealth     bool
	SecondsBehindMaster int
	// MonitorOnly ends with exit code 20 once the master is confirmed
	// dead, without failing over (masterha_master_monitor).
	MonitorOnly bool
	// CheckOnly runs the start-up checks and ends, with no state files.
	CheckOnly bool
	// Resume goes on with a failover a killed manager left unfinished,
	// when its journal allows it.
	Resume bool
}

// cluster is one cluster's manager: its configuration file, its options
// and what ClusterStatus shows of it. run is its whole life.
type cluster struct {
	conf, global string
	// digest fingerprints the files cfg was read from.
	digest [32]byte
	// cfg is the configuration read at start (and at each reload).
	cfg   *config.Config
	start StartOptions
	fo    FailoverOptions
	// exitAfterFailover: masterha_manager's contract, one failover (or
	// refusal) and the end.
	exitAfterFailover bool
	stdout, stderr    io.Writer
	tools             Tools
	status            *statusBoard
	// cycleFor builds the loop's cycle; nil is the live one (tests set
	// fakes).
	cycleFor func(c *cluster, lc *liveCycle) cycle
	// lock, when set, runs the cluster only while this manager holds its
	// Consul lock (runLocked); gate is the failover's check that it still
	// does.
	lock *LockOptions
	gate func(ctx context.Context, step string) error
	// log is the daemon's own log.
	log *slog.Logger
}

func (c *cluster) daemonLog() *slog.Logger {
	if c.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.log
}

// load reads and validates the cluster's configuration again; warnings
// go to stderr.
func (c *cluster) load(ctx context.Context) (*config.Config, error) {
	return LoadConfig(ctx, c.conf, c.global, c.stderr)
}

// run is `mha manager` for one cluster: the log, the workdir, the crash
// guard, the health file, then the monitoring loop. It returns when the
// manager of this cluster ends, with MHA's exit code in an *ExitError.
func (c *cluster) run(ctx context.Context) error {
	if c.lock != nil && !c.start.CheckOnly {
		return c.runLocked(ctx)
	}
	return c.runActive(ctx)
}

// runActive is run for a manager that may act for the cluster.
func (c *cluster) runActive(ctx context.Context) error {
	cfg := c.cfg
	log, logOut, closeLog, err := c.fo.OpenLog(cfg, c.stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	if c.start.CheckOnly {
		// MHA's --check_only: the checks masterha_check_repl runs, no
		// state files, no monitoring.
		return checkOnly(ctx, cfg, c.start, c.fo, c.tools, log, c.stdout)
	}
	workdir := c.fo.WorkdirOf(cfg)
	if err := os.MkdirAll(workdir, 0o750); err != nil {
		return &ExitError{Code: 1, Err: fmt.Errorf("create manager workdir: %w", err)}
	}
	if err := statefile.CheckWorkdir(workdir); err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	// A failover a killed manager left unfinished is not followed by
	// blind monitoring (see crashGuard); the stale health file it left is
	// looked at before Init replaces it.
	plan, err := crashGuard(workdir, cfg.App, c.start.Resume, log, echoOf(logOut, c.stderr))
	if err != nil {
		return err
	}
	// A killed online switch is only warned about: the manager monitors
	// what the servers are now.
	WarnUnfinishedSwitch(workdir, cfg.App, log, echoOf(logOut, c.stderr))
	c.status.lastSwitch(workdir, cfg.App)
	file := statefile.OpenHealth(workdir, cfg.App)
	if warning, err := file.Init(); err != nil {
		return &ExitError{Code: 1, Err: err}
	} else if warning != "" {
		log.Warn(warning)
	}
	defer file.Remove()
	health := &boardHealth{file: file, board: c.status}
	c.status.setState(statefile.InitializingMonitor, "")
	// A refusal recorded by an earlier manager is not this one's.
	_ = statefile.ClearRefusal(workdir, cfg.App)

	fail := func(err error) error {
		log.Error("Error happened on checking configurations.", "err", err)
		_ = health.Set(statefile.ConfigError, "")
		if c.start.WaitOnMonitorError > 0 {
			sleepCtx(ctx, time.Duration(c.start.WaitOnMonitorError)*time.Second)
		}
		return &ExitError{Code: 1, Err: err}
	}

	var dropped []string // dead masters failed over from, left out of cfg
	// failedOver drops the dead master from the configuration, read again
	// (--remove_dead_master_conf may have changed it).
	failedOver := func(dead config.Server) error {
		dropped = append(dropped, dead.Hostname+":"+fmt.Sprint(dead.Port))
		var err error
		cfg, err = c.load(ctx)
		if err != nil {
			return err
		}
		cfg.Servers = slices.DeleteFunc(cfg.Servers, func(s config.Server) bool {
			return slices.Contains(dropped, s.Hostname+":"+fmt.Sprint(s.Port))
		})
		return nil
	}
	// pending is a dead master to fail over before monitoring (a resumed
	// failover run again).
	var pending *deadMaster
	if plan != nil {
		clearForResume(workdir, cfg.App, log)
		switch plan.Action {
		case resumeRerun:
			dead, ssh, err := rerunTarget(cfg, plan)
			if err != nil {
				_ = statefile.MarkError(workdir, cfg.App)
				return &ExitError{Code: 1, Err: err}
			}
			pending = &deadMaster{srv: dead, sshReachable: ssh}
		case resumeRecover:
			name, _ := parseHostLabel(plan.DeadMaster)
			_ = health.Set(statefile.FailoverRunning, name)
			code, dead, rerr := resumeRecovery(context.WithoutCancel(ctx), cfg, workdir, plan, log, logOut)
			if c.exitAfterFailover || code == failover.ExitError || ctx.Err() != nil {
				return exitFor(code, rerr)
			}
			if err := failedOver(dead); err != nil {
				return fail(err)
			}
			log.Info("Resumed failover done; monitoring the new master.", "code", code)
		}
	}

	live := &liveCycle{cfg: &cfg, start: c.start, fo: c.fo, log: log, logOut: logOut, health: health, tools: c.tools,
		runner: hooks.Runner{Log: log, Timeout: c.fo.HookTimeout, InProcess: c.tools.InProcessHook}, drop: failedOver, board: c.status, gate: c.gate}
	var cy cycle = live
	if c.cycleFor != nil {
		cy = c.cycleFor(c, live)
	}
	l := &managerLoop{
		c:      cy,
		health: health, workdir: workdir, app: cfg.App, log: log, out: c.stdout, board: c.status,
		exitAfterFailover: c.exitAfterFailover, monitorOnly: c.start.MonitorOnly, fail: fail,
	}
	return l.run(ctx, pending)
}

// checkOnly runs the start-up checks and reports them as
// masterha_check_repl does: exit 0 with "MySQL Replication Health is OK."
// or 1 with the reasons.
func checkOnly(ctx context.Context, cfg *config.Config, so StartOptions, fo FailoverOptions, tools Tools, log *slog.Logger, out io.Writer) error {
	if _, err := startupChecks(ctx, cfg, so, fo, tools, log, out); err != nil {
		log.Error("Error happened on checking configurations.", "err", err)
		fmt.Fprintln(out, "\nMySQL Replication Health is NOT OK!")
		return &ExitError{Code: 1}
	}
	fmt.Fprintln(out, "\nMySQL Replication Health is OK.")
	return nil
}

// cycle is what the manager's monitoring loop does to the world: the
// start-up checks, the monitoring, the failover and what follows it.
// liveCycle does it for real; tests use a fake.
type cycle interface {
	// startup runs the start-up checks and returns the alive master and
	// replicas.
	startup(ctx context.Context) (config.Server, []config.Server, error)
	// keepWarm keeps SSH to servers warm and mha-node verified, in the
	// background, every interval, until ctx ends.
	keepWarm(ctx context.Context, servers []config.Server, interval time.Duration)
	// monitor returns when master's death is confirmed.
	monitor(ctx context.Context, master config.Server, replicas []config.Server) (detect.Verdict, error)
	// failover fails dead over (MHA exit codes: 0, 10 partial, 1 error).
	failover(ctx context.Context, dead deadMaster) (int, *failover.Result, error)
	// watchOld starts fencing the old master whenever it answers again,
	// in the background, until ctx ends.
	watchOld(ctx context.Context, old config.Server, res *failover.Result)
	// failedOver drops the dead master from the configuration.
	failedOver(dead config.Server) error
	// pause waits d, or until ctx ends.
	pause(ctx context.Context, d time.Duration)
}

// managerLoop is `mha manager`'s loop: start-up checks, monitoring, then a
// failover; after a refused failover monitoring resumes on the same master
// (the refusal recorded for check-status), after a failover on the new
// topology. The MHA-named masterha_manager exits after one failover or
// refusal, as MHA does.
type managerLoop struct {
	c                 cycle
	health            healthFile
	board             *statusBoard
	workdir, app      string
	log               *slog.Logger
	out               io.Writer // --monitor_only's "Master ... is dead!"
	exitAfterFailover bool
	monitorOnly       bool
	// fail turns a start-up or monitoring error into the exit error
	// (31:CONFIG_ERROR in the health file).
	fail func(error) error
}

// run loops until the manager exits; pending is a dead master to fail over
// before monitoring (a resumed failover run again).
func (l *managerLoop) run(ctx context.Context, pending *deadMaster) error {
	log := l.log
	var master config.Server
	var replicas []config.Server
	monitorAgain := false // after a refused failover: same master, no start-up checks
	warm := false         // keepWarm runs once, for the whole process
	for {
		if pending == nil {
			if !monitorAgain || master.Hostname == "" {
				var err error
				master, replicas, err = l.c.startup(ctx)
				if err != nil {
					if ctx.Err() != nil {
						log.Info("Got terminate signal. Exit.")
						return &ExitError{Code: 1, Err: ctx.Err()}
					}
					return l.fail(err)
				}
				_ = l.health.Set(statefile.PingOK, master.Hostname)
				if !warm {
					l.c.keepWarm(ctx, warmable(append([]config.Server{master}, replicas...)), master.PingInterval)
					warm = true
				}
				log.Info("Ping("+master.PingType+") succeeded, waiting until MySQL doesn't respond..", "host", master.Hostname)
			}
			monitorAgain = false
			v, err := l.c.monitor(ctx, master, replicas)
			if err != nil {
				if ctx.Err() != nil {
					log.Info("Got terminate signal. Exit.")
					return &ExitError{Code: 1, Err: ctx.Err()}
				}
				return l.fail(err)
			}
			log.Warn(fmt.Sprintf("Master %s is dead!", v.Master.Label()), "evidence", strings.Join(v.Evidence, "; "))
			// MHA's lines at the end of its monitor, before the failover.
			log.Info("Master is down!")
			log.Info("Terminating monitoring script.")
			if l.monitorOnly {
				fmt.Fprintf(l.out, "Master %s is dead!\nIP Address: %s Port: %d\n", v.Master.Hostname, v.Master.IP, v.Master.Port)
				return &ExitError{Code: 20}
			}
			pending = &deadMaster{srv: v.Master, sshReachable: v.SSH(), detectedAt: v.DetectedAt, hung: v.Kind == detect.FailureHung, silent: v.Kind == detect.FailureSilent}
		}
		// A failover, once started, runs to its end: a terminate signal
		// now would leave the cluster half-recovered (`mha stop` refuses
		// during a failover unless --abort, which kills).
		dead := *pending
		pending = nil
		began := time.Now()
		code, res, ferr := l.c.failover(context.WithoutCancel(ctx), dead)
		l.board.failedOver(hostPort(dead.srv.Hostname, dead.srv.Port), began, code, res, ferr)
		if res != nil && !res.MasterActivatedAt.IsZero() && !l.exitAfterFailover {
			// The old master is fenced again the moment it answers (link
			// back, SIGCONT), for as long as this manager runs.
			l.c.watchOld(ctx, dead.srv, res)
		}
		if refusedFailover(ferr) && !l.exitAfterFailover && ctx.Err() == nil {
			// `mha manager` goes on monitoring after a refusal; the
			// MHA-named masterha_manager exits as MHA does (its failover
			// refuses with exit 1).
			log.Warn("Failover refused; monitoring goes on.", "master", dead.srv.Hostname, "reason", ferr)
			if err := statefile.RecordRefusal(l.workdir, l.app, statefile.Refusal{At: time.Now(), Master: dead.srv.Hostname, Reason: ferr.Error()}); err != nil {
				log.Error("cannot record the refusal", "err", err)
			}
			monitorAgain = true
			if !errors.Is(ferr, failover.ErrMasterAlive) {
				// The master is dead and stays so until the operator
				// acts (removes the flag file): ask again now and then,
				// not at every ping.
				_ = l.health.Set(statefile.PingFailed, dead.srv.Hostname)
				l.c.pause(ctx, refusalPause(dead.srv))
			}
			continue
		}
		if l.exitAfterFailover || code == 1 || ctx.Err() != nil {
			return exitFor(code, ferr)
		}
		// `mha manager` monitors the new topology, without the dead master.
		if err := l.c.failedOver(dead.srv); err != nil {
			return l.fail(err)
		}
		master = config.Server{}
		log.Info("Failover done; monitoring the new master.", "code", code)
	}
}

// warmable leaves out the servers with skip_init_ssh_check=1: the manager
// does not contact them over SSH at start (MHA skips them in its SSH check).
func warmable(servers []config.Server) []config.Server {
	return slices.DeleteFunc(servers, func(s config.Server) bool { return s.SkipInitSSHCheck })
}

// liveCycle is cycle on the real servers. cfg points at the manager's
// configuration, which failedOver replaces.
type liveCycle struct {
	cfg    **config.Config
	start  StartOptions
	fo     FailoverOptions
	tools  Tools
	log    *slog.Logger
	logOut io.Writer
	health healthFile
	runner hooks.Runner
	drop   func(dead config.Server) error
	board  *statusBoard
	// terms are the lease terms the start-up's watchdog reported.
	terms lease.Terms
	// gate is failover.Options.Gate (the standby managers' lock).
	gate func(ctx context.Context, step string) error
}

func (c *liveCycle) startup(ctx context.Context) (config.Server, []config.Server, error) {
	st, err := startupChecks(ctx, *c.cfg, c.start, c.fo, c.tools, c.log, c.logOut)
	if st.topo != nil {
		c.board.sawTopology(st.topo)
	}
	c.terms = st.terms
	return st.master, st.replicas, err
}

func (c *liveCycle) keepWarm(ctx context.Context, servers []config.Server, interval time.Duration) {
	keepHostsWarm(ctx, servers, interval, c.log)
}

func (c *liveCycle) monitor(ctx context.Context, master config.Server, replicas []config.Server) (detect.Verdict, error) {
	v, err := monitor(ctx, *c.cfg, master, replicas, c.runner, c.log, c.health)
	if err == nil {
		c.board.sawProbes(v.Probes)
	}
	return v, err
}

func (c *liveCycle) failover(ctx context.Context, dead deadMaster) (int, *failover.Result, error) {
	fr := &failoverRun{cfg: *c.cfg, flags: c.fo, dead: dead.srv, sshReachable: dead.sshReachable, detectedAt: dead.detectedAt, hung: dead.hung, silent: dead.silent,
		terms: c.terms, gate: c.gate, log: c.log, logOut: c.logOut, health: c.health, inProcess: c.tools.InProcessHook}
	return fr.run(ctx)
}

func (c *liveCycle) watchOld(ctx context.Context, old config.Server, res *failover.Result) {
	go watchOldMaster(ctx, *c.cfg, old, res.EndPoint, c.runner, c.log)
}

func (c *liveCycle) failedOver(dead config.Server) error { return c.drop(dead) }

func (c *liveCycle) pause(ctx context.Context, d time.Duration) { sleepCtx(ctx, d) }

// refusalPause is how long `mha manager` waits before it looks at a dead
// master again after the last-failover guard refused to fail it over: ten
// ping intervals, between 5 s and a minute.
func refusalPause(master config.Server) time.Duration {
	d := 10 * master.PingInterval
	if master.PingInterval <= 0 {
		d = 10 * detect.DefaultPingInterval
	}
	return min(max(d, 5*time.Second), time.Minute)
}

// echoOf is where crashGuard repeats what it logs for the operator: the
// terminal, unless the log already goes there.
func echoOf(logOut, stderr io.Writer) io.Writer {
	if logOut == stderr {
		return io.Discard
	}
	return stderr
}

// deadMaster is a master to fail over.
type deadMaster struct {
	srv          config.Server
	sshReachable sshexec.Reach
	detectedAt   time.Time
	// hung says the replicas saw its port accept without a greeting;
	// silent that every replica found its host silent or unreachable.
	hung, silent bool
}

// refusedFailover says whether a failover's error is a refusal to start
// (nothing was changed): the master answered the double check, the last
// failover is too recent, or the last one failed.
func refusedFailover(err error) bool {
	return errors.Is(err, failover.ErrMasterAlive) || errors.Is(err, statefile.ErrTooEarly) ||
		errors.Is(err, statefile.ErrLastFailoverFailed)
}

// monitor watches master until it is confirmed dead, keeping the health
// file up to date.
func monitor(ctx context.Context, cfg *config.Config, master config.Server, replicas []config.Server, runner hooks.Runner, log *slog.Logger, health healthFile) (detect.Verdict, error) {
	mon := &detect.Monitor{
		Config:    cfg,
		Master:    master,
		Log:       log,
		Hooks:     runner,
		Secondary: replicas,
		OnState:   healthOnState(health, master.Hostname),
	}
	return mon.Run(ctx)
}

// healthOnState maps the monitor's states to the health file: PING_OK
// written once and then touched at every ping, PING_FAILING and
// PING_FAILED written as they come.
func healthOnState(health healthFile, master string) func(detect.State) {
	last := detect.State(-1) // the first state is always written
	return func(s detect.State) {
		switch {
		case s == detect.StatePingOK && last == detect.StatePingOK:
			_ = health.Touch()
		case s == detect.StatePingOK:
			_ = health.Set(statefile.PingOK, master)
		case s == detect.StatePingFailing:
			_ = health.Set(statefile.PingFailing, master)
		case s == detect.StatePingFailed:
			_ = health.Set(statefile.PingFailed, master)
		}
		last = s
	}
}
