package metrics

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/gomha/gomha/manager/detect"
	"github.com/gomha/gomha/manager/mysqlx"
)

// compare checks the named families against the exposition text want
// (HELP and TYPE lines included, as testutil requires).
func compare(t *testing.T, r *Recorder, want string, names ...string) {
	t.Helper()
	if err := testutil.GatherAndCompare(r.Registry(), strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

func TestAddClusterZeroSeries(t *testing.T) {
	r := New()
	r.AddCluster("app1")
	compare(t, r, `
# HELP gomha_probe_failures_total Failed health checks of the master, by kind (timeout, refused, hung, auth, other).
# TYPE gomha_probe_failures_total counter
gomha_probe_failures_total{app="app1",kind="auth"} 0
gomha_probe_failures_total{app="app1",kind="hung"} 0
gomha_probe_failures_total{app="app1",kind="other"} 0
gomha_probe_failures_total{app="app1",kind="refused"} 0
gomha_probe_failures_total{app="app1",kind="timeout"} 0
# HELP gomha_failovers_total Dead-master failovers, by result (success, partial, refused, failed).
# TYPE gomha_failovers_total counter
gomha_failovers_total{app="app1",result="failed"} 0
gomha_failovers_total{app="app1",result="partial"} 0
gomha_failovers_total{app="app1",result="refused"} 0
gomha_failovers_total{app="app1",result="success"} 0
# HELP gomha_detection_state 1 for the master's current detection state (PING_OK, PING_FAILING, PING_FAILED), 0 for the others.
# TYPE gomha_detection_state gauge
gomha_detection_state{app="app1",state="PING_FAILED"} 0
gomha_detection_state{app="app1",state="PING_FAILING"} 0
gomha_detection_state{app="app1",state="PING_OK"} 0
gomha_detection_state{app="app1",state="unknown"} 1
`, "gomha_probe_failures_total", "gomha_failovers_total", "gomha_detection_state")
}

func TestProbeFailureKinds(t *testing.T) {
	r := New()
	for _, k := range []ProbeKind{ProbeTimeout, ProbeTimeout, ProbeRefused, ProbeHung, ProbeAuth, "Access denied for user 'x' (using password: YES)", ""} {
		r.ProbeFailure("app1", k)
	}
	compare(t, r, `
# HELP gomha_probe_failures_total Failed health checks of the master, by kind (timeout, refused, hung, auth, other).
# TYPE gomha_probe_failures_total counter
gomha_probe_failures_total{app="app1",kind="auth"} 1
gomha_probe_failures_total{app="app1",kind="hung"} 1
gomha_probe_failures_total{app="app1",kind="other"} 2
gomha_probe_failures_total{app="app1",kind="refused"} 1
gomha_probe_failures_total{app="app1",kind="timeout"} 2
`, "gomha_probe_failures_total")
}

func TestProbeKindOf(t *testing.T) {
	for _, tc := range []struct {
		in   mysqlx.ConnectFailure
		want ProbeKind
	}{
		{mysqlx.FailureTimeout, ProbeTimeout},
		{mysqlx.FailureRefused, ProbeRefused},
		{mysqlx.FailureAccessDenied, ProbeAuth},
		{mysqlx.FailureRejected, ProbeOther},
		{mysqlx.FailureNoRoute, ProbeOther},
		{mysqlx.FailureOther, ProbeOther},
	} {
		if got := ProbeKindOf(tc.in); got != tc.want {
			t.Errorf("ProbeKindOf(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDetectionStateOneHot(t *testing.T) {
	r := New()
	r.SetDetectionState("app1", detect.StatePingFailing.String())
	r.SetDetectionState("app2", "no such state")
	compare(t, r, `
# HELP gomha_detection_state 1 for the master's current detection state (PING_OK, PING_FAILING, PING_FAILED), 0 for the others.
# TYPE gomha_detection_state gauge
gomha_detection_state{app="app1",state="PING_FAILED"} 0
gomha_detection_state{app="app1",state="PING_FAILING"} 1
gomha_detection_state{app="app1",state="PING_OK"} 0
gomha_detection_state{app="app1",state="unknown"} 0
gomha_detection_state{app="app2",state="PING_FAILED"} 0
gomha_detection_state{app="app2",state="PING_FAILING"} 0
gomha_detection_state{app="app2",state="PING_OK"} 0
gomha_detection_state{app="app2",state="unknown"} 1
`, "gomha_detection_state")
}

// TestDetectionStatesCoverDetect fails when detect grows a state the
// metrics do not export.
func TestDetectionStatesCoverDetect(t *testing.T) {
	var names []string
	for s := detect.State(0); !strings.HasPrefix(s.String(), "State("); s++ {
		names = append(names, s.String())
	}
	if diff := cmp.Diff(names, detectionStates); diff != "" {
		t.Errorf("detect's states (-) and the exported ones (+) differ:\n%s", diff)
	}
}

func TestResults(t *testing.T) {
	r := New()
	r.Failover("app1", ResultSuccess)
	r.Failover("app1", ResultPartial)
	r.Failover("app1", "exit 1")
	r.Switch("app1", ResultRefused)
	r.Switch("app1", ResultRefused)
	compare(t, r, `
# HELP gomha_failovers_total Dead-master failovers, by result (success, partial, refused, failed).
# TYPE gomha_failovers_total counter
gomha_failovers_total{app="app1",result="failed"} 1
gomha_failovers_total{app="app1",result="partial"} 1
gomha_failovers_total{app="app1",result="success"} 1
# HELP gomha_switches_total Online master switches, by result (success, partial, refused, failed).
# TYPE gomha_switches_total counter
gomha_switches_total{app="app1",result="refused"} 2
`, "gomha_failovers_total", "gomha_switches_total")
}

func TestHistograms(t *testing.T) {
	r := New()
	r.ObservePing("app1", 3*time.Millisecond)
	r.ObservePhase("app1", OpFailover, "Phase 3: Master Recovery", 1500*time.Millisecond)
	r.ObservePhase("app1", OpSwitch, "block writes", 20*time.Millisecond)
	r.ObservePhase("app1", "restore", "x", time.Second) // unknown operation: ignored
	r.ObserveWriteBlock("app1", 300*time.Millisecond)
	compare(t, r, `
# HELP gomha_ping_duration_seconds Duration of successful health-check pings of the master.
# TYPE gomha_ping_duration_seconds histogram
gomha_ping_duration_seconds_bucket{app="app1",le="0.0005"} 0
gomha_ping_duration_seconds_bucket{app="app1",le="0.001"} 0
gomha_ping_duration_seconds_bucket{app="app1",le="0.0025"} 0
gomha_ping_duration_seconds_bucket{app="app1",le="0.005"} 1
gomha_ping_duration_seconds_bucket{app="app1",le="0.01"} 1
gomha_ping_duration_seconds_bucket{app="app1",le="0.025"} 1
gomha_ping_duration_seconds_bucket{app="app1",le="0.05"} 1
gomha_ping_duration_seconds_bucket{app="app1",le="0.1"} 1
gomha_ping_duration_seconds_bucket{app="app1",le="0.25"} 1
gomha_ping_duration_seconds_bucket{app="app1",le="0.5"} 1
gomha_ping_duration_seconds_bucket{app="app1",le="1"} 1
gomha_ping_duration_seconds_bucket{app="app1",le="2.5"} 1
gomha_ping_duration_seconds_bucket{app="app1",le="5"} 1
gomha_ping_duration_seconds_bucket{app="app1",le="10"} 1
gomha_ping_duration_seconds_bucket{app="app1",le="+Inf"} 1
gomha_ping_duration_seconds_sum{app="app1"} 0.003
gomha_ping_duration_seconds_count{app="app1"} 1
`, "gomha_ping_duration_seconds")
	for _, tc := range []struct {
		name   string
		labels string
		count  int
	}{
		{"gomha_failover_phase_duration_seconds", `app="app1",phase="Phase 3: Master Recovery"`, 1},
		{"gomha_switch_phase_duration_seconds", `app="app1",phase="block writes"`, 1},
		{"gomha_switch_write_block_duration_seconds", `app="app1"`, 1},
	} {
		// One histogram series each: its buckets, sum and count.
		n, err := testutil.GatherAndCount(r.Registry(), tc.name)
		if err != nil || n != tc.count {
			t.Errorf("%s: %d series (%v), want %d", tc.name, n, err, tc.count)
		}
	}
	out, err := testutil.GatherAndFormat(r.Registry(), expfmt.TypeTextPlain, "gomha_failover_phase_duration_seconds", "gomha_switch_write_block_duration_seconds")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		`gomha_failover_phase_duration_seconds_bucket{app="app1",phase="Phase 3: Master Recovery",le="1"} 0`,
		`gomha_failover_phase_duration_seconds_bucket{app="app1",phase="Phase 3: Master Recovery",le="2.5"} 1`,
		`gomha_failover_phase_duration_seconds_sum{app="app1",phase="Phase 3: Master Recovery"} 1.5`,
		`gomha_switch_write_block_duration_seconds_bucket{app="app1",le="0.25"} 0`,
		`gomha_switch_write_block_duration_seconds_bucket{app="app1",le="0.5"} 1`,
	} {
		if !strings.Contains(string(out), line+"\n") {
			t.Errorf("missing %s in\n%s", line, out)
		}
	}
}

func TestPhaseNamesCapped(t *testing.T) {
	r := New()
	for i := range MaxPhases + 10 {
		r.ObservePhase("app1", OpFailover, fmt.Sprintf("phase %d", i), time.Millisecond)
	}
	r.ObservePhase("app1", OpFailover, "phase 0", time.Millisecond) // known: still its own series
	r.ObservePhase("app2", OpFailover, "phase 1", time.Millisecond) // known names are shared by clusters
	n, err := testutil.GatherAndCount(r.Registry(), "gomha_failover_phase_duration_seconds")
	if err != nil {
		t.Fatal(err)
	}
	if want := MaxPhases + 1 + 1; n != want { // 32 names + "other" for app1, one for app2
		t.Errorf("%d phase series, want %d", n, want)
	}
	out, _ := testutil.GatherAndFormat(r.Registry(), expfmt.TypeTextPlain, "gomha_failover_phase_duration_seconds")
	for _, line := range []string{
		`gomha_failover_phase_duration_seconds_count{app="app1",phase="other"} 10`,
		`gomha_failover_phase_duration_seconds_count{app="app1",phase="phase 0"} 2`,
	} {
		if !strings.Contains(string(out), line+"\n") {
			t.Errorf("missing %s", line)
		}
	}
}

func TestReplicaLag(t *testing.T) {
	r := New()
	r.SetReplicaLag("app1", "db2:3306", 0)
	r.SetReplicaLag("app1", "db3:3306", 12)
	r.SetReplicaLag("app1", "db4:3306", 1)
	r.SetReplicaLag("app2", "db9:3306", 5)
	r.ClearReplicaLag("app1", "db4:3306")        // SQL thread stopped: unknown
	r.KeepReplicas("app1", []string{"db3:3306"}) // db2 left the cluster
	compare(t, r, `
# HELP gomha_replica_lag_seconds Seconds_Behind_Master of each replica (host:port); absent while unknown (SQL thread stopped).
# TYPE gomha_replica_lag_seconds gauge
gomha_replica_lag_seconds{app="app1",replica="db3:3306"} 12
gomha_replica_lag_seconds{app="app2",replica="db9:3306"} 5
`, "gomha_replica_lag_seconds")
	r.SetReplicaLag("app1", "db2:3306", 3) // back again
	r.KeepReplicas("app1", nil)
	compare(t, r, `
# HELP gomha_replica_lag_seconds Seconds_Behind_Master of each replica (host:port); absent while unknown (SQL thread stopped).
# TYPE gomha_replica_lag_seconds gauge
gomha_replica_lag_seconds{app="app2",replica="db9:3306"} 5
`, "gomha_replica_lag_seconds")
}

func TestUpAndRole(t *testing.T) {
	r := New()
	r.SetUp("app1", true)
	r.SetUp("app2", false)
	r.SetRole("app1", RoleActive)
	r.SetRole("app2", RoleStandby)
	r.SetRole("app3", "leader") // unknown: neither
	compare(t, r, `
# HELP gomha_cluster_up 1 while this manager's monitor for the cluster runs, 0 when it stopped.
# TYPE gomha_cluster_up gauge
gomha_cluster_up{app="app1"} 1
gomha_cluster_up{app="app2"} 0
# HELP gomha_cluster_role 1 for this manager's role for the cluster (active or standby), 0 for the other.
# TYPE gomha_cluster_role gauge
gomha_cluster_role{app="app1",role="active"} 1
gomha_cluster_role{app="app1",role="standby"} 0
gomha_cluster_role{app="app2",role="active"} 0
gomha_cluster_role{app="app2",role="standby"} 1
gomha_cluster_role{app="app3",role="active"} 0
gomha_cluster_role{app="app3",role="standby"} 0
`, "gomha_cluster_up", "gomha_cluster_role")
}

func TestRemoveCluster(t *testing.T) {
	r := New()
	for _, app := range []string{"app1", "app2"} {
		r.AddCluster(app)
		r.ObservePing(app, time.Millisecond)
		r.ProbeFailure(app, ProbeHung)
		r.Failover(app, ResultSuccess)
		r.ObservePhase(app, OpFailover, "p", time.Second)
		r.ObservePhase(app, OpSwitch, "p", time.Second)
		r.SetReplicaLag(app, "db2:3306", 1)
		r.ObserveWriteBlock(app, time.Second)
		r.SetUp(app, true)
		r.SetRole(app, RoleActive)
	}
	r.RemoveCluster("app1")
	fams, err := r.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), Namespace+"_") {
			continue
		}
		seen++
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "app" && l.GetValue() != "app2" {
					t.Errorf("%s still has app=%s", f.GetName(), l.GetValue())
				}
			}
		}
	}
	if seen != 11 {
		t.Errorf("%d gomha families left for app2, want all 11", seen)
	}
	// A replica deleted with its cluster is not deleted again by a later
	// KeepReplicas, nor resurrected.
	r.KeepReplicas("app1", nil)
	if n := testutil.CollectAndCount(r.lag); n != 1 {
		t.Errorf("%d lag series, want app2's 1", n)
	}
}

