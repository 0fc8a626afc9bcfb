package lab_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/gomha/gomha/integration/lab"
)

// TestConsulVersionPinned keeps lab.ConsulVersion and the version
// integration/consulbin/go.mod requires the same.
func TestConsulVersionPinned(t *testing.T) {
	b, err := os.ReadFile("../consulbin/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^require github\.com/hashicorp/consul (v\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("integration/consulbin/go.mod has no single-line require of github.com/hashicorp/consul:\n%s", b)
	}
	if string(m[1]) != lab.ConsulVersion {
		t.Errorf("consulbin requires consul %s, lab.ConsulVersion is %s", m[1], lab.ConsulVersion)
	}
}

// TestEnsureConsul builds the Consul agent into the lab cache (once; `make
// lab-deps` runs it so that test runs do not pay for the build).
func TestEnsureConsul(t *testing.T) {
	if !lab.Enabled() {
		t.Skip("integration lab disabled: set GOMHA_LAB=1")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute)
	defer cancel()
	start := time.Now()
	p, err := lab.EnsureConsul(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s ready after %v", p, time.Since(start).Round(time.Second))
	out, err := exec.CommandContext(ctx, p, "version").CombinedOutput()
	if err != nil || !regexp.MustCompile(`Consul `+regexp.QuoteMeta(lab.ConsulVersion)).Match(out) {
		t.Fatalf("%s version: %v\n%s", p, err, out)
	}
}

// TestLabConsul starts the lab's agent and resolves its own node through
// its DNS interface; Close must take the agent down.
func TestLabConsul(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 1, NoReplication: true})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	c, err := l.StartConsul(ctx)
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := c.Resolver().LookupHost(ctx, "gomha-lab.node.consul.")
	if err != nil || !slices.Equal(addrs, []string{l.BridgeIP}) {
		t.Fatalf("gomha-lab.node.consul = %v, %v; want [%s]", addrs, err, l.BridgeIP)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
	defer rcancel()
	if _, err := c.Resolver().LookupHost(rctx, "gomha-lab.node.consul."); err == nil {
		t.Errorf("agent still answers DNS after Close")
	}
}
