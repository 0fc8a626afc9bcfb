package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/cmd/internal/mhacli"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/daemon"
	"github.com/gomha/gomha/manager/sshexec"
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
	f := o.fo
	if o.interactive != 0 {
		f.LogOutput = "" // MHA: interactive runs log to the terminal
	}
	host := o.deadMasterHost
	if o.deadMasterIP != "" {
		host = o.deadMasterIP
	}
	m := daemon.Manual{
		Config:       cfg,
		Failover:     f,
		DeadHost:     host,
		DeadPort:     o.deadMasterPort,
		SSHReachable: sshexec.FromMHA(o.sshReachable),
		Resume:       o.resume,
		Stderr:       cmd.ErrOrStderr(),
		Tools:        daemonTools(),
	}
	if o.interactive != 0 {
		ask := asker(cmd.InOrStdin(), cmd.OutOrStdout())
		m.Confirm = func(dead config.Server) error {
			if yes, _ := ask(fmt.Sprintf("Master %s is dead. Proceed?", dead.Label()), false); !yes {
				return daemon.ErrNotConfirmed
			}
			return nil
		}
	}
	return exitError(m.Run(ctx))
}
