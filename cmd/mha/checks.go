package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/cmd/internal/mhacli"
	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/daemon"
	"github.com/gomha/gomha/manager/hooks"
)

// confFlags are the configuration flags every manager command takes.
type confFlags struct {
	conf, global string
}

func (f *confFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.conf, "conf", "", "application configuration file (MHA format)")
	cmd.Flags().StringVar(&f.global, "global_conf", config.DefaultGlobalFile, "global configuration file; a missing one is skipped")
}

// load reads and validates the configuration; warnings go to stderr.
func (f *confFlags) load(ctx context.Context, stderr io.Writer) (*config.Config, error) {
	if f.conf == "" {
		return nil, &mhacli.ExitError{Code: 1, Err: errors.New("--conf=<server config file> must be set")}
	}
	cfg, err := daemon.LoadConfig(ctx, f.conf, f.global, stderr)
	return cfg, exitError(err)
}

// logger returns the progress logger: text to stderr, never passwords.
func logger(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func newCheckReplCmd() *cobra.Command {
	var cf confFlags
	var opts check.ReplOptions
	var seconds int
	var details bool
	cmd := &cobra.Command{
		Use:   "check-repl --conf=FILE",
		Short: "Check the replication topology (masterha_check_repl)",
		Long: "Reads every server of the configuration, finds the master from its replicas, runs MHA's\n" +
			"start-up checks and more (errant GTIDs, server_id collisions, slow failure detection),\n" +
			"checks every replica's threads and lag, and tests SSH between the alive servers.\n" +
			"Prints the topology as a tree and ends with \"MySQL Replication Health is OK.\" (exit 0)\n" +
			"or names each problem and exits 1.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
			cfg, err := cf.load(ctx, errw)
			if err != nil {
				return err
			}
			log := logger(errw).With("cluster", cfg.App)
			log.Info("checking replication", "conf", cfg.File, "servers", len(cfg.Servers))
			opts.SecondsBehindMaster = time.Duration(seconds) * time.Second
			res := check.Repl(ctx, cfg, opts)
			daemon.PrintRepl(out, res, details)
			ok := res.OK()
			if m := res.Topology.Master; m != nil && m.Alive() {
				if errs := hooks.CheckConfig(cfg); len(errs) > 0 {
					ok = false
					fmt.Fprintln(out, errors.Join(errs...))
				} else if err := daemon.HookStatus(ctx, m.Server, hooks.Runner{Log: log}, log); err != nil {
					ok = false
					fmt.Fprintln(out, err)
				}
				if fails := checkSecondaryHosts(ctx, m.Server, check.DialSSH, out); len(fails) > 0 {
					ok = false
				}
				if err := daemon.NodeSelfTest(ctx, m, opts.SkipSSHCheck); err != nil {
					ok = false
					fmt.Fprintln(out, err)
				} else if !opts.SkipSSHCheck && !m.Server.SkipInitSSHCheck {
					fmt.Fprintln(out, "Binlog setting check done.")
				}
			}
			log.Info("checks done", "elapsed", res.Elapsed.Round(time.Millisecond))
			if !ok {
				fmt.Fprintln(out, "\nMySQL Replication Health is NOT OK!")
				return &mhacli.ExitError{Code: 1}
			}
			fmt.Fprintln(out, "\nMySQL Replication Health is OK.")
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().IntVar(&seconds, "seconds_behind_master", 30, "largest replica lag (seconds) accepted")
	cmd.Flags().BoolVar(&opts.SkipSSHCheck, "skip_check_ssh", false, "do not test SSH between the servers")
	cmd.Flags().BoolVar(&opts.SkipSSHCheck, "skip_ssh_check", false, "alias of --skip_check_ssh")
	cmd.Flags().BoolVar(&opts.IgnoreFailOnStart, "ignore_fail_on_start", false, "tolerate dead servers that have ignore_fail=1")
	cmd.Flags().DurationVar(&opts.ConnectTimeout, "connect_timeout", check.DefaultConnectTimeout, "SQL connection timeout per attempt")
	cmd.Flags().BoolVar(&details, "details", true, "show each server's replication state in the tree")
	cmd.Flags().String("workdir", "", "accepted for MHA compatibility; check-repl writes nothing")
	cmd.Flags().String("manager_workdir", "", "accepted for MHA compatibility; check-repl writes nothing")
	return cmd
}

func newCheckSSHCmd() *cobra.Command {
	var cf confFlags
	cmd := &cobra.Command{
		Use:   "check-ssh --conf=FILE",
		Short: "Check SSH from the manager to every host and between all hosts (masterha_check_ssh)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
			cfg, err := cf.load(ctx, errw)
			if err != nil {
				return err
			}
			fmt.Fprintln(out, "Starting SSH connection tests..")
			rep := check.SSH(ctx, cfg.Servers)
			daemon.PrintSSH(out, rep, true)
			if !rep.OK() {
				fmt.Fprintln(out, "SSH Configuration Check Failed!")
				return &mhacli.ExitError{Code: 1}
			}
			fmt.Fprintln(out, "All SSH connection tests passed successfully.")
			return nil
		},
	}
	cf.add(cmd)
	return cmd
}

func newConfHostCmd() *cobra.Command {
	var conf, command, block, hostname, params string
	cmd := &cobra.Command{
		Use:   "conf-host --command=add|delete --conf=FILE --hostname=H [--block=N] [--params='k=v;k=v']",
		Short: "Add or remove a server block, keeping comments and order (masterha_conf_host)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if conf == "" {
				return &mhacli.ExitError{Code: 1, Err: errors.New("--conf=<server config file> must be set")}
			}
			if _, err := os.Stat(conf); err != nil {
				return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("conf-host: %w", err)}
			}
			name := config.BlockName(block, hostname)
			switch command {
			case "add":
				if hostname == "" {
					return &mhacli.ExitError{Code: 1, Err: errors.New("conf-host: --hostname must be set with --command=add")}
				}
				kvs := append([]config.KV{{Key: "hostname", Value: hostname}}, config.ParseParams(params)...)
				if err := config.AddServerBlock(conf, name, kvs); err != nil {
					return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("conf-host: %w", err)}
				}
				fmt.Fprintf(out, "Wrote %s entry to %s .\n", name, conf)
			case "delete", "remove":
				if name == "" {
					return &mhacli.ExitError{Code: 1, Err: errors.New("conf-host: --block or --hostname must be set with --command=" + command)}
				}
				found, err := config.RemoveServerBlock(conf, name)
				if err != nil {
					return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("conf-host: %w", err)}
				}
				if !found {
					fmt.Fprintf(out, "Entry %s not found from %s .\n", name, conf)
					return nil
				}
				fmt.Fprintf(out, "Deleted %s entry from %s .\n", name, conf)
			default:
				return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("conf-host: --command must be add, delete or remove, not %q", command)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&conf, "conf", "", "application configuration file to edit")
	cmd.Flags().StringVar(&command, "command", "", "add, delete or remove")
	cmd.Flags().StringVar(&block, "block", "", `block name; "server" is put in front unless present (default server_<hostname>)`)
	cmd.Flags().StringVar(&hostname, "hostname", "", "the server's hostname (required to add)")
	cmd.Flags().StringVar(&params, "params", "", `more parameters: "k1=v1;k2=v2"`)
	return cmd
}
