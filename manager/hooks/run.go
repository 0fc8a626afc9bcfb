package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gomha/gomha/manager/sshexec"
)

// Result is how a hook ended.
type Result struct {
	// Code is the exit status, -1 when the hook was killed by a signal.
	Code int
	// Signal names the signal that killed the hook ("SIGKILL"), "" when it
	// exited.
	Signal string
	// Output is the hook's standard output and standard error, interleaved
	// as written, up to 1 MiB (all of it is logged).
	Output string
	// Duration is how long it ran.
	Duration time.Duration
}

// Proceed reads the result as MHA reads the IP and online-change hooks:
// exit 0 is success; exit 10 is a failure MHA logs and then continues
// with a warning "Proceeding." (ok and warned both true); anything else,
// a signal included, aborts the operation.
func (r Result) Proceed() (ok, warned bool) {
	switch {
	case r.Signal != "":
		return false, false
	case r.Code == 0:
		return true, false
	case r.Code == 10:
		return true, true
	}
	return false, false
}

// MHACode returns the result as MHA prints it in "return code H:L":
// exit code, colon, signal number ("10:0", "0:9").
func (r Result) MHACode() string {
	if r.Signal == "" {
		return strconv.Itoa(r.Code) + ":0"
	}
	for n, name := range signalNames {
		if name == r.Signal {
			return "0:" + strconv.Itoa(int(n))
		}
	}
	return "0:" + strings.TrimPrefix(r.Signal, "signal ")
}

// pollInterval is how often Run reads new output while a hook runs.
const pollInterval = 50 * time.Millisecond

// maxOutput bounds Result.Output; everything is logged regardless.
const maxOutput = 1 << 20

// Runner runs hook commands.
type Runner struct {
	// Log receives the command line (passwords masked), every output line
	// at info with "hook" = the parameter name, and the result. Nil
	// discards.
	Log *slog.Logger
	// Timeout bounds each run; 0 means none (MHA has none). On timeout the
	// hook's whole process group is killed.
	Timeout time.Duration
	// Env is added to the manager's environment for the hook ("NAME=value"
	// entries, later ones winning).
	Env []string
	// InProcess, when set, is offered every hook's argv first and may run
	// it inside the manager instead of as a child process, writing its
	// output to out; it returns handled=false for a command it does not
	// own. gomha's own built-in hooks (`mha hook vip|consul`) run this
	// way, on the manager's warm SSH connections, without a fork and a
	// dial per host. It is not used when Env is set. The result is read as
	// a child's would be (Result.Proceed).
	InProcess func(ctx context.Context, argv []string, out io.Writer) (code int, handled bool)
}

// Run runs the hook configured as command for parameter name (e.g.
// "master_ip_failover_script") with args appended, and waits for it.
//
// command is split with [SplitCommand] and executed directly, without a
// shell; a first word without a slash is looked up in PATH. The hook runs
// in its own process group, which is killed with SIGKILL when ctx ends or
// Timeout passes. Its standard input is empty.
//
// The error is non-nil only when the hook could not run to its end: the
// command does not split, the program cannot be found or started, or ctx
// ended or Timeout passed (then the Result, with the output so far, is
// returned too and the error wraps the context's error). A hook that ran
// and failed is a nil error and a Result to read with [Result.Proceed].
func (r Runner) Run(ctx context.Context, name, command string, args []string) (Result, error) {
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	argv, err := SplitCommand(command)
	if err != nil {
		return Result{}, fmt.Errorf("hooks: %s: %w", name, err)
	}
	argv = append(argv, args...)
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, r.Timeout, fmt.Errorf("timed out after %s", r.Timeout))
		defer cancel()
	}

	if r.InProcess != nil && len(r.Env) == 0 {
		if res, ok, err := r.runInProcess(ctx, log, name, argv); ok {
			return res, err
		}
	}

	// Output goes to an unlinked temporary file, not a pipe: a process
	// the hook leaves running (arping &) may keep writing after the hook
	// exits, and must neither block Run nor die of SIGPIPE.
	outFile, err := os.CreateTemp("", "gomha-hook-")
	if err != nil {
		return Result{}, fmt.Errorf("hooks: %s: output file: %w", name, err)
	}
	defer outFile.Close()
	_ = os.Remove(outFile.Name())

	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Stdout, cmd.Stderr = outFile, outFile
	if len(r.Env) > 0 {
		cmd.Env = append(os.Environ(), r.Env...)
	}

	log.Info("executing hook", "hook", name, "command", sshexec.Join(MaskPasswords(argv)))
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("hooks: %s: start %s: %w", name, argv[0], err)
	}
	out := &outputLog{log: log, name: name, file: outFile}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { out.follow(done) })
	_ = cmd.Wait() // the exit status is read from ProcessState below
	close(done)
	wg.Wait()

	res := Result{Output: out.finish(), Duration: time.Since(start)}
	res.Code, res.Signal = exitOf(cmd.ProcessState)
	if ctx.Err() != nil {
		err := fmt.Errorf("hooks: %s: %s: %w", name, argv[0], context.Cause(ctx))
		if !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return res, err
	}
	log.Info("hook finished", "hook", name, "code", res.Code, "signal", res.Signal, "duration", res.Duration.Round(time.Millisecond))
	return res, nil
}

