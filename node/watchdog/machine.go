// Package watchdog is the node side of gomha's fencing lease: a small
// daemon on the master's host that demotes its own mysqld when the host has
// lost contact with both the manager and every replica for longer than the
// lease, in the style of Patroni's leader lease. The manager, which cannot
// reach an isolated master to fence it, promotes a replica only once that
// lease has surely run out (see manager/lease).
//
// The decisions are Machine's, a deterministic state machine fed with
// time-stamped facts and tested without a network. Run is the thin loop
// that gathers the facts (the manager's sessions on the local mysqld, TCP
// greetings from the replicas), feeds them to the machine and carries out
// the demotion: read_only (and super_read_only where the server has it),
// client sessions killed, the VIP removed. The state file records the
// outcome; a demotion is sticky: neither contact coming back nor a restart
// of the watchdog undoes it, only an operator's `mha-node watchdog --clear`.
//
// Every time in this package is a monotonic reading (a time.Duration since
// an arbitrary origin, CLOCK_BOOTTIME in the daemon), never wall time: a
// wall-clock step neither fires nor delays a demotion.
package watchdog

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// MinTick is the shortest interval between two ticks.
const MinTick = 250 * time.Millisecond

// DemoteBudget bounds the demotion itself: from the decision to the end of
// its last step. The manager counts it in the lease's margin
// (manager/lease.ExpiredAt). The VIP and the SQL steps (read_only, client
// sessions killed) get DemoteSQLBudget; when read_only could not be set
// and verified by then (JudgeDemotion), a Local that can (Killer) stops its
// mysqld as a last resort: its systemd unit's stop job, its mysqld_safe
// guard, then SIGKILL. A step that failed on a server verified read-only is
// retried at the next tick instead. That kill never completes the demotion by itself: a service
// manager or mysqld_safe may start mysqld again, writable, so the demotion
// is retried at every tick until read_only is verified.
const DemoteBudget = 5 * time.Second

// DemoteSQLBudget is the share of DemoteBudget for the VIP and SQL steps.
const DemoteSQLBudget = 4 * time.Second

// Tick returns the interval between two ticks for a lease: a quarter of it,
// at least MinTick.
func Tick(lease time.Duration) time.Duration {
	return max(lease/4, MinTick)
}

// ProbeTimeout returns the deadline of one tick's fact gathering (the local
// processlist query and every replica's greeting, in parallel): half a tick,
// between 200 ms and 2 s.
func ProbeTimeout(tick time.Duration) time.Duration {
	return min(max(tick/2, 200*time.Millisecond), 2*time.Second)
}

// Phase is where the machine is.
type Phase int

// Phases. A machine only moves forward: Holding, then Demoting, then
// Demoted.
const (
	// Holding: contact within the lease; the server may stay writable.
	Holding Phase = iota
	// Demoting: the lease ran out; the demotion is decided but not every
	// step has succeeded yet (it is retried at each tick).
	Demoting
	// Demoted: every demotion step succeeded. Terminal.
	Demoted
)

// String names the phase as the state file writes it.
func (p Phase) String() string {
	switch p {
	case Holding:
		return "holding"
	case Demoting:
		return "demoting"
	case Demoted:
		return "demoted"
	}
	return fmt.Sprintf("Phase(%d)", int(p))
}

// ParsePhase is String's inverse.
func ParsePhase(s string) (Phase, bool) {
	for _, p := range []Phase{Holding, Demoting, Demoted} {
		if p.String() == s {
			return p, true
		}
	}
	return Holding, false
}

// Facts are what one tick observed. Now is the monotonic time at which the
// gathering started; every contact is dated no later than it really was, so
// that the lease errs towards demoting early, never late.
type Facts struct {
	// Now is the monotonic time at which the tick began gathering.
	Now time.Duration
	// ManagerSeen is true when the local processlist showed at least one
	// session of the manager; ManagerIdle is then the smallest idle time
	// among them (rounded up where the server counts whole seconds).
	ManagerSeen bool
	ManagerIdle time.Duration
	// PeersAnswered lists the replicas whose MySQL greeting arrived in this
	// tick (their ip:port).
	PeersAnswered []string
	// LocalErr is set when the local mysqld could not be queried; it is no
	// contact, and is reported in the reason of a demotion.
	LocalErr string
}

// Decision is what the loop must do after a step.
type Decision struct {
	// Demote asks the loop to run the demotion steps (again).
	Demote bool
	// Why explains the demotion; set with Demote.
	Why string
}

