package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/cmd/internal/mhacli"
	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/detect"
	"github.com/gomha/gomha/manager/failover"
	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/lease"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/manager/statefile"
	"github.com/gomha/gomha/manager/topology"
)

type managerFlags struct {
	conf                confFlags
	fo                  failoverFlags
	waitOnMonitorError  int
	ignoreFailOnStart   bool
	skipSSHCheck        bool
	checkReplHealth     bool
	secondsBehindMaster int
	interactive         int
	monitorOnly         bool
	checkOnly           bool
	resume              bool
}

// newMasterMonitorCmd is MHA's masterha_master_monitor: `mha manager
// --monitor_only`. It exits 20 when the master is confirmed dead (after
// "Master <host> is dead!" and "IP Address: <ip> Port: <port>"), 1 on an
// error, and never fails over.
func newMasterMonitorCmd() *cobra.Command {
	cmd := newManagerCmd()
	cmd.Use = "master-monitor --conf=FILE"
	cmd.Short = "Monitor the master only; exit 20 when it is dead (masterha_master_monitor)"
	cmd.Long = "mha manager --monitor_only: the start-up checks, then monitoring; when the master is\n" +
		"confirmed dead it prints \"Master <host> is dead!\" and \"IP Address: <ip> Port: <port>\" and\n" +
		"exits 20, as MHA's masterha_master_monitor does. Errors exit 1. It never fails over."
	_ = cmd.Flags().Set("monitor_only", "true")
	cmd.Flags().Lookup("monitor_only").DefValue = "true"
	return cmd
}

func newManagerCmd() *cobra.Command {
	var f managerFlags
	cmd := &cobra.Command{
		Use:   "manager --conf=FILE",
		Short: "Monitor the master and fail over when it dies (masterha_manager)",
		Long: "Runs the start-up checks, then pings the master every ping_interval. A failure is\n" +
			"confirmed through the replicas (their IO threads, and a TCP connect to the master from\n" +
			"their hosts over SSH) and secondary_check_script before anything happens; a manager that\n" +
			"only lost its own link to the master does not fail over. A confirmed death starts the\n" +
			"failover. Under the name masterha_manager it exits after one failover (0, 10 partial,\n" +
			"1 error) as MHA does; `mha manager` goes on monitoring the new topology.\n\n" +
			"A failover that refuses to start (the master answers MySQL, the last failover is too recent\n" +
			"or failed) makes masterha_manager exit 1, as in MHA; `mha manager` records the refusal\n" +
			"(check-status shows it) and goes on monitoring.\n\n" +
			"Before anything, the failover journal <manager_workdir>/<app>.failover.journal is read. A\n" +
			"failover a killed manager left unfinished makes the start refuse (exit 1), naming the last\n" +
			"step and what may be half done, with <app>.failover.error created. --resume goes on where\n" +
			"that is safe: the failover runs again when only repeatable steps were started (IO threads\n" +
			"stopped, the dead master's address or power taken away); when the new master was already\n" +
			"opened for writes, the replicas not yet moved are pointed at it and its replica\n" +
			"configuration is reset. Anything else (events half applied, the address half moved) is\n" +
			"refused even with --resume: the DBA checks by hand.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runManager(cmd, f)
		},
	}
	f.conf.add(cmd)
	f.fo.add(cmd)
	fs := cmd.Flags()
	fs.IntVar(&f.waitOnMonitorError, "wait_on_monitor_error", 0, "seconds to keep 31:CONFIG_ERROR visible before exiting")
	fs.BoolVar(&f.ignoreFailOnStart, "ignore_fail_on_start", false, "tolerate dead servers that have ignore_fail=1 at start")
	fs.BoolVar(&f.skipSSHCheck, "skip_ssh_check", false, "skip the SSH check between the servers at start")
	fs.BoolVar(&f.skipSSHCheck, "skip_check_ssh", false, "alias of --skip_ssh_check")
	fs.BoolVar(&f.checkReplHealth, "check_repl_health", false, "also require every replica's threads running and lag within --seconds_behind_master at start")
	fs.IntVar(&f.secondsBehindMaster, "seconds_behind_master", 30, "largest replica lag accepted with --check_repl_health")
	fs.IntVar(&f.interactive, "interactive", 0, "accepted for MHA compatibility (the manager never asks)")
	fs.BoolVar(&f.resume, "resume", false, "gomha: go on with a failover a killed manager left unfinished (<app>.failover.journal), when its journal allows it")
	fs.BoolVar(&f.monitorOnly, "monitor_only", false, "exit with code 20 when the master is confirmed dead, without failing over")
	fs.BoolVar(&f.checkOnly, "check_only", false, "run the start-up checks (check-repl's) and exit 0 or 1, without monitoring")
	return cmd
}

