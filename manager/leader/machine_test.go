package leader

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// step is one line of a machine scenario: apply a result (res != nil) or
// ask next() at `at` and compare the action; then compare the role at `at`.
type step struct {
	at   int
	res  *result
	want action // compared when res is nil; want.at, want.wait in ms below
	// wantAt, wantWait: idle's wake time, read's wait (ms; -1: don't care).
	wantAt, wantWait int
	role             Role
}

// res builds a result of kind that started at from and ended at to.
func res(kind actKind, from, to int, f func(*result)) *result {
	r := &result{kind: kind, start: at(from), end: at(to)}
	if f != nil {
		f(r)
	}
	return r
}

func okRes(r *result)   { r.ok = true }
func goneRes(r *result) { r.gone = true }
func errRes(r *result)  { r.err = errors.New("dial tcp 127.0.0.1:8500: connection refused") }
func session(id string) func(*result) {
	return func(r *result) { r.session = id }
}
func key(holder string, modify uint64) func(*result) {
	return func(r *result) {
		r.key = keyState{Exists: holder != "" || modify != 0, Session: holder, ModifyIndex: modify, Index: modify}
	}
}

// acquired is the prefix every holder scenario shares: a session, a free
// key, an acquisition answered at 30 ms (proof at 20 ms).
var acquired = []step{
	{at: 0, want: action{kind: actCreate}, role: Unknown},
	{at: 10, res: res(actCreate, 0, 10, session("s1")), role: Standby},
	{at: 10, want: action{kind: actRead}, wantWait: 0, role: Standby},
	{at: 20, res: res(actRead, 10, 20, key("", 0)), role: Standby},
	{at: 20, want: action{kind: actAcquire}, role: Standby},
	{at: 30, res: res(actAcquire, 20, 30, okRes), role: Standby},
	{at: 30, want: action{kind: actIdle}, wantAt: 1020, role: Standby},
}

// beating is acquired plus confirmed beats every second up to 4020 ms: the
// lease then runs to 7020 ms, the tenure acts from 4030 ms.
var beating = append(append([]step{}, acquired...),
	step{at: 1020, want: action{kind: actBeat}, role: Standby},
	step{at: 1030, res: res(actBeat, 1020, 1030, okRes), role: Standby},
	step{at: 2020, want: action{kind: actBeat}, role: Standby},
	step{at: 2030, res: res(actBeat, 2020, 2030, okRes), role: Standby},
	step{at: 3020, want: action{kind: actBeat}, role: Standby},
	step{at: 3030, res: res(actBeat, 3020, 3030, okRes), role: Standby},
	step{at: 4020, want: action{kind: actBeat}, role: Standby},
	step{at: 4029, res: res(actBeat, 4020, 4029, okRes), role: Standby},
	step{at: 4030, want: action{kind: actIdle}, wantAt: 5020, role: Active},
)

// watching is a standby that sees key held by s9 (modify 5) at 20 ms.
var watching = []step{
	{at: 0, want: action{kind: actCreate}, role: Unknown},
	{at: 10, res: res(actCreate, 0, 10, session("s1")), role: Standby},
	{at: 10, want: action{kind: actRead}, role: Standby},
	{at: 20, res: res(actRead, 10, 20, key("s9", 5)), role: Standby},
	// Blocks until eviction is due (20 + 3000).
	{at: 20, want: action{kind: actRead, index: 5}, wantWait: 3000, role: Standby},
}

