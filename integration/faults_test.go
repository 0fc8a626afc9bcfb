package integration

import (
	"bytes"
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/gomha/gomha/integration/lab"
)

// The fault matrix. Every runbook runs the real manager (masterha_manager,
// ping_interval=1) in the lab's manager namespace against three MariaDB
// hosts while a non-SUPER prober on every host tries to write every 20 ms
// (lab.StartProbers), and asserts the two promises of a failover manager:
//
//   - no acknowledged write is lost that a reachable host held: once the
//     dust settles every survivor holds every acknowledged write that any
//     host we can still read holds (the one exception, async replication's
//     unavoidable tail, is a write a master acknowledged before its cable
//     was pulled and that only it has);
//   - never two writable masters: no two hosts acknowledged writes at the
//     same time (lab.TwoWritable).

// faultRig is a lab with probers and a manager, before the fault.
type faultRig struct {
	t       testing.TB
	l       *lab.Lab
	ctx     context.Context
	conf    string
	probers *lab.Probers
	mgr     *managerProc
	mgrOut  *syncWriter // the manager's output, safe to read while it runs
	// fault is when the fault was injected.
	fault time.Time
}

// newFaultRig starts a lab (always with the manager namespace), the
// probers, and the manager with the lab configuration plus extra lines,
// and waits until the manager monitors and the master takes the probers'
// writes.
func newFaultRig(t testing.TB, opts lab.Options, extra ...string) *faultRig {
	t.Helper()
	opts.ManagerNS = true
	l := lab.New(t, opts)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	t.Cleanup(cancel)
	p, err := l.StartProbers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	conf := filepath.Join(l.Dir, "app1.cnf")
	if err := l.WriteAppConf(conf, extra...); err != nil {
		t.Fatal(err)
	}
	r := &faultRig{t: t, l: l, ctx: ctx, conf: conf, probers: p}
	if err := p.WaitAcked(ctx, l.Master().Name, 25); err != nil {
		t.Fatal(err)
	}
	r.mgr, r.mgrOut = r.startManager()
	return r
}

// startManager runs masterha_manager in the manager namespace and waits
// until it reports PING_OK.
func (r *faultRig) startManager() (*managerProc, *syncWriter) {
	t := r.t
	t.Helper()
	link := filepath.Join(t.TempDir(), "masterha_manager")
	if err := os.Symlink(bins.mha, link); err != nil {
		t.Fatal(err)
	}
	cmd := r.l.Manager.Command(context.Background(), link, "--conf="+r.conf)
	buf := &bytes.Buffer{}
	out := &syncWriter{w: buf}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &managerProc{cmd: cmd, out: buf, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		t.Logf("manager output:\n%s", out.String())
	})
	health := filepath.Join(r.l.ManagerWorkdir, "app1.master_status.health")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, _ := os.ReadFile(health); strings.Contains(string(b), "0:PING_OK") {
			return p, out
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("manager exited during start-up: %v\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("manager not monitoring after 60s\n%s", out.String())
		}
	}
}

// inject runs the fault and records when.
func (r *faultRig) inject(what string, fault func() error) {
	r.t.Helper()
	r.fault = time.Now()
	if err := fault(); err != nil {
		r.t.Fatalf("%s: %v", what, err)
	}
	r.t.Logf("fault injected: %s", what)
}

// waitManager waits at most limit for the manager to exit and returns its
// exit code; exited is false when it still runs.
func (r *faultRig) waitManager(limit time.Duration) (code int, exited bool) {
	select {
	case err := <-r.mgr.done:
		r.mgr.done <- err
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			return ee.ExitCode(), true
		case err != nil:
			return -1, true
		}
		return 0, true
	case <-time.After(limit):
		return 0, false
	}
}

