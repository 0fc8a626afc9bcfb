package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/cmd/internal/mhacli"
	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/daemon"
	"github.com/gomha/gomha/manager/httpapi"
	"github.com/gomha/gomha/manager/metrics"
)

// managerFlags are `mha manager`'s (masterha_manager's) flags.
type managerFlags struct {
	confs, confDirs []string
	global          string
	fo              daemon.FailoverOptions
	start           daemon.StartOptions
	interactive     int
	restartDelay    time.Duration
	// http and httpToken: the HTTP API (--http, --http_token_file).
	http, httpToken string
	// consulLock, consulAddr, consulPrefix: the standby managers' lock.
	consulLock               bool
	consulAddr, consulPrefix string
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
		Use:   "manager --conf=FILE [--conf=FILE]... [--conf_dir=DIR]...",
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
			"refused even with --resume: the DBA checks by hand.\n\n" +
			"Many clusters (gomha): several --conf, or --conf_dir (every *.cnf in it, one cluster per\n" +
			"file), run one manager per cluster in this process, each with its own manager_workdir,\n" +
			"manager_log and state files; a cluster whose manager ends is started again after\n" +
			"--restart_delay (a minute); SIGHUP reads the files again (added: started, removed: stopped,\n" +
			"changed: restarted, never in the middle of a failover) and SIGINT/SIGTERM stop every cluster\n" +
			"(exit 0). Two files with the same application name or state files are refused. One --conf\n" +
			"alone behaves as MHA.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runManager(cmd, f)
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&f.confs, "conf", nil, "application configuration file (MHA format); gomha: may be repeated, one cluster each")
	fs.StringArrayVar(&f.confDirs, "conf_dir", nil, "gomha: directory of application configuration files (*.cnf), one cluster each; may be repeated")
	fs.StringVar(&f.global, "global_conf", config.DefaultGlobalFile, "global configuration file; a missing one is skipped")
	addFailoverFlags(cmd, &f.fo)
	fs.IntVar(&f.start.WaitOnMonitorError, "wait_on_monitor_error", 0, "seconds to keep 31:CONFIG_ERROR visible before exiting")
	fs.BoolVar(&f.start.IgnoreFailOnStart, "ignore_fail_on_start", false, "tolerate dead servers that have ignore_fail=1 at start")
	fs.BoolVar(&f.start.SkipSSHCheck, "skip_ssh_check", false, "skip the SSH check between the servers at start")
	fs.BoolVar(&f.start.SkipSSHCheck, "skip_check_ssh", false, "alias of --skip_ssh_check")
	fs.BoolVar(&f.start.CheckReplHealth, "check_repl_health", false, "also require every replica's threads running and lag within --seconds_behind_master at start")
	fs.IntVar(&f.start.SecondsBehindMaster, "seconds_behind_master", 30, "largest replica lag accepted with --check_repl_health")
	fs.IntVar(&f.interactive, "interactive", 0, "accepted for MHA compatibility (the manager never asks)")
	fs.BoolVar(&f.start.Resume, "resume", false, "gomha: go on with a failover a killed manager left unfinished (<app>.failover.journal), when its journal allows it")
	fs.BoolVar(&f.start.MonitorOnly, "monitor_only", false, "exit with code 20 when the master is confirmed dead, without failing over")
	fs.BoolVar(&f.start.CheckOnly, "check_only", false, "run the start-up checks (check-repl's) and exit 0 or 1, without monitoring")
	fs.StringVar(&f.http, "http", "", "gomha: serve /healthz, /api/v1/clusters[/{app}] and /metrics on ADDR:PORT (off by default; beyond loopback --http_token_file is required)")
	fs.StringVar(&f.httpToken, "http_token_file", "", "gomha: file holding the bearer token the HTTP API requires (mode 0600 or 0640)")
	fs.BoolVar(&f.consulLock, "consul_lock", false, "gomha: act for a cluster only while holding its Consul lock (<prefix>/<app>/leader); other managers with the same flag stand by and take over within about 7 s when this one dies")
	fs.StringVar(&f.consulAddr, "consul_addr", "", "gomha, with --consul_lock: the Consul agent's HTTP API (default CONSUL_HTTP_ADDR, else http://127.0.0.1:8500; CONSUL_HTTP_TOKEN and the other CONSUL_* variables are honoured)")
	fs.StringVar(&f.consulPrefix, "consul_lock_prefix", "gomha", "gomha, with --consul_lock: the KV prefix of the locks")
	fs.DurationVar(&f.restartDelay, "restart_delay", daemon.DefaultRestartDelay, "gomha, several clusters: how long a cluster whose manager ended waits before it starts again")
	return cmd
}

