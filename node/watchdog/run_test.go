package watchdog

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Duration
}

func (c *fakeClock) Now() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) set(d time.Duration) {
	c.mu.Lock()
	c.now = d
	c.mu.Unlock()
}

type fakeLocal struct {
	mu       sync.Mutex
	seen     bool
	idle     time.Duration
	demotes  int
	fail     bool
	readOnly bool
	// sessionFail: read_only is set and verified, but one client session
	// could not be killed.
	sessionFail bool
}

func (l *fakeLocal) ReadOnly(context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.readOnly, nil
}

func (l *fakeLocal) setReadOnly(v bool) {
	l.mu.Lock()
	l.readOnly = v
	l.mu.Unlock()
}

func (l *fakeLocal) ManagerIdle(context.Context, string, []string) (time.Duration, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.idle, l.seen, nil
}

func (l *fakeLocal) Demote(context.Context) []Step {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.demotes++
	if l.fail {
		return []Step{{Name: StepReadOnly, Err: "lock wait timeout"}, {Name: StepVerify, Err: "@@global.read_only is 0"}}
	}
	l.readOnly = true
	if l.sessionFail {
		return []Step{{Name: StepKillSessions, Err: "12: Error 1095: You are not owner of thread 12"},
			{Name: StepReadOnly, OK: true}, {Name: StepVerify, OK: true}}
	}
	return []Step{{Name: StepReadOnly, OK: true}, {Name: StepVerify, OK: true}}
}

// rig runs the daemon with fakes; step advances the clock and ticks.
type rig struct {
	t      *testing.T
	clock  *fakeClock
	local  *fakeLocal
	peerOK bool
	vips   int
	ticks  chan time.Time
	ticked chan struct{}
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
}

func startRig(t *testing.T, o Options, boot string, clock *fakeClock, local *fakeLocal) *rig {
	t.Helper()
	r := &rig{t: t, clock: clock, local: local, ticks: make(chan time.Time), ticked: make(chan struct{}), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(t.Context())
	r.cancel = cancel
	env := Env{
		Local: local,
		Probe: func(context.Context, string) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.peerOK {
				return nil
			}
			return errors.New("no route to host")
		},
		RemoveVIP: func(context.Context, string, string) Step {
			r.mu.Lock()
			r.vips++
			r.mu.Unlock()
			return Step{Name: "remove VIP", OK: true}
		},
		Clock: clock, BootID: boot, Ticks: r.ticks, AfterTick: func() { r.ticked <- struct{}{} },
		Wall: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(clock.Now()) },
	}
	go func() { r.done <- Run(ctx, o, env) }()
	// A first tick at the start time: once it is taken, Run has read the
	// clock for its start.
	r.ticks <- time.Time{}
	<-r.ticked
	return r
}

func (r *rig) setPeer(ok bool) {
	r.mu.Lock()
	r.peerOK = ok
	r.mu.Unlock()
}

func (r *rig) tickAt(d time.Duration) {
	r.clock.set(d)
	r.ticks <- time.Time{}
	<-r.ticked
}

func (r *rig) stop() {
	r.t.Helper()
	r.cancel()
	if err := <-r.done; err != nil {
		r.t.Fatal(err)
	}
}

