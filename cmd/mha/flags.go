package main

import (
	"github.com/spf13/cobra"

	"github.com/gomha/gomha/manager/daemon"
)

// addFailoverFlags declares the failover options masterha_manager forwards
// and masterha_master_switch takes (mha-compat §2.1, §2.2), once for both
// commands.
func addFailoverFlags(cmd *cobra.Command, f *daemon.FailoverOptions) {
	fs := cmd.Flags()
	fs.IntVar(&f.LastFailoverMinute, "last_failover_minute", 480, "refuse a failover this many minutes after the last one (<app>.failover.complete)")
	fs.BoolVar(&f.IgnoreLastFailover, "ignore_last_failover", false, "delete <app>.failover.complete and .failover.error before checking them")
	fs.IntVar(&f.WaitOnFailoverError, "wait_on_failover_error", 0, "seconds to keep 51:FAILOVER_ERROR visible before exiting")
	fs.BoolVar(&f.SkipSaveMasterBinlog, "skip_save_master_binlog", false, "do not read the dead master's binlog over SSH")
	fs.BoolVar(&f.RemoveDeadMasterConf, "remove_dead_master_conf", false, "remove the dead (or, switching, the old) master's block from --conf afterwards")
	fs.BoolVar(&f.RemoveDeadMasterConf, "remove_orig_master_conf", false, "alias of --remove_dead_master_conf")
	fs.BoolVar(&f.SkipChangeMaster, "skip_change_master", false, "recover the new master only; leave the replicas as they are")
	fs.BoolVar(&f.SkipDisableReadOnly, "skip_disable_read_only", false, "leave read_only=1 on the new master")
	fs.IntVar(&f.WaitUntilGTIDInSync, "wait_until_gtid_in_sync", 1, "accepted for MHA compatibility (GTID replicas are always waited for until they run)")
	fs.BoolVar(&f.IgnoreBinlogServer, "ignore_binlog_server_error", false, "accepted for MHA compatibility (binlog servers are not used)")
	fs.StringVar(&f.NewMasterHost, "new_master_host", "", "promote this server (hostname or ip of a configured server), without fallback; default: MHA's selection rules")
	fs.IntVar(&f.NewMasterPort, "new_master_port", 3306, "port of --new_master_host")
	fs.StringVar(&f.Workdir, "manager_workdir", "", "manager workdir (default: manager_workdir of the configuration, else /var/tmp)")
	fs.StringVar(&f.Workdir, "workdir", "", "alias of --manager_workdir")
	fs.StringVar(&f.LogOutput, "manager_log", "", "log file (default: manager_log of the configuration, else standard error)")
	fs.StringVar(&f.LogOutput, "log_output", "", "alias of --manager_log")
	fs.StringVar(&f.LogFormat, "log_format", "", "gomha: mha (\"<time> - [info] message key=value\", the default for a log file), text (slog key=value, the default on standard error) or json (one object a line)")
	fs.DurationVar(&f.HookTimeout, "hook_timeout", 0, hookTimeoutUsage)
}

// hookTimeoutUsage is the --hook_timeout flag's help, shared by the
// commands that run user hooks.
const hookTimeoutUsage = "gomha: kill a user hook (master_ip_failover_script, shutdown_script, report_script, ...) still running after this long, e.g. 5m; 0: no limit, as in MHA"
