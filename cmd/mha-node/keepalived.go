package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/cmd/internal/mhacli"
	"github.com/gomha/gomha/node/keepalived"
	"github.com/gomha/gomha/node/watchdog"
)

// checkEnv is the I/O of keepalived-check and lvs-check; tests replace it.
type checkEnv struct {
	// readServer looks at the local mysqld (keepalived.ReadServer).
	readServer func(ctx context.Context, c watchdog.Client) (*keepalived.Server, error)
	// watchdogFacts reads the fencing watchdog's files.
	watchdogFacts func(paths watchdog.Paths) keepalived.WatchdogFacts
	now           func() time.Time
}

func liveChecks() checkEnv {
	return checkEnv{
		readServer: keepalived.ReadServer,
		watchdogFacts: func(paths watchdog.Paths) keepalived.WatchdogFacts {
			st, err := watchdog.ReadState(paths.State)
			running, _ := watchdog.Running(paths.Pid)
			return keepalived.WatchdogFacts{State: st, ReadErr: err, Running: running,
				BootID: watchdog.BootID(), NowMono: watchdog.BootClock{}.Now()}
		},
		now: time.Now,
	}
}

// defaultCheckTimeout bounds one look at the local mysqld: long enough for
// a dropped SYN's retransmission after 1 s, short enough for a vrrp_script
// run every 2 s with timeout 3.
const defaultCheckTimeout = 1.5

type localFlags struct {
	defaultsFile string
	timeout      float64
	jsonOut      bool
}

func (f *localFlags) register(c *cobra.Command) {
	fs := c.Flags()
	fs.StringVar(&f.defaultsFile, "defaults_file", "", "MySQL option file with the local credentials ([client] user, password, socket or host/port); required")
	fs.Float64Var(&f.timeout, "timeout", defaultCheckTimeout, "seconds the local mysqld has to answer")
	fs.BoolVar(&f.jsonOut, "json", false, "print the verdict as one line of JSON")
}

func (f localFlags) validate() []error {
	var errs []error
	if f.defaultsFile == "" {
		errs = append(errs, errors.New("--defaults_file is required (credentials never come from argv)"))
	}
	if !(f.timeout > 0) || math.IsInf(f.timeout, 0) {
		errs = append(errs, errors.New("--timeout=SECONDS must be positive"))
	}
	return errs
}

// lookLocal reads the credentials, lets adjust change the address, and
// reads the server within the timeout; on failure it returns the error as
// one line.
func (f localFlags) lookLocal(ctx context.Context, env checkEnv, adjust func(*watchdog.Client)) (*keepalived.Server, string) {
	b, err := os.ReadFile(f.defaultsFile)
	if err != nil {
		return nil, "credentials: " + err.Error()
	}
	client, err := watchdog.ParseDefaults(b)
	if err != nil {
		return nil, fmt.Sprintf("credentials in %s: %v", f.defaultsFile, err)
	}
	if adjust != nil {
		adjust(&client)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(f.timeout*float64(time.Second)))
	defer cancel()
	s, err := env.readServer(ctx, client)
	if err != nil {
		return nil, err.Error()
	}
	return s, ""
}

type keepalivedFlags struct {
	localFlags
	workdir         string
	port            int
	allowSources    []string
	allowStopped    bool
	requireWatchdog bool
	mark, reason    string
	unmark          bool
}

