package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/cmd/internal/mhacli"
	"github.com/gomha/gomha/node/watchdog"
)

// Exit codes of `mha-node watchdog --status` (and of --daemon, which ends
// with the status of the daemon it started): keepalived's vrrp_script and
// the manager treat anything but 0 as "this host must not hold the VIP".
const (
	watchdogHealthy  = 0 // running and holding the lease
	watchdogDown     = 1 // not running, stalled, or no state
	watchdogDemoted  = 2 // demoted (or demoting): sticky until --clear
	daemonStartLimit = 10 * time.Second
)

type watchdogFlags struct {
	workdir      string
	port         int
	defaultsFile string
	lease        float64
	managerUser  string
	managerHosts []string
	peers        []string
	vip, vipDev  string
	fresh        bool

	daemon, status, stop, clear, jsonOut bool
}

func newWatchdogCmd() *cobra.Command {
	var f watchdogFlags
	c := &cobra.Command{
		Use:   "watchdog --workdir=DIR --port=PORT --lease=SECONDS --manager_user=U --manager_host=IP [--peer=IP:PORT]... [--vip=ADDR/PREFIX --vip_dev=DEV]",
		Short: "Demote the local mysqld when this host loses the manager and every replica for longer than the lease (gomha's fence_lease)",
		Long: "Runs the fencing lease's watchdog on the master's host. Every lease/4 (at least 250 ms) it\n" +
			"looks for the manager's session in the local processlist and greets every --peer; when\n" +
			"neither answered for longer than --lease it demotes the server once: the VIP removed,\n" +
			"read_only (and super_read_only where it exists) set, client sessions killed. The\n" +
			"demotion is sticky until --clear.\n\n" +
			"The credentials come from --defaults_file ([client] user, password, host/port or socket),\n" +
			"never from argv. --daemon starts it detached (its own session, log and pid file in\n" +
			"--workdir), replacing a running one, and waits until it is healthy. --status exits 0 only\n" +
			"while a watchdog runs and holds the lease (1: not running or stalled, 2: demoted), for\n" +
			"the manager and for keepalived's vrrp_script, e.g.\n\n" +
			"  vrrp_script mha_lease {\n" +
			"      script \"/var/tmp/mha-node watchdog --status --workdir=/var/tmp --port=3306\"\n" +
			"      interval 1\n" +
			"      fall 1\n" +
			"  }",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWatchdog(cmd, f)
		},
	}
	fs := c.Flags()
	fs.StringVar(&f.workdir, "workdir", "/var/tmp", "directory of the state, pid, log and defaults files (the server's remote_workdir)")
	fs.IntVar(&f.port, "port", 3306, "the local mysqld's port (names the files)")
	fs.StringVar(&f.defaultsFile, "defaults_file", "", "MySQL option file with the local credentials (default: mha-watchdog-PORT.cnf in --workdir)")
	fs.Float64Var(&f.lease, "lease", 0, "seconds without contact before demoting")
	fs.StringVar(&f.managerUser, "manager_user", "", "the manager's MySQL user")
	fs.StringSliceVar(&f.managerHosts, "manager_host", nil, "the manager's client host as the server shows it (repeatable)")
	fs.StringSliceVar(&f.peers, "peer", nil, "a replica's MySQL address ip:port (repeatable)")
	fs.StringVar(&f.vip, "vip", "", "virtual IP to remove on demotion, ADDR/PREFIX")
	fs.StringVar(&f.vipDev, "vip_dev", "", "interface that holds --vip")
	fs.BoolVar(&f.fresh, "fresh", false, "start a new lease instead of going on from a previous watchdog's last contact")
	fs.BoolVar(&f.daemon, "daemon", false, "start detached, replace a running watchdog, wait until healthy")
	fs.BoolVar(&f.status, "status", false, "report the watchdog's health (exit 0 only when running and holding the lease)")
	fs.BoolVar(&f.stop, "stop", false, "stop the running watchdog")
	fs.BoolVar(&f.clear, "clear", false, "forget a demotion (the watchdog must be stopped); the old state file is kept aside")
	fs.BoolVar(&f.jsonOut, "json", false, "print the outcome as one line of JSON")
	return c
}