func TestRunDemotesOnceAndStaysDemotedAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	o := Options{Lease: 10 * s, ManagerUser: "mha", ManagerHosts: []string{"198.18.0.1"}, Peers: []string{"198.18.0.12:3306"},
		VIP: "198.18.0.100/24", VIPDev: "eth0", StateFile: filepath.Join(dir, "w.state"), Fresh: true}
	clock := &fakeClock{now: 100 * s}
	local := &fakeLocal{seen: true}
	r := startRig(t, o, "boot-1", clock, local)
	r.setPeer(true)
	r.tickAt(102 * s)
	r.tickAt(105 * s)
	// Cable pulled at 105 s: neither the manager nor the peer.
	local.mu.Lock()
	local.seen = false
	local.mu.Unlock()
	r.setPeer(false)
	for at := 107500 * time.Millisecond; at <= 115*s; at += 2500 * time.Millisecond {
		r.tickAt(at)
	}
	if local.demotes != 0 {
		t.Fatalf("demoted within the lease")
	}
	r.tickAt(117500 * time.Millisecond)
	// Link back: contact again, no second demotion.
	r.setPeer(true)
	r.tickAt(120 * s)
	r.tickAt(122500 * time.Millisecond)
	r.stop()
	if local.demotes != 1 || r.vips != 1 {
		t.Fatalf("demotes=%d vips=%d, want 1 and 1", local.demotes, r.vips)
	}
	st, err := ReadState(o.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != "demoted" || !strings.Contains(st.Why, "no contact") {
		t.Fatalf("state after demotion: %+v", st)
	}
	h := Evaluate(st, nil, true, "boot-1", 123*s)
	if h.OK || !strings.HasPrefix(h.Message, "demoted since 2026-01-01T00:01:57Z") {
		t.Errorf("health of a demoted watchdog: %+v", h)
	}

	// Restarted by the manager (fresh): still demoted, nothing run again.
	r = startRig(t, o, "boot-1", clock, local)
	r.tickAt(130 * s)
	st, _ = ReadState(o.StateFile)
	if st.Phase != "demoted" || local.demotes != 1 {
		t.Fatalf("after restart: phase %s, demotes %d", st.Phase, local.demotes)
	}
	// mysqld restarted writable (read_only=0 in its option file): demoted
	// again at the next tick, and only then.
	local.setReadOnly(false)
	r.tickAt(132500 * time.Millisecond)
	r.tickAt(135 * s)
	r.stop()
	if local.demotes != 2 || r.vips != 1 {
		t.Fatalf("writable again while demoted: demotes=%d, VIP removals by the restarted watchdog %d; want 2 and 1", local.demotes, r.vips)
	}
}

func TestRunRestartCarriesTheLeaseOver(t *testing.T) {
	dir := t.TempDir()
	o := Options{Lease: 10 * s, ManagerUser: "mha", ManagerHosts: []string{"198.18.0.1"}, StateFile: filepath.Join(dir, "w.state")}
	clock := &fakeClock{now: 0}
	local := &fakeLocal{seen: true}
	r := startRig(t, o, "boot-1", clock, local)
	r.tickAt(2 * s)
	r.stop()
	// The manager is gone; a restart without --fresh 9 s later must not
	// start a new lease.
	local.seen = false
	clock.set(9 * s)
	r = startRig(t, o, "boot-1", clock, local)
	r.tickAt(12500 * time.Millisecond)
	r.stop()
	if local.demotes != 1 {
		t.Fatalf("demotes = %d, want 1: the restart extended the lease", local.demotes)
	}
	// After a reboot the old monotonic readings mean nothing: a new lease.
	o.StateFile = filepath.Join(dir, "other.state")
	r = startRig(t, o, "boot-1", clock, local)
	r.stop()
	clock.set(3 * s)
	r = startRig(t, o, "boot-2", clock, local)
	r.tickAt(9 * s)
	r.stop()
	if local.demotes != 1 {
		t.Fatalf("demotes = %d after a reboot within the new lease", local.demotes)
	}
}

func TestRunRetriesAnIncompleteDemotion(t *testing.T) {
	o := Options{Lease: 1 * s, ManagerUser: "mha", StateFile: filepath.Join(t.TempDir(), "w.state")}
	clock := &fakeClock{}
	local := &fakeLocal{fail: true}
	r := startRig(t, o, "b", clock, local)
	r.tickAt(1100 * time.Millisecond)
	r.tickAt(1350 * time.Millisecond)
	local.mu.Lock()
	local.fail = false
	local.mu.Unlock()
	r.tickAt(1600 * time.Millisecond)
	r.tickAt(1850 * time.Millisecond)
	r.stop()
	if local.demotes != 3 {
		t.Errorf("demotes = %d, want 3 (two failed, one complete, then none)", local.demotes)
	}
	st, _ := ReadState(o.StateFile)
	if st.Phase != "demoted" {
		t.Errorf("phase %s", st.Phase)
	}
}

