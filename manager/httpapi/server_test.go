package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gomha/gomha/manager/config"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

const testToken = "0123456789abcdef0123456789abcdef"

// writeToken writes a token file with mode 0600 and returns its path.
func writeToken(t *testing.T, tok string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(tok), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask
		t.Fatal(err)
	}
	return path
}

// start runs a Server on 127.0.0.1:0 until the test ends and returns its
// base URL. The test fails when Run does not return nil after the cancel.
func start(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(ShutdownTimeout + time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
	return s, "http://" + s.Addr()
}

type answer struct {
	code   int
	header http.Header
	body   string
}

// get sends method to url with an optional Authorization header value.
func get(t *testing.T, method, url, authorization string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func newSource(apps ...string) *fakeSource {
	f := &fakeSource{statuses: map[string]ClusterStatus{}}
	for _, app := range apps {
		f.statuses[app] = statusOf(testConfig(app), "")
	}
	return f
}

func TestIsLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
		err  bool
	}{
		{"127.0.0.1:8080", true, false},
		{"127.9.9.9:0", true, false},
		{"[::1]:8080", true, false},
		{"localhost:8080", true, false},
		{"LocalHost:8080", true, false},
		{"[::ffff:127.0.0.1]:8080", true, false},
		{"0.0.0.0:8080", false, false},
		{":8080", false, false},
		{"[::]:8080", false, false},
		{"192.0.2.10:8080", false, false},
		{"manager1:8080", false, false}, // a name may resolve anywhere
		{"[fe80::1%eth0]:8080", false, false},
		{"127.0.0.1", false, true},
		{"127.0.0.1:", false, true},
		{"127.0.0.1:http-alt-nope", false, true},
		{"", false, true},
	} {
		got, err := IsLoopback(tc.addr)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("IsLoopback(%q) = %v, %v; want %v, error %v", tc.addr, got, err, tc.want, tc.err)
		}
		if err != nil && !errors.Is(err, ErrBadAddr) {
			t.Errorf("IsLoopback(%q): %v is not ErrBadAddr", tc.addr, err)
		}
	}
}

func TestNewRefusesBeyondLoopbackWithoutToken(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:9100", ":9100", "[::]:9100", "192.0.2.10:9100", "manager1:9100"} {
		_, err := New(Config{Addr: addr, Source: newSource()})
		if !errors.Is(err, ErrTokenRequired) {
			t.Errorf("New(%s) without a token: %v, want ErrTokenRequired", addr, err)
			continue
		}
		if !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "--http_token_file") {
			t.Errorf("New(%s): %q should name the address and the option", addr, err)
		}
	}
	// With a token it is accepted (not started).
	if _, err := New(Config{Addr: "0.0.0.0:9100", TokenFile: writeToken(t, testToken, 0o600), Source: newSource()}); err != nil {
		t.Errorf("New(0.0.0.0:9100) with a token: %v", err)
	}
	if _, err := New(Config{Addr: "127.0.0.1:9100"}); err == nil {
		t.Error("New without a Source: no error")
	}
}

func TestTokenFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		want          string // "" accepted, else a part of the error
	}{
		{"ok", testToken + "\n", 0o600, ""},
		{"group readable is fine", testToken, 0o640, ""},
		{"world readable", testToken, 0o644, "other users"},
		{"empty", "\n", 0o600, "empty"},
		{"short", "abc123", 0o600, "at least 16"},
		{"two words", testToken + " " + testToken, 0o600, "one word"},
		{"two lines", testToken + "\n" + testToken + "\n", 0o600, "one word"},
		{"missing", "", 0, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "missing")
			if tc.mode != 0 {
				path = writeToken(t, tc.content, tc.mode)
			}
			_, err := New(Config{Addr: "127.0.0.1:0", TokenFile: path, Source: newSource()})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrBadToken) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("New: %v; want ErrBadToken naming %s and saying %q", err, path, tc.want)
			}
			if strings.Contains(err.Error(), "abc123") || strings.Contains(err.Error(), testToken) {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

func TestEndpoints(t *testing.T) {
	_, base := start(t, Config{Source: newSource("app2", "app1"), Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "# metrics\n")
	})})

	a := get(t, "GET", base+"/healthz", "")
	if a.code != 200 || a.body != "ok\n" {
		t.Errorf("/healthz: %d %q", a.code, a.body)
	}

	a = get(t, "GET", base+"/api/v1/clusters", "")
	var list struct {
		Clusters []ClusterStatus `json:"clusters"`
	}
	if a.code != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
		t.Fatalf("/api/v1/clusters: %d %s", a.code, a.header.Get("Content-Type"))
	}
	if err := json.Unmarshal([]byte(a.body), &list); err != nil {
		t.Fatal(err)
	}
	want := []ClusterStatus{scrub(statusOf(testConfig("app1"), ""), nil), scrub(statusOf(testConfig("app2"), ""), nil)}
	if diff := cmp.Diff(want, list.Clusters); diff != "" {
		t.Errorf("/api/v1/clusters (-want +got):\n%s", diff)
	}

	a = get(t, "GET", base+"/api/v1/clusters/app2", "")
	var one ClusterStatus
	if err := json.Unmarshal([]byte(a.body), &one); a.code != 200 || err != nil {
		t.Fatalf("/api/v1/clusters/app2: %d %v", a.code, err)
	}
	if diff := cmp.Diff(want[1], one); diff != "" {
		t.Errorf("/api/v1/clusters/app2 (-want +got):\n%s", diff)
	}

	a = get(t, "GET", base+"/metrics", "")
	if a.code != 200 || a.body != "# metrics\n" {
		t.Errorf("/metrics: %d %q", a.code, a.body)
	}

	a = get(t, "HEAD", base+"/api/v1/clusters/app1", "")
	if a.code != 200 || a.body != "" {
		t.Errorf("HEAD: %d %q", a.code, a.body)
	}
}

