package detect

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/sshexec"
)

// ServerProcess is what the SSH check found of the database server's
// process on the master host: it tells a restart (the process, or its
// supervisor, is there) from a death (nothing left to restart it).
type ServerProcess int

// Server process facts.
const (
	// ProcessUnknown: the check could not tell (SSH failed, the command
	// failed, timed out or printed something unexpected).
	ProcessUnknown ServerProcess = iota
	// ProcessPresent: a mysqld, mariadbd, mysqld_safe or mariadbd-safe
	// process runs in the host's network namespace, or systemd is
	// starting, stopping or running the server's unit: a restart is
	// possible.
	ProcessPresent
	// ProcessAbsent: no such process runs in the host's network namespace
	// and systemd (when there) is not about to start one: the server is
	// gone and nobody is restarting it right now.
	ProcessAbsent
)

// String names the fact.
func (p ServerProcess) String() string {
	switch p {
	case ProcessPresent:
		return "present"
	case ProcessAbsent:
		return "absent"
	}
	return "unknown"
}

// MasterHost is what the SSH check on the master host found during a
// confirmation: whether a command ran there, and whether the server's
// process is there.
type MasterHost struct {
	// SSH is true when the check's command ran on the host (whatever its
	// exit status).
	SSH bool
	// SSHErr is why it did not run; "" when it ran.
	SSHErr string
	// Process says whether the server's process is there.
	Process ServerProcess
	// Evidence says so in words for the verdict and the log, e.g. "a
	// mysqld process runs on the master's host (pid 4242 mariadbd)".
	Evidence string
}

// evidence returns h.Evidence, or a sentence for a MasterHost that was
// never filled in (the check not waited for).
func (h MasterHost) evidence() string {
	if h.Evidence != "" {
		return h.Evidence
	}
	return "whether mysqld runs on the master's host is unknown"
}

// ProcessCheckTimeout bounds the process check on the master host (its
// /proc scan and the systemctl call): one that takes longer counts as
// ProcessUnknown, so the restart window applies.
const ProcessCheckTimeout = 500 * time.Millisecond

// serverProcessNames are the process names (/proc/<pid>/comm) that count
// as the database server or its guard: MySQL's and MariaDB's servers
// (mariadbd since MariaDB 10.5; a mysqld symlink to it shows as mysqld)
// and the mysqld_safe / mariadbd-safe scripts that restart a crashed
// server.
var serverProcessNames = []string{"mysqld", "mariadbd", "mysqld_safe", "mariadbd-safe"}

// serverUnits are the systemd units that run the server: MariaDB's
// (mariadb, mariadb@instance; mysql and mysqld are its aliases), MySQL's
// and Percona's on Debian (mysql) and on Red Hat (mysqld, mysqld@instance).
// Exact names and instance patterns only: 'mysql*' would also match a
// mysqld_exporter or mysql-router unit, which runs all the time.
var serverUnits = []string{"mariadb.service", "mariadb@*.service", "mysql.service", "mysql@*.service", "mysqld.service", "mysqld@*.service"}

