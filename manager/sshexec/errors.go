package sshexec

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Errors returned by this package wrap one of them where it
// applies; test with errors.Is.
var (
	// ErrOptions means the ssh_options string could not be parsed.
	ErrOptions = errors.New("sshexec: invalid ssh_options")

	// ErrConnect means no SSH connection could be set up: the TCP connection
	// was refused or failed, or the server closed it during the handshake.
	ErrConnect = errors.New("sshexec: cannot connect")

	// ErrTimeout means connecting (TCP connection and SSH handshake) took
	// longer than the connect timeout or the context's deadline.
	ErrTimeout = errors.New("sshexec: connect timed out")

	// ErrAuth means the server refused every key offered for the user, or
	// no usable private key was found on the manager.
	ErrAuth = errors.New("sshexec: authentication failed")

	// ErrHostKey means the server's host key could not be verified: it
	// differs from the one in known_hosts, is revoked, or (with
	// [ErrUnknownHost]) the host is not in known_hosts at all.
	ErrHostKey = errors.New("sshexec: host key verification failed")

	// ErrUnknownHost means the host has no entry in any known_hosts file and
	// StrictHostKeyChecking does not allow new hosts. Errors that match it
	// also match [ErrHostKey].
	ErrUnknownHost = errors.New("sshexec: host not in known_hosts")

	// ErrConnectionLost means the SSH connection or session ended before the
	// remote command reported an exit status: the command may or may not
	// have run to completion.
	ErrConnectionLost = errors.New("sshexec: connection lost")

	// ErrChecksum means a copied file's checksum on the far side differs
	// from the checksum of the bytes sent.
	ErrChecksum = errors.New("sshexec: checksum mismatch after copy")

	// ErrArgv means a command's argv is empty or contains a NUL byte, which
	// no shell can pass on.
	ErrArgv = errors.New("sshexec: invalid argv")
)

// argvError reports a NUL byte in an argv element.
type argvError struct{ index int }

func (e *argvError) Error() string {
	return fmt.Sprintf("%v: argument %d contains a NUL byte", ErrArgv, e.index)
}

func (e *argvError) Unwrap() error { return ErrArgv }

// DialError describes why [Dial] failed, in words meant for a DBA. It
// matches its Kind (one of the sentinel errors, if any) and its underlying
// Err with errors.Is and errors.As.
type DialError struct {
	// Addr is the host:port that was dialled.
	Addr string
	// User is the SSH login name.
	User string
	// Kind is the sentinel error describing the failure class
	// ([ErrConnect], [ErrTimeout], [ErrAuth], [ErrHostKey]...), or nil
	// when the dial was cancelled by the caller's context.
	Kind error
	// Reason explains the failure and what to check.
	Reason string
	// Err is the underlying cause, or nil.
	Err error
}

// Error returns "sshexec: dial user@host:port: <reason>: <cause>".
func (e *DialError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sshexec: dial %s@%s: %s", e.User, e.Addr, e.Reason)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns Kind and Err.
func (e *DialError) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// ExitError reports a remote command that ran and exited with a non-zero
// status or was killed by a signal. It is distinct from transport errors: if
// Run returns an *ExitError, the command was started and finished.
type ExitError struct {
	// Host is "user@host:port" of the server that ran the command.
	Host string
	// Program is argv[0] of the command. The other arguments are left out of
	// the message on purpose: they may carry passwords.
	Program string
	// Code is the exit status; 128+n when the command was killed by
	// signal n, as a shell reports it.
	Code int
	// Signal is the name of the signal that killed the command ("TERM",
	// "KILL"...), or "".
	Signal string
	// Stderr holds the command's standard error when the caller did not
	// take it (Run, CopyFile, Fetch); nil for Stream.
	Stderr []byte
}

// Error returns a message naming the host, the program, the exit status and
// the last line of standard error.
func (e *ExitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sshexec: run %s on %s: ", e.Program, e.Host)
	if e.Signal != "" {
		fmt.Fprintf(&b, "killed by signal %s", e.Signal)
	} else {
		fmt.Fprintf(&b, "exit status %d", e.Code)
	}
	if last := lastLine(e.Stderr); last != "" {
		fmt.Fprintf(&b, ": %s", last)
	}
	return b.String()
}

// lastLine returns the last non-empty line of out, cut to 200 bytes.
func lastLine(out []byte) string {
	s := strings.TrimRight(string(out), " \t\r\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