// awaitFailover waits at most limit for the manager to fail over (exit 0)
// and returns the new master: the one former replica that is writable, once
// its prober has had 10 writes acknowledged.
func (r *faultRig) awaitFailover(limit time.Duration) (*lab.Host, error) {
	code, exited := r.waitManager(limit)
	switch {
	case !exited:
		return nil, fmt.Errorf("no failover within %s of the fault", limit)
	case code != 0:
		return nil, fmt.Errorf("manager exit %d after the fault; want 0 (a completed failover)", code)
	}
	r.t.Logf("fault -> manager exit: %s", time.Since(r.fault).Round(time.Millisecond))
	var writable []*lab.Host
	for _, h := range r.l.Replicas() {
		if ro, err := h.SQL(r.ctx, "SELECT @@global.read_only"); err == nil && ro == "0" {
			writable = append(writable, h)
		}
	}
	if len(writable) != 1 {
		return nil, fmt.Errorf("after the failover %d former replicas are writable; want exactly 1", len(writable))
	}
	nm := writable[0]
	if err := r.probers.WaitAcked(r.ctx, nm.Name, 10); err != nil {
		return nil, fmt.Errorf("the new master %s takes no writes: %w", nm.Name, err)
	}
	if first, ok := r.probers.Report().FirstAckedAfter(nm.Name, r.fault); ok {
		r.t.Logf("fault -> first write acknowledged on the new master %s: %s", nm.Name, first.Acked.Sub(r.fault).Round(time.Millisecond))
	}
	return nm, nil
}

// failedOver is awaitFailover that fails the test when there was none.
func (r *faultRig) failedOver(limit time.Duration) *lab.Host {
	r.t.Helper()
	nm, err := r.awaitFailover(limit)
	if err != nil {
		r.t.Fatal(err)
	}
	return nm
}

// noFailoverFor checks that the manager is still monitoring (has not
// exited, no failover flag) d after the fault.
func (r *faultRig) noFailoverFor(d time.Duration) {
	t := r.t
	t.Helper()
	if _, exited := r.waitManager(time.Until(r.fault.Add(d))); exited {
		t.Fatalf("manager exited %s after the fault; want it monitoring for %s, no failover", time.Since(r.fault).Round(time.Millisecond), d)
	}
	for _, f := range []string{"app1.failover.complete", "app1.failover.error"} {
		if _, err := os.Stat(filepath.Join(r.l.ManagerWorkdir, f)); err == nil {
			t.Errorf("%s exists: the manager acted", f)
		}
	}
}

// faultOutcome is what the probers prove once a runbook has settled.
type faultOutcome struct {
	report lab.ProbeReport
	// lost are acknowledged writes a survivor lacks although a host we can
	// read holds them, per survivor.
	lost map[string][]int64
	// tail are acknowledged writes a survivor lacks that no survivor ever
	// received: on no readable host, or only on an old master that
	// acknowledged them before asyncTail.
	tail map[string][]int64
}

// lostCount is the number of distinct lost writes.
func (o faultOutcome) lostCount() int {
	ids := map[int64]bool{}
	for _, l := range o.lost {
		for _, id := range l {
			ids[id] = true
		}
	}
	return len(ids)
}

// outcome stops the probers, waits until every survivor (the new master
// first, then the hosts replicating from it) has caught up, and sorts the
// acknowledged writes the survivors lack. holders are further hosts whose
// probe rows count (an old master that came back); rows only they hold
// that were acknowledged before asyncTail are async replication's tail
// (zero asyncTail: none is excused).
func (r *faultRig) outcome(survivors []*lab.Host, holders []*lab.Host, asyncTail time.Time) (faultOutcome, error) {
	r.probers.Stop()
	o := faultOutcome{report: r.probers.Report(), lost: map[string][]int64{}, tail: map[string][]int64{}}
	for _, h := range survivors[1:] {
		if err := r.l.WaitReplicaCaughtUp(r.ctx, h); err != nil {
			return o, err
		}
	}
	missing, err := o.report.Lost(r.ctx, survivors...)
	if err != nil {
		return o, err
	}
	held := map[int64]string{} // id -> first host holding it, survivors first
	for _, h := range append(append([]*lab.Host(nil), survivors...), holders...) {
		out, err := h.SQL(r.ctx, "SELECT id FROM "+lab.ProbeTable)
		if err != nil {
			return o, fmt.Errorf("%s: read probe rows: %w", h.Name, err)
		}
		for _, f := range strings.Fields(out) {
			id, _ := strconv.ParseInt(f, 10, 64)
			if _, ok := held[id]; !ok {
				held[id] = h.Name
			}
		}
	}
	ackedAt := map[int64]time.Time{}
	for _, ps := range o.report.Acked {
		for _, p := range ps {
			ackedAt[p.ID] = p.Acked
		}
	}
	for host, ids := range missing {
		for _, id := range ids {
			switch {
			case held[id] == "":
				o.tail[host] = append(o.tail[host], id)
			case !asyncTail.IsZero() && ackedAt[id].Before(asyncTail) && !survivorHolds(survivors, held[id]):
				o.tail[host] = append(o.tail[host], id)
			default:
				o.lost[host] = append(o.lost[host], id)
			}
		}
	}
	return o, nil
}

