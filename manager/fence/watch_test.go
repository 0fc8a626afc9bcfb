package fence

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/node/binlog"
)

func TestErrantBytes(t *testing.T) {
	pos := func(f string, o uint64) binlog.Pos { return binlog.Pos{File: f, Offset: o} }
	logs := []mysqlx.BinaryLog{{File: "mysql-bin.000001", Size: 5000}, {File: "mysql-bin.000002", Size: 800}, {File: "mysql-bin.000003", Size: 400}}
	for _, tc := range []struct {
		name       string
		since, now binlog.Pos
		logs       []mysqlx.BinaryLog
		want       uint64
		err        string
	}{
		{"nothing written", pos("mysql-bin.000001", 1234), pos("mysql-bin.000001", 1234), nil, 0, ""},
		{"same file", pos("mysql-bin.000001", 1234), pos("mysql-bin.000001", 2468), nil, 1234, ""},
		{"across files", pos("mysql-bin.000001", 1000), pos("mysql-bin.000003", 300), logs, 4000 + 800 + 300, ""},
		{"next file", pos("mysql-bin.000002", 800), pos("mysql-bin.000003", 256), logs, 256, ""},
		{"before the end point (reset?)", pos("mysql-bin.000002", 800), pos("mysql-bin.000001", 4), logs, 0, ""},
		{"end point purged", pos("mysql-bin.000000", 100), pos("mysql-bin.000003", 300), logs, 0, "purged"},
		{"now not listed", pos("mysql-bin.000001", 100), pos("mysql-bin.000009", 300), logs, 0, "not among"},
		{"end point beyond its file", pos("mysql-bin.000001", 9000), pos("mysql-bin.000002", 300), logs, 0, "shorter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ErrantBytes(tc.since, tc.now, tc.logs)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			if got != tc.want {
				t.Errorf("ErrantBytes = %d, want %d", got, tc.want)
			}
		})
	}
	e := Errant{Host: "db1", Since: pos("mysql-bin.000001", 1234), Now: pos("mysql-bin.000001", 2468), Bytes: 1234}
	if got, want := e.String(), "db1 took 1234 bytes of binlog after mysql-bin.000001:1234 (now mysql-bin.000001:2468): transactions there are on no survivor"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}

// events collects Watch's reports.
type events struct {
	mu      sync.Mutex
	fenced  []Event
	returns int
	ch      chan struct{}
}

func (e *events) onFenced(ev Event) {
	e.mu.Lock()
	e.fenced = append(e.fenced, ev)
	e.mu.Unlock()
	e.ch <- struct{}{}
}

func (e *events) onReturn(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.returns++
	if e.returns == 1 {
		return errors.New("ssh: no route to host") // retried at the next probe
	}
	return nil
}

