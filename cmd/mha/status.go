package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/cmd/internal/mhacli"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/daemon"
	"github.com/gomha/gomha/manager/journal"
	"github.com/gomha/gomha/manager/statefile"
)

// MHA's fixed locations for --app and --all (MHA::ManagerAdminWrapper).
const (
	// mhaConfDir holds <app>.cnf when only --app is given.
	mhaConfDir = "/usr/local/masterha/conf"
	// mhaServiceDir holds daemontools services named masterha_<app>; --all
	// acts on each.
	mhaServiceDir = "/service"
)

// adminFlags are the flags masterha_check_status and masterha_stop share
// (MHA::ManagerAdminWrapper::init).
type adminFlags struct {
	conf, global, app, dir, log string
	pingLimit                   int
	all                         bool
	basedir, baselog            string
}

func (f *adminFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.conf, "conf", "", "application configuration file; the working directory and log are read from it")
	fl.StringVar(&f.global, "global_conf", config.DefaultGlobalFile, "global configuration file; a missing one is skipped")
	fl.StringVar(&f.app, "app", "", "application name; alone it means --conf="+mhaConfDir+"/<app>.cnf")
	fl.StringVar(&f.dir, "status_dir", "", "directory of the health file (default: manager_workdir of the configuration)")
	fl.StringVar(&f.dir, "manager_workdir", "", "alias of --status_dir")
	fl.StringVar(&f.dir, "workdir", "", "alias of --status_dir")
	fl.StringVar(&f.log, "log_output", "", "manager log named in messages (default: manager_log of the configuration)")
	fl.StringVar(&f.log, "manager_log", "", "alias of --log_output")
	fl.IntVar(&f.pingLimit, "ping_limit", 10, "seconds a PING_OK health file may go untouched before it counts as TIMESTAMP_OLD")
	fl.BoolVar(&f.all, "all", false, "every application with a daemontools service "+mhaServiceDir+"/masterha_<app>")
	fl.StringVar(&f.basedir, "basedir", "", "with --all: the health file of <app> is in <basedir>/<app>, no configuration is read")
	fl.StringVar(&f.baselog, "baselog", "", "with --all and --basedir: the log of <app> is <baselog>/<app>/<app>.log")
}

// adminTarget is one application check-status or stop acts on, as given on
// the command line: a configuration, or an application name and directory.
type adminTarget struct {
	conf, global, app, dir, log string
}

