// Command mha is gomha's manager-side CLI: monitoring, failover, switch and
// the checks. Invoked through a masterha_* symlink it behaves as that MHA
// command, so MHA users' scripts and habits keep working.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/cmd/internal/mhacli"
)

// aliases maps MHA's command names to mha subcommands. Only commands gomha
// implements are listed.
var aliases = []mhacli.Alias{
	{MHAName: "masterha_check_repl", Subcommand: "check-repl"},
	{MHAName: "masterha_check_ssh", Subcommand: "check-ssh"},
	{MHAName: "masterha_conf_host", Subcommand: "conf-host"},
	{MHAName: "masterha_master_switch", Subcommand: "switch"},
	{MHAName: "masterha_manager", Subcommand: "manager"},
	{MHAName: "masterha_master_monitor", Subcommand: "master-monitor"},
	{MHAName: "masterha_check_status", Subcommand: "check-status"},
	{MHAName: "masterha_stop", Subcommand: "stop"},
	{MHAName: "masterha_secondary_check", Subcommand: "secondary-check"},
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "mha",
		Short: "gomha: MySQL/MariaDB master failover manager (MHA-compatible)",
		Long: "gomha watches a replication topology, fails over a dead master without losing what any\n" +
			"surviving host holds, and switches masters online. It reads MHA's configuration files and\n" +
			"runs MHA's hook scripts with the same arguments.",
		Version: fmt.Sprintf("%s (MHA %s compatible)", mhacli.Version, mhacli.MHAVersion),
	}
	root.AddCommand(newCheckReplCmd(), newCheckSSHCmd(), newConfHostCmd(), newLinkCmd(),
		newCheckStatusCmd(), newStopCmd(), newSecondaryCheckCmd())
	root.AddCommand(newHookCmd())
	root.AddCommand(newManagerCmd(), newMasterMonitorCmd())
	root.AddCommand(newSwitchCmd())
	return root
}

func main() {
	os.Exit(mhacli.Execute(newRoot(), aliases))
}