// settle is the end of every runbook: outcome, then the two promises.
func (r *faultRig) settle(survivors []*lab.Host, holders []*lab.Host, asyncTail time.Time) lab.ProbeReport {
	t := r.t
	t.Helper()
	o, err := r.outcome(survivors, holders, asyncTail)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("probers:\n%s", o.report.Summary())
	for _, ov := range o.report.TwoWritable {
		t.Errorf("two writable masters: %s", ov)
	}
	for host, ids := range o.lost {
		t.Errorf("%s lacks %d acknowledged writes a reachable host holds: %v", host, len(ids), head(ids, 20))
	}
	for host, ids := range o.tail {
		t.Logf("%s lacks %d acknowledged writes no survivor ever received (async tail / unreadable host): %v", host, len(ids), head(ids, 20))
	}
	return o.report
}

func survivorHolds(survivors []*lab.Host, name string) bool {
	for _, h := range survivors {
		if h.Name == name {
			return true
		}
	}
	return false
}

// survivorsWith returns nm, then the lab's other replicas.
func (r *faultRig) survivorsWith(nm *lab.Host) []*lab.Host {
	s := []*lab.Host{nm}
	for _, h := range r.l.Replicas() {
		if h != nm {
			s = append(s, h)
		}
	}
	return s
}

// replicatesFromNew checks every other survivor replicates from nm.
func (r *faultRig) replicatesFromNew(nm *lab.Host) {
	r.t.Helper()
	for _, h := range r.survivorsWith(nm)[1:] {
		st, err := h.Row(r.ctx, "SHOW SLAVE STATUS")
		if err != nil || st == nil {
			r.t.Fatalf("%s: SHOW SLAVE STATUS: %v %v", h.Name, st, err)
		}
		if st["Master_Host"] != nm.IP {
			r.t.Errorf("%s replicates from %s; want the new master %s", h.Name, st["Master_Host"], nm.IP)
		}
	}
}

// killRunbook is the kill -9 runbook on a lab built with opts: the master's
// mariadbd dies, the manager fails over, and once the probers have stopped
// the old master is started again so that everything it held counts (its
// binary log was readable over SSH: nothing it acknowledged may be lost).
func killRunbook(t *testing.T, opts lab.Options, extra ...string) (*faultRig, *lab.Host) {
	r := newFaultRig(t, opts, extra...)
	db1 := r.l.Master()
	r.inject("kill -9 mariadbd on db1", db1.KillMariaDB)
	nm := r.failedOver(90 * time.Second)
	r.replicatesFromNew(nm)
	r.probers.Stop()
	// Started again after the probers stopped: it comes back writable, as
	// a crashed master does, and is nobody's business but the DBA's.
	if err := db1.StartMariaDB(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.settle(r.survivorsWith(nm), []*lab.Host{db1}, time.Time{})
	return r, nm
}

// TestFaultKill: kill -9 of the master's mariadbd under the probers.
func TestFaultKill(t *testing.T) {
	killRunbook(t, lab.Options{})
}

// TestFaultCable: the master's cable is pulled; the manager fails over;
// the cable is plugged back. The old master must not take writes again
// (fenced, or read_only), and whatever it took after the failover is a lost
// write.
func TestFaultCable(t *testing.T) {
	// Without shutdown_script, fence_lease is what fences a master behind a
	// pulled cable: its watchdog demotes it before the manager promotes.
	r := newFaultRig(t, lab.Options{}, fmt.Sprintf("fence_lease=%d", leaseSeconds))
	db1 := r.l.Master()
	r.inject("pull db1's cable", db1.LinkDown)
	nm := r.failedOver(90 * time.Second)
	if err := db1.LinkUp(); err != nil {
		t.Fatal(err)
	}
	t.Log("db1's cable is back")
	// The old master's prober reaches it again: give it time to write.
	time.Sleep(5 * time.Second)
	if ro, err := db1.SQL(r.ctx, "SELECT @@global.read_only"); err == nil && ro != "1" {
		t.Errorf("the old master db1 has read_only=%s with its cable back; want 1 (fenced)", ro)
	}
	r.replicatesFromNew(nm)
	r.settle(r.survivorsWith(nm), []*lab.Host{db1}, r.fault)
}

// TestFaultSigstop: the master's mariadbd is stopped with SIGSTOP (hung,
// port open); the manager fails over; then SIGCONT. The resumed old master
// must not take writes.
func TestFaultSigstop(t *testing.T) {
	r := newFaultRig(t, lab.Options{})
	db1 := r.l.Master()
	r.inject("SIGSTOP mariadbd on db1", db1.SuspendMariaDB)
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			_ = db1.ResumeMariaDB()
		}
	})
	nm := r.failedOver(90 * time.Second)
	// The fencing stops a hung mysqld over SSH (SIGKILL, proven gone):
	// then there is nothing left to resume.
	if err := db1.ResumeMariaDB(); err != nil {
		t.Logf("db1's mariadbd was stopped by the fencing: %v", err)
	} else {
		t.Log("db1's mariadbd resumed (SIGCONT)")
	}
	resumed = true
	time.Sleep(5 * time.Second)
	if ro, err := db1.SQL(r.ctx, "SELECT @@global.read_only"); err == nil && ro != "1" {
		t.Errorf("the resumed old master db1 has read_only=%s; want 1 (fenced)", ro)
	}
	r.replicatesFromNew(nm)
	// Its binary log stayed readable over SSH all along: nothing it
	// acknowledged before the stop may be lost.
	// db1's mysqld is gone (fenced); what it acknowledged is on the
	// survivors, which the failover brought to the end of its binlog.
	r.settle(r.survivorsWith(nm), nil, time.Time{})
}

