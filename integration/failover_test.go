package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomha/gomha/integration/lab"
)

// failoverRig is a lab under a steady insert load, with the application
// configuration written, ready for the master to die.
type failoverRig struct {
	t      *testing.T
	l      *lab.Lab
	ctx    context.Context
	conf   string
	writer *lab.Writer
	// paused stops the writer's inserts while set.
	paused atomic.Bool
}

// newFailoverRig starts a lab of hosts servers, the load table, a writer
// that inserts into whichever host accepts (only a writable master does),
// and the configuration with extra lines.
func newFailoverRig(t *testing.T, opts lab.Options, extra ...string) *failoverRig {
	t.Helper()
	return newFailoverRigOn(t, lab.New(t, opts), extra...)
}

// newFailoverRigOn is newFailoverRig on a lab already started.
func newFailoverRigOn(t *testing.T, l *lab.Lab, extra ...string) *failoverRig {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	t.Cleanup(cancel)
	if err := l.PrepareLoad(ctx); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(l.Dir, "app1.cnf")
	if err := l.WriteAppConf(conf, extra...); err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, h := range l.Hosts {
		addrs = append(addrs, h.Addr())
	}
	r := &failoverRig{t: t, l: l, ctx: ctx, conf: conf}
	r.writer = lab.StartWriter(ctx, func() []string {
		if r.paused.Load() {
			return nil
		}
		return addrs
	}, 5*time.Millisecond)
	t.Cleanup(r.writer.Stop)
	if err := r.writer.WaitAcked(ctx, 50); err != nil {
		t.Fatal(err)
	}
	return r
}

