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
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// script writes an executable sh script into a temporary directory.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hook")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunPassesArgvExactly(t *testing.T) {
	rec := script(t, `for a in "$@"; do printf '%s\0' "$a"; done`+"\n")
	var logs syncBuffer
	r := Runner{Log: slog.New(slog.NewTextHandler(&logs, nil))}
	newm := Endpoint{Host: "db2", IP: "10.0.0.2", Port: 3306, SSHUser: "root", User: "mha", Password: "s3cr$t 'pw' \"x\" \\ `id`"}
	orig := Endpoint{Host: "db1", IP: "10.0.0.1", Port: 3306, SSHUser: "root"}
	args := FailoverStartArgs(orig, newm)
	res, err := r.Run(context.Background(), "master_ip_failover_script", rec+` --fixed='a b'`, args)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(res.Output, "\x00"), "\x00")
	want := append([]string{"--fixed=a b"}, args...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("argv the hook received (-want +got):\n%s", diff)
	}
	if ok, warned := res.Proceed(); !ok || warned || res.Code != 0 {
		t.Errorf("result %+v: Proceed = %v, %v", res, ok, warned)
	}
	// The recording hook prints the password itself; the command line
	// Run logs must not.
	cmdLine, _, _ := strings.Cut(logs.String(), "\n")
	if strings.Contains(cmdLine, "s3cr") || !strings.Contains(cmdLine, "--new_master_password=xxx") || !strings.Contains(cmdLine, "hook=master_ip_failover_script") {
		t.Errorf("the logged command line shows the password or lacks the masked argument or the hook key:\n%s", cmdLine)
	}
}

func TestRunLogsOutputLines(t *testing.T) {
	h := script(t, "echo one\necho two >&2\nprintf 'last'\nexit 10\n")
	var logs syncBuffer
	r := Runner{Log: slog.New(slog.NewTextHandler(&logs, nil))}
	res, err := r.Run(context.Background(), "shutdown_script", h, []string{"--command=stopssh"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Output != "one\ntwo\nlast" {
		t.Errorf("Output = %q", res.Output)
	}
	for _, line := range []string{`msg=one hook=shutdown_script`, `msg=two hook=shutdown_script`, `msg=last hook=shutdown_script`} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("log lacks %q:\n%s", line, logs.String())
		}
	}
	if ok, warned := res.Proceed(); !ok || !warned || res.Code != 10 || res.MHACode() != "10:0" {
		t.Errorf("result %+v (%s): Proceed = %v, %v; want exit 10, proceeding with a warning", res, res.MHACode(), ok, warned)
	}
}

func TestRunExitAndSignal(t *testing.T) {
	tests := []struct {
		command  string
		code     int
		signal   string
		mha      string
		ok, warn bool
	}{
		{`/bin/sh -c 'exit 0'`, 0, "", "0:0", true, false},
		{`/bin/sh -c 'exit 1'`, 1, "", "1:0", false, false},
		{`/bin/sh -c 'exit 10'`, 10, "", "10:0", true, true},
		{`/bin/sh -c 'exit 3'`, 3, "", "3:0", false, false},
		{`/bin/sh -c 'kill -TERM $$'`, -1, "SIGTERM", "0:15", false, false},
		{`/bin/sh -c 'kill -USR1 $$'`, -1, "SIGUSR1", "0:10", false, false},
	}
	for _, tt := range tests {
		res, err := Runner{}.Run(context.Background(), "report_script", tt.command, nil)
		if err != nil {
			t.Errorf("%s: %v", tt.command, err)
			continue
		}
		ok, warn := res.Proceed()
		if res.Code != tt.code || res.Signal != tt.signal || res.MHACode() != tt.mha || ok != tt.ok || warn != tt.warn {
			t.Errorf("%s: code %d signal %q (%s) proceed %v,%v; want %d %q (%s) %v,%v",
				tt.command, res.Code, res.Signal, res.MHACode(), ok, warn, tt.code, tt.signal, tt.mha, tt.ok, tt.warn)
		}
	}
}

func TestRunCannotStart(t *testing.T) {
	notExec := filepath.Join(t.TempDir(), "hook")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		command string
		want    error
	}{
		{"gomha-no-such-hook --x", exec.ErrNotFound},
		{"/nonexistent/hook", os.ErrNotExist},
		{notExec, os.ErrPermission},
		{"hook | tee", ErrNeedsShell},
		{"", ErrEmptyCommand},
	}
	for _, tt := range tests {
		_, err := Runner{}.Run(context.Background(), "master_ip_failover_script", tt.command, []string{"--command=status"})
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), "master_ip_failover_script") {
			t.Errorf("Run(%q) = %v, want %v naming the parameter", tt.command, err, tt.want)
		}
	}
}

