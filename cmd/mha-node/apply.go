package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/spf13/cobra"

	"github.com/gomha/gomha/node/binlog"
	"github.com/gomha/gomha/node/diff"
	"github.com/gomha/gomha/node/relaylog"
)

// applyDiffResult is the --json line of apply-diff-relay-logs.
type applyDiffResult struct {
	Command   string   `json:"command"`
	ExitCode  int      `json:"exit_code"`
	RelayFile string   `json:"relay_file,omitempty"`
	Offset    uint64   `json:"offset,omitempty"`
	Start     string   `json:"start,omitempty"`
	End       string   `json:"end,omitempty"`
	Events    int      `json:"events"`
	Bytes     int64    `json:"bytes"`
	DiffFile  string   `json:"diff_file,omitempty"`
	Applied   []string `json:"applied,omitempty"`
	UpToDate  bool     `json:"up_to_date,omitempty"`
	Error     string   `json:"error,omitempty"`
}

// applyDiffOptions are the options of apply-diff-relay-logs, MHA's names.
type applyDiffOptions struct {
	command, relayDir, currentRelayLog, relayLogInfo, datadir       string
	slaveUser, slavePass, slaveHost, slaveIP, scpHost, scpUser      string
	latestMLF, targetMLF, targetVersion, managerVersion, workdir    string
	diffFile, outputFile, applyFiles, timestamp, clientBindir       string
	clientLibdir, sshOptions                                        string
	slavePort, scpPort, handleRaw, disableLogBin, serverID, mastSID int
	latestRMLP, targetRMLP                                          int64
	passStdin, noApply, debug, jsonOut                              bool
}

// relayFiles lists the relay logs named by --relay_dir's index, up to and
// including --current_relay_log when given.
func (o *applyDiffOptions) relayFiles() ([]string, error) {
	if o.relayDir == "" {
		return nil, errors.New("--relay_dir is required (--relay_log_info is not supported)")
	}
	files, err := relaylog.DirFiles(o.relayDir)
	if err != nil {
		return nil, fmt.Errorf("list relay logs in %s: %w", o.relayDir, err)
	}
	if o.currentRelayLog == "" {
		return files, nil
	}
	cur := filepath.Base(o.currentRelayLog)
	i := slices.IndexFunc(files, func(f string) bool { return filepath.Base(f) == cur })
	if i < 0 {
		return nil, fmt.Errorf("current relay log %s is not listed in the index of %s", cur, o.relayDir)
	}
	return files[:i+1], nil
}

// target is the --slave_ip (else --slave_host) and --slave_port address.
func (o *applyDiffOptions) target() string {
	h := o.slaveIP
	if h == "" {
		h = o.slaveHost
	}
	return net.JoinHostPort(h, strconv.Itoa(o.slavePort))
}

// positions checks the four master-log options find and generate need; 0
// and "" count as missing, as in MHA.
func (o *applyDiffOptions) positions() (latest, target binlog.Pos, err error) {
	var missing []string
	for _, m := range []struct {
		name string
		ok   bool
	}{
		{"--latest_mlf", o.latestMLF != ""}, {"--latest_rmlp", o.latestRMLP > 0},
		{"--target_mlf", o.targetMLF != ""}, {"--target_rmlp", o.targetRMLP > 0},
	} {
		if !m.ok {
			missing = append(missing, m.name)
		}
	}
	if len(missing) > 0 {
		return latest, target, fmt.Errorf("%s required", strings.Join(missing, ", "))
	}
	latest = binlog.Pos{File: o.latestMLF, Offset: uint64(o.latestRMLP)}
	target = binlog.Pos{File: o.targetMLF, Offset: uint64(o.targetRMLP)}
	return latest, target, nil
}

// diffPath is where generate writes: --diff_file_readtolatest, else
// --output_file, else a name in --workdir as MHA forms it.
func (o *applyDiffOptions) diffPath() string {
	switch {
	case o.diffFile != "":
		return o.diffFile
	case o.outputFile != "":
		return o.outputFile
	}
	return filepath.Join(o.workdir, fmt.Sprintf("relay_from_read_to_latest_%s_%d_%s.binlog", o.slaveHost, o.slavePort, o.timestamp))
}

// testSQL is what --command=test runs as the slave user (MHA's probe of
// the privileges apply needs). It does not touch super_read_only.
var testSQL = []string{
	"SET sql_log_bin=0",
	"CREATE TABLE IF NOT EXISTS mysql.apply_diff_relay_logs_test(id int)",
	"INSERT INTO mysql.apply_diff_relay_logs_test VALUES(1)",
	"UPDATE mysql.apply_diff_relay_logs_test SET id=id+1 WHERE id=1",
	"DELETE FROM mysql.apply_diff_relay_logs_test",
	"DROP TABLE mysql.apply_diff_relay_logs_test",
}

