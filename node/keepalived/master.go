package keepalived

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gomha/gomha/node/watchdog"
)

// WatchdogFacts are what the check read of the fencing watchdog (see
// node/watchdog): its state file, whether a daemon holds its pid lock, and
// the current boot id and CLOCK_BOOTTIME reading that watchdog.Evaluate
// compares the state with.
type WatchdogFacts struct {
	State *watchdog.State
	// ReadErr is the error reading the state file gave; one matching
	// os.ErrNotExist means the watchdog never ran here (or its state was
	// cleared).
	ReadErr error
	Running bool
	BootID  string
	NowMono time.Duration
}

// MasterFacts are everything CheckMaster decides from.
type MasterFacts struct {
	// Server is the local mysqld's answer; nil with ServerErr set when it
	// gave none in time.
	Server    *Server
	ServerErr string
	Watchdog  WatchdogFacts
	// Mark is the hook's mark file, nil when there is none; MarkErr is set
	// when it exists but cannot be read or understood.
	Mark    *Mark
	MarkErr error
	// Now is the wall clock when the facts were read: a promoted mark
	// tolerates read_only for PromotedGrace after its At.
	Now time.Time
}

// PromotedGrace is how long after the manager's hook marked a host promoted
// its read_only flag does not fail the check. The manager (as MHA) calls
// the start hook on the new master before it sets read_only=0 there, and
// the hook waits for keepalived to move the VIP: without the grace that
// wait could never end. Past the grace, a promoted host that is still (or
// again) read-only fails the check as any other. A fenced mark on the
// host, which the manager writes on every old master, replaces the
// promoted one.
const PromotedGrace = time.Minute

// MasterOptions tune CheckMaster.
type MasterOptions struct {
	// AllowSources are sources whose channel does not make this host a
	// replica: the other master of an active/passive pair, where db1 and
	// db2 replicate from each other and only the read_only flag tells the
	// passive one.
	AllowSources []SourceMatcher
	// AllowStopped lets a channel whose threads are both stopped not count
	// as replicating, without a promoted mark. Off by default: a replica
	// whose replication stopped (an error, an operator) and that runs with
	// read_only off must not win the VIP.
	AllowStopped bool
	// RequireWatchdog fails the check unless a fencing watchdog runs and
	// holds its lease (sites with fence_lease on every candidate master).
	RequireWatchdog bool
}

// MasterVerdict is CheckMaster's answer.
type MasterVerdict struct {
	// OK is true only on the host gomha made the writable master: exit
	// status 0 for keepalived's vrrp_script.
	OK bool `json:"ok"`
	// Reasons lists every cause of a failure, in a fixed order; empty when
	// OK.
	Reasons []Reason `json:"reasons,omitempty"`
	// Notes are facts that did not fail the check but were looked at (a
	// channel ignored, the watchdog's health), for people.
	Notes []string `json:"notes,omitempty"`
}

