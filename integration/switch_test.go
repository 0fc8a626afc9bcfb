package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/integration/lab"
)

// switchTimeout bounds one switch command. A switch finishes in about a
// second; a rollback after a pulled cable waits for the connect timeout.
const switchTimeout = 2 * time.Minute

// loadInterval is the writer's pace: one insert every 5 ms.
const loadInterval = 5 * time.Millisecond

// switchArgs is the online switch to host with MHA's flags, no questions.
func switchArgs(conf string, to *lab.Host, extra ...string) []string {
	return append([]string{"switch", "--master_state=alive", "--conf=" + conf,
		"--new_master_host=" + to.IP, "--interactive=0"}, extra...)
}

// startLoad prepares the load table and starts a writer that tries every
// host in turn, so that its inserts follow whichever host is writable
// (the application account has no SUPER: read_only stops it).
func startLoad(t testing.TB, ctx context.Context, l *lab.Lab) *lab.Writer {
	t.Helper()
	if err := l.PrepareLoad(ctx); err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, h := range l.Hosts {
		addrs = append(addrs, h.Addr())
	}
	w := lab.StartWriter(ctx, func() []string { return addrs }, loadInterval)
	t.Cleanup(w.Stop)
	if err := w.WaitAcked(ctx, 20); err != nil {
		t.Fatal(err)
	}
	return w
}

// writesOn waits until n more inserts were acknowledged and checks that the
// last one went to want.
func writesOn(t *testing.T, ctx context.Context, w *lab.Writer, want *lab.Host, n int) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := w.WaitAcked(wctx, n); err != nil {
		t.Fatalf("writes did not resume: %v", err)
	}
	acked := w.Acked()
	if last := acked[len(acked)-1]; last.Addr != want.Addr() {
		t.Fatalf("writes go to %s, want %s (%s)", last.Addr, want.Name, want.Addr())
	}
}

// replicatesFrom checks that h replicates from src with both threads
// running and, when gtid is set, by MariaDB GTID (Using_Gtid=Slave_Pos).
func replicatesFrom(t *testing.T, ctx context.Context, h, src *lab.Host, gtid bool) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := h.WaitReplicating(wctx); err != nil {
		t.Fatal(err)
	}
	st, err := h.Row(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		t.Fatal(err)
	}
	if st["Master_Host"] != src.IP {
		t.Errorf("%s replicates from %s, want %s (%s)", h.Name, st["Master_Host"], src.Name, src.IP)
	}
	if want := map[bool]string{true: "Slave_Pos", false: "No"}[gtid]; st["Using_Gtid"] != want {
		t.Errorf("%s: Using_Gtid=%s, want %s", h.Name, st["Using_Gtid"], want)
	}
}

// readOnly returns @@global.read_only of h.
func readOnly(t *testing.T, ctx context.Context, h *lab.Host) string {
	t.Helper()
	return strings.TrimSpace(sqlOn(t, ctx)(h, "SELECT @@global.read_only"))
}

