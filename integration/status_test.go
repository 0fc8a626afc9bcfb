package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomha/gomha/integration/lab"
	"github.com/gomha/gomha/manager/journal"
	"github.com/gomha/gomha/manager/statefile"
)

// statusTimeout bounds one check-status or stop run.
const statusTimeout = 30 * time.Second

// statusLab is a manager working directory with a configuration, and the
// masterha_check_status and masterha_stop links to mha. It needs no
// servers: a "manager" is a sleeping shell the test starts in its own
// process group, named in a health file the test writes in MHA's format.
type statusLab struct {
	conf, work, log, health string
	checkStatus, stop       string
}

func newStatusLab(t *testing.T) *statusLab {
	t.Helper()
	dir := t.TempDir()
	l := &statusLab{
		conf: filepath.Join(dir, "app1.cnf"),
		work: filepath.Join(dir, "work"),
		log:  filepath.Join(dir, "app1.log"),
	}
	l.health = filepath.Join(l.work, "app1.master_status.health")
	if err := os.Mkdir(l.work, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("[server default]\nmanager_workdir=%s\nmanager_log=%s\n\n[server1]\nhostname=127.0.0.1\n", l.work, l.log)
	if err := os.WriteFile(l.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	l.checkStatus, l.stop = filepath.Join(dir, "masterha_check_status"), filepath.Join(dir, "masterha_stop")
	for _, link := range []string{l.checkStatus, l.stop} {
		if err := os.Symlink(bins.mha, link); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// run runs an MHA command with --conf and a global file that does not exist.
func (l *statusLab) run(t *testing.T, bin string, args ...string) result {
	t.Helper()
	args = append([]string{"--conf=" + l.conf, "--global_conf=" + filepath.Join(l.work, "none.cnf")}, args...)
	return run(t, statusTimeout, bin, args...)
}

// setHealth writes the health file as MHA's manager does.
func (l *statusLab) setHealth(t *testing.T, pid int, state string, age time.Duration) {
	t.Helper()
	if err := os.WriteFile(l.health, fmt.Appendf(nil, "%d\t%s\tmaster:127.0.0.1", pid, state), 0o644); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-age)
	if err := os.Chtimes(l.health, at, at); err != nil {
		t.Fatal(err)
	}
}

// fakeManager is a shell leading its own process group, with a background
// sleep as its child, the way mha manager leads the group of its hooks.
type fakeManager struct {
	pid    int
	exited chan struct{}
}

// startManager starts a fake manager; ignoreTERM makes it and its child
// ignore SIGTERM.
func startManager(t *testing.T, ignoreTERM bool) *fakeManager {
	t.Helper()
	script := "sleep 300 & wait"
	if ignoreTERM {
		script = `trap "" TERM; ` + script
	}
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := &fakeManager{pid: cmd.Process.Pid, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(m.exited) }()
	t.Cleanup(func() { syscall.Kill(-m.pid, syscall.SIGKILL) })
	// Wait until the shell started its child, so the group has two members.
	deadline := time.Now().Add(10 * time.Second)
	for len(groupMembers(m.pid)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("fake manager %d did not start its child", m.pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return m
}

// running says whether the fake manager's shell has not exited.
func (m *fakeManager) running() bool {
	select {
	case <-m.exited:
		return false
	default:
		return true
	}
}

// waitExit waits for the fake manager's shell to exit.
func (m *fakeManager) waitExit(t *testing.T) {
	t.Helper()
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("fake manager %d still runs", m.pid)
	}
}

// groupMembers lists the live (not zombie) processes of process group pgid.
func groupMembers(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var gotPID, ppid, pg int
		var comm string
		var state byte
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if _, err := fmt.Sscanf(string(b), "%d %s %c %d %d", &gotPID, &comm, &state, &ppid, &pg); err != nil {
			continue // a comm with blanks is none of ours (sh, sleep)
		}
		if pg == pgid && state != 'Z' {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitGroupGone waits until process group pgid has no live member.
func waitGroupGone(t *testing.T, pgid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(groupMembers(pgid)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("process group %d still has %v", pgid, groupMembers(pgid))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCheckStatusAndStop runs masterha_check_status and masterha_stop
// against a fake manager through every state an operator meets: not
// running, PING_OK, an old timestamp, PING_FAILING, a failover that stop
// refuses to interrupt, a clean stop of the whole process group, a dead
// manager with a child left (PARTIALLY_RUNNING), and --abort killing a
// manager that ignores SIGTERM in the middle of a failover.
func TestCheckStatusAndStop(t *testing.T) {
	l := newStatusLab(t)

	r := run(t, statusTimeout, l.checkStatus, "--version")
	expect(t, r, 0, "masterha_check_status version 0.58.")

	// Nothing runs yet.
	expect(t, l.run(t, l.checkStatus), 2, "app1 is stopped(2:NOT_RUNNING).")
	expect(t, l.run(t, l.stop), 0, "MHA Manager is not running on app1(2:NOT_RUNNING).")

	m := startManager(t, false)
	l.setHealth(t, m.pid, "0:PING_OK", 0)
	expect(t, l.run(t, l.checkStatus), 0, fmt.Sprintf("app1 (pid:%d) is running(0:PING_OK), master:127.0.0.1\n", m.pid))
	// Without --conf: the directory and the application name.
	r = run(t, statusTimeout, l.checkStatus, "--workdir="+l.work, "--app=app1")
	expect(t, r, 0, fmt.Sprintf("app1 (pid:%d) is running(0:PING_OK)", m.pid))

	// A PING_OK file nobody touched for a minute: the manager hangs.
	l.setHealth(t, m.pid, "0:PING_OK", time.Minute)
	expect(t, l.run(t, l.checkStatus), 32, "behinds 6", "app1 is running, but master_ping.health is too old(32:TIMESTAMP_OLD). Maybe process hangs? master:127.0.0.1")
	expect(t, l.run(t, l.checkStatus, "--ping_limit=120"), 0, "is running(0:PING_OK)")

	l.setHealth(t, m.pid, "20:PING_FAILING", 0)
	expect(t, l.run(t, l.checkStatus), 20, "app1 master maybe down(20:PING_FAILING). master:127.0.0.1\n", "Check "+l.log+" for details.")

	// stop leaves a failover alone.
	l.setHealth(t, m.pid, "50:FAILOVER_RUNNING", 0)
	expect(t, l.run(t, l.checkStatus), 50, "app1 master is down and failover is running(50:FAILOVER_RUNNING). master:127.0.0.1")
	expect(t, l.run(t, l.stop), 1, "Currently Failover is running on app1. Should not stop.")
	time.Sleep(200 * time.Millisecond)
	if !m.running() {
		t.Fatal("stop killed a manager in FAILOVER_RUNNING")
	}

	// A monitoring manager stops, its child with it.
	l.setHealth(t, m.pid, "0:PING_OK", 0)
	expect(t, l.run(t, l.stop), 0, "Stopped app1 successfully.")
	m.waitExit(t)
	waitGroupGone(t, m.pid)
	// The health file is left as a SIGTERM'd fake manager does not remove
	// it; its process is gone, so the manager is not running.
	expect(t, l.run(t, l.checkStatus), 2, "app1 is stopped(2:NOT_RUNNING).")

	// The manager died but its child runs on.
	m = startManager(t, false)
	l.setHealth(t, m.pid, "0:PING_OK", 0)
	if err := syscall.Kill(m.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	m.waitExit(t)
	r = l.run(t, l.checkStatus)
	expect(t, r, 3, "Main process is not running, but child process is running on app1 (child pid: ", "(3:PARTIALLY_RUNNING). Check ps output for details and kill it.")
	expect(t, l.run(t, l.stop), 0, "Stopped app1 successfully.")
	waitGroupGone(t, m.pid)

	// A manager that ignores SIGTERM during a failover: only --abort stops
	// it, and the killed failover leaves the error flag file.
	m = startManager(t, true)
	l.setHealth(t, m.pid, "0:PING_OK", 0)
	expect(t, l.run(t, l.stop, "--abort_timeout=1"), 1, fmt.Sprintf("Manager process %d didn't stop in 1 seconds.", m.pid), "Failed to stop app1.")
	if !m.running() {
		t.Fatal("the TERM-proof manager is gone without --abort")
	}
	l.setHealth(t, m.pid, "50:FAILOVER_RUNNING", 0)
	start := time.Now()
	r = l.run(t, l.stop, "--abort", "--abort_timeout=1")
	expect(t, r, 0, "didn't stop in 1 seconds.", "Forced stopped app1.")
	if r.elapsed < time.Second || time.Since(start) > 10*time.Second {
		t.Errorf("--abort_timeout=1 took %s", r.elapsed)
	}
	m.waitExit(t)
	waitGroupGone(t, m.pid)
	if _, err := os.Stat(filepath.Join(l.work, "app1.failover.error")); err != nil {
		t.Errorf("no failover error flag after killing a failover: %v", err)
	}
}

// TestCheckStatusErrors covers what check-status and stop say when they
// cannot find the health file's directory: MHA's messages, exit 1.
func TestCheckStatusErrors(t *testing.T) {
	l := newStatusLab(t)
	missing := filepath.Join(l.work, "missing.cnf")
	r := run(t, statusTimeout, l.checkStatus, "--conf="+missing)
	expect(t, r, 1, "Got error on conf "+missing+": "+missing+" not found!")

	r = run(t, statusTimeout, l.stop, "--status_dir="+filepath.Join(l.work, "nope"), "--app=app1")
	expect(t, r, 1, "Got error on app app1: Directory "+filepath.Join(l.work, "nope")+" not found!")

	r = run(t, statusTimeout, l.checkStatus)
	expect(t, r, 1, "Either --conf or --status_dir must be set.")

	// A live process writing a state MHA does not know.
	self := os.Getpid()
	l.setHealth(t, self, "7:SOMETHING", 0)
	r = l.run(t, l.checkStatus)
	expect(t, r, 1, "7:SOMETHING")
}

// TestCheckStatusRefusedFailoverRunbook: `mha manager` watches a cluster
// whose last failover is too recent (a fresh <app>.failover.complete);
// the master's mariadbd is killed. The failover refuses, and the manager
// does not exit: it goes on monitoring, and check-status says why, in
// MHA's line followed by the refusal. Once the DBA removes the complete
// file, the next look at the dead master fails over, and check-status
// shows the manager monitoring the new master, the refusal gone.
func TestCheckStatusRefusedFailoverRunbook(t *testing.T) {
	r := newFailoverRig(t, lab.Options{Hosts: 3})
	complete := filepath.Join(r.l.ManagerWorkdir, "app1.failover.complete")
	if err := os.WriteFile(complete, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bins.mha, "manager", "--conf="+r.conf)
	out := &syncWriter{w: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		t.Logf("manager output:\n%s", out.String())
	})
	status := func() result { return mha(t, statusTimeout, "check-status", "--conf="+r.conf) }
	waitStatus := func(timeout time.Duration, want ...string) result {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			s := status()
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(s.stdout, w)
			}
			if ok {
				return s
			}
			select {
			case err := <-done:
				t.Fatalf("manager exited: %v\n%s", err, out.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("check-status never said %q within %s; last:\n%s", want, timeout, s)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	db1 := r.l.Master()
	waitStatus(60*time.Second, "is running(0:PING_OK), master:"+db1.IP)

	if err := db1.KillMariaDB(); err != nil {
		t.Fatal(err)
	}
	s := waitStatus(30*time.Second, "Last failover refused at ", "Current time is too early to do failover again")
	expect(t, s, 21, "app1 master maybe down(21:PING_FAILED). master:"+db1.IP)
	if !strings.Contains(out.String(), "Failover refused; monitoring goes on.") {
		t.Errorf("manager log lacks the refusal")
	}
	refusedAt := time.Now()

	// The DBA decides the failover may run.
	if err := os.Remove(complete); err != nil {
		t.Fatal(err)
	}
	db2, db3 := r.l.Hosts[1], r.l.Hosts[2]
	s = waitStatus(90*time.Second, "is running(0:PING_OK), master:")
	if strings.Contains(s.stdout, "master:"+db1.IP) {
		t.Fatalf("check-status shows the dead master as monitored:\n%s", s)
	}
	t.Logf("failed over %s after the complete file was removed", time.Since(refusedAt).Round(time.Millisecond))
	if strings.Contains(s.stdout, "refused") {
		t.Errorf("check-status still shows the refusal after the failover:\n%s", s)
	}
	newMaster := db2
	if strings.Contains(s.stdout, "master:"+db3.IP) {
		newMaster = db3
	}
	r.verify(newMaster, db2, db3)
}

// TestCheckStatusFailoverNotes: what check-status adds after MHA's line,
// without servers. A manager killed in the middle of a failover: MHA's
// NOT_RUNNING line, then that it died in FAILOVER_RUNNING, the unfinished
// journal's last step and the error flag. A manager that runs and refused
// a failover: the refusal at the end of the PING_OK line, which keeps
// MHA's first part.
func TestCheckStatusFailoverNotes(t *testing.T) {
	l := newStatusLab(t)
	j, err := journal.Create(l.work, "app1", map[string]string{"dead_master": "127.0.0.1(127.0.0.1:3306)"})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Intent("apply missing events", "db2(127.0.0.2:3306)", nil); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if err := os.WriteFile(filepath.Join(l.work, "app1.failover.error"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	m := startManager(t, false)
	l.setHealth(t, m.pid, "50:FAILOVER_RUNNING", 0)
	expect(t, l.run(t, l.checkStatus), 50, "app1 master is down and failover is running(50:FAILOVER_RUNNING). master:127.0.0.1",
		`Failover in progress: failover journal `, `NOT confirmed done: "apply missing events" on db2(127.0.0.2:3306)`)
	if err := syscall.Kill(-m.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	m.waitExit(t)
	waitGroupGone(t, m.pid)
	expect(t, l.run(t, l.checkStatus), 2, "app1 is stopped(2:NOT_RUNNING).\n",
		fmt.Sprintf("The manager (pid %d) stopped in the middle of a failover (50:FAILOVER_RUNNING, master:127.0.0.1): it was killed or crashed.", m.pid),
		`Unfinished failover: failover journal `, `"apply missing events"`,
		"Failover error flag file "+filepath.Join(l.work, "app1.failover.error")+" exists")

	// A running manager that refused a failover.
	if err := os.Rename(journal.Path(l.work, "app1"), journal.Path(l.work, "app1")+".done"); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(l.work, "app1.failover.error"))
	at := time.Date(2026, 12, 3, 8, 10, 1, 0, time.Local)
	if err := statefile.RecordRefusal(l.work, "app1", statefile.Refusal{At: at, Master: "127.0.0.1", Reason: "the master is reachable via MySQL"}); err != nil {
		t.Fatal(err)
	}
	m = startManager(t, false)
	l.setHealth(t, m.pid, "0:PING_OK", 0)
	r := l.run(t, l.checkStatus)
	expect(t, r, 0, fmt.Sprintf("app1 (pid:%d) is running(0:PING_OK), master:127.0.0.1; last failover refused at 2026/12/03 08:10:01: the master is reachable via MySQL\n", m.pid))
	if strings.Contains(r.stdout, "Unfinished") || strings.Contains(r.stdout, "error flag") {
		t.Errorf("notes without an unfinished failover:\n%s", r)
	}
	l.setHealth(t, m.pid, "20:PING_FAILING", 0)
	expect(t, l.run(t, l.checkStatus), 20, "app1 master maybe down(20:PING_FAILING). master:127.0.0.1\nLast failover refused at 2026/12/03 08:10:01")
}