// runInProcess runs argv through InProcess when it handles it, logging
// like Run.
func (r Runner) runInProcess(ctx context.Context, log *slog.Logger, name string, argv []string) (Result, bool, error) {
	var buf bytes.Buffer
	start := time.Now()
	code, ok := r.InProcess(ctx, argv, &buf)
	if !ok {
		return Result{}, false, nil
	}
	log.Info("executed hook in-process (built-in)", "hook", name, "command", sshexec.Join(MaskPasswords(argv)))
	out := strings.TrimSuffix(buf.String(), "\n")
	if out != "" {
		for _, line := range strings.Split(out, "\n") {
			log.Info(line, "hook", name)
		}
	}
	if len(out) > maxOutput {
		out = out[:maxOutput]
	}
	res := Result{Code: code, Output: out, Duration: time.Since(start)}
	if ctx.Err() != nil {
		return res, true, fmt.Errorf("hooks: %s: %s: %w", name, argv[0], context.Cause(ctx))
	}
	log.Info("hook finished", "hook", name, "code", res.Code, "signal", res.Signal, "duration", res.Duration.Round(time.Millisecond))
	return res, true, nil
}

// MaskPasswords returns a copy of argv fit for a log: the value of every
// --<anything>password=... word (--new_master_password, --master_password,
// --orig_master_password, --password) is replaced by "xxx", as MHA prints
// them.
func MaskPasswords(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = a
		if !strings.HasPrefix(a, "--") {
			continue
		}
		if key, _, ok := strings.Cut(a, "="); ok && strings.HasSuffix(key, "password") {
			out[i] = key + "=xxx"
		}
	}
	return out
}

// exitOf returns the exit code and signal name of a finished process.
func exitOf(ps *os.ProcessState) (code int, signal string) {
	if ps == nil {
		return -1, ""
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -1, signalName(ws.Signal())
	}
	return ps.ExitCode(), ""
}

// signalNames are the signals a hook is likely to die of.
var signalNames = map[syscall.Signal]string{
	syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
	syscall.SIGILL: "SIGILL", syscall.SIGABRT: "SIGABRT", syscall.SIGBUS: "SIGBUS",
	syscall.SIGFPE: "SIGFPE", syscall.SIGKILL: "SIGKILL", syscall.SIGUSR1: "SIGUSR1",
	syscall.SIGSEGV: "SIGSEGV", syscall.SIGUSR2: "SIGUSR2", syscall.SIGPIPE: "SIGPIPE",
	syscall.SIGALRM: "SIGALRM", syscall.SIGTERM: "SIGTERM",
}

func signalName(s syscall.Signal) string {
	if n, ok := signalNames[s]; ok {
		return n
	}
	return "signal " + strconv.Itoa(int(s))
}

// outputLog reads a hook's output file while the hook runs, logs every
// line, and keeps the first maxOutput bytes for Result.Output. It reads
// with ReadAt: the file offset is shared with the hook's descriptors.
type outputLog struct {
	log  *slog.Logger
	name string
	file *os.File

	off     int64
	all     bytes.Buffer
	partial []byte
}

// follow reads new output every pollInterval until done is closed, then
// once more.
func (o *outputLog) follow(done <-chan struct{}) {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-done:
			o.read()
			return
		case <-t.C:
			o.read()
		}
	}
}

// read consumes what was written since the last read.
func (o *outputLog) read() {
	buf := make([]byte, 32<<10)
	for {
		n, err := o.file.ReadAt(buf, o.off)
		if n > 0 {
			o.off += int64(n)
			o.add(buf[:n])
		}
		if err != nil || n < len(buf) {
			return
		}
	}
}

func (o *outputLog) add(p []byte) {
	if room := maxOutput - o.all.Len(); room > 0 {
		o.all.Write(p[:min(room, len(p))])
	}
	o.partial = append(o.partial, p...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		o.log.Info(strings.TrimSuffix(string(o.partial[:i]), "\r"), "hook", o.name)
		o.partial = o.partial[i+1:]
	}
}

// finish logs an unterminated last line and returns the kept output. Call
// it after follow has returned.
func (o *outputLog) finish() string {
	if len(o.partial) > 0 {
		o.log.Info(string(o.partial), "hook", o.name)
		o.partial = nil
	}
	return o.all.String()
}
