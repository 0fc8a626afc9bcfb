package sshexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Result is what a remote command printed and how it ended.
type Result struct {
	// Stdout and Stderr are the command's output.
	Stdout, Stderr []byte
	// ExitCode is the exit status (128+n when killed by signal n), or -1
	// when the command's end is unknown (transport error, cancellation).
	ExitCode int
	// Signal names the signal that killed the command, or "".
	Signal string
}

// keepAlive sends OpenSSH keep-alive requests every interval and closes the
// connection when maxMissed intervals pass without an answer, like ssh's
// ServerAliveInterval and ServerAliveCountMax.
func (c *Client) keepAlive(interval time.Duration, maxMissed int) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var pending chan error // answer to the request in flight
	missed := 0
	for {
		select {
		case <-c.done:
			return
		case err := <-pending:
			if err != nil {
				return // the connection is gone
			}
			pending, missed = nil, 0
			continue
		case <-t.C:
		}
		if pending != nil {
			missed++
			if missed >= maxMissed {
				_ = c.conn.Close()
				return
			}
			continue
		}
		ch := make(chan error, 1)
		if !c.spawn(func() {
			_, _, err := c.conn.SendRequest("keepalive@openssh.com", true, nil)
			ch <- err
		}) {
			return
		}
		pending = ch
	}
}

// newSession opens a session, giving up when ctx ends.
func (c *Client) newSession(ctx context.Context) (*ssh.Session, error) {
	type result struct {
		s   *ssh.Session
		err error
	}
	got := make(chan result)
	if !c.spawn(func() {
		s, err := c.conn.NewSession()
		select {
		case got <- result{s, err}:
		case <-ctx.Done():
			if s != nil {
				_ = s.Close()
			}
		}
	}) {
		return nil, fmt.Errorf("%w: client closed", ErrConnectionLost)
	}
	select {
	case r := <-got:
		if r.err != nil {
			if errors.Is(r.err, io.EOF) {
				return nil, fmt.Errorf("open session: %w: %v", ErrConnectionLost, r.err)
			}
			return nil, fmt.Errorf("open session: %w", r.err)
		}
		return r.s, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("open session: %w", ctx.Err())
	}
}

// watchScript runs "$@" with stdin from /dev/null and kills it with
// SIGTERM when the session's stdin reaches end of file. exec keeps stdin
// open until the command ends, so the remote command is stopped when the
// session is closed early (cancellation) or the connection dies, even
// where sshd refuses "signal" requests (OpenSSH does for root logins, which
// run without post-authentication privilege separation). A command killed by
// a signal makes the wrapper die of the same signal, so the exit status and
// signal reported are the command's; wait's stderr is dropped because dash
// prints "Terminated" there for such a command.
const watchScript = `exec 3<&0 0</dev/null
"$@" 3<&- &
c=$!
{ cat <&3; kill -TERM "$c"; } >/dev/null 2>&1 &
w=$!
exec 3<&-
wait "$c" 2>/dev/null
s=$?
kill "$w" 2>/dev/null
if [ "$s" -gt 128 ] && [ "$s" -lt 160 ]; then kill -$((s - 128)) $$; fi
exit "$s"`

// errStopped is returned to the I/O goroutines of a session after exec has
// given up on it.
var errStopped = errors.New("sshexec: session abandoned")

// gate lets exec cut a session's streams off from the caller's readers and
// writers when it returns early, so that nothing touches them afterwards.
type gate struct {
	mu     sync.Mutex
	closed bool
}

func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

type gatedWriter struct {
	g *gate
	w io.Writer
}

func (w gatedWriter) Write(p []byte) (int, error) {
	w.g.mu.Lock()
	defer w.g.mu.Unlock()
	if w.g.closed {
		return 0, errStopped
	}
	return w.w.Write(p)
}

type gatedReader struct {
	g *gate
	r io.Reader
}

func (r gatedReader) Read(p []byte) (int, error) {
	r.g.mu.Lock()
	closed := r.g.closed
	r.g.mu.Unlock()
	if closed {
		return 0, io.EOF
	}
	return r.r.Read(p) // not under the lock: Read may block for long
}