func runManager(cmd *cobra.Command, f managerFlags) error {
	ctx := cmd.Context()
	// MHA makes the manager a process-group leader so that masterha_stop
	// can signal it and its children at once.
	_ = syscall.Setpgid(0, 0)
	exitAfterFailover := filepath.Base(os.Args[0]) == "masterha_manager"

	cfg, err := f.conf.load(ctx, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	log, logOut, closeLog, err := f.fo.openLog(cfg, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer closeLog()
	if f.checkOnly {
		// MHA's --check_only: the checks masterha_check_repl runs, no
		// state files, no monitoring.
		return checkOnly(ctx, cfg, f, log, cmd.OutOrStdout())
	}
	workdir := f.fo.workdirOf(cfg)
	if err := os.MkdirAll(workdir, 0o750); err != nil {
		return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("create manager workdir: %w", err)}
	}
	if err := statefile.CheckWorkdir(workdir); err != nil {
		return &mhacli.ExitError{Code: 1, Err: err}
	}
	// A failover a killed manager left unfinished is not followed by
	// blind monitoring (see crashGuard); the stale health file it left is
	// looked at before Init replaces it.
	plan, err := crashGuard(workdir, cfg.App, f.resume, log, echoOf(logOut, cmd.ErrOrStderr()))
	if err != nil {
		return err
	}
	// A killed online switch is only warned about: the manager monitors
	// what the servers are now.
	warnUnfinishedSwitch(workdir, cfg.App, log, echoOf(logOut, cmd.ErrOrStderr()))
	health := statefile.OpenHealth(workdir, cfg.App)
	if warning, err := health.Init(); err != nil {
		return &mhacli.ExitError{Code: 1, Err: err}
	} else if warning != "" {
		log.Warn(warning)
	}
	defer health.Remove()
	// A refusal recorded by an earlier manager is not this one's.
	_ = statefile.ClearRefusal(workdir, cfg.App)

	fail := func(err error) error {
		log.Error("Error happened on checking configurations.", "err", err)
		_ = health.Set(statefile.ConfigError, "")
		if f.waitOnMonitorError > 0 {
			sleepCtx(ctx, time.Duration(f.waitOnMonitorError)*time.Second)
		}
		return &mhacli.ExitError{Code: 1, Err: err}
	}

	var dropped []string // dead masters failed over from, left out of cfg
	// failedOver drops the dead master from the configuration, read again
	// (--remove_dead_master_conf may have changed it).
	failedOver := func(dead config.Server) error {
		dropped = append(dropped, dead.Hostname+":"+fmt.Sprint(dead.Port))
		var err error
		cfg, err = f.conf.load(ctx, cmd.ErrOrStderr())
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
				return &mhacli.ExitError{Code: 1, Err: err}
			}
			pending = &deadMaster{srv: dead, sshReachable: ssh}
		case resumeRecover:
			name, _ := parseHostLabel(plan.DeadMaster)
			_ = health.Set(statefile.FailoverRunning, name)
			code, dead, rerr := resumeRecovery(context.WithoutCancel(ctx), cfg, workdir, plan, log, logOut)
			if exitAfterFailover || code == failover.ExitError || ctx.Err() != nil {
				return exitFor(code, rerr)
			}
			if err := failedOver(dead); err != nil {
				return fail(err)
			}
			log.Info("Resumed failover done; monitoring the new master.", "code", code)
		}
	}

	l := &managerLoop{
		c: &liveCycle{cfg: &cfg, f: f, log: log, logOut: logOut, health: health,
			runner: hooks.Runner{Log: log, Timeout: f.fo.hookTimeout, InProcess: builtinHook}, drop: failedOver},
		health: health, workdir: workdir, app: cfg.App, log: log, out: cmd.OutOrStdout(),
		exitAfterFailover: exitAfterFailover, monitorOnly: f.monitorOnly, fail: fail,
	}
	return l.run(ctx, pending)
}

