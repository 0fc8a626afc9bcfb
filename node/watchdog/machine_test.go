package watchdog

import (
	"strings"
	"testing"
	"time"
)

const s = time.Second

// tick is one scripted tick: the facts at At and what must follow.
type tick struct {
	at      time.Duration
	mgrIdle time.Duration // < 0: no manager session seen
	peers   []string
	local   string
	demote  bool // Decision.Demote expected
	done    bool // report the demotion complete after this tick
	phase   Phase
	why     string // substring of Decision.Why when demote
}

const none = -1

func play(t *testing.T, m *Machine, ticks []tick) {
	t.Helper()
	for i, tk := range ticks {
		f := Facts{Now: tk.at, PeersAnswered: tk.peers, LocalErr: tk.local}
		if tk.mgrIdle >= 0 {
			f.ManagerSeen, f.ManagerIdle = true, tk.mgrIdle
		}
		d := m.Step(f)
		if d.Demote != tk.demote {
			t.Fatalf("tick %d at %v: Demote = %v, want %v (why %q)", i, tk.at, d.Demote, tk.demote, d.Why)
		}
		if tk.demote && tk.why != "" && !strings.Contains(d.Why, tk.why) {
			t.Errorf("tick %d at %v: why %q lacks %q", i, tk.at, d.Why, tk.why)
		}
		if d.Demote {
			m.Done(tk.done)
		}
		if m.Phase() != tk.phase {
			t.Fatalf("tick %d at %v: phase %v, want %v", i, tk.at, m.Phase(), tk.phase)
		}
	}
}

// every returns ticks from..to every step with the same facts.
func every(from, to, step time.Duration, tk tick) []tick {
	var out []tick
	for at := from; at <= to; at += step {
		x := tk
		x.at = at
		out = append(out, x)
	}
	return out
}