func TestEvaluate(t *testing.T) {
	hold := &State{Phase: "holding", PID: 7, BootID: "b", LeaseMS: 10000, TickMS: 2500, UpdatedMono: int64(100 * s), LastContactMono: int64(99 * s), LastContactBy: "manager"}
	tests := []struct {
		name    string
		st      *State
		err     error
		running bool
		now     time.Duration
		ok      bool
		msg     string
	}{
		{"holding and fresh", hold, nil, true, 101 * s, true, "holding the lease (10s): last contact 2s ago (manager), pid 7"},
		{"holding, cannot stop mysqld: still healthy, and says so", cannotKill(hold), nil, true, 101 * s, true, "pid 7; it cannot stop mysqld: uid 1000 cannot signal"},
		{"not running", hold, nil, false, 101 * s, false, "watchdog not running"},
		{"stalled", hold, nil, true, 110 * s, false, "stalled: last update 10s ago"},
		{"never ran", nil, errNotExist(), false, 0, false, "never ran"},
		{"demoted", &State{Phase: "demoted", Why: "isolated", DemotedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, nil, true, 0, false, "demoted since 2026-01-01T00:00:00Z: isolated"},
		{"demoting", &State{Phase: "demoting", Why: "isolated"}, nil, true, 0, false, "demoting since"},
		{"other boot", hold, nil, true, 0, false, "another boot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			boot := "b"
			if tt.name == "other boot" {
				boot = "c"
			}
			h := Evaluate(tt.st, tt.err, tt.running, boot, tt.now)
			if h.OK != tt.ok || !strings.Contains(h.Message, tt.msg) {
				t.Errorf("Evaluate = %v %q; want %v, %q", h.OK, h.Message, tt.ok, tt.msg)
			}
		})
	}
}

func errNotExist() error {
	_, err := ReadState(filepath.Join("/nonexistent-gomha", "x"))
	return err
}

// killingLocal is a fakeLocal that can also stop its mysqld (Killer).
type killingLocal struct {
	*fakeLocal
	kills   int
	killErr string
	// cannot, when set, is why CanKill reports false.
	cannot string
}

func (k *killingLocal) CanKill(context.Context) (bool, string) {
	if k.cannot != "" {
		return false, k.cannot
	}
	return true, "root can stop SIGKILL to mariadbd (PID 42)"
}

// ReadOnly fails once mysqld was killed, as a dead server's would.
func (k *killingLocal) ReadOnly(ctx context.Context) (bool, error) {
	k.mu.Lock()
	killed := k.kills > 0 && k.killErr == ""
	k.mu.Unlock()
	if killed {
		return false, errors.New("connection refused")
	}
	return k.fakeLocal.ReadOnly(ctx)
}

func (k *killingLocal) Kill(context.Context) Step {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.kills++
	if k.killErr != "" {
		return Step{Err: k.killErr}
	}
	return Step{OK: true, Detail: "sent SIGKILL to mariadbd (PID 42); it is gone"}
}

// A demotion whose SQL steps fail within DemoteSQLBudget stops mysqld as a
// last resort, and stays open until read_only is verified.
func TestRunKillsWhenTheSQLDemotionFails(t *testing.T) {
	o := Options{Lease: 1 * s, ManagerUser: "mha", VIP: "198.18.7.100/24", VIPDev: "eth0", StateFile: filepath.Join(t.TempDir(), "w.state")}
	local := &killingLocal{fakeLocal: &fakeLocal{fail: true}}
	clock := &fakeClock{}
	env := Env{Local: local, Probe: func(context.Context, string) error { return errors.New("no route") },
		RemoveVIP: func(context.Context, string, string) Step { return Step{Name: "remove VIP", OK: true} },
		Clock:     clock, BootID: "c", Wall: time.Now}
	ticks := make(chan time.Time)
	ticked := make(chan struct{})
	env.Ticks, env.AfterTick = ticks, func() { ticked <- struct{}{} }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, o, env) }()
	ticks <- time.Time{} // taken once Run has read its start time
	<-ticked
	clock.set(1100 * time.Millisecond)
	ticks <- time.Time{}
	<-ticked
	clock.set(1350 * time.Millisecond)
	ticks <- time.Time{}
	<-ticked
	// A kill alone does not demote: a service manager may start mysqld
	// again, writable. The demotion stays open and is retried.
	st, _ := ReadState(o.StateFile)
	if local.kills != 2 || st.Phase != "demoting" {
		t.Errorf("after two ticks: kills = %d, phase %s; want 2 kills (one per tick) and still demoting", local.kills, st.Phase)
	}
	if n := len(st.Steps); n == 0 || st.Steps[n-1].Name != killStep || !st.Steps[n-1].OK {
		t.Errorf("steps %+v: want the last one %q, OK", st.Steps, killStep)
	}
	// mysqld came back (restarted) and takes read_only: demoted.
	local.mu.Lock()
	local.fail = false
	local.mu.Unlock()
	clock.set(1600 * time.Millisecond)
	ticks <- time.Time{}
	<-ticked
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st, _ = ReadState(o.StateFile)
	if st.Phase != "demoted" || local.kills != 2 {
		t.Errorf("phase %s, kills %d; want demoted by read_only, without a third kill", st.Phase, local.kills)
	}
}