// targets lists what to act on: one application, or with --all every
// daemontools service's (MHA's process_all).
func (f *adminFlags) targets() ([]adminTarget, error) {
	one := adminTarget{conf: f.conf, global: f.global, app: f.app, dir: f.dir, log: f.log}
	if !f.all {
		if one.app != "" && one.conf == "" && one.dir == "" {
			one.conf = filepath.Join(mhaConfDir, one.app+".cnf")
		}
		return []adminTarget{one}, nil
	}
	apps, err := serviceApps(mhaServiceDir)
	if err != nil {
		return nil, err
	}
	var ts []adminTarget
	for _, app := range apps {
		t := one
		t.conf = filepath.Join(mhaConfDir, app+".cnf")
		if f.basedir != "" {
			t.conf, t.app, t.dir = "", app, filepath.Join(f.basedir, app)
			if f.baselog != "" {
				t.log = filepath.Join(f.baselog, app, app+".log")
			}
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// serviceApps lists the applications of dir's masterha_<app> entries,
// sorted.
func serviceApps(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("--all: %w", err)
	}
	var apps []string
	for _, e := range entries {
		if app, ok := strings.CutPrefix(e.Name(), "masterha_"); ok {
			apps = append(apps, app)
		}
	}
	sort.Strings(apps)
	return apps, nil
}

// managedApp is a resolved target: where its health file and log are.
type managedApp struct {
	// name is the application name printed in messages.
	name string
	// dir is the working directory with the health and failover files;
	// fileApp is the application name in their file names.
	dir, fileApp string
	// log is the manager log, "" when unknown.
	log string
}

// literalResolver resolves every host to itself: check-status and stop
// need only manager_workdir and manager_log, and must not fail because DNS
// does.
type literalResolver struct{}

func (literalResolver) LookupHost(_ context.Context, host string) ([]string, error) {
	return []string{host}, nil
}

// resolve reads the configuration, if any, and finds the working directory
// (MHA::ManagerAdmin::init). Unlike MHA, --log_output wins over the
// configuration's manager_log (MHA always takes the configuration's).
func (t adminTarget) resolve(ctx context.Context) (managedApp, error) {
	m := managedApp{name: t.app, dir: t.dir, fileApp: t.app, log: t.log}
	if t.conf != "" {
		if _, err := os.Stat(t.conf); err != nil {
			return m, fmt.Errorf("%s not found!", t.conf)
		}
		cfg, err := config.Load(ctx, config.LoadOptions{AppFile: t.conf, GlobalFile: t.global, Resolver: literalResolver{}})
		if err != nil {
			return m, err
		}
		// MHA takes application-wide values from the first server.
		p := cfg.Default
		if len(cfg.Servers) > 0 {
			p = cfg.Servers[0].Params
		}
		if m.dir == "" {
			m.dir = p.ManagerWorkdir
		}
		if m.log == "" {
			m.log = p.ManagerLog
		}
		m.fileApp = cfg.App
		if m.name == "" {
			m.name = cfg.App
		}
	}
	switch {
	case m.dir == "" && t.conf != "":
		return m, fmt.Errorf("Failed to get status file directory (set in workdir parameter) from %s.", t.conf)
	case m.dir == "":
		return m, errors.New("Either --conf or --status_dir must be set.")
	}
	if fi, err := os.Stat(m.dir); err != nil || !fi.IsDir() {
		return m, fmt.Errorf("Directory %s not found!", m.dir)
	}
	if m.name == "" {
		return m, errors.New("app is not defined or could not be fetched from conf file!")
	}
	return m, nil
}

// health is what the health file and the process table say about a
// manager.
type health = daemon.ManagerState

// warnAdmin prints an error the way MHA's check-status and stop warn about
// one: "Got error on conf <file>: ...".
func warnAdmin(w io.Writer, t adminTarget, err error) {
	switch {
	case t.conf != "":
		fmt.Fprintf(w, "Got error on conf %s: %v\n", t.conf, err)
	case t.app != "":
		fmt.Fprintf(w, "Got error on app %s: %v\n", t.app, err)
	default:
		fmt.Fprintln(w, err)
	}
}

// runAdmin resolves each target, reads its state and hands both to each,
// which returns the exit code. Errors are printed as MHA prints them and
// count as 1; with --all, any target's non-zero code makes the result 1, as
// in MHA.
func runAdmin(cmd *cobra.Command, f *adminFlags, each func(managedApp, health) int) error {
	errw := cmd.ErrOrStderr()
	ts, err := f.targets()
	if err != nil {
		warnAdmin(errw, adminTarget{}, err)
		return &mhacli.ExitError{Code: 1}
	}
	code := 0
	for _, t := range ts {
		c := 1
		if m, err := t.resolve(cmd.Context()); err != nil {
			warnAdmin(errw, t, err)
		} else if h, err := daemon.ReadManagerState(m.dir, m.fileApp, f.pingLimit, time.Now()); err != nil {
			warnAdmin(errw, t, err)
		} else {
			c = each(m, h)
		}
		if c != 0 {
			code = c
			if f.all {
				code = 1
			}
		}
	}
	if code != 0 {
		return &mhacli.ExitError{Code: code}
	}
	return nil
}

func newCheckStatusCmd() *cobra.Command {
	var f adminFlags
	cmd := &cobra.Command{
		Use:   "check-status --conf=FILE",
		Short: "Print the manager's state and exit with its code (masterha_check_status)",
		Long: "Reads <manager_workdir>/<app>.master_status.health and checks the manager process it names.\n" +
			"Prints one line and exits with MHA's code: 0 PING_OK, 2 NOT_RUNNING, 3 PARTIALLY_RUNNING,\n" +
			"10 INITIALIZING_MONITOR, 20 PING_FAILING, 21 PING_FAILED, 30 RETRYING_MONITOR, 31 CONFIG_ERROR,\n" +
			"32 TIMESTAMP_OLD (PING_OK not refreshed within --ping_limit), 50 FAILOVER_RUNNING,\n" +
			"51 FAILOVER_ERROR, 1 when the state cannot be read.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAdmin(cmd, &f, func(m managedApp, h health) int {
				if r, err := statefile.ReadRefusal(m.dir, m.fileApp); err == nil && r != nil && managerRuns(h.Status) {
					h.Refused = r.String()
				}
				printStatus(cmd.OutOrStdout(), m, h)
				for _, line := range failoverNotes(m, h) {
					fmt.Fprintln(cmd.OutOrStdout(), line)
				}
				return h.Status.Code
			})
		},
	}
	f.add(cmd)
	return cmd
}

