package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/cmd/internal/mhacli"
	"github.com/gomha/gomha/manager/failover"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/manager/statefile"
)

// deadSwitch runs `mha switch --master_state=dead` (masterha_master_switch
// --master_state=dead): a manual failover of a dead master, the same code as
// the manager's failover. --interactive=1 (MHA's default) asks before
// starting.
func deadSwitch(ctx context.Context, cmd *cobra.Command, o switchOptions) error {
	if o.deadMasterHost == "" {
		return &mhacli.ExitError{Code: 1, Err: errors.New("--dead_master_host=<dead_master_hostname> must be set")}
	}
	cfg, err := o.conf.load(ctx, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	f := failoverFlags{
		lastFailoverMinute:   o.lastFailoverMinute,
		ignoreLastFailover:   o.ignoreLastFailover,
		waitOnFailoverError:  o.waitOnFailoverError,
		skipSaveMasterBinlog: o.skipSaveMasterBinlog,
		removeDeadMasterConf: o.removeOrigMasterConf,
		skipChangeMaster:     o.skipChangeMaster,
		skipDisableReadOnly:  o.skipDisableReadOnly,
		waitUntilGTIDInSync:  o.waitUntilGTIDInSync,
		ignoreBinlogServer:   o.ignoreBinlogServerError,
		newMasterHost:        o.newMasterHost,
		newMasterPort:        o.newMasterPort,
		workdir:              o.workdir,
		logOutput:            o.logOutput,
		hookTimeout:          o.hookTimeout,
	}
	if o.interactive != 0 {
		f.logOutput = "" // MHA: interactive runs log to the terminal
	}
	host := o.deadMasterHost
	if o.deadMasterIP != "" {
		host = o.deadMasterIP
	}
	dead, err := failover.FindServer(cfg, host, o.deadMasterPort)
	if err != nil {
		return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("dead master: %w", err)}
	}
	log, logOut, closeLog, err := f.openLog(cfg, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer closeLog()
	// A failover a killed manager left unfinished is not started over
	// blindly (see crashGuard).
	workdir := f.workdirOf(cfg)
	plan, err := crashGuard(workdir, cfg.App, o.resume, log, echoOf(logOut, cmd.ErrOrStderr()))
	if err != nil {
		return err
	}
	if plan != nil {
		if jd, _ := parseHostLabel(plan.DeadMaster); plan.DeadMaster != "" && jd != dead.Hostname {
			return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("--resume: the unfinished failover is of %s, not of %s", plan.DeadMaster, hostInfo(dead))}
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
	if o.interactive != 0 {
		fmt.Fprintf(cmd.OutOrStdout(), "Master %s is dead. Proceed? (yes/NO): ", dead.Label())
		line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		if strings.TrimSpace(strings.ToLower(line)) != "yes" {
			return &mhacli.ExitError{Code: 1, Err: errors.New("not confirmed: stopping")}
		}
	}
	health := statefile.OpenHealth(workdir, cfg.App)
	defer health.Remove()
	fr := &failoverRun{cfg: cfg, flags: f, dead: dead, sshReachable: sshexec.FromMHA(o.sshReachable), log: log, logOut: logOut, health: health}
	// Once started, the failover runs to its end (see runManager).
	code, _, ferr := fr.run(context.WithoutCancel(ctx))
	return exitFor(code, ferr)
}
