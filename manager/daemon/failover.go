package daemon

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

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/failover"
	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/journal"
	"github.com/gomha/gomha/manager/lease"
	"github.com/gomha/gomha/manager/mhalog"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/manager/statefile"
)

// FailoverOptions are the failover options masterha_manager forwards and
// masterha_master_switch --master_state=dead takes (mha-compat §2.1, §2.2),
// as the command line gave them.
type FailoverOptions struct {
	// LastFailoverMinute refuses a failover this many minutes after the
	// last one (<app>.failover.complete); IgnoreLastFailover deletes the
	// complete and error flags before checking them.
	LastFailoverMinute int
	IgnoreLastFailover bool
	// WaitOnFailoverError is how long (seconds) 51:FAILOVER_ERROR stays
	// visible before the command exits.
	WaitOnFailoverError  int
	SkipSaveMasterBinlog bool
	// RemoveDeadMasterConf removes the dead master's block from the
	// configuration file after a successful failover.
	RemoveDeadMasterConf bool
	SkipChangeMaster     bool
	SkipDisableReadOnly  bool
	// WaitUntilGTIDInSync and IgnoreBinlogServer are accepted for MHA
	// compatibility.
	WaitUntilGTIDInSync int
	IgnoreBinlogServer  bool
	// NewMasterHost and NewMasterPort promote this server, without fallback.
	NewMasterHost string
	NewMasterPort int
	// Workdir overrides manager_workdir; LogOutput overrides manager_log.
	Workdir   string
	LogOutput string
	// LogFormat is --log_format: LogFormatMHA, LogFormatText, LogFormatJSON
	// or "" (MHA's for a file, text on standard error).
	LogFormat string
	// HookTimeout kills a user hook still running after it; 0: no limit.
	HookTimeout time.Duration
}

// reportTimeout bounds report_script when --hook_timeout is not set: a
// mailer that hangs must not keep `mha manager` from monitoring the new
// master (the failover is over and recorded by then).
const reportTimeout = 2 * time.Minute

// WorkdirOf is the manager workdir: the flag, else the configuration's,
// else /var/tmp.
func (f *FailoverOptions) WorkdirOf(cfg *config.Config) string {
	if f.Workdir != "" {
		return f.Workdir
	}
	if cfg.Default.ManagerWorkdir != "" {
		return cfg.Default.ManagerWorkdir
	}
	return "/var/tmp"
}

// OpenLog opens the cluster's manager log: LogOutput, else manager_log,
// else stderr, in LogFormat. It returns the logger, where it writes (the
// failover report goes there too) and a closer for the file.
func (f *FailoverOptions) OpenLog(cfg *config.Config, stderr io.Writer) (*slog.Logger, io.Writer, func(), error) {
	path := f.LogOutput
	if path == "" {
		path = cfg.Default.ManagerLog
	}
	format := f.LogFormat
	if format == "" && path != "" {
		format = LogFormatMHA // manager_log: MHA's format, as tools grep it
	}
	var w io.Writer = stderr
	closer := func() {}
	if path != "" {
		fh, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return nil, nil, nil, &ExitError{Code: 1, Err: fmt.Errorf("open manager log: %w", err)}
		}
		w, closer = fh, func() { fh.Close() }
	}
	h, err := NewLogHandler(w, format)
	if err != nil {
		closer()
		return nil, nil, nil, &ExitError{Code: 1, Err: err}
	}
	return slog.New(h).With("cluster", cfg.App), w, closer, nil
}

// NewLogHandler returns the slog handler of a --log_format: LogFormatMHA,
// LogFormatText (also for ""), or LogFormatJSON, at level info.
func NewLogHandler(w io.Writer, format string) (slog.Handler, error) {
	switch format {
	case LogFormatMHA:
		return mhalog.New(w, slog.LevelInfo), nil
	case "", LogFormatText:
		return slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}), nil
	case LogFormatJSON:
		return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}), nil
	}
	return nil, fmt.Errorf("--log_format=%q: want mha, text or json", format)
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
	// LogFormatMHA is MHA's "<ctime> - [info] message" with the
	// attributes appended (the default for manager_log).
	LogFormatMHA = "mha"
	// LogFormatText is slog's key=value text (the default on stderr).
	LogFormatText = "text"
	// LogFormatJSON is slog's JSON, one object a line.
	LogFormatJSON = "json"
)