// checkOnly runs the start-up checks and reports them as
// masterha_check_repl does: exit 0 with "MySQL Replication Health is OK."
// or 1 with the reasons.
func checkOnly(ctx context.Context, cfg *config.Config, f managerFlags, log *slog.Logger, out io.Writer) error {
	if _, _, err := startupChecks(ctx, cfg, f, log, out); err != nil {
		log.Error("Error happened on checking configurations.", "err", err)
		fmt.Fprintln(out, "\nMySQL Replication Health is NOT OK!")
		return &mhacli.ExitError{Code: 1}
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
	health            *statefile.Health
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
						return &mhacli.ExitError{Code: 1, Err: ctx.Err()}
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
					return &mhacli.ExitError{Code: 1, Err: ctx.Err()}
				}
				return l.fail(err)
			}
			log.Warn(fmt.Sprintf("Master %s is dead!", v.Master.Label()), "evidence", strings.Join(v.Evidence, "; "))
			// MHA's lines at the end of its monitor, before the failover.
			log.Info("Master is down!")
			log.Info("Terminating monitoring script.")
			if l.monitorOnly {
				fmt.Fprintf(l.out, "Master %s is dead!\nIP Address: %s Port: %d\n", v.Master.Hostname, v.Master.IP, v.Master.Port)
				return &mhacli.ExitError{Code: 20}
			}
			pending = &deadMaster{srv: v.Master, sshReachable: v.SSH(), detectedAt: v.DetectedAt, hung: v.Kind == detect.FailureHung, silent: v.Kind == detect.FailureSilent}
		}
		// A failover, once started, runs to its end: a terminate signal
		// now would leave the cluster half-recovered (`mha stop` refuses
		// during a failover unless --abort, which kills).
		dead := *pending
		pending = nil
		code, res, ferr := l.c.failover(context.WithoutCancel(ctx), dead)
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
	f      managerFlags
	log    *slog.Logger
	logOut io.Writer
	health *statefile.Health
	runner hooks.Runner
	drop   func(dead config.Server) error
}

func (c *liveCycle) startup(ctx context.Context) (config.Server, []config.Server, error) {
	return startupChecks(ctx, *c.cfg, c.f, c.log, c.logOut)
}

func (c *liveCycle) keepWarm(ctx context.Context, servers []config.Server, interval time.Duration) {
	keepHostsWarm(ctx, servers, interval, c.log)
}

func (c *liveCycle) monitor(ctx context.Context, master config.Server, replicas []config.Server) (detect.Verdict, error) {
	return monitor(ctx, *c.cfg, master, replicas, c.runner, c.log, c.health)
}

