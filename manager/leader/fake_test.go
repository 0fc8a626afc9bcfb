package leader

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// fakeConsul is an in-memory Consul for one key: sessions, the lock with
// lock-delay, blocking reads, and a restart that loses everything.
type fakeConsul struct {
	mu       sync.Mutex
	changed  chan struct{} // closed and replaced at every write of the key
	index    uint64
	next     int
	sessions map[string]time.Duration // ID -> lock-delay
	key      keyState
	delayTil time.Time
}

func newFakeConsul() *fakeConsul {
	return &fakeConsul{changed: make(chan struct{}), index: 1, sessions: map[string]time.Duration{}}
}

// write bumps the index after a change of the key; c.mu is held.
func (c *fakeConsul) write() {
	c.index++
	c.key.ModifyIndex = c.index
	close(c.changed)
	c.changed = make(chan struct{})
}

// restart loses every session and the key, as a -dev agent does; the
// index starts over.
func (c *fakeConsul) restart() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sessions, c.key, c.delayTil, c.index = map[string]time.Duration{}, keyState{}, time.Time{}, 1
	close(c.changed)
	c.changed = make(chan struct{})
}

// invalidate ends a session; c.mu is held.
func (c *fakeConsul) invalidate(id string) {
	delay, ok := c.sessions[id]
	if !ok {
		return
	}
	delete(c.sessions, id)
	if c.key.Session == id {
		c.key.Session = ""
		c.delayTil = time.Now().Add(delay)
		c.write()
	}
}

// destroy is an operator destroying a session.
func (c *fakeConsul) destroy(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.invalidate(id)
}

// Link modes of a fakeClient.
const (
	linkUp        = iota
	linkRefused   // every request fails at once
	linkBlackhole // every request hangs until its timeout
)

// fakeClient is one manager's connection to a fakeConsul.
type fakeClient struct {
	c         *fakeConsul
	lockDelay time.Duration
	mode      atomic.Int32
}

var errRefused = errors.New("dial tcp 127.0.0.1:8500: connect: connection refused")

func (f *fakeClient) gate(ctx context.Context, timeout time.Duration) error {
	switch f.mode.Load() {
	case linkRefused:
		return errRefused
	case linkBlackhole:
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (f *fakeClient) createSession(ctx context.Context, name string, timeout time.Duration) (string, error) {
	if err := f.gate(ctx, timeout); err != nil {
		return "", err
	}
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	f.c.next++
	id := "session-" + strconv.Itoa(f.c.next)
	f.c.sessions[id] = f.lockDelay
	return id, nil
}

func (f *fakeClient) renewSession(ctx context.Context, id string, timeout time.Duration) (bool, error) {
	if err := f.gate(ctx, timeout); err != nil {
		return false, err
	}
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	_, ok := f.c.sessions[id]
	return ok, nil
}

func (f *fakeClient) destroySession(ctx context.Context, id string, timeout time.Duration) error {
	if err := f.gate(ctx, timeout); err != nil {
		return err
	}
	f.c.destroy(id)
	return nil
}

func (f *fakeClient) sessionValid(ctx context.Context, id string, timeout time.Duration) (bool, error) {
	return f.renewSession(ctx, id, timeout)
}

func (f *fakeClient) acquire(ctx context.Context, id string, value []byte, timeout time.Duration) (bool, error) {
	if err := f.gate(ctx, timeout); err != nil {
		return false, err
	}
	c := f.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.sessions[id]; !ok {
		return false, errors.New("Unexpected response code: 500 (invalid session)")
	}
	switch {
	case c.key.Session != "" && c.key.Session != id:
		return false, nil
	case c.key.Session == "" && time.Now().Before(c.delayTil):
		return false, nil
	}
	c.key.Exists, c.key.Session, c.key.Value = true, id, value
	c.write()
	return true, nil
}

func (f *fakeClient) extend(ctx context.Context, id string, value []byte, timeout time.Duration) (bool, error) {
	if err := f.gate(ctx, timeout); err != nil {
		return false, err
	}
	c := f.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.sessions[id]; !ok || c.key.Session != id {
		return false, nil
	}
	c.key.Value = value
	c.write()
	return true, nil
}

func (f *fakeClient) release(ctx context.Context, id string, timeout time.Duration) error {
	if err := f.gate(ctx, timeout); err != nil {
		return err
	}
	c := f.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.key.Session == id {
		c.key.Session = ""
		c.write()
	}
	return nil
}

func (f *fakeClient) read(ctx context.Context, o readOpts) (keyState, error) {
	if err := f.gate(ctx, o.timeout); err != nil {
		return keyState{}, err
	}
	c := f.c
	ctx, cancel := context.WithTimeout(ctx, o.timeout+o.wait)
	defer cancel()
	timer := time.NewTimer(o.wait)
	defer timer.Stop()
	for {
		c.mu.Lock()
		k, changed := c.key, c.changed
		k.Index = c.index
		c.mu.Unlock()
		if o.wait == 0 || k.Index != o.index {
			return k, nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return k, nil
		case <-ctx.Done():
			return keyState{}, ctx.Err()
		}
	}
}

func (f *fakeClient) evict(ctx context.Context, id string, modify uint64, timeout time.Duration) (bool, error) {
	if err := f.gate(ctx, timeout); err != nil {
		return false, err
	}
	c := f.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.key.ModifyIndex != modify || c.key.Session != id {
		return false, nil
	}
	c.key.Session = ""
	c.write()
	return true, nil
}
