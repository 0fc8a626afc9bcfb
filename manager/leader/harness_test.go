package leader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The scenarios below run three Electors against one Consul: the fake
// (fast timings, every run) and a real agent (default timings, gated; see
// consul_test.go).

// backend is a Consul the scenarios run against.
type backend interface {
	// link returns a new manager's connection to it, for cfg.
	link(t *testing.T, cfg Config) link
	// restart kills Consul and starts it again without its state.
	restart(t *testing.T)
	// destroySession destroys a session, as an operator would.
	destroySession(t *testing.T, id string)
}

// link is one manager's connection, which the test can break.
type link interface {
	store() store
	// cut makes every request hang (a partition); heal undoes it.
	cut()
	heal()
	// kill refuses every request from now on (the process is gone).
	kill()
}

// span is one interval during which a manager was active, by the
// monotonic readings its callback took.
type span struct {
	who      string
	from, to time.Time // to is zero while it lasts
}

// recorder keeps every manager's active spans and notes any moment at
// which two were active.
type recorder struct {
	t0    time.Time
	mu    sync.Mutex
	spans []*span
	open  map[string]*span
	dead  map[string]bool
	// violations lists every overlap seen.
	violations []string
	// starts wakes waiters at every start of a span.
	starts chan struct{}
}

func newRecorder() *recorder {
	return &recorder{t0: time.Now(), open: map[string]*span{}, dead: map[string]bool{}, starts: make(chan struct{}, 100)}
}

func (r *recorder) ms(t time.Time) string { return t.Sub(r.t0).Round(time.Millisecond).String() }

func (r *recorder) onRole(who string) func(Role) {
	return func(role Role) {
		now := time.Now()
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.dead[who] {
			return
		}
		s := r.open[who]
		switch {
		case role == Active && s == nil:
			for other, o := range r.open {
				r.violations = append(r.violations, fmt.Sprintf("%s active at %s while %s active since %s", who, r.ms(now), other, r.ms(o.from)))
			}
			s = &span{who: who, from: now}
			r.open[who] = s
			r.spans = append(r.spans, s)
			select {
			case r.starts <- struct{}{}:
			default:
			}
		case role != Active && s != nil:
			s.to = now
			delete(r.open, who)
		}
	}
}

// kill closes who's span now: a process killed with -9 stops acting at once.
func (r *recorder) kill(who string) time.Time {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dead[who] = true
	if s := r.open[who]; s != nil {
		s.to = now
		delete(r.open, who)
	}
	return now
}

// active returns the manager active now and since when ("" if none).
func (r *recorder) active() (string, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for who, s := range r.open {
		return who, s.from
	}
	return "", time.Time{}
}

// current returns who's open span, nil if it is not active.
func (r *recorder) current(who string) *span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.open[who]
}

// end returns when s ended (zero while it lasts).
func (r *recorder) end(s *span) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return s.to
}

// check fails t for every overlap, and for spans that overlap by their
// recorded ends and starts.
func (r *recorder) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range r.violations {
		t.Errorf("two managers active at once: %s", v)
	}
	for i, a := range r.spans {
		for _, b := range r.spans[i+1:] {
			if a.who == b.who {
				continue
			}
			aEnd, bEnd := a.to, b.to
			if aEnd.IsZero() {
				aEnd = time.Now()
			}
			if bEnd.IsZero() {
				bEnd = time.Now()
			}
			if a.from.Before(bEnd) && b.from.Before(aEnd) {
				t.Errorf("spans overlap: %s [%s, %s) and %s [%s, %s)", a.who, r.ms(a.from), r.ms(aEnd), b.who, r.ms(b.from), r.ms(bEnd))
			}
		}
	}
	for _, s := range r.spans {
		end := "now"
		if !s.to.IsZero() {
			end = r.ms(s.to)
		}
		t.Logf("active span: %s [%s, %s)", s.who, r.ms(s.from), end)
	}
}

