package sshexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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

// exec runs argv in a new session with the given streams and waits for it.
// The error is nil, an *ExitError (without Stderr), or a transport or
// context error; it is not yet wrapped with the host.
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
	s.Stdin, s.Stdout, s.Stderr = stdin, stdout, stderr

	// On cancellation: ask the remote command to stop, then close the
	// channel so that Wait returns at once.
	cancelled := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(cancelled)
		_ = s.Signal(ssh.SIGTERM)
		_ = s.Close()
	})
	err = s.Start(Join(argv))
	if err == nil {
		err = s.Wait()
	}
	if !stop() {
		<-cancelled
		if err != nil {
			return fmt.Errorf("cancelled, sent SIGTERM and closed the session: %w", ctx.Err())
		}
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
// shell) and returns its output. A command that exits non-zero returns its
// Result together with an [*ExitError]; other errors mean the command's
// outcome is unknown. When ctx ends, the remote command is sent SIGTERM, the
// session is closed, and Run returns at once with an error wrapping
// ctx.Err(). Output is kept in memory: use [Client.Stream] for large
// outputs.
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
