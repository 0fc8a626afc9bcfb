package daemon

import (
	"context"
	"fmt"
	"io"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/failover"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/manager/statefile"
)

// Manual is a dead-master failover asked for by hand
// (masterha_master_switch --master_state=dead): the same failover as the
// manager's, with its crash guard and --resume.
type Manual struct {
	// Config is the cluster's configuration.
	Config *config.Config
	// Failover are the failover options.
	Failover FailoverOptions
	// DeadHost (hostname or ip) and DeadPort name the dead master.
	DeadHost string
	DeadPort int
	// SSHReachable is what the operator says of SSH to the dead master.
	SSHReachable sshexec.Reach
	// Resume goes on with a failover a killed manager left unfinished.
	Resume bool
	// Confirm, when set, is asked before the failover starts; an error
	// stops it.
	Confirm func(dead config.Server) error
	// Stderr receives the log when it has no file, and the crash guard's
	// messages.
	Stderr io.Writer
	// Tools are the program's helpers.
	Tools Tools
}

// Run fails the dead master over. It returns MHA's exit codes in an
// *ExitError (nil on success).
func (m Manual) Run(ctx context.Context) error {
	cfg := m.Config
	dead, err := failover.FindServer(cfg, m.DeadHost, m.DeadPort)
	if err != nil {
		return &ExitError{Code: 1, Err: fmt.Errorf("dead master: %w", err)}
	}
	f := m.Failover
	log, logOut, closeLog, err := f.OpenLog(cfg, m.Stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	// A failover a killed manager left unfinished is not started over
	// blindly (see crashGuard).
	workdir := f.WorkdirOf(cfg)
	plan, err := crashGuard(workdir, cfg.App, m.Resume, log, echoOf(logOut, m.Stderr))
	if err != nil {
		return err
	}
	if plan != nil {
		if jd, _ := parseHostLabel(plan.DeadMaster); plan.DeadMaster != "" && jd != dead.Hostname {
			return &ExitError{Code: 1, Err: fmt.Errorf("--resume: the unfinished failover is of %s, not of %s", plan.DeadMaster, hostInfo(dead))}
		}
		clearForResume(workdir, cfg.App, log)
		if plan.Action == resumeRecover {
			health := statefile.OpenHealth(workdir, cfg.App)
			defer health.Remove()
			_ = health.Set(statefile.FailoverRunning, dead.Hostname)
			code, _, rerr := resumeRecovery(context.WithoutCancel(ctx), cfg, workdir, plan, log, logOut)
			return exitFor(code, rerr)
		}
	}
	if m.Confirm != nil {
		if err := m.Confirm(dead); err != nil {
			return &ExitError{Code: 1, Err: err}
		}
	}
	health := statefile.OpenHealth(workdir, cfg.App)
	defer health.Remove()
	fr := &failoverRun{cfg: cfg, flags: f, dead: dead, sshReachable: m.SSHReachable, log: log, logOut: logOut, health: health, inProcess: m.Tools.InProcessHook}
	// Once started, the failover runs to its end (see managerLoop.run).
	code, _, ferr := fr.run(context.WithoutCancel(ctx))
	return exitFor(code, ferr)
}
