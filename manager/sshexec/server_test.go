package sshexec

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// testServer is an in-process SSH server on 127.0.0.1 that runs exec
// requests with /bin/sh on this machine.
type testServer struct {
	t        *testing.T
	addr     string // 127.0.0.1:port
	port     int
	hostKeys []ssh.Signer
	ln       net.Listener

	mu          sync.Mutex
	authorized  map[string]bool // marshalled public keys
	conns       []net.Conn
	signals     []string // signal requests received
	env         []string // environment of commands; nil: inherit
	noKeepAlive bool     // never answer global requests
	// ignoreSignals refuses "signal" requests, as OpenSSH's sshd does for
	// root logins.
	ignoreSignals bool
	running       map[*exec.Cmd]bool
	wg            sync.WaitGroup
}

// newTestServer starts a server with the given host keys (one Ed25519 key
// when none) that accepts the given client keys.
func newTestServer(t *testing.T, hostKeys []ssh.Signer, clients ...ssh.PublicKey) *testServer {
	t.Helper()
	if len(hostKeys) == 0 {
		hostKeys = []ssh.Signer{newEd25519Signer(t)}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, ln: ln, hostKeys: hostKeys, authorized: map[string]bool{}, running: map[*exec.Cmd]bool{}}
	s.addr = ln.Addr().String()
	s.port = ln.Addr().(*net.TCPAddr).Port
	for _, k := range clients {
		s.authorized[string(k.Marshal())] = true
	}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.close)
	return s
}

func (s *testServer) close() {
	_ = s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		_ = c.Close()
	}
	for cmd := range s.running {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// processes returns how many commands are still running.
func (s *testServer) processes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.running)
}

// waitNoProcesses waits up to d for every command to end.
func (s *testServer) waitNoProcesses(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if s.processes() == 0 {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

func (s *testServer) signalsSeen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.signals...)
}

func (s *testServer) serve() {
	defer s.wg.Done()
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.authorized[string(key.Marshal())] {
				return nil, nil
			}
			return nil, errors.New("key not authorized")
		},
	}
	for _, k := range s.hostKeys {
		cfg.AddHostKey(k)
	}
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, nc)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handleConn(nc, cfg)
		}()
	}
}

func (s *testServer) handleConn(nc net.Conn, cfg *ssh.ServerConfig) {
	defer nc.Close()
	sc, chans, reqs, err := ssh.NewServerConn(nc, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for r := range reqs {
			if s.noKeepAlive {
				continue // leave the client waiting
			}
			if r.WantReply {
				_ = r.Reply(false, nil) // what OpenSSH answers to keepalive@openssh.com
			}
		}
	}()
	for nch := range chans {
		if nch.ChannelType() != "session" {
			_ = nch.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handleSession(ch, creqs)
		}()
	}
}

// handleSession serves one session channel: one exec request, signals.
func (s *testServer) handleSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var cmd *exec.Cmd
	exited := make(chan struct{})
	waitExit := exited // nil once the exit was handled
	for {
		select {
		case r, ok := <-reqs:
			if !ok {
				// Channel closed by the client. Like sshd, leave the
				// process alone: it sees end of file on its stdin.
				return
			}
			switch r.Type {
			case "exec":
				if cmd != nil {
					_ = r.Reply(false, nil)
					continue
				}
				var p struct{ Command string }
				if err := ssh.Unmarshal(r.Payload, &p); err != nil {
					_ = r.Reply(false, nil)
					continue
				}
				cmd = s.start(ch, p.Command, exited)
				_ = r.Reply(cmd != nil, nil)
				if cmd == nil {
					return
				}
			case "signal":
				var p struct{ Signal string }
				_ = ssh.Unmarshal(r.Payload, &p)
				s.mu.Lock()
				s.signals = append(s.signals, p.Signal)
				s.mu.Unlock()
				if cmd != nil && !s.ignoreSignals {
					if sig, ok := signalNumbers[p.Signal]; ok {
						_ = syscall.Kill(-cmd.Process.Pid, sig)
					}
				}
				if r.WantReply {
					_ = r.Reply(true, nil)
				}
			default:
				if r.WantReply {
					_ = r.Reply(false, nil)
				}
			}
		case <-waitExit:
			// Reported by start's goroutine; close, then wait for the client.
			waitExit = nil
			_ = ch.CloseWrite()
			_ = ch.Close()
		}
	}
}