// TestErrors: unknown app or path 404, other methods 405, all as JSON.
func TestErrors(t *testing.T) {
	_, base := start(t, Config{Source: newSource("app1")})
	for _, tc := range []struct {
		method, path string
		code         int
		msg          string
	}{
		{"GET", "/api/v1/clusters/nope", 404, "no cluster nope"},
		{"GET", "/api/v1/clusters/app1/extra", 404, "not found"},
		{"GET", "/api/v1/clusters/", 404, "not found"},
		{"GET", "/api/v1/clusters/app1%2Fx", 404, "no cluster app1/x"},
		{"GET", "/api/v2/clusters", 404, "not found"},
		{"GET", "/metrics", 404, "not found"}, // no Metrics handler given
		{"POST", "/api/v1/clusters", 405, "method POST not allowed"},
		{"DELETE", "/api/v1/clusters/app1", 405, "method DELETE not allowed"},
		{"PUT", "/healthz", 405, "method PUT not allowed"},
		{"POST", "/nowhere", 405, "method POST not allowed"},
	} {
		a := get(t, tc.method, base+tc.path, "")
		var body errorBody
		if err := json.Unmarshal([]byte(a.body), &body); err != nil || a.code != tc.code || !strings.Contains(body.Error, tc.msg) {
			t.Errorf("%s %s: %d %q (%v); want %d with %q", tc.method, tc.path, a.code, a.body, err, tc.code, tc.msg)
		}
		if tc.code == 405 && a.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", tc.method, tc.path, a.header.Get("Allow"))
		}
	}
}

func TestHealthzNotReady(t *testing.T) {
	src := newSource("app1")
	src.notReady = "configuration reload failed (password " + testPassword + ")"
	_, base := start(t, Config{Source: src, Secrets: func() []string { return SecretsOf(testConfig("app1")) }})
	a := get(t, "GET", base+"/healthz", "")
	if a.code != 503 || a.body != "not ready: configuration reload failed (password [redacted])\n" {
		t.Errorf("/healthz: %d %q", a.code, a.body)
	}
}

