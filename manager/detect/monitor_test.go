package detect

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomha/gomha/manager/config"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMonitorHungMaster runs a Monitor against a loopback port that
// accepts connections and never sends a greeting, as a SIGSTOPped mysqld's
// port does: every connect must run into its ping_interval deadline and
// count as a failure, so the master is declared dead after the threshold
// instead of being watched for ever.
func TestMonitorHungMaster(t *testing.T) {
	hung := serve(t, func(net.Conn) {})
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	noSSH := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	const interval = 200 * time.Millisecond
	master := config.Server{Block: "server1", Params: config.Params{
		Hostname: "127.0.0.1", IP: "127.0.0.1", Port: hung,
		User: "mha", Password: "secret", PingInterval: interval,
		SSHHost: "127.0.0.1", SSHIP: "127.0.0.1", SSHPort: noSSH, SSHUser: "nobody",
		SSHConnectionTimeout: time.Second,
	}}
	var logs syncBuffer
	var mu sync.Mutex
	var states []State
	m := &Monitor{
		Config: &config.Config{File: "app1.cnf", Servers: []config.Server{master}},
		Master: master,
		Log:    slog.New(slog.NewTextHandler(&logs, nil)),
		OnState: func(s State) {
			mu.Lock()
			states = append(states, s)
			mu.Unlock()
		},
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	start := time.Now()
	v, err := m.Run(ctx)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, logs.String())
	}
	took := time.Since(start)
	t.Logf("verdict after %s:\n%s", took, logs.String())
	// First connect: ping_interval plus the 4 × ping_interval lock budget;
	// then three retries, each bounded by ping_interval.
	if took > 5*time.Second {
		t.Errorf("verdict after %s, want about 2 s with ping_interval=%s", took, interval)
	}
	if got := strings.Count(logs.String(), "Got error on MySQL connect (timed out)"); got != DefaultThreshold {
		t.Errorf("%d failed connects logged, want %d:\n%s", got, DefaultThreshold, logs.String())
	}
	if v.SSHReachable != 0 || v.Kind != FailureUnknown || v.Master.Port != hung {
		t.Errorf("verdict %+v, want ssh 0 and kind unknown (no replicas asked)", v)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(states) == 0 || states[len(states)-1] != StatePingFailed {
		t.Errorf("states %v, want PING_FAILED last", states)
	}
	if strings.Contains(logs.String(), "secret") {
		t.Errorf("the password reached the log")
	}
}
