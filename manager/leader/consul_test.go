package leader

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// The scenarios against a real Consul agent run when GOMHA_CONSUL_TEST=1
// or the lab is on (GOMHA_LAB=1, as `make test` runs);
// then a missing agent binary is a failure, not a skip. The binary is
// GOMHA_CONSUL_BIN, or the lab's build (`make lab-deps` puts it at
// /var/cache/gomha-lab/consul-<version>). Each test starts its own
// `consul agent -dev` on loopback with free ports and a temporary data
// directory; every manager reaches it through its own TCP proxy, which the
// test can turn into a blackhole (cut off) or a closed port (killed).
//
//	GOMHA_CONSUL_TEST=1 go test -race -v -run Consul ./manager/leader/

func consulBinary(t *testing.T) string {
	t.Helper()
	if os.Getenv("GOMHA_CONSUL_TEST") != "1" && os.Getenv("GOMHA_LAB") != "1" {
		t.Skip("set GOMHA_CONSUL_TEST=1 to run against a real Consul agent (GOMHA_CONSUL_BIN, or the lab's build from make lab-deps)")
	}
	if bin := os.Getenv("GOMHA_CONSUL_BIN"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("GOMHA_CONSUL_BIN: %v", err)
		}
		return bin
	}
	found, _ := filepath.Glob("/var/cache/gomha-lab/consul-v*")
	found = slices.DeleteFunc(found, func(p string) bool {
		st, err := os.Stat(p)
		return err != nil || st.IsDir() || st.Mode()&0o111 == 0
	})
	if len(found) == 0 {
		t.Fatal("no Consul binary for the real-agent tests: run make lab-consul or set GOMHA_CONSUL_BIN")
	}
	slices.Sort(found)
	return found[len(found)-1]
}

// agent is a `consul agent -dev` on loopback.
type agent struct {
	t     *testing.T
	bin   string
	dir   string
	ports []int // http, dns, serf_lan, serf_wan, server, grpc
	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{}
	log   string
}

func startAgent(t *testing.T) *agent {
	a := &agent{t: t, bin: consulBinary(t), dir: t.TempDir()}
	ports, err := freeLoopbackPorts(6)
	if err != nil {
		t.Fatalf("pick ports: %v", err)
	}
	a.ports = ports
	a.log = filepath.Join(a.dir, "consul.log")
	conf, _ := json.Marshal(map[string]any{
		"disable_update_check": true,
		"ports": map[string]int{
			"http": ports[0], "dns": ports[1], "serf_lan": ports[2], "serf_wan": ports[3], "server": ports[4],
			"grpc": ports[5], "grpc_tls": -1, "https": -1,
		},
	})
	if err := os.WriteFile(filepath.Join(a.dir, "agent.json"), conf, 0o644); err != nil {
		t.Fatal(err)
	}
	a.start()
	t.Cleanup(a.stop)
	return a
}

func (a *agent) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(a.ports[0])) }

