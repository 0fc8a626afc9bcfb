package lab_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomha/gomha/integration/lab"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// sql runs a query on h and fails the test on error.
func sql(t *testing.T, ctx context.Context, h *lab.Host, q string) string {
	t.Helper()
	out, err := h.SQL(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// reachable reports whether a TCP connection to addr succeeds within d.
func reachable(addr string, d time.Duration) bool {
	c, err := net.DialTimeout("tcp", addr, d)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// sshRun runs the system ssh from the root namespace to h.
func sshRun(ctx context.Context, l *lab.Lab, h *lab.Host, command ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, "ssh", l.SSHArgs(h, command...)...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("ssh %s: %w: %s", h.Name, err, out)
	}
	return out, nil
}

// labProcesses lists the processes whose command line mentions the lab's
// directory (mariadbd and sshd are started with config files inside it).
func labProcesses(dir string) []string {
	var found []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(b) == 0 {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, dir+"/") && !strings.Contains(cmd, "GL_DIR") {
			found = append(found, e.Name()+": "+cmd)
		}
	}
	return found
}

// leftovers describes what of a lab still exists: namespaces, links,
// processes, directory, lock file.
func leftovers(name, dir string) []string {
	var left []string
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, name) {
			left = append(left, "netns "+line)
		}
	}
	out, _ = exec.Command("ip", "-o", "link", "show").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], name) {
			left = append(left, "link "+f[1])
		}
	}
	for _, p := range labProcesses(dir) {
		left = append(left, "process "+p)
	}
	if _, err := os.Stat(dir); err == nil && os.Getenv("GOMHA_LAB_KEEP") != "1" {
		left = append(left, "dir "+dir)
	}
	locks, _ := filepath.Glob("/run/gomha-lab/net-*.lock")
	for _, p := range locks {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), `"`+name+`"`) {
			left = append(left, "lock "+p)
		}
	}
	return left
}

