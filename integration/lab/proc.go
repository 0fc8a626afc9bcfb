package lab

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

// Process is a long-running program the lab started inside a namespace, in
// its own process group, with stdout and stderr appended to a log file. The
// lab kills every Process (and anything else running in its namespaces) in
// Close.
type Process struct {
	// Name says what the process is, for errors ("mariadbd on db2").
	Name string
	// Pid is the process id; it is also the process group id.
	Pid int
	// Log is the file that receives the process's stdout and stderr.
	Log string

	cmd  *exec.Cmd
	done chan struct{}
	err  error // cmd.Wait's result, valid once done is closed
}

// startProcess starts argv inside namespace ns (`ip netns exec` execs the
// program, so the pid is the program's own) in a new process group. The
// process outlives any context: it runs until killed.
func startProcess(name, ns, logPath string, argv ...string) (*Process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer f.Close()
	args := append([]string{"netns", "exec", ns}, argv...)
	cmd := exec.Command(bin("ip"), args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = "/"
	// Own process group: a Ctrl-C on the terminal does not reach it, and the
	// whole group can be signalled at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, Pid: cmd.Process.Pid, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process has ended and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Signal sends sig to the process's whole group. Signalling an ended
// process is not an error.
func (p *Process) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return nil
	}
	if err := syscall.Kill(-p.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s (pid %d): %w", p.Name, p.Pid, err)
	}
	return nil
}

// Wait waits until the process has ended, bounded by ctx.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for %s (pid %d) to exit: %w", p.Name, p.Pid, ctx.Err())
	}
}

// Kill sends SIGKILL to the process group and waits (at most ten seconds)
// until the process is reaped.
func (p *Process) Kill() error {
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return p.Wait(ctx)
}

// exitDescription describes how the process ended, for error messages.
func (p *Process) exitDescription() string {
	if !p.Exited() {
		return "still running"
	}
	if p.err == nil {
		return "exited with status 0"
	}
	return p.err.Error()
}

// nsPids lists the processes whose network namespace is the named one, by
// comparing /proc/<pid>/ns/net with /run/netns/<ns> (what `ip netns pids`
// does). Zombies and vanished processes are skipped.
func nsPids(ns string) ([]int, error) {
	var want syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+ns, &want); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return nil, nil
		}
		return nil, fmt.Errorf("stat netns %s: %w", ns, err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+e.Name()+"/ns/net", &st) != nil {
			continue
		}
		if st.Dev == want.Dev && st.Ino == want.Ino {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// killNamespace kills every process in network namespace ns with SIGKILL and
// waits up to timeout for them to be gone.
func killNamespace(ns string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pids, err := nsPids(ns)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes still in netns %s after SIGKILL: %v", ns, pids)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// run runs a short command and returns its stdout; the error carries the
// command line and its stderr.
func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && ctx.Err() != nil {
		// Killed because ctx ended: say so, so callers can tell a
		// deadline from a failing command.
		return out, fmt.Errorf("%s %s: %w (%v)", name, strings.Join(args, " "), ctx.Err(), err)
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(string(out))
		}
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return out, nil
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return lastLines(string(b), n)
}