var signalNumbers = map[string]syscall.Signal{
	"TERM": syscall.SIGTERM, "KILL": syscall.SIGKILL, "INT": syscall.SIGINT, "HUP": syscall.SIGHUP,
}

var signalNames = map[syscall.Signal]string{
	syscall.SIGTERM: "TERM", syscall.SIGKILL: "KILL", syscall.SIGINT: "INT", syscall.SIGHUP: "HUP",
}

// start runs command with /bin/sh; when it ends it sends exit-status or
// exit-signal and closes exited.
func (s *testServer) start(ch ssh.Channel, command string, exited chan struct{}) *exec.Cmd {
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s.mu.Lock()
	cmd.Env = s.env
	s.mu.Unlock()
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil
	}
	if err := cmd.Start(); err != nil {
		return nil
	}
	s.mu.Lock()
	s.running[cmd] = true
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_, _ = io.Copy(stdin, ch)
		_ = stdin.Close()
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(exited)
		err := cmd.Wait()
		s.mu.Lock()
		delete(s.running, cmd)
		s.mu.Unlock()
		var ws syscall.WaitStatus
		if cmd.ProcessState != nil {
			ws, _ = cmd.ProcessState.Sys().(syscall.WaitStatus)
		}
		if err != nil && ws.Signaled() {
			name := signalNames[ws.Signal()]
			if name == "" {
				name = "USR1"
			}
			_, _ = ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
				Signal     string
				CoreDumped bool
				Error      string
				Lang       string
			}{Signal: name}))
			return
		}
		code := 0
		if cmd.ProcessState != nil {
			code = cmd.ProcessState.ExitCode()
		}
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(code))
		_, _ = ch.SendRequest("exit-status", false, b[:])
	}()
	return cmd
}

// silentListener accepts TCP connections and never says a word.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// closedPort returns a 127.0.0.1 port on which nothing listens.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port
}

func newEd25519Signer(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newRSASigner(t *testing.T) ssh.Signer {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeKey writes a new Ed25519 private key in OpenSSH format to path and
// returns its public key.
func writeKey(t *testing.T, path string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "test key")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// writeKnownHosts writes a known_hosts file listing keys for addr.
func writeKnownHosts(t *testing.T, path, addr string, keys ...ssh.PublicKey) {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("# test known_hosts\n")
	b.WriteString(knownhosts.Line([]string{"other.example"}, keys[0]) + "\n")
	for _, k := range keys {
		b.WriteString(knownhosts.Line([]string{knownhosts.Normalize(addr)}, k) + "\n")
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// env is a test fixture: a server, a client key and a known_hosts file.
type env struct {
	srv        *testServer
	dir        string
	key        string // client private key path
	knownHosts string
}

// newEnv starts a server that accepts a fresh client key, with the server's
// host key recorded in knownHosts. HOME points to an empty directory and
// SSH_AUTH_SOCK is unset, so nothing from the machine leaks in.
func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", filepath.Join(dir, "home"))
	t.Setenv("SSH_AUTH_SOCK", "")
	e := &env{dir: dir, key: filepath.Join(dir, "id_test"), knownHosts: filepath.Join(dir, "known_hosts")}
	pub := writeKey(t, e.key)
	e.srv = newTestServer(t, nil, pub)
	writeKnownHosts(t, e.knownHosts, e.srv.addr, e.srv.hostKeys[0].PublicKey())
	return e
}

// options returns ssh_options naming the env's key and known_hosts, plus extra.
func (e *env) options(t *testing.T, extra string) Options {
	t.Helper()
	raw := fmt.Sprintf("-i %s -o UserKnownHostsFile=%s -o GlobalKnownHostsFile=/dev/null %s", e.key, e.knownHosts, extra)
	o, err := ParseOptions(raw)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// target returns a Target for the env's server.
func (e *env) target(t *testing.T, extra string) Target {
	return Target{Host: "127.0.0.1", Port: e.srv.port, User: "tester", Options: e.options(t, extra), ConnectTimeout: 5 * time.Second}
}

// portString is strconv.Itoa, for readability in tests.
func portString(p int) string { return strconv.Itoa(p) }
