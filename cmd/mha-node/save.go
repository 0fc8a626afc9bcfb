package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/node/binlog"
	"github.com/gomha/gomha/node/savebinlog"
)

// Exit codes of save_binary_logs.
const (
	exitNothingToSave = 10
)

// saveResult is the --json line of save-binary-logs.
type saveResult struct {
	Command    string       `json:"command"`
	ExitCode   int          `json:"exit_code"`
	Dir        string       `json:"dir,omitempty"`
	LastFile   string       `json:"last_file,omitempty"`
	Files      []string     `json:"files,omitempty"`
	Start      string       `json:"start,omitempty"`
	End        string       `json:"end,omitempty"`
	Events     int          `json:"events"`
	Bytes      int64        `json:"bytes"`
	Truncated  []binlog.Pos `json:"truncated,omitempty"`
	OutputFile string       `json:"output_file,omitempty"`
	Error      string       `json:"error,omitempty"`
}

func newSaveCmd() *cobra.Command {
	var o struct {
		command, startFile, binlogPrefix, binlogDir, outputFile, datadir string
		relayLogInfo, oldestVersion, managerVersion, clientBindir        string
		clientLibdir, gtidPos                                            string
		startPos                                                         int64
		handleRaw, skipFilter, disableLogBin                             int
		debug, jsonOut                                                   bool
	}
	c := &cobra.Command{
		Use:     "save-binary-logs --command=test|save --start_file=F --start_pos=N --output_file=PATH",
		Aliases: []string{"save_binary_logs"},
		Short:   "Save a binlog tail from a position to the newest binlog into one file (MHA's save_binary_logs)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			res := saveResult{Command: o.command, OutputFile: o.outputFile}
			finish := func(code int, msg string, err error) error {
				res.ExitCode = code
				if err != nil {
					res.Error = err.Error()
				}
				return conclude(out, errOut, o.jsonOut, res, code, msg, code == 0 || code == exitNothingToSave)
			}
			fail := func(err error) error {
				return finish(1, "Failed to save binary log: "+err.Error(), err)
			}
			dirs := splitList(o.binlogDir)
			if o.relayLogInfo != "" {
				return fail(errors.New("--relay_log_info is not supported; give --binlog_dir"))
			}
			if o.handleRaw == 0 {
				return fail(errors.New("--handle_raw_binlog=0 (text mode) is not supported"))
			}
			if o.outputFile == "" {
				return fail(errors.New("--output_file is required"))
			}
			switch o.command {
			case "test":
				prefix := o.binlogPrefix
				if prefix == "" && o.startFile != "" {
					base, _, err := binlog.SplitName(o.startFile)
					if err != nil {
						return fail(err)
					}
					prefix = base
				}
				if prefix == "" {
					return fail(errors.New("--start_file or --binlog_prefix is required"))
				}
				dir, last, err := savebinlog.Last(dirs, prefix)
				if err != nil {
					return fail(err)
				}
				res.Dir, res.LastFile = dir, last
				if err := os.MkdirAll(filepath.Dir(o.outputFile), 0o700); err != nil {
					return fail(fmt.Errorf("create output directory: %w", err))
				}
				f, err := os.OpenFile(o.outputFile, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
				if err != nil {
					return fail(fmt.Errorf("create output file: %w", err))
				}
				f.Close()
				if err := os.Remove(o.outputFile); err != nil {
					return fail(fmt.Errorf("remove output file: %w", err))
				}
				return finish(0, fmt.Sprintf("Binlog found at %s, up to %s", dir, last), nil)
			case "save":
				if o.startFile == "" && (o.gtidPos == "" || o.binlogPrefix == "") {
					return fail(errors.New("--start_file is required (or --gtid_pos with --binlog_prefix)"))
				}
				if o.startPos < 0 {
					return fail(errors.New("--start_pos must not be negative"))
				}
				if err := os.MkdirAll(filepath.Dir(o.outputFile), 0o700); err != nil {
					return fail(fmt.Errorf("create output directory: %w", err))
				}
				r, err := savebinlog.SaveFile(cmd.Context(), savebinlog.Options{
					Dirs: dirs, StartFile: o.startFile, StartPos: uint64(o.startPos),
					GTIDPos: o.gtidPos, Prefix: o.binlogPrefix,
				}, o.outputFile)
				res.Dir, res.Files, res.Events, res.Bytes, res.Truncated = r.Dir, r.Files, r.Events, r.Bytes, r.Truncated
				if !r.Start.IsZero() {
					res.Start = r.Start.String()
				}
				if !r.End.IsZero() {
					res.End = r.End.String()
				}
				if errors.Is(err, savebinlog.ErrNoEvents) {
					return finish(exitNothingToSave, "Event not exists.", nil)
				}
				if err != nil {
					return fail(err)
				}
				return finish(0, "Concat succeeded.", nil)
			default:
				return fail(fmt.Errorf("--command must be test or save, not %q", o.command))
			}
		},
	}
	f := c.Flags()
	f.StringVar(&o.command, "command", "", "test or save (required)")
	f.StringVar(&o.startFile, "start_file", "", "first binlog to copy from, e.g. mysql-bin.000012")
	f.Int64Var(&o.startPos, "start_pos", 4, "offset in start_file of the first event to copy")
	f.StringVar(&o.binlogPrefix, "binlog_prefix", "", "binlog base name (for --command=test and --gtid_pos)")
	f.StringVar(&o.binlogDir, "binlog_dir", "/var/lib/mysql", "comma-separated binlog directories; the first holding start_file wins")
	f.StringVar(&o.outputFile, "output_file", "", "file to write (required)")
	f.StringVar(&o.gtidPos, "gtid_pos", "", "MariaDB GTID position to save after, instead of --start_pos (gomha extension)")
	f.StringVar(&o.datadir, "datadir", "", "accepted for MHA compatibility")
	f.StringVar(&o.relayLogInfo, "relay_log_info", "", "not supported")
	f.StringVar(&o.oldestVersion, "oldest_version", "", "accepted for MHA compatibility (raw mode needs no version)")
	f.IntVar(&o.handleRaw, "handle_raw_binlog", 1, "1: copy raw events (the only mode supported)")
	f.IntVar(&o.skipFilter, "skip_filter", 0, "accepted for MHA compatibility")
	f.IntVar(&o.disableLogBin, "disable_log_bin", 0, "accepted for MHA compatibility (text mode only)")
	f.StringVar(&o.managerVersion, "manager_version", "", "version of the calling manager")
	f.StringVar(&o.clientBindir, "client_bindir", "", "accepted for MHA compatibility")
	f.StringVar(&o.clientLibdir, "client_libdir", "", "accepted for MHA compatibility")
	f.BoolVar(&o.debug, "debug", false, "accepted for MHA compatibility")
	f.BoolVar(&o.jsonOut, "json", false, "print one line of JSON describing the result")
	return c
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
