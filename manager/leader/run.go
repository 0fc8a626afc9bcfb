package leader

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Run takes part in the election until ctx ends. onRole (may be nil) is
// called from Run's goroutine at every change of role, the first time when
// the role leaves Unknown, and must return quickly: it tells the daemon to
// start or stop acting. Losing Consul makes the role Unknown (or Standby)
// at the end of the lease at the latest, whatever the requests do.
//
// When ctx ends, Run reports Standby if it was Active, releases the key and
// destroys its session (best effort, bounded by Timeout), and returns nil.
// A process killed instead leaves both to eviction and the session TTL.
func (e *Elector) Run(ctx context.Context, onRole func(Role)) error {
	lp := &loop{e: e, m: &machine{t: timingOf(e.cfg)}, onRole: onRole,
		log: e.cfg.Logger.With("cluster", e.cfg.App, "key", e.cfg.Key(), "name", e.cfg.Name)}
	return lp.run(ctx)
}

// loop is one Run: the machine and the requests it asks for, one at a
// time, each in a goroutine so that role changes fire on time while a
// request hangs.
type loop struct {
	e      *Elector
	m      *machine
	onRole func(Role)
	log    *slog.Logger

	role  Role
	since time.Time // wall-clock start of the current tenure, for the value
	// failing is the request kind whose failure was logged, to log a
	// streak of failures once.
	failing actKind
}

func (lp *loop) run(ctx context.Context) error {
	results := make(chan result, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	busy := false
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		var idleUntil time.Time
		if busy {
			lp.m.expire(now)
		} else {
			act := lp.m.next(now)
			if act.kind == actIdle {
				idleUntil = act.at
			} else {
				busy = true
				req := lp.request(act)
				wg.Go(func() { results <- lp.e.do(ctx, req) })
			}
		}
		lp.publish(now)
		wake := lp.m.wake(now)
		if wake.IsZero() || (!idleUntil.IsZero() && idleUntil.Before(wake)) {
			wake = idleUntil
		}
		d := time.Hour
		if !wake.IsZero() {
			d = max(wake.Sub(now), 0)
		}
		timer.Reset(d)
		select {
		case <-ctx.Done():
			wg.Wait()
			lp.stepDown(ctx)
			return nil
		case r := <-results:
			busy = false
			lp.logResult(r)
			lp.m.apply(r)
		case <-timer.C:
		}
	}
}

// request is an action with what the store needs for it.
type request struct {
	action
	session string
	value   []byte
}

func (lp *loop) request(a action) request {
	r := request{action: a, session: lp.m.session}
	switch a.kind {
	case actAcquire:
		lp.since = time.Now()
		r.value = lp.value(0)
	case actBeat:
		r.value = lp.value(lp.m.beats + 1)
	}
	return r
}

func (lp *loop) value(beat uint64) []byte {
	b, _ := json.Marshal(HolderInfo{Name: lp.e.cfg.Name, PID: os.Getpid(), Version: lp.e.cfg.Version, Since: lp.since.UTC(), Beat: beat})
	return b
}

// do carries out one request.
func (e *Elector) do(ctx context.Context, req request) result {
	t := e.cfg.Timeout
	r := result{kind: req.kind, start: time.Now()}
	switch req.kind {
	case actCreate:
		r.session, r.err = e.store.createSession(ctx, "gomha "+e.cfg.App+" "+e.cfg.Name, t)
	case actRenew:
		r.ok, r.err = e.store.renewSession(ctx, req.session, t)
		r.gone = r.err == nil && !r.ok
	case actBeat:
		r.ok, r.err = e.store.renewSession(ctx, req.session, t)
		r.gone = r.err == nil && !r.ok
		if r.ok {
			r.ok, r.err = e.store.extend(ctx, req.session, req.value, t)
		}
	case actAcquire:
		r.ok, r.err = e.store.acquire(ctx, req.session, req.value, t)
	case actRead:
		r.key, r.err = e.store.read(ctx, readOpts{index: req.index, wait: req.wait, timeout: t})
	case actEvict:
		r.session = req.action.session
		r.ok, r.err = e.store.evict(ctx, req.action.session, req.modify, t)
	}
	r.end = time.Now()
	return r
}

// publish updates what Check and Role see, and reports a role change.
func (lp *loop) publish(now time.Time) {
	m := lp.m
	r := m.role(now)
	v := view{session: m.session, holding: m.holding, role: r}
	if m.holding {
		v.activeFrom, v.deadline = m.activeFrom(), m.deadline()
	}
	lp.e.mu.Lock()
	lp.e.view = v
	lp.e.mu.Unlock()
	if r == lp.role {
		return
	}
	lp.log.Info("leader: role changed", "from", lp.role.String(), "to", r.String(), "session", m.session)
	lp.role = r
	if lp.onRole != nil {
		lp.onRole(r)
	}
}

func (lp *loop) logResult(r result) {
	switch {
	case r.err != nil && lp.failing != r.kind:
		lp.failing = r.kind
		lp.log.Warn("leader: consul request failed", "step", r.kind.String(), "err", r.err)
	case r.err == nil && lp.failing != actIdle:
		lp.failing = actIdle
		lp.log.Info("leader: consul answers again", "step", r.kind.String())
	}
	switch {
	case r.gone:
		lp.log.Warn("leader: consul lost our session", "session", lp.m.session)
	case r.kind == actBeat && r.err == nil && !r.ok:
		lp.log.Warn("leader: the key is held by another session", "session", lp.m.session)
	case r.kind == actEvict && r.ok:
		lp.log.Warn("leader: unlocked the key for its holder, it stood still", "holder_session", r.session, "evict_after", lp.e.cfg.Evict)
	}
}

// stepDown ends the tenure when Run is cancelled: stop acting first, then
// release the key and destroy the session.
func (lp *loop) stepDown(ctx context.Context) {
	m := lp.m
	session, holding := m.session, m.holding
	m.holding, m.session = false, ""
	lp.e.mu.Lock()
	lp.e.view = view{role: Standby}
	lp.e.mu.Unlock()
	if lp.role == Active {
		lp.log.Info("leader: role changed", "from", lp.role.String(), "to", Standby.String(), "session", session)
		lp.role = Standby
		if lp.onRole != nil {
			lp.onRole(Standby)
		}
	}
	if session == "" {
		return
	}
	ctx = context.WithoutCancel(ctx)
	t := lp.e.cfg.Timeout
	if holding {
		if err := lp.e.store.release(ctx, session, t); err != nil {
			lp.log.Warn("leader: release at shutdown", "err", err)
		}
	}
	if err := lp.e.store.destroySession(ctx, session, t); err != nil {
		lp.log.Warn("leader: destroy session at shutdown", "err", err)
	}
}
