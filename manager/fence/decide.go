package fence

import (
	"fmt"

	"github.com/gomha/gomha/node/watchdog"
)

// Outcome is what one fencing step came to.
type Outcome int

// Step outcomes.
const (
	// NotTried: the step has not run yet.
	NotTried Outcome = iota
	// Proven: the step ran and its effect was verified.
	Proven
	// Unreachable: the step could not reach the host (connect timeout,
	// refused, no route): nothing ran there.
	Unreachable
	// Failed: the step reached the host and failed, or its effect could not
	// be verified.
	Failed
)

func (o Outcome) String() string {
	switch o {
	case NotTried:
		return "not tried"
	case Proven:
		return "proven"
	case Unreachable:
		return "unreachable"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Facts is what the fencing of one old master has learnt so far. [Next]
// reads it and names the next action; the executors fill it in.
type Facts struct {
	// MySQL is method (a): read_only over the manager's own MySQL
	// connection.
	MySQL Outcome
	// SSHConfigured says whether the host can be tried over SSH at all.
	SSHConfigured bool
	// SSH is the SSH connection: Proven once logged in.
	SSH Outcome
	// LocalSQL is the same SQL through the client on the host (method b):
	// Failed also when mysqld did not answer there (hung).
	LocalSQL Outcome
	// Inspected is set once the host's mysqld process was looked for;
	// Target is what was found.
	Inspected bool
	Target    Target
	// Stop is stopping mysqld (through its service manager when it runs
	// under one, else SIGKILL), Proven once the process is gone and the
	// port refuses.
	Stop Outcome
}

// Target is the mysqld process to stop, as decided from an inspection of
// the host (see [ChooseTarget]): the same plan the node's watchdog makes
// for its own mysqld. Running is false when no mysqld runs and nothing
// listens on the MySQL port (nothing can take writes there); Refuse says
// why nothing may be stopped (the port held by another program, the pid
// file and the listener disagree); Guard is a mysqld_safe parent, killed
// first; Unit is the systemd unit whose main process is mysqld or its
// guard, stopped first (its Restart= would bring a killed mysqld back,
// writable).
type Target = watchdog.StopPlan

// Action is what to do next.
type Action int

// Actions, in the order [Next] tries them.
const (
	// DoMySQL: fence over MySQL (super_read_only, read_only, kill client
	// connections, verify).
	DoMySQL Action = iota
	// DoSSH: log in to the host over SSH.
	DoSSH
	// DoLocalSQL: the same SQL through the client on the host.
	DoLocalSQL
	// DoInspect: find the mysqld process (pid file, listener on the port,
	// its service unit).
	DoInspect
	// DoStopService: stop mysqld's systemd unit without waiting and
	// SIGKILL mysqld, in one remote command, then verify.
	DoStopService
	// DoKill: SIGKILL mysqld (and its mysqld_safe guard), then verify.
	DoKill
	// Done: fenced, proven; Decision.Method says how.
	Done
	// GiveUp: the host could be reached neither over MySQL nor over SSH:
	// not fenced, and no error (the caller relies on shutdown_script or
	// the lease).
	GiveUp
	// Fail: a method reached the host and failed; not fenced, and the
	// caller must not promote.
	Fail
)

// Methods named in [Result.Method].
const (
	MethodMySQL       = "mysql read_only"
	MethodLocalSQL    = "ssh local client read_only"
	MethodNotRunning  = "ssh: mysqld not running"
	MethodStopService = "ssh: systemd stop"
	MethodKill        = "ssh: SIGKILL"
)

// Decision is [Next]'s answer.
type Decision struct {
	Action Action
	// Method is set with Done.
	Method string
	// Why explains GiveUp and Fail.
	Why string
}

// Next decides the next fencing action from the facts: over MySQL first;
// then, when the host answers SSH, the local client; when mysqld does not
// answer there either, stop it (through its service manager when it runs
// under one, else SIGKILL); stop at the first method that is proven.
func Next(f Facts) Decision {
	switch f.MySQL {
	case NotTried:
		return Decision{Action: DoMySQL}
	case Proven:
		return Decision{Action: Done, Method: MethodMySQL}
	}
	// Over MySQL it did not work. Only SSH is left.
	failOrGiveUp := func(why string) Decision {
		if f.MySQL == Failed {
			return Decision{Action: Fail, Why: "fencing over MySQL failed and " + why}
		}
		return Decision{Action: GiveUp, Why: "unreachable over MySQL and " + why}
	}
	if !f.SSHConfigured {
		return failOrGiveUp("no SSH to try")
	}
	switch f.SSH {
	case NotTried:
		return Decision{Action: DoSSH}
	case Unreachable:
		return failOrGiveUp("SSH")
	case Failed:
		return Decision{Action: Fail, Why: "SSH login failed"}
	}
	switch f.LocalSQL {
	case NotTried:
		return Decision{Action: DoLocalSQL}
	case Proven:
		return Decision{Action: Done, Method: MethodLocalSQL}
	}
	// mysqld did not answer the local client either (hung, or gone).
	if !f.Inspected {
		return Decision{Action: DoInspect}
	}
	t := f.Target
	switch {
	case t.Refuse != "":
		return Decision{Action: Fail, Why: t.Refuse}
	case !t.Running:
		return Decision{Action: Done, Method: MethodNotRunning}
	}
	switch f.Stop {
	case NotTried:
		if t.Unit != "" {
			return Decision{Action: DoStopService}
		}
		return Decision{Action: DoKill}
	case Proven:
		if t.Unit != "" {
			return Decision{Action: Done, Method: MethodStopService}
		}
		return Decision{Action: Done, Method: MethodKill}
	}
	if t.Unit != "" {
		// No SIGKILL behind systemd's back: Restart= would start it
		// again, writable.
		return Decision{Action: Fail, Why: fmt.Sprintf("stopping %s (mysqld pid %d) did not work", t.Unit, t.PID)}
	}
	return Decision{Action: Fail, Why: fmt.Sprintf("mysqld pid %d is still there after SIGKILL", t.PID)}
}