func TestMachine(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"acquires and acts after lease plus grace", append(append([]step{}, beating...),
			step{at: 5020, want: action{kind: actBeat}, role: Active},
		)},
		{"beats that fail depose at the end of the lease", append(append([]step{}, beating...),
			step{at: 5020, want: action{kind: actBeat}, role: Active},
			step{at: 5030, res: res(actBeat, 5020, 5030, errRes), role: Active},
			step{at: 6020, want: action{kind: actBeat}, role: Active},
			step{at: 6030, res: res(actBeat, 6020, 6030, errRes), role: Active},
			// Last proof 4020: deposed at 7020, whatever is in flight.
			step{at: 7019, want: action{kind: actIdle}, wantAt: 7020, role: Active},
			step{at: 7020, want: action{kind: actRead}, role: Unknown},
		)},
		{"a late beat answer does not revive an expired lease", append(append([]step{}, beating...),
			step{at: 5020, want: action{kind: actBeat}, role: Active},
			step{at: 5030, res: res(actBeat, 5020, 5030, errRes), role: Active},
			step{at: 6020, want: action{kind: actBeat}, role: Active},
			// Started before the deadline (7020), answered after it.
			step{at: 7500, res: res(actBeat, 6020, 7500, okRes), role: Standby},
			// The key still shows our session: acquire again, a new tenure.
			step{at: 7500, want: action{kind: actRead}, role: Standby},
			step{at: 7510, res: res(actRead, 7500, 7510, key("s1", 9)), role: Standby},
			step{at: 7510, want: action{kind: actAcquire}, role: Standby},
			step{at: 7520, res: res(actAcquire, 7510, 7520, okRes), role: Standby},
			step{at: 8510, want: action{kind: actBeat}, role: Standby},
		)},
		{"a beat that finds the key taken deposes at once", append(append([]step{}, beating...),
			step{at: 5020, want: action{kind: actBeat}, role: Active},
			step{at: 5030, res: res(actBeat, 5020, 5030, nil), role: Standby},
			step{at: 5030, want: action{kind: actRead}, role: Standby},
		)},
		{"a beat that finds the session gone deposes and creates another", append(append([]step{}, beating...),
			step{at: 5020, want: action{kind: actBeat}, role: Active},
			step{at: 5030, res: res(actBeat, 5020, 5030, goneRes), role: Standby},
			step{at: 5030, want: action{kind: actCreate}, role: Standby},
		)},
		{"the wait after acquiring needs the beats to keep confirming", append(append([]step{}, acquired...),
			step{at: 1020, want: action{kind: actBeat}, role: Standby},
			step{at: 1030, res: res(actBeat, 1020, 1030, errRes), role: Standby},
			step{at: 2020, want: action{kind: actBeat}, role: Standby},
			step{at: 2030, res: res(actBeat, 2020, 2030, errRes), role: Standby},
			// Proof at 20: lease over at 3020, never active.
			step{at: 3020, want: action{kind: actRead}, role: Unknown},
		)},
		{"a standby unlocks a key that stood still for Evict", append(append([]step{}, watching...),
			step{at: 3050, res: res(actRead, 20, 3050, key("s9", 5)), role: Standby},
			step{at: 3050, want: action{kind: actEvict, session: "s9", modify: 5}, role: Standby},
			step{at: 3060, res: res(actEvict, 3050, 3060, okRes), role: Standby},
			step{at: 3060, want: action{kind: actRead}, role: Standby},
			step{at: 3070, res: res(actRead, 3060, 3070, key("", 6)), role: Standby},
			step{at: 3070, want: action{kind: actAcquire}, role: Standby},
		)},
		{"a beat restarts the standby's wait", append(append([]step{}, watching...),
			step{at: 1000, res: res(actRead, 20, 1000, key("s9", 6)), role: Standby},
			step{at: 1000, want: action{kind: actRead, index: 6}, wantWait: 3000, role: Standby},
			step{at: 4000, res: res(actRead, 1000, 4000, key("s9", 6)), role: Standby},
			step{at: 4000, want: action{kind: actEvict, session: "s9", modify: 6}, role: Standby},
		)},
		{"a standby renews its session every TTL/2", append(append([]step{}, watching...),
			step{at: 2500, res: res(actRead, 20, 2500, key("s9", 6)), role: Standby},
			// Renewal due at 10 + 5000 comes before eviction (5500).
			step{at: 2500, want: action{kind: actRead, index: 6}, wantWait: 2510, role: Standby},
			step{at: 5010, res: res(actRead, 2500, 5010, key("s9", 6)), role: Standby},
			step{at: 5010, want: action{kind: actRenew}, role: Standby},
			step{at: 5020, res: res(actRenew, 5010, 5020, okRes), role: Standby},
			step{at: 5020, want: action{kind: actRead, index: 6}, wantWait: 480, role: Standby},
		)},
		{"an eviction that a beat beat retries the watch", append(append([]step{}, watching...),
			step{at: 3050, res: res(actRead, 20, 3050, key("s9", 5)), role: Standby},
			step{at: 3050, want: action{kind: actEvict, session: "s9", modify: 5}, role: Standby},
			step{at: 3060, res: res(actEvict, 3050, 3060, nil), role: Standby},
			step{at: 3060, want: action{kind: actRead}, role: Standby},
			step{at: 3070, res: res(actRead, 3060, 3070, key("s9", 7)), role: Standby},
			// Renewal due at 5010 comes first.
			step{at: 3070, want: action{kind: actRead, index: 7}, wantWait: 1940, role: Standby},
		)},
		{"a refused acquisition (lock-delay) waits Retry or a change", []step{
			{at: 0, want: action{kind: actCreate}, role: Unknown},
			{at: 10, res: res(actCreate, 0, 10, session("s1")), role: Standby},
			{at: 10, want: action{kind: actRead}, role: Standby},
			{at: 20, res: res(actRead, 10, 20, key("", 4)), role: Standby},
			{at: 20, want: action{kind: actAcquire}, role: Standby},
			{at: 30, res: res(actAcquire, 20, 30, nil), role: Standby},
			{at: 30, want: action{kind: actRead, index: 4}, wantWait: 490, role: Standby},
			{at: 520, res: res(actRead, 30, 520, key("", 4)), role: Standby},
			{at: 520, want: action{kind: actAcquire}, role: Standby},
		}},
		{"consul unreachable: unknown, retried after Retry", append(append([]step{}, watching...),
			step{at: 100, res: res(actRead, 20, 100, errRes), role: Unknown},
			step{at: 100, want: action{kind: actIdle}, wantAt: 600, role: Unknown},
			step{at: 600, want: action{kind: actRead}, role: Unknown},
			step{at: 610, res: res(actRead, 600, 610, key("s9", 5)), role: Standby},
		)},
		{"a session consul forgot is created again", append(append([]step{}, watching...),
			step{at: 3000, res: res(actRead, 20, 3000, key("s9", 5)), role: Standby},
			step{at: 3000, want: action{kind: actRead, index: 5}, wantWait: 20, role: Standby},
			step{at: 3020, res: res(actRead, 3000, 3020, key("s9", 5)), role: Standby},
			step{at: 3020, want: action{kind: actEvict, session: "s9", modify: 5}, role: Standby},
			step{at: 3030, res: res(actEvict, 3020, 3030, errRes), role: Unknown},
			step{at: 3530, want: action{kind: actRead}, role: Unknown},
			step{at: 5010, res: res(actRead, 3530, 5010, key("", 0)), role: Standby},
			step{at: 5010, want: action{kind: actRenew}, role: Standby},
			step{at: 5020, res: res(actRenew, 5010, 5020, goneRes), role: Standby},
			step{at: 5020, want: action{kind: actCreate}, role: Standby},
			step{at: 5030, res: res(actCreate, 5020, 5030, errRes), role: Unknown},
			step{at: 5030, want: action{kind: actIdle}, wantAt: 5530, role: Unknown},
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &machine{t: timingOf(Config{}.withDefaults())}
			for i, s := range tt.steps {
				now := at(s.at)
				if s.res != nil {
					m.apply(*s.res)
				} else {
					got := m.next(now)
					want := s.want
					if s.wantAt != 0 {
						want.at = at(s.wantAt)
					}
					want.wait = time.Duration(s.wantWait) * time.Millisecond
					if got != want {
						t.Fatalf("step %d at %d ms: next = %+v, want %+v", i, s.at, got, want)
					}
				}
				if got := m.role(now); got != s.role {
					t.Fatalf("step %d at %d ms: role = %v, want %v", i, s.at, got, s.role)
				}
			}
		})
	}
}

