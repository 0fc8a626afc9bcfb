//go:build linux

package watchdog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pidRefresh is how often ManagerIdle's caller refreshes the cached path of
// mysqld's pid file (@@pid_file).
const pidRefresh = 5 * time.Second

// systemctlTimeout bounds each systemctl call of a stop: a busy or hung
// systemd must not eat the demotion's budget (the SIGKILL follows anyway).
const systemctlTimeout = time.Second

// refreshPID reads the server's @@pid_file when the cached path is older
// than pidRefresh. Errors leave the cache as it was. The pid itself is read
// from the file at kill time, never cached: a restarted mysqld has a new
// one.
func (m *MySQL) refreshPID(ctx context.Context) {
	if time.Since(m.pidAt) < pidRefresh {
		return
	}
	var path string
	if err := m.db.QueryRowContext(ctx, queryTag+"SELECT @@global.pid_file").Scan(&path); err != nil || path == "" {
		return
	}
	m.mu.Lock()
	m.pidPath, m.pidAt = path, time.Now()
	m.mu.Unlock()
}

// stopper stops the local mysqld for good: its facts from /proc, the
// signals and systemctl through fields that tests replace.
type stopper struct {
	fs procFS
	// signal sends sig to pid (syscall.Kill).
	signal func(pid int, sig syscall.Signal) error
	// systemctl runs systemctl with args and returns its output.
	systemctl func(ctx context.Context, args ...string) (string, error)
	// euid is the watchdog's effective uid.
	euid int
	// poll is the interval of the wait for the process to be gone.
	poll time.Duration
}

func newStopper() stopper {
	return stopper{
		fs:     procFS{root: "/proc"},
		signal: syscall.Kill,
		systemctl: func(ctx context.Context, args ...string) (string, error) {
			out, err := exec.CommandContext(ctx, "systemctl", args...).CombinedOutput()
			return strings.TrimSpace(string(out)), err
		},
		euid: os.Geteuid(),
		poll: 20 * time.Millisecond,
	}
}

// where says how the server is found on the host: its pid file and the
// port or socket it listens on.
type where struct {
	pidFile string
	port    int
	socket  string
}

func (w where) String() string {
	var parts []string
	if w.pidFile != "" {
		parts = append(parts, "pid_file "+w.pidFile)
	}
	if w.socket != "" {
		parts = append(parts, "socket "+w.socket)
	}
	if w.port > 0 {
		parts = append(parts, "port "+strconv.Itoa(w.port))
	}
	return strings.Join(parts, ", ")
}

// plan finds mysqld now (the holder of the port or socket, else the pid
// in the pid file) and plans its stop.
func (s stopper) plan(ctx context.Context, w where) (StopPlan, Proc) {
	procs := map[int]Proc{}
	look := func(pid int) {
		if _, ok := procs[pid]; ok || pid <= 0 {
			return
		}
		if p, ok := s.fs.proc(pid); ok {
			procs[pid] = p
		}
	}
	holders := s.fs.holders(s.fs.listenInodes(w.port, w.socket))
	for _, pid := range holders {
		look(pid)
	}
	fromFile := readPidFile(w.pidFile)
	look(fromFile)
	p, refuse := ChooseMySQLD(fromFile, holders, procs)
	if refuse != "" {
		return StopPlan{Running: true, Refuse: refuse}, Proc{}
	}
	main := 0
	if u := ServiceUnit(p.Cgroup); u != "" && p.PID > 0 {
		cctx, cancel := context.WithTimeout(ctx, systemctlTimeout)
		out, err := s.systemctl(cctx, "show", "-p", "MainPID", "--value", "--", u)
		cancel()
		if err == nil {
			main, _ = strconv.Atoi(strings.TrimSpace(out))
		}
	}
	return PlanStop(p, main), p
}

// gone reports whether pid no longer runs comm: exited, reused by another
// program, or a zombie (killed, not yet reaped by its parent: it holds no
// socket and runs nothing).
func (s stopper) gone(pid int, comm string) bool {
	if s.fs.comm(pid) != comm {
		return true
	}
	st := s.fs.state(pid)
	return st == "Z" || st == "X"
}

