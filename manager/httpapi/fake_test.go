package httpapi

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/gomha/gomha/manager/config"
)

// fakeSource is a Source over fixed statuses; block, when set, holds
// Clusters until it is closed (graceful shutdown tests).
type fakeSource struct {
	mu       sync.Mutex
	statuses map[string]ClusterStatus
	notReady string
	block    chan struct{}
	entered  chan struct{}
}

func (f *fakeSource) Clusters() []ClusterStatus {
	if f.block != nil {
		close(f.entered)
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ClusterStatus
	for _, st := range f.statuses {
		out = append(out, st)
	}
	return out
}

func (f *fakeSource) Cluster(app string) (ClusterStatus, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.statuses[app]
	return st, ok
}

func (f *fakeSource) Ready() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.notReady != "" {
		return errors.New(f.notReady)
	}
	return nil
}

// Passwords the test configurations hold; no answer may contain them.
const (
	testPassword     = "Pw-9f2c41-monitor"
	testReplPassword = "Pw-77ab03-repl"
)

// testConfig is a resolved configuration as config.Load returns it, with
// passwords in [server default] and in a block.
func testConfig(app string) *config.Config {
	def := config.Params{User: "mha", Password: testPassword, ReplUser: "repl", ReplPassword: testReplPassword, Port: 3306}
	srv := func(block, host string, port int) config.Server {
		p := def
		p.Hostname, p.IP, p.Port = host, host, port
		return config.Server{Block: block, Params: p}
	}
	return &config.Config{
		File:    "/etc/mha/" + app + ".cnf",
		App:     app,
		Default: def,
		Servers: []config.Server{srv("server1", "db1", 3306), srv("server2", "db2", 3306), srv("server3", "db3", 3307)},
	}
}

// statusOf builds a status the way the daemon would: from the
// configuration's servers (the first is the master) and what the monitor
// saw. lastError is free text from a server, here carrying the password
// to check that it is scrubbed.
func statusOf(cfg *config.Config, lastError string) ClusterStatus {
	m := cfg.Servers[0]
	st := ClusterStatus{
		App:  cfg.App,
		Conf: cfg.File,
		Role: RoleStandby,
		// A manager name, not a secret: it is served as is.
		ActiveManager: "manager2:4242",
		Master:        Master{Host: m.Hostname, Port: m.Port, Alive: true},
		Detection: Detection{
			State:     "PING_OK",
			Since:     time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC),
			LastError: lastError,
		},
	}
	lag := int64(2)
	for i, s := range cfg.Servers[1:] {
		r := Replica{Host: s.Hostname, Port: s.Port, IORunning: true, SQLRunning: true, SecondsBehind: &lag}
		if i == 1 {
			r.SQLRunning, r.SecondsBehind = false, nil
			r.Error = "Error 1045: Access denied for user '" + s.ReplUser + "' (password " + s.ReplPassword + ")"
		}
		st.Replicas = append(st.Replicas, r)
	}
	st.LastEvent = &Event{
		Kind:       EventFailover,
		Result:     ResultPartial,
		StartedAt:  time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC),
		FinishedAt: time.Date(2026, 12, 3, 16, 0, 9, 500_000_000, time.UTC),
		Phases:     []PhaseTiming{Phase("Phase 1: Configuration Check", 120*time.Millisecond), Phase("Phase 3: Master Recovery", 4200400*time.Microsecond)},
		NewMaster:  "db2:" + strconv.Itoa(cfg.Servers[1].Port),
		EndPoint:   "mysql-bin.000012:4711",
		Lost:       "events after mysql-bin.000012:4711 on db1 (host unreachable)",
	}
	return st
}