// printStatus prints MHA's line for a state (MHA::ManagerAdmin::check_status).
// Unlike MHA, a missing master is left out rather than printed empty, and
// RETRYING_MONITOR's line ends with a newline.
func printStatus(w io.Writer, m managedApp, h health) {
	master, checkLog := "", false
	if h.Master != "" {
		master = " master:" + h.Master
	}
	switch h.Status {
	case statefile.PingOK:
		if h.Master != "" {
			master = ", master:" + h.Master
		}
		refused := ""
		if h.Refused != "" {
			refused = "; " + h.Refused
		}
		fmt.Fprintf(w, "%s (pid:%d) is running(%s)%s%s\n", m.name, h.PID, h.Status, master, refused)
	case statefile.NotRunning:
		fmt.Fprintf(w, "%s is stopped(%s).\n", m.name, h.Status)
	case statefile.PartiallyRunning:
		pids := make([]string, len(h.Children))
		for i, p := range h.Children {
			pids[i] = strconv.Itoa(p)
		}
		fmt.Fprintf(w, "Main process is not running, but child process is running on %s (child pid: %s) (%s). Check ps output for details and kill it.\n",
			m.name, strings.Join(pids, " "), h.Status)
	case statefile.InitializingMonitor:
		fmt.Fprintf(w, "%s monitoring program is now on initialization phase(%s). Wait for a while and try checking again.\n", m.name, h.Status)
	case statefile.PingFailing, statefile.PingFailed:
		fmt.Fprintf(w, "%s master maybe down(%s).%s\n", m.name, h.Status, master)
		checkLog = true
	case statefile.RetryingMonitor:
		fmt.Fprintf(w, "%s monitoring waits for retrying to monitor master again(%s). Wait for a while and try checking again.\n", m.name, h.Status)
	case statefile.ConfigError:
		fmt.Fprintf(w, "%s servers are not correctly configured(%s).\n", m.name, h.Status)
		checkLog = true
	case statefile.TimestampOld:
		fmt.Fprintf(w, "%s behinds %d seconds!\n", statefile.HealthPath(m.dir, m.fileApp), int(h.Behind.Seconds()))
		fmt.Fprintf(w, "%s is running, but master_ping.health is too old(%s). Maybe process hangs?%s\n", m.name, h.Status, master)
	case statefile.FailoverRunning:
		fmt.Fprintf(w, "%s master is down and failover is running(%s).%s\n", m.name, h.Status, master)
		checkLog = true
	case statefile.FailoverError:
		fmt.Fprintf(w, "%s master is down and failover was not successful(%s).%s\n", m.name, h.Status, master)
		checkLog = true
	default:
		fmt.Fprintf(w, "Unexpected error on %s.\n", m.name)
	}
	if h.Refused != "" && h.Status != statefile.PingOK {
		fmt.Fprintln(w, strings.ToUpper(h.Refused[:1])+h.Refused[1:])
	}
	if checkLog && m.log != "" {
		fmt.Fprintf(w, "Check %s for details.\n", m.log)
	}
}

// managerRuns says whether a state is one of a running manager.
func managerRuns(st statefile.Status) bool {
	return st != statefile.NotRunning && st != statefile.PartiallyRunning
}

// failoverNotes are the lines check-status adds after MHA's line about a
// failover that did not finish: a manager that died in FAILOVER_RUNNING,
// an unfinished journal (its summary), the error flag file.
func failoverNotes(m managedApp, h health) []string {
	var out []string
	if !managerRuns(h.Status) && h.Written == statefile.FailoverRunning {
		s := fmt.Sprintf("The manager (pid %d) stopped in the middle of a failover (%s", h.PID, h.Written)
		if h.Master != "" {
			s += ", master:" + h.Master
		}
		out = append(out, s+"): it was killed or crashed.")
	}
	st, err := journal.Read(m.dir, m.fileApp)
	switch {
	case err != nil:
		out = append(out, "Failover journal: "+err.Error())
	case st.Unfinished() && h.Status == statefile.FailoverRunning:
		out = append(out, "Failover in progress: "+st.Summary()+".")
	case st.Unfinished():
		out = append(out, "Unfinished failover: "+st.Summary()+". The manager refuses to start until it is resumed "+
			"(--resume says whether it can be) or finished by hand.")
	}
	if _, err := os.Stat(statefile.ErrorPath(m.dir, m.fileApp)); err == nil {
		out = append(out, "Failover error flag file "+statefile.ErrorPath(m.dir, m.fileApp)+" exists: the last failover failed or was interrupted.")
	}
	return out
}

func newStopCmd() *cobra.Command {
	var f adminFlags
	var abort bool
	var abortTimeout int
	cmd := &cobra.Command{
		Use:   "stop --conf=FILE [--abort [--abort_timeout=5]]",
		Short: "Stop the manager (masterha_stop)",
		Long: "Sends SIGTERM to the manager's process group and waits up to --abort_timeout seconds for it\n" +
			"to exit. A manager in FAILOVER_RUNNING is left alone unless --abort is given; with --abort a\n" +
			"manager that does not stop in time gets SIGKILL. Exit 0 when stopped (or not running), 1 otherwise.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAdmin(cmd, &f, func(m managedApp, h health) int {
				return daemon.StopManager(cmd.OutOrStdout(), cmd.ErrOrStderr(), m.name, m.dir, m.fileApp, h, abort, time.Duration(abortTimeout)*time.Second)
			})
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&abort, "abort", false, "stop even during a failover; SIGKILL a manager that does not stop in time")
	cmd.Flags().IntVar(&abortTimeout, "abort_timeout", 5, "seconds to wait after SIGTERM")
	return cmd
}
