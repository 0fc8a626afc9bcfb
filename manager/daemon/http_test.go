package daemon

import (
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/manager/httpapi"
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
