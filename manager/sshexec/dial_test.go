package sshexec

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func dialOK(t *testing.T, tgt Target) *Client {
	t.Helper()
	c, err := Dial(context.Background(), tgt)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestDialAuthOK(t *testing.T) {
	e := newEnv(t)
	c := dialOK(t, e.target(t, ""))
	res, err := c.Run(context.Background(), []string{"echo", "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "hello\n" {
		t.Errorf("stdout = %q", res.Stdout)
	}
	if want := "tester@127.0.0.1:" + portString(e.srv.port); c.String() != want {
		t.Errorf("String() = %q, want %q", c.String(), want)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.Run(context.Background(), []string{"true"}); !errors.Is(err, ErrConnectionLost) {
		t.Errorf("Run after Close = %v, want ErrConnectionLost", err)
	}
}

func TestDialWrongKey(t *testing.T) {
	e := newEnv(t)
	other := filepath.Join(e.dir, "id_other")
	writeKey(t, other)
	tgt := e.target(t, "")
	tgt.Options.IdentityFiles = []string{other}
	_, err := Dial(context.Background(), tgt)
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("Dial = %v, want ErrAuth", err)
	}
	var de *DialError
	if !errors.As(err, &de) {
		t.Fatalf("%T is not a *DialError", err)
	}
	for _, want := range []string{"tester", other, "SHA256:", "authorized_keys", "127.0.0.1:" + portString(e.srv.port)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestDialNoUsableKey(t *testing.T) {
	e := newEnv(t)
	tgt := e.target(t, "")
	missing := filepath.Join(e.dir, "nope")
	enc := filepath.Join(e.dir, "encrypted")
	if err := os.WriteFile(enc, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tgt.Options.IdentityFiles = []string{missing, enc}
	_, err := Dial(context.Background(), tgt)
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("Dial = %v, want ErrAuth", err)
	}
	for _, want := range []string{missing + ": no such file", enc + ": not a private key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// Without IdentityFile, keys are taken from ~/.ssh.
func TestDialDefaultKeys(t *testing.T) {
	e := newEnv(t)
	home := os.Getenv("HOME")
	// Default key that the server does not know, and one it knows.
	writeKey(t, filepath.Join(home, ".ssh", "id_ed25519"))
	data, err := os.ReadFile(e.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "id_rsa"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	tgt := e.target(t, "")
	tgt.Options.IdentityFiles = nil
	dialOK(t, tgt)

	if err := os.Remove(filepath.Join(home, ".ssh", "id_rsa")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(home, ".ssh", "id_ed25519")); err != nil {
		t.Fatal(err)
	}
	_, err = Dial(context.Background(), tgt)
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "id_ed25519, id_ecdsa and id_rsa") {
		t.Errorf("Dial without keys = %v, want ErrAuth naming the default keys", err)
	}
}

func TestDialHostKeyMismatch(t *testing.T) {
	e := newEnv(t)
	impostor := newEd25519Signer(t)
	writeKnownHosts(t, e.knownHosts, e.srv.addr, impostor.PublicKey())
	_, err := Dial(context.Background(), e.target(t, ""))
	if !errors.Is(err, ErrHostKey) {
		t.Fatalf("Dial = %v, want ErrHostKey", err)
	}
	if errors.Is(err, ErrUnknownHost) {
		t.Errorf("a mismatch must not match ErrUnknownHost: %v", err)
	}
	for _, want := range []string{"MISMATCH", e.knownHosts + ":3", ssh.FingerprintSHA256(e.srv.hostKeys[0].PublicKey()),
		ssh.FingerprintSHA256(impostor.PublicKey()), "[127.0.0.1]:" + portString(e.srv.port)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	// accept-new must not accept a changed key either.
	_, err = Dial(context.Background(), e.target(t, "-o StrictHostKeyChecking=accept-new"))
	if !errors.Is(err, ErrHostKey) {
		t.Errorf("accept-new with a changed key: Dial = %v, want ErrHostKey", err)
	}
	// StrictHostKeyChecking=no accepts anything, as MHA did.
	dialOK(t, e.target(t, "-o StrictHostKeyChecking=no"))
}

func TestDialUnknownHost(t *testing.T) {
	e := newEnv(t)
	empty := filepath.Join(e.dir, "empty_known_hosts")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tgt := e.target(t, "")
	tgt.Options.KnownHostsFiles = []string{empty}
	_, err := Dial(context.Background(), tgt)
	if !errors.Is(err, ErrHostKey) || !errors.Is(err, ErrUnknownHost) {
		t.Fatalf("Dial = %v, want ErrHostKey and ErrUnknownHost", err)
	}
	for _, want := range []string{"not in known_hosts", empty, "accept-new"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}

	// No known_hosts file at all: same class of error.
	tgt.Options.KnownHostsFiles = []string{filepath.Join(e.dir, "missing")}
	if _, err := Dial(context.Background(), tgt); !errors.Is(err, ErrUnknownHost) ||
		!strings.Contains(err.Error(), "missing") {
		t.Errorf("Dial without known_hosts = %v, want ErrUnknownHost naming the file", err)
	}

	tgt.Options.HostKeyPolicy = HostKeyAcceptAny
	dialOK(t, tgt)
}

func TestDialAcceptNew(t *testing.T) {
	e := newEnv(t)
	rec := filepath.Join(e.dir, "new", "sub", "known_hosts") // directory does not exist yet
	tgt := e.target(t, "-o StrictHostKeyChecking=accept-new")
	tgt.Options.KnownHostsFiles = []string{rec}
	dialOK(t, tgt)
	data, err := os.ReadFile(rec)
	if err != nil {
		t.Fatalf("known_hosts not written: %v", err)
	}
	want := "[127.0.0.1]:" + portString(e.srv.port) + " ssh-ed25519 "
	if !strings.HasPrefix(string(data), want) || strings.Count(string(data), "\n") != 1 {
		t.Errorf("recorded %q, want one line starting with %q", data, want)
	}
	if st, err := os.Stat(rec); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("known_hosts mode: %v %v", st.Mode(), err)
	}

	// The recorded key now verifies in strict mode.
	tgt.Options.HostKeyPolicy = HostKeyVerify
	dialOK(t, tgt)
	// A second accept-new dial does not add a duplicate.
	tgt.Options.HostKeyPolicy = HostKeyAcceptNew
	dialOK(t, tgt)
	data, _ = os.ReadFile(rec)
	if strings.Count(string(data), "\n") != 1 {
		t.Errorf("known_hosts after second dial:\n%s", data)
	}
}

// A server with RSA and Ed25519 host keys, known only by its Ed25519 key,
// must be asked for that key (x/crypto would otherwise prefer RSA and report
// a mismatch).
func TestDialKnownKeyTypeNegotiated(t *testing.T) {
	e := newEnv(t)
	edKey := newEd25519Signer(t)
	srv := newTestServer(t, []ssh.Signer{newRSASigner(t), edKey}, mustPublicKeyOfFile(t, e.key))
	kh := filepath.Join(e.dir, "ed25519_known_hosts")
	writeKnownHosts(t, kh, srv.addr, edKey.PublicKey())
	tgt := e.target(t, "")
	tgt.Port = srv.port
	tgt.Options.KnownHostsFiles = []string{kh}
	dialOK(t, tgt)
}

func mustPublicKeyOfFile(t *testing.T, path string) ssh.PublicKey {
	t.Helper()
	s, err := readKey(path)
	if err != nil {
		t.Fatal(err)
	}
	return s.PublicKey()
}

func TestDialConnectionRefused(t *testing.T) {
	e := newEnv(t)
	tgt := e.target(t, "")
	tgt.Port = closedPort(t)
	_, err := Dial(context.Background(), tgt)
	if !errors.Is(err, ErrConnect) || errors.Is(err, ErrTimeout) {
		t.Fatalf("Dial = %v, want ErrConnect", err)
	}
	if !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "port "+portString(tgt.Port)) {
		t.Errorf("error %q should say connection refused and the port", err)
	}
}

func TestDialTimeout(t *testing.T) {
	e := newEnv(t)
	addr := silentListener(t)
	_, port, _ := net.SplitHostPort(addr)
	tgt := e.target(t, "")
	tgt.Port = atoi(t, port)
	tgt.ConnectTimeout = 300 * time.Millisecond
	start := time.Now()
	_, err := Dial(context.Background(), tgt)
	elapsed := time.Since(start)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Dial = %v, want ErrTimeout", err)
	}
	if elapsed > 2*time.Second {
		t.Errorf("Dial took %v with a 300ms timeout", elapsed)
	}
	if !strings.Contains(err.Error(), "no SSH handshake within 300ms") {
		t.Errorf("error %q should say the handshake timed out", err)
	}

	// The connect timeout from ssh_options applies when the target has none.
	tgt.ConnectTimeout = 0
	tgt.Options.ConnectTimeout = 200 * time.Millisecond
	start = time.Now()
	if _, err := Dial(context.Background(), tgt); !errors.Is(err, ErrTimeout) || time.Since(start) > 2*time.Second {
		t.Errorf("Dial with options timeout = %v after %v", err, time.Since(start))
	}

	// ConnectionAttempts retries a timed-out connect, one second apart.
	tgt.Options.ConnectionAttempts = 2
	start = time.Now()
	if _, err := Dial(context.Background(), tgt); !errors.Is(err, ErrTimeout) {
		t.Errorf("Dial with 2 attempts = %v", err)
	}
	if d := time.Since(start); d < 1300*time.Millisecond || d > 3*time.Second {
		t.Errorf("two attempts took %v, want about 1.4s", d)
	}
}

func TestDialContext(t *testing.T) {
	e := newEnv(t)
	addr := silentListener(t)
	_, port, _ := net.SplitHostPort(addr)
	tgt := e.target(t, "")
	tgt.Port = atoi(t, port)
	tgt.ConnectTimeout = time.Minute

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := Dial(ctx, tgt)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
		t.Errorf("cancelled Dial = %v after %v, want context.Canceled promptly", err, time.Since(start))
	}

	ctx, cancel = context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err = Dial(ctx, tgt)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrTimeout) {
		t.Errorf("Dial past deadline = %v, want DeadlineExceeded and ErrTimeout", err)
	}
}

func TestDialOptionsOverrideTarget(t *testing.T) {
	e := newEnv(t)
	tgt := e.target(t, "-o Port="+portString(e.srv.port))
	tgt.Port = closedPort(t) // ssh_options win, as on MHA's ssh command line
	dialOK(t, tgt)
}

func TestDialInvalidTarget(t *testing.T) {
	_, err := Dial(context.Background(), Target{})
	var de *DialError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "no host") {
		t.Errorf("Dial(Target{}) = %v", err)
	}
}

func TestRunOnce(t *testing.T) {
	e := newEnv(t)
	res, err := RunOnce(context.Background(), e.target(t, ""), []string{"sh", "-c", "echo out; echo err >&2; exit 4"})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 4 {
		t.Fatalf("RunOnce = %v, want exit 4", err)
	}
	if string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" || res.ExitCode != 4 {
		t.Errorf("res = %+v", res)
	}
	tgt := e.target(t, "")
	tgt.Port = closedPort(t)
	if res, err := RunOnce(context.Background(), tgt, []string{"true"}); !errors.Is(err, ErrConnect) || res.ExitCode != -1 {
		t.Errorf("RunOnce to closed port = %+v, %v", res, err)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("not a number: %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}
