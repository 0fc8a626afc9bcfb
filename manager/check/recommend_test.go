package check

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/topology"
)

func TestRecommendedDetection(t *testing.T) {
	for _, tt := range []struct {
		p    time.Duration
		want Detection
	}{
		{time.Second, Detection{4 * time.Second, time.Second, time.Second}},
		{0, Detection{12 * time.Second, 3 * time.Second, 3 * time.Second}}, // MHA's default 3 s
		{3 * time.Second, Detection{12 * time.Second, 3 * time.Second, 3 * time.Second}},
		{500 * time.Millisecond, Detection{4 * time.Second, time.Second, time.Second}},
		{1500 * time.Millisecond, Detection{6 * time.Second, 1500 * time.Millisecond, 2 * time.Second}},
	} {
		if got := RecommendedDetection(tt.p); got != tt.want {
			t.Errorf("RecommendedDetection(%s) = %+v; want %+v", tt.p, got, tt.want)
		}
	}
}

func TestRecommendFor(t *testing.T) {
	want := RecommendedDetection(time.Second)
	tests := []struct {
		name string
		f    DetectionFacts
		ok   bool
		line string
	}{
		{"already fast", DetectionFacts{Host: "db2", SlaveNetTimeout: 4 * time.Second, HeartbeatPeriod: time.Second, ConnectRetry: time.Second}, false, ""},
		{"fast, connect retry not known: nothing to say", DetectionFacts{Host: "db2", SlaveNetTimeout: 3 * time.Second, HeartbeatPeriod: 500 * time.Millisecond}, false, ""},
		{"MariaDB defaults after a repoint", DetectionFacts{Host: "db2(10.0.0.2:3306)", SlaveNetTimeout: 60 * time.Second, HeartbeatPeriod: 30 * time.Second}, true,
			"Recommended on db2(10.0.0.2:3306) for fast failure detection: slave_net_timeout 1m0s -> 4s, heartbeat 30s -> 1s, master_connect_retry (unknown) -> 1s. " +
				"Run: SET GLOBAL slave_net_timeout=4; STOP SLAVE; CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=1, MASTER_CONNECT_RETRY=1; START SLAVE " +
				"(and slave_net_timeout in my.cnf); gomha keeps these settings when it repoints the replica."},
		{"heartbeat off only", DetectionFacts{Host: "db3", SlaveNetTimeout: 4 * time.Second, ConnectRetry: time.Second}, true,
			"Recommended on db3 for fast failure detection: heartbeat off -> 1s. Run: STOP SLAVE; CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=1; START SLAVE " +
				"(and slave_net_timeout in my.cnf); gomha keeps these settings when it repoints the replica."},
		{"heartbeat not below a short slave_net_timeout", DetectionFacts{Host: "db3", SlaveNetTimeout: time.Second, HeartbeatPeriod: time.Second, ConnectRetry: time.Second}, true,
			"Recommended on db3 for fast failure detection: heartbeat 1s -> 500ms. Run: STOP SLAVE; CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=0.5; START SLAVE " +
				"(and slave_net_timeout in my.cnf); gomha keeps these settings when it repoints the replica."},
		{"connect retry at MySQL's default", DetectionFacts{Host: "db4", SlaveNetTimeout: 4 * time.Second, HeartbeatPeriod: time.Second, ConnectRetry: time.Minute}, true,
			"Recommended on db4 for fast failure detection: master_connect_retry 1m0s -> 1s. Run: STOP SLAVE; CHANGE MASTER TO MASTER_CONNECT_RETRY=1; START SLAVE " +
				"(and slave_net_timeout in my.cnf); gomha keeps these settings when it repoints the replica."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := RecommendFor(tt.f, want)
			if ok != tt.ok {
				t.Fatalf("RecommendFor = %+v, %t; want %t", r, ok, tt.ok)
			}
			if ok && r.String() != tt.line {
				t.Errorf("line\n  %s\nwant\n  %s", r, tt.line)
			}
		})
	}
}

func TestRecommendDetection(t *testing.T) {
	node := func(name string, role topology.Role, st *mysqlx.State) *topology.Node {
		return &topology.Node{Server: config.Server{Params: config.Params{Hostname: name, IP: "10.0.0." + name[2:], Port: 3306}}, Role: role, State: st}
	}
	topo := &topology.Topology{Nodes: []*topology.Node{
		node("db1", topology.RoleMaster, &mysqlx.State{SlaveNetTimeout: 60}),
		node("db2", topology.RoleReplica, &mysqlx.State{SlaveNetTimeout: 60, HeartbeatPeriod: 30}),
		node("db3", topology.RoleReplica, &mysqlx.State{SlaveNetTimeout: 4, HeartbeatPeriod: 1}),
		node("db4", topology.RoleReplica, nil),
	}}
	got := RecommendDetection(topo, time.Second)
	var hosts []string
	for _, r := range got {
		hosts = append(hosts, r.Host)
	}
	if diff := cmp.Diff([]string{"db2(10.0.0.2:3306)"}, hosts); diff != "" {
		t.Errorf("recommended for (-want +got):\n%s", diff)
	}
	// Without a ping interval, the master's: 3 s recommends 12 s, 3 s, 3 s,
	// which db3 (4 s, 1 s) already beats.
	topo.Master = topo.Nodes[0]
	topo.Master.Server.PingInterval = 3 * time.Second
	got = RecommendDetection(topo, 0)
	if len(got) != 1 || got[0].Host != "db2(10.0.0.2:3306)" ||
		got[0].SQL != "SET GLOBAL slave_net_timeout=12; STOP SLAVE; CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=3, MASTER_CONNECT_RETRY=3; START SLAVE" {
		t.Errorf("with the master's ping_interval: %+v", got)
	}
}
