package main

import (
	"bufio"
	"fmt"
	"os"
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

// applyDefaultsFile fills o's connection settings from the client groups
// of the option file at path, for each one whose flag was not given
// (changed reports that). A socket from the file is used only when neither
// --host nor --port was given. The password is never part of an error.
func applyDefaultsFile(o *purge.Options, path string, changed func(string) bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("--defaults_file: %w", err)
	}
	defer f.Close()
	d, err := purge.ParseDefaults(f)
	if err != nil {
		return fmt.Errorf("--defaults_file %s: %w", path, err)
	}
	if d.HasUser && !changed("user") {
		o.User = d.User
	}
	if d.HasPassword && !changed("password") && !changed("password_stdin") {
		o.Password = d.Password
	}
	if d.HasHost && !changed("host") {
		o.Host = d.Host
	}
	if d.HasPort && !changed("port") {
		o.Port = d.Port
	}
	if d.HasSocket && !changed("socket") && !changed("host") && !changed("port") {
		o.Socket = d.Socket
	}
	return nil
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
				if err := applyDefaultsFile(&o, defaultsFile, cmd.Flags().Changed); err != nil {
					return fail(err)
				}
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
	f.StringVar(&defaultsFile, "defaults_file", "", "MySQL option file: user, password, host, port and socket of its [client] group, where not given as flags (as MHA's DBD::mysql read it)")
	f.StringVar(&o.Workdir, "workdir", "/var/tmp", "directory for the hard links (same file system as the relay logs)")
	f.StringVar(&relayLogInfo, "relay_log_info", "", "accepted for MHA compatibility (the relay-log directory is asked from the server)")
	f.BoolVar(&o.DisableRelayLogPurge, "disable_relay_log_purge", false, "turn relay_log_purge off when it is on, and purge")
	f.IntVar(&useHardlink, "use_hardlink", 1, "accepted for MHA compatibility (hard links are always used)")
	f.BoolVar(&jsonOut, "json", false, "print one line of JSON describing the result")
	return c
}
