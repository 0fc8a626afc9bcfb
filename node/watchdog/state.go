package watchdog

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Paths are the watchdog's files for one mysqld (by port) in a work
// directory (the server's remote_workdir).
type Paths struct {
	// State is the JSON state file; Pid the pid file the running daemon
	// holds an exclusive flock on; Log the daemon's output; Defaults the
	// MySQL option file with the local credentials (0600).
	State, Pid, Log, Defaults string
}

// PathsFor returns the files of the watchdog of the mysqld on port in dir.
func PathsFor(dir string, port int) Paths {
	base := filepath.Join(dir, "mha-watchdog-"+strconv.Itoa(port))
	return Paths{State: base + ".state", Pid: base + ".pid", Log: base + ".log", Defaults: base + ".cnf"}
}

// Step is the outcome of one demotion step.
type Step struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Detail says what was done, or why the step does not apply.
	Detail string `json:"detail,omitempty"`
	Err    string `json:"err,omitempty"`
}

// State is what the state file holds. Monotonic times are CLOCK_BOOTTIME
// readings in nanoseconds, meaningful only with the same BootID; the wall
// times beside them are for people.
type State struct {
	Phase   string `json:"phase"`
	PID     int    `json:"pid"`
	BootID  string `json:"boot_id"`
	LeaseMS int64  `json:"lease_ms"`
	TickMS  int64  `json:"tick_ms"`

	StartedAt   time.Time `json:"started_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	UpdatedMono int64     `json:"updated_mono_ns"`

	LastContactAt   time.Time `json:"last_contact_at"`
	LastContactMono int64     `json:"last_contact_mono_ns"`
	LastContactBy   string    `json:"last_contact_by"`

	DemotedAt   time.Time `json:"demoted_at,omitzero"`
	DemotedMono int64     `json:"demoted_mono_ns,omitempty"`
	Why         string    `json:"why,omitempty"`
	Steps       []Step    `json:"steps,omitempty"`

	// Version is the watchdog's build (BuildVersion).
	Version string `json:"version,omitempty"`
	// DemoteBudgetMS is DemoteBudget as this watchdog counts it, in ms:
	// the manager adds it to the lease's margin (manager/lease). 0 from a
	// watchdog that predates the field.
	DemoteBudgetMS int64 `json:"demote_budget_ms,omitempty"`
	// CanKill says whether the watchdog proved at start that it can stop
	// its mysqld (the demotion's last resort, for a server that does not
	// answer SQL), and KillCheck why or why not; nil from a watchdog that
	// predates the field. A manager does not count on the lease of a
	// watchdog that cannot.
	CanKill   *bool  `json:"can_kill,omitempty"`
	KillCheck string `json:"kill_check,omitempty"`

	// Manager, Peers and VIP repeat the daemon's options, for --status.
	Manager string   `json:"manager,omitempty"`
	Peers   []string `json:"peers,omitempty"`
	VIP     string   `json:"vip,omitempty"`
}

// ReadState reads a state file. A missing file is reported with an error
// matching os.ErrNotExist.
func ReadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if _, ok := ParsePhase(st.Phase); !ok {
		return nil, fmt.Errorf("state file %s: unknown phase %q", path, st.Phase)
	}
	return &st, nil
}

// WriteState replaces the state file atomically (a temporary file renamed
// over it); with sync the data and the directory are flushed to disk first,
// as for a phase change that must survive a crash.
func WriteState(path string, st *State, sync bool) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	// A fresh file (O_EXCL): in a shared directory such as /var/tmp a
	// planted file or symlink is never written through.
	_ = os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(append(b, '\n'))
	if werr == nil && sync {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(tmp)
		return werr
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	if sync {
		if d, err := os.Open(filepath.Dir(path)); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	return nil
}

// Health is the answer of `mha-node watchdog --status`.
type Health struct {
	// OK is true only when a watchdog runs, holds the lease (not demoted)
	// and updated its state recently: the exit status 0 that keepalived's
	// vrrp_script and the manager wait for.
	OK bool `json:"ok"`
	// Phase is the state file's phase ("" without one).
	Phase string `json:"phase"`
	// Running is true when a daemon holds the pid file's lock.
	Running bool `json:"running"`
	// Message is one line for people.
	Message string `json:"message"`
	// State is the state file as read, nil when missing or unreadable.
	State *State `json:"state,omitempty"`
}

// Staleness is how long a running daemon's state may go without an update
// before --status calls it unhealthy: three ticks plus a probe deadline.
func Staleness(tick time.Duration) time.Duration {
	return 3*tick + ProbeTimeout(tick)
}

// Evaluate decides the health from the state file (st, or the error that
// reading it gave), whether a daemon holds the pid lock, and the current
// boot id and monotonic time. It is pure.
func Evaluate(st *State, readErr error, running bool, bootID string, nowMono time.Duration) Health {
	h := Health{Running: running, State: st}
	switch {
	case errors.Is(readErr, os.ErrNotExist):
		h.Message = "no watchdog state file: the watchdog never ran here"
		if running {
			h.Message = "watchdog starting: no state written yet"
		}
		return h
	case readErr != nil:
		h.Message = "unreadable watchdog state: " + readErr.Error()
		return h
	}
	h.Phase = st.Phase
	if ph, _ := ParsePhase(st.Phase); ph != Holding {
		h.Message = fmt.Sprintf("demoted since %s: %s", st.DemotedAt.Format(time.RFC3339), st.Why)
		if ph == Demoting {
			h.Message = fmt.Sprintf("demoting since %s (not every step succeeded yet): %s", st.DemotedAt.Format(time.RFC3339), st.Why)
		}
		return h
	}
	if !running {
		h.Message = fmt.Sprintf("watchdog not running (pid %d last wrote its state at %s)", st.PID, st.UpdatedAt.Format(time.RFC3339))
		return h
	}
	tick := time.Duration(st.TickMS) * time.Millisecond
	if st.BootID == bootID {
		if age := nowMono - time.Duration(st.UpdatedMono); age > Staleness(tick) {
			h.Message = fmt.Sprintf("watchdog (pid %d) stalled: last update %s ago", st.PID, age.Round(time.Millisecond))
			return h
		}
		h.Message = fmt.Sprintf("holding the lease (%s): last contact %s ago (%s), pid %d",
			time.Duration(st.LeaseMS)*time.Millisecond, (nowMono - time.Duration(st.LastContactMono)).Round(time.Millisecond), st.LastContactBy, st.PID)
		if st.CanKill != nil && !*st.CanKill {
			// Still healthy for keepalived (the lease holds); the manager
			// refuses to count on it (manager/lease.ErrCannotDemote).
			h.Message += "; it cannot stop mysqld: " + st.KillCheck
		}
		h.OK = true
		return h
	}
	h.Message = fmt.Sprintf("watchdog state from another boot (pid %d)", st.PID)
	return h
}