// member is one manager: an Elector running on its link.
type member struct {
	name   string
	e      *Elector
	link   link
	cancel context.CancelFunc
	done   chan struct{}
}

// group is the managers of one scenario.
type group struct {
	t       *testing.T
	b       backend
	rec     *recorder
	members []*member
	stop    chan struct{}
	polled  sync.WaitGroup

	// checks are the Check calls that passed, as a failover would make
	// them before each irreversible step.
	checkMu sync.Mutex
	checks  []span
}

// startGroup starts n managers with cfg (Name set per manager) and a
// poller that fails the test when two Electors say Active at once.
func startGroup(t *testing.T, b backend, cfg Config, n int) *group {
	g := &group{t: t, b: b, rec: newRecorder(), stop: make(chan struct{})}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	} else {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for i := range n {
		c := cfg
		c.Name = fmt.Sprintf("m%d", i+1)
		l := b.link(t, c)
		m := &member{name: c.Name, e: newElector(c, l.store()), link: l, done: make(chan struct{})}
		ctx, cancel := context.WithCancel(context.Background())
		m.cancel = cancel
		var checker sync.WaitGroup
		checker.Go(func() { g.checkLoop(ctx, m, c.withDefaults().Beat/5) })
		go func() {
			defer close(m.done)
			if err := m.e.Run(ctx, g.rec.onRole(m.name)); err != nil {
				t.Errorf("%s: Run: %v", m.name, err)
			}
			checker.Wait()
		}()
		g.members = append(g.members, m)
	}
	g.polled.Go(g.poll)
	t.Cleanup(g.close)
	return g
}

func (g *group) poll() {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-tick.C:
		}
		var active []string
		for _, m := range g.members {
			if m.e.Role() == Active {
				active = append(active, m.name)
			}
		}
		if len(active) > 1 {
			g.t.Errorf("Role() is Active for %v at once", active)
		}
	}
}

// checkLoop calls Check every period while ctx lasts, as a failover
// between its steps, and records the calls that passed.
func (g *group) checkLoop(ctx context.Context, m *member, period time.Duration) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		start := time.Now()
		if err := m.e.Check(ctx); err == nil {
			g.checkMu.Lock()
			g.checks = append(g.checks, span{who: m.name, from: start, to: time.Now()})
			g.checkMu.Unlock()
		}
	}
}

// passedChecks counts the Check calls that passed so far.
func (g *group) passedChecks() int {
	g.checkMu.Lock()
	defer g.checkMu.Unlock()
	return len(g.checks)
}

// checkFencing fails the test for a Check of one manager that passed
// while another was active.
func (g *group) checkFencing() {
	g.checkMu.Lock()
	checks := slices.Clone(g.checks)
	g.checkMu.Unlock()
	g.rec.mu.Lock()
	defer g.rec.mu.Unlock()
	for _, c := range checks {
		for _, s := range g.rec.spans {
			to := s.to
			if to.IsZero() {
				to = time.Now()
			}
			if s.who != c.who && s.from.Before(c.to) && c.from.Before(to) {
				g.t.Errorf("Check() of %s passed during [%s, %s) while %s was active [%s, %s)",
					c.who, g.rec.ms(c.from), g.rec.ms(c.to), s.who, g.rec.ms(s.from), g.rec.ms(to))
			}
		}
	}
	g.t.Logf("%d Check() calls passed, none while another manager was active", len(checks))
}

func (g *group) close() {
	for _, m := range g.members {
		m.cancel()
	}
	for _, m := range g.members {
		<-m.done
	}
	select {
	case <-g.stop:
	default:
		close(g.stop)
	}
	g.polled.Wait()
	g.rec.check(g.t)
	g.checkFencing()
}

func (g *group) member(name string) *member {
	for _, m := range g.members {
		if m.name == name {
			return m
		}
	}
	g.t.Fatalf("no member %s", name)
	return nil
}

