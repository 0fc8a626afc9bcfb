package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ConsulVersion is the Consul release the lab runs for the Consul hook's
// tests: the version integration/consulbin/go.mod requires (a unit test
// keeps the two equal). Consul v1.21.5 cannot be built from the module
// proxy this project uses (its envoyextensions v0.8.4 and troubleshoot
// v0.7.6 are refused), v1.22.2's sibling modules all are available.
const ConsulVersion = "v1.22.2"

// consulBuildEnv is the environment the Consul build adds: the checksum
// database is skipped for HashiCorp's modules (some nested module versions
// are missing from it), go.mod may be completed, and no VCS stamping.
var consulBuildEnv = []string{"GONOSUMDB=github.com/hashicorp", "GOFLAGS=-mod=mod -buildvcs=false", "GOWORK=off", "CGO_ENABLED=0"}

// ConsulBinary is where EnsureConsul keeps the built agent.
func ConsulBinary() string { return filepath.Join(cacheDir, "consul-"+ConsulVersion) }

// consulModuleDir locates integration/consulbin from this file's
// compile-time path; "" when the source tree is not there.
func consulModuleDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	d := filepath.Join(filepath.Dir(file), "..", "consulbin")
	if _, err := os.Stat(filepath.Join(d, "go.mod")); err != nil {
		return ""
	}
	return d
}

// EnsureConsul returns the path of the Consul agent binary, building it
// from integration/consulbin (pinned to ConsulVersion) into
// /var/cache/gomha-lab when it is not there yet. The build takes minutes
// (Consul is a large program); concurrent callers wait for one build under a
// file lock. `make lab-deps` runs it up front.
func EnsureConsul(ctx context.Context, log io.Writer) (string, error) {
	if log == nil {
		log = io.Discard
	}
	dst := ConsulBinary()
	if st, err := os.Stat(dst); err == nil && st.Mode()&0o111 != 0 {
		return dst, nil
	}
	unlock, err := lockFile(ctx, filepath.Join(cacheDir, "consul.lock"))
	if err != nil {
		return "", fmt.Errorf("lab: build consul: %w", err)
	}
	defer unlock()
	if st, err := os.Stat(dst); err == nil && st.Mode()&0o111 != 0 {
		return dst, nil
	}
	mod := consulModuleDir()
	if mod == "" {
		return "", fmt.Errorf("lab: build consul: integration/consulbin not found next to the lab's source; build github.com/hashicorp/consul %s into %s by hand", ConsulVersion, dst)
	}
	tmp, err := os.CreateTemp(cacheDir, "consul-build-")
	if err != nil {
		return "", fmt.Errorf("lab: build consul: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	fmt.Fprintf(log, "lab: building consul %s into %s (takes minutes, once)\n", ConsulVersion, dst)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", tmp.Name(), "github.com/hashicorp/consul")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), consulBuildEnv...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("lab: build consul %s in %s: %w\n%s", ConsulVersion, mod, err, lastLines(string(out), 20))
	}
	if err := os.Chmod(tmp.Name(), 0o755); err != nil {
		return "", fmt.Errorf("lab: build consul: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("lab: build consul: %w", err)
	}
	fmt.Fprintf(log, "lab: built consul %s in %v\n", ConsulVersion, time.Since(start).Round(time.Second))
	return dst, nil
}

// Consul is a Consul agent in -dev mode (one server, state in memory) that
// the lab runs in the root namespace, listening on the lab's bridge address
// only, so every host of the lab and the test process reach it.
type Consul struct {
	// HTTPAddr is the HTTP API's address ("198.18.N.1:PORT").
	HTTPAddr string
	// DNSAddr is the DNS interface's address (UDP and TCP).
	DNSAddr string
	// Log is the agent's log file.
	Log string

	proc *Process
	// keep is the write end of the wrapper's stdin: when the test process
	// dies without Close, the wrapper reads end of file and kills the agent.
	keep *os.File
}

// URL is the HTTP API's base URL, for `mha hook consul --consul_addr=`.
func (c *Consul) URL() string { return "http://" + c.HTTPAddr }

// Resolver returns a resolver that asks only the agent's DNS interface.
func (c *Consul) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		if strings.HasPrefix(network, "tcp") {
			return d.DialContext(ctx, "tcp", c.DNSAddr)
		}
		return d.DialContext(ctx, "udp", c.DNSAddr)
	}}
}

