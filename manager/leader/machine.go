package leader

import "time"

// machine is the decision part of an Elector: fed with the results of
// requests and the time, it says what to do next and which role this
// manager has. It does no I/O and reads no clock.
type machine struct {
	t timing

	// session is this manager's Consul session, "" when it has none.
	session string
	// renewedAt is when the session was last renewed (or created).
	renewedAt time.Time

	// holding: the key is ours and the lease runs.
	holding bool
	// acquiredAt is when the acquisition's answer arrived.
	acquiredAt time.Time
	// proofAt is the start of the last beat (or acquisition) Consul
	// confirmed; the lease runs until proofAt + Lease.
	proofAt time.Time
	// beatAt is the start of the last beat attempt.
	beatAt time.Time
	// beats counts confirmed beats in this tenure.
	beats uint64

	// key is the key as last read; keySeen is when it was first seen so
	// (the start of the wait for eviction).
	key      keyState
	keyKnown bool
	keySeen  time.Time

	// acquireAt is the start of the last acquisition attempt.
	acquireAt time.Time
	// failed: the last request failed; retryAt is when to try again.
	failed  bool
	retryAt time.Time
	// contacted: some request to Consul has succeeded.
	contacted bool
}

// timing is the part of Config the machine needs.
type timing struct {
	beat, lease, evict, grace, retry, renew time.Duration
}

func timingOf(c Config) timing {
	return timing{beat: c.Beat, lease: c.Lease, evict: c.Evict, grace: c.Grace, retry: c.Retry, renew: c.TTL / 2}
}

// actKind is a request the machine asks for.
type actKind int

const (
	actIdle    actKind = iota // nothing until action.at
	actCreate                 // create a session
	actRenew                  // renew the session (standby)
	actBeat                   // renew the session and extend the key (holder)
	actRead                   // read the key, blocking while it is unchanged
	actAcquire                // acquire the key
	actEvict                  // unlock the key for its holder if it is unchanged
)

func (k actKind) String() string {
	return [...]string{"idle", "create session", "renew session", "beat", "read key", "acquire", "evict"}[k]
}

// action is the machine's next step.
type action struct {
	kind actKind
	// at: for actIdle, when to ask again.
	at time.Time
	// index and wait: for actRead, block while the key's index is index,
	// for at most wait (0: answer at once).
	index uint64
	wait  time.Duration
	// session and modify: for actEvict, the holder's session and the
	// key's ModifyIndex that must both be unchanged.
	session string
	modify  uint64
}

// result is what a request brought back.
type result struct {
	kind       actKind
	start, end time.Time
	err        error
	// ok: renew, beat: the session is valid (and, beat, the key held);
	// acquire: acquired; evict: the transaction went through.
	ok bool
	// gone: renew, beat: Consul does not know the session.
	gone bool
	// session: create: the new session's ID; evict: the evicted one.
	session string
	// key: read: the key.
	key keyState
}

// keyState is the key as read.
type keyState struct {
	Exists bool
	// Session holds the lock, "" for nobody.
	Session string
	Value   []byte
	// ModifyIndex changes on every write of the key; Index is the
	// blocking-query index to wait on.
	ModifyIndex, Index uint64
}

func (k keyState) sameAs(o keyState) bool {
	return k.Exists == o.Exists && k.Session == o.Session && k.ModifyIndex == o.ModifyIndex
}

// expire drops a lease that ran out.
func (m *machine) expire(now time.Time) {
	if m.holding && !now.Before(m.proofAt.Add(m.t.lease)) {
		m.holding, m.beats = false, 0
		// The key as read before the tenure tells nothing now.
		m.keyKnown = false
	}
}

// activeFrom is when the current tenure may start acting.
func (m *machine) activeFrom() time.Time { return m.acquiredAt.Add(m.t.lease + m.t.grace) }

// deadline is when the lease runs out.
func (m *machine) deadline() time.Time { return m.proofAt.Add(m.t.lease) }

// role is this manager's role at now (after expire).
func (m *machine) role(now time.Time) Role {
	switch {
	case m.holding && !now.Before(m.activeFrom()) && now.Before(m.deadline()):
		return Active
	case m.holding:
		return Standby
	case m.failed || !m.contacted:
		return Unknown
	default:
		return Standby
	}
}

// wake is the next instant after now at which role may change without a
// request; zero when none.
func (m *machine) wake(now time.Time) time.Time {
	if !m.holding {
		return time.Time{}
	}
	if af := m.activeFrom(); now.Before(af) && af.Before(m.deadline()) {
		return af
	}
	return m.deadline()
}

// next says what to do at now.
func (m *machine) next(now time.Time) action {
	m.expire(now)
	if m.holding {
		if due := m.beatAt.Add(m.t.beat); now.Before(due) {
			return action{kind: actIdle, at: due}
		}
		return action{kind: actBeat}
	}
	if m.failed && now.Before(m.retryAt) {
		return action{kind: actIdle, at: m.retryAt}
	}
	if m.session == "" {
		return action{kind: actCreate}
	}
	renewDue := m.renewedAt.Add(m.t.renew)
	if !now.Before(renewDue) {
		return action{kind: actRenew}
	}
	if !m.keyKnown {
		return action{kind: actRead}
	}
	until := renewDue
	switch {
	case m.key.Session == "" || m.key.Session == m.session:
		// Free, or still ours from a tenure whose lease ran out: acquire
		// (again), unless refused lately: then wait for a change.
		if due := m.acquireAt.Add(m.t.retry); !m.acquireAt.IsZero() && now.Before(due) {
			until = earliest(until, due)
			break
		}
		return action{kind: actAcquire}
	default:
		due := m.keySeen.Add(m.t.evict)
		if !now.Before(due) {
			return action{kind: actEvict, session: m.key.Session, modify: m.key.ModifyIndex}
		}
		until = earliest(until, due)
	}
	return action{kind: actRead, index: m.key.Index, wait: until.Sub(now)}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// apply takes in a request's result.
func (m *machine) apply(r result) {
	// A lease that ran out while the request was on its way stays out.
	m.expire(r.end)
	if r.err != nil {
		m.failed, m.retryAt = true, r.end.Add(m.t.retry)
		switch r.kind {
		case actBeat:
			m.beatAt = r.start
		case actAcquire:
			m.acquireAt = r.start
		case actRead, actEvict:
			m.keyKnown = false
		}
		return
	}
	m.failed, m.contacted = false, true
	switch r.kind {
	case actCreate:
		m.session, m.renewedAt = r.session, r.end
		m.keyKnown = false
		m.acquireAt = time.Time{}
	case actRenew:
		if r.gone {
			m.lose()
			return
		}
		m.renewedAt = r.end
	case actBeat:
		m.beatAt = r.start
		switch {
		case r.gone:
			m.lose()
		case !r.ok:
			// Someone else holds the key: deposed now.
			m.holding, m.beats, m.keyKnown = false, 0, false
		default:
			m.proofAt, m.renewedAt = r.start, r.end
			m.beats++
		}
	case actAcquire:
		m.acquireAt = r.start
		if r.ok {
			m.holding = true
			m.acquiredAt, m.proofAt, m.beatAt = r.end, r.start, r.start
			m.beats, m.keyKnown = 0, false
		}
	case actRead:
		if !m.keyKnown || !m.key.sameAs(r.key) {
			m.keySeen = r.end
		}
		m.key, m.keyKnown = r.key, true
	case actEvict:
		m.keyKnown = false
	}
}

// lose forgets a session Consul no longer knows.
func (m *machine) lose() {
	m.session = ""
	m.holding, m.beats, m.keyKnown = false, 0, false
}
