package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gomha/gomha/cmd/internal/mhacli"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/daemon"
	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/switchover"
)

// switchOptions are `mha switch` (masterha_master_switch) flags, for both
// master states. deadSwitch reads the conf, newMaster*, interactive,
// workdir and dead* fields.
type switchOptions struct {
	conf        confFlags
	masterState string // --master_state: alive or dead (required)
	interactive int    // --interactive (1: ask on stdin)
	// fo are the failover options (addFailoverFlags); both states read
	// NewMasterHost, NewMasterPort, Workdir, RemoveDeadMasterConf
	// (--remove_orig_master_conf) and HookTimeout.
	fo daemon.FailoverOptions

	// --master_state=alive
	origMasterIsNewSlave bool          // --orig_master_is_new_slave
	runningUpdatesLimit  int           // --running_updates_limit (1)
	runningSecondsLimit  int           // --running_seconds_limit (10)
	secondsBehindMaster  int           // --seconds_behind_master (30)
	skipLockAllTables    bool          // --skip_lock_all_tables
	lockAllTables        bool          // --lock_all_tables (gomha)
	flushTables          int           // --flush_tables (2)
	checkOnly            bool          // --check_only
	maxWriteBlock        time.Duration // --max_write_block (gomha, 2s)
	killBlocking         bool          // --kill_blocking (gomha)

	// --master_state=dead
	deadMasterHost string // --dead_master_host (required)
	deadMasterIP   string // --dead_master_ip
	deadMasterPort int    // --dead_master_port (3306)
	sshReachable   int    // --ssh_reachable (2 = unknown)
	resume         bool   // --resume (gomha)
}

// aliveFlags are the options --master_state=alive accepts; anything else is
// "Unknown options" there, as in MHA (mha-compat §2.2).
var aliveFlags = map[string]bool{
	"conf": true, "global-conf": true, "master-state": true, "new-master-host": true, "new-master-port": true,
	"interactive": true, "orig-master-is-new-slave": true, "running-updates-limit": true,
	"running-seconds-limit": true, "seconds-behind-master": true, "skip-lock-all-tables": true,
	"remove-orig-master-conf": true, "remove-dead-master-conf": true, "flush-tables": true, "check-only": true,
	"workdir": true, "manager-workdir": true, "max-write-block": true, "kill-blocking": true, "hook-timeout": true, "help": true,
}

