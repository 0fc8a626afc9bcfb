// Package fence makes an old master verifiably unable to take writes
// before (or after) a failover, and keeps watching it afterwards.
//
// [Fence] tries, in order, and stops at the first method that is proven:
//
//  1. Over MySQL, with a short connect deadline: read_only=1 (and
//     super_read_only=1 on MySQL >= 5.7.8; MariaDB has none), every client
//     connection killed so that an open transaction cannot commit, then
//     @@global.read_only read back.
//  2. Over SSH, when the host answers: first the same SQL through the
//     mariadb/mysql client on the host (it works when only the manager's
//     route to mysqld is broken); when mysqld does not answer there either
//     (hung: SIGSTOP), stop it, in one remote command: the stop job of its
//     systemd unit without waiting for it, when the unit's main process is
//     that mysqld (Restart= would otherwise bring it back, writable), then
//     SIGKILL, its mysqld_safe guard first, then a short wait and the
//     proof. Only a mysqld of this host named by master_pid_file or
//     listening on the MySQL port is ever killed. Proof: the pid is gone,
//     nothing listens on the port, and the unit is no longer active.
//  3. Neither: not fenced, and no error; the caller relies on
//     shutdown_script or the lease.
//
// The order of steps is a pure function, [Next], of what is known so far
// ([Facts]); the I/O goes through small interfaces ([MySQLDialer],
// [SSHDialer], [Host], [SQLSession]) with fakes in the tests.
//
// [Watch] keeps probing the old master after a failover; when it answers
// again it is fenced over MySQL within one ping interval, the writes it took
// after the failover's end point are reported, and a callback (the IP hook's
// --command=stop) takes the virtual address off it.
package fence

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gomha/gomha/manager/mysqlx"
)

// Sentinel errors.
var (
	// ErrNotProven reports a fencing method that ran but whose effect could
	// not be verified (read_only read back as 0, mysqld still there after
	// SIGKILL, a port held by something else). The caller must not
	// promote.
	ErrNotProven = errors.New("fence: not proven")
	// ErrLocalHung reports that the client on the host got no answer from
	// mysqld within its timeout.
	ErrLocalHung = errors.New("fence: mysqld does not answer on its host")
)

// Options say how to reach and fence the old master.
type Options struct {
	// Name labels the host in messages and logs ("db1"); "" means
	// MySQL.Addr.
	Name string
	// MySQL is the manager's account on the old master. Its Timeout is the
	// connect deadline; 0 means 2 seconds (the host is probably dead: do
	// not wait long).
	MySQL mysqlx.Target
	// SSH logs in to the host; nil means SSH is not tried.
	SSH SSHDialer
	// PIDFile is master_pid_file on the host; "" means the process
	// listening on the MySQL port.
	PIDFile string
	// Port is the MySQL port on the host; 0 means MySQL.Addr's.
	Port int
	// StepTimeout bounds each method (over MySQL: everything after the
	// connect); 0 means 10 seconds.
	StepTimeout time.Duration
	// StopWait is how long a stopped mysqld may take to be gone; 0 means
	// 15 seconds.
	StopWait time.Duration
	// MySQLDialer opens the MySQL session; nil means [TCP].
	MySQLDialer MySQLDialer
	// Log receives one line per step (keys host, step, err); nil discards.
	Log *slog.Logger
	// Hung says the detection saw the master's port accept connections
	// without sending a greeting (a stopped or stuck mysqld): SQL to it,
	// over the network or through the local client, would only run into
	// its timeouts, so Fence goes straight to SSH and stops mysqld. A
	// mysqld that resumed meanwhile is stopped all the same, which fences
	// it too.
	Hung bool
}

// Result is what Fence achieved.
type Result struct {
	// Fenced is true when the old master was proven unable to take
	// writes.
	Fenced bool
	// Method names the method that proved it (Method* constants).
	Method string
	// Proof says what was verified.
	Proof string
	// Why says, when not Fenced, why nothing could be tried.
	Why string
}

func (o Options) name() string {
	if o.Name != "" {
		return o.Name
	}
	return o.MySQL.Addr
}