// exec runs argv in a new session with the given streams and waits for it.
// The error is nil, an *ExitError (without Stderr), or a transport or
// context error; it is not yet wrapped with the host. When ctx ends, exec
// returns at once; the streams are not used after it returns.
func (c *Client) exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if err := checkArgv(argv); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s, err := c.newSession(ctx)
	if err != nil {
		return err
	}
	defer s.Close()

	g := &gate{}
	defer g.close()
	if stdout != nil {
		s.Stdout = gatedWriter{g, stdout}
	}
	if stderr != nil {
		s.Stderr = gatedWriter{g, stderr}
	}
	cmd := Join(argv)
	var keepOpen io.WriteCloser // stdin held open for watchScript
	if stdin != nil {
		s.Stdin = gatedReader{g, stdin}
	} else {
		if keepOpen, err = s.StdinPipe(); err != nil {
			return fmt.Errorf("open session: %w", err)
		}
		cmd = Join(append([]string{"exec", "sh", "-c", watchScript, "sh"}, argv...))
	}

	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	err = s.Start(cmd)
	if !stop() {
		return fmt.Errorf("cancelled while starting the command: %w", ctx.Err())
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("start command: %w: %v", ErrConnectionLost, err)
		}
		return fmt.Errorf("start command: %w", err)
	}

	done := make(chan error, 1)
	if !c.spawn(func() { done <- s.Wait() }) {
		return fmt.Errorf("%w: client closed", ErrConnectionLost)
	}
	select {
	case err = <-done:
	case <-ctx.Done():
		select {
		case err = <-done: // finished anyway: report the real outcome
			if err == nil {
				return nil
			}
		default:
		}
		// Stop the remote command: a signal (honoured by sshd for non-root
		// users), end of stdin (watchScript), closing the channel.
		_ = s.Signal(ssh.SIGTERM)
		if keepOpen != nil {
			_ = keepOpen.Close()
		}
		g.close()
		_ = s.Close()
		return fmt.Errorf("cancelled, remote command sent SIGTERM: %w", ctx.Err())
	}
	var ee *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return &ExitError{Host: c.name, Program: argv[0], Code: ee.ExitStatus(), Signal: ee.Signal()}
	case errors.As(err, &missing), errors.Is(err, io.EOF):
		return fmt.Errorf("%w: no exit status received, the command may or may not have completed: %v",
			ErrConnectionLost, err)
	}
	return err
}

// Run runs argv on the server (joined with [Join] and run by the login
// shell) and returns its output. The command's stdin is empty (/dev/null). A
// command that exits non-zero returns its Result together with an
// [*ExitError]; other errors mean the command's outcome is unknown.
//
// When ctx ends, Run returns at once with an error wrapping ctx.Err() and
// the output received so far, and the remote command is sent SIGTERM: Run
// keeps the session's stdin open and a small sh wrapper on the server kills
// the command when it reaches end of file, which happens when the session is
// closed or the connection is lost (sshd's own "signal" request is sent too,
// but OpenSSH refuses it for root logins). Only the command's own process
// gets the signal, not processes it started in the background.
//
// Output is kept in memory: use [Client.Stream] for large outputs.
func (c *Client) Run(ctx context.Context, argv []string) (Result, error) {
	var stdout, stderr bytes.Buffer
	err := c.exec(ctx, argv, nil, &stdout, &stderr)
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	return res, c.finish(argv, err, &res)
}

// finish fills in res from err and wraps err with the host and program.
func (c *Client) finish(argv []string, err error, res *Result) error {
	if err == nil {
		return nil
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if res != nil {
			res.ExitCode, res.Signal = ee.Code, ee.Signal
			ee.Stderr = res.Stderr
		}
		return ee
	}
	if res != nil {
		res.ExitCode = -1
	}
	prog := "command"
	if len(argv) > 0 {
		prog = argv[0]
	}
	return fmt.Errorf("sshexec: run %s on %s: %w", prog, c.name, err)
}

// Stream runs argv on the server with the given standard input and outputs
// (any of them may be nil) and waits for it to finish. Errors are as for
// [Client.Run]; an [*ExitError] from Stream has no Stderr. Stream returns
// when the remote command has finished and its output is copied, even if
// stdin has more data; a goroutine reading stdin may then stay blocked until
// stdin's Read returns, as with os/exec.
//
// When ctx ends, Stream returns at once and stops using stdout and stderr.
// With a nil stdin the remote command is stopped as in [Client.Run]. With a
// stdin, the session's stdin is the command's, so the command is only sent
// the "signal" request (refused by OpenSSH for root logins) and sees end of
// file on stdin; a command that does not read stdin may keep running on the
// server until it ends by itself.
func (c *Client) Stream(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return c.finish(argv, c.exec(ctx, argv, stdin, stdout, stderr), nil)
}

// RunOnce dials t, runs argv with [Client.Run] and closes the connection.
func RunOnce(ctx context.Context, t Target, argv []string) (Result, error) {
	c, err := Dial(ctx, t)
	if err != nil {
		return Result{ExitCode: -1}, err
	}
	defer c.Close()
	return c.Run(ctx, argv)
}
