package watchdog

import (
	"slices"
	"strings"
)

// Names of the local server's demotion steps (Step.Name), as MySQL.Demote
// reports them and JudgeDemotion reads them.
const (
	StepConnect       = "connect"
	StepKillSessions  = "kill client sessions"
	StepReadOnly      = "read_only"
	StepSuperReadOnly = "super_read_only"
	StepVerify        = "verify read_only"
)

// Outcome is what one round of demotion steps came to, and so what the
// daemon does next.
type Outcome int

// Outcomes.
const (
	// Complete: every step succeeded; the machine moves to Demoted.
	Complete Outcome = iota
	// Retry: the server is verified read-only but another step failed
	// (super_read_only, the VIP, or a client session that could not be
	// killed while super_read_only is on): the round is run again at the
	// next tick. Never a SIGKILL: the server already refuses writes.
	Retry
	// Kill: read_only could not be set or verified, the server did not
	// answer, or a client session survived without super_read_only on: the last resort, SIGKILL (after its unit or guard), then the
	// round again at the next tick.
	Kill
)

// String names the outcome.
func (o Outcome) String() string {
	switch o {
	case Complete:
		return "complete"
	case Retry:
		return "retry"
	case Kill:
		return "kill"
	}
	return "Outcome(?)"
}

// JudgeDemotion decides from one round's steps (the VIP's and the local
// server's) what comes next. The server counts as read-only only when its
// StepVerify step read @@global.read_only = 1 back; without that step
// (no connection, a round cut short) it is not.
//
// A failed attempt at read_only itself is superseded by the verification
// (the first attempt may run into a lock wait that the second kill of the
// sessions clears).
//
// A client session that could not be killed is a reason to kill the server
// unless super_read_only is really on: read_only does not stop a session
// with SUPER (or MariaDB's READ_ONLY ADMIN), and those are the sessions a
// KILL may fail on.
func JudgeDemotion(steps []Step) Outcome {
	verified := slices.ContainsFunc(steps, func(s Step) bool { return s.Name == StepVerify && s.OK })
	superOn := slices.ContainsFunc(steps, func(s Step) bool {
		return s.Name == StepSuperReadOnly && s.OK && !strings.HasPrefix(s.Detail, "not applicable")
	})
	sessionsLeft := slices.ContainsFunc(steps, func(s Step) bool { return strings.HasPrefix(s.Name, StepKillSessions) && !s.OK })
	open := func(s Step) bool { return !s.OK && !strings.HasPrefix(s.Name, StepReadOnly) }
	switch {
	case !verified:
		return Kill
	case sessionsLeft && !superOn:
		return Kill
	case slices.ContainsFunc(steps, open):
		return Retry
	}
	return Complete
}
