package sshexec

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func (s *testServer) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// dropConns closes the server's side of every connection, as a host whose
// sshd restarted (or whose kernel reset the connections) would.
func (s *testServer) dropConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		_ = c.Close()
	}
}

func withPool(t *testing.T) *Pool {
	t.Helper()
	p := EnablePool()
	t.Cleanup(DisablePool)
	return p
}

func runTrue(t *testing.T, tgt Target) {
	t.Helper()
	c, err := Dial(context.Background(), tgt)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if _, err := c.Run(context.Background(), []string{"true"}); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestPoolSharesOneConnection(t *testing.T) {
	e := newEnv(t)
	tgt := e.target(t, "")
	p := withPool(t)
	if errs := p.Warm(context.Background(), []Target{tgt}); errs != nil {
		t.Fatalf("Warm: %v", errs)
	}
	for range 3 {
		runTrue(t, tgt) // each Close leaves the warm connection open
	}
	if n := e.srv.connCount(); n != 1 {
		t.Errorf("the server saw %d connections for a warm pool, want 1", n)
	}
}

func TestPoolRedialsADeadConnection(t *testing.T) {
	e := newEnv(t)
	tgt := e.target(t, "")
	withPool(t)
	runTrue(t, tgt)
	e.srv.dropConns()
	start := time.Now()
	runTrue(t, tgt) // the check finds it dead: a new connection
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("redial after a dead connection took %s", d)
	}
	if n := e.srv.connCount(); n != 2 {
		t.Errorf("the server saw %d connections, want 2 (the dead one and its replacement)", n)
	}
}

func TestPoolUnansweredCheckRedials(t *testing.T) {
	e := newEnv(t)
	e.srv.noKeepAlive = true // a connection that stopped answering
	tgt := e.target(t, "-o ServerAliveInterval=0")
	withPool(t)
	runTrue(t, tgt)
	start := time.Now()
	runTrue(t, tgt)
	if d := time.Since(start); d < PoolCheckTimeout {
		t.Errorf("second Dial took %s: the unanswered check should have cost its timeout", d)
	}
	if n := e.srv.connCount(); n != 2 {
		t.Errorf("the server saw %d connections, want 2", n)
	}
}

func TestPoolFailedDialIsShared(t *testing.T) {
	withPool(t)
	tgt := Target{Host: "127.0.0.1", Port: closedPort(t), User: "tester", ConnectTimeout: time.Second}
	if _, err := Dial(context.Background(), tgt); err == nil {
		t.Fatal("Dial to a closed port worked")
	}
	// A later caller dials again (the failure is not cached for ever).
	if _, err := Dial(context.Background(), tgt); err == nil {
		t.Fatal("Dial to a closed port worked")
	}
}

// A caller queued behind another dial to the same host (the background
// refresh into a dead host's connect timeout) gives up when its context
// ends, not when that dial does.
func TestPoolWaitHonoursContext(t *testing.T) {
	e := newEnv(t)
	withPool(t)
	addr := silentListener(t)
	host, port, _ := strings.Cut(addr, ":")
	p, _ := strconv.Atoi(port)
	tgt := Target{Host: host, Port: p, User: "tester", Options: e.options(t, ""), ConnectTimeout: 3 * time.Second}
	go func() { _, _ = Dial(context.Background(), tgt) }() // holds the host's dial
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Dial(ctx, tgt)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial = %v, want the caller's deadline", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the waiting Dial took %s, want about its own 200ms", d)
	}
}

// A connection that misses its check while a view still uses it (busy
// streaming a diff) is dropped from the pool but not cut: the view's
// commands go on, and the connection is closed with that last view.
func TestPoolDroppedConnectionOutlivesItsViews(t *testing.T) {
	e := newEnv(t)
	e.srv.noKeepAlive = true
	tgt := e.target(t, "-o ServerAliveInterval=0")
	withPool(t)
	held, err := Dial(context.Background(), tgt)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	runTrue(t, tgt) // misses the check: dropped, a second connection
	if _, err := held.Run(context.Background(), []string{"true"}); err != nil {
		t.Fatalf("the held view's command failed after its connection was dropped: %v", err)
	}
	base := held.base
	base.mu.Lock()
	closed := base.closed
	base.mu.Unlock()
	if closed {
		t.Fatal("the dropped connection was closed while a view still used it")
	}
	_ = held.Close()
	base.mu.Lock()
	closed = base.closed
	base.mu.Unlock()
	if !closed {
		t.Error("the dropped connection stayed open after its last view closed")
	}
}
