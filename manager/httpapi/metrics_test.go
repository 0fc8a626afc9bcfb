package httpapi

import (
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gomha/gomha/manager/metrics"
)

// scrape GETs /metrics in the text format with a real client and parses
// it with Prometheus' own parser.
func scrape(t *testing.T, url, authorization string) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	req.Header.Set("Authorization", authorization)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// series renders a family's samples as "label=value,... value" lines,
// labels sorted, histograms as count and sum: easy to compare.
func series(t *testing.T, fams map[string]*dto.MetricFamily, name string, typ dto.MetricType) []string {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Errorf("no family %s", name)
		return nil
	}
	if f.GetType() != typ {
		t.Errorf("%s is %v, want %v", name, f.GetType(), typ)
	}
	var out []string
	for _, m := range f.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(ls)
		var v string
		switch typ {
		case dto.MetricType_COUNTER:
			v = model.SampleValue(m.GetCounter().GetValue()).String()
		case dto.MetricType_GAUGE:
			v = model.SampleValue(m.GetGauge().GetValue()).String()
		case dto.MetricType_HISTOGRAM:
			h := m.GetHistogram()
			v = "count " + model.SampleValue(h.GetSampleCount()).String() + " sum " + model.SampleValue(h.GetSampleSum()).String()
		}
		out = append(out, strings.Join(ls, ",")+" "+v)
	}
	sort.Strings(out)
	return out
}

func TestMetricsScrape(t *testing.T) {
	rec := metrics.New()
	rec.AddCluster("app1")
	rec.SetUp("app1", true)
	rec.SetRole("app1", metrics.RoleActive)
	rec.SetDetectionState("app1", "PING_FAILING")
	rec.ObservePing("app1", 2*time.Millisecond)
	rec.ObservePing("app1", 4*time.Millisecond)
	rec.ProbeFailure("app1", metrics.ProbeTimeout)
	rec.ProbeFailure("app1", metrics.ProbeRefused)
	rec.ProbeFailure("app1", metrics.ProbeRefused)
	rec.Failover("app1", metrics.ResultSuccess)
	rec.Switch("app1", metrics.ResultRefused)
	rec.ObservePhase("app1", metrics.OpFailover, "Phase 3: Master Recovery", 1500*time.Millisecond)
	rec.ObservePhase("app1", metrics.OpSwitch, "block writes", 250*time.Millisecond)
	rec.ObserveWriteBlock("app1", 250*time.Millisecond)
	rec.SetReplicaLag("app1", "db2:3306", 0)
	rec.SetReplicaLag("app1", "db3:3307", 7)
	rec.SetReplicaLag("app1", "db4:3306", 1)
	rec.KeepReplicas("app1", []string{"db2:3306", "db3:3307"}) // db4 left

	tokenFile := writeToken(t, testToken, 0o600)
	_, base := start(t, Config{Source: newSource("app1"), Metrics: rec.Handler(), TokenFile: tokenFile})
	if a := get(t, "GET", base+"/metrics", ""); a.code != 401 {
		t.Fatalf("/metrics without the token: %d", a.code)
	}
	fams := scrape(t, base+"/metrics", "Bearer "+testToken)

	C, G, H := dto.MetricType_COUNTER, dto.MetricType_GAUGE, dto.MetricType_HISTOGRAM
	for _, tc := range []struct {
		name string
		typ  dto.MetricType
		want []string
	}{
		{"gomha_cluster_up", G, []string{"app=app1 1"}},
		{"gomha_cluster_role", G, []string{"app=app1,role=active 1", "app=app1,role=standby 0"}},
		{"gomha_detection_state", G, []string{
			"app=app1,state=PING_FAILED 0", "app=app1,state=PING_FAILING 1", "app=app1,state=PING_OK 0", "app=app1,state=unknown 0",
		}},
		{"gomha_ping_duration_seconds", H, []string{"app=app1 count 2 sum 0.006"}},
		{"gomha_probe_failures_total", C, []string{
			"app=app1,kind=auth 0", "app=app1,kind=hung 0", "app=app1,kind=other 0", "app=app1,kind=refused 2", "app=app1,kind=timeout 1",
		}},
		{"gomha_failovers_total", C, []string{
			"app=app1,result=failed 0", "app=app1,result=partial 0", "app=app1,result=refused 0", "app=app1,result=success 1",
		}},
		{"gomha_switches_total", C, []string{
			"app=app1,result=failed 0", "app=app1,result=partial 0", "app=app1,result=refused 1", "app=app1,result=success 0",
		}},
		{"gomha_failover_phase_duration_seconds", H, []string{"app=app1,phase=Phase 3: Master Recovery count 1 sum 1.5"}},
		{"gomha_switch_phase_duration_seconds", H, []string{"app=app1,phase=block writes count 1 sum 0.25"}},
		{"gomha_switch_write_block_duration_seconds", H, []string{"app=app1 count 1 sum 0.25"}},
		{"gomha_replica_lag_seconds", G, []string{"app=app1,replica=db2:3306 0", "app=app1,replica=db3:3307 7"}},
	} {
		got := series(t, fams, tc.name, tc.typ)
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}

	// A histogram's buckets as set: 1.5 s lands in le=2.5, not le=1.
	for _, b := range fams["gomha_failover_phase_duration_seconds"].GetMetric()[0].GetHistogram().GetBucket() {
		want := uint64(0)
		if b.GetUpperBound() >= 2.5 {
			want = 1
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("phase bucket le=%g: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	// The runtime and process collectors are served too.
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_resident_memory_bytes", "promhttp_metric_handler_requests_total"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("no family %s", name)
		}
	}
	// Every gomha family carries app and no free-text label.
	for name, f := range fams {
		if !strings.HasPrefix(name, "gomha_") {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "app", "kind", "state", "result", "phase", "replica", "role":
				default:
					t.Errorf("%s has label %s", name, l.GetName())
				}
			}
		}
	}
}
