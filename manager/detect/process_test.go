package detect

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/manager/sshexec"
)

// TestMasterHostOf reads outputs the process check can produce, without
// running it.
func TestMasterHostOf(t *testing.T) {
	exit := func(code int) error { return &sshexec.ExitError{Host: "db1", Program: "env", Code: code} }
	const auto = "systemd\nId=mariadb.service\nActiveState=activating\nSubState=auto-restart\nJob=\n\n"
	tests := []struct {
		name     string
		stdout   string
		stderr   string
		err      error
		ssh      bool
		want     ServerProcess
		evidence string
	}{
		{"nothing there", "done\n", "", nil, true, ProcessAbsent, "no mysqld process on the master's host"},
		{"only other namespaces' servers (the lab)", "other 812 mariadbd\nother 977 mariadbd\ndone\n", "", nil, true, ProcessAbsent,
			"no mysqld process on the master's host (2 in other network namespaces)"},
		{"mariadbd runs", "other 812 mariadbd\nproc 4242 mariadbd\ndone\n", "", nil, true, ProcessPresent,
			"a mysqld process runs on the master's host (pid 4242 mariadbd)"},
		{"a guard and its server", "proc 4200 mariadbd-safe\nproc 4242 mariadbd\ndone\n", "", nil, true, ProcessPresent,
			"a mysqld process runs on the master's host (pid 4200 mariadbd-safe; pid 4242 mariadbd)"},
		{"namespace unreadable counts as present", "unreadable 4242 mysqld\ndone\n", "", nil, true, ProcessPresent,
			"a mysqld process runs on the master's host (pid 4242 mysqld, its network namespace unreadable)"},
		{"a process seen before the check timed out", "proc 4242 mysqld\n", "", exit(124), true, ProcessPresent,
			"a mysqld process runs on the master's host (pid 4242 mysqld)"},
		{"systemd running it, no process in sight", "systemd\nId=mariadb.service\nActiveState=active\nSubState=running\nJob=\n\ndone\n", "", nil, true, ProcessPresent,
			"systemd may be restarting mysqld on the master's host (mariadb.service active/running)"},
		{"systemd auto-restart after a crash", auto + "done\n", "", nil, true, ProcessPresent,
			"systemd may be restarting mysqld on the master's host (mariadb.service activating/auto-restart)"},
		{"systemd between a restart's stop and start", "systemd\nActiveState=inactive\nId=mysqld.service\nJob=812\nSubState=dead\n\ndone\n", "", nil, true, ProcessPresent,
			"systemd may be restarting mysqld on the master's host (mysqld.service inactive/dead, job 812 pending)"},
		{"systemd: units stopped or failed", "systemd\nId=mariadb.service\nActiveState=failed\nSubState=failed\nJob=\n\nId=mysql@a.service\nActiveState=inactive\nSubState=dead\n\ndone\n", "", nil, true, ProcessAbsent,
			"no mysqld process on the master's host"},
		{"systemd: no unit loaded", "systemd\ndone\n", "", nil, true, ProcessAbsent, "no mysqld process on the master's host"},
		{"systemctl failed", "systemd\nerror systemctl show failed\n", "Failed to connect to bus: No such file or directory\n", exit(3), true, ProcessUnknown,
			"whether mysqld runs on the master's host is unknown (the check exited 3: systemctl show failed)"},
		{"test without -ef", "error cannot compare network namespaces (/proc/self/ns/net)\n", "", exit(3), true, ProcessUnknown,
			"whether mysqld runs on the master's host is unknown (the check exited 3: cannot compare network namespaces (/proc/self/ns/net))"},
		{"timed out", "", "", exit(124), true, ProcessUnknown, "whether mysqld runs on the master's host is unknown (the check took more than 500ms)"},
		{"timeout missing", "", "env: 'timeout': No such file or directory\n", exit(127), true, ProcessUnknown,
			"whether mysqld runs on the master's host is unknown (the check exited 127: env: 'timeout': No such file or directory)"},
		{"incomplete", "other 812 mariadbd\n", "", nil, true, ProcessUnknown, "whether mysqld runs on the master's host is unknown (the check's output is incomplete)"},
		{"systemd section cut short", auto[:len("systemd\nId=mariadb.service\n")], "", nil, true, ProcessUnknown, ""},
		{"unexpected line", "proc 4242\ndone\n", "", nil, true, ProcessUnknown, "whether mysqld runs on the master's host is unknown (unexpected output: proc 4242)"},
		{"a motd before the output", "Welcome to db1\ndone\n", "", nil, true, ProcessUnknown, ""},
		{"output after done", "done\nproc x y\n", "", nil, true, ProcessUnknown, ""},
		{"SSH failed", "", "", errors.New("sshexec: dial root@db1:22: connection refused"), false, ProcessUnknown,
			"whether mysqld runs on the master's host is unknown (SSH failed)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := MasterHostOf(sshexec.Result{Stdout: []byte(tt.stdout), Stderr: []byte(tt.stderr)}, tt.err, 0)
			if h.SSH != tt.ssh || h.Process != tt.want || (tt.evidence != "" && h.Evidence != tt.evidence) {
				t.Errorf("MasterHostOf = ssh %v %v %q; want ssh %v %v %q", h.SSH, h.Process, h.Evidence, tt.ssh, tt.want, tt.evidence)
			}
			if h.Evidence == "" {
				t.Error("no evidence")
			}
			if !tt.ssh && h.SSHErr == "" {
				t.Error("SSH failed without SSHErr")
			}
		})
	}
}