func runWatchdog(cmd *cobra.Command, f watchdogFlags) error {
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	paths := watchdog.PathsFor(f.workdir, f.port)
	if f.defaultsFile == "" {
		f.defaultsFile = paths.Defaults
	}
	modes := 0
	for _, b := range []bool{f.daemon, f.status, f.stop, f.clear} {
		if b {
			modes++
		}
	}
	if modes > 1 {
		return &mhacli.ExitError{Code: 1, Err: errors.New("watchdog: --daemon, --status, --stop and --clear exclude each other")}
	}
	switch {
	case f.status:
		h := watchdogHealth(paths)
		return reportHealth(out, errOut, f.jsonOut, h)
	case f.stop:
		was, err := watchdog.StopRunning(paths.Pid, 5*time.Second)
		if err != nil {
			return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("watchdog: stop: %w", err)}
		}
		if was {
			fmt.Fprintln(out, "watchdog stopped")
		} else {
			fmt.Fprintln(out, "no watchdog was running")
		}
		return nil
	case f.clear:
		if running, pid := watchdog.Running(paths.Pid); running {
			return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("watchdog: --clear: a watchdog (pid %d) is running; stop it first (--stop)", pid)}
		}
		aside := paths.State + ".cleared-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Rename(paths.State, aside); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				fmt.Fprintln(out, "no watchdog state to clear")
				return nil
			}
			return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("watchdog: --clear: %w", err)}
		}
		fmt.Fprintf(out, "watchdog state cleared (kept as %s)\n", aside)
		return nil
	}
	o, err := f.options(paths)
	if err != nil {
		return &mhacli.ExitError{Code: 1, Err: err}
	}
	if f.daemon {
		return startDaemon(cmd.Context(), out, errOut, f, paths)
	}
	return runForeground(cmd.Context(), errOut, f, o, paths)
}

// options checks the flags of a run.
func (f watchdogFlags) options(paths watchdog.Paths) (watchdog.Options, error) {
	var errs []error
	if f.lease <= 0 || math.IsInf(f.lease, 0) || math.IsNaN(f.lease) {
		errs = append(errs, errors.New("--lease=SECONDS must be positive"))
	}
	if f.managerUser == "" {
		errs = append(errs, errors.New("--manager_user is required"))
	}
	if len(f.managerHosts) == 0 {
		errs = append(errs, errors.New("--manager_host is required"))
	}
	for _, p := range f.peers {
		if _, _, err := net.SplitHostPort(p); err != nil {
			errs = append(errs, fmt.Errorf("--peer=%s: want ip:port", p))
		}
	}
	if f.vip != "" {
		if _, err := netip.ParsePrefix(f.vip); err != nil {
			errs = append(errs, fmt.Errorf("--vip=%s: want ADDRESS/PREFIX such as 192.0.2.10/24", f.vip))
		}
		if f.vipDev == "" {
			errs = append(errs, errors.New("--vip needs --vip_dev"))
		}
	}
	if len(errs) > 0 {
		return watchdog.Options{}, fmt.Errorf("watchdog: %w", errors.Join(errs...))
	}
	return watchdog.Options{
		Lease:       time.Duration(f.lease * float64(time.Second)),
		ManagerUser: f.managerUser, ManagerHosts: f.managerHosts,
		Peers: f.peers, VIP: f.vip, VIPDev: f.vipDev,
		StateFile: paths.State, Fresh: f.fresh,
	}, nil
}

// runArgs are the arguments of the daemon that --daemon starts: the
// parsed options, rebuilt (not os.Args, which may hold abbreviations).
func (f watchdogFlags) runArgs() []string {
	args := []string{"watchdog",
		"--workdir=" + f.workdir, "--port=" + strconv.Itoa(f.port), "--defaults_file=" + f.defaultsFile,
		"--lease=" + strconv.FormatFloat(f.lease, 'f', -1, 64), "--manager_user=" + f.managerUser}
	for _, h := range f.managerHosts {
		args = append(args, "--manager_host="+h)
	}
	for _, p := range f.peers {
		args = append(args, "--peer="+p)
	}
	if f.vip != "" {
		args = append(args, "--vip="+f.vip, "--vip_dev="+f.vipDev)
	}
	if f.fresh {
		args = append(args, "--fresh")
	}
	return args
}