func TestMachineWake(t *testing.T) {
	m := &machine{t: timingOf(Config{}.withDefaults())}
	if w := m.wake(at(0)); !w.IsZero() {
		t.Errorf("wake without a lock = %v, want none", w)
	}
	m.apply(result{kind: actCreate, start: at(0), end: at(10), session: "s1"})
	m.apply(result{kind: actAcquire, start: at(20), end: at(30), ok: true})
	m.apply(result{kind: actBeat, start: at(1020), end: at(1030), ok: true})
	m.apply(result{kind: actBeat, start: at(2020), end: at(2030), ok: true})
	// Acts from 30 + Lease + Grace, before the deadline 2020 + Lease.
	if got, want := m.wake(at(2030)), at(4030); !got.Equal(want) {
		t.Errorf("wake before acting = %v, want %v", got.Sub(t0), want.Sub(t0))
	}
	if got, want := m.wake(at(4030)), at(5020); !got.Equal(want) {
		t.Errorf("wake while acting = %v, want the deadline %v", got.Sub(t0), want.Sub(t0))
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		bad  int // number of problems reported
	}{
		{"defaults", Config{App: "app1"}, 0},
		{"no app", Config{}, 1},
		{"app with a slash", Config{App: "a/b"}, 1},
		{"beat not under lease, evict under two beats", Config{App: "a", Beat: 3 * time.Second, Evict: 4 * time.Second}, 2},
		{"ttl under two leases", Config{App: "a", TTL: 5 * time.Second}, 1},
		{"negative grace, lock-delay over 60s", Config{App: "a", Grace: -1, LockDelay: time.Minute + 1}, 2},
		{"prefix with a trailing slash", Config{App: "a", Prefix: "gomha/"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			n := 0
			if err != nil {
				if !errors.Is(err, ErrConfig) {
					t.Fatalf("Validate() = %v, not ErrConfig", err)
				}
				n = len(err.(interface{ Unwrap() []error }).Unwrap())
			}
			if n != tt.bad {
				t.Errorf("Validate() reported %d problems, want %d: %v", n, tt.bad, err)
			}
		})
	}
	if got, want := (Config{App: "app1"}).Key(), "gomha/app1/leader"; got != want {
		t.Errorf("Key() = %q, want %q", got, want)
	}
}

func TestHolderInfoString(t *testing.T) {
	h := HolderInfo{Name: "mgr1", PID: 42, Version: "v1.2", Since: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if got, want := h.String(), "mgr1 (pid 42, version v1.2, since 2026-01-02T03:04:05Z)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