func (e *events) wait(t *testing.T, what string) Event {
	t.Helper()
	select {
	case <-e.ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("no fencing event: %s", what)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fenced[len(e.fenced)-1]
}

func TestWatch(t *testing.T) {
	const interval = 50 * time.Millisecond
	since := binlog.Pos{File: "mysql-bin.000001", Offset: 1234}
	srv := &fakeServer{version: mariaDB(), down: connectErr(mysqlx.FailureTimeout),
		pos: binlog.Pos{File: "mysql-bin.000001", Offset: 1234}, gtid: "0-1-40"}
	ev := &events{ch: make(chan struct{}, 10)}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, WatchOptions{
			Fence:    Options{Name: "db1", MySQL: mysqlx.Target{Addr: "198.18.7.11:3306", User: "mha"}, MySQLDialer: srv},
			Interval: interval, Since: since, SinceGTID: "0-1-40",
			OnReturn: ev.onReturn, OnFenced: ev.onFenced,
		})
	}()

	// Away for a while: nothing happens.
	time.Sleep(5 * interval)
	ev.mu.Lock()
	n := len(ev.fenced)
	ev.mu.Unlock()
	if n != 0 {
		t.Fatalf("fenced while away: %+v", ev.fenced)
	}

	// It comes back having written 300 bytes and with a client connected:
	// fenced at the next probe, the writes reported.
	back := time.Now()
	srv.set(func(s *fakeServer) {
		s.down = nil
		s.pos.Offset = 1534
		s.gtid = "0-1-42"
		s.conns = []uint64{11}
	})
	e := ev.wait(t, "return")
	if took := e.Fenced.Sub(back); took > 2*interval+100*time.Millisecond {
		t.Errorf("fenced %s after its return, want within about one interval (%s)", took, interval)
	}
	srv.get(func(s *fakeServer) {
		if !s.readOnly || len(s.killed) != 1 {
			t.Errorf("read_only=%v killed=%v", s.readOnly, s.killed)
		}
	})
	if e.Flipped || e.Errant.Bytes != 300 || e.Errant.NowGTID != "0-1-42" || e.Errant.Err != nil {
		t.Errorf("event %+v", e)
	}
	if !strings.Contains(e.Errant.String(), "db1 took 300 bytes of binlog after mysql-bin.000001:1234") {
		t.Errorf("report %q", e.Errant)
	}
	// OnReturn failed once, then was retried.
	deadline := time.Now().Add(2 * time.Second)
	for {
		ev.mu.Lock()
		r := ev.returns
		ev.mu.Unlock()
		if r == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("OnReturn called %d times, want 2 (one failure, one retry)", r)
		}
		time.Sleep(interval)
	}

	// Someone sets read_only=0: fenced again.
	srv.set(func(s *fakeServer) { s.readOnly = false })
	e = ev.wait(t, "flip")
	if !e.Flipped {
		t.Errorf("flip event %+v", e)
	}
	srv.get(func(s *fakeServer) {
		if !s.readOnly {
			t.Error("read_only not set again")
		}
	})

	// Its session breaks (link down again), then it returns: a new return.
	srv.set(func(s *fakeServer) { s.failQueries = mysqlx.ErrSessionLost; s.down = connectErr(mysqlx.FailureNoRoute) })
	time.Sleep(4 * interval)
	srv.set(func(s *fakeServer) { s.failQueries, s.down, s.readOnly = nil, nil, false })
	e = ev.wait(t, "second return")
	if e.Flipped {
		t.Errorf("second return reported as a flip: %+v", e)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Watch = %v, want nil after cancel", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Watch did not return after cancel")
	}
}

// TestWatchSlowOnReturn: a hook that takes its time does not hold up the
// probes: a flip back to writable meanwhile is fenced at once.
func TestWatchSlowOnReturn(t *testing.T) {
	const interval = 50 * time.Millisecond
	srv := &fakeServer{version: mySQL80()}
	ev := &events{ch: make(chan struct{}, 10)}
	release := make(chan struct{})
	var calls sync.WaitGroup
	calls.Add(1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, WatchOptions{
			Fence:    Options{Name: "db1", MySQL: mysqlx.Target{Addr: "198.18.7.11:3306", User: "mha"}, MySQLDialer: srv},
			Interval: interval,
			OnReturn: func(ctx context.Context) error {
				defer calls.Done()
				select {
				case <-release:
				case <-ctx.Done():
				}
				return nil
			},
			OnFenced: ev.onFenced,
		})
	}()
	if e := ev.wait(t, "return"); e.Flipped {
		t.Fatalf("first event %+v", e)
	}
	srv.set(func(s *fakeServer) { s.readOnly, s.superRO = false, false })
	flip := time.Now()
	if e := ev.wait(t, "flip while OnReturn runs"); !e.Flipped || e.Fenced.Sub(flip) > 4*interval {
		t.Errorf("flip event %+v, %s after the flip", e, e.Fenced.Sub(flip))
	}
	close(release)
	calls.Wait() // exactly one call: a second would panic on Done
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