func concat(parts ...[]tick) []tick {
	var out []tick
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestMachineScenarios(t *testing.T) {
	const lease = 10 * s
	tk := Tick(lease) // 2.5 s
	peers := []string{"198.18.0.12:3306", "198.18.0.13:3306"}
	tests := []struct {
		name  string
		ticks []tick
	}{
		{
			name:  "healthy: the manager pings every 3 s and the replicas answer",
			ticks: every(0, 60*s, tk, tick{mgrIdle: 1 * s, peers: peers, phase: Holding}),
		},
		{
			name: "isolated (cable pulled at 20 s): demote after the lease, once",
			ticks: concat(
				every(0, 20*s, tk, tick{mgrIdle: 500 * time.Millisecond, peers: peers, phase: Holding}),
				// Last contact: the manager's statement at 19.5 s, the peers at 20 s.
				every(22500*time.Millisecond, 30*s, tk, tick{mgrIdle: none, phase: Holding}),
				[]tick{{at: 32500 * time.Millisecond, mgrIdle: none, demote: true, done: true, phase: Demoted,
					why: "no contact with the manager or any replica for 12.5s (longer than the lease 10s); last contact: peer 198.18.0.12:3306,198.18.0.13:3306"}},
				every(35*s, 60*s, tk, tick{mgrIdle: none, phase: Demoted}),
			),
		},
		{
			name: "the manager's route cut, replicas still answer: no demotion",
			ticks: concat(
				every(0, 10*s, tk, tick{mgrIdle: 2 * s, peers: peers, phase: Holding}),
				// The manager's session is gone or idle ever longer.
				every(12500*time.Millisecond, 120*s, tk, tick{mgrIdle: none, peers: peers, phase: Holding}),
			),
		},
		{
			name: "the manager's session idles longer and longer, replicas answer: no demotion",
			ticks: func() []tick {
				var out []tick
				for at := time.Duration(0); at <= 60*s; at += tk {
					out = append(out, tick{at: at, mgrIdle: at, peers: peers[:1], phase: Holding})
				}
				return out
			}(),
		},
		{
			name:  "replicas cut, the manager pings: no demotion",
			ticks: every(0, 120*s, tk, tick{mgrIdle: 2900 * time.Millisecond, phase: Holding}),
		},
		{
			name: "flapping: contact every 9 s, each gap within the lease: no demotion",
			ticks: func() []tick {
				var out []tick
				for at := time.Duration(0); at <= 90*s; at += 500 * time.Millisecond {
					x := tick{at: at, mgrIdle: none, phase: Holding}
					if at%(9*s) == 0 {
						x.peers = peers[1:]
					}
					out = append(out, x)
				}
				return out
			}(),
		},
		{
			name: "flapping with one gap longer than the lease: demoted, and contact afterwards does not undo it",
			ticks: concat(
				[]tick{{at: 0, mgrIdle: none, peers: peers, phase: Holding}},
				[]tick{{at: 9 * s, mgrIdle: none, peers: peers, phase: Holding}},
				[]tick{{at: 18 * s, mgrIdle: none, peers: peers, phase: Holding}},
				[]tick{{at: 28500 * time.Millisecond, mgrIdle: none, demote: true, done: true, phase: Demoted}},
				every(30*s, 60*s, tk, tick{mgrIdle: 0, peers: peers, phase: Demoted}),
			),
		},
		{
			name: "the manager's last statement dates the contact, not the tick that saw it",
			ticks: []tick{
				{at: 0, mgrIdle: 0, phase: Holding},
				// At 9 s the manager's session shows 8 s idle: its statement was at 1 s.
				{at: 9 * s, mgrIdle: 8 * s, phase: Holding},
				{at: 11 * s, mgrIdle: 10 * s, phase: Holding},
				{at: 11100 * time.Millisecond, mgrIdle: 10100 * time.Millisecond, demote: true, done: true, phase: Demoted,
					why: "last contact: manager"},
			},
		},
		{
			name: "a stalled watchdog wakes after the lease: demotes even though contact is back",
			ticks: []tick{
				{at: 0, mgrIdle: 0, peers: peers, phase: Holding},
				{at: 2500 * time.Millisecond, mgrIdle: 0, peers: peers, phase: Holding},
				// 15 s without a tick (host suspended); contact is back on wake-up.
				{at: 17500 * time.Millisecond, mgrIdle: 0, peers: peers, demote: true, done: true, phase: Demoted,
					why: "before peer"},
			},
		},
		{
			name: "a demotion that fails is asked for again at every tick until it completes",
			ticks: concat(
				[]tick{{at: 0, mgrIdle: none, phase: Holding}},
				[]tick{{at: 10500 * time.Millisecond, mgrIdle: none, local: "dial tcp: i/o timeout", demote: true, phase: Demoting,
					why: "local mysqld: dial tcp: i/o timeout"}},
				[]tick{{at: 13 * s, mgrIdle: none, demote: true, phase: Demoting}},
				// Contact comes back while still demoting: the demotion goes on.
				[]tick{{at: 15500 * time.Millisecond, mgrIdle: 0, peers: peers, demote: true, done: true, phase: Demoted}},
				[]tick{{at: 18 * s, mgrIdle: 0, peers: peers, phase: Demoted}},
			),
		},
		{
			name: "monotonic: a reading that goes back does not shorten the silence",
			ticks: []tick{
				{at: 0, mgrIdle: none, peers: peers, phase: Holding},
				{at: 8 * s, mgrIdle: none, phase: Holding},
				// A source that jumped back (it must not; a wall clock would).
				{at: 1 * s, mgrIdle: none, phase: Holding},
				{at: 10500 * time.Millisecond, mgrIdle: none, demote: true, done: true, phase: Demoted},
			},
		},
		{
			name: "exactly the lease is still within it",
			ticks: []tick{
				{at: 0, mgrIdle: none, peers: peers, phase: Holding},
				{at: 10 * s, mgrIdle: none, phase: Holding},
				{at: 10*s + time.Millisecond, mgrIdle: none, demote: true, done: true, phase: Demoted},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			play(t, New(lease, 0), tt.ticks)
		})
	}
}

func TestMachineStartCountsAsContact(t *testing.T) {
	m := New(10*s, 100*s)
	if d := m.Step(Facts{Now: 109 * s}); d.Demote {
		t.Fatalf("demoted %v after start, within the lease", 9*s)
	}
	if d := m.Step(Facts{Now: 110500 * time.Millisecond}); !d.Demote {
		t.Fatal("not demoted 10.5 s after start without contact")
	}
}

func TestMachineRestoreIsSticky(t *testing.T) {
	for _, ph := range []Phase{Demoting, Demoted} {
		m := Restore(10*s, ph, 5*s, "manager", 16*s, "isolated")
		d := m.Step(Facts{Now: 20 * s, ManagerSeen: true, PeersAnswered: []string{"a:1"}})
		if m.Phase() == Holding {
			t.Errorf("restored %v: back to holding after contact", ph)
		}
		if d.Demote != (ph == Demoting) {
			t.Errorf("restored %v: Demote = %v", ph, d.Demote)
		}
		if at, why := m.DemotedAt(); at != 16*s || why != "isolated" {
			t.Errorf("restored %v: DemotedAt = %v %q", ph, at, why)
		}
	}
	// A restored holding machine carries its last contact over: a restart
	// does not extend the lease.
	m := Restore(10*s, Holding, 5*s, "manager", 0, "")
	if d := m.Step(Facts{Now: 15500 * time.Millisecond}); !d.Demote {
		t.Error("restored holding machine: no demotion 10.5 s after its last contact")
	}
}

func TestTickAndProbeTimeout(t *testing.T) {
	tests := []struct{ lease, tick, probe time.Duration }{
		{10 * s, 2500 * time.Millisecond, 1250 * time.Millisecond},
		{1 * s, 250 * time.Millisecond, 200 * time.Millisecond},
		{100 * time.Millisecond, 250 * time.Millisecond, 200 * time.Millisecond},
		{60 * s, 15 * s, 2 * s},
	}
	for _, tt := range tests {
		if got := Tick(tt.lease); got != tt.tick {
			t.Errorf("Tick(%v) = %v, want %v", tt.lease, got, tt.tick)
		}
		if got := ProbeTimeout(Tick(tt.lease)); got != tt.probe {
			t.Errorf("ProbeTimeout(%v) = %v, want %v", Tick(tt.lease), got, tt.probe)
		}
	}
}

func TestPhaseNames(t *testing.T) {
	for _, p := range []Phase{Holding, Demoting, Demoted} {
		got, ok := ParsePhase(p.String())
		if !ok || got != p {
			t.Errorf("ParsePhase(%q) = %v %v", p.String(), got, ok)
		}
	}
	if _, ok := ParsePhase("bogus"); ok {
		t.Error("ParsePhase(bogus) ok")
	}
}