// nothingLost stops the writer, waits until every replica of master has
// caught up, and checks that every acknowledged insert is on every host.
func nothingLost(t *testing.T, ctx context.Context, l *lab.Lab, w *lab.Writer, master *lab.Host) {
	t.Helper()
	w.Stop()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, h := range l.Hosts {
		if h == master {
			continue
		}
		if err := l.WaitReplicaCaughtUp(wctx, h); err != nil {
			t.Fatal(err)
		}
	}
	acked := w.Acked()
	for _, h := range l.Hosts {
		missing, err := w.Missing(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if len(missing) > 0 {
			t.Errorf("%s lacks %d of %d acknowledged inserts, first %v", h.Name, len(missing), len(acked), missing[:min(len(missing), 10)])
		}
	}
	gap, _ := w.LongestGap()
	t.Logf("%d acknowledged inserts, all on every host; longest gap between two of them %s", len(acked), gap.Round(time.Millisecond))
}

// blocker runs a write statement on h that takes secs seconds (an INSERT
// ... SELECT SLEEP), as root, in the background; wait returns its error.
func blocker(t *testing.T, ctx context.Context, h *lab.Host, secs int) (wait func() error) {
	t.Helper()
	sqlOn(t, ctx)(h, "CREATE TABLE IF NOT EXISTS "+lab.LoadDB+".blocker (x INT) ENGINE=InnoDB")
	done := make(chan error, 1)
	go func() {
		_, err := h.SQL(ctx, fmt.Sprintf("INSERT INTO %s.blocker SELECT SLEEP(%d)", lab.LoadDB, secs))
		done <- err
	}()
	return func() error { return <-done }
}

// TestSwitchRunbook follows a DBA's online switch for maintenance under a
// steady insert load: db1 to db2 and back with the old master kept as a
// replica; a long update on the master refuses the switch or makes it roll
// back within the bound; a new master that drops off the network in the
// middle of the switch rolls it back; --kill_blocking clears the way. No
// acknowledged insert is ever lost.
func TestSwitchRunbook(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 3})
	ctx := context.Background()
	conf := filepath.Join(l.Dir, "app1.cnf")
	if err := l.WriteAppConf(conf); err != nil {
		t.Fatal(err)
	}
	db1, db2, db3 := l.Hosts[0], l.Hosts[1], l.Hosts[2]
	w := startLoad(t, ctx, l)

	t.Run("strict parsing: an unknown option is refused", func(t *testing.T) {
		r := mha(t, switchTimeout, switchArgs(conf, db2, "--bogus=1")...)
		expect(t, r, 1, "Unknown options: --bogus=1")
		link := filepath.Join(t.TempDir(), "masterha_master_switch")
		if err := os.Symlink(bins.mha, link); err != nil {
			t.Fatal(err)
		}
		r = run(t, switchTimeout, link, "--master_state=alive", "--conf="+conf, "--new_master_host="+db2.IP, "--interactive=0", "--check_only", "--dead_master_host=x")
		expect(t, r, 1, "Unknown options: --dead_master_host=x")
	})

	t.Run("check_only changes nothing", func(t *testing.T) {
		r := mha(t, switchTimeout, switchArgs(conf, db2, "--check_only")...)
		expect(t, r, 0, "--check_only is set. Exit.")
		writesOn(t, ctx, w, db1, 10)
	})

	t.Run("db1 to db2 with orig_master_is_new_slave, then back", func(t *testing.T) {
		r := mha(t, switchTimeout, switchArgs(conf, db2, "--orig_master_is_new_slave")...)
		expect(t, r, 0, "Switching master to "+db2.IP+"("+db2.Addr()+") completed successfully.")
		writesOn(t, ctx, w, db2, 20)
		replicatesFrom(t, ctx, db1, db2, false)
		replicatesFrom(t, ctx, db3, db2, false)
		if ro := readOnly(t, ctx, db1); ro != "1" {
			t.Errorf("old master db1 read_only=%s, want 1", ro)
		}
		if st, _ := db2.Row(ctx, "SHOW SLAVE STATUS"); st != nil {
			t.Errorf("new master db2 still has replication settings (RESET SLAVE ALL expected): %v", st)
		}

		r = mha(t, switchTimeout, switchArgs(conf, db1, "--orig_master_is_new_slave")...)
		expect(t, r, 0, "Switching master to "+db1.IP+"("+db1.Addr()+") completed successfully.")
		writesOn(t, ctx, w, db1, 20)
		replicatesFrom(t, ctx, db2, db1, false)
		replicatesFrom(t, ctx, db3, db1, false)
	})

	t.Run("a long update on the master: refused, or rolled back within the bound", func(t *testing.T) {
		wait := blocker(t, ctx, db1, 6)
		time.Sleep(2500 * time.Millisecond)
		// It has run for 2 s or more: MHA's --running_updates_limit=1 refuses.
		r := mha(t, switchTimeout, switchArgs(conf, db2, "--orig_master_is_new_slave")...)
		expect(t, r, 1, "update thread(s) are running")
		// Allowed by a higher limit, it keeps read_only=1 waiting past the
		// bound: the switch rolls back.
		r = mha(t, switchTimeout, switchArgs(conf, db2, "--orig_master_is_new_slave", "--running_updates_limit=30", "--max_write_block=1s")...)
		expect(t, r, 1, "rolled back", "--max_write_block")
		if ro := readOnly(t, ctx, db1); ro != "0" {
			t.Errorf("db1 read_only=%s after the rollback, want 0", ro)
		}
		writesOn(t, ctx, w, db1, 20)
		replicatesFrom(t, ctx, db2, db1, false)
		replicatesFrom(t, ctx, db3, db1, false)
		if err := wait(); err != nil {
			t.Errorf("the long update failed: %v", err)
		}
	})

	t.Run("new master unreachable mid-switch: rollback, the hook moves the address back", func(t *testing.T) {
		ip := lab.Require(t, "ip")[0]
		hookLog := filepath.Join(l.Dir, "online-change-hook.log")
		script := filepath.Join(l.Dir, "pull-db2-cable")
		body := fmt.Sprintf("#!/bin/sh\n# test hook: records its arguments; on stop, pulls db2's cable\necho \"$*\" >> %s\ncase \" $* \" in *\" --command=stop \"*) %s link set %s down ;; esac\nexit 0\n", hookLog, ip, db2.Veth)
		if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		cut := filepath.Join(l.Dir, "cut.cnf")
		if err := l.WriteAppConf(cut, "master_ip_online_change_script="+script); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db2.LinkUp() })
		r := mha(t, switchTimeout, switchArgs(cut, db2, "--orig_master_is_new_slave")...)
		expect(t, r, 1, "rolled back", "waiting for the new master")
		if ro := readOnly(t, ctx, db1); ro != "0" {
			t.Errorf("db1 read_only=%s after the rollback, want 0", ro)
		}
		writesOn(t, ctx, w, db1, 20)
		calls, err := os.ReadFile(hookLog)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(calls)), "\n")
		if len(lines) != 2 || !strings.Contains(lines[0], "--command=stop") || !strings.Contains(lines[1], "--command=start") ||
			!strings.Contains(lines[1], "--new_master_host="+db1.IP+" ") || !strings.Contains(lines[1], "--orig_master_host="+db2.IP+" ") {
			t.Errorf("hook calls: want stop, then start with db1 as the new master; got\n%s", calls)
		}
		if err := db2.LinkUp(); err != nil {
			t.Fatal(err)
		}
		replicatesFrom(t, ctx, db2, db1, false)
		replicatesFrom(t, ctx, db3, db1, false)
		// db2's replication connection survived the cut, but TCP
		// retransmissions back off: let it catch up before the next switch
		// (which would otherwise roll back at the bound, rightly).
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := l.WaitReplicaCaughtUp(wctx, db2); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("kill_blocking: the blocking update is killed, the switch goes through", func(t *testing.T) {
		// Running for 1 s, it passes the check (MHA refuses from
		// --running_updates_limit + 1 s on) but would keep read_only=1
		// waiting for 20 s: --kill_blocking kills it.
		wait := blocker(t, ctx, db1, 20)
		time.Sleep(1200 * time.Millisecond)
		r := mha(t, switchTimeout, switchArgs(conf, db2, "--orig_master_is_new_slave", "--kill_blocking")...)
		expect(t, r, 0, "killing a session that blocks the write lock", "completed successfully")
		if err := wait(); err == nil {
			t.Errorf("the blocking update was not killed")
		}
		writesOn(t, ctx, w, db2, 20)
		replicatesFrom(t, ctx, db1, db2, false)
		replicatesFrom(t, ctx, db3, db2, false)
		nothingLost(t, ctx, l, w, db2)
	})
}

