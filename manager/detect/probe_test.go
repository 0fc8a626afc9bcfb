package detect

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomha/gomha/manager/sshexec"
)

// runLocal runs a probe argv on this host and shapes the outcome like
// sshexec.Client.Run does.
func runLocal(t *testing.T, argv []string) (sshexec.Result, error) {
	t.Helper()
	return runLocalEnv(t, nil, argv)
}

// runLocalEnv is runLocal with env added to the environment.
func runLocalEnv(t *testing.T, env []string, argv []string) (sshexec.Result, error) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var res sshexec.Result
	out, err := cmd.Output()
	res.Stdout = out
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.Stderr, res.ExitCode = ee.Stderr, ee.ExitCode()
		return res, &sshexec.ExitError{Host: "local", Program: argv[0], Code: ee.ExitCode(), Stderr: ee.Stderr}
	}
	if err != nil {
		// exec could not start the program: what sshexec reports as exit
		// 127 from the remote shell.
		return res, &sshexec.ExitError{Host: "local", Program: argv[0], Code: 127}
	}
	return res, nil
}

// serve listens on loopback and hands every accepted connection to handle.
func serve(t *testing.T, handle func(net.Conn)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			handle(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// fullBacklog returns a loopback port whose accept queue is full: the
// kernel drops further SYNs, so a connect stays unanswered (what a cable
// pulled looks like).
func fullBacklog(t *testing.T) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*syscall.SockaddrInet4).Port
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for range 8 {
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			return port // this connect went unanswered: the queue is full
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("could not fill a listen backlog on loopback")
	return 0
}

// handshake is the start of a MariaDB 10.11 greeting: header (length 86,
// sequence 0), protocol 10, "5.5.5-10.11".
var handshake = []byte{86, 0, 0, 0, 10, '5', '.', '5', '.', '5', '-', '1', '0', '.', '1', '1', 0}

// tooMany is the error packet a server at max_connections sends right
// after accept: 0xff, errno 1040 (0x0410) little-endian, the message.
var tooMany = append([]byte{23, 0, 0, 0, 0xff, 0x10, 0x04}, "Too many connections"...)

// TestGreetingProbe runs the real bash probe against loopback listeners
// that behave like a server that answers, one at max_connections, a hung
// mysqld, a closed port and a host that drops SYNs.
func TestGreetingProbe(t *testing.T) {
	for _, prog := range []string{"bash", "timeout", "head", "od", "env"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("no %s", prog)
		}
	}
	answers := serve(t, func(c net.Conn) { c.Write(handshake) }) // then waits for the client, as mysqld does
	storm := serve(t, func(c net.Conn) { c.Write(tooMany); c.Close() })
	hung := serve(t, func(net.Conn) {}) // the kernel accepts, nobody writes
	closes := serve(t, func(c net.Conn) { c.Close() })
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	silent := fullBacklog(t)

	marker := filepath.Join(t.TempDir(), "pwned")
	const deadline = 500 * time.Millisecond
	tests := []struct {
		name       string
		host       string
		port       int
		want       Reach
		wantDetail string
	}{
		{"greeting", "127.0.0.1", answers, ReachAnswers, "greeting read"},
		{"error packet at max_connections", "127.0.0.1", storm, ReachAnswers, "error packet 1040"},
		{"accepts and sends nothing", "127.0.0.1", hung, ReachHung, "no greeting within 500ms (hung?)"},
		{"accepts and closes", "127.0.0.1", closes, ReachRefused, "connection closed without a greeting"},
		{"closed port", "127.0.0.1", refused, ReachRefused, "connection refused"},
		{"SYN dropped", "127.0.0.1", silent, ReachSilent, "no answer to the connect within 500ms"},
		{"hostile host name stays one argument", "127.0.0.1/'; touch " + marker + "; '", answers, ReachUnknown, ""},
		{"hostile host name with command substitution", "$(touch " + marker + ")", answers, ReachUnknown, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv := GreetingProbeArgv(tt.host, tt.port, deadline)
			start := time.Now()
			res, err := runLocal(t, argv)
			took := time.Since(start)
			got, detail := GreetingProbeReach(res, err, deadline)
			if got != tt.want || (tt.wantDetail != "" && detail != tt.wantDetail) {
				t.Errorf("reach = %v (%q), want %v (%q); stdout %q stderr %q", got, detail, tt.want, tt.wantDetail, res.Stdout, res.Stderr)
			}
			if took > deadline+2*time.Second {
				t.Errorf("probe took %s, deadline %s", took, deadline)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatalf("the host name was run as shell code")
			}
		})
	}
	t.Run("missing program", func(t *testing.T) {
		res, err := runLocal(t, []string{"/nonexistent/env"})
		if got, detail := GreetingProbeReach(res, err, deadline); got != ReachUnknown {
			t.Errorf("reach = %v (%s), want unknown", got, detail)
		}
	})
}