func (o Options) port() int {
	if o.Port != 0 {
		return o.Port
	}
	if _, p, err := net.SplitHostPort(o.MySQL.Addr); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			return n
		}
	}
	return 3306
}

func (o Options) logger() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.New(slog.DiscardHandler)
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Fence makes the old master verifiably unable to take writes, trying the
// methods in [Next]'s order and stopping at the first that is proven.
//
// Fenced=false with a nil error means the host could be reached neither
// over MySQL nor over SSH (Result.Why says so). An error means a method
// reached the host and failed, or could not prove its effect: the caller
// must not promote.
func Fence(ctx context.Context, o Options) (Result, error) {
	log := o.logger().With("host", o.name())
	f := Facts{SSHConfigured: o.SSH != nil}
	hungSkip := o.Hung && f.SSHConfigured
	if hungSkip {
		// Skipped, not tried: see Options.Hung. Without SSH there is
		// nothing else to try, so MySQL is tried all the same.
		f.MySQL, f.LocalSQL = Unreachable, Failed
		log.Info("fence: the master was seen hung: no SQL to it, stopping mysqld over SSH", "step", "plan")
	}
	var host Host
	defer func() {
		if host != nil {
			host.Close()
		}
	}()
	var errs []error
	fail := func(step string, err error) {
		log.Warn("fence step failed", "step", step, "err", err)
		errs = append(errs, fmt.Errorf("%s: %w", step, err))
	}
	var proof string
	for {
		d := Next(f)
		switch d.Action {
		case DoMySQL:
			p, out, err := fenceOverMySQL(ctx, o)
			f.MySQL = out
			if err != nil {
				fail("mysql", err)
			} else {
				proof = p
			}
		case DoSSH:
			h, err := o.SSH.Dial(ctx)
			switch {
			case err == nil:
				host, f.SSH = h, Proven
			case sshUnreachable(err):
				f.SSH = Unreachable
				log.Info("fence step: host unreachable", "step", "ssh", "err", err)
			default:
				f.SSH = Failed
				fail("ssh", err)
			}
			if f.SSH != Proven && hungSkip {
				// Hung only ordered the methods: without SSH, a mysqld that
				// resumed meanwhile must still be fenced over MySQL.
				hungSkip = false
				f.MySQL, f.LocalSQL = NotTried, NotTried
				log.Info("fence: no SSH to the master seen hung: trying MySQL after all", "step", "plan")
			}
		case DoLocalSQL:
			p, err := withTimeout(ctx, orDefault(o.StepTimeout, 10*time.Second), func(ctx context.Context) (string, error) {
				return fenceSQL(ctx, host.SQL())
			})
			if err != nil {
				f.LocalSQL = Failed
				fail("ssh local client", err)
			} else {
				f.LocalSQL, proof = Proven, p
			}
		case DoInspect:
			in, err := host.Inspect(ctx, o.port(), o.PIDFile, nil)
			if err != nil {
				// Without knowing what runs there, nothing is stopped.
				f.Inspected, f.Target = true, Target{Running: true, Refuse: fmt.Sprintf("cannot inspect the host: %v", err)}
				break
			}
			f.Inspected, f.Target = true, ChooseTarget(in, o.port())
			if !f.Target.Running {
				proof = fmt.Sprintf("no mysqld process (pid file %s) and nothing listens on port %d", pidFileLabel(o.PIDFile), o.port())
			}
			log.Info("fence step", "step", "inspect", "pid", f.Target.PID, "unit", f.Target.Unit, "refuse", f.Target.Refuse)
		case DoStopService, DoKill:
			p, err := stop(ctx, o, host, f.Target, d.Action == DoStopService)
			if err != nil {
				f.Stop = Failed
				fail("stop mysqld", err)
			} else {
				f.Stop, proof = Proven, p
			}
		case Done:
			log.Info("fenced", "step", d.Method, "proof", proof)
			return Result{Fenced: true, Method: d.Method, Proof: proof}, nil
		case GiveUp:
			log.Warn("not fenced", "step", "give up", "why", d.Why)
			return Result{Why: d.Why}, nil
		case Fail:
			err := fmt.Errorf("%w: %s: %s", ErrNotProven, o.name(), d.Why)
			if len(errs) > 0 {
				err = fmt.Errorf("%w: %w", err, errors.Join(errs...))
			}
			return Result{Why: d.Why}, err
		}
		if ctx.Err() != nil {
			return Result{Why: "cancelled"}, fmt.Errorf("fence %s: %w", o.name(), ctx.Err())
		}
	}
}

