package leader

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"
)

// store is the Consul side of one cluster's lock: one key, sessions that
// may hold it. Every method bounds itself by its timeout.
type store interface {
	// createSession creates a session named name and returns its ID.
	createSession(ctx context.Context, name string, timeout time.Duration) (string, error)
	// renewSession renews a session; false when Consul does not know it.
	renewSession(ctx context.Context, id string, timeout time.Duration) (bool, error)
	// destroySession destroys a session (releasing what it holds).
	destroySession(ctx context.Context, id string, timeout time.Duration) error
	// sessionValid says whether Consul knows the session (consistent read).
	sessionValid(ctx context.Context, id string, timeout time.Duration) (bool, error)
	// acquire locks the key for session id and writes value; false when
	// another session holds it or lock-delay refuses it. Acquiring a key
	// the session holds rewrites its value.
	acquire(ctx context.Context, id string, value []byte, timeout time.Duration) (bool, error)
	// release unlocks the key if session id holds it.
	release(ctx context.Context, id string, timeout time.Duration) error
	// read reads the key.
	read(ctx context.Context, o readOpts) (keyState, error)
	// extend rewrites the key's value if session id holds it, in one
	// transaction; false when it does not (it never takes a free key).
	extend(ctx context.Context, id string, value []byte, timeout time.Duration) (bool, error)
	// evict unlocks the key for session id (which must hold it) if the
	// key's ModifyIndex is still modify, in one transaction; false when
	// either changed. The session stays valid.
	evict(ctx context.Context, id string, modify uint64, timeout time.Duration) (bool, error)
}

// readOpts says how to read the key.
type readOpts struct {
	// index and wait make a blocking read (wait 0: answer at once).
	index uint64
	wait  time.Duration
	// consistent asks the Consul leader to confirm it still leads.
	consistent bool
	timeout    time.Duration
}

// consulStore is store on the official client.
type consulStore struct {
	c         *api.Client
	key       string
	ttl       time.Duration
	lockDelay time.Duration
}

func writeOpts(ctx context.Context, timeout time.Duration) (*api.WriteOptions, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return (&api.WriteOptions{}).WithContext(ctx), cancel
}

func (s *consulStore) createSession(ctx context.Context, name string, timeout time.Duration) (string, error) {
	w, cancel := writeOpts(ctx, timeout)
	defer cancel()
	// No health checks: the session ends by TTL, by its holder or by an
	// eviction, nothing else (the package comment's argument does not
	// need it, and the agent's serfHealth would tie it to that agent).
	id, _, err := s.c.Session().CreateNoChecks(&api.SessionEntry{
		Name:      name,
		TTL:       s.ttl.String(),
		Behavior:  api.SessionBehaviorRelease,
		LockDelay: s.lockDelay,
	}, w)
	if err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	return id, nil
}

func (s *consulStore) renewSession(ctx context.Context, id string, timeout time.Duration) (bool, error) {
	w, cancel := writeOpts(ctx, timeout)
	defer cancel()
	e, _, err := s.c.Session().Renew(id, w)
	if err != nil {
		return false, fmt.Errorf("renew session %s: %w", id, err)
	}
	return e != nil, nil
}

func (s *consulStore) destroySession(ctx context.Context, id string, timeout time.Duration) error {
	w, cancel := writeOpts(ctx, timeout)
	defer cancel()
	if _, err := s.c.Session().Destroy(id, w); err != nil {
		return fmt.Errorf("destroy session %s: %w", id, err)
	}
	return nil
}

func (s *consulStore) sessionValid(ctx context.Context, id string, timeout time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	e, _, err := s.c.Session().Info(id, (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
	if err != nil {
		return false, fmt.Errorf("read session %s: %w", id, err)
	}
	return e != nil, nil
}

func (s *consulStore) acquire(ctx context.Context, id string, value []byte, timeout time.Duration) (bool, error) {
	w, cancel := writeOpts(ctx, timeout)
	defer cancel()
	ok, _, err := s.c.KV().Acquire(&api.KVPair{Key: s.key, Value: value, Session: id}, w)
	if err != nil {
		return false, fmt.Errorf("acquire %s for session %s: %w", s.key, id, err)
	}
	return ok, nil
}

func (s *consulStore) release(ctx context.Context, id string, timeout time.Duration) error {
	w, cancel := writeOpts(ctx, timeout)
	defer cancel()
	if _, _, err := s.c.KV().Release(&api.KVPair{Key: s.key, Session: id}, w); err != nil {
		return fmt.Errorf("release %s for session %s: %w", s.key, id, err)
	}
	return nil
}

func (s *consulStore) read(ctx context.Context, o readOpts) (keyState, error) {
	// Consul adds up to wait/16 of jitter to a blocking wait.
	ctx, cancel := context.WithTimeout(ctx, o.timeout+o.wait+o.wait/16)
	defer cancel()
	q := &api.QueryOptions{RequireConsistent: o.consistent}
	if o.wait > 0 {
		q.WaitIndex, q.WaitTime = o.index, o.wait
	}
	p, meta, err := s.c.KV().Get(s.key, q.WithContext(ctx))
	if err != nil {
		return keyState{}, fmt.Errorf("read %s: %w", s.key, err)
	}
	k := keyState{Index: meta.LastIndex}
	if p != nil {
		k.Exists, k.Session, k.Value, k.ModifyIndex = true, p.Session, p.Value, p.ModifyIndex
	}
	return k, nil
}

func (s *consulStore) extend(ctx context.Context, id string, value []byte, timeout time.Duration) (bool, error) {
	ok, err := s.txn(ctx, timeout, api.TxnOps{
		{KV: &api.KVTxnOp{Verb: api.KVCheckSession, Key: s.key, Session: id}},
		{KV: &api.KVTxnOp{Verb: api.KVLock, Key: s.key, Value: value, Session: id}},
	})
	if err != nil {
		return false, fmt.Errorf("extend %s for session %s: %w", s.key, id, err)
	}
	return ok, nil
}

func (s *consulStore) evict(ctx context.Context, id string, modify uint64, timeout time.Duration) (bool, error) {
	ok, err := s.txn(ctx, timeout, api.TxnOps{
		{KV: &api.KVTxnOp{Verb: api.KVCheckIndex, Key: s.key, Index: modify}},
		{KV: &api.KVTxnOp{Verb: api.KVUnlock, Key: s.key, Session: id}},
	})
	if err != nil {
		return false, fmt.Errorf("evict session %s from %s: %w", id, s.key, err)
	}
	return ok, nil
}

// txn runs ops; false when Consul rolled them back (a check failed, or the
// lock or unlock was refused).
func (s *consulStore) txn(ctx context.Context, timeout time.Duration, ops api.TxnOps) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ok, _, _, err := s.c.Txn().Txn(ops, (&api.QueryOptions{}).WithContext(ctx))
	return ok, err
}