// TestSwitchGTIDRunbook switches a MariaDB GTID topology there and back
// under load: every replica, the old master included, stays on GTID
// (Using_Gtid=Slave_Pos), and nothing acknowledged is lost.
func TestSwitchGTIDRunbook(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 3, GTID: true})
	ctx := context.Background()
	conf := filepath.Join(l.Dir, "app1.cnf")
	if err := l.WriteAppConf(conf); err != nil {
		t.Fatal(err)
	}
	db1, db2, db3 := l.Hosts[0], l.Hosts[1], l.Hosts[2]
	w := startLoad(t, ctx, l)

	r := mha(t, switchTimeout, switchArgs(conf, db2, "--orig_master_is_new_slave")...)
	expect(t, r, 0, "completed successfully", "MariaDB GTID")
	writesOn(t, ctx, w, db2, 20)
	replicatesFrom(t, ctx, db1, db2, true)
	replicatesFrom(t, ctx, db3, db2, true)

	r = mha(t, switchTimeout, switchArgs(conf, db1, "--orig_master_is_new_slave")...)
	expect(t, r, 0, "completed successfully")
	writesOn(t, ctx, w, db1, 20)
	replicatesFrom(t, ctx, db2, db1, true)
	replicatesFrom(t, ctx, db3, db1, true)
	nothingLost(t, ctx, l, w, db1)
}