// fakeProc is a proc file system for the process check: processes with a
// comm, a state and a network namespace ("a" is the shell's own, "" an
// unreadable one).
type fakeProc struct {
	pid         int
	comm, state string
	ns          string
}

func writeFakeProc(t *testing.T, procs []fakeProc) string {
	t.Helper()
	root := t.TempDir()
	nsDir := filepath.Join(root, "..nsfs")
	mk := func(dir, comm, state, ns string) {
		if err := os.MkdirAll(filepath.Join(dir, "ns"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "comm"), []byte(comm+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		stat := fmt.Sprintf("%s (%s) %s 1 1 1 0 -1 4194560\n", filepath.Base(dir), comm, state)
		if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(nsDir, "missing") // a dangling link: stat fails
		if ns != "" {
			target = filepath.Join(nsDir, ns)
		}
		if err := os.Symlink(target, filepath.Join(dir, "ns", "net")); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(nsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"a", "b"} {
		if err := os.WriteFile(filepath.Join(nsDir, ns), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk(filepath.Join(root, "self"), "sh", "R", "a")
	for _, p := range procs {
		mk(filepath.Join(root, strconv.Itoa(p.pid)), p.comm, p.state, p.ns)
	}
	return root
}

// fakeSystemctl puts a systemctl on a PATH that prints show, records its
// arguments in args and exits with code (after sleeping sleep seconds).
func fakeSystemctl(t *testing.T, show string, code int, sleep string) (env []string, args string) {
	t.Helper()
	dir := t.TempDir()
	args = filepath.Join(dir, "args")
	out := filepath.Join(dir, "show")
	if err := os.WriteFile(out, []byte(show), 0o644); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$@\" >%s\nsleep %s\ncat %s\nexit %d\n", args, sleep, out, code)
	if err := os.WriteFile(filepath.Join(dir, "systemctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{"PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH")}, args
}

// TestProcessCheckScript runs the real script with this host's sh over a
// fake proc file system and a fake systemctl.
func TestProcessCheckScript(t *testing.T) {
	for _, prog := range []string{"sh", "env", "timeout", "sleep", "cat"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("no %s", prog)
		}
	}
	marker := filepath.Join(t.TempDir(), "pwned")
	base := []fakeProc{
		{100, "mariadbd", "S", "b"},        // another lab host's server
		{101, "mysqld_exporter", "S", "a"}, // not a server
		{102, "mysql", "S", "a"},           // the client
		{103, "$(touch " + marker + ")", "S", "a"},
		{104, "bash", "S", "a"},
	}
	with := func(extra ...fakeProc) []fakeProc { return append(append([]fakeProc{}, base...), extra...) }
	const auto = "Id=mariadb.service\nActiveState=activating\nSubState=auto-restart\nJob=\n"
	tests := []struct {
		name     string
		procs    []fakeProc
		systemd  bool
		show     string
		code     int
		sleep    string
		timeout  time.Duration
		want     ServerProcess
		evidence string
	}{
		{name: "no server here, one in another namespace", procs: base, want: ProcessAbsent,
			evidence: "no mysqld process on the master's host (1 in other network namespaces)"},
		{name: "mariadbd here", procs: with(fakeProc{200, "mariadbd", "S", "a"}), want: ProcessPresent,
			evidence: "a mysqld process runs on the master's host (pid 200 mariadbd)"},
		{name: "mysqld_safe here (a guard that restarts a crashed server)", procs: with(fakeProc{201, "mysqld_safe", "S", "a"}), want: ProcessPresent,
			evidence: "a mysqld process runs on the master's host (pid 201 mysqld_safe)"},
		{name: "a killed mysqld not reaped yet is gone", procs: with(fakeProc{202, "mysqld", "Z", "a"}), want: ProcessAbsent},
		{name: "a server whose namespace cannot be read", procs: with(fakeProc{203, "mariadbd-safe", "S", ""}), want: ProcessPresent,
			evidence: "a mysqld process runs on the master's host (pid 203 mariadbd-safe, its network namespace unreadable)"},
		{name: "systemd restarts the server after a crash", procs: base, systemd: true, show: auto + "\n", want: ProcessPresent,
			evidence: "systemd may be restarting mysqld on the master's host (mariadb.service activating/auto-restart)"},
		{name: "systemd, unit stopped", procs: base, systemd: true, show: "Id=mariadb.service\nActiveState=inactive\nSubState=dead\nJob=\n", want: ProcessAbsent},
		{name: "systemctl fails", procs: base, systemd: true, code: 1, want: ProcessUnknown,
			evidence: "whether mysqld runs on the master's host is unknown (the check exited 3: systemctl show failed)"},
		{name: "systemctl hangs: bounded", procs: base, systemd: true, sleep: "5", timeout: 300 * time.Millisecond, want: ProcessUnknown,
			evidence: "whether mysqld runs on the master's host is unknown (the check took more than 300ms)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proc := writeFakeProc(t, tt.procs)
			systemd := filepath.Join(t.TempDir(), "no-systemd")
			if tt.systemd {
				systemd = t.TempDir()
			}
			sleep := tt.sleep
			if sleep == "" {
				sleep = "0"
			}
			env, args := fakeSystemctl(t, tt.show, tt.code, sleep)
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 5 * time.Second // a loaded test machine
			}
			start := time.Now()
			res, err := runLocalEnv(t, env, processCheckArgv(proc, systemd, timeout))
			took := time.Since(start)
			h := MasterHostOf(res, err, timeout)
			if h.Process != tt.want || !h.SSH || (tt.evidence != "" && h.Evidence != tt.evidence) {
				t.Errorf("got %v %q, want %v %q; stdout %q stderr %q err %v", h.Process, h.Evidence, tt.want, tt.evidence, res.Stdout, res.Stderr, err)
			}
			if took > timeout+2*time.Second {
				t.Errorf("the check took %s, bound %s", took, timeout)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("a process name was run as shell code")
			}
			b, err := os.ReadFile(args)
			switch {
			case !tt.systemd && err == nil:
				t.Errorf("systemctl ran without systemd: %q", b)
			case tt.systemd && err != nil:
				t.Errorf("systemctl did not run: %v", err)
			case tt.systemd:
				want := append([]string{"show", "--no-pager", "-p", "Id,ActiveState,SubState,Job"}, serverUnits...)
				if got := strings.Fields(string(b)); strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("systemctl %q, want %q", got, want)
				}
			}
		})
	}
}

// TestProcessCheckHere runs the check over this host's own /proc: a
// process named mariadbd that this test starts is found in the test's
// network namespace while it runs, not once it is a zombie or reaped.
func TestProcessCheckHere(t *testing.T) {
	for _, prog := range []string{"sh", "env", "timeout", "sleep"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("no %s", prog)
		}
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		t.Skipf("no /proc/self/ns/net: %v", err)
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip(err)
	}
	bin := filepath.Join(t.TempDir(), "mariadbd")
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	reaped := false
	defer func() {
		if !reaped {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	ours := fmt.Sprintf("pid %d mariadbd", pid)
	check := func() MasterHost {
		t.Helper()
		res, err := runLocal(t, processCheckArgv("/proc", filepath.Join(t.TempDir(), "no-systemd"), 5*time.Second))
		h := MasterHostOf(res, err, 5*time.Second)
		if h.Process == ProcessUnknown {
			t.Fatalf("check on this host: %q (stdout %q stderr %q)", h.Evidence, res.Stdout, res.Stderr)
		}
		return h
	}
	if h := check(); h.Process != ProcessPresent || !strings.Contains(h.Evidence, ours) {
		t.Errorf("running: %v %q, want %q present", h.Process, h.Evidence, ours)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Not reaped yet: a zombie once the kill is through.
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		if s := string(b); strings.Contains(s[strings.LastIndexByte(s, ')'):], " Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d not a zombie: %s", pid, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if h := check(); strings.Contains(h.Evidence, ours) {
		t.Errorf("zombie: %q lists it", h.Evidence)
	}
	_ = cmd.Wait()
	reaped = true
	if h := check(); strings.Contains(h.Evidence, ours) {
		t.Errorf("reaped: %q lists it", h.Evidence)
	}
}

func TestProcessCheckArgv(t *testing.T) {
	argv := ProcessCheckArgv(0)
	want := []string{"env", "LC_ALL=C", "timeout", "0.5", "sh", "-c", processScript, "sh", "/proc", "/run/systemd/system", "4",
		"mysqld", "mariadbd", "mysqld_safe", "mariadbd-safe"}
	if len(argv) != len(want)+len(serverUnits) || strings.Join(argv[:len(want)], "\x00") != strings.Join(want, "\x00") {
		t.Errorf("argv %q, want %q then the units", argv, want)
	}
	if got := ProcessCheckArgv(1500 * time.Millisecond)[3]; got != "1.5" {
		t.Errorf("timeout %s, want 1.5", got)
	}
}

// FuzzMasterHostOf feeds arbitrary output: the reader never panics, and
// says "absent" only when the command ran to its "done" line and exited 0
// without printing a server process.
func FuzzMasterHostOf(f *testing.F) {
	f.Add([]byte("done\n"), 0)
	f.Add([]byte("other 812 mariadbd\nproc 4242 mariadbd\ndone\n"), 0)
	f.Add([]byte("systemd\nId=mariadb.service\nActiveState=activating\nSubState=auto-restart\nJob=\n\ndone\n"), 0)
	f.Add([]byte("systemd\nerror systemctl show failed\n"), 3)
	f.Add([]byte("proc 1\n"), 124)
	f.Fuzz(func(t *testing.T, stdout []byte, code int) {
		var err error
		if code != 0 {
			err = &sshexec.ExitError{Host: "db1", Program: "env", Code: code}
		}
		h := MasterHostOf(sshexec.Result{Stdout: stdout}, err, time.Second)
		if h.Evidence == "" || !h.SSH {
			t.Errorf("ssh %v evidence %q", h.SSH, h.Evidence)
		}
		if h.Process == ProcessAbsent {
			s := string(stdout)
			if code != 0 || !strings.Contains("\n"+s, "\ndone\n") && !strings.HasSuffix("\n"+s, "\ndone") || strings.Contains("\n"+s, "\nproc ") {
				t.Errorf("absent from exit %d stdout %q", code, stdout)
			}
		}
	})
}