// alive reports whether pid still runs (not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// waitGone waits until pid has stopped running.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); alive(pid); {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunTimeoutKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	h := script(t, "sleep 60 &\necho $! > "+pidFile+"\necho started\nsleep 60\n")
	start := time.Now()
	res, err := Runner{Timeout: 300 * time.Millisecond}.Run(context.Background(), "master_ip_failover_script", h, nil)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after 300ms") {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %s after a 300ms timeout", d)
	}
	if res.Signal != "SIGKILL" || res.Output != "started\n" {
		t.Errorf("result %+v, want killed with its output", res)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	waitGone(t, pid)
}

func TestRunContextCancel(t *testing.T) {
	h := script(t, "sleep 60\n")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	_, err := Runner{}.Run(ctx, "shutdown_script", h, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// A process the hook leaves running keeps its output open; Run returns
// when the hook exits and the process is left alone.
func TestRunLeavesBackgroundProcess(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	h := script(t, "(sleep 2; echo late) &\necho $! > "+pidFile+"\necho early\n")
	start := time.Now()
	res, err := Runner{}.Run(context.Background(), "master_ip_failover_script", h, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Run took %s: it waited for the background process", d)
	}
	if res.Output != "early\n" {
		t.Errorf("Output = %q", res.Output)
	}
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if !alive(pid) {
		t.Errorf("the background process %d was killed", pid)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

func TestRunEnv(t *testing.T) {
	res, err := Runner{Env: []string{"GOMHA_HOOK_TEST=a b"}}.Run(context.Background(), "report_script", `/bin/sh -c 'printf %s "$GOMHA_HOOK_TEST"'`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Output != "a b" {
		t.Errorf("Output = %q", res.Output)
	}
}

func TestMaskPasswords(t *testing.T) {
	in := []string{"hook", "--new_master_password=a b", "--orig_master_password=", "--master_password=x=y", "--password=p",
		"--new_master_user=mha", "password=keep", "-ppw", "--passwordless=no"}
	want := []string{"hook", "--new_master_password=xxx", "--orig_master_password=xxx", "--master_password=xxx", "--password=xxx",
		"--new_master_user=mha", "password=keep", "-ppw", "--passwordless=no"}
	if diff := cmp.Diff(want, MaskPasswords(in)); diff != "" {
		t.Error(diff)
	}
	if in[1] != "--new_master_password=a b" {
		t.Error("MaskPasswords changed its argument")
	}
}

func TestRunInProcess(t *testing.T) {
	var logs bytes.Buffer
	r := Runner{
		Log: slog.New(slog.NewTextHandler(&logs, nil)),
		InProcess: func(_ context.Context, argv []string, out io.Writer) (int, bool) {
			if argv[0] != "builtin" {
				return 0, false
			}
			fmt.Fprintln(out, "line one")
			fmt.Fprintln(out, "line two")
			return 10, true
		},
	}
	res, err := r.Run(t.Context(), "master_ip_failover_script", "builtin --x=1", []string{"--new_master_password=pw"})
	if err != nil || res.Code != 10 || res.Output != "line one\nline two" {
		t.Fatalf("Run = %+v, %v; want code 10 and both lines", res, err)
	}
	if ok, warned := res.Proceed(); !ok || !warned {
		t.Errorf("Proceed = %v, %v; want the child's reading of exit 10", ok, warned)
	}
	l := logs.String()
	if !strings.Contains(l, "line two") || strings.Contains(l, "=pw") || !strings.Contains(l, "in-process") {
		t.Errorf("log %q: want the output lines, the masked command and the in-process note", l)
	}
	// Not handled: a real child runs.
	res, err = r.Run(t.Context(), "master_ip_failover_script", "sh -c 'exit 3'", nil)
	if err != nil || res.Code != 3 {
		t.Errorf("child Run = %+v, %v; want exit 3", res, err)
	}
	// With Env set the child always runs (the built-in cannot take it).
	r.Env = []string{"X=1"}
	if res, _ := r.Run(t.Context(), "h", "builtin", nil); res.Output == "line one\nline two" {
		t.Error("InProcess used although Env is set")
	}
}