// stop carries the plan out: the unit's stop job (not waited for), SIGKILL
// to the guard, SIGKILL to mysqld (each only while its pid still runs the
// program planned), then waits until both are gone or ctx ends.
func (s stopper) stop(ctx context.Context, w where) Step {
	plan, _ := s.plan(ctx, w)
	switch {
	case plan.Refuse != "":
		return Step{Err: plan.Refuse}
	case !plan.Running:
		return Step{OK: true, Detail: "mysqld is not running (" + w.String() + ")"}
	}
	var done, warn []string
	if plan.Unit != "" {
		// The stop job first: while it runs, systemd does not apply
		// Restart= to the SIGKILL below. --no-block: a stop that would
		// wait for a hung mysqld's exit must not hold the kill back.
		cctx, cancel := context.WithTimeout(ctx, systemctlTimeout)
		out, err := s.systemctl(cctx, "stop", "--no-block", "--", plan.Unit)
		cancel()
		if err != nil {
			warn = append(warn, fmt.Sprintf("systemctl stop --no-block %s: %v %s", plan.Unit, err, out))
		} else {
			done = append(done, "systemctl stop --no-block "+plan.Unit)
		}
	}
	if plan.Note != "" {
		warn = append(warn, plan.Note)
	}
	kill := func(pid int, comm string) error {
		if s.gone(pid, comm) {
			return nil
		}
		if err := s.signal(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("kill -9 %d (%s): %w", pid, comm, err)
		}
		done = append(done, fmt.Sprintf("SIGKILL to %s (PID %d)", comm, pid))
		return nil
	}
	if plan.Guard > 0 {
		if err := kill(plan.Guard, plan.GuardComm); err != nil {
			// mysqld is killed all the same; the guard may start it
			// again, which the next tick's demotion finds writable.
			warn = append(warn, err.Error())
		}
	}
	if err := kill(plan.PID, plan.Comm); err != nil {
		return Step{Err: joinDetail(append(done, err.Error()), warn)}
	}
	for {
		if s.gone(plan.PID, plan.Comm) && (plan.Guard == 0 || s.gone(plan.Guard, plan.GuardComm)) {
			return Step{OK: true, Detail: joinDetail(append(done, "gone"), warn)}
		}
		select {
		case <-ctx.Done():
			return Step{Err: joinDetail(append(done, fmt.Sprintf("%s (PID %d) still there: %v", plan.Comm, plan.PID, ctx.Err())), warn)}
		case <-time.After(s.poll):
		}
	}
}

func joinDetail(done, warn []string) string {
	s := strings.Join(done, "; ")
	if len(warn) > 0 {
		s += " (" + strings.Join(warn, "; ") + ")"
	}
	return s
}

// check proves that stop could be carried out now: mysqld found, the
// watchdog root or mysqld's (and its guard's) uid with no unit to stop,
// and signal 0 delivered to mysqld and its guard.
func (s stopper) check(ctx context.Context, w where) (bool, string) {
	plan, p := s.plan(ctx, w)
	sigErr := ""
	if plan.Running && plan.Refuse == "" {
		for _, t := range []struct {
			pid  int
			comm string
		}{{plan.Guard, plan.GuardComm}, {plan.PID, plan.Comm}} {
			if t.pid <= 0 {
				continue
			}
			if err := s.signal(t.pid, 0); err != nil {
				sigErr = fmt.Sprintf("signal 0 to %s (PID %d): %v", t.comm, t.pid, err)
				break
			}
		}
	}
	ok, why := CheckStop(plan, s.euid, p.UID, p.ParentUID, sigErr)
	if !plan.Running {
		why += " (" + w.String() + ")"
	}
	return ok, why
}

// where returns where the server is, with the pid file path last read.
func (m *MySQL) where() where {
	m.mu.Lock()
	defer m.mu.Unlock()
	return where{pidFile: m.pidPath, port: m.port, socket: m.socket}
}

// Kill implements Killer: it finds mysqld now (the process holding the
// configured port or socket, else the pid in @@pid_file), stops its
// systemd unit without waiting (so that Restart= does not start it again),
// SIGKILLs its mysqld_safe guard, then mysqld, and waits until they are
// gone (or ctx ends). A process that is not mysqld or mariadbd, or another
// host's in a shared pid namespace, is left alone.
//
// It does not ask the server for its pid file (a hung server would eat the
// budget): the path the ticks read last is used, with the /proc scan.
func (m *MySQL) Kill(ctx context.Context) Step {
	return m.stop.stop(ctx, m.where())
}

// CanKill implements Killer: the proof, at start, that Kill would work.
func (m *MySQL) CanKill(ctx context.Context) (bool, string) {
	m.refreshPID(ctx)
	return m.stop.check(ctx, m.where())
}
