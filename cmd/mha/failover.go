package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/cmd/internal/mhacli"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/failover"
	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/journal"
	"github.com/gomha/gomha/manager/mhalog"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/manager/statefile"
)

// failoverFlags are the failover options masterha_manager forwards and
// masterha_master_switch --master_state=dead takes (mha-compat §2.1, §2.2).
type failoverFlags struct {
	lastFailoverMinute   int
	ignoreLastFailover   bool
	waitOnFailoverError  int
	skipSaveMasterBinlog bool
	removeDeadMasterConf bool
	skipChangeMaster     bool
	skipDisableReadOnly  bool
	waitUntilGTIDInSync  int
	ignoreBinlogServer   bool
	newMasterHost        string
	newMasterPort        int
	workdir              string
	logOutput            string
	logFormat            string // --log_format: mha, text, "" (by destination)
	hookTimeout          time.Duration
}

func (f *failoverFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.IntVar(&f.lastFailoverMinute, "last_failover_minute", 480, "refuse a failover this many minutes after the last one (<app>.failover.complete)")
	fs.BoolVar(&f.ignoreLastFailover, "ignore_last_failover", false, "delete <app>.failover.complete and .failover.error before checking them")
	fs.IntVar(&f.waitOnFailoverError, "wait_on_failover_error", 0, "seconds to keep 51:FAILOVER_ERROR visible before exiting")
	fs.BoolVar(&f.skipSaveMasterBinlog, "skip_save_master_binlog", false, "do not read the dead master's binlog over SSH")
	fs.BoolVar(&f.removeDeadMasterConf, "remove_dead_master_conf", false, "remove the dead master's block from --conf after a successful failover")
	fs.BoolVar(&f.removeDeadMasterConf, "remove_orig_master_conf", false, "alias of --remove_dead_master_conf")
	fs.BoolVar(&f.skipChangeMaster, "skip_change_master", false, "recover the new master only; leave the replicas as they are")
	fs.BoolVar(&f.skipDisableReadOnly, "skip_disable_read_only", false, "leave read_only=1 on the new master")
	fs.IntVar(&f.waitUntilGTIDInSync, "wait_until_gtid_in_sync", 1, "accepted for MHA compatibility (GTID replicas are always waited for until they run)")
	fs.BoolVar(&f.ignoreBinlogServer, "ignore_binlog_server_error", false, "accepted for MHA compatibility (binlog servers are not used)")
	fs.StringVar(&f.newMasterHost, "new_master_host", "", "promote this server (hostname or ip), without fallback")
	fs.IntVar(&f.newMasterPort, "new_master_port", 3306, "port of --new_master_host")
	fs.StringVar(&f.workdir, "manager_workdir", "", "manager workdir (default: manager_workdir of the configuration, else /var/tmp)")
	fs.StringVar(&f.workdir, "workdir", "", "alias of --manager_workdir")
	fs.StringVar(&f.logOutput, "manager_log", "", "log file (default: manager_log of the configuration, else standard error)")
	fs.StringVar(&f.logOutput, "log_output", "", "alias of --manager_log")
	fs.StringVar(&f.logFormat, "log_format", "", "gomha: mha (\"<time> - [info] message key=value\", the default for a log file) or text (slog key=value, the default on standard error)")
	fs.DurationVar(&f.hookTimeout, "hook_timeout", 0, hookTimeoutUsage)
}

// hookTimeoutUsage is the --hook_timeout flag's help, shared by the
// commands that run user hooks.
const hookTimeoutUsage = "gomha: kill a user hook (master_ip_failover_script, shutdown_script, report_script, ...) still running after this long, e.g. 5m; 0: no limit, as in MHA"

// reportTimeout bounds report_script when --hook_timeout is not set: a
// mailer that hangs must not keep `mha manager` from monitoring the new
// master (the failover is over and recorded by then).
const reportTimeout = 2 * time.Minute

// workdirOf is the manager workdir: the flag, else the configuration's.
func (f *failoverFlags) workdirOf(cfg *config.Config) string {
	if f.workdir != "" {
		return f.workdir
	}
	if cfg.Default.ManagerWorkdir != "" {
		return cfg.Default.ManagerWorkdir
	}
	return "/var/tmp"
}

