package sshexec

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// PoolCheckTimeout bounds the liveness check of a warm connection before it
// is handed out (a keepalive@openssh.com round trip, a few milliseconds on
// a LAN): a connection that does not answer within it is closed and a new
// one dialled.
const PoolCheckTimeout = 500 * time.Millisecond

// sharedPool is the process's pool once EnablePool was called.
var sharedPool atomic.Pointer[Pool]

// Pool keeps one authenticated connection per target warm, so that the
// commands of a failover open a session on a live connection instead of
// paying a TCP connect, a key exchange and an authentication each. Every
// connection is checked with a keepalive request before it is handed out
// and at every Refresh; one that does not answer is closed (which ends the
// commands still waiting on it) and dialled again on the next use.
type Pool struct {
	mu      sync.Mutex
	entries map[string]*entry
	closed  bool
}

type entry struct {
	// lock is held while the connection is checked or dialled: a channel,
	// so that a caller waiting behind a dial (the background Refresh's,
	// into a dead host's connect timeout) gives up when its context ends.
	lock   chan struct{}
	target Target
	c      *Client // nil until dialled, or after it died
	// failedAt and err are the last failed dial's end and error: a caller
	// that waited for that dial gets its error instead of dialling again.
	failedAt time.Time
	err      error
}

// EnablePool makes Dial share one warm connection per target in this
// process and returns the pool (for Warm and Refresh). Calling it again
// returns the same pool.
func EnablePool() *Pool {
	for {
		if p := sharedPool.Load(); p != nil {
			return p
		}
		p := &Pool{entries: map[string]*entry{}}
		if sharedPool.CompareAndSwap(nil, p) {
			return p
		}
	}
}

// DisablePool closes the shared pool's connections; Dial dials afresh
// again.
func DisablePool() {
	if p := sharedPool.Swap(nil); p != nil {
		p.Close()
	}
}

// poolKey identifies a target's connection: the resolved login and address
// and the options that shape authentication and host key checking.
func poolKey(s settings) string {
	return fmt.Sprintf("%s@%s|%+v", s.user, s.addr, s.opts)
}

func (p *Pool) entry(t Target) (*entry, error) {
	s, err := resolve(t)
	if err != nil {
		return nil, err
	}
	k := poolKey(s)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("%w: pool closed", ErrConnectionLost)
	}
	e := p.entries[k]
	if e == nil {
		e = &entry{target: t, lock: make(chan struct{}, 1)}
		p.entries[k] = e
	}
	return e, nil
}

// get returns a view of the warm connection to t, dialling it when there
// is none or the one there does not answer its check.
func (p *Pool) get(ctx context.Context, t Target) (*Client, error) {
	e, err := p.entry(t)
	if err != nil {
		return dial(ctx, t)
	}
	asked := time.Now()
	select {
	case e.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, &DialError{Addr: t.Host, User: t.User, Reason: "gave up waiting for another dial to the same host", Err: ctx.Err()}
	}
	defer func() { <-e.lock }()
	if e.c == nil && e.err != nil && e.failedAt.After(asked) {
		return nil, e.err
	}
	if e.c != nil && !alive(e.c, PoolCheckTimeout) {
		// Dropped from the pool, not closed while views use it: one busy
		// streaming (a relay-log diff) may answer late, and its views'
		// commands must not be cut. It is closed with its last view (a
		// really dead one ends those commands by its own keepalive).
		drop(e.c)
		e.c = nil
	}
	if e.c == nil {
		c, err := dial(ctx, t)
		if err != nil {
			e.failedAt, e.err = time.Now(), err
			return nil, err
		}
		e.c, e.err = c, nil
	}
	e.c.mu.Lock()
	e.c.views++
	e.c.mu.Unlock()
	return &Client{conn: e.c.conn, name: e.c.name, done: make(chan struct{}), shared: true, base: e.c}, nil
}

// drop gives up on the pool's client c: it is closed now when no view uses
// it, else when the last view is closed.
func drop(c *Client) {
	c.mu.Lock()
	c.dropped = true
	idle := c.views == 0
	c.mu.Unlock()
	if idle {
		_ = c.Close()
	}
}

// alive sends a keepalive request on c and reports whether the answer came
// within timeout.
func alive(c *Client, timeout time.Duration) bool {
	ch := make(chan error, 1)
	if !c.spawn(func() {
		_, _, err := c.conn.SendRequest("keepalive@openssh.com", true, nil)
		ch <- err
	}) {
		return false
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-ch:
		return err == nil
	case <-t.C:
		return false
	}
}

// Warm dials every target that has no live connection yet, in parallel,
// and returns the errors by target host (nil when all are warm). A target
// that cannot be reached is dialled again at its next use.
func (p *Pool) Warm(ctx context.Context, targets []Target) map[string]error {
	var (
		mu   sync.Mutex
		errs map[string]error
		wg   sync.WaitGroup
	)
	for _, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := p.get(ctx, t)
			if err == nil {
				_ = c.Close()
				return
			}
			mu.Lock()
			if errs == nil {
				errs = map[string]error{}
			}
			errs[t.Host] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	return errs
}

// Refresh checks every warm connection and dials again, in the
// background of the caller's loop, the ones that died: call it every
// ping_interval. It returns the hosts whose connection could not be made
// live again.
func (p *Pool) Refresh(ctx context.Context) map[string]error {
	p.mu.Lock()
	var targets []Target
	for _, e := range p.entries {
		targets = append(targets, e.target)
	}
	p.mu.Unlock()
	return p.Warm(ctx, targets)
}

// Close closes every connection of the pool.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	entries := p.entries
	p.entries = map[string]*entry{}
	p.mu.Unlock()
	for _, e := range entries {
		e.lock <- struct{}{}
		if e.c != nil {
			_ = e.c.Close()
			e.c = nil
		}
		<-e.lock
	}
}