func newKeepalivedCheckCmd(env checkEnv) *cobra.Command {
	var f keepalivedFlags
	c := &cobra.Command{
		Use:   "keepalived-check --defaults_file=FILE [--workdir=DIR --port=PORT] [--allow_source=HOST[:PORT]]...",
		Short: "Exit 0 only on the host gomha made the writable master (for keepalived's vrrp_script)",
		Long: "For keepalived's vrrp_script / track_script on every candidate master: exits 0 only when\n" +
			"this host is the one gomha made the writable master, and 1 otherwise, printing each\n" +
			"reason on its own line:\n" +
			"  - the local mysqld answers within --timeout;\n" +
			"  - @@global.read_only is OFF (and super_read_only, where the server has it);\n" +
			"  - it replicates from nobody: no replication channel with a source, except one from an\n" +
			"    --allow_source (the other master of an active/passive pair), or one whose threads\n" +
			"    are both stopped on a host the manager's hook marked promoted (or --allow_stopped);\n" +
			"  - the fencing watchdog (mha-watchdog-PORT.state in --workdir) has not demoted it, and\n" +
			"    when a watchdog runs it holds its lease; a lease held when the host went down\n" +
			"    (earlier boot, no watchdog since) fails too;\n" +
			"  - the manager's hook has not fenced it (mha-keepalived-PORT.mark in --workdir).\n\n" +
			"--mark=fenced|promoted [--reason=TEXT] and --unmark write and remove the mark file (the\n" +
			"manager's keepalived hook runs them over SSH). Credentials come from --defaults_file,\n" +
			"never from argv. Example:\n\n" +
			"  vrrp_script gomha_master {\n" +
			"      script \"/usr/local/bin/mha-node keepalived-check --defaults_file=/etc/keepalived/gomha-check.cnf --workdir=/var/tmp --port=3306\"\n" +
			"      interval 1\n" +
			"      timeout 2\n" +
			"      weight 0      # failing = FAULT: no VIP, whatever the priorities\n" +
			"      fall 2\n" +
			"      rise 1\n" +
			"  }\n\n" +
			"See configs/keepalived-master.conf for a complete, commented configuration.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runKeepalivedCheck(cmd, env, f)
		},
	}
	f.register(c)
	fs := c.Flags()
	fs.StringVar(&f.workdir, "workdir", "/var/tmp", "the server's remote_workdir: where the watchdog's state and the hook's mark file are")
	fs.IntVar(&f.port, "port", 3306, "the local mysqld's port (names those files)")
	fs.StringSliceVar(&f.allowSources, "allow_source", nil, "a replication source that does not make this host a replica, HOST[:PORT] (repeatable): the other master of an active/passive pair")
	fs.BoolVar(&f.allowStopped, "allow_stopped", false, "a channel whose threads are both stopped does not count as replicating, even without a promoted mark")
	fs.BoolVar(&f.requireWatchdog, "require_watchdog", false, "fail unless a fencing watchdog runs and holds its lease (fence_lease on)")
	fs.StringVar(&f.mark, "mark", "", "write the mark file instead of checking: fenced or promoted")
	fs.StringVar(&f.reason, "reason", "", "with --mark: why, shown by the check")
	fs.BoolVar(&f.unmark, "unmark", false, "remove the mark file instead of checking")
	return c
}

func runKeepalivedCheck(cmd *cobra.Command, env checkEnv, f keepalivedFlags) error {
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	markPath := keepalived.MarkPath(f.workdir, f.port)
	switch {
	case f.mark != "" && f.unmark:
		return &mhacli.ExitError{Code: 1, Err: errors.New("keepalived-check: --mark and --unmark exclude each other")}
	case f.mark != "":
		m := keepalived.Mark{Kind: f.mark, Reason: f.reason, At: env.now().UTC()}
		if err := keepalived.WriteMark(markPath, m); err != nil {
			return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("keepalived-check: %w", err)}
		}
		fmt.Fprintf(out, "keepalived-check: %s marked %s\n", markPath, f.mark)
		return nil
	case f.unmark:
		if err := keepalived.RemoveMark(markPath); err != nil {
			return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("keepalived-check: %w", err)}
		}
		fmt.Fprintf(out, "keepalived-check: %s removed\n", markPath)
		return nil
	case f.reason != "":
		return &mhacli.ExitError{Code: 1, Err: errors.New("keepalived-check: --reason needs --mark")}
	}
	errs := f.validate()
	var o keepalived.MasterOptions
	for _, s := range f.allowSources {
		m, err := keepalived.ParseSource(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("--allow_source: %w", err))
			continue
		}
		o.AllowSources = append(o.AllowSources, m)
	}
	if len(errs) > 0 {
		return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("keepalived-check: %w", errors.Join(errs...))}
	}
	o.AllowStopped, o.RequireWatchdog = f.allowStopped, f.requireWatchdog

	facts := keepalived.MasterFacts{Watchdog: env.watchdogFacts(watchdog.PathsFor(f.workdir, f.port))}
	facts.Mark, facts.MarkErr = keepalived.ReadMark(markPath)
	facts.Now = env.now()
	facts.Server, facts.ServerErr = f.lookLocal(cmd.Context(), env, nil)
	v := keepalived.CheckMaster(facts, o)
	code := 0
	if !v.OK {
		code = 1
	}
	if f.jsonOut {
		printJSON(out, struct {
			ExitCode int `json:"exit_code"`
			keepalived.MasterVerdict
			Server *keepalived.Server `json:"server,omitempty"`
		}{code, v, facts.Server})
	} else if v.OK {
		fmt.Fprintf(out, "keepalived-check: the writable master (%s)\n", strings.Join(v.Notes, "; "))
	} else {
		printReasons(errOut, "keepalived-check: not the writable master: ", v.Reasons)
	}
	if code == 0 {
		return nil
	}
	return &mhacli.ExitError{Code: code}
}