// probeSlave runs testSQL on the slave over one connection.
func probeSlave(ctx context.Context, o *applyDiffOptions) error {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = o.slaveUser, o.slavePass
	cfg.Net, cfg.Addr = "tcp", o.target()
	cfg.Timeout = 10 * time.Second
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return fmt.Errorf("test on %s: connect: %w", o.target(), err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("test on %s as %s: connect: %w", o.target(), o.slaveUser, err)
	}
	defer conn.Close()
	for _, q := range testSQL {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("test on %s as %s: %s: %w", o.target(), o.slaveUser, q, err)
		}
	}
	return nil
}

func newApplyDiffCmd() *cobra.Command {
	o := &applyDiffOptions{}
	c := &cobra.Command{
		Use:     "apply-diff-relay-logs --command=test|find|generate|generate_and_send|apply [options]",
		Aliases: []string{"apply_diff_relay_logs"},
		Short:   "Find, generate and apply the relay-log events a replica lacks (MHA's apply_diff_relay_logs)",
		Long: `Find, generate and apply the relay-log events a replica lacks (MHA's apply_diff_relay_logs).

--command=find locates --target_mlf:--target_rmlp in the relay logs of --relay_dir.
--command=generate (and generate_and_send) writes the source events after it to
--diff_file_readtolatest (or --output_file) as one binlog file; the file stays on this
host: the manager copies it to the target (gomha does not scp from node to node).
--command=apply applies --apply_files, in order, to --slave_host/--slave_port through
mariadb-binlog | mariadb (or mysqlbinlog | mysql), refusing a diff already applied.
--command=test checks the relay logs and the slave user's privileges.

Give the password with --slave_pass_stdin (first line of standard input) rather than
--slave_pass, which other users can read in the process list. Exit 0 on success, 1 on
any failure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runApplyDiff(cmd, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.command, "command", "", "test, find, generate, generate_and_send or apply (required)")
	f.StringVar(&o.relayDir, "relay_dir", "", "directory of the relay logs and their index")
	f.StringVar(&o.currentRelayLog, "current_relay_log", "", "newest relay log to read (default: the last in the index)")
	f.StringVar(&o.relayLogInfo, "relay_log_info", "", "not supported; give --relay_dir")
	f.StringVar(&o.datadir, "datadir", "", "accepted for MHA compatibility")
	f.StringVar(&o.slaveUser, "slave_user", "root", "account on the slave for test and apply")
	f.StringVar(&o.slavePass, "slave_pass", "", "password of --slave_user (prefer --slave_pass_stdin)")
	f.BoolVar(&o.passStdin, "slave_pass_stdin", false, "read the --slave_user password from the first line of standard input")
	f.StringVar(&o.slaveHost, "slave_host", "127.0.0.1", "the slave to test or apply to")
	f.StringVar(&o.slaveIP, "slave_ip", "", "the slave's address (default: --slave_host)")
	f.IntVar(&o.slavePort, "slave_port", 3306, "the slave's MySQL port")
	f.IntVar(&o.serverID, "server_id", 0, "accepted for MHA compatibility (the replica's own events are told by the relay log itself)")
	f.IntVar(&o.mastSID, "master_server_id", 0, "accepted for MHA compatibility")
	f.StringVar(&o.latestMLF, "latest_mlf", "", "the latest replica's Master_Log_File")
	f.Int64Var(&o.latestRMLP, "latest_rmlp", 0, "the latest replica's Read_Master_Log_Pos")
	f.StringVar(&o.targetMLF, "target_mlf", "", "the target replica's Master_Log_File")
	f.Int64Var(&o.targetRMLP, "target_rmlp", 0, "the target replica's Read_Master_Log_Pos")
	f.StringVar(&o.targetVersion, "target_version", "", "the target's server version (accepted; raw mode needs none)")
	f.StringVar(&o.managerVersion, "manager_version", "", "version of the calling manager")
	f.StringVar(&o.workdir, "workdir", "/var/tmp", "working directory (created)")
	f.StringVar(&o.diffFile, "diff_file_readtolatest", "", "diff file to write (generate)")
	f.StringVar(&o.outputFile, "output_file", "", "diff file to write when --diff_file_readtolatest is not given (gomha extension)")
	f.StringVar(&o.applyFiles, "apply_files", "", "comma-separated diff files to apply, in order (apply)")
	f.StringVar(&o.timestamp, "timestamp", "", "suffix of generated file names (default: now)")
	f.IntVar(&o.handleRaw, "handle_raw_binlog", 1, "1: raw binlog events (the only mode supported)")
	f.IntVar(&o.disableLogBin, "disable_log_bin", 0, "1: the slave does not write the applied events to its binlog")
	f.BoolVar(&o.noApply, "no_apply", false, "apply: check the files, apply nothing")
	f.StringVar(&o.scpUser, "scp_user", "root", "accepted for MHA compatibility (the manager copies diff files)")
	f.StringVar(&o.scpHost, "scp_host", "", "accepted for MHA compatibility (the manager copies diff files)")
	f.IntVar(&o.scpPort, "scp_port", 22, "accepted for MHA compatibility")
	f.StringVar(&o.sshOptions, "ssh_options", "", "accepted for MHA compatibility")
	f.StringVar(&o.clientBindir, "client_bindir", "", "directory of mariadb-binlog/mariadb (or mysqlbinlog/mysql); default PATH")
	f.StringVar(&o.clientLibdir, "client_libdir", "", "accepted for MHA compatibility")
	f.BoolVar(&o.debug, "debug", false, "accepted for MHA compatibility")
	f.BoolVar(&o.jsonOut, "json", false, "print one line of JSON describing the result")
	return c
}

func runApplyDiff(cmd *cobra.Command, o *applyDiffOptions) error {
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	ctx := cmd.Context()
	res := applyDiffResult{Command: o.command}
	finish := func(code int, msg string, err error) error {
		res.ExitCode = code
		if err != nil {
			res.Error = err.Error()
		}
		return conclude(out, errOut, o.jsonOut, res, code, msg, code == 0)
	}
	fail := func(err error) error {
		return finish(1, "apply_diff_relay_logs: "+err.Error(), err)
	}
	if o.passStdin {
		line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		if err != nil && line == "" {
			return fail(fmt.Errorf("read password from standard input: %w", err))
		}
		o.slavePass = strings.TrimRight(line, "\r\n")
	}
	if o.handleRaw == 0 {
		return fail(errors.New("--handle_raw_binlog=0 (text mode) is not supported"))
	}
	if o.timestamp == "" {
		o.timestamp = time.Now().Format("20060102150405")
	}
	if o.workdir != "" {
		if err := os.MkdirAll(o.workdir, 0o700); err != nil {
			return fail(fmt.Errorf("create workdir: %w", err))
		}
	}
	switch o.command {
	case "test":
		files, err := o.relayFiles()
		if err != nil {
			return fail(err)
		}
		if err := probeSlave(ctx, o); err != nil {
			return fail(err)
		}
		res.RelayFile = files[len(files)-1]
		return finish(0, fmt.Sprintf("Relay logs found at %s, up to %s; slave %s accepts changes as %s.",
			o.relayDir, filepath.Base(res.RelayFile), o.target(), o.slaveUser), nil)
	case "find", "generate", "generate_and_send":
		latest, target, err := o.positions()
		if err != nil {
			return fail(err)
		}
		files, err := o.relayFiles()
		if err != nil {
			return fail(err)
		}
		if c, err := binlog.Compare(latest, target); err == nil && c == 0 && o.command != "find" {
			res.UpToDate = true
			return finish(0, "Target slave has received all relay logs.", nil)
		}
		loc, err := relaylog.FindOffset(files, target)
		if err != nil {
			return fail(fmt.Errorf("find %s in relay logs of %s: %w", target, o.relayDir, err))
		}
		res.RelayFile, res.Offset, res.Start = loc.File, loc.Offset, loc.Source.String()
		if o.command == "find" {
			return finish(0, fmt.Sprintf("Target relay log FOUND! %s:%d", filepath.Base(loc.File), loc.Offset), nil)
		}
		path := o.diffPath()
		res.DiffFile = path
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return fail(fmt.Errorf("create directory of %s: %w", path, err))
		}
		// 0600: a diff holds rows; it must not be readable by others.
		w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return fail(fmt.Errorf("create diff file: %w", err))
		}
		if err := w.Chmod(0o600); err != nil { // a file replaced keeps its mode
			w.Close()
			return fail(fmt.Errorf("chmod diff file: %w", err))
		}
		r, err := diff.Generate(ctx, files, loc, w)
		if cerr := w.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %s: %w", path, cerr)
		}
		if err != nil {
			os.Remove(path)
			return fail(fmt.Errorf("generate diff from %s:%d: %w", filepath.Base(loc.File), loc.Offset, err))
		}
		res.Events, res.Bytes, res.End = r.Events, r.Bytes, r.End.String()
		if c, err := binlog.Compare(r.End, latest); err == nil && c < 0 {
			return fail(fmt.Errorf("relay logs of %s end at %s, before the latest position %s", o.relayDir, r.End, latest))
		}
		return finish(0, fmt.Sprintf("Generating diff relay log succeeded: %s (%d events, %s..%s).", path, r.Events, r.Start, r.End), nil)
	case "apply":
		files := splitList(o.applyFiles)
		if len(files) == 0 {
			return fail(errors.New("--apply_files is required"))
		}
		for _, file := range files {
			if _, err := diff.Inspect(file); err != nil {
				return fail(err)
			}
		}
		if o.noApply {
			return finish(0, "Log files checked; nothing applied (--no_apply).", nil)
		}
		host := o.slaveIP
		if host == "" {
			host = o.slaveHost
		}
		for _, file := range files {
			err := diff.Apply(ctx, diff.ApplyOptions{
				File: file, Host: host, Port: o.slavePort,
				User: o.slaveUser, Password: o.slavePass,
				ClientBindir: o.clientBindir, DisableLogBin: o.disableLogBin != 0,
			})
			if err != nil {
				return fail(err)
			}
			res.Applied = append(res.Applied, file)
		}
		return finish(0, "Applying log files succeeded.", nil)
	default:
		return fail(fmt.Errorf("--command must be test, find, generate, generate_and_send or apply, not %q", o.command))
	}
}