// consulWrapper runs the agent in the background and kills it when its own
// stdin (a pipe from the test process) ends: the test process's death cleans
// the agent up even without Close. Close kills the whole process group.
const consulWrapper = `"$@" </dev/null & p=$!
read -r _ || :
kill -9 "$p" 2>/dev/null
exit 0`

// StartConsul starts a Consul agent for this lab (EnsureConsul builds the
// binary first when needed) and waits until it has elected itself leader.
// Ports are picked free on the bridge address; the agent's log is
// consul/consul.log in the lab directory. Close kills it.
func (l *Lab) StartConsul(ctx context.Context) (*Consul, error) {
	binary, err := EnsureConsul(ctx, l.opts.Log)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(l.Dir, "consul")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: consul: %w", err)
	}
	ports, err := freePorts(l.BridgeIP, 5)
	if err != nil {
		return nil, fmt.Errorf("lab: consul: pick ports on %s: %w", l.BridgeIP, err)
	}
	conf := map[string]any{
		"disable_update_check": true,
		"ports": map[string]int{
			"http": ports[0], "dns": ports[1], "serf_lan": ports[2], "serf_wan": ports[3], "server": ports[4],
			"grpc": -1, "grpc_tls": -1, "https": -1,
		},
	}
	b, err := json.Marshal(conf)
	if err != nil {
		return nil, err
	}
	confFile := filepath.Join(dir, "agent.json")
	if err := os.WriteFile(confFile, b, 0o644); err != nil {
		return nil, fmt.Errorf("lab: consul: %w", err)
	}
	c := &Consul{
		HTTPAddr: net.JoinHostPort(l.BridgeIP, strconv.Itoa(ports[0])),
		DNSAddr:  net.JoinHostPort(l.BridgeIP, strconv.Itoa(ports[1])),
		Log:      filepath.Join(dir, "consul.log"),
	}
	logf, err := os.OpenFile(c.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lab: consul: %w", err)
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("lab: consul: %w", err)
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", "-c", consulWrapper, "sh", binary, "agent", "-dev",
		"-node=gomha-lab", "-bind="+l.BridgeIP, "-client="+l.BridgeIP, "-data-dir="+filepath.Join(dir, "data"),
		"-config-file="+confFile, "-log-level=info")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r, logf, logf
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("lab: start consul: %w", err)
	}
	p := &Process{Name: "consul agent", Pid: cmd.Process.Pid, Log: c.Log, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		w.Close()
		close(p.done)
	}()
	c.proc, c.keep = p, w
	// Close kills every host's processes; the agent runs in the root
	// namespace but is filed with the first host's so that it goes too.
	h := l.Hosts[0]
	h.mu.Lock()
	h.procs = append(h.procs, p)
	h.mu.Unlock()

	if err := c.waitLeader(ctx, 90*time.Second); err != nil {
		_ = p.Kill()
		return nil, fmt.Errorf("lab: consul: %w\n%s", err, tail(c.Log, 20))
	}
	l.logf("consul %s: http %s, dns %s", ConsulVersion, c.HTTPAddr, c.DNSAddr)
	return c, nil
}

// Stop kills the agent (Close does it too).
func (c *Consul) Stop() error { return c.proc.Kill() }

// waitLeader polls /v1/status/leader until the agent names a leader.
func (c *Consul) waitLeader(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for {
		if c.proc.Exited() {
			return fmt.Errorf("agent %s", c.proc.exitDescription())
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL()+"/v1/status/leader", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			var leader string
			derr := json.NewDecoder(resp.Body).Decode(&leader)
			resp.Body.Close()
			if derr == nil && leader != "" {
				return nil
			}
			last = fmt.Sprintf("status %s, leader %q", resp.Status, leader)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no leader at %s within %v (last: %s)", c.HTTPAddr, limit, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// freePorts picks n ports on ip that are free for both TCP and UDP (DNS and
// Serf use both).
func freePorts(ip string, n int) ([]int, error) {
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
		tl, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return nil, err
		}
		hold = append(hold, tl)
		port := tl.Addr().(*net.TCPAddr).Port
		ul, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if err != nil {
			continue
		}
		hold = append(hold, ul)
		ports = append(ports, port)
	}
	return ports, nil
}