// waitActive waits until a manager other than those in not is active and
// returns it and when it became active.
func (g *group) waitActive(limit time.Duration, not ...string) (*member, time.Time) {
	g.t.Helper()
	return g.waitActiveAfter(limit, time.Time{}, not...)
}

// waitActiveAfter is waitActive for a tenure that began after after.
func (g *group) waitActiveAfter(limit time.Duration, after time.Time, not ...string) (*member, time.Time) {
	g.t.Helper()
	deadline := time.After(limit)
	for {
		if who, since := g.rec.active(); who != "" && !contains(not, who) && since.After(after) {
			return g.member(who), since
		}
		select {
		case <-g.rec.starts:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			g.t.Fatalf("no manager (other than %v) active within %v", not, limit)
		}
	}
}

// waitRole waits until m's Elector reports role.
func (g *group) waitRole(m *member, role Role, limit time.Duration) {
	g.t.Helper()
	deadline := time.Now().Add(limit)
	for m.e.Role() != role {
		if time.Now().After(deadline) {
			g.t.Fatalf("%s: role %v, want %v within %v", m.name, m.e.Role(), role, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// kill is kill -9 of m: its link refuses everything, its Run ends without
// reaching Consul.
func (g *group) kill(m *member) time.Time {
	at := g.rec.kill(m.name)
	m.link.kill()
	m.cancel()
	<-m.done
	return at
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Scenarios, each on its own group.

// limits scale a scenario's waits to the timings in use.
type limits struct {
	// elect bounds the first election; takeover the takeover after a kill
	// (the target, asserted).
	elect, takeover time.Duration
}

func scenarioElect(t *testing.T, b backend, cfg Config, lim limits) {
	g := startGroup(t, b, cfg, 3)
	active, since := g.waitActive(lim.elect)
	t.Logf("%s active %s after start", active.name, since.Sub(g.rec.t0).Round(time.Millisecond))
	ctx := context.Background()
	if err := active.e.Check(ctx); err != nil {
		t.Errorf("%s: Check() of the active manager = %v", active.name, err)
	}
	for _, m := range g.members {
		if m == active {
			continue
		}
		g.waitRole(m, Standby, lim.elect)
		h, err := m.e.Holder(ctx)
		if err != nil || !strings.HasPrefix(h, active.name+" (pid ") {
			t.Errorf("%s: Holder() = %q, %v; want %s", m.name, h, err, active.name)
		}
		if err := m.e.Check(ctx); !errors.Is(err, ErrNotActive) {
			t.Errorf("%s: Check() of a standby = %v, want ErrNotActive", m.name, err)
		}
	}
}

func scenarioKill(t *testing.T, b backend, cfg Config, lim limits) []time.Duration {
	g := startGroup(t, b, cfg, 3)
	active, _ := g.waitActive(lim.elect)
	var figures []time.Duration
	var dead []string
	for range 2 {
		// Let the standbys settle into watching.
		time.Sleep(cfg.withDefaults().Beat * 3 / 2)
		if n := g.passedChecks(); n == 0 {
			t.Fatalf("%s active, but no Check() passed", active.name)
		}
		killed := g.kill(active)
		dead = append(dead, active.name)
		next, since := g.waitActive(3*lim.takeover, dead...)
		took := since.Sub(killed)
		figures = append(figures, took)
		t.Logf("takeover after kill -9 of %s: %s active %v later", active.name, next.name, took.Round(time.Millisecond))
		if took > lim.takeover {
			t.Errorf("takeover took %v, target %v", took, lim.takeover)
		}
		active = next
	}
	return figures
}

func scenarioCut(t *testing.T, b backend, cfg Config, lim limits) {
	g := startGroup(t, b, cfg, 3)
	active, _ := g.waitActive(lim.elect)
	time.Sleep(cfg.withDefaults().Beat * 3 / 2)
	tenure := g.rec.current(active.name)
	if n := g.passedChecks(); n == 0 {
		t.Fatalf("%s active, but no Check() passed", active.name)
	}
	cutAt := time.Now()
	active.link.cut()
	next, since := g.waitActive(3*lim.takeover, active.name)
	end := g.rec.end(tenure)
	if end.IsZero() || !end.Before(since) {
		t.Fatalf("%s cut off from Consul: its span ended at %v, %s active at %v", active.name, end, next.name, since)
	}
	t.Logf("%s cut off: deposed itself %v after the cut; %s active %v after the cut, %v after the deposition",
		active.name, end.Sub(cutAt).Round(time.Millisecond), next.name, since.Sub(cutAt).Round(time.Millisecond), since.Sub(end).Round(time.Millisecond))
	if err := active.e.Check(context.Background()); !errors.Is(err, ErrNotActive) {
		t.Errorf("%s: Check() after deposition = %v, want ErrNotActive", active.name, err)
	}
	active.link.heal()
	g.waitRole(active, Standby, lim.takeover)
	h, err := active.e.Holder(context.Background())
	if err != nil || !strings.HasPrefix(h, next.name+" (") {
		t.Errorf("%s healed: Holder() = %q, %v; want %s", active.name, h, err, next.name)
	}
	// It stays a standby.
	time.Sleep(cfg.withDefaults().Lease)
	if who, _ := g.rec.active(); who != next.name {
		t.Errorf("after healing %s: active is %q, want %s", active.name, who, next.name)
	}
}

func scenarioRestart(t *testing.T, b backend, cfg Config, lim limits) {
	g := startGroup(t, b, cfg, 3)
	active, _ := g.waitActive(lim.elect)
	time.Sleep(cfg.withDefaults().Beat * 3 / 2)
	tenure := g.rec.current(active.name)
	restartAt := time.Now()
	b.restart(t)
	// The old holder stops (its session is gone, or its lease runs out
	// while the agent is down); then exactly one is active again.
	deadline := time.Now().Add(lim.elect + lim.takeover)
	for g.rec.end(tenure).IsZero() {
		if time.Now().After(deadline) {
			t.Fatalf("%s still active after Consul restarted", active.name)
		}
		time.Sleep(5 * time.Millisecond)
	}
	next, since := g.waitActiveAfter(lim.elect+lim.takeover, restartAt)
	t.Logf("consul restarted: %s deposed %v later; %s active %v after the restart began",
		active.name, g.rec.end(tenure).Sub(restartAt).Round(time.Millisecond), next.name, since.Sub(restartAt).Round(time.Millisecond))
	if err := next.e.Check(context.Background()); err != nil {
		t.Errorf("%s: Check() after the restart = %v", next.name, err)
	}
	for _, m := range g.members {
		if m != next {
			g.waitRole(m, Standby, lim.elect)
		}
	}
}

func scenarioDestroyed(t *testing.T, b backend, cfg Config, lim limits) {
	g := startGroup(t, b, cfg, 3)
	active, _ := g.waitActive(lim.elect)
	ctx := context.Background()
	session := active.e.snapshot().session
	destroyAt := time.Now()
	b.destroySession(t, session)
	// Its lease still runs locally; the consistent reads see the truth.
	err := active.e.Check(ctx)
	if !errors.Is(err, ErrSessionInvalid) && !errors.Is(err, ErrNotHolder) && !errors.Is(err, ErrNotActive) {
		t.Fatalf("%s: Check() after its session was destroyed = %v, want an error", active.name, err)
	}
	t.Logf("%s: Check() after its session was destroyed: %v", active.name, err)
	// Any manager may win the key, the deposed one too, as a new tenure.
	next, since := g.waitActiveAfter(lim.takeover, destroyAt)
	t.Logf("%s active %v after the destroy", next.name, since.Sub(destroyAt).Round(time.Millisecond))
	if next == active {
		return
	}
	if err := active.e.Check(ctx); !errors.Is(err, ErrNotActive) {
		t.Errorf("%s: Check() once deposed = %v, want ErrNotActive", active.name, err)
	}
}