func newSwitchCmd() *cobra.Command {
	var o switchOptions
	cmd := &cobra.Command{
		Use:   "switch --master_state=alive|dead --conf=FILE [options]",
		Short: "Switch the master online, or fail over a dead master by hand (masterha_master_switch)",
		Long: "--master_state=alive moves the master role to a replica while the master runs, for maintenance:\n" +
			"checks (no server down, replication healthy, no long updates), then writes are blocked on the\n" +
			"master (SET GLOBAL read_only=1; the global read lock too with --lock_all_tables), the new master\n" +
			"catches up and\n" +
			"becomes writable, and the other replicas (and with --orig_master_is_new_slave the old master) are\n" +
			"repointed. The write block is bounded by --max_write_block: past it, or on any failure before the\n" +
			"new master is writable, the switch rolls back (the old master is writable again, no replica was\n" +
			"touched, master_ip_online_change_script --command=start moves the address back) and exits 1.\n" +
			"--kill_blocking kills the master's sessions whose statement has run longer than\n" +
			"--running_updates_limit and keeps the write lock waiting (their transactions roll back).\n" +
			"With fence_lease, the old master's fencing watchdog is stopped before the write block (started\n" +
			"again by a rollback), one left on the new master is released, and the new master gets its own\n" +
			"once it is writable (mha-node next to mha, or $GOMHA_NODE_BINARY, is installed on it).\n" +
			"master_ip_online_change_script --command=start runs after the new master is writable, outside the\n" +
			"write block, with its own timeout; its failure exits 10 (move the address by hand).\n" +
			"Exit 0 switched, 10 switched but a later step failed (start hook, a replica, writes on the old\n" +
			"master), 1 error or rolled back.\n\n" +
			"--master_state=dead fails over a dead master by hand (--dead_master_host).",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			fs := cmd.Flags()
			for _, a := range args {
				if a == "--help" || a == "-h" {
					return cmd.Help()
				}
			}
			fs.ParseErrorsAllowlist.UnknownFlags = true
			if err := fs.Parse(args); err != nil {
				return &mhacli.ExitError{Code: 1, Err: err}
			}
			switch o.masterState {
			case "alive":
				if unknown := unknownOptions(fs, args, aliveFlags); len(unknown) > 0 {
					return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("Unknown options: %s", strings.Join(unknown, " "))}
				}
				return aliveSwitch(cmd.Context(), cmd, o)
			case "dead":
				return deadSwitch(cmd.Context(), cmd, o)
			case "":
				return &mhacli.ExitError{Code: 1, Err: errors.New("--master_state=<dead|alive> must be set")}
			}
			return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("--master_state must be dead or alive, not %q", o.masterState)}
		},
	}
	f := cmd.Flags()
	o.conf.add(cmd)
	f.StringVar(&o.masterState, "master_state", "", "alive (online switch) or dead (manual failover)")
	f.IntVar(&o.interactive, "interactive", 1, "1: ask for confirmation on stdin; 0: no questions")
	addFailoverFlags(cmd, &o.fo)

	f.BoolVar(&o.origMasterIsNewSlave, "orig_master_is_new_slave", false, "alive: the old master replicates from the new one afterwards")
	f.IntVar(&o.runningUpdatesLimit, "running_updates_limit", 1, "alive: refuse while an update runs on the master for longer (seconds); with --kill_blocking, the age from which blocking statements are killed")
	f.IntVar(&o.runningSecondsLimit, "running_seconds_limit", 10, "alive: refuse while a query runs on the new master this long (seconds)")
	f.IntVar(&o.secondsBehindMaster, "seconds_behind_master", 30, "alive: largest replica lag accepted (seconds)")
	f.BoolVar(&o.skipLockAllTables, "skip_lock_all_tables", false, "alive: check that the binlog stands still after read_only=1 (MHA's option); wins over --lock_all_tables")
	f.BoolVar(&o.lockAllTables, "lock_all_tables", false, "alive (gomha): also FLUSH TABLES WITH READ LOCK after read_only=1, held until the start hook ran; stops SUPER/READ_ONLY ADMIN writers but waits behind long SELECTs (MHA takes it only when read_only=1 fails)")
	f.IntVar(&o.flushTables, "flush_tables", 2, "alive: FLUSH NO_WRITE_TO_BINLOG TABLES first: 0 no, 1 yes, 2 ask when interactive (else yes)")
	f.BoolVar(&o.checkOnly, "check_only", false, "alive: run the checks only")
	f.DurationVar(&o.maxWriteBlock, "max_write_block", switchover.DefaultMaxWriteBlock, "alive (gomha): hard bound on the write block; past it the switch rolls back")
	f.BoolVar(&o.killBlocking, "kill_blocking", false, "alive (gomha): kill sessions that keep the write lock waiting (see above)")

	f.StringVar(&o.deadMasterHost, "dead_master_host", "", "dead: the dead master's hostname")
	f.StringVar(&o.deadMasterIP, "dead_master_ip", "", "dead: the dead master's ip (default: resolved)")
	f.IntVar(&o.deadMasterPort, "dead_master_port", 3306, "dead: the dead master's port")
	f.IntVar(&o.sshReachable, "ssh_reachable", 2, "dead: 0 no, 1 yes, 2 unknown")
	f.BoolVar(&o.resume, "resume", false, "dead (gomha): go on with a failover a killed manager left unfinished (<app>.failover.journal), when its journal allows it")
	return cmd
}

// unknownOptions returns the words of args that are not options in known
// (normalised names), nor the value of such an option, as MHA's strict
// parsing reports them.
func unknownOptions(fs *pflag.FlagSet, args []string, known map[string]bool) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i+1:]...)
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			out = append(out, a)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		if f == nil || !known[f.Name] {
			out = append(out, a)
			continue
		}
		if !hasValue && f.Value.Type() != "bool" && i+1 < len(args) {
			i++ // "--flag value"
		}
	}
	return out
}