func runManager(cmd *cobra.Command, f managerFlags) error {
	ctx := cmd.Context()
	exitAfterFailover := filepath.Base(os.Args[0]) == "masterha_manager"
	if err := f.check(exitAfterFailover); err != nil {
		return err
	}
	// MHA makes the manager a process-group leader so that masterha_stop
	// can signal it and its children at once.
	_ = syscall.Setpgid(0, 0)
	h, err := daemon.NewLogHandler(cmd.ErrOrStderr(), f.fo.LogFormat)
	if err != nil {
		return &mhacli.ExitError{Code: 1, Err: err}
	}
	var rec *metrics.Recorder
	if f.http != "" {
		rec = metrics.New()
	}
	var lock *daemon.LockOptions
	if f.consulLock {
		if exitAfterFailover {
			return &mhacli.ExitError{Code: 1, Err: errors.New("--consul_lock is gomha's: run `mha manager`, not masterha_manager")}
		}
		lock = &daemon.LockOptions{Addr: f.consulAddr, Prefix: f.consulPrefix, Version: mhacli.Version}
	}
	d, err := daemon.New(ctx, daemon.Options{
		Lock:              lock,
		Metrics:           rec,
		Confs:             f.confs,
		ConfDirs:          f.confDirs,
		GlobalConf:        f.global,
		Start:             f.start,
		Failover:          f.fo,
		ExitAfterFailover: exitAfterFailover,
		Stdout:            cmd.OutOrStdout(),
		Stderr:            cmd.ErrOrStderr(),
		Log:               slog.New(h),
		Tools:             daemonTools(),
		RestartDelay:      f.restartDelay,
	})
	if err != nil {
		return exitError(err)
	}
	if f.http != "" {
		srv, err := httpapi.New(httpapi.Config{Addr: f.http, TokenFile: f.httpToken, Source: d.HTTPSource(), Metrics: rec.Handler(),
			Secrets: d.Secrets, Logger: slog.New(h)})
		if err != nil {
			return &mhacli.ExitError{Code: 1, Err: err}
		}
		if err := srv.Listen(); err != nil {
			return &mhacli.ExitError{Code: 1, Err: err}
		}
		hctx, stop := context.WithCancel(ctx)
		d.Add(func() error { return srv.Run(hctx) }, func(error) { stop() })
	}
	return exitError(d.Run(ctx))
}

// check refuses a manager without configuration, and masterha_manager
// (mhaName) with anything but MHA's one --conf.
func (f managerFlags) check(mhaName bool) error {
	switch {
	case len(f.confs) == 0 && len(f.confDirs) == 0:
		return &mhacli.ExitError{Code: 1, Err: errors.New("--conf=<server config file> must be set")}
	case mhaName && (len(f.confs) != 1 || len(f.confDirs) > 0):
		// MHA's one-cluster contract.
		return &mhacli.ExitError{Code: 1, Err: errors.New("masterha_manager takes exactly one --conf (run `mha manager` for several clusters)")}
	}
	return nil
}

// daemonTools are the helpers the daemon takes from this program: the
// built-in hooks in-process, and the start-up check of the hosts of
// secondary_check_script.
func daemonTools() daemon.Tools {
	return daemon.Tools{
		InProcessHook: builtinHook,
		CheckSecondaryHosts: func(ctx context.Context, master config.Server, out io.Writer) []string {
			return checkSecondaryHosts(ctx, master, check.DialSSH, out)
		},
	}
}

// exitError turns the daemon's exit error into the command's.
func exitError(err error) error {
	var de *daemon.ExitError
	if errors.As(err, &de) {
		return &mhacli.ExitError{Code: de.Code, Err: de.Err}
	}
	return err
}