// CheckMaster decides whether this host may hold the write VIP. It passes
// only when all of these hold, and otherwise lists each that does not:
//
//  1. The hook's mark file, if any, is not MarkFenced, and is readable.
//  2. The fencing watchdog did not demote the server: its state file's
//     phase is neither demoting nor demoted (sticky until the operator's
//     `mha-node watchdog --clear` or the manager's Release on promotion).
//  3. When a watchdog runs, it holds its lease (watchdog.Evaluate healthy:
//     not stalled, state from this boot). A holding state left by a
//     watchdog of an earlier boot, with none running, also fails: this host
//     was the master under a lease when it went down, and the manager may
//     have promoted another since; the manager's next watchdog start (or
//     --clear) ends it. No state file, or a holding state of this boot with
//     no watchdog running (the manager stopped it), passes unless
//     RequireWatchdog.
//  4. The local mysqld answered.
//  5. @@global.read_only is 0, and so is super_read_only where it exists
//     (on a host marked promoted less than PromotedGrace ago, either may
//     still be on: the manager opens writes right after its start hook).
//  6. It replicates from nobody: every channel of its replica status either
//     has no source (RESET SLAVE ALL leaves no row; MHA on MySQL 5.1 leaves
//     MASTER_HOST=”), or its source is one of AllowSources, or both its
//     threads are stopped and the host is marked promoted (or
//     AllowStopped). A channel whose threads run, or one stopped on a host
//     gomha did not mark, makes it a replica.
func CheckMaster(f MasterFacts, o MasterOptions) MasterVerdict {
	var v MasterVerdict
	fail := func(code, format string, args ...any) {
		v.Reasons = append(v.Reasons, Reason{Code: code, Detail: fmt.Sprintf(format, args...)})
	}
	promoted := false
	switch {
	case f.MarkErr != nil:
		fail(CodeFenced, "unreadable mark file (counted as fenced): %v", f.MarkErr)
	case f.Mark != nil && f.Mark.Kind == MarkFenced:
		fail(CodeFenced, "the manager's keepalived hook fenced this host (%s)", f.Mark.describe())
	case f.Mark != nil && f.Mark.Kind == MarkPromoted:
		promoted = true
		v.Notes = append(v.Notes, f.Mark.describe())
	}

	w := f.Watchdog
	if w.State == nil && w.ReadErr == nil {
		w.ReadErr = os.ErrNotExist
	}
	h := watchdog.Evaluate(w.State, w.ReadErr, w.Running, w.BootID, w.NowMono)
	ph, _ := watchdog.ParsePhase(h.Phase)
	switch {
	case h.OK:
		v.Notes = append(v.Notes, "watchdog: "+h.Message)
	case w.State != nil && (ph == watchdog.Demoting || ph == watchdog.Demoted):
		fail(CodeWatchdog, "the fencing watchdog %s", h.Message)
	case w.Running:
		fail(CodeWatchdog, "the fencing watchdog runs but does not hold its lease: %s", h.Message)
	case w.State != nil && w.State.BootID != w.BootID:
		fail(CodeWatchdog, "this host held a fencing lease when it went down (watchdog pid %d, boot %s, last update %s) and no watchdog runs since; the manager may have promoted another master",
			w.State.PID, w.State.BootID, w.State.UpdatedAt.UTC().Format(time.RFC3339))
	case o.RequireWatchdog:
		fail(CodeWatchdog, "no fencing watchdog holds a lease here (--require_watchdog): %s", h.Message)
	case w.ReadErr != nil && !errors.Is(w.ReadErr, os.ErrNotExist):
		fail(CodeWatchdog, "%s", h.Message)
	default:
		v.Notes = append(v.Notes, "watchdog: "+h.Message)
	}

	s := f.Server
	if s == nil {
		detail := f.ServerErr
		if detail == "" {
			detail = "no answer"
		}
		fail(CodeUnreachable, "local mysqld: %s", detail)
		v.OK = len(v.Reasons) == 0
		return v
	}
	readOnly := s.ReadOnly || (s.SuperReadOnly != nil && *s.SuperReadOnly)
	if age := f.Now.Sub(f.Mark.at()); readOnly && promoted && !f.Now.IsZero() && age >= -5*time.Second && age < PromotedGrace {
		v.Notes = append(v.Notes, fmt.Sprintf("read_only tolerated: marked promoted %s ago, the manager opens writes right after its start hook (grace %s)", age.Round(time.Second), PromotedGrace))
		readOnly = false
	}
	if readOnly && s.ReadOnly {
		fail(CodeReadOnly, "@@global.read_only is ON")
	}
	if readOnly && s.SuperReadOnly != nil && *s.SuperReadOnly {
		fail(CodeReadOnly, "@@global.super_read_only is ON")
	}
	for _, c := range s.Channels {
		if !c.HasSource() {
			continue
		}
		if m, ok := allowed(c, o.AllowSources); ok {
			v.Notes = append(v.Notes, fmt.Sprintf("%s ignored (--allow_source=%s)", c.label(), m))
			continue
		}
		if c.Stopped() && (promoted || o.AllowStopped) {
			why := "marked promoted"
			if !promoted {
				why = "--allow_stopped"
			}
			v.Notes = append(v.Notes, fmt.Sprintf("%s is stopped, ignored (%s)", c.label(), why))
			continue
		}
		fail(CodeReplica, "%s (IO thread %s, SQL thread %s)%s", c.label(), orUnknown(c.IO), orUnknown(c.SQL), stoppedHint(c, promoted))
	}
	v.OK = len(v.Reasons) == 0
	return v
}

func stoppedHint(c Channel, promoted bool) string {
	if c.Stopped() && !promoted {
		return ": a stopped channel still counts unless this host is marked promoted or --allow_stopped"
	}
	return ""
}

func allowed(c Channel, ms []SourceMatcher) (SourceMatcher, bool) {
	for _, m := range ms {
		if m.Match(c) {
			return m, true
		}
	}
	return SourceMatcher{}, false
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
