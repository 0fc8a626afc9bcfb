package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/manager/httpapi"
	"github.com/gomha/gomha/manager/leader"
)

func TestAPIStatus(t *testing.T) {
	lag := int64(3)
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	c := ClusterStatus{App: "app1", Conf: "/etc/gomha/app1.cnf", Master: "198.18.7.11:3306", State: "PING_OK", StateSince: t0, Running: true, Role: RoleActive,
		Replicas:     []ReplicaStatus{{Host: "db2", Port: 3306, IORunning: true, SQLRunning: true, SecondsBehind: &lag}},
		LastFailover: &Operation{Kind: KindFailover, Result: ResultPartial, Started: t0, Ended: t0.Add(time.Second), NewMaster: "db2:3306", EndPoint: "mysql-bin.000003:7340", Phases: []PhaseDuration{{"Phase 1", 12}}},
		LastSwitch:   &Operation{Kind: KindSwitch, Result: ResultOK, Started: t0.Add(-time.Hour)},
	}
	a := apiStatus(c)
	if a.Master != (httpapi.Master{Host: "198.18.7.11", Port: 3306, Alive: true}) {
		t.Errorf("master = %+v", a.Master)
	}
	if len(a.Replicas) != 1 || *a.Replicas[0].SecondsBehind != 3 || !a.Replicas[0].IORunning {
		t.Errorf("replicas = %+v", a.Replicas)
	}
	e := a.LastEvent
	if e == nil || e.Kind != httpapi.EventFailover || e.Result != httpapi.ResultPartial || e.EndPoint != "mysql-bin.000003:7340" || len(e.Phases) != 1 || e.Phases[0].MS != 12 {
		t.Errorf("last event = %+v (the failover is later than the switch)", e)
	}
	c.LastSwitch.Started = t0.Add(time.Hour)
	if e := apiStatus(c).LastEvent; e.Kind != httpapi.EventSwitch || e.Result != httpapi.ResultSuccess {
		t.Errorf("last event = %+v, want the later switch", e)
	}
	c.State, c.Running = "PING_FAILING", true
	if apiStatus(c).Master.Alive {
		t.Error("a failing master is reported alive")
	}
}

func TestHTTPSourceReady(t *testing.T) {
	d := &Daemon{boards: map[string]*statusBoard{}, shown: map[string]bool{}, secrets: map[string][]string{}}
	src := d.HTTPSource().(httpapi.Readiness)
	if err := src.Ready(); err == nil || !strings.Contains(err.Error(), "no cluster") {
		t.Errorf("Ready with no cluster = %v", err)
	}
	b := newStatusBoard("app1", "app1.cnf", nil)
	b.running(true, nil)
	d.boards["app1.cnf"], d.shown["app1.cnf"] = b, true
	if err := src.Ready(); err != nil {
		t.Errorf("Ready with a running cluster = %v", err)
	}
	d.secrets["app1.cnf"] = []string{"s3cret"}
	if got := d.Secrets(); len(got) != 1 || got[0] != "s3cret" {
		t.Errorf("Secrets = %q", got)
	}
}

func TestGateCheck(t *testing.T) {
	transient := errors.New("Unexpected response code: 500 (No cluster leader)")
	calls := 0
	err := gateCheck(t.Context(), func(context.Context) error {
		calls++
		if calls < 3 {
			return transient
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("gate after two transient errors: %v after %d calls, want nil after 3", err, calls)
	}
	for _, definite := range []error{leader.ErrNotActive, leader.ErrNotHolder, fmt.Errorf("check: %w", leader.ErrSessionInvalid)} {
		calls = 0
		if err := gateCheck(t.Context(), func(context.Context) error { calls++; return definite }); !errors.Is(err, definite) || calls != 1 {
			t.Errorf("gate on %v: %v after %d calls, want it at once", definite, err, calls)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := gateCheck(ctx, func(context.Context) error { return transient }); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("gate that never gets an answer: %v, want the context's end", err)
	}
}