func TestRuntimeCollectors(t *testing.T) {
	r := New()
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if n, err := testutil.GatherAndCount(r.Registry(), name); err != nil || n != 1 {
			t.Errorf("%s: %d series (%v), want 1", name, n, err)
		}
	}
}

// TestConcurrent runs every method from many goroutines (go test -race).
func TestConcurrent(t *testing.T) {
	r := New()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			app := fmt.Sprintf("app%d", i%3)
			for j := range 200 {
				replica := fmt.Sprintf("db%d:3306", j%5)
				r.AddCluster(app)
				r.ObservePing(app, time.Millisecond)
				r.ProbeFailure(app, ProbeTimeout)
				r.SetDetectionState(app, "PING_OK")
				r.ObservePhase(app, OpFailover, fmt.Sprintf("p%d", j%40), time.Millisecond)
				r.SetReplicaLag(app, replica, float64(j))
				r.KeepReplicas(app, []string{replica})
				r.ClearReplicaLag(app, replica)
				if j%50 == 0 {
					r.RemoveCluster(app)
				}
			}
		})
	}
	wg.Wait()
	if _, err := r.Registry().Gather(); err != nil {
		t.Fatal(err)
	}
}

// TestNilRecorder: with metrics off the daemon calls a nil *Recorder.
func TestNilRecorder(t *testing.T) {
	var r *Recorder
	r.AddCluster("a")
	r.ObservePing("a", time.Second)
	r.ProbeFailure("a", ProbeAuth)
	r.SetDetectionState("a", "PING_OK")
	r.Failover("a", ResultSuccess)
	r.Switch("a", ResultSuccess)
	r.ObservePhase("a", OpSwitch, "p", time.Second)
	r.SetReplicaLag("a", "db2:3306", 1)
	r.ClearReplicaLag("a", "db2:3306")
	r.KeepReplicas("a", nil)
	r.ObserveWriteBlock("a", time.Second)
	r.SetUp("a", true)
	r.SetRole("a", RoleActive)
	r.RemoveCluster("a")
	if h := r.Handler(); h != nil {
		t.Errorf("Handler of a nil Recorder: %v", h)
	}
}