// aliveSwitch runs the online switch and maps its outcome to MHA's exit
// codes.
func aliveSwitch(ctx context.Context, cmd *cobra.Command, o switchOptions) error {
	out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	cfg, err := o.conf.load(ctx, errw)
	if err != nil {
		return err
	}
	log := logger(errw)
	opts := switchover.Options{
		Config:               cfg,
		NewMasterHost:        o.fo.NewMasterHost,
		NewMasterPort:        o.fo.NewMasterPort,
		OrigMasterIsNewSlave: o.origMasterIsNewSlave,
		RunningUpdatesLimit:  time.Duration(o.runningUpdatesLimit) * time.Second,
		RunningSecondsLimit:  time.Duration(o.runningSecondsLimit) * time.Second,
		SecondsBehindMaster:  time.Duration(o.secondsBehindMaster) * time.Second,
		SkipLockAllTables:    o.skipLockAllTables,
		LockAllTables:        o.lockAllTables,
		FlushTables:          switchover.FlushTables(o.flushTables),
		CheckOnly:            o.checkOnly,
		RemoveOrigMasterConf: o.fo.RemoveDeadMasterConf,
		MaxWriteBlock:        o.maxWriteBlock,
		KillBlocking:         o.killBlocking,
		Log:                  log,
		Hooks:                hooks.Runner{Log: log, Timeout: o.fo.HookTimeout, InProcess: builtinHook},
	}
	if o.flushTables < 0 || o.flushTables > 2 {
		return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("--flush_tables must be 0, 1 or 2, not %d", o.flushTables)}
	}
	if o.maxWriteBlock <= 0 {
		return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("--max_write_block must be positive, not %s", o.maxWriteBlock)}
	}
	if o.interactive != 0 {
		opts.Ask = asker(cmd.InOrStdin(), out)
	}
	if fenceLeaseSet(cfg) {
		// gomha only: the fencing watchdogs follow the master (the new
		// master's is installed from the local mha-node, which a check
		// does not need).
		bin, err := daemon.NodeBinary()
		if err != nil && !o.checkOnly {
			return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("fence_lease is set: %w", err)}
		}
		opts.Watchdog = switchover.LeaseWatchdog{Config: cfg, NodeBinary: bin, Log: log}
	}
	if o.checkOnly {
		res, err := switchover.Run(ctx, opts)
		return switchOutcome(out, res, err)
	}
	// The switch's intent journal, beside the failover's: a killed switch
	// is reported by the next `mha manager` (unfinishedSwitch).
	workdir := o.fo.WorkdirOf(cfg)
	daemon.WarnUnfinishedSwitch(workdir, cfg.App, log, io.Discard)
	jr := daemon.CreateSwitchJournal(workdir, cfg.App, o.fo.NewMasterHost, o.origMasterIsNewSlave, log)
	if jr != nil {
		opts.Journal = jr
	}
	res, err := switchover.Run(ctx, opts)
	outcome := switchOutcome(out, res, err)
	if jr != nil {
		daemon.EndSwitchJournal(jr, outcomeCode(outcome), log)
	}
	return outcome
}

// switchOutcome prints the switch's last line and maps its outcome to
// MHA's exit codes: 0 switched (or checked), 10 switched but some server
// was not repointed, 1 anything else.
func switchOutcome(out io.Writer, res switchover.Result, err error) error {
	switch {
	case err == nil && res.CheckOnly:
		fmt.Fprintln(out, "--check_only is set. Exit.")
		return nil
	case err == nil:
		fmt.Fprintf(out, "Switching master to %s completed successfully. Writes were blocked for %s.\n", res.NewMaster, res.WriteBlock.Round(time.Millisecond))
		return nil
	case errors.Is(err, switchover.ErrPartial):
		fmt.Fprintf(out, "Switching master to %s done, but switching slaves partially failed.\n", res.NewMaster)
		return &mhacli.ExitError{Code: 10, Err: err}
	case res.RolledBack:
		fmt.Fprintf(out, "Switching master to %s failed and was rolled back; %s is the master. Writes were blocked for %s.\n",
			res.NewMaster, res.OrigMaster, res.WriteBlock.Round(time.Millisecond))
	}
	return &mhacli.ExitError{Code: 1, Err: err}
}

// fenceLeaseSet reports whether any server of cfg has fence_lease > 0.
func fenceLeaseSet(cfg *config.Config) bool {
	for _, srv := range cfg.Servers {
		if srv.FenceLease > 0 {
			return true
		}
	}
	return false
}