// A kill that fails leaves the demotion incomplete: retried at every tick.
func TestRunRetriesAFailedKill(t *testing.T) {
	local := &killingLocal{fakeLocal: &fakeLocal{fail: true}, killErr: "mysqld's PID is unknown"}
	d := &daemon{o: Options{Lease: s}, env: Env{Local: local}, log: slog.New(slog.DiscardHandler)}
	steps, complete := d.demote(t.Context())
	if complete || local.kills != 1 || steps[len(steps)-1].Name != killStep {
		t.Errorf("demote = %+v, complete %v, kills %d; want an incomplete demotion ending with a failed kill", steps, complete, local.kills)
	}
	// The SQL steps succeed: no kill.
	local.fail = false
	if _, complete := d.demote(t.Context()); !complete || local.kills != 1 {
		t.Errorf("complete %v, kills %d after a good demotion; want complete and no new kill", complete, local.kills)
	}
}

// The state file says what the manager counts on: the demotion budget, the
// version and whether mysqld can be stopped, as proven at start.
func TestRunRecordsTheTermsOfTheLease(t *testing.T) {
	tests := []struct {
		name    string
		local   Local
		canKill bool
		check   string
	}{
		{"a watchdog that can stop mysqld", &killingLocal{fakeLocal: &fakeLocal{seen: true}}, true, "root can stop"},
		{"one that cannot", &killingLocal{fakeLocal: &fakeLocal{seen: true}, cannot: "uid 1000 cannot stop mariadb.service (systemctl stop needs root)"},
			false, "uid 1000 cannot stop mariadb.service"},
		{"a Local without a way to stop mysqld", &fakeLocal{seen: true}, false, "no way to stop mysqld"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Lease: 10 * s, ManagerUser: "mha", StateFile: filepath.Join(t.TempDir(), "w.state"), Fresh: true, Version: "0.1.0 abc"}
			ctx, cancel := context.WithCancel(t.Context())
			cancel() // Run writes its state at start, then sees ctx ended
			if err := Run(ctx, o, Env{Local: tt.local, Clock: &fakeClock{}, BootID: "b",
				Probe: func(context.Context, string) error { return errors.New("down") }}); err != nil {
				t.Fatal(err)
			}
			st, err := ReadState(o.StateFile)
			if err != nil {
				t.Fatal(err)
			}
			if st.DemoteBudgetMS != DemoteBudget.Milliseconds() || st.Version != "0.1.0 abc" {
				t.Errorf("budget %d ms, version %q; want %d, %q", st.DemoteBudgetMS, st.Version, DemoteBudget.Milliseconds(), "0.1.0 abc")
			}
			if st.CanKill == nil || *st.CanKill != tt.canKill || !strings.Contains(st.KillCheck, tt.check) {
				t.Errorf("can_kill %v, kill_check %q; want %v, %q", st.CanKill, st.KillCheck, tt.canKill, tt.check)
			}
		})
	}
	if v := BuildVersion(); v == "" {
		t.Error("BuildVersion is empty")
	}
}

func cannotKill(st *State) *State {
	c := *st
	no := false
	c.CanKill, c.KillCheck = &no, "uid 1000 cannot signal mariadbd (PID 42) of uid 106"
	return &c
}