// openLog opens the manager log: the flag, else manager_log, else stderr.
// The returned closer closes the file.
func (f *failoverFlags) openLog(cfg *config.Config, stderr io.Writer) (*slog.Logger, io.Writer, func(), error) {
	path := f.logOutput
	if path == "" {
		path = cfg.Default.ManagerLog
	}
	format := f.logFormat
	if format == "" && path != "" {
		format = logFormatMHA // manager_log: MHA's format, as tools grep it
	}
	var w io.Writer = stderr
	closer := func() {}
	if path != "" {
		fh, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return nil, nil, nil, &mhacli.ExitError{Code: 1, Err: fmt.Errorf("open manager log: %w", err)}
		}
		w, closer = fh, func() { fh.Close() }
	}
	switch format {
	case logFormatMHA:
		return slog.New(mhalog.New(w, slog.LevelInfo)).With("cluster", cfg.App), w, closer, nil
	case "", logFormatText:
		return logger(w).With("cluster", cfg.App), w, closer, nil
	}
	closer()
	return nil, nil, nil, &mhacli.ExitError{Code: 1, Err: fmt.Errorf("--log_format=%q: want mha or text", format)}
}

// doubleCheckTimeout is the failover's double-check connect timeout: short
// (recheckTimeout) for a master the replicas found silent or hung, MHA's
// second otherwise.
func (fr *failoverRun) doubleCheckTimeout() time.Duration {
	if fr.hung || fr.silent {
		return recheckTimeout
	}
	return time.Second
}

// Log formats of --log_format.
const (
	// logFormatMHA is MHA's "<ctime> - [info] message" with the
	// attributes appended (the default for manager_log).
	logFormatMHA = "mha"
	// logFormatText is slog's key=value text (the default on stderr).
	logFormatText = "text"
)

// nodeBinary is the mha-node executable the failover installs on the
// database hosts: $GOMHA_NODE_BINARY, else mha-node next to this program.
func nodeBinary() (string, error) {
	if p := os.Getenv("GOMHA_NODE_BINARY"); p != "" {
		return p, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	self, _ = filepath.EvalSymlinks(self)
	p := filepath.Join(filepath.Dir(self), "mha-node")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("node tools: %s not found (install mha-node next to mha, or set GOMHA_NODE_BINARY): %w", p, err)
	}
	return p, nil
}

// failoverRun is one dead-master failover with everything around it that
// MHA does: the last-failover guard, the status file, the error and
// complete flags, the report and report_script, --remove_dead_master_conf.
type failoverRun struct {
	cfg          *config.Config
	flags        failoverFlags
	dead         config.Server
	sshReachable sshexec.Reach
	// detectedAt is when the death was confirmed (zero for a manual
	// switch): the fence_lease is dated from it.
	detectedAt time.Time
	// hung: the detection saw the dead master's port accept without a
	// greeting (fence.Options.Hung); silent, that every replica found its
	// host silent (the fencer's MySQL attempt is then short).
	hung, silent bool
	log          *slog.Logger
	// logOut is where the report is printed (the log's destination).
	logOut io.Writer
	health *statefile.Health
}