// TestGreetingProbeReach reads outputs the probe can produce, without
// running it.
func TestGreetingProbeReach(t *testing.T) {
	exit := func(code int, stderr string) error {
		return &sshexec.ExitError{Host: "db2", Program: "env", Code: code, Stderr: []byte(stderr)}
	}
	tests := []struct {
		name   string
		stdout string
		stderr string
		err    error
		want   Reach
		detail string
	}{
		{"greeting", "connected\n  86   0   0   0  10  53  46\n", "", nil, ReachAnswers, "greeting read"},
		{"host blocked", "connected\n  72   0   0 255 255 105   4\n", "", nil, ReachAnswers, "error packet 1129"},
		{"short answer", "connected\n   1   0\n", "", nil, ReachAnswers, "2 bytes read, not a protocol-10 greeting"},
		{"closed at once", "connected\n", "", nil, ReachRefused, "connection closed without a greeting"},
		{"garbage od output", "connected\n zz\n", "", nil, ReachUnknown, ""},
		{"no connected line", "", "", nil, ReachUnknown, ""},
		{"refused", "", "bash: connect: Connection refused\nbash: line 1: /dev/tcp/10.0.0.1/3306: Connection refused\n", exit(1, ""), ReachRefused, "connection refused"},
		{"no route", "", "bash: connect: No route to host\n", exit(1, ""), ReachUnreachable, "no route to host"},
		{"network unreachable", "", "bash: connect: Network is unreachable\n", exit(1, ""), ReachUnreachable, "no route to host"},
		{"kernel gave up", "", "bash: connect: Connection timed out\n", exit(1, ""), ReachSilent, "connect timed out"},
		{"name not resolved", "", "bash: line 1: nosuch: Name or service not known\n", exit(1, ""), ReachUnknown, ""},
		{"no /dev/tcp", "", "bash: /dev/tcp/h/1: No such file or directory\n", exit(1, ""), ReachUnknown, ""},
		{"hung", "connected\n", "", exit(124, ""), ReachHung, "no greeting within 2s (hung?)"},
		{"silent", "", "", exit(124, ""), ReachSilent, "no answer to the connect within 2s"},
		{"bash missing", "", "env: 'timeout': No such file or directory\n", exit(127, ""), ReachUnknown, ""},
		{"transport", "", "", errors.New("ssh: connection lost"), ReachUnknown, "ssh: connection lost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := sshexec.Result{Stdout: []byte(tt.stdout), Stderr: []byte(tt.stderr)}
			got, detail := GreetingProbeReach(res, tt.err, 0)
			if got != tt.want || (tt.detail != "" && detail != tt.detail) {
				t.Errorf("reach = %v (%q), want %v (%q)", got, detail, tt.want, tt.detail)
			}
		})
	}
}

func TestGreetingProbeArgv(t *testing.T) {
	argv := GreetingProbeArgv("db1", 3306, 1500*time.Millisecond)
	if argv[3] != "1.5" || argv[len(argv)-2] != "db1" || argv[len(argv)-1] != "3306" {
		t.Errorf("argv %q: want timeout 1.5 and host, port as the last arguments", argv)
	}
	if got := GreetingProbeArgv("db1", 3306, 0)[3]; got != "2" {
		t.Errorf("zero timeout gives %s, want ProbeTimeout (2)", got)
	}
}

// FuzzGreetingProbeReach feeds arbitrary probe output: the reader never
// panics and says "answers" only after a "connected" line and exit 0.
func FuzzGreetingProbeReach(f *testing.F) {
	f.Add([]byte("connected\n  86   0   0   0  10  53  46\n"), []byte(""), 0)
	f.Add([]byte("connected\n  23   0   0   0 255  16   4\n"), []byte(""), 0)
	f.Add([]byte("connected\n"), []byte(""), 124)
	f.Add([]byte(""), []byte("bash: connect: Connection refused\n"), 1)
	f.Add([]byte("connected\n 999 -1\n"), []byte(""), 0)
	f.Fuzz(func(t *testing.T, stdout, stderr []byte, code int) {
		var err error
		if code != 0 {
			err = &sshexec.ExitError{Host: "db2", Program: "env", Code: code, Stderr: stderr}
		}
		r, _ := GreetingProbeReach(sshexec.Result{Stdout: stdout, Stderr: stderr}, err, time.Second)
		if r == ReachAnswers && (code != 0 || !strings.HasPrefix(string(stdout), "connected\n")) {
			t.Errorf("answers from exit %d stdout %q", code, stdout)
		}
	})
}