// processScript looks for the server's process in the network namespace
// of the shell itself. $1 is the proc file system (/proc), $2 systemd's
// runtime directory (/run/systemd/system, there when systemd runs), $3 the
// number of process names that follow, then the names, then the units.
//
// For each process whose comm is one of the names and that is not a
// zombie (a killed server its parent has not reaped yet is gone), it
// compares /proc/<pid>/ns/net with the shell's own (test -ef: same device
// and inode): the integration lab's hosts are network namespaces sharing
// one pid namespace, where every host sees the others' servers. It prints
//
//	proc <pid> <name>        in this namespace
//	other <pid> <name>       in another one
//	unreadable <pid> <name>  namespace not readable (another user's process
//	                         for a non-root login, or one that is exiting)
//
// then, with systemd, "systemd" and systemctl show's properties of the
// units (blocks separated by blank lines), and "done" last. A shell whose
// test has no -ef prints "error ..." and exits 3.
const processScript = `p=$1 sd=$2 n=$1/self/ns/net k=$3
shift 3
[ "$n" -ef "$n" ] || { echo "error cannot compare network namespaces ($n)"; exit 3; }
for d in "$p"/[0-9]*; do
	c= s=
	{ read -r c <"$d/comm"; } 2>/dev/null || continue
	i=0 hit=
	for w; do
		i=$((i + 1))
		[ "$i" -le "$k" ] || break
		[ "$c" = "$w" ] && { hit=1; break; }
	done
	[ -n "$hit" ] || continue
	{ read -r s <"$d/stat"; } 2>/dev/null || continue
	s=${s##*) }
	case ${s%% *} in
	Z|X|x) continue ;;
	esac
	if [ "$d/ns/net" -ef "$n" ]; then
		echo "proc ${d##*/} $c"
	elif [ -e "$d/ns/net" ]; then
		echo "other ${d##*/} $c"
	elif [ -d "$d" ]; then
		echo "unreadable ${d##*/} $c"
	fi
done
shift "$k"
if [ -d "$sd" ]; then
	echo systemd
	systemctl show --no-pager -p Id,ActiveState,SubState,Job "$@" || { echo "error systemctl show failed"; exit 3; }
fi
echo done`

// ProcessCheckArgv returns the command that, run on the master host over
// SSH, reports whether the server's process (mysqld, mariadbd, mysqld_safe
// or mariadbd-safe) exists in the host's own network namespace and, when
// systemd runs there, the state of the server's units (mariadb, mysql,
// mysqld and their instances). It needs sh (with test -ef: dash, bash,
// busybox) and coreutils (env, timeout) there, and systemctl with systemd;
// the names are positional parameters, never pasted into the script. Read
// its result with MasterHostOf.
func ProcessCheckArgv(timeout time.Duration) []string {
	return processCheckArgv("/proc", "/run/systemd/system", timeout)
}

// processCheckArgv is ProcessCheckArgv over another proc file system and
// systemd directory (tests).
func processCheckArgv(proc, systemd string, timeout time.Duration) []string {
	if timeout <= 0 {
		timeout = ProcessCheckTimeout
	}
	secs := strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64)
	argv := []string{"env", "LC_ALL=C", "timeout", secs, "sh", "-c", processScript, "sh",
		proc, systemd, strconv.Itoa(len(serverProcessNames))}
	argv = append(argv, serverProcessNames...)
	return append(argv, serverUnits...)
}