func pidFileLabel(p string) string {
	if p == "" {
		return "not configured"
	}
	return p
}

func withTimeout[T any](ctx context.Context, d time.Duration, f func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return f(ctx)
}

// fenceOverMySQL is method (a).
func fenceOverMySQL(ctx context.Context, o Options) (string, Outcome, error) {
	t := o.MySQL
	if t.Timeout == 0 {
		t.Timeout = 2 * time.Second
	}
	dialer := o.MySQLDialer
	if dialer == nil {
		dialer = TCP{}
	}
	s, err := dialer.Open(ctx, t)
	if err != nil {
		if mysqlUnreachable(err) {
			return "", Unreachable, err
		}
		return "", Failed, err
	}
	defer s.Close()
	p, err := withTimeout(ctx, orDefault(o.StepTimeout, 10*time.Second), func(ctx context.Context) (string, error) {
		return fenceSQL(ctx, s)
	})
	if err != nil {
		return "", Failed, err
	}
	return p, Proven, nil
}

// stopProofWait is how long the stop command itself waits for mysqld to
// be gone before it prints its proof; [stop] polls on after it, within
// Options.StopWait.
const stopProofWait = 2 * time.Second

// stop stops mysqld (through its unit and SIGKILL, or SIGKILL) in one
// remote command, and checks its proof; while the proof does not show
// mysqld gone, it inspects again until StopWait has passed.
func stop(ctx context.Context, o Options, h Host, t Target, service bool) (string, error) {
	how := fmt.Sprintf("SIGKILL to %s pid %d", t.Comm, t.PID)
	if t.Guard != 0 {
		how = fmt.Sprintf("SIGKILL to %s pid %d, then %s pid %d", t.GuardComm, t.Guard, t.Comm, t.PID)
	}
	if !service {
		t.Unit = ""
	} else {
		how = fmt.Sprintf("systemctl stop --no-block + kill of %s (main pid %d)", t.Unit, t.PID)
	}
	wait := orDefault(o.StopWait, 15*time.Second)
	deadline := time.Now().Add(wait)
	in, state, err := h.Stop(ctx, t, o.port(), o.PIDFile, min(wait, stopProofWait))
	if err != nil {
		return "", err
	}
	extra := []int{t.PID}
	if t.Guard != 0 {
		extra = append(extra, t.Guard)
	}
	for {
		why := ""
		if err == nil {
			var gone bool
			if gone, why = stopped(in, t, state); gone {
				return fmt.Sprintf("%s: pid %d gone and port %d refuses", how, t.PID, o.port()), nil
			}
		} else {
			why = err.Error()
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%w after %s: %s", ErrNotProven, wait, why)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		in, err = h.Inspect(ctx, o.port(), o.PIDFile, extra)
		if err == nil && t.Unit != "" {
			state, err = h.UnitState(ctx, t.Unit)
		}
	}
}

// stopped reports whether the proof after a stop shows t gone: [Gone],
// its guard gone too, and its unit (when it was stopped) no longer active.
func stopped(in Inspection, t Target, unitState string) (bool, string) {
	gone, why := Gone(in, t)
	if gone && t.Guard != 0 {
		if g, ok := in.Procs[t.Guard]; ok && g.alive() && g.Comm == t.GuardComm {
			gone, why = false, fmt.Sprintf("%s pid %d still runs", t.GuardComm, t.Guard)
		}
	}
	if gone && t.Unit != "" {
		switch unitState {
		case "active", "activating", "reloading", "deactivating", "", "unknown":
			gone, why = false, fmt.Sprintf("%s is %s", t.Unit, cmp.Or(unitState, "in an unknown state"))
		}
	}
	return gone, why
}

// String renders a Result for logs.
func (r Result) String() string {
	if r.Fenced {
		return "fenced by " + r.Method + ": " + r.Proof
	}
	return "not fenced: " + strings.TrimSpace(r.Why)
}
