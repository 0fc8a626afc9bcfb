package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/detect"
	"github.com/gomha/gomha/manager/failover"
	"github.com/gomha/gomha/manager/journal"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/statefile"
	"github.com/gomha/gomha/manager/topology"
	"github.com/gomha/gomha/node/binlog"
)

// TestStatusBoard follows one cluster's status through what its manager
// learns: the start-up topology, the pings, a confirmation's probes, a
// failover, its end.
func TestStatusBoard(t *testing.T) {
	now := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	b := newStatusBoard("app1", "/etc/gomha/clusters/app1.cnf", nil)
	b.now = func() time.Time { return now }
	if s := b.snapshot(); s.State != StateStopped || s.Role != RoleActive || s.Running {
		t.Fatalf("new board: %+v", s)
	}
	b.running(true, nil)
	b.setState(statefile.InitializingMonitor, "")

	lag := int64(7)
	master := &topology.Node{Server: withPassword("db1"), State: &mysqlx.State{}}
	replica := func(name string, io mysqlx.IOThread, sql bool, lag *int64) *topology.Node {
		st := &mysqlx.State{Replica: &mysqlx.ReplicaStatus{SourceHost: "db1", SourcePort: 3306, IORunning: io, SQLRunning: sql, SecondsBehind: lag}}
		return &topology.Node{Server: withPassword(name), State: st}
	}
	dead := &topology.Node{Server: srv("db5"), Err: errors.New("dial tcp 10.0.0.5:3306: connection refused")}
	b.sawTopology(&topology.Topology{Master: master, Nodes: []*topology.Node{
		master, replica("db2", mysqlx.IOConnected, true, &lag), replica("db3", mysqlx.IOStopped, false, nil), dead}})
	now = now.Add(time.Second)
	b.setState(statefile.PingOK, "db1")
	now = now.Add(time.Second)
	b.pinged()
	b.sawProbes([]detect.ReplicaProbe{{Name: "db2(10.0.0.2:3306)", IO: mysqlx.IOConnecting}, {Name: "db3(10.0.0.3:3306)", SQLErr: "i/o timeout"}})

	t0 := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	want := ClusterStatus{
		App: "app1", Conf: "/etc/gomha/clusters/app1.cnf", Master: "db1:3306",
		Replicas: []ReplicaStatus{
			{Host: "db2", Port: 3306, IORunning: false, SQLRunning: true, SecondsBehind: &lag, SeenAt: t0.Add(2 * time.Second)},
			{Host: "db3", Port: 3306, Error: "i/o timeout", SeenAt: t0.Add(2 * time.Second)},
			{Host: "db5", Port: 3306, Error: "dial tcp 10.0.0.5:3306: connection refused", SeenAt: t0},
		},
		State: "PING_OK", StateSince: t0.Add(time.Second), LastPingOK: t0.Add(2 * time.Second), Running: true, Role: RoleActive,
	}
	if diff := cmp.Diff(want, b.snapshot()); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}

	// A snapshot is a copy.
	s := b.snapshot()
	*s.Replicas[0].SecondsBehind = 99
	s.Replicas[1].Host = "x"
	if got := b.snapshot(); *got.Replicas[0].SecondsBehind != 7 || got.Replicas[1].Host != "db3" {
		t.Errorf("a snapshot shares memory with the board: %+v", got.Replicas)
	}

	res := &failover.Result{Code: failover.ExitPartial, NewMaster: srv("db2"), MasterActivatedAt: t0, Lost: "mysql-bin.000003:1200 onwards",
		EndPoint: binlog.Pos{File: "mysql-bin.000003", Offset: 1200},
		Phases:   []failover.Phase{{Name: "Phase 1: Configuration Check", Duration: 1500 * time.Microsecond}, {Name: "Phase 3: Master Recovery", Duration: 2 * time.Second}}}
	b.failedOver("db1:3306", t0, 10, res, errors.New("db3: CHANGE MASTER failed"))
	op := b.snapshot().LastFailover
	wantOp := &Operation{Kind: KindFailover, Result: ResultPartial, Code: 10, Started: t0, Ended: t0.Add(2 * time.Second),
		Phases:    []PhaseDuration{{"Phase 1: Configuration Check", 1}, {"Phase 3: Master Recovery", 2000}},
		OldMaster: "db1:3306", NewMaster: "db2:3306", EndPoint: "mysql-bin.000003:1200", Lost: "mysql-bin.000003:1200 onwards", Error: "db3: CHANGE MASTER failed"}
	if diff := cmp.Diff(wantOp, op); diff != "" {
		t.Errorf("last failover (-want +got):\n%s", diff)
	}
	b.failedOver("db1:3306", t0, 1, nil, fmt.Errorf("too early: %w", statefile.ErrTooEarly))
	if op := b.snapshot().LastFailover; op.Result != ResultRefused || op.NewMaster != "" {
		t.Errorf("refused failover: %+v", op)
	}

	b.running(false, errors.New("configuration: app1.cnf:3: bad"))
	if s := b.snapshot(); s.Running || s.State != StateStopped || s.Error != "configuration: app1.cnf:3: bad" {
		t.Errorf("after the end: %+v", s)
	}

	// JSON carries no password, though the servers it was built from
	// have one.
	js, err := json.Marshal(b.snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(js), "secret") {
		t.Errorf("password in the status: %s", js)
	}
}

// TestLastSwitch reads the switch journal's outcome into the status.
func TestLastSwitch(t *testing.T) {
	for _, tt := range []struct {
		end    string // "" unfinished
		result string
		code   int
	}{
		{"0", ResultOK, 0},
		{"10", ResultPartial, 10},
		{"1", ResultError, 1},
		{"", ResultUnfinished, -1},
	} {
		dir := t.TempDir()
		j, err := journal.CreateOf(journal.OpSwitch, dir, "app1", map[string]string{"new_master": "db2"})
		must(t, err)
		must(t, j.Intent("set read_only=1", "db1(10.0.0.1:3306)", nil))
		if tt.end != "" {
			must(t, j.End(tt.end))
		} else {
			must(t, j.Close())
		}
		b := newStatusBoard("app1", "app1.cnf", nil)
		b.lastSwitch(dir, "app1")
		op := b.snapshot().LastSwitch
		if op == nil || op.Kind != KindSwitch || op.Result != tt.result || op.Code != tt.code || op.NewMaster != "db2" || op.Started.IsZero() {
			t.Errorf("end %q: %+v", tt.end, op)
		}
	}
	b := newStatusBoard("app1", "app1.cnf", nil)
	b.lastSwitch(t.TempDir(), "app1")
	if op := b.snapshot().LastSwitch; op != nil {
		t.Errorf("no journal: %+v", op)
	}
}

// withPassword is a server of the cluster with its credentials set.
func withPassword(name string) config.Server {
	s := srv(name)
	s.Password, s.ReplPassword = "secret", "secret"
	return s
}
