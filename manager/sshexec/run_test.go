package sshexec

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRunExitCodes(t *testing.T) {
	e := newEnv(t)
	c := dialOK(t, e.target(t, ""))
	tests := []struct {
		name   string
		argv   []string
		code   int
		signal string
		stdout string
		stderr string
	}{
		{name: "true", argv: []string{"true"}},
		{name: "exit 3", argv: []string{"sh", "-c", "echo partial; echo 'boom: it broke' >&2; exit 3"},
			code: 3, stdout: "partial\n", stderr: "boom: it broke\n"},
		{name: "not found", argv: []string{"gomha-no-such-command"}, code: 127},
		{name: "killed", argv: []string{"exec", "sh", "-c", "kill -TERM $$"}, code: 128 + 15, signal: "TERM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.Run(context.Background(), tt.argv)
			if tt.code == 0 {
				if err != nil || res.ExitCode != 0 {
					t.Fatalf("Run = %+v, %v", res, err)
				}
				return
			}
			var ee *ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("Run error %v (%T) is not an *ExitError", err, err)
			}
			if ee.Code != tt.code || res.ExitCode != tt.code || ee.Signal != tt.signal || res.Signal != tt.signal {
				t.Errorf("exit = %d/%d signal %q/%q, want %d %q", ee.Code, res.ExitCode, ee.Signal, res.Signal, tt.code, tt.signal)
			}
			if tt.stdout != "" && string(res.Stdout) != tt.stdout {
				t.Errorf("stdout = %q, want %q", res.Stdout, tt.stdout)
			}
			if tt.stderr != "" && string(res.Stderr) != tt.stderr || tt.stderr == "" && tt.signal != "" && len(res.Stderr) > 0 {
				t.Errorf("stderr = %q, want %q", res.Stderr, tt.stderr)
			}
			if errors.Is(err, ErrConnectionLost) {
				t.Errorf("an exit status must not look like a transport error")
			}
			if !strings.Contains(err.Error(), c.String()) || !strings.Contains(err.Error(), tt.argv[0]) {
				t.Errorf("error %q should name host and program", err)
			}
		})
	}
	// The message carries the last line of stderr but never the arguments.
	_, err := c.Run(context.Background(), []string{"sh", "-c", "echo secret-password-arg >/dev/null; echo 'line1\nfinal words' >&2; exit 1"})
	if err == nil || !strings.HasSuffix(err.Error(), ": final words") || strings.Contains(err.Error(), "secret-password-arg") {
		t.Errorf("error = %q", err)
	}
}

func TestRunHostileArgvRoundTrip(t *testing.T) {
	e := newEnv(t)
	c := dialOK(t, e.target(t, ""))
	argv := append([]string{"printf", `%s\000`}, hostile...)
	res, err := c.Run(context.Background(), argv)
	if err != nil {
		t.Fatalf("Run: %v (stderr %q)", err, res.Stderr)
	}
	got := strings.Split(strings.TrimSuffix(string(res.Stdout), "\x00"), "\x00")
	if len(got) != len(hostile) {
		t.Fatalf("got %d arguments, want %d: %q", len(got), len(hostile), got)
	}
	for i := range hostile {
		if got[i] != hostile[i] {
			t.Errorf("argument %d: got %q, want %q", i, got[i], hostile[i])
		}
	}
}

func TestRunInvalidArgv(t *testing.T) {
	e := newEnv(t)
	c := dialOK(t, e.target(t, ""))
	for _, argv := range [][]string{nil, {}, {"echo", "a\x00b"}} {
		if _, err := c.Run(context.Background(), argv); !errors.Is(err, ErrArgv) {
			t.Errorf("Run(%q) = %v, want ErrArgv", argv, err)
		}
	}
}

func TestStream(t *testing.T) {
	e := newEnv(t)
	c := dialOK(t, e.target(t, ""))
	data := make([]byte, 3<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := c.Stream(context.Background(), []string{"sh", "-c", "cat; echo done >&2"}, bytes.NewReader(data), &out, &errOut); err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Errorf("stdout differs from stdin: %d bytes, want %d", out.Len(), len(data))
	}
	if errOut.String() != "done\n" {
		t.Errorf("stderr = %q", errOut.String())
	}

	// nil streams are allowed; the exit status is reported.
	err := c.Stream(context.Background(), []string{"sh", "-c", "exit 9"}, nil, nil, nil)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 9 || ee.Stderr != nil {
		t.Errorf("Stream exit 9 = %v", err)
	}

	// A command that exits without reading all of stdin: Stream returns.
	pr, pw := io.Pipe()
	defer pw.Close()
	done := make(chan error, 1)
	go func() { done <- c.Stream(context.Background(), []string{"true"}, pr, io.Discard, io.Discard) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Stream with open stdin: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stream did not return after the command exited while stdin stayed open")
	}
}