// TestSwitchVIPRunbook switches with samples/master_ip_online_change as
// master_ip_online_change_script, while the application writes through a
// virtual IP address only: the address follows the master there and back,
// and nothing acknowledged is lost. The sample's arping (3 packets, about
// 2 s) runs inside the write block, so the bound is raised here.
func TestSwitchVIPRunbook(t *testing.T) {
	// mariadbd listens on every address, as on a host that takes a VIP.
	l := lab.New(t, lab.Options{Hosts: 3, ExtraMyCnf: []string{"bind-address=0.0.0.0"}})
	ctx := context.Background()
	db1, db2, db3 := l.Hosts[0], l.Hosts[1], l.Hosts[2]
	vip := labVIP(l)
	sample, err := filepath.Abs("../samples/master_ip_online_change")
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(l.Dir, "app1.cnf")
	hook := fmt.Sprintf(`%s "--ssh_options=%s" --vip=%s --interface=eth0`, sample, l.SSHOptions(), vip)
	if err := l.WriteAppConf(conf, "master_ip_online_change_script="+hook); err != nil {
		t.Fatal(err)
	}
	if out, err := db1.Exec(ctx, "ip", "addr", "add", vip.String(), "dev", "eth0"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if err := l.PrepareLoad(ctx); err != nil {
		t.Fatal(err)
	}
	vipAddr := net.JoinHostPort(vip.Addr().String(), "3306")
	w := lab.StartWriter(ctx, func() []string { return []string{vipAddr} }, loadInterval)
	t.Cleanup(w.Stop)
	if err := w.WaitAcked(ctx, 20); err != nil {
		t.Fatal(err)
	}
	answers := func(want *lab.Host) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := w.WaitAcked(wctx, 20); err != nil {
			t.Fatalf("writes through the VIP did not resume: %v", err)
		}
		if id, err := serverIDAt(ctx, l, vip.Addr()); err != nil || id != want.ServerID {
			t.Fatalf("%s answers with server_id %d (%v), want %s's %d", vip.Addr(), id, err, want.Name, want.ServerID)
		}
	}

	r := mha(t, switchTimeout, switchArgs(conf, db2, "--orig_master_is_new_slave", "--max_write_block=10s")...)
	expect(t, r, 0, "completed successfully")
	answers(db2)
	replicatesFrom(t, ctx, db1, db2, false)
	replicatesFrom(t, ctx, db3, db2, false)

	r = mha(t, switchTimeout, switchArgs(conf, db1, "--orig_master_is_new_slave", "--max_write_block=10s")...)
	expect(t, r, 0, "completed successfully")
	answers(db1)
	nothingLost(t, ctx, l, w, db1)
}
