package fence

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/node/binlog"
)

// fakeServer is a MySQL/MariaDB server as the fencing statements see it.
type fakeServer struct {
	mu          sync.Mutex
	version     mysqlx.Version
	readOnly    bool
	superRO     bool
	conns       []uint64 // client connections
	killed      []uint64
	lockWaits   int   // SET GLOBAL read_only fails with 1205 this many times
	ignoreRO    bool  // read_only reads back as 0 whatever was set
	setErr      error // SET GLOBAL fails with it
	down        error // Open fails with it
	pos         binlog.Pos
	logs        []mysqlx.BinaryLog
	gtid        string
	stmts       []string
	opens       int
	failQueries error // every statement fails with it (session lost)
}

func mariaDB() mysqlx.Version {
	v, _ := mysqlx.ParseVersion("10.11.6-MariaDB-0+deb12u1-log")
	return v
}

func mySQL80() mysqlx.Version {
	v, _ := mysqlx.ParseVersion("8.0.36")
	return v
}

func (s *fakeServer) Open(_ context.Context, _ mysqlx.Target) (SQLSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down != nil {
		return nil, s.down
	}
	s.opens++
	return &fakeSession{s: s}, nil
}

type fakeSession struct{ s *fakeServer }

func (f *fakeSession) Version(context.Context) (mysqlx.Version, error) { return f.s.version, nil }

func (f *fakeSession) Exec(_ context.Context, stmts ...string) error {
	s := f.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range stmts {
		if s.failQueries != nil {
			return s.failQueries
		}
		s.stmts = append(s.stmts, st)
		switch st {
		case "SET GLOBAL read_only = 1":
			if s.setErr != nil {
				return s.setErr
			}
			if s.lockWaits > 0 {
				s.lockWaits--
				return &mysql.MySQLError{Number: 1205, Message: "Lock wait timeout exceeded"}
			}
			s.readOnly = true
		case "SET GLOBAL super_read_only = 1":
			if s.version.Flavor == mysqlx.MariaDB {
				return &mysql.MySQLError{Number: 1193, Message: "Unknown system variable 'super_read_only'"}
			}
			s.superRO, s.readOnly = true, true
		default:
			return fmt.Errorf("fake: unexpected statement %q", st)
		}
	}
	return nil
}

func (f *fakeSession) Kill(_ context.Context, ids []uint64) error {
	s := f.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.killed = append(s.killed, id)
		s.conns = slices.DeleteFunc(s.conns, func(c uint64) bool { return c == id })
	}
	return nil
}

func (f *fakeSession) Value(_ context.Context, q string) (string, error) {
	s := f.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failQueries != nil {
		return "", s.failQueries
	}
	b := func(v bool) string {
		if v && !s.ignoreRO {
			return "1"
		}
		return "0"
	}
	switch q {
	case clientConnectionsQuery:
		return joinIDs(s.conns), nil
	case "SELECT @@global.read_only":
		return b(s.readOnly), nil
	case "SELECT @@global.super_read_only":
		if s.version.Flavor == mysqlx.MariaDB {
			return "", &mysql.MySQLError{Number: 1193, Message: "Unknown system variable 'super_read_only'"}
		}
		return b(s.superRO), nil
	case "SELECT @@global.read_only AND @@global.super_read_only":
		return b(s.readOnly && s.superRO), nil
	case "SELECT @@global.gtid_binlog_pos", "SELECT @@global.gtid_executed":
		return s.gtid, nil
	}
	return "", fmt.Errorf("fake: unexpected query %q", q)
}

func (f *fakeSession) BinlogPosition(context.Context) (binlog.Pos, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	return f.s.pos, nil
}

func (f *fakeSession) BinaryLogs(context.Context) ([]mysqlx.BinaryLog, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	return f.s.logs, nil
}

func (f *fakeSession) Close() error { return nil }

// set changes the server under the lock.
func (s *fakeServer) set(fn func(s *fakeServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s)
}

func (s *fakeServer) get(fn func(s *fakeServer)) { s.set(fn) }

// connectErr is what mysqlx.Open returns for a failure kind.
func connectErr(f mysqlx.ConnectFailure) error {
	return &mysqlx.ConnectError{Addr: "198.18.7.11:3306", User: "mha", Failure: f, Err: errors.New(f.String())}
}

// fakeHost is the old master's host over SSH.
type fakeHost struct {
	local      *fakeServer // the server as the local client sees it; nil = hung
	inspect    []string    // inspection outputs, one per call (the last repeats)
	inspected  int
	unitStates []string
	// stops are the Stop calls' argv (StopArgv); each returns the next
	// inspection (its proof) and unit state.
	stops   [][]string
	stopErr error
	closed  bool
}

func (h *fakeHost) SQL() SQLSession {
	if h.local == nil {
		return hungSession{}
	}
	return &fakeSession{s: h.local}
}

func (h *fakeHost) Inspect(context.Context, int, string, []int) (Inspection, error) {
	out := h.inspect[min(h.inspected, len(h.inspect)-1)]
	h.inspected++
	return ParseInspection(out)
}

func (h *fakeHost) UnitState(context.Context, string) (string, error) {
	if len(h.unitStates) == 0 {
		return "inactive", nil
	}
	st := h.unitStates[0]
	if len(h.unitStates) > 1 {
		h.unitStates = h.unitStates[1:]
	}
	return st, nil
}

func (h *fakeHost) Stop(ctx context.Context, t Target, port int, pidFile string, wait time.Duration) (Inspection, string, error) {
	h.stops = append(h.stops, StopArgv(t, port, pidFile, wait))
	if h.stopErr != nil {
		return Inspection{}, "", h.stopErr
	}
	in, err := h.Inspect(ctx, port, pidFile, nil)
	state := ""
	if t.Unit != "" {
		state, _ = h.UnitState(ctx, t.Unit)
	}
	return in, state, err
}

func (h *fakeHost) Close() error { h.closed = true; return nil }

type hungSession struct{}

func (hungSession) Version(context.Context) (mysqlx.Version, error) {
	return mysqlx.Version{}, fmt.Errorf("%w: exit status 137", ErrLocalHung)
}
func (hungSession) Exec(context.Context, ...string) error         { return ErrLocalHung }
func (hungSession) Kill(context.Context, []uint64) error          { return ErrLocalHung }
func (hungSession) Value(context.Context, string) (string, error) { return "", ErrLocalHung }
func (hungSession) Close() error                                  { return nil }

type fakeDialer struct {
	host *fakeHost
	err  error
	n    int
}

func (d *fakeDialer) Dial(context.Context) (Host, error) {
	d.n++
	if d.err != nil {
		return nil, d.err
	}
	return d.host, nil
}

func sshDown() error {
	return &sshexec.DialError{Addr: "198.18.7.11:22", User: "root", Kind: sshexec.ErrTimeout, Reason: "no answer within 5s"}
}

func joinLines(lines ...string) string { return strings.Join(lines, "\n") + "\n" }