// TestFaultManagerLinkOnly: only the manager's link to the master is cut;
// the replicas keep replicating from it. No failover within 60 s; writes
// go on on the master; nothing is lost.
func TestFaultManagerLinkOnly(t *testing.T) {
	r := newFaultRig(t, lab.Options{})
	db1 := r.l.Master()
	r.inject("cut the link between db1 and the manager", func() error { return db1.CutFrom(r.ctx, r.l.Manager) })
	r.noFailoverFor(60 * time.Second)
	if !strings.Contains(r.mgrOut.String(), "Connection failed") {
		t.Errorf("the manager never lost its pings: the cut did not reach it")
	}
	for _, h := range r.l.Replicas() {
		st, err := h.Row(r.ctx, "SHOW SLAVE STATUS")
		if err != nil || st == nil || st["Slave_IO_Running"] != "Yes" || st["Master_Host"] != db1.IP {
			t.Errorf("%s no longer replicates from db1: %v %v", h.Name, st, err)
		}
	}
	if first, ok := r.probers.Report().FirstAckedAfter(db1.Name, r.fault.Add(59*time.Second)); !ok {
		t.Errorf("db1 took no write in the last second of the cut (%v)", first)
	}
	if err := db1.HealFrom(r.ctx, r.l.Manager); err != nil {
		t.Fatal(err)
	}
	r.settle([]*lab.Host{db1, r.l.Hosts[1], r.l.Hosts[2]}, nil, time.Time{})
}