// MasterHostOf reads the result of running ProcessCheckArgv (with the same
// timeout) through sshexec.Client.Run. The command ran (SSH works) when
// Run returned no error or an *sshexec.ExitError. Then, first match wins:
//
//	a server process in the host's namespace (or one whose namespace
//	cannot be read)                                 -> ProcessPresent
//	systemd: a server unit not inactive or failed,
//	or with a job pending (a restart, a start, an
//	auto-restart after a crash)                     -> ProcessPresent
//	non-zero exit, unexpected or incomplete output  -> ProcessUnknown
//	otherwise                                       -> ProcessAbsent
//
// It never returns ProcessAbsent without the whole output: the absence
// lets the machine skip the restart window, so doubt counts as a restart.
func MasterHostOf(res sshexec.Result, err error, timeout time.Duration) MasterHost {
	if timeout <= 0 {
		timeout = ProcessCheckTimeout
	}
	var ee *sshexec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return MasterHost{SSHErr: err.Error(), Evidence: "whether mysqld runs on the master's host is unknown (SSH failed)"}
	}
	h := MasterHost{SSH: true}
	var procs, units []string
	others := 0
	var bad string
	complete, inSystemd := false, false
	unit := map[string]string{}
	flush := func() {
		if u := restartingUnit(unit); u != "" {
			units = append(units, u)
		}
		clear(unit)
	}
	for line := range strings.SplitSeq(string(res.Stdout), "\n") {
		switch {
		case complete:
			if line != "" && bad == "" {
				bad = "output after done: " + line
			}
		case line == "done":
			flush()
			complete = true
		case strings.HasPrefix(line, "error "):
			bad = strings.TrimPrefix(line, "error ")
		case inSystemd:
			if line == "" {
				flush()
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok && bad == "" {
				bad = "unexpected systemctl output: " + line
			}
			unit[k] = v
		case line == "systemd":
			inSystemd = true
		case line == "":
		default:
			kind, rest, _ := strings.Cut(line, " ")
			pid, name, _ := strings.Cut(rest, " ")
			if _, err := strconv.Atoi(pid); err != nil || name == "" {
				if bad == "" {
					bad = "unexpected output: " + line
				}
				continue
			}
			switch kind {
			case "proc":
				procs = append(procs, "pid "+pid+" "+name)
			case "unreadable":
				procs = append(procs, "pid "+pid+" "+name+", its network namespace unreadable")
			case "other":
				others++
			default:
				if bad == "" {
					bad = "unexpected output: " + line
				}
			}
		}
	}
	switch {
	case len(procs) > 0:
		h.Process = ProcessPresent
		h.Evidence = "a mysqld process runs on the master's host (" + strings.Join(procs, "; ") + ")"
	case len(units) > 0:
		h.Process = ProcessPresent
		h.Evidence = "systemd may be restarting mysqld on the master's host (" + strings.Join(units, "; ") + ")"
	case ee != nil && ee.Code == 124:
		h.Evidence = fmt.Sprintf("whether mysqld runs on the master's host is unknown (the check took more than %s)", timeout)
	case ee != nil:
		why := bad
		if why == "" {
			why = lastLine(res.Stderr)
		}
		h.Evidence = fmt.Sprintf("whether mysqld runs on the master's host is unknown (the check exited %d: %s)", ee.Code, why)
	case bad != "":
		h.Evidence = "whether mysqld runs on the master's host is unknown (" + bad + ")"
	case !complete:
		h.Evidence = "whether mysqld runs on the master's host is unknown (the check's output is incomplete)"
	default:
		h.Process = ProcessAbsent
		h.Evidence = "no mysqld process on the master's host"
		if others > 0 {
			h.Evidence += fmt.Sprintf(" (%d in other network namespaces)", others)
		}
	}
	return h
}

// restartingUnit describes a unit (systemctl show's properties) that may
// be about to run the server: any active state but inactive and failed
// (activating also covers the auto-restart after a crash, deactivating a
// stop or the first half of a restart), or a job pending (the instant
// between a restart's stop and its start). "" for the others.
func restartingUnit(props map[string]string) string {
	if len(props) == 0 {
		return ""
	}
	state, job := props["ActiveState"], props["Job"]
	pending := job != "" && job != "0"
	if !pending && (state == "" || state == "inactive" || state == "failed") {
		return ""
	}
	d := props["Id"] + " " + state
	if sub := props["SubState"]; sub != "" {
		d += "/" + sub
	}
	if pending {
		d += ", job " + job + " pending"
	}
	return d
}

// checkMasterHost runs the process check (ProcessCheckArgv) on the master
// host over SSH: through the process's warm connection when the pool is
// enabled, the dial bounded by the host's ssh_connection_timeout, the
// command by ProcessCheckTimeout (on the host, and here with a margin for
// the session).
func checkMasterHost(ctx context.Context, master config.Server) MasterHost {
	t, err := check.SSHTarget(master)
	if err != nil {
		return MasterHostOf(sshexec.Result{}, err, ProcessCheckTimeout)
	}
	connect := t.ConnectTimeout
	if connect <= 0 {
		connect = sshexec.DefaultConnectTimeout
	}
	dctx, cancel := context.WithTimeout(ctx, connect+2*time.Second)
	defer cancel()
	c, err := sshexec.Dial(dctx, t)
	if err != nil {
		return MasterHostOf(sshexec.Result{}, err, ProcessCheckTimeout)
	}
	defer c.Close()
	rctx, cancel := context.WithTimeout(ctx, ProcessCheckTimeout+time.Second)
	defer cancel()
	res, err := c.Run(rctx, ProcessCheckArgv(ProcessCheckTimeout))
	return MasterHostOf(res, err, ProcessCheckTimeout)
}