// run performs the failover and returns its exit code (0, 10 or 1) and the
// result (nil when it did not start).
func (fr *failoverRun) run(ctx context.Context) (int, *failover.Result, error) {
	workdir := fr.flags.workdirOf(fr.cfg)
	app := fr.cfg.App
	if err := os.MkdirAll(workdir, 0o750); err != nil {
		return 1, nil, fmt.Errorf("create manager workdir: %w", err)
	}
	if err := statefile.CheckWorkdir(workdir); err != nil {
		return 1, nil, err
	}
	if err := statefile.CheckLastFailover(workdir, app, fr.flags.lastFailoverMinute, fr.flags.ignoreLastFailover, time.Now()); err != nil {
		return 1, nil, err
	}
	bin, err := nodeBinary()
	if err != nil {
		return 1, nil, err
	}
	if fr.health != nil {
		if err := fr.health.Set(statefile.FailoverRunning, fr.dead.Hostname); err != nil {
			fr.log.Warn("cannot write the status file", "err", err)
		}
	}
	// The intent journal: a failover that cannot record its steps does not
	// start (a crash in the middle would leave no trace).
	jr, err := journal.Create(workdir, app, map[string]string{
		"dead_master": fr.dead.Label(),
		"pid":         fmt.Sprint(os.Getpid()),
		// What a resumed failover needs to run again (crashGuard).
		"ssh_reachable": fmt.Sprint(fr.sshReachable.MHA()),
	})
	if err != nil {
		return 1, nil, err
	}
	runner := hooks.Runner{Log: fr.log, Timeout: fr.flags.hookTimeout, InProcess: builtinHook}
	res := failover.Run(ctx, failover.Options{
		Journal:              jr,
		Config:               fr.cfg,
		DeadMasterHost:       fr.dead.Hostname,
		DeadMasterPort:       fr.dead.Port,
		SSHReachable:         fr.sshReachable,
		NewMasterHost:        fr.flags.newMasterHost,
		NewMasterPort:        fr.flags.newMasterPort,
		Workdir:              workdir,
		SkipSaveMasterBinlog: fr.flags.skipSaveMasterBinlog,
		SkipChangeMaster:     fr.flags.skipChangeMaster,
		SkipDisableReadOnly:  fr.flags.skipDisableReadOnly,
		NodeBinary:           bin,
		Hooks:                runner,
		HookTimeout:          fr.flags.hookTimeout,
		DoubleCheckTimeout:   fr.doubleCheckTimeout(),
		Fencer:               fencer{cfg: fr.cfg, lastContact: fr.detectedAt, hung: fr.hung, silent: fr.silent, log: fr.log},
		Log:                  fr.log,
	})
	if err := jr.End(fmt.Sprint(res.Code)); err != nil {
		fr.log.Error("cannot close the failover journal", "err", err)
	}
	report := res.Report(app)
	fmt.Fprint(fr.logOut, "\n"+report)

	switch {
	case res.Code == failover.ExitError && res.ShutdownStarted:
		if err := statefile.MarkError(workdir, app); err != nil {
			fr.log.Error("cannot create the failover error flag", "err", err)
		}
	case res.Code != failover.ExitError:
		if err := statefile.MarkComplete(workdir, app); err != nil {
			fr.log.Error("cannot create the failover complete flag", "err", err)
		}
		_ = statefile.ClearRefusal(workdir, app)
	}
	if res.Code == failover.ExitOK && fr.flags.removeDeadMasterConf {
		if block, err := config.RemoveServer(fr.cfg.File, fr.dead.Hostname, fr.dead.Port); err != nil {
			fr.log.Error("--remove_dead_master_conf: cannot remove the dead master's block", "file", fr.cfg.File, "err", err)
		} else {
			fr.log.Info("Removed the dead master's block from the configuration.", "file", fr.cfg.File, "block", block)
		}
	}
	if res.ShutdownStarted {
		fr.sendReport(ctx, res)
	}
	fr.finalizeOnError(ctx, res.Code)
	if res.Code == failover.ExitError {
		return 1, res, res.Err
	}
	return res.Code, res, nil
}

// finalizeOnError is MHA's finalize_on_error, run for any non-zero code,
// a partial failover (10) included: 51:FAILOVER_ERROR in the status file,
// then --wait_on_failover_error seconds.
func (fr *failoverRun) finalizeOnError(ctx context.Context, code int) {
	if code == failover.ExitOK || fr.health == nil {
		return
	}
	_ = fr.health.Set(statefile.FailoverError, fr.dead.Hostname)
	if fr.flags.waitOnFailoverError > 0 {
		sleepCtx(ctx, time.Duration(fr.flags.waitOnFailoverError)*time.Second)
	}
}

// sendReport calls report_script (the dead master's) with MHA's arguments.
func (fr *failoverRun) sendReport(ctx context.Context, res *failover.Result) {
	cmd := fr.dead.ReportScript
	if cmd == "" {
		return
	}
	r := hooks.Report{
		OrigMasterHost: fr.dead.Hostname,
		Conf:           fr.cfg.File,
		Subject:        res.Subject(fr.cfg.App),
		Body:           strings.TrimRight(res.ReportBody(), "\n"),
	}
	if !res.MasterActivatedAt.IsZero() {
		r.NewMasterHost = res.NewMaster.Hostname
		r.NewSlaveHosts = res.Recovered
	}
	// The report is sent whatever happened; a report that cannot be sent
	// does not change the failover's outcome.
	bound := reportTimeout
	if fr.flags.hookTimeout > 0 {
		bound = fr.flags.hookTimeout
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bound)
	defer cancel()
	out, err := (hooks.Runner{Log: fr.log, Timeout: fr.flags.hookTimeout}).Run(ctx, "report_script", cmd, hooks.ReportArgs(r))
	if err != nil {
		fr.log.Error("report_script could not run", "err", err)
		return
	}
	fr.log.Info("report_script ended", "code", out.Code)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// exitFor turns a failover's code and error into the command's result.
func exitFor(code int, err error) error {
	if code == 0 {
		return nil
	}
	if err != nil && errors.Is(err, context.Canceled) {
		err = fmt.Errorf("interrupted: %w", err)
	}
	return &mhacli.ExitError{Code: code, Err: err}
}