// Machine is the lease's state machine. The zero value is not usable: use
// New or Restore.
type Machine struct {
	lease       time.Duration
	phase       Phase
	lastContact time.Duration
	contactBy   string
	lastNow     time.Duration
	demotedAt   time.Duration
	why         string
	lastLocal   string
}

// New returns a machine in the Holding phase whose lease starts at start:
// starting counts as contact (the manager starts the watchdog over SSH, so
// it has just reached the host).
func New(lease, start time.Duration) *Machine {
	return &Machine{lease: lease, lastContact: start, contactBy: "start", lastNow: start}
}

// Restore returns a machine that goes on from a saved state: the phase,
// the last contact and, when not holding, the demotion's time and reason.
// A restored Demoting or Demoted machine never holds again.
func Restore(lease time.Duration, phase Phase, lastContact time.Duration, contactBy string, demotedAt time.Duration, why string) *Machine {
	return &Machine{lease: lease, phase: phase, lastContact: lastContact, contactBy: contactBy,
		lastNow: lastContact, demotedAt: demotedAt, why: why}
}

// Lease returns the lease.
func (m *Machine) Lease() time.Duration { return m.lease }

// Phase returns the current phase.
func (m *Machine) Phase() Phase { return m.phase }

// LastContact returns the monotonic time of the last contact and what it
// was ("manager", "peer 198.18.0.12:3306", "start").
func (m *Machine) LastContact() (time.Duration, string) { return m.lastContact, m.contactBy }

// DemotedAt returns when the demotion was decided and why; zero and "" while
// holding.
func (m *Machine) DemotedAt() (time.Duration, string) { return m.demotedAt, m.why }

// Step feeds one tick's facts and returns what to do. The lease is broken
// when any stretch without contact exceeds it: between the last contact and
// a new one (a watchdog that was stalled or suspended past the lease
// demotes even if contact is back when it wakes up: the manager may have
// promoted meanwhile), or between the last contact and now.
func (m *Machine) Step(f Facts) Decision {
	now := f.Now
	if now < m.lastNow {
		// A monotonic source does not go back; if a caller's does, the
		// silence is measured from the latest time seen, never shortened.
		now = m.lastNow
	}
	m.lastNow = now
	if f.LocalErr != "" {
		m.lastLocal = f.LocalErr
	}
	switch m.phase {
	case Demoting:
		return Decision{Demote: true, Why: m.why}
	case Demoted:
		return Decision{}
	}

	contact, by, ok := m.contactIn(f, now)
	if ok && contact > m.lastContact {
		if gap := contact - m.lastContact; gap > m.lease {
			return m.demote(now, fmt.Sprintf("no contact for %s (longer than the lease %s) before %s came back; last contact: %s",
				round(gap), m.lease, by, m.contactBy))
		}
		m.lastContact, m.contactBy = contact, by
	}
	if silence := now - m.lastContact; silence > m.lease {
		why := fmt.Sprintf("no contact with the manager or any replica for %s (longer than the lease %s); last contact: %s",
			round(silence), m.lease, m.contactBy)
		if m.lastLocal != "" {
			why += "; local mysqld: " + m.lastLocal
		}
		return m.demote(now, why)
	}
	return Decision{}
}

// contactIn returns the latest contact the facts prove: a replica's
// greeting dates from the start of the tick, the manager's statement from
// now minus its session's idle time.
func (m *Machine) contactIn(f Facts, now time.Duration) (time.Duration, string, bool) {
	var (
		best time.Duration
		by   string
		ok   bool
	)
	if f.ManagerSeen {
		best, by, ok = now-max(f.ManagerIdle, 0), "manager", true
	}
	if len(f.PeersAnswered) > 0 && (!ok || now >= best) {
		peers := slices.Clone(f.PeersAnswered)
		slices.Sort(peers)
		best, by, ok = now, "peer "+strings.Join(peers, ","), true
	}
	return best, by, ok
}

func (m *Machine) demote(now time.Duration, why string) Decision {
	m.phase, m.demotedAt, m.why = Demoting, now, why
	return Decision{Demote: true, Why: why}
}

// Done reports the outcome of the demotion steps the last Decision asked
// for: complete moves a Demoting machine to Demoted; otherwise the steps are
// asked for again at the next Step.
func (m *Machine) Done(complete bool) {
	if m.phase == Demoting && complete {
		m.phase = Demoted
	}
}

func round(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