// TestFaultConnectionStorm: the master's max_connections is filled with
// idle sessions of the application account, and the one extra slot kept
// for SUPER with an admin session, for 20 s, while the manager pings with
// new connections (ping_type=CONNECT) that now get error 1040. A master
// refusing connections is alive: no failover; its established sessions go
// on writing.
func TestFaultConnectionStorm(t *testing.T) {
	r := newFaultRig(t, lab.Options{}, "ping_type=CONNECT")
	db1 := r.l.Master()
	var releases []func()
	defer func() {
		for _, f := range releases {
			f()
		}
	}()
	r.inject("fill db1's max_connections", func() error {
		rel, n, err := r.l.ConnectionStorm(r.ctx, db1)
		if err != nil {
			return err
		}
		releases = append(releases, rel)
		t.Logf("%d idle sessions of %s hold db1's connections", n, lab.LoadUser)
		// The manager's CONNECT pings (a SUPER account) may hold the one
		// extra slot for a few milliseconds at a time: try again until it
		// is ours.
		deadline := time.Now().Add(5 * time.Second)
		for {
			rel, err = r.l.AdminSession(r.ctx, db1)
			if err == nil || time.Now().After(deadline) || !strings.Contains(err.Error(), "1040") {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("take the SUPER slot: %w", err)
		}
		releases = append(releases, rel)
		return nil
	})
	r.noFailoverFor(20 * time.Second)
	if err := r.probers.WaitAcked(r.ctx, db1.Name, 10); err != nil {
		t.Errorf("db1's established session stopped writing in the storm: %v", err)
	}
	if !strings.Contains(r.mgrOut.String(), "1040") {
		t.Errorf("the manager never met error 1040: the storm did not reach its pings")
	}
	for _, f := range releases {
		f()
	}
	releases = nil
	stormEnd := time.Now()
	time.Sleep(10 * time.Second)
	select {
	case err := <-r.mgr.done:
		r.mgr.done <- err
		t.Fatalf("manager exited %s after the storm ended (%v)", time.Since(stormEnd).Round(time.Millisecond), err)
	default:
	}
	r.settle([]*lab.Host{db1, r.l.Hosts[1], r.l.Hosts[2]}, nil, time.Time{})
}

// TestFaultLaggingReplica: db3's SQL thread is stopped and falls thousands
// of events behind (its IO thread keeps receiving) when the master is
// killed. The failover brings db3 to the same point: CHECKSUM TABLE is equal
// on the survivors afterwards.
func TestFaultLaggingReplica(t *testing.T) {
	r := newFaultRig(t, lab.Options{}, "[server2] candidate_master=1")
	db1, db2, db3 := r.l.Hosts[0], r.l.Hosts[1], r.l.Hosts[2]
	if err := db3.StopSQLThread(r.ctx); err != nil {
		t.Fatal(err)
	}
	// A second writer (every 5 ms) makes the backlog grow faster than the
	// probers alone.
	w := lab.StartWriter(r.ctx, func() []string { return []string{db1.Addr()} }, 5*time.Millisecond)
	if err := w.WaitAcked(r.ctx, 800); err != nil {
		t.Fatal(err)
	}
	behind := func() int {
		var n int
		for _, tb := range []string{lab.LoadTable, lab.ProbeTable} {
			a, _ := db1.SQL(r.ctx, "SELECT COUNT(*) FROM "+tb)
			b, _ := db3.SQL(r.ctx, "SELECT COUNT(*) FROM "+tb)
			x, _ := strconv.Atoi(a)
			y, _ := strconv.Atoi(b)
			n += x - y
		}
		return n
	}
	// Each transaction is five events (GTID, annotate, table map, write
	// rows, Xid).
	n := behind()
	t.Logf("db3 is %d transactions (%d events) behind", n, 5*n)
	if n < 600 {
		t.Fatalf("db3 only %d transactions behind; want thousands of events", n)
	}
	r.inject("kill -9 mariadbd on db1", db1.KillMariaDB)
	w.Stop()
	nm := r.failedOver(90 * time.Second)
	if nm != db2 {
		t.Errorf("new master %s; want the candidate db2", nm.Name)
	}
	r.replicatesFromNew(nm)
	if st, err := db3.Row(r.ctx, "SHOW SLAVE STATUS"); err != nil || st["Slave_SQL_Running"] != "Yes" {
		t.Errorf("db3's SQL thread after the failover: %v %v", st["Slave_SQL_Running"], err)
	}
	r.probers.Stop()
	if err := db1.StartMariaDB(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.settle(r.survivorsWith(nm), []*lab.Host{db1}, time.Time{})
	for _, tb := range []string{lab.LoadTable, lab.ProbeTable} {
		q := "CHECKSUM TABLE " + tb
		a, err1 := db2.SQL(r.ctx, q)
		b, err2 := db3.SQL(r.ctx, q)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Errorf("%s: db2 %q, db3 %q", q, a, b)
		}
	}
	missing, err := w.Missing(r.ctx, db3)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Errorf("db3 lacks %d acknowledged writes of the second writer: %v", len(missing), head(missing, 20))
	}
}