func TestRunCancel(t *testing.T) {
	for _, ignoreSignals := range []bool{false, true} {
		name := "signal honoured"
		if ignoreSignals {
			name = "signal refused as for root logins"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.srv.ignoreSignals = ignoreSignals
			c := dialOK(t, e.target(t, ""))
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			start := time.Now()
			res, err := c.Run(ctx, []string{"sleep", "30"})
			elapsed := time.Since(start)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Run = %v, want context.Canceled", err)
			}
			if elapsed > 2*time.Second {
				t.Errorf("Run returned after %v", elapsed)
			}
			if res.ExitCode != -1 {
				t.Errorf("ExitCode = %d, want -1", res.ExitCode)
			}
			if !e.srv.waitNoProcesses(3 * time.Second) {
				t.Errorf("the remote command is still running after cancellation")
			}
			if sigs := e.srv.signalsSeen(); len(sigs) != 1 || sigs[0] != "TERM" {
				t.Errorf("server saw signal requests %q, want [TERM]", sigs)
			}
			// The connection is still usable.
			if _, err := c.Run(context.Background(), []string{"true"}); err != nil {
				t.Errorf("Run after cancel: %v", err)
			}

			// A deadline behaves the same way.
			ctx, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel2()
			if _, err := c.Run(ctx, []string{"sleep", "30"}); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Run past deadline = %v", err)
			}
			if !e.srv.waitNoProcesses(3 * time.Second) {
				t.Errorf("the remote command is still running after the deadline")
			}
			// An already-cancelled context runs nothing.
			if _, err := c.Run(ctx, []string{"true"}); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Run with done ctx = %v", err)
			}
		})
	}
}

// Stream returns promptly when cancelled even if the server does not stop
// the command; the caller's writers are not used afterwards.
func TestStreamCancel(t *testing.T) {
	e := newEnv(t)
	e.srv.ignoreSignals = true
	c := dialOK(t, e.target(t, ""))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	pr, pw := io.Pipe()
	defer pw.Close()
	var out lockedBuffer
	start := time.Now()
	err := c.Stream(ctx, []string{"sh", "-c", "while :; do echo tick; sleep 0.01; done"}, pr, &out, nil)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("Stream = %v after %v", err, time.Since(start))
	}
	n := out.Len()
	if n == 0 {
		t.Errorf("no output before cancellation")
	}
	time.Sleep(100 * time.Millisecond)
	if out.Len() != n {
		t.Errorf("stdout written to after Stream returned")
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

func TestRunConcurrent(t *testing.T) {
	e := newEnv(t)
	c := dialOK(t, e.target(t, ""))
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.Run(context.Background(), []string{"echo", "x"})
			if err != nil || string(res.Stdout) != "x\n" {
				t.Errorf("Run: %q %v", res.Stdout, err)
			}
		}()
	}
	wg.Wait()
}

// A server that stops answering keep-alives is dropped after
// ServerAliveInterval*ServerAliveCountMax.
func TestKeepAliveDropsDeadServer(t *testing.T) {
	e := newEnv(t)
	e.srv.noKeepAlive = true
	tgt := e.target(t, "")
	tgt.Options.ServerAliveInterval = 50 * time.Millisecond
	tgt.Options.ServerAliveCountMax = 3
	c := dialOK(t, tgt)
	start := time.Now()
	_, err := c.Run(context.Background(), []string{"sleep", "10"})
	if !errors.Is(err, ErrConnectionLost) {
		t.Errorf("Run = %v, want ErrConnectionLost", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("dead connection noticed after %v", d)
	}
}

// Keep-alives answered by the server keep a quiet session going.
func TestKeepAliveAnswered(t *testing.T) {
	e := newEnv(t)
	tgt := e.target(t, "")
	tgt.Options.ServerAliveInterval = 20 * time.Millisecond
	tgt.Options.ServerAliveCountMax = 2
	c := dialOK(t, tgt)
	if _, err := c.Run(context.Background(), []string{"sleep", "0.3"}); err != nil {
		t.Errorf("Run: %v", err)
	}
}