func (c *liveCycle) failover(ctx context.Context, dead deadMaster) (int, *failover.Result, error) {
	fr := &failoverRun{cfg: *c.cfg, flags: c.f.fo, dead: dead.srv, sshReachable: dead.sshReachable, detectedAt: dead.detectedAt, hung: dead.hung, silent: dead.silent, log: c.log, logOut: c.logOut, health: c.health}
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
func monitor(ctx context.Context, cfg *config.Config, master config.Server, replicas []config.Server, runner hooks.Runner, log *slog.Logger, health *statefile.Health) (detect.Verdict, error) {
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
func healthOnState(health *statefile.Health, master string) func(detect.State) {
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

// hookStatus runs master_ip_failover_script and shutdown_script with
// --command=status for master, as MHA's check_scripts does at monitor start
// and in masterha_check_repl: a hook that is set must exit 0.
func hookStatus(ctx context.Context, master config.Server, runner hooks.Runner, log *slog.Logger) error {
	ep := hooks.EndpointOf(master)
	for _, h := range []struct {
		name, cmd string
		args      []string
	}{
		{"master_ip_failover_script", master.MasterIPFailoverScript, hooks.FailoverStatusArgs(ep)},
		{"shutdown_script", master.ShutdownScript, hooks.ShutdownStatusArgs(ep)},
	} {
		if h.cmd == "" {
			log.Warn(h.name + " is not set.")
			continue
		}
		r, err := runner.Run(ctx, h.name, h.cmd, h.args)
		if err != nil {
			return err
		}
		if r.Code != 0 {
			return fmt.Errorf("failed to get %s status with return code %s", h.name, r.MHACode())
		}
		log.Info(h.name+" status OK", "host", master.Hostname)
	}
	return nil
}

// startupChecks runs MHA's start-up checks (check-repl's, without the
// replication health part unless --check_repl_health) and the hooks'
// status calls, and returns the alive master and the alive replicas.
func startupChecks(ctx context.Context, cfg *config.Config, f managerFlags, log *slog.Logger, out io.Writer) (config.Server, []config.Server, error) {
	if errs := hooks.CheckConfig(cfg); len(errs) > 0 {
		return config.Server{}, nil, errors.Join(errs...)
	}
	for _, b := range cfg.Binlogs {
		// MHA reads binlog servers only on its GTID (auto-position) path;
		// gomha does not read them at all yet: say so rather than lose
		// silently what only a binlog server held.
		log.Warn("binlog server blocks are not used: a failover does not save events from binlog servers", "block", b.Block, "host", b.Hostname)
	}
	for _, err := range hooks.MissingReportScript(cfg) {
		// MHA starts, and logs an error when the report is sent.
		log.Warn("report_script cannot run; the failover report will not be sent", "err", err)
	}
	res := check.Repl(ctx, cfg, check.ReplOptions{
		SkipSSHCheck:        f.skipSSHCheck,
		IgnoreFailOnStart:   f.ignoreFailOnStart,
		SecondsBehindMaster: time.Duration(f.secondsBehindMaster) * time.Second,
	})
	printRepl(out, res, false)
	if fatal := check.StartBlockers(res, f.checkReplHealth); len(fatal) > 0 {
		return config.Server{}, nil, errors.New(strings.Join(fatal, "\n"))
	}
	t := res.Topology
	master := t.Master.Server
	// MHA's check_binlog: the node tools run in remote_workdir and find
	// the binlogs in master_binlog_dir.
	if err := nodeSelfTest(ctx, t.Master, f.skipSSHCheck); err != nil {
		return config.Server{}, nil, err
	}
	if err := hookStatus(ctx, master, hooks.Runner{Log: log, Timeout: f.fo.hookTimeout, InProcess: builtinHook}, log); err != nil {
		return config.Server{}, nil, err
	}
	if master.SecondaryCheckScript == "" {
		log.Warn("secondary_check_script is not defined: the master's failure is confirmed through the replicas only.")
	} else if fails := checkSecondaryHosts(ctx, master, check.DialSSH, out); len(fails) > 0 {
		return config.Server{}, nil, errors.New(strings.Join(fails, "\n"))
	}
	var replicas []config.Server
	for _, n := range t.Nodes {
		if n.Role == topology.RoleReplica && n.Alive() {
			replicas = append(replicas, n.Server)
		}
	}
	if master.FenceLease > 0 {
		// gomha only: the fencing lease's watchdog on the master's host,
		// healthy before monitoring starts.
		bin, err := nodeBinary()
		if err != nil {
			return config.Server{}, nil, err
		}
		vip, dev := lease.VIPFromHook(master.MasterIPFailoverScript)
		if _, err := lease.Ensure(ctx, lease.Target{Config: cfg, Master: master, Peers: replicas, NodeBinary: bin, VIP: vip, VIPDev: dev}, log); err != nil {
			return config.Server{}, nil, fmt.Errorf("fence_lease=%d: cannot run the fencing watchdog on the master %s: %w", int(master.FenceLease/time.Second), master.Hostname, err)
		}
		// A watchdog belongs on the master only. One left on a replica
		// (an old master that was demoted, then rejoined) would set
		// read_only=1 again right after that replica is promoted.
		var wg sync.WaitGroup
		for _, r := range replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := lease.Release(ctx, r); err != nil {
					log.Warn("cannot stop a fencing watchdog left on a replica; stop it by hand (mha-node watchdog --stop, then --clear) before it could be promoted", "host", r.Hostname, "err", err)
				}
			}()
		}
		wg.Wait()
	}
	return master, replicas, nil
}
