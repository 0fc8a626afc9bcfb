package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/cmd/internal/mhacli"
	"github.com/gomha/gomha/node/purge"
)

// purgeResult is the --json line of purge-relay-logs.
type purgeResult struct {
	ExitCode int      `json:"exit_code"`
	Skipped  bool     `json:"skipped"`
	RelayDir string   `json:"relay_dir,omitempty"`
	Before   []string `json:"before,omitempty"`
	After    []string `json:"after,omitempty"`
	Error    string   `json:"error,omitempty"`
}

func newPurgeCmd() *cobra.Command {
	var o purge.Options
	var defaultsFile, relayLogInfo string
	var useHardlink int
	var passwordStdin, jsonOut bool
	c := &cobra.Command{
		Use:     "purge-relay-logs [--user=U] [--host=H] [--port=P] [--workdir=DIR]",
		Aliases: []string{"purge_relay_logs"},
		Short:   "Purge a replica's relay logs without stalling its SQL thread (MHA's purge_relay_logs)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			var res purgeResult
			fail := func(err error) error {
				res.ExitCode, res.Error = 1, err.Error()
				if jsonOut {
					printJSON(out, res)
				}
				return &mhacli.ExitError{Code: 1, Err: err}
			}
			if defaultsFile != "" {
				return fail(errors.New("--defaults_file is not supported; give --user, --password_stdin, --host/--port or --socket"))
			}
			if passwordStdin {
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && line == "" {
					return fail(fmt.Errorf("read password from standard input: %w", err))
				}
				o.Password = strings.TrimRight(line, "\r\n")
			}
			db, err := purge.Open(o)
			if err != nil {
				return fail(err)
			}
			defer db.Close()
			r, err := purge.Purge(cmd.Context(), db, o)
			res.Skipped, res.RelayDir, res.Before, res.After = r.Skipped, r.RelayDir, r.Before, r.After
			if err != nil {
				return fail(err)
			}
			switch {
			case jsonOut:
				printJSON(out, res)
			case r.Skipped:
				fmt.Fprintln(out, "relay_log_purge is enabled. Exit.")
			default:
				fmt.Fprintf(errOut, "Purged relay logs in %s: %d files before, %d after.\n", r.RelayDir, len(r.Before), len(r.After))
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&o.User, "user", "root", "MySQL user")
	f.StringVar(&o.Password, "password", "", "MySQL password (prefer --password_stdin: argv is visible to other users)")
	f.BoolVar(&passwordStdin, "password_stdin", false, "read the MySQL password from the first line of standard input")
	f.StringVar(&o.Host, "host", "127.0.0.1", "MySQL host (must be this host)")
	f.IntVar(&o.Port, "port", 3306, "MySQL port")
	f.StringVar(&o.Socket, "socket", "", "MySQL unix socket (instead of host and port)")
	f.StringVar(&defaultsFile, "defaults_file", "", "not supported")
	f.StringVar(&o.Workdir, "workdir", "/var/tmp", "directory for the hard links (same file system as the relay logs)")
	f.StringVar(&relayLogInfo, "relay_log_info", "", "accepted for MHA compatibility (the relay-log directory is asked from the server)")
	f.BoolVar(&o.DisableRelayLogPurge, "disable_relay_log_purge", false, "turn relay_log_purge off when it is on, and purge")
	f.IntVar(&useHardlink, "use_hardlink", 1, "accepted for MHA compatibility (hard links are always used)")
	f.BoolVar(&jsonOut, "json", false, "print one line of JSON describing the result")
	return c
}
