package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomha/gomha/integration/lab"
)

// standbyManager is one `mha manager --consul_lock` of the runbook, with
// its own workdir (as on its own host) and HTTP port.
type standbyManager struct {
	name    string
	cmd     *exec.Cmd
	out     *syncWriter
	base    string
	workdir string
	done    chan struct{}
}

func (m *standbyManager) role() (role, state string) {
	c := http.Client{Timeout: 500 * time.Millisecond}
	resp, err := c.Get(m.base + "/api/v1/clusters/app1")
	if err != nil {
		return "", ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var st struct {
		Role      string `json:"role"`
		Detection struct{ State string }
	}
	_ = json.Unmarshal(b, &st)
	return st.Role, st.Detection.State
}

// TestStandbyManagersRunbook: three managers watch one cluster with
// --consul_lock against a real Consul agent. Exactly one is active (it
// monitors; the others report it); kill -9 of the active one makes a
// standby take over; a kill -9 of the master is then failed over exactly
// once. At no moment do two managers report themselves active.
func TestStandbyManagersRunbook(t *testing.T) {
	r := newFailoverRig(t, lab.Options{Hosts: 3})
	ctx := r.ctx
	c, err := r.l.StartConsul(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ms []*standbyManager
	for i := range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		m := &standbyManager{name: fmt.Sprintf("mgr%d", i+1), base: "http://" + addr, workdir: filepath.Join(r.l.Dir, fmt.Sprintf("mgr%d", i+1)), done: make(chan struct{})}
		if err := os.MkdirAll(m.workdir, 0o700); err != nil {
			t.Fatal(err)
		}
		m.cmd = exec.Command(bins.mha, "manager", "--conf="+r.conf, "--workdir="+m.workdir, "--http="+addr, "--consul_lock", "--consul_addr="+c.URL())
		m.out = &syncWriter{w: &bytes.Buffer{}}
		m.cmd.Stdout, m.cmd.Stderr = m.out, m.out
		if err := m.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = m.cmd.Wait(); close(m.done) }()
		t.Cleanup(func() {
			_ = m.cmd.Process.Kill()
			<-m.done
			t.Logf("%s output:\n%s", m.name, tailString(m.out.String(), 60))
		})
		ms = append(ms, m)
	}
	// The watcher: every 100 ms, who says it is active.
	type sample struct {
		at     time.Time
		active []string
	}
	var samples []sample
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			var act []string
			for _, m := range ms {
				if role, state := m.role(); role == "active" && state != "STOPPED" {
					act = append(act, m.name)
				}
			}
			samples = append(samples, sample{time.Now(), act})
		}
	}()
	activeOne := func(within time.Duration, not *standbyManager) *standbyManager {
		t.Helper()
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			for _, m := range ms {
				if m == not {
					continue
				}
				if role, state := m.role(); role == "active" && state == "PING_OK" {
					return m
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("no manager active and monitoring within %s", within)
		return nil
	}
	first := activeOne(60*time.Second, nil)
	t.Logf("%s is active", first.name)
	killed := time.Now()
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	second := activeOne(30*time.Second, first)
	t.Logf("kill -9 of the active manager %s -> %s active and monitoring: %s", first.name, second.name, time.Since(killed).Round(time.Millisecond))

	if err := r.l.Master().KillMariaDB(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		n := 0
		for _, m := range ms {
			if _, err := os.Stat(filepath.Join(m.workdir, "app1.failover.complete")); err == nil {
				n++
			}
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d failovers completed, want 1", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := r.writer.WaitAcked(ctx, 20); err != nil {
		t.Fatalf("no writes after the failover: %v", err)
	}
	time.Sleep(3 * time.Second) // a second failover would show by now
	close(stop)
	<-watched
	n := 0
	for _, m := range ms {
		if _, err := os.Stat(filepath.Join(m.workdir, "app1.failover.complete")); err == nil {
			n++
			if m != second {
				t.Errorf("%s failed over, but %s was the active manager", m.name, second.name)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d managers failed over, want exactly 1", n)
	}
	for _, s := range samples {
		if len(s.active) > 1 {
			t.Errorf("at %s two managers reported themselves active: %v", s.at.Format(time.RFC3339Nano), s.active)
		}
	}
}

func tailString(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