// waitReceived waits until replica h's IO thread received everything the
// master m wrote (its Read position is m's binlog position).
func (r *failoverRig) waitReceived(m, h *lab.Host) {
	r.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ms, err1 := m.Row(r.ctx, "SHOW MASTER STATUS")
		rs, err2 := h.Row(r.ctx, "SHOW SLAVE STATUS")
		if err1 == nil && err2 == nil && ms != nil && rs != nil &&
			ms["File"] == rs["Master_Log_File"] && ms["Position"] == rs["Read_Master_Log_Pos"] {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s did not receive %s's binlog: %v %v %v %v", h.Name, m.Name, ms, rs, err1, err2)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deadSwitch runs the manual failover as a DBA would after the master died.
func (r *failoverRig) deadSwitch(args ...string) result {
	r.t.Helper()
	m := r.l.Master()
	all := append([]string{"switch", "--master_state=dead", "--conf=" + r.conf,
		"--dead_master_host=" + m.IP, "--dead_master_port=3306", "--interactive=0"}, args...)
	return mha(r.t, 3*time.Minute, all...)
}

// verify checks the runbook's promises after a failover to newMaster:
// writes go on there, every acknowledged insert is on every survivor, the
// other survivors replicate from it.
func (r *failoverRig) verify(newMaster *lab.Host, survivors ...*lab.Host) {
	t := r.t
	t.Helper()
	if err := r.writer.WaitAcked(r.ctx, 20); err != nil {
		t.Fatalf("no writes after the failover: %v", err)
	}
	r.writer.Stop()
	last := r.writer.Acked()[len(r.writer.Acked())-1]
	if last.Addr != newMaster.Addr() {
		t.Errorf("last write went to %s; want the new master %s", last.Addr, newMaster.Addr())
	}
	if got, _ := newMaster.SQL(r.ctx, "SELECT @@global.read_only"); got != "0" {
		t.Errorf("%s read_only = %s after failover; want 0", newMaster.Name, got)
	}
	for _, h := range survivors {
		if h == newMaster {
			continue
		}
		st, err := h.Row(r.ctx, "SHOW SLAVE STATUS")
		if err != nil || st == nil {
			t.Fatalf("%s: SHOW SLAVE STATUS: %v %v", h.Name, st, err)
		}
		if st["Master_Host"] != newMaster.IP && st["Master_Host"] != newMaster.Name {
			t.Errorf("%s replicates from %s; want %s", h.Name, st["Master_Host"], newMaster.IP)
		}
		if err := r.l.WaitReplicaCaughtUp(r.ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range survivors {
		missing, err := r.writer.Missing(r.ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if len(missing) > 0 {
			t.Errorf("%s lacks %d acknowledged inserts: %v", h.Name, len(missing), head(missing, 20))
		}
	}
	if rs, _ := newMaster.Row(r.ctx, "SHOW SLAVE STATUS"); rs != nil {
		t.Errorf("new master %s still has a replica configuration: %v", newMaster.Name, rs)
	}
}

func head[T any](s []T, n int) []T {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// TestFailoverKillRunbook: the master's mariadbd is killed with -9 under
// load; the manual failover promotes the most advanced replica, the other
// follows it, and every insert acknowledged before the kill is on both.
func TestFailoverKillRunbook(t *testing.T) {
	r := newFailoverRig(t, lab.Options{Hosts: 3})
	if err := r.l.Master().KillMariaDB(); err != nil {
		t.Fatal(err)
	}
	res := r.deadSwitch()
	expect(t, res, 0, "completed successfully", "----- Failover Report -----", "Nothing lost")
	db2, db3 := r.l.Hosts[1], r.l.Hosts[2]
	newMaster := db2
	if strings.Contains(res.stdout+res.stderr, "Selected "+db3.IP) {
		newMaster = db3
	}
	r.verify(newMaster, db2, db3)
}

// TestFailoverLaggingReplicaRunbook: one replica's SQL thread is stopped
// (its relay log runs ahead of what it applied) when the master dies and
// its host is gone too; the failover applies relay-log differences and
// every table ends equal.
func TestFailoverLaggingReplicaRunbook(t *testing.T) {
	r := newFailoverRig(t, lab.Options{Hosts: 3}, "[server2] candidate_master=1")
	sql := sqlOn(t, r.ctx)
	db1, db2, db3 := r.l.Hosts[0], r.l.Hosts[1], r.l.Hosts[2]
	p := r.startManager()
	sql(db3, "STOP SLAVE SQL_THREAD")
	sql(db2, "STOP SLAVE IO_THREAD")
	// Thousands of transactions (about 5 MB) that db3 receives and does not
	// apply, and db2 never receives.
	sql(db1, "CREATE TABLE IF NOT EXISTS "+bulkTable+" (id INT PRIMARY KEY, pad VARCHAR(1000)) ENGINE=InnoDB")
	for b := range 5 { // a client argument holds at most 128 kB
		var bulk strings.Builder
		for i := b * 1000; i < (b+1)*1000; i++ {
			fmt.Fprintf(&bulk, "INSERT INTO %s VALUES (%d, REPEAT(CHAR(%d), 1000));\n", bulkTable, i, 65+i%26)
		}
		sql(db1, bulk.String())
	}
	if err := r.writer.WaitAcked(r.ctx, 200); err != nil {
		t.Fatal(err)
	}
	// db2 (the candidate) misses the last writes entirely; db3 received
	// them but did not apply them. The master's host disappears: no binlog
	// can be read from it. (The writer pauses until db3 received every
	// acknowledged insert: the runbook is about the relay logs, not about
	// what only the isolated master had, which the cable runbook covers.)
	r.paused.Store(true)
	time.Sleep(50 * time.Millisecond)
	r.waitReceived(db1, db3)
	if err := db1.LinkDown(); err != nil {
		t.Fatal(err)
	}
	r.paused.Store(false)
	sql(db2, "START SLAVE IO_THREAD")
	if code := p.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("manager exit %d; want 0", code)
	}
	out := p.out.String()
	for _, want := range []string{"completed successfully", "Generating relay diff files from the latest slave", "Possibly lost",
		"its own SQL thread applied its relay log", "End point: every survivor converged to"} {
		if !strings.Contains(out, want) {
			t.Errorf("manager output lacks %q", want)
		}
	}
	if m := regexp.MustCompile(`\S+: its own SQL thread applied its relay log .*`).FindString(out); m != "" {
		t.Log(m)
	}
	r.verify(db2, db2, db3)
	if n := sql(db3, "SELECT COUNT(*) FROM "+bulkTable); n != "5000" {
		t.Errorf("db3 has %s rows of %s; want 5000", n, bulkTable)
	}
	for _, tb := range []string{lab.LoadTable, bulkTable} {
		q := "CHECKSUM TABLE " + tb
		if a, b := sql(db2, q), sql(db3, q); a != b {
			t.Errorf("%s: db2 %q, db3 %q", q, a, b)
		}
	}
}

// bulkTable is the lagging-replica runbook's table of thousands of
// transactions.
const bulkTable = lab.LoadDB + ".bulk"

// managerProc is a running masterha_manager.
type managerProc struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan error
}

// startManager starts the manager under its MHA name (it exits after one
// failover, as masterha_manager does) and waits until it monitors.
func (r *failoverRig) startManager(args ...string) *managerProc {
	t := r.t
	t.Helper()
	link := filepath.Join(t.TempDir(), "masterha_manager")
	if err := os.Symlink(bins.mha, link); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(link, append([]string{"--conf=" + r.conf}, args...)...)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = &syncWriter{w: out}, &syncWriter{w: out}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &managerProc{cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		t.Logf("manager output:\n%s", out.String())
	})
	health := filepath.Join(r.l.ManagerWorkdir, "app1.master_status.health")
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(health)
		if strings.Contains(string(b), "0:PING_OK") {
			return p
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("manager exited during start-up: %v\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("manager not monitoring after 60s; health file %q\n%s", b, out.String())
		}
	}
}

// wait waits for the manager to exit and returns its exit code.
func (p *managerProc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(timeout):
		t.Fatalf("manager still running after %s", timeout)
		return -1
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

// TestManagerKillRunbook: the manager watches the cluster; the master's
// mariadbd is killed with -9 under load; the manager confirms the death,
// promotes the most advanced replica and exits 0 as masterha_manager does.
func TestManagerKillRunbook(t *testing.T) {
	r := newFailoverRig(t, lab.Options{Hosts: 3})
	p := r.startManager()
	if err := r.l.Master().KillMariaDB(); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("manager exit %d; want 0\n%s", code, p.out.String())
	}
	out := p.out.String()
	db2, db3 := r.l.Hosts[1], r.l.Hosts[2]
	newMaster := db2
	if strings.Contains(out, "Selected "+db3.IP) {
		newMaster = db3
	}
	r.verify(newMaster, db2, db3)
	if _, err := os.Stat(filepath.Join(r.l.ManagerWorkdir, "app1.failover.complete")); err != nil {
		t.Errorf("no failover.complete flag: %v", err)
	}
}

// vipConf returns the configuration lines that make the built-in VIP hook
// the cluster's master_ip_failover_script, and the VIP (.100 of the lab).
func vipConf(l *lab.Lab) (string, []string) {
	p := netip.MustParsePrefix(l.Subnet)
	a := p.Addr().As4()
	a[3] = 100
	vip := netip.PrefixFrom(netip.AddrFrom4(a), p.Bits())
	return vip.Addr().String(), []string{
		"master_ip_failover_script=" + bins.mha + " hook vip --vip=" + vip.String() + " --ssh_options='" + l.SSHOptions() + "' --interface=eth0",
	}
}

// TestFailoverVIPRunbook: applications write through a VIP held by the
// master; the master's mariadbd is killed; the manager moves the VIP to the
// new master before enabling writes there, and the writes resume on the VIP.
func TestFailoverVIPRunbook(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 3, ExtraMyCnf: []string{"bind-address=0.0.0.0"}})
	vip, extra := vipConf(l)
	r := newVIPRig(t, l, vip, extra...)
	p := r.startManager()
	killed := time.Now()
	if err := r.l.Master().KillMariaDB(); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("manager exit %d; want 0", code)
	}
	out := p.out.String()
	for _, want := range []string{"Invalidated master IP address", "Activated master IP address", "completed successfully"} {
		if !strings.Contains(out, want) {
			t.Errorf("manager output lacks %q", want)
		}
	}
	if err := r.writer.WaitAcked(r.ctx, 20); err != nil {
		t.Fatalf("no writes through the VIP after the failover: %v", err)
	}
	first, _ := r.writer.FirstAfter(killed)
	t.Logf("kill -> first write through the VIP: %s", first.At.Sub(killed).Round(time.Millisecond))
	db2, db3 := r.l.Hosts[1], r.l.Hosts[2]
	newMaster := db2
	if strings.Contains(out, "Selected "+db3.IP) {
		newMaster = db3
	}
	var id int
	var err error
	for range 20 { // ARP caches settle within the hook's arping
		if id, err = serverIDAt(r.ctx, l, netip.MustParseAddr(vip)); err == nil && id == newMaster.ServerID {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if id != newMaster.ServerID {
		t.Errorf("the VIP answers with server_id %d (%v); want the new master %s's %d", id, err, newMaster.Name, newMaster.ServerID)
	}
	r.writer.Stop()
	for _, h := range []*lab.Host{db2, db3} {
		if h != newMaster {
			if err := r.l.WaitReplicaCaughtUp(r.ctx, h); err != nil {
				t.Fatal(err)
			}
		}
		missing, err := r.writer.Missing(r.ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if len(missing) > 0 {
			t.Errorf("%s lacks acknowledged inserts %v", h.Name, head(missing, 20))
		}
	}
}

// newVIPRig is newFailoverRig for a lab already started, with the VIP
// placed on the master and the writer writing through it.
func newVIPRig(t *testing.T, l *lab.Lab, vip string, extra ...string) *failoverRig {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	t.Cleanup(cancel)
	if err := l.PrepareLoad(ctx); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(l.Dir, "app1.cnf")
	if err := l.WriteAppConf(conf, extra...); err != nil {
		t.Fatal(err)
	}
	m := l.Master()
	if _, err := m.Exec(ctx, "ip", "addr", "add", vip+"/24", "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(vip, "3306")
	w := lab.StartWriter(ctx, func() []string { return []string{addr} }, 5*time.Millisecond)
	t.Cleanup(w.Stop)
	if err := w.WaitAcked(ctx, 50); err != nil {
		t.Fatal(err)
	}
	return &failoverRig{t: t, l: l, ctx: ctx, conf: conf, writer: w}
}

// TestFailoverCableRunbook: the master's cable is pulled under load. The
// manager fails over; the report names the dead master's coordinates after
// which transactions may be lost; once the cable is back, every
// acknowledged insert the survivors lack is indeed after those coordinates
// in the old master's binlog.
func TestFailoverCableRunbook(t *testing.T) {
	r := newFailoverRig(t, lab.Options{Hosts: 3})
	p := r.startManager()
	db1 := r.l.Master()
	if err := db1.LinkDown(); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("manager exit %d; want 0", code)
	}
	out := p.out.String()
	m := regexp.MustCompile(`Possibly lost: .* after (\S+):(\d+) \(the latest Read position`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the failover report does not name what may be lost")
	}
	db2, db3 := r.l.Hosts[1], r.l.Hosts[2]
	newMaster := db2
	if strings.Contains(out, "Selected "+db3.IP) {
		newMaster = db3
	}
	if err := r.writer.WaitAcked(r.ctx, 20); err != nil {
		t.Fatal(err)
	}
	r.writer.Stop()
	missing, err := r.writer.Missing(r.ctx, newMaster)
	if err != nil {
		t.Fatal(err)
	}
	if err := db1.LinkUp(); err != nil {
		t.Fatal(err)
	}
	after, err := db1.Exec(r.ctx, "sh", "-c", fmt.Sprintf("mariadb-binlog -v --start-position=%s %s", m[2], filepath.Join(db1.DataDir, m[1])))
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, mm := range regexp.MustCompile(`###   @1=(\d+)`).FindAllStringSubmatch(string(after), -1) {
		named[mm[1]] = true
	}
	for _, id := range missing {
		if !named[fmt.Sprint(id)] {
			t.Errorf("acknowledged insert %d is missing on the new master but is not after the reported %s:%s", id, m[1], m[2])
		}
	}
	t.Logf("%d acknowledged inserts were on the isolated master only (after %s:%s)", len(missing), m[1], m[2])
	if got, _ := newMaster.SQL(r.ctx, "SELECT @@global.read_only"); got != "0" {
		t.Errorf("new master %s read_only=%s", newMaster.Name, got)
	}
}

// TestFailoverCandidateRunbook: no_master=1 keeps the most advanced replica
// from being promoted and candidate_master=1 wins; a second failure within
// last_failover_minute is refused and changes nothing.
func TestFailoverCandidateRunbook(t *testing.T) {
	r := newFailoverRig(t, lab.Options{Hosts: 3}, "[server2] no_master=1", "[server3] candidate_master=1")
	sql := sqlOn(t, r.ctx)
	db2, db3 := r.l.Hosts[1], r.l.Hosts[2]
	// db3 falls behind: db2 is the most advanced replica but may not be
	// master.
	sql(db3, "STOP SLAVE IO_THREAD")
	if err := r.writer.WaitAcked(r.ctx, 100); err != nil {
		t.Fatal(err)
	}
	if err := r.l.Master().KillMariaDB(); err != nil {
		t.Fatal(err)
	}
	sql(db3, "START SLAVE IO_THREAD")
	before, err := os.ReadFile(r.conf)
	if err != nil {
		t.Fatal(err)
	}
	res := r.deadSwitch("--remove_dead_master_conf")
	expect(t, res, 0, "Selected "+db3.IP, "completed successfully")
	r.verify(db3, db2, db3)
	// --remove_dead_master_conf took the dead master's block out and left
	// the rest of the file as it was.
	after, err := os.ReadFile(r.conf)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(after), "[server1]") || !strings.Contains(string(after), "[server2]") {
		t.Errorf("configuration after --remove_dead_master_conf:\n%s", after)
	}
	if i := strings.Index(string(before), "[server2]"); i < 0 || !strings.HasSuffix(string(after), string(before[i:])) {
		t.Errorf("--remove_dead_master_conf changed more than the dead master's block:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// db3 dies too, minutes later: the anti ping-pong guard refuses.
	if err := db3.KillMariaDB(); err != nil {
		t.Fatal(err)
	}
	res = mha(t, time.Minute, "switch", "--master_state=dead", "--conf="+r.conf, "--dead_master_host="+db3.IP, "--interactive=0")
	expect(t, res, 1, "Last failover was done at", "Current time is too early to do failover again")
	if got := sql(db2, "SELECT @@global.read_only"); got != "1" {
		t.Errorf("db2 read_only=%s after a refused failover; want 1 (unchanged)", got)
	}
}

// TestFailoverGTIDRunbook: with MariaDB GTID on every host, after the
// failover every replica still replicates with Using_Gtid = Slave_Pos.
func TestFailoverGTIDRunbook(t *testing.T) {
	r := newFailoverRig(t, lab.Options{Hosts: 3, GTID: true})
	if err := r.l.Master().KillMariaDB(); err != nil {
		t.Fatal(err)
	}
	res := r.deadSwitch()
	expect(t, res, 0, "completed successfully", "GTID failover mode")
	db2, db3 := r.l.Hosts[1], r.l.Hosts[2]
	newMaster, other := db2, db3
	if strings.Contains(res.stdout+res.stderr, "Selected "+db3.IP) {
		newMaster, other = db3, db2
	}
	r.verify(newMaster, db2, db3)
	st, err := other.Row(r.ctx, "SHOW SLAVE STATUS")
	if err != nil {
		t.Fatal(err)
	}
	if st["Using_Gtid"] != "Slave_Pos" {
		t.Errorf("%s Using_Gtid = %q after failover; want Slave_Pos", other.Name, st["Using_Gtid"])
	}
}

// TestFailoverNewMasterDiesRunbook: the master's mariadbd is killed under
// load; the manager selects db2 (candidate_master=1), and db2's mariadbd is
// killed too the moment the master_ip_failover_script moves the address to
// it, before it is opened for writes. The failover goes on with the next
// candidate, db3: it becomes the writable master, nothing acknowledged is
// lost, db2 is reported as failed (exit 10).
func TestFailoverNewMasterDiesRunbook(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 3})
	db2, db3 := l.Hosts[1], l.Hosts[2]
	pid := db2.MariaDBPid()
	if pid == 0 {
		t.Fatal("db2's mariadbd is not running")
	}
	hook := filepath.Join(l.Dir, "kill_db2_on_start.sh")
	marker := filepath.Join(l.Dir, "db2_killed")
	script := fmt.Sprintf(`#!/bin/sh
# Kills db2's mariadbd the first time the failover makes db2 the new master.
for a in "$@"; do
	case "$a" in
	--command=start) start=1 ;;
	--new_master_host=*) nm="${a#--new_master_host=}" ;;
	esac
done
if [ "$start" = 1 ] && { [ "$nm" = %q ] || [ "$nm" = %q ]; } && [ ! -e %q ]; then
	touch %q
	kill -9 %d
fi
exit 0
`, db2.IP, db2.Name, marker, marker, pid)
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	r := newFailoverRigOn(t, l, "[server2] candidate_master=1", "master_ip_failover_script="+hook)
	p := r.startManager()
	if err := r.l.Master().KillMariaDB(); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 2*time.Minute); code != 10 {
		t.Fatalf("manager exit %d; want 10 (db2 failed)", code)
	}
	out := p.out.String()
	for _, want := range []string{"Selected " + db2.IP, "failed before it was opened for writes; trying " + db3.IP, "Selected " + db3.IP} {
		if !strings.Contains(out, want) {
			t.Errorf("manager output lacks %q", want)
		}
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the hook did not kill db2: %v", err)
	}
	r.verify(db3, db3)
}
