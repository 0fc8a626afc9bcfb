package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gomha/gomha/integration/lab"
)

// TestManagerHTTPRunbook: `mha manager --http` serves the cluster's state
// and Prometheus metrics. Before the fault the API names the master and its
// replicas and the detection state is PING_OK; after a kill -9 of the
// master and the failover it names the new master and the failover as the
// last event, and /metrics counts one successful failover.
func TestManagerHTTPRunbook(t *testing.T) {
	r := newFailoverRig(t, lab.Options{Hosts: 3})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bins.mha, "manager", "--conf="+r.conf, "--http="+addr)
	out := &syncWriter{w: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Logf("manager output:\n%s", out)
	})
	base := "http://" + addr
	type cluster struct {
		App    string `json:"app"`
		Master struct {
			Host  string `json:"host"`
			Alive bool   `json:"alive"`
		} `json:"master"`
		Replicas  []struct{ Host string } `json:"replicas"`
		Detection struct{ State string }  `json:"detection"`
		LastEvent *struct {
			Kind      string                  `json:"kind"`
			Result    string                  `json:"result"`
			NewMaster string                  `json:"new_master"`
			Phases    []struct{ Name string } `json:"phases"`
		} `json:"last_event"`
	}
	get := func(path string) (int, []byte) {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	app := func() cluster {
		t.Helper()
		code, b := get("/api/v1/clusters/app1")
		var c cluster
		if code != 200 || json.Unmarshal(b, &c) != nil {
			t.Fatalf("GET /api/v1/clusters/app1: %d %s", code, b)
		}
		return c
	}
	waitFor := func(what string, ok func(cluster) bool) cluster {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			if code, _ := get("/healthz"); code == 200 {
				if c := app(); ok(c) {
					return c
				}
			}
			if time.Now().After(deadline) {
				code, b := get("/api/v1/clusters/app1")
				t.Fatalf("%s: not within 90s; last answer %d %s\n%s", what, code, b, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	db1 := r.l.Master()
	c := waitFor("monitoring", func(c cluster) bool { return c.Detection.State == "PING_OK" })
	if c.Master.Host != db1.IP || !c.Master.Alive || len(c.Replicas) != 2 {
		t.Errorf("before the fault: %+v, want master %s alive with 2 replicas", c, db1.IP)
	}
	if code, b := get("/api/v1/clusters/nope"); code != 404 {
		t.Errorf("unknown cluster: %d %s", code, b)
	}
	fam := scrape(t, base)
	if v := gauge(fam, "gomha_detection_state", map[string]string{"app": "app1", "state": "PING_OK"}); v != 1 {
		t.Errorf("gomha_detection_state{state=PING_OK} = %v, want 1", v)
	}
	if err := db1.KillMariaDB(); err != nil {
		t.Fatal(err)
	}
	c = waitFor("the failover", func(c cluster) bool { return c.LastEvent != nil && c.LastEvent.Result != "running" })
	if c.LastEvent.Kind != "failover" || c.LastEvent.Result != "success" || c.LastEvent.NewMaster == "" || len(c.LastEvent.Phases) == 0 {
		t.Errorf("last event after the kill: %+v", c.LastEvent)
	}
	fam = scrape(t, base)
	if v := counter(fam, "gomha_failovers_total", map[string]string{"app": "app1", "result": "success"}); v != 1 {
		t.Errorf("gomha_failovers_total{result=success} = %v, want 1", v)
	}
	if strings.Contains(fmt.Sprint(fam), r.l.AdminPassword) {
		t.Error("a password is in /metrics")
	}
	if _, b := get("/api/v1/clusters"); strings.Contains(string(b), r.l.AdminPassword) || strings.Contains(string(b), r.l.ReplPassword) {
		t.Error("a password is in /api/v1/clusters")
	}
}

// scrape reads /metrics with Prometheus' own text parser.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fam, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fam
}

func find(fam map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	f := fam[name]
	if f == nil {
		return nil
	}
	for _, m := range f.GetMetric() {
		match := 0
		for _, l := range m.GetLabel() {
			if v, ok := labels[l.GetName()]; ok && v == l.GetValue() {
				match++
			}
		}
		if match == len(labels) {
			return m
		}
	}
	return nil
}

func gauge(fam map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	if m := find(fam, name, labels); m != nil {
		return m.GetGauge().GetValue()
	}
	return -1
}

func counter(fam map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	if m := find(fam, name, labels); m != nil {
		return m.GetCounter().GetValue()
	}
	return -1
}