// waitGone waits up to d for a lab's leftovers to disappear (namespace
// teardown in the kernel is asynchronous) and fails the test otherwise.
func waitGone(t *testing.T, name, dir string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := leftovers(name, dir)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lab %s left behind:\n%s", name, strings.Join(left, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestLab(t *testing.T) {
	ctx := ctxFor(t, 5*time.Minute)
	start := time.Now()
	l := lab.New(t, lab.Options{})
	t.Logf("3-host lab started in %v", time.Since(start).Round(time.Millisecond))
	m := l.Master()

	t.Run("Topology", func(t *testing.T) {
		if len(l.Hosts) != 3 {
			t.Fatalf("hosts = %d, want 3", len(l.Hosts))
		}
		for i, h := range l.Hosts {
			got := sql(t, ctx, h, "SELECT @@server_id, @@log_bin, @@log_slave_updates, @@relay_log_purge, @@binlog_format, @@read_only, @@bind_address, @@port")
			ro := "1"
			if i == 0 {
				ro = "0"
			}
			want := strings.Join([]string{strconv.Itoa(i + 1), "1", "1", "0", "ROW", ro, h.IP, "3306"}, "\t")
			if got != want {
				t.Errorf("%s: variables = %q, want %q", h.Name, got, want)
			}
			if !strings.HasPrefix(h.IP, strings.TrimSuffix(l.Subnet, "0/24")) {
				t.Errorf("%s: IP %s outside %s", h.Name, h.IP, l.Subnet)
			}
		}
		if got := sql(t, ctx, m, "SHOW MASTER STATUS"); !strings.HasPrefix(got, "mysql-bin.") {
			t.Errorf("master status = %q, want a mysql-bin file", got)
		}
	})

	t.Run("Replication", func(t *testing.T) {
		sql(t, ctx, m, "CREATE DATABASE labtest; CREATE TABLE labtest.t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO labtest.t VALUES (1, 'hello')")
		for _, r := range l.Replicas() {
			st, err := r.Row(ctx, "SHOW SLAVE STATUS")
			if err != nil {
				t.Fatal(err)
			}
			if st["Master_Host"] != m.IP || st["Slave_IO_Running"] != "Yes" || st["Slave_SQL_Running"] != "Yes" || st["Using_Gtid"] != "No" {
				t.Errorf("%s: Master_Host=%s IO=%s SQL=%s Using_Gtid=%s", r.Name, st["Master_Host"], st["Slave_IO_Running"], st["Slave_SQL_Running"], st["Using_Gtid"])
			}
			if err := l.WaitReplicaCaughtUp(ctx, r); err != nil {
				t.Fatal(err)
			}
			if got := sql(t, ctx, r, "SELECT v FROM labtest.t WHERE id=1"); got != "hello" {
				t.Errorf("%s: row = %q, want hello", r.Name, got)
			}
		}
	})

	t.Run("Accounts", func(t *testing.T) {
		for _, h := range l.Hosts {
			got := sql(t, ctx, h, "SELECT user FROM mysql.user WHERE user IN ("+lab.QuoteSQL(l.AdminUser)+","+lab.QuoteSQL(l.ReplUser)+") ORDER BY user")
			if want := l.AdminUser + "\n" + l.ReplUser; got != want {
				t.Errorf("%s: users %q, want %q", h.Name, got, want)
			}
			// The manager's account over TCP from the root namespace, with
			// its hostile password passed as one argv element.
			out, err := exec.CommandContext(ctx, "mariadb", "--no-defaults", "-h", h.IP, "-P", "3306",
				"-u", l.AdminUser, "--password="+l.AdminPassword, "-N", "-B", "-e", "SELECT CURRENT_USER()").CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != l.AdminUser+"@%" {
				t.Errorf("%s: admin login over TCP: %v: %s", h.Name, err, out)
			}
		}
	})

	t.Run("SSH", func(t *testing.T) {
		for _, h := range l.Hosts {
			if _, err := sshRun(ctx, l, h, "exit", "0"); err != nil {
				t.Error(err)
			}
		}
		// Host to host, the ssh client running in db1's namespace.
		for _, dst := range l.Hosts[1:] {
			if _, err := m.Exec(ctx, "ssh", l.SSHArgs(dst, "exit", "0")...); err != nil {
				t.Error(err)
			}
		}
		// MHA's check-ssh: ssh src "ssh dst exit 0".
		inner := "ssh " + strings.Join(l.SSHArgs(l.Hosts[2], "exit", "0"), " ")
		if _, err := sshRun(ctx, l, l.Hosts[1], inner); err != nil {
			t.Error(err)
		}
		// A wrong key is refused.
		bad := filepath.Join(t.TempDir(), "bad")
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", bad).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
		args := l.SSHArgs(m, "exit", "0")
		args[1] = bad
		if err := exec.CommandContext(ctx, "ssh", args...).Run(); err == nil {
			t.Error("ssh with a key not in authorized_keys succeeded")
		}
	})

	t.Run("AppConf", func(t *testing.T) {
		conf := filepath.Join(t.TempDir(), "app1.cnf")
		if err := l.WriteAppConf(conf, "[server2] candidate_master=1"); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"password=" + l.AdminPassword, "ssh_options=" + l.SSHOptions(), "hostname=" + l.Hosts[2].IP, "candidate_master=1"} {
			if !strings.Contains(string(b), want+"\n") {
				t.Errorf("app config lacks %q:\n%s", want, b)
			}
		}
	})

	t.Run("LinkDownUp", func(t *testing.T) {
		h := l.Hosts[1]
		if !reachable(h.Addr(), time.Second) {
			t.Fatalf("%s not reachable before LinkDown", h.Name)
		}
		if err := h.LinkDown(); err != nil {
			t.Fatal(err)
		}
		if reachable(h.Addr(), 500*time.Millisecond) {
			t.Errorf("%s reachable from the root namespace with its link down", h.Name)
		}
		if _, err := m.Exec(ctx, "ssh", append([]string{"-o", "ConnectTimeout=1"}, l.SSHArgs(h, "exit", "0")...)...); err == nil {
			t.Errorf("%s reachable from %s with its link down", h.Name, m.Name)
		}
		// The host itself keeps running: its server still answers locally.
		if got := sql(t, ctx, h, "SELECT 1"); got != "1" {
			t.Errorf("%s: SELECT 1 = %q with link down", h.Name, got)
		}
		if err := h.LinkUp(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for !reachable(h.Addr(), 500*time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s not reachable 10s after LinkUp", h.Name)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if _, err := sshRun(ctx, l, h, "exit", "0"); err != nil {
			t.Error(err)
		}
	})

	t.Run("KillAndRestart", func(t *testing.T) {
		r := l.Hosts[2]
		pid := r.MariaDBPid()
		if err := r.KillMariaDB(); err != nil {
			t.Fatal(err)
		}
		if r.MariaDBRunning() || syscall.Kill(pid, 0) == nil {
			t.Fatalf("%s: mariadbd %d still running after kill", r.Name, pid)
		}
		if _, err := r.SQL(ctx, "SELECT 1"); err == nil {
			t.Fatalf("%s: SQL works after KillMariaDB", r.Name)
		}
		sql(t, ctx, m, "INSERT INTO labtest.t VALUES (2, 'while down')")
		if err := r.StartMariaDB(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.WaitReplicating(ctx); err != nil {
			t.Fatal(err)
		}
		if err := l.WaitReplicaCaughtUp(ctx, r); err != nil {
			t.Fatal(err)
		}
		if got := sql(t, ctx, r, "SELECT v FROM labtest.t WHERE id=2"); got != "while down" {
			t.Errorf("%s: row 2 = %q after restart", r.Name, got)
		}
		// Clean stop and start.
		if err := r.StopMariaDB(ctx); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(readFile(t, r.ErrorLog), "Shutdown complete") {
			t.Errorf("%s: no clean shutdown in the error log", r.Name)
		}
		if err := r.StartMariaDB(ctx); err != nil {
			t.Fatal(err)
		}
		if err := l.WaitReplicaCaughtUp(ctx, r); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("StopStartSSH", func(t *testing.T) {
		h := l.Hosts[1]
		if err := h.StopSSH(); err != nil {
			t.Fatal(err)
		}
		if _, err := sshRun(ctx, l, h, "exit", "0"); err == nil {
			t.Errorf("ssh to %s works with sshd stopped", h.Name)
		}
		if err := h.StartSSH(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := sshRun(ctx, l, h, "exit", "0"); err != nil {
			t.Error(err)
		}
	})

	t.Run("Close", func(t *testing.T) {
		// A stray process in a namespace goes too.
		if _, err := l.Hosts[1].StartProcess("sleep.log", "sleep", "1000"); err != nil {
			t.Fatal(err)
		}
		stray := l.Hosts[2].Command(context.Background(), "sleep", "1001")
		if err := stray.Start(); err != nil {
			t.Fatal(err)
		}
		go stray.Wait()
		start := time.Now()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("closed in %v", time.Since(start).Round(time.Millisecond))
		if err := l.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		waitGone(t, l.Name, l.Dir, 5*time.Second)
		if syscall.Kill(stray.Process.Pid, 0) == nil {
			t.Errorf("stray process %d survived Close", stray.Process.Pid)
		}
	})
}

func TestLabGTID(t *testing.T) {
	ctx := ctxFor(t, 5*time.Minute)
	start := time.Now()
	l := lab.New(t, lab.Options{GTID: true, GTIDStrictMode: true, ManagerNS: true, BinlogFormat: "mixed"})
	t.Logf("GTID lab started in %v", time.Since(start).Round(time.Millisecond))
	m := l.Master()
	sql(t, ctx, m, "CREATE DATABASE g; CREATE TABLE g.t (id INT PRIMARY KEY); INSERT INTO g.t VALUES (1),(2),(3)")
	want := sql(t, ctx, m, "SELECT @@gtid_binlog_pos")
	if !strings.HasPrefix(want, "0-1-") {
		t.Errorf("master gtid_binlog_pos = %q, want 0-1-N", want)
	}
	for _, r := range l.Replicas() {
		if err := l.WaitReplicaCaughtUp(ctx, r); err != nil {
			t.Fatal(err)
		}
		st, err := r.Row(ctx, "SHOW SLAVE STATUS")
		if err != nil {
			t.Fatal(err)
		}
		if st["Using_Gtid"] != "Slave_Pos" {
			t.Errorf("%s: Using_Gtid = %q, want Slave_Pos", r.Name, st["Using_Gtid"])
		}
		got := sql(t, ctx, r, "SELECT @@gtid_slave_pos, @@gtid_strict_mode, @@binlog_format, (SELECT COUNT(*) FROM g.t)")
		if w := want + "\t1\tMIXED\t3"; got != w {
			t.Errorf("%s: %q, want %q", r.Name, got, w)
		}
	}

	// The manager namespace reaches every host, and loses them all when its
	// own cable is pulled, while the hosts still reach each other.
	mgr := l.Manager
	if mgr == nil || !strings.HasSuffix(mgr.IP, ".2") {
		t.Fatalf("manager = %+v", mgr)
	}
	for _, h := range l.Hosts {
		if _, err := mgr.Exec(ctx, "ssh", l.SSHArgs(h, "exit", "0")...); err != nil {
			t.Error(err)
		}
	}
	if err := mgr.LinkDown(); err != nil {
		t.Fatal(err)
	}
	if _, err := mgr.Exec(ctx, "ssh", append([]string{"-o", "ConnectTimeout=1"}, l.SSHArgs(m, "exit", "0")...)...); err == nil {
		t.Error("manager reaches db1 with its link down")
	}
	if _, err := l.Hosts[1].Exec(ctx, "ssh", l.SSHArgs(m, "exit", "0")...); err != nil {
		t.Errorf("db2 cannot reach db1 while only the manager's link is down: %v", err)
	}
	if err := mgr.LinkUp(); err != nil {
		t.Fatal(err)
	}
}

func TestLabNoReplication(t *testing.T) {
	ctx := ctxFor(t, 5*time.Minute)
	l := lab.New(t, lab.Options{Hosts: 2, NoReplication: true, BinlogFormat: "STATEMENT", ExtraMyCnf: []string{"max_connections=42"}})
	for _, h := range l.Hosts {
		if st, err := h.Row(ctx, "SHOW SLAVE STATUS"); err != nil || st != nil {
			t.Errorf("%s: slave status %v, %v; want none", h.Name, st, err)
		}
		got := sql(t, ctx, h, "SELECT (SELECT COUNT(*) FROM mysql.user WHERE user IN ('mha','repl')), @@gtid_binlog_pos, @@binlog_format, @@max_connections")
		if want := "2\t\tSTATEMENT\t42"; got != want {
			t.Errorf("%s: %q, want %q (accounts created without binary logging)", h.Name, got, want)
		}
	}
	// Replication set up by hand works from the master's first binlog.
	if err := l.ChangeMaster(ctx, l.Hosts[1], l.Hosts[0], false); err != nil {
		t.Fatal(err)
	}
	sql(t, ctx, l.Hosts[0], "CREATE DATABASE nr")
	if err := l.Hosts[1].WaitReplicating(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitReplicaCaughtUp(ctx, l.Hosts[1]); err != nil {
		t.Fatal(err)
	}
	if got := sql(t, ctx, l.Hosts[1], "SHOW DATABASES LIKE 'nr'"); got != "nr" {
		t.Errorf("db2 lacks database nr: %q", got)
	}
}

// TestLabStartFailure: a lab that cannot start reports why and leaves
// nothing behind.
func TestLabStartFailure(t *testing.T) {
	if !lab.Enabled() {
		t.Skip("integration lab disabled: set GOMHA_LAB=1")
	}
	// Start's error names the lab it tore down.
	named := regexp.MustCompile(`\(lab (gl-[0-9a-f]{6}), dir ([^)]+)\)`)
	t.Run("BadOption", func(t *testing.T) {
		_, err := lab.Start(t.Context(), lab.Options{Hosts: 2, ExtraMyCnf: []string{"no_such_option=1"}})
		if err == nil || !strings.Contains(err.Error(), "start mariadbd on db") || !strings.Contains(err.Error(), "no_such_option") {
			t.Fatalf("Start = %v, want a mariadbd start error naming the option", err)
		}
		t.Log(err)
		m := named.FindStringSubmatch(err.Error())
		if m == nil {
			t.Fatalf("error does not name the lab: %v", err)
		}
		waitGone(t, m[1], m[2], 5*time.Second)
	})
	t.Run("Deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
		defer cancel()
		_, err := lab.Start(ctx, lab.Options{})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Start = %v, want a deadline error", err)
		}
		t.Log(err)
		if m := named.FindStringSubmatch(err.Error()); m != nil {
			waitGone(t, m[1], m[2], 5*time.Second)
		}
	})
}

// crashChildEnv makes TestCrashChild start a lab, report it and hang until
// killed: a test process that dies without Close.
const crashChildEnv = "GOMHA_LAB_CRASH_CHILD"

// TestCrashChild is the child of TestLabCrash; it does nothing otherwise.
func TestCrashChild(t *testing.T) {
	if os.Getenv(crashChildEnv) != "1" {
		t.Skip("helper process for TestLabCrash")
	}
	l, err := lab.Start(t.Context(), lab.Options{Hosts: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]string{"name": l.Name, "dir": l.Dir, "watchdog": strconv.Itoa(lab.WatchdogPid(l))})
	fmt.Printf("LAB %s\n", b)
	time.Sleep(10 * time.Minute)
}

// startCrashChild runs TestCrashChild in a new process and returns it with
// the lab it reported.
func startCrashChild(t *testing.T) (*exec.Cmd, map[string]string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), crashChildEnv+"=1", "GOMHA_LAB_KEEP=0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "LAB "); ok {
			var info map[string]string
			if err := json.Unmarshal([]byte(rest), &info); err != nil {
				t.Fatal(err)
			}
			go func() {
				for sc.Scan() {
				}
			}()
			return cmd, info
		}
		t.Log("child: " + sc.Text())
	}
	t.Fatalf("child exited without starting a lab: %v", cmd.Wait())
	return nil, nil
}