func (a *agent) start() {
	a.t.Helper()
	logf, err := os.OpenFile(a.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		a.t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(a.bin, "agent", "-dev", "-node=gomha-leader-test", "-bind=127.0.0.1", "-client=127.0.0.1",
		"-data-dir="+filepath.Join(a.dir, "data"), "-config-file="+filepath.Join(a.dir, "agent.json"), "-log-level=info")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		a.t.Fatalf("start consul: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	a.mu.Lock()
	a.cmd, a.done = cmd, done
	a.mu.Unlock()
	client, err := api.NewClient(ClientConfig(a.addr()))
	if err != nil {
		a.t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		leader, err := client.Status().Leader()
		if err == nil && leader != "" {
			return
		}
		select {
		case <-done:
			a.t.Fatalf("consul agent exited at start:\n%s", tailFile(a.log, 20))
		default:
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("consul agent at %s elected no leader within 60s (last: %q, %v):\n%s", a.addr(), leader, err, tailFile(a.log, 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop kills the agent with -9 and waits for it.
func (a *agent) stop() {
	a.mu.Lock()
	cmd, done := a.cmd, a.done
	a.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
}

// agentBackend runs the scenarios on a real agent.
type agentBackend struct{ a *agent }

func (b *agentBackend) link(t *testing.T, cfg Config) link {
	p := newProxy(t, b.a.addr())
	cfg.Addr = "http://" + p.addr()
	s, err := newConsulStore(cfg.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	return &proxyLink{proxy: p, s: s}
}

func (b *agentBackend) restart(t *testing.T) {
	b.a.stop()
	b.a.start()
}

func (b *agentBackend) destroySession(t *testing.T, id string) {
	client, err := api.NewClient(ClientConfig(b.a.addr()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Session().Destroy(id, nil); err != nil {
		t.Fatalf("destroy session %s: %v", id, err)
	}
}

type proxyLink struct {
	*proxy
	s *consulStore
}

func (l *proxyLink) store() store { return l.s }

// proxy forwards TCP from a loopback port to Consul. cut turns it into a
// blackhole (connections open, nothing answers), heal undoes that, kill
// closes its port and every connection for good.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	mode   int // linkUp, linkBlackhole, linkRefused
	conns  map[net.Conn]bool
	ups    map[net.Conn]bool
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}, ups: map[net.Conn]bool{}}
	go p.accept()
	t.Cleanup(p.kill)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		if mode == linkRefused {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.conns[c] = true
		p.mu.Unlock()
		if mode == linkBlackhole {
			continue // held open, silent, until heal or kill
		}
		go p.forward(c)
	}
}

func (p *proxy) forward(c net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, time.Second)
	if err != nil {
		p.drop(c)
		return
	}
	p.mu.Lock()
	if p.mode != linkUp {
		p.mu.Unlock()
		up.Close()
		return
	}
	p.ups[up] = true
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = io.Copy(up, c); up.Close() })
	wg.Go(func() { _, _ = io.Copy(c, up); up.Close() })
	wg.Wait()
	p.mu.Lock()
	delete(p.ups, up)
	blackhole := p.mode == linkBlackhole
	p.mu.Unlock()
	if !blackhole {
		p.drop(c)
	}
}

func (p *proxy) drop(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// cut: every connection, open or new, stops answering.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = linkBlackhole
	for up := range p.ups {
		up.Close()
	}
}

// heal: held connections are closed (the client dials again) and new ones
// are forwarded.
func (p *proxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = linkUp
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// kill: the port is closed, every connection with it.
func (p *proxy) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = linkRefused
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	for up := range p.ups {
		up.Close()
	}
}

// freeLoopbackPorts picks n ports free on 127.0.0.1 for both TCP and UDP.
func freeLoopbackPorts(n int) ([]int, error) {
	var ports []int
	var hold []io.Closer
	defer func() {
		for _, c := range hold {
			c.Close()
		}
	}()
	for tries := 0; len(ports) < n; tries++ {
		if tries > 100 {
			return nil, errors.New("no free ports")
		}
		tl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		hold = append(hold, tl)
		port := tl.Addr().(*net.TCPAddr).Port
		ul, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		hold = append(hold, ul)
		ports = append(ports, port)
	}
	return ports, nil
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// consulConfig is the default timings on a key of its own.
func consulConfig(t *testing.T) Config {
	return Config{App: strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()), Version: "test"}
}

// consulLimits: the first election is Lease + Grace after start; takeover
// after kill -9 is the target.
var consulLimits = limits{elect: 15 * time.Second, takeover: 10 * time.Second}

func TestConsulElect(t *testing.T) {
	a := startAgent(t)
	scenarioElect(t, &agentBackend{a}, consulConfig(t), consulLimits)
}

// TestConsulTakeoverAfterKill prints the takeover time after kill -9 of the
// active manager (the benchmark figure), twice.
func TestConsulTakeoverAfterKill(t *testing.T) {
	a := startAgent(t)
	figures := scenarioKill(t, &agentBackend{a}, consulConfig(t), consulLimits)
	t.Logf("takeover after kill -9 (target ≤ %v): %v", consulLimits.takeover, fmt.Sprint(roundAll(figures)))
}

func TestConsulCutOff(t *testing.T) {
	a := startAgent(t)
	scenarioCut(t, &agentBackend{a}, consulConfig(t), consulLimits)
}

func TestConsulRestart(t *testing.T) {
	a := startAgent(t)
	scenarioRestart(t, &agentBackend{a}, consulConfig(t), consulLimits)
}

func TestConsulSessionDestroyed(t *testing.T) {
	a := startAgent(t)
	scenarioDestroyed(t, &agentBackend{a}, consulConfig(t), consulLimits)
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// TestConsulStore pins the Consul behaviour the package comment's argument
// rests on: a beat (extend) never takes a free key, a standby's unlock is
// refused once the key changed, and an invalidated session's lock-delay
// refuses the next acquisition.
func TestConsulStore(t *testing.T) {
	a := startAgent(t)
	cfg := consulConfig(t)
	cfg.Addr = a.addr()
	s, err := newConsulStore(cfg.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	to := DefaultTimeout
	must := func(ok bool, err error) bool {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	sa, err := s.createSession(ctx, "a", to)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := s.createSession(ctx, "b", to)
	if err != nil {
		t.Fatal(err)
	}
	if must(s.extend(ctx, sa, []byte("a0"), to)) {
		t.Error("extend took a free key")
	}
	if !must(s.acquire(ctx, sa, []byte("a1"), to)) {
		t.Fatal("acquire of a free key refused")
	}
	if must(s.acquire(ctx, sb, []byte("b1"), to)) || must(s.extend(ctx, sb, []byte("b1"), to)) {
		t.Error("b took a key a holds")
	}
	k1, err := s.read(ctx, readOpts{consistent: true, timeout: to})
	if err != nil || k1.Session != sa || string(k1.Value) != "a1" {
		t.Fatalf("read = %+v, %v; want held by a with a1", k1, err)
	}
	if !must(s.extend(ctx, sa, []byte("a2"), to)) {
		t.Fatal("extend by the holder refused")
	}
	k2, _ := s.read(ctx, readOpts{consistent: true, timeout: to})
	if k2.ModifyIndex == k1.ModifyIndex {
		t.Errorf("a beat left ModifyIndex at %d", k1.ModifyIndex)
	}
	if must(s.evict(ctx, sa, k1.ModifyIndex, to)) {
		t.Error("unlock with a stale ModifyIndex went through")
	}
	if !must(s.evict(ctx, sa, k2.ModifyIndex, to)) {
		t.Fatal("unlock of a key that stood still refused")
	}
	if must(s.extend(ctx, sa, []byte("a3"), to)) {
		t.Error("the evicted holder's beat took the key back")
	}
	if ok := must(s.sessionValid(ctx, sa, to)); !ok {
		t.Error("eviction ended the holder's session")
	}
	if !must(s.acquire(ctx, sb, []byte("b2"), to)) {
		t.Fatal("acquire after the unlock refused")
	}
	// Invalidating b's session applies lock-delay (DefaultLockDelay).
	start := time.Now()
	if err := s.destroySession(ctx, sb, to); err != nil {
		t.Fatal(err)
	}
	if must(s.renewSession(ctx, sb, to)) {
		t.Error("renew of a destroyed session succeeded")
	}
	for !must(s.acquire(ctx, sa, []byte("a4"), to)) {
		time.Sleep(50 * time.Millisecond)
	}
	if d := time.Since(start); d < DefaultLockDelay-100*time.Millisecond {
		t.Errorf("acquired %v after the holder's session was destroyed, before lock-delay %v", d, DefaultLockDelay)
	} else {
		t.Logf("acquired %v after the holder's session was destroyed (lock-delay %v)", d.Round(time.Millisecond), DefaultLockDelay)
	}
}
