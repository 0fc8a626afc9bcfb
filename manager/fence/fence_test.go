package fence

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/sshexec"
)

const (
	hungListener = `listen LISTEN 0 80 198.18.7.11:3306 0.0.0.0:* users:(("mariadbd",pid=812,fd=21))`
)

func hungInspection(extra ...string) string {
	return joinLines(append([]string{"netns " + nsA, hungListener, "comm 812 mariadbd", "stat 812 T 1", "pcomm 812 process_api", "pnetns 812 " + nsA}, extra...)...)
}

var goneInspection = joinLines("netns "+nsA, "gone 812")

func TestFence(t *testing.T) {
	tests := []struct {
		name   string
		server *fakeServer // over MySQL
		ssh    *fakeDialer // nil: no SSH
		// want
		fenced  bool
		method  string
		proof   string // substring
		why     string // substring of Result.Why
		errIs   error
		check   func(t *testing.T, srv *fakeServer, d *fakeDialer)
		noStmts bool
		hung    bool // Options.Hung
	}{
		{name: "seen hung: straight to SSH and SIGKILL, no SQL at all",
			hung:   true,
			server: &fakeServer{version: mariaDB()},
			ssh:    &fakeDialer{host: &fakeHost{local: &fakeServer{version: mariaDB()}, inspect: []string{hungInspection(), goneInspection}}},
			fenced: true, method: MethodKill, proof: "gone",
			check: func(t *testing.T, srv *fakeServer, d *fakeDialer) {
				if srv.opens != 0 || len(d.host.local.stmts) != 0 {
					t.Errorf("SQL sent to a master seen hung: %d opens, local client %q", srv.opens, d.host.local.stmts)
				}
			}},
		{name: "seen hung, SSH unreachable: a resumed mysqld is fenced over MySQL",
			hung:   true,
			server: &fakeServer{version: mariaDB()},
			ssh:    &fakeDialer{err: &sshexec.DialError{Addr: "198.18.7.11:22", User: "root", Kind: sshexec.ErrTimeout, Reason: "no TCP connection"}},
			fenced: true, method: MethodMySQL, proof: "read back"},
		{name: "seen hung without SSH: MySQL is tried all the same",
			hung:   true,
			server: &fakeServer{version: mariaDB()},
			fenced: true, method: MethodMySQL, proof: "read back"},
		{name: "reachable MariaDB: read_only, connections killed, read back",
			server: &fakeServer{version: mariaDB(), conns: []uint64{7, 9}},
			fenced: true, method: MethodMySQL, proof: "read_only=1 (MariaDB has no super_read_only) read back on 10.11.6 (MariaDB); 2 client connections killed (7,9)",
			check: func(t *testing.T, srv *fakeServer, _ *fakeDialer) {
				if slices.Contains(srv.stmts, "SET GLOBAL super_read_only = 1") {
					t.Errorf("super_read_only sent to MariaDB: %q", srv.stmts)
				}
				if !slices.Equal(srv.killed, []uint64{7, 9}) {
					t.Errorf("killed %v", srv.killed)
				}
			}},
		{name: "reachable MySQL 8: super_read_only too",
			server: &fakeServer{version: mySQL80()},
			fenced: true, method: MethodMySQL, proof: "read_only=1 super_read_only=1 read back",
			check: func(t *testing.T, srv *fakeServer, _ *fakeDialer) {
				if !srv.superRO {
					t.Error("super_read_only not set")
				}
			}},
		{name: "a running write holds read_only back: killed, then set",
			server: &fakeServer{version: mariaDB(), conns: []uint64{5}, lockWaits: 1},
			fenced: true, method: MethodMySQL, proof: "1 client connections killed (5)"},
		{name: "read_only does not stick: not proven, no SSH",
			server: &fakeServer{version: mariaDB(), ignoreRO: true},
			errIs:  ErrNotProven, why: "fencing over MySQL failed and no SSH"},
		{name: "no privilege for SET GLOBAL, SSH local client works",
			server: &fakeServer{version: mariaDB(), setErr: &mysql.MySQLError{Number: 1227, Message: "Access denied; you need (at least one of) the SUPER privilege(s)"}},
			ssh:    &fakeDialer{host: &fakeHost{local: &fakeServer{version: mariaDB()}}},
			fenced: true, method: MethodLocalSQL},
		{name: "cable pulled: unreachable over MySQL and SSH, no error",
			server: &fakeServer{down: connectErr(mysqlx.FailureTimeout)},
			ssh:    &fakeDialer{err: sshDown()},
			why:    "unreachable over MySQL and SSH"},
		{name: "unreachable and no SSH configured",
			server: &fakeServer{down: connectErr(mysqlx.FailureNoRoute)},
			why:    "unreachable over MySQL and no SSH"},
		{name: "only the manager's route is broken: local client fences",
			server: &fakeServer{down: connectErr(mysqlx.FailureTimeout)},
			ssh:    &fakeDialer{host: &fakeHost{local: &fakeServer{version: mariaDB(), conns: []uint64{3}}}},
			fenced: true, method: MethodLocalSQL, proof: "1 client connections killed (3)",
			check: func(t *testing.T, _ *fakeServer, d *fakeDialer) {
				if !d.host.local.readOnly || !d.host.closed {
					t.Errorf("local server read_only=%v, host closed=%v", d.host.local.readOnly, d.host.closed)
				}
			}},
		{name: "hung (SIGSTOP), no service manager: SIGKILL, gone",
			server: &fakeServer{down: connectErr(mysqlx.FailureTimeout)},
			ssh:    &fakeDialer{host: &fakeHost{inspect: []string{hungInspection(), hungInspection(), goneInspection}}},
			fenced: true, method: MethodKill, proof: "SIGKILL to mariadbd pid 812: pid 812 gone and port 3306 refuses",
			check: func(t *testing.T, _ *fakeServer, d *fakeDialer) {
				// One stop command; its proof still shows mysqld, so it is
				// inspected again.
				want := [][]string{{"sh", "-c", stopScript, "sh", "", "3", "3306", "", "812:mariadbd"}}
				if !slices.EqualFunc(d.host.stops, want, slices.Equal) || d.host.inspected != 3 {
					t.Errorf("stop argv %q, %d inspections", d.host.stops, d.host.inspected)
				}
			}},
		{name: "hung under mysqld_safe: the guard first, in the same command",
			server: &fakeServer{down: connectErr(mysqlx.FailureTimeout)},
			ssh: &fakeDialer{host: &fakeHost{inspect: []string{
				joinLines("netns "+nsA, hungListener, "comm 812 mariadbd", "stat 812 T 700", "pcomm 812 mysqld_safe", "pnetns 812 "+nsA),
				goneInspection}}},
			fenced: true, method: MethodKill, proof: "SIGKILL to mysqld_safe pid 700, then mariadbd pid 812: pid 812 gone",
			check: func(t *testing.T, _ *fakeServer, d *fakeDialer) {
				want := [][]string{{"sh", "-c", stopScript, "sh", "", "3", "3306", "", "700:mysqld_safe", "812:mariadbd"}}
				if !slices.EqualFunc(d.host.stops, want, slices.Equal) || d.host.inspected != 2 {
					t.Errorf("stop argv %q, %d inspections", d.host.stops, d.host.inspected)
				}
			}},
		{name: "hung under systemd: the unit is stopped, not just killed",
			server: &fakeServer{down: connectErr(mysqlx.FailureTimeout)},
			ssh: &fakeDialer{host: &fakeHost{
				inspect:    []string{hungInspection("cgroup 812 /system.slice/mariadb.service", "unit 812 mariadb.service 812"), goneInspection},
				unitStates: []string{"deactivating", "failed"}}},
			fenced: true, method: MethodStopService, proof: "systemctl stop --no-block + kill of mariadb.service",
			check: func(t *testing.T, _ *fakeServer, d *fakeDialer) {
				// The unit's stop job and the SIGKILL in one command, whose
				// proof shows it gone (the unit deactivating, then failed).
				want := [][]string{{"sh", "-c", stopScript, "sh", "mariadb.service", "3", "3306", "", "812:mariadbd"}}
				if !slices.EqualFunc(d.host.stops, want, slices.Equal) {
					t.Errorf("stop argv %q", d.host.stops)
				}
			}},
		{name: "hung under systemd, the stop command fails: error, not fenced",
			server: &fakeServer{down: connectErr(mysqlx.FailureTimeout)},
			ssh: &fakeDialer{host: &fakeHost{
				inspect: []string{hungInspection("cgroup 812 /system.slice/mariadb.service", "unit 812 mariadb.service 812")},
				stopErr: &sshexec.ExitError{Program: "sh", Code: 3, Stderr: []byte("ss: not found")}}},
			errIs: ErrNotProven, why: "stopping mariadb.service (mysqld pid 812) did not work"},
		{name: "mysqld not running and the port refuses: proven",
			server: &fakeServer{down: connectErr(mysqlx.FailureRefused)},
			ssh:    &fakeDialer{host: &fakeHost{inspect: []string{joinLines("netns "+nsA, "pidfile 812", "gone 812")}}},
			fenced: true, method: MethodNotRunning, proof: "nothing listens on port 3306"},
		{name: "port held by another program: nothing killed, error",
			server: &fakeServer{down: connectErr(mysqlx.FailureTimeout)},
			ssh: &fakeDialer{host: &fakeHost{inspect: []string{joinLines("netns "+nsA,
				`listen LISTEN 0 1 0.0.0.0:3306 0.0.0.0:* users:(("socat",pid=99,fd=3))`)}}},
			errIs: ErrNotProven, why: "held by socat",
			check: func(t *testing.T, _ *fakeServer, d *fakeDialer) {
				if len(d.host.stops) != 0 {
					t.Errorf("stopped %q", d.host.stops)
				}
			}},
		{name: "SIGKILL does not take: error",
			server: &fakeServer{down: connectErr(mysqlx.FailureTimeout)},
			ssh:    &fakeDialer{host: &fakeHost{inspect: []string{hungInspection()}}},
			errIs:  ErrNotProven, why: "still there after SIGKILL"},
		{name: "SSH host key mismatch: error, not give up",
			server: &fakeServer{down: connectErr(mysqlx.FailureTimeout)},
			ssh:    &fakeDialer{err: &sshexec.DialError{Addr: "198.18.7.11:22", User: "root", Kind: sshexec.ErrHostKey, Reason: "host key changed"}},
			errIs:  ErrNotProven, why: "SSH login failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			o := Options{Name: "db1", MySQL: mysqlx.Target{Addr: "198.18.7.11:3306", User: "mha", Password: "s3cret-pw"},
				MySQLDialer: tc.server, StopWait: 300 * time.Millisecond,
				Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
			if tc.ssh != nil {
				o.SSH = tc.ssh
			}
			o.Hung = tc.hung
			res, err := Fence(t.Context(), o)
			if tc.errIs == nil && err != nil {
				t.Fatalf("Fence: %v", err)
			}
			if tc.errIs != nil && !errors.Is(err, tc.errIs) {
				t.Fatalf("Fence error %v, want %v", err, tc.errIs)
			}
			if res.Fenced != tc.fenced || res.Method != tc.method {
				t.Fatalf("Fence = %+v, want fenced=%v method %q", res, tc.fenced, tc.method)
			}
			if !strings.Contains(res.Proof, tc.proof) || !strings.Contains(res.Why, tc.why) {
				t.Errorf("Fence = %+v, want proof ~%q why ~%q", res, tc.proof, tc.why)
			}
			if strings.Contains(logs.String(), "s3cret-pw") {
				t.Errorf("password in the log:\n%s", logs.String())
			}
			if tc.check != nil {
				tc.check(t, tc.server, tc.ssh)
			}
		})
	}
}

func TestFenceCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	o := Options{Name: "db1", MySQL: mysqlx.Target{Addr: "198.18.7.11:3306", User: "mha"},
		MySQLDialer: &fakeServer{down: connectErr(mysqlx.FailureCanceled)}, SSH: &fakeDialer{err: sshDown()}}
	if _, err := Fence(ctx, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestClientArgv(t *testing.T) {
	const pw = `p"a$s w;o#r\d` + "\n"
	l := LocalClient{User: "mha", Password: pw, Addr: "198.18.7.11", Port: 3306, Timeout: 3 * time.Second}
	argv := ClientArgv(l, "SELECT 1", false)
	for _, a := range argv {
		if strings.Contains(a, "p\"a$s") || strings.Contains(a, "password") {
			t.Fatalf("password in argv: %q", argv)
		}
	}
	want := []string{"sh", "-c", clientScript, "sh", "", "3", "--defaults-extra-file=/dev/stdin", "--connect-timeout=2",
		"--batch", "--skip-column-names", "--protocol=TCP", "--host=198.18.7.11", "--port=3306", "--execute=SELECT 1"}
	if !slices.Equal(argv, want) {
		t.Errorf("argv\n%q, want\n%q", argv, want)
	}
	l.Socket, l.Bindir = "/run/mysqld/mysqld.sock", "/opt/mysql/bin"
	argv = ClientArgv(l, "KILL CONNECTION 1", true)
	if !slices.Contains(argv, "--force") || !slices.Contains(argv, "--socket=/run/mysqld/mysqld.sock") || argv[4] != "/opt/mysql/bin" {
		t.Errorf("argv %q", argv)
	}
	if got, want := OptionFile("mha", pw), "[client]\nuser=\"mha\"\npassword=\"p\\\"a$s w;o#r\\\\d\\n\"\n"; got != want {
		t.Errorf("OptionFile = %q, want %q", got, want)
	}
}

// recRunner records what the client session sends to the host.
type recRunner struct {
	argv  [][]string
	stdin []string
	out   []string // stdout per call (the last repeats)
	errs  []error
}

func (r *recRunner) Run(_ context.Context, argv []string, stdin io.Reader) (string, error) {
	r.argv = append(r.argv, argv)
	in := ""
	if stdin != nil {
		b, _ := io.ReadAll(stdin)
		in = string(b)
	}
	r.stdin = append(r.stdin, in)
	i := min(len(r.argv)-1, len(r.out)-1)
	var err error
	if i < len(r.errs) {
		err = r.errs[i]
	}
	return r.out[i], err
}

func TestClientSession(t *testing.T) {
	r := &recRunner{out: []string{"10.11.6-MariaDB-0+deb12u1-log mariadb.org binary distribution\n", "", "1\n"}}
	h := &sshHost{r: r, local: LocalClient{User: "mha", Password: "pw#1", Addr: "198.18.7.11", Port: 3306}, step: time.Second}
	s := h.SQL()
	v, err := s.Version(t.Context())
	if err != nil || v.Flavor != mysqlx.MariaDB || v.Major != 10 {
		t.Fatalf("Version = %v, %v", v, err)
	}
	if err := s.Exec(t.Context(), "SET GLOBAL read_only = 1"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Value(t.Context(), "SELECT @@global.read_only"); err != nil || got != "1" {
		t.Fatalf("Value = %q, %v", got, err)
	}
	for i, argv := range r.argv {
		if r.stdin[i] != "[client]\nuser=\"mha\"\npassword=\"pw#1\"\n" {
			t.Errorf("stdin %q", r.stdin[i])
		}
		sql := argv[len(argv)-1]
		if !strings.HasPrefix(sql, "--execute=SET SESSION group_concat_max_len = 1048576;\nSET SESSION lock_wait_timeout = 2;\n") {
			t.Errorf("batch %q lacks the session setup", sql)
		}
		if strings.Contains(strings.Join(argv, " "), "pw#1") {
			t.Errorf("password in argv %q", argv)
		}
	}
	if got := r.argv[1][len(r.argv[1])-1]; !strings.HasSuffix(got, "SET GLOBAL read_only = 1;") {
		t.Errorf("exec batch %q", got)
	}

	// A server error comes back with its number; a client killed by
	// timeout is ErrLocalHung.
	r = &recRunner{out: []string{""}, errs: []error{
		&sshexec.ExitError{Program: "sh", Code: 1, Stderr: []byte("ERROR 1227 (42000) at line 3: Access denied; you need (at least one of) the SUPER privilege(s)\n")},
	}}
	h.r = r
	if err := h.SQL().Exec(t.Context(), "SET GLOBAL read_only = 1"); errorNumber(err) != 1227 {
		t.Errorf("err = %v, want number 1227", err)
	}
	r = &recRunner{out: []string{""}, errs: []error{&sshexec.ExitError{Program: "sh", Code: 137}}}
	h.r = r
	if _, err := h.SQL().Value(t.Context(), "SELECT 1"); !errors.Is(err, ErrLocalHung) {
		t.Errorf("err = %v, want ErrLocalHung", err)
	}
	// KILL lists use --force; exit 1 (a connection gone meanwhile) is fine.
	r = &recRunner{out: []string{""}, errs: []error{&sshexec.ExitError{Program: "sh", Code: 1, Stderr: []byte("ERROR 1094 (HY000) at line 3: Unknown thread id: 9\n")}}}
	h.r = r
	if err := h.SQL().Kill(t.Context(), []uint64{8, 9}); err != nil {
		t.Errorf("Kill: %v", err)
	}
	if argv := r.argv[0]; !slices.Contains(argv, "--force") || !strings.HasSuffix(argv[len(argv)-1], "KILL CONNECTION 8;\nKILL CONNECTION 9;") {
		t.Errorf("kill argv %q", argv)
	}
}

func TestParseClientError(t *testing.T) {
	ce := parseClientError("mariadb: Deprecated program name.\nERROR 1094 (HY000) at line 3: Unknown thread id: 12\n")
	if ce == nil || ce.Number != 1094 || errorNumber(ce) != 1094 {
		t.Fatalf("parseClientError = %+v", ce)
	}
	if parseClientError("timeout: sending signal KILL\n") != nil {
		t.Error("no ERROR line parsed as one")
	}
}

func TestHostCommands(t *testing.T) {
	r := &recRunner{out: []string{joinLines("killed 812 mysqld", "netns "+nsA, "gone 812", "gone 700", "unitstate failed")}}
	h := &sshHost{r: r, step: time.Second}
	tg := Target{Running: true, PID: 812, Comm: "mysqld", Guard: 700, GuardComm: "mysqld_safe", Unit: "mariadb.service"}
	in, state, err := h.Stop(t.Context(), tg, 3306, "/run/mysqld/mysqld.pid", 1500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"sh", "-c", stopScript, "sh", "mariadb.service", "15", "3306", "/run/mysqld/mysqld.pid", "700:mysqld_safe", "812:mysqld"}}
	if !slices.EqualFunc(r.argv, want, slices.Equal) {
		t.Errorf("stop argv %q, want %q (one command)", r.argv, want)
	}
	if gone, why := stopped(in, tg, state); !gone || state != "failed" {
		t.Errorf("proof: gone %v (%s), unit %q", gone, why, state)
	}
	for _, bad := range []Target{
		{PID: 812, Comm: "mysqld", Unit: "x.service; reboot"},
		{PID: 1, Comm: "systemd"},
		{PID: 812, Comm: "mysqld", Guard: 1, GuardComm: "systemd"},
	} {
		if _, _, err := h.Stop(t.Context(), bad, 3306, "", time.Second); err == nil {
			t.Errorf("Stop(%+v) accepted", bad)
		}
	}
	if len(r.argv) != 1 {
		t.Errorf("ran %q", r.argv)
	}

	r = &recRunner{out: []string{"failed\n"}, errs: []error{&sshexec.ExitError{Program: "systemctl", Code: 3}}}
	h.r = r
	if st, err := h.UnitState(t.Context(), "mariadb.service"); err != nil || st != "failed" {
		t.Errorf("UnitState = %q, %v", st, err)
	}

	r = &recRunner{out: []string{"netns " + nsA + "\n"}}
	h.r = r
	if _, err := h.Inspect(t.Context(), 3306, "/var/run/mysqld/mysqld.pid", []int{812, 700}); err != nil {
		t.Fatal(err)
	}
	if got := r.argv[0]; !slices.Equal(got, []string{"sh", "-c", inspectScript, "sh", "3306", "/var/run/mysqld/mysqld.pid", "812 700"}) {
		t.Errorf("inspect argv %q", got)
	}
}

// TestStopScript runs the real stop command against a child of this test
// (no unit): a pid whose program is not the one named is left alone; one
// that is gets SIGKILL, is waited for, and the proof follows in the same
// output.
func TestStopScript(t *testing.T) {
	for _, tool := range []string{"ss", "timeout", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s here: %v", tool, err)
		}
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }() // reaps it: no zombie left
	pid := cmd.Process.Pid
	run := func(comm string) (Inspection, string) {
		t.Helper()
		argv := StopArgv(Target{PID: pid, Comm: comm}, 1, "", time.Second)
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		in, state, err := ParseStop(string(out))
		if err != nil || state != "" {
			t.Fatalf("ParseStop: %v, unit state %q\n%s", err, state, out)
		}
		return in, string(out)
	}
	in, out := run("mysqld")
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("sleep was killed although it is not mysqld: %v", err)
	}
	if p, ok := in.Procs[pid]; !ok || p.Comm != "sleep" {
		t.Errorf("proof lacks the live pid %d:\n%s", pid, out)
	}
	in, out = run("sleep")
	select {
	case err := <-waited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("sleep ended with %v, want SIGKILL", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("sleep still runs")
	}
	if !strings.Contains(out, "killed "+strconv.Itoa(pid)+" sleep") {
		t.Errorf("no kill reported:\n%s", out)
	}
	if p, ok := in.Procs[pid]; ok && p.alive() {
		t.Errorf("the proof shows pid %d alive (%+v):\n%s", pid, p, out)
	}
}