// runForeground is the daemon itself: it takes the pid lock (replacing a
// running watchdog) and runs until SIGTERM.
func runForeground(ctx context.Context, errOut io.Writer, f watchdogFlags, o watchdog.Options, paths watchdog.Paths) error {
	log := slog.New(slog.NewTextHandler(errOut, nil)).With("port", f.port)
	if o.Version == "" {
		o.Version = mhacli.Version
	}
	b, err := os.ReadFile(f.defaultsFile)
	if err != nil {
		return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("watchdog: credentials: %w", err)}
	}
	client, err := watchdog.ParseDefaults(b)
	if err != nil {
		return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("watchdog: credentials in %s: %w", f.defaultsFile, err)}
	}
	lock, err := watchdog.LockPid(paths.Pid, true, 5*time.Second)
	if err != nil {
		return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("watchdog: pid file: %w", err)}
	}
	defer lock.Release()
	local, err := watchdog.OpenMySQL(client, watchdog.ProbeTimeout(watchdog.Tick(o.Lease)))
	if err != nil {
		return &mhacli.ExitError{Code: 1, Err: err}
	}
	defer local.Close()
	o.Log = log
	log.Info("local server", "mysql", client.String())
	if err := watchdog.Run(ctx, o, watchdog.Env{Local: local, BootID: watchdog.BootID()}); err != nil {
		return &mhacli.ExitError{Code: 1, Err: err}
	}
	return nil
}

// startDaemon starts this program again without --daemon, detached: in a
// new session (setsid, so that the end of the SSH session that started it
// sends it no SIGHUP), stdin from /dev/null and its output appended to the
// log file, so that nothing holds the SSH channel open. It then waits until
// the new daemon has written its state and reports its health.
func startDaemon(ctx context.Context, out, errOut io.Writer, f watchdogFlags, paths watchdog.Paths) error {
	if _, err := os.Stat(f.defaultsFile); err != nil {
		return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("watchdog: credentials: %w", err)}
	}
	self, err := os.Executable()
	if err != nil {
		return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("watchdog: locate this program: %w", err)}
	}
	args := f.runArgs()
	logf, err := os.OpenFile(paths.Log, os.O_WRONLY|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("watchdog: log file: %w", err)}
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return &mhacli.ExitError{Code: 1, Err: err}
	}
	defer devnull.Close()
	c := exec.Command(self, args...)
	c.Stdin, c.Stdout, c.Stderr = devnull, logf, logf
	c.Dir = "/"
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil {
		return &mhacli.ExitError{Code: 1, Err: fmt.Errorf("watchdog: start: %w", err)}
	}
	pid := c.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	deadline := time.Now().Add(daemonStartLimit)
	for {
		select {
		case err := <-exited:
			return reportHealth(out, errOut, f.jsonOut, watchdog.Health{
				Message: fmt.Sprintf("watchdog (pid %d) exited at start (%v): %s", pid, err, lastLogLines(paths.Log, 5)),
			})
		case <-ctx.Done():
			return &mhacli.ExitError{Code: 1, Err: ctx.Err()}
		case <-time.After(50 * time.Millisecond):
		}
		h := watchdogHealth(paths)
		if h.State != nil && h.State.PID == pid && h.Running {
			// Detach for good: the daemon is not our child to wait for.
			_ = c.Process.Release()
			return reportHealth(out, errOut, f.jsonOut, h)
		}
		if time.Now().After(deadline) {
			return reportHealth(out, errOut, f.jsonOut, watchdog.Health{
				Running: h.Running,
				Message: fmt.Sprintf("watchdog (pid %d) wrote no state within %s: %s", pid, daemonStartLimit, lastLogLines(paths.Log, 5)),
			})
		}
	}
}

func watchdogHealth(paths watchdog.Paths) watchdog.Health {
	st, err := watchdog.ReadState(paths.State)
	running, _ := watchdog.Running(paths.Pid)
	return watchdog.Evaluate(st, err, running, watchdog.BootID(), watchdog.BootClock{}.Now())
}

// reportHealth prints h and turns it into the exit status.
func reportHealth(out, errOut io.Writer, jsonOut bool, h watchdog.Health) error {
	code := watchdogHealthy
	switch {
	case h.OK:
	case h.Phase == watchdog.Demoted.String() || h.Phase == watchdog.Demoting.String():
		code = watchdogDemoted
	default:
		code = watchdogDown
	}
	if jsonOut {
		printJSON(out, struct {
			ExitCode int `json:"exit_code"`
			watchdog.Health
		}{code, h})
	} else if h.OK {
		fmt.Fprintln(out, "watchdog: "+h.Message)
	} else {
		fmt.Fprintln(errOut, "watchdog: "+h.Message)
	}
	if code == 0 {
		return nil
	}
	return &mhacli.ExitError{Code: code}
}

func lastLogLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log)"
	}
	lines := strings.Split(strings.TrimRight(string(bytes.TrimSpace(b)), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