// NodeBinary is the mha-node executable the failover installs on the
// database hosts: $GOMHA_NODE_BINARY, else mha-node next to this program.
func NodeBinary() (string, error) {
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
	flags        FailoverOptions
	dead         config.Server
	sshReachable sshexec.Reach
	// detectedAt is when the death was confirmed (zero for a manual
	// switch): the fence_lease is dated from it.
	detectedAt time.Time
	// hung: the detection saw the dead master's port accept without a
	// greeting (fence.Options.Hung); silent, that every replica found its
	// host silent (the fencer's MySQL attempt is then short).
	hung, silent bool
	// terms are the fencing watchdog's lease terms as it reported them at
	// start (zero: the compiled budget, for a manual switch).
	terms lease.Terms
	// gate is failover.Options.Gate: nil without the standby managers'
	// lock.
	gate func(ctx context.Context, step string) error
	log  *slog.Logger
	// logOut is where the report is printed (the log's destination).
	logOut io.Writer
	health healthFile
	// inProcess runs the built-in hooks inside the manager (Tools).
	inProcess func(ctx context.Context, argv []string, out io.Writer) (int, bool)
}

// run performs the failover and returns its exit code (0, 10 or 1) and the
// result (nil when it did not start).
func (fr *failoverRun) run(ctx context.Context) (int, *failover.Result, error) {
	workdir := fr.flags.WorkdirOf(fr.cfg)
	app := fr.cfg.App
	if err := os.MkdirAll(workdir, 0o750); err != nil {
		return 1, nil, fmt.Errorf("create manager workdir: %w", err)
	}
	if err := statefile.CheckWorkdir(workdir); err != nil {
		return 1, nil, err
	}
	if err := statefile.CheckLastFailover(workdir, app, fr.flags.LastFailoverMinute, fr.flags.IgnoreLastFailover, time.Now()); err != nil {
		return 1, nil, err
	}
	bin, err := NodeBinary()
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
	runner := hooks.Runner{Log: fr.log, Timeout: fr.flags.HookTimeout, InProcess: fr.inProcess}
	res := failover.Run(ctx, failover.Options{
		Journal:              jr,
		Gate:                 fr.gate,
		Config:               fr.cfg,
		DeadMasterHost:       fr.dead.Hostname,
		DeadMasterPort:       fr.dead.Port,
		SSHReachable:         fr.sshReachable,
		NewMasterHost:        fr.flags.NewMasterHost,
		NewMasterPort:        fr.flags.NewMasterPort,
		Workdir:              workdir,
		SkipSaveMasterBinlog: fr.flags.SkipSaveMasterBinlog,
		SkipChangeMaster:     fr.flags.SkipChangeMaster,
		SkipDisableReadOnly:  fr.flags.SkipDisableReadOnly,
		NodeBinary:           bin,
		Hooks:                runner,
		HookTimeout:          fr.flags.HookTimeout,
		DoubleCheckTimeout:   fr.doubleCheckTimeout(),
		Fencer:               fencer{cfg: fr.cfg, lastContact: fr.detectedAt, hung: fr.hung, silent: fr.silent, terms: fr.terms, log: fr.log},
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
	if res.Code == failover.ExitOK && fr.flags.RemoveDeadMasterConf {
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
	if fr.flags.WaitOnFailoverError > 0 {
		sleepCtx(ctx, time.Duration(fr.flags.WaitOnFailoverError)*time.Second)
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
	if fr.flags.HookTimeout > 0 {
		bound = fr.flags.HookTimeout
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bound)
	defer cancel()
	out, err := (hooks.Runner{Log: fr.log, Timeout: fr.flags.HookTimeout}).Run(ctx, "report_script", cmd, hooks.ReportArgs(r))
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
	return &ExitError{Code: code, Err: err}
}