func TestAuth(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tokenFile := writeToken(t, testToken+"\n", 0o600)
	// A configured token is enforced on loopback too. The server built for
	// every interface is served through a loopback test listener: tests
	// stay off the network.
	for _, addr := range []string{"127.0.0.1:0", "0.0.0.0:0"} {
		t.Run(addr, func(t *testing.T) {
			cfg := Config{Addr: addr, TokenFile: tokenFile, Source: newSource("app1"), Metrics: http.NotFoundHandler(), Logger: logger}
			var base string
			if addr == "127.0.0.1:0" {
				_, base = start(t, cfg)
			} else {
				s, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				ts := httptest.NewServer(s.Handler())
				defer ts.Close()
				base = ts.URL
			}
			for _, tc := range []struct {
				name, path, auth string
				code             int
				challenge        string
			}{
				{"healthz needs none", "/healthz", "", 200, ""},
				{"healthz with a wrong one", "/healthz", "Bearer nope", 200, ""},
				{"no token", "/api/v1/clusters", "", 401, `Bearer realm="gomha"`},
				{"no token for metrics", "/metrics", "", 401, `Bearer realm="gomha"`},
				{"no token, unknown path", "/secret", "", 401, `Bearer realm="gomha"`},
				{"no token, unclean path", "/healthz/../api/v1/clusters", "", 401, `Bearer realm="gomha"`},
				{"basic scheme", "/api/v1/clusters", "Basic " + testToken, 401, `Bearer realm="gomha"`},
				{"bearer without token", "/api/v1/clusters", "Bearer ", 401, `Bearer realm="gomha"`},
				{"wrong token", "/api/v1/clusters", "Bearer " + testToken[:31] + "0", 401, `Bearer realm="gomha", error="invalid_token"`},
				{"token prefix", "/api/v1/clusters", "Bearer " + testToken[:16], 401, `Bearer realm="gomha", error="invalid_token"`},
				{"right token", "/api/v1/clusters", "Bearer " + testToken, 200, ""},
				{"right token, lower-case scheme", "/api/v1/clusters/app1", "bearer " + testToken, 200, ""},
				{"right token, unknown app", "/api/v1/clusters/nope", "Bearer " + testToken, 404, ""},
			} {
				a := get(t, "GET", base+tc.path, tc.auth)
				if a.code != tc.code || a.header.Get("WWW-Authenticate") != tc.challenge {
					t.Errorf("%s: %d, WWW-Authenticate %q; want %d, %q", tc.name, a.code, a.header.Get("WWW-Authenticate"), tc.code, tc.challenge)
				}
				if tc.code == 401 && strings.Contains(a.body, "app1") {
					t.Errorf("%s: a refused request was answered: %s", tc.name, a.body)
				}
			}
		})
	}
	if !strings.Contains(logs.String(), "wrong token") {
		t.Errorf("a wrong token was not logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), testToken[:16]) {
		t.Errorf("the log shows the token:\n%s", logs.String())
	}
}

// TestNoPassword: the statuses come from configurations holding passwords,
// and the servers' error texts carry them; no answer may show one.
func TestNoPassword(t *testing.T) {
	cfg := testConfig("app1")
	src := &fakeSource{statuses: map[string]ClusterStatus{
		"app1": statusOf(cfg, "Error 1045: Access denied for user 'mha' using "+testPassword),
	}}
	// Structurally: a status built from the configuration has no place
	// for a password; the only ones are in the servers' free text.
	plain := statusOf(cfg, "")
	plain.Replicas[1].Error = ""
	raw, err := json.Marshal(plain)
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{testPassword, testReplPassword} {
		if strings.Contains(string(raw), pw) {
			t.Errorf("a password in a status without free text: %s", raw)
		}
	}
	_, base := start(t, Config{Source: src, Secrets: func() []string { return SecretsOf(cfg) }})
	for _, path := range []string{"/api/v1/clusters", "/api/v1/clusters/app1"} {
		a := get(t, "GET", base+path, "")
		if a.code != 200 {
			t.Fatalf("%s: %d", path, a.code)
		}
		for _, pw := range []string{testPassword, testReplPassword} {
			if strings.Contains(a.body, pw) {
				t.Errorf("%s shows a password:\n%s", path, a.body)
			}
		}
		if strings.Count(a.body, Redacted) != 2 {
			t.Errorf("%s: want the 2 passwords in free text redacted:\n%s", path, a.body)
		}
	}
	// The source's own statuses are not modified by scrubbing.
	if st, _ := src.Cluster("app1"); !strings.Contains(st.Detection.LastError, testPassword) {
		t.Error("scrub changed the source's status")
	}
}

func TestSecretsOf(t *testing.T) {
	cfg := testConfig("app1")
	cfg.Servers[2].Password = "pw"
	cfg.Binlogs = []config.Server{{Block: "binlog1", Params: config.Params{Password: "binlog-secret"}}}
	got := SecretsOf(cfg, nil, testConfig("app2"))
	want := []string{testPassword, testReplPassword, "binlog-secret", "pw"} // longest first
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SecretsOf (-want +got):\n%s", diff)
	}
	if r := redact("x"+testPassword+"y pw", got); r != "x[redacted]y [redacted]" {
		t.Errorf("redact: %q", r)
	}
}

// TestGolden pins the JSON field names and shapes clients rely on.
func TestGolden(t *testing.T) {
	st := scrub(statusOf(testConfig("app1"), "ping timed out after 3s"), SecretsOf(testConfig("app1")))
	empty := scrub(ClusterStatus{App: "app9", Conf: "/etc/mha/app9.cnf"}, nil)
	got, err := json.MarshalIndent(clusterList{Clusters: []ClusterStatus{st, empty}}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "clusters.json")
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)+"\n"); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func TestListenError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	s, err := New(Config{Addr: addr, Source: newSource()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "httpapi: listen on "+addr) {
			t.Errorf("Run on a busy port: %v; want an error naming %s", err, addr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run on a busy port did not return")
	}
}

// TestGracefulShutdown: a request running when the context ends is
// answered before Run returns; new connections are refused after.
func TestGracefulShutdown(t *testing.T) {
	src := newSource("app1")
	src.block, src.entered = make(chan struct{}), make(chan struct{})
	s, err := New(Config{Addr: "127.0.0.1:0", Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	base := "http://" + s.Addr()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	got := make(chan answer, 1)
	go func() { got <- get(t, "GET", base+"/api/v1/clusters", "") }()
	<-src.entered
	cancel()
	select {
	case err := <-ran:
		t.Fatalf("Run returned while a request ran: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(src.block)
	if a := <-got; a.code != 200 || !strings.Contains(a.body, `"app": "app1"`) {
		t.Errorf("the running request: %d %q", a.code, a.body)
	}
	select {
	case err := <-ran:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(ShutdownTimeout):
		t.Fatal("Run did not return")
	}
	if _, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		t.Error("still accepting after Run returned")
	}
}

// TestShutdownBeforeRun: a Server shut down before it ran releases its
// port and Run returns nil at once.
func TestShutdownBeforeRun(t *testing.T) {
	s, err := New(Config{Addr: "127.0.0.1:0", Source: newSource()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err != nil {
		t.Errorf("Run after Shutdown: %v", err)
	}
	ln, err := net.Listen("tcp", s.Addr())
	if err != nil {
		t.Errorf("port not released: %v", err)
	} else {
		ln.Close()
	}
}