// TestLabCrash kills a test process that has a lab running: its watchdog
// removes everything; with the watchdog killed too, CleanupStale does.
func TestLabCrash(t *testing.T) {
	if !lab.Enabled() {
		t.Skip("integration lab disabled: set GOMHA_LAB=1")
	}
	t.Run("Watchdog", func(t *testing.T) {
		cmd, info := startCrashChild(t)
		if len(leftovers(info["name"], info["dir"])) == 0 {
			t.Fatal("child's lab not visible")
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		waitGone(t, info["name"], info["dir"], 15*time.Second)
	})
	t.Run("CleanupStale", func(t *testing.T) {
		cmd, info := startCrashChild(t)
		wd, _ := strconv.Atoi(info["watchdog"])
		if wd <= 0 {
			t.Fatalf("no watchdog pid: %v", info)
		}
		_ = syscall.Kill(wd, syscall.SIGKILL)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		time.Sleep(200 * time.Millisecond)
		if len(leftovers(info["name"], info["dir"])) == 0 {
			t.Fatal("nothing left to clean: the watchdog was not killed in time")
		}
		if err := lab.CleanupStale(t.Context()); err != nil {
			t.Fatal(err)
		}
		waitGone(t, info["name"], info["dir"], 5*time.Second)
	})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}