// TestFaultBinlogChecksumNone: kill -9 with binlog_checksum=NONE on every
// host (events without checksums in binary and relay logs).
func TestFaultBinlogChecksumNone(t *testing.T) {
	killRunbook(t, lab.Options{BinlogChecksum: "NONE"})
}

// TestFaultBinlogFormatStatement: kill -9 with binlog_format=STATEMENT.
func TestFaultBinlogFormatStatement(t *testing.T) {
	killRunbook(t, lab.Options{BinlogFormat: "STATEMENT"})
}

// TestFaultBinlogFormatMixed: kill -9 with binlog_format=MIXED.
func TestFaultBinlogFormatMixed(t *testing.T) {
	killRunbook(t, lab.Options{BinlogFormat: "MIXED"})
}

// TestFaultGTID: kill -9 with MariaDB GTID replication (slave_pos); after
// the failover the other survivor still replicates with GTID.
func TestFaultGTID(t *testing.T) {
	r, nm := killRunbook(t, lab.Options{GTID: true})
	for _, h := range r.survivorsWith(nm)[1:] {
		st, err := h.Row(r.ctx, "SHOW SLAVE STATUS")
		if err != nil || st == nil || st["Using_Gtid"] != "Slave_Pos" {
			t.Errorf("%s Using_Gtid = %q (%v); want Slave_Pos", h.Name, st["Using_Gtid"], err)
		}
	}
}

// TestFaultBigTransaction: the master is killed while a 30 MB transaction
// (30 000 rows of 1 kB, one INSERT ... SELECT of the application account)
// is being committed: its COMMIT is sent, and mariadbd dies a few
// milliseconds later, while it writes the transaction to its binary log.
// Every survivor ends with all of it or none of it, the same on each (all
// of it if the COMMIT was acknowledged), and every acknowledged probe
// write.
func TestFaultBigTransaction(t *testing.T) {
	r := newFaultRig(t, lab.Options{})
	db1 := r.l.Master()
	sql := sqlOn(t, r.ctx)
	sql(db1, "CREATE TABLE "+lab.LoadDB+".big (id INT PRIMARY KEY, pad VARCHAR(1024) NOT NULL) ENGINE=InnoDB")
	for _, h := range r.l.Replicas() {
		if err := r.l.WaitReplicaCaughtUp(r.ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr = lab.LoadUser, lab.LoadPassword, "tcp", db1.Addr()
	conn, err := mysql.NewConnector(c)
	if err != nil {
		t.Fatal(err)
	}
	db := dbsql.OpenDB(conn)
	defer db.Close()
	tx, err := db.BeginTx(r.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := tx.ExecContext(r.ctx, "INSERT INTO "+lab.LoadDB+".big SELECT seq, REPEAT('x', 1000) FROM "+lab.LoadDB+".seq_1_to_30000"); err != nil {
		t.Fatal(err)
	}
	t.Logf("30 000 rows inserted in %s; COMMIT", time.Since(start).Round(time.Millisecond))
	committed := make(chan error, 1)
	go func() { committed <- tx.Commit() }()
	time.Sleep(3 * time.Millisecond)
	r.inject("kill -9 mariadbd on db1 during the COMMIT", db1.KillMariaDB)
	acked := <-committed == nil
	t.Logf("COMMIT acknowledged before the kill: %v", acked)
	nm := r.failedOver(90 * time.Second)
	r.replicatesFromNew(nm)
	r.probers.Stop()
	if err := db1.StartMariaDB(r.ctx); err != nil {
		t.Fatal(err)
	}
	survivors := r.survivorsWith(nm)
	r.settle(survivors, []*lab.Host{db1}, time.Time{})
	counts := map[string]bool{}
	for _, h := range append(survivors, db1) {
		n := sql(h, "SELECT COUNT(*) FROM "+lab.LoadDB+".big")
		t.Logf("%s holds %s rows of the big transaction", h.Name, n)
		if n != "0" && n != "30000" {
			t.Errorf("%s holds %s rows of the big transaction; want all or none", h.Name, n)
		}
		if h != db1 {
			counts[n] = true
			if acked && n != "30000" {
				t.Errorf("%s lacks the acknowledged big transaction (%s rows)", h.Name, n)
			}
		}
	}
	if len(counts) != 1 {
		t.Errorf("the survivors disagree on the big transaction: %v", counts)
	}
}