func printReasons(w io.Writer, prefix string, rs []keepalived.Reason) {
	for _, r := range rs {
		fmt.Fprintln(w, prefix+r.String())
	}
}

type lvsFlags struct {
	localFlags
	maxLag  int
	dynamic bool
	weight  int
	// host and port, when set, replace the option file's address: a
	// director checking several real servers with one credentials file.
	host string
	port int
}

func newLVSCheckCmd(env checkEnv) *cobra.Command {
	var f lvsFlags
	c := &cobra.Command{
		Use:   "lvs-check --defaults_file=FILE [--host=ADDR [--port=PORT]] [--max_lag=SECONDS] [--dynamic [--weight=N]]",
		Short: "Exit 0 while this replica may serve reads (for an LVS real server's MISC_CHECK)",
		Long: "For keepalived's MISC_CHECK on the real servers of a read virtual_server, or standalone:\n" +
			"healthy when the local mysqld answers within --timeout, replicates from a source, both\n" +
			"replication threads run on every channel, and Seconds_Behind_Master is at most --max_lag.\n\n" +
			"Exit status, as MISC_CHECK reads it: 0 healthy (the configured weight), 1 unhealthy (the\n" +
			"real server leaves the pool). With --dynamic, for misc_dynamic only: a healthy replica\n" +
			"exits 2+weight, the weight falling linearly from --weight at no lag to 1 at --max_lag\n" +
			"(misc_dynamic sets the weight to the exit status minus 2; without misc_dynamic any status\n" +
			"but 0 is a failure, so never use --dynamic there). Each reason is printed on its own line.\n" +
			"MISC_CHECK runs on the director: --host/--port name the real server there, the option\n" +
			"file holds the credentials only.\n\n" +
			"  MISC_CHECK {\n" +
			"      misc_path \"/usr/local/bin/mha-node lvs-check --defaults_file=/etc/keepalived/gomha-check.cnf --host=198.18.0.13 --max_lag=10\"\n" +
			"      misc_timeout 3\n" +
			"  }",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLVSCheck(cmd, env, f)
		},
	}
	f.register(c)
	fs := c.Flags()
	fs.IntVar(&f.maxLag, "max_lag", 10, "seconds a healthy replica may lag (Seconds_Behind_Master)")
	fs.BoolVar(&f.dynamic, "dynamic", false, "exit 2+weight when healthy, for MISC_CHECK's misc_dynamic")
	fs.StringVar(&f.host, "host", "", "check this server instead of the option file's host/socket (an LVS director checking a real server)")
	fs.IntVar(&f.port, "port", 0, "with --host: its port (default: the option file's, else 3306)")
	fs.IntVar(&f.weight, "weight", 100, fmt.Sprintf("with --dynamic: the weight of a replica with no lag, 1..%d", keepalived.MaxWeight))
	return c
}

func runLVSCheck(cmd *cobra.Command, env checkEnv, f lvsFlags) error {
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	o := keepalived.RealServerOptions{MaxLag: time.Duration(f.maxLag) * time.Second, Dynamic: f.dynamic, Weight: f.weight}
	errs := f.validate()
	if err := o.Validate(); err != nil {
		errs = append(errs, err)
	}
	if f.port < 0 || f.port > 65535 {
		errs = append(errs, fmt.Errorf("--port=%d is not a port number", f.port))
	}
	if len(errs) > 0 {
		// Exit 1 is MISC_CHECK's "unhealthy", in either mode.
		return &mhacli.ExitError{Code: keepalived.MiscUnhealthy, Err: fmt.Errorf("lvs-check: %w", errors.Join(errs...))}
	}
	s, serr := f.lookLocal(cmd.Context(), env, func(c *watchdog.Client) {
		if f.host != "" {
			c.Host, c.Socket = f.host, ""
		}
		if f.port != 0 {
			c.Port = f.port
		}
	})
	v := keepalived.CheckRealServer(s, serr, o)
	switch {
	case f.jsonOut:
		printJSON(out, v)
	case v.Healthy:
		msg := fmt.Sprintf("lvs-check: healthy: %d s behind (at most %d)", *v.Lag, f.maxLag)
		if f.dynamic {
			msg += fmt.Sprintf(", weight %d", v.Weight)
		}
		fmt.Fprintln(out, msg)
	default:
		printReasons(errOut, "lvs-check: unhealthy: ", v.Reasons)
	}
	if v.ExitCode == 0 {
		return nil
	}
	return &mhacli.ExitError{Code: v.ExitCode}
}
