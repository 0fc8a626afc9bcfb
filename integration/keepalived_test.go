package integration

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/integration/lab"
)

// keepalivedRig is a lab where keepalived owns the write VIP: it runs in
// every host's namespace with the write instance of
// configs/keepalived-master.conf (check: mha-node keepalived-check), and
// the manager's hooks are `mha hook keepalived`. The application writes
// through the VIP.
type keepalivedRig struct {
	t      *testing.T
	l      *lab.Lab
	ctx    context.Context
	conf   string
	vip    netip.Prefix
	k      *lab.KeepalivedVIP
	procs  map[string]*lab.Process
	confs  map[string]string
	writer *lab.Writer
}

// startLabKeepalived starts keepalived on every host of l with the
// lab's mha-node as its check.
func startLabKeepalived(ctx context.Context, l *lab.Lab) (*lab.KeepalivedVIP, error) {
	return l.StartKeepalivedVIP(ctx, bins.mhaNode)
}

func newKeepalivedRig(t *testing.T, opts lab.Options, extra ...string) *keepalivedRig {
	t.Helper()
	opts.ExtraMyCnf = append(opts.ExtraMyCnf, "bind-address=0.0.0.0")
	l := lab.New(t, opts)
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	t.Cleanup(cancel)
	k, err := startLabKeepalived(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { t.Log(k.Logs(40)) })
	r := &keepalivedRig{t: t, l: l, ctx: ctx, vip: k.VIP, k: k, procs: k.Procs, confs: k.Confs}
	var hookOpts []string
	if !slices.ContainsFunc(extra, func(e string) bool { return strings.HasPrefix(e, "fence_lease=") }) {
		// Without a lease the manager refuses the keepalived hook unless
		// told the risk is accepted (TestKeepalivedRunbook checks the
		// refusal).
		hookOpts = append(hookOpts, "--allow_unfenced")
	}
	extra = append(k.Conf(bins.mha, hookOpts...), extra...)
	if err := l.PrepareLoad(ctx); err != nil {
		t.Fatal(err)
	}
	r.conf = filepath.Join(l.Dir, "app1.cnf")
	if err := l.WriteAppConf(r.conf, extra...); err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(r.vip.Addr().String(), "3306")
	r.writer = lab.StartWriter(ctx, func() []string { return []string{addr} }, 5*time.Millisecond)
	t.Cleanup(r.writer.Stop)
	if err := r.writer.WaitAcked(ctx, 50); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *keepalivedRig) startKeepalived(h *lab.Host) {
	r.t.Helper()
	p, err := h.StartKeepalived(r.confs[h.Name])
	if err != nil {
		r.t.Fatal(err)
	}
	r.procs[h.Name] = p
}

// stays checks for d that the VIP is on want alone the whole time.
func (r *keepalivedRig) stays(want *lab.Host, d time.Duration) {
	r.t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		got, err := r.l.VIPHolders(r.ctx, r.vip.Addr().String())
		if err != nil {
			r.t.Fatal(err)
		}
		if !slices.Equal(got, []string{want.Name}) {
			r.t.Fatalf("the VIP is on %v, want %s alone", got, want.Name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// answersAs waits until the VIP's MySQL answers with want's server_id.
func (r *keepalivedRig) answersAs(want *lab.Host) {
	r.t.Helper()
	var id int
	var err error
	for range 100 {
		if id, err = serverIDAt(r.ctx, r.l, r.vip.Addr()); err == nil && id == want.ServerID {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.t.Fatalf("the VIP answers as server_id %d (%v), want %s's %d", id, err, want.Name, want.ServerID)
}

// noneLost checks that every acknowledged insert is on h.
func (r *keepalivedRig) noneLost(h *lab.Host) {
	r.t.Helper()
	missing, err := r.writer.Missing(r.ctx, h)
	if err != nil {
		r.t.Fatal(err)
	}
	if len(missing) > 0 {
		r.t.Errorf("%s lacks acknowledged inserts %v", h.Name, head(missing, 20))
	}
}

// TestKeepalivedRunbook: keepalived owns the write VIP on three hosts and
// gomha decides who gets it. Restarting keepalived on a replica leaves the
// VIP alone; an online switch moves it (the hook marks the old master
// fenced and the new one promoted, and waits until the VIP is on the new
// master only); a kill -9 of the new master's mariadbd fails over and
// keepalived moves the VIP again; the writer through the VIP loses no
// acknowledged insert.
func TestKeepalivedRunbook(t *testing.T) {
	r := newKeepalivedRig(t, lab.Options{Hosts: 3})
	db1, db2, db3 := r.l.Hosts[0], r.l.Hosts[1], r.l.Hosts[2]
	sql := sqlOn(t, r.ctx)

	// Without fence_lease or shutdown_script, the keepalived hook is
	// refused at start unless --allow_unfenced accepts the risk: a master
	// whose cable was pulled could take the VIP back by VRRP priority.
	bare := filepath.Join(r.l.Dir, "unfenced.cnf")
	if err := r.l.WriteAppConf(bare, r.k.Conf(bins.mha)...); err != nil {
		t.Fatal(err)
	}
	res := run(t, time.Minute, masterhaManager(t), "--conf="+bare)
	expect(t, res, 1, "neither fence_lease nor shutdown_script")

	// A replica's keepalived restarts: its check fails (read_only, a
	// replica), it holds nothing, and the VIP does not move.
	if err := db3.StopKeepalived(r.ctx, r.procs[db3.Name]); err != nil {
		t.Fatal(err)
	}
	r.startKeepalived(db3)
	r.stays(db1, 3*time.Second)

	// Online switch db1 -> db2: keepalived follows.
	res = mha(t, 3*time.Minute, switchArgs(r.conf, db2, "--orig_master_is_new_slave")...)
	expect(t, res, 0)
	took, err := r.l.WaitVIP(r.ctx, r.vip.Addr().String(), db2, 10*time.Second)
	if err != nil {
		t.Fatalf("after the switch: %v\n%s", err, res)
	}
	if !strings.Contains(res.stdout+res.stderr, "on no other host") {
		t.Errorf("the switch's start hook did not report the VIP placed:\n%s", res)
	}
	t.Logf("switch: the VIP was on db2 alone %s after the switch returned", took.Round(time.Millisecond))
	r.answersAs(db2)
	if err := r.writer.WaitAcked(r.ctx, 50); err != nil {
		t.Fatalf("no writes through the VIP after the switch: %v", err)
	}
	if got := sql(db1, "SELECT @@global.read_only"); got != "1" {
		t.Errorf("old master db1 read_only=%s after the switch", got)
	}

	// kill -9 of db2's mariadbd: failover, keepalived moves the VIP.
	p := newFailoverRigOnConf(t, r.l, r.ctx, r.conf).startManager()
	killed := time.Now()
	if err := db2.KillMariaDB(); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("manager exit %d; want 0", code)
	}
	out := p.out.String()
	newMaster := db1
	if strings.Contains(out, "Selected "+db3.IP) {
		newMaster = db3
	}
	if _, err := r.l.WaitVIP(r.ctx, r.vip.Addr().String(), newMaster, 10*time.Second); err != nil {
		t.Fatalf("after the failover: %v", err)
	}
	if !strings.Contains(out, "on no other host") {
		t.Errorf("the failover's start hook did not report the VIP placed")
	}
	r.answersAs(newMaster)
	if err := r.writer.WaitAcked(r.ctx, 50); err != nil {
		t.Fatalf("no writes through the VIP after the failover: %v", err)
	}
	if first, ok := r.writer.FirstAfter(killed); ok {
		t.Logf("kill -9 -> first write through the keepalived VIP: %s", first.At.Sub(killed).Round(time.Millisecond))
	}
	r.writer.Stop()
	for _, h := range []*lab.Host{db1, db3} {
		if h != newMaster {
			if err := r.l.WaitReplicaCaughtUp(r.ctx, h); err != nil {
				t.Fatal(err)
			}
		}
		r.noneLost(h)
	}
}

// TestKeepalivedCableRunbook: the master's cable is pulled. Its
// keepalived, cut off, keeps the VIP until the fencing watchdog demotes
// the server (fence_lease), which fails its check; the manager promotes a
// replica after the lease and keepalived moves the VIP there. When the
// cable is back, the old master's keepalived does not take the VIP back.
func TestKeepalivedCableRunbook(t *testing.T) {
	r := newKeepalivedRig(t, lab.Options{Hosts: 3}, fmt.Sprintf("fence_lease=%d", leaseSeconds))
	db1, db2, db3 := r.l.Hosts[0], r.l.Hosts[1], r.l.Hosts[2]
	p := newFailoverRigOnConf(t, r.l, r.ctx, r.conf).startManager()
	pulled := time.Now()
	if err := db1.LinkDown(); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("manager exit %d; want 0", code)
	}
	out := p.out.String()
	newMaster := db2
	if strings.Contains(out, "Selected "+db3.IP) {
		newMaster = db3
	}
	// db1 is cut off: look inside its namespace that it gave the VIP up.
	if held, err := db1.Holds(r.ctx, r.vip.Addr().String()); err != nil || held {
		t.Errorf("the isolated old master still holds the VIP after the failover (err %v)", err)
	}
	got, err := r.l.VIPHolders(r.ctx, r.vip.Addr().String())
	if err != nil || !slices.Equal(got, []string{newMaster.Name}) {
		t.Fatalf("after the failover the VIP is on %v (%v), want %s", got, err, newMaster.Name)
	}
	r.answersAs(newMaster)
	if err := r.writer.WaitAcked(r.ctx, 50); err != nil {
		t.Fatalf("no writes through the VIP after the failover: %v", err)
	}
	if first, ok := r.writer.FirstAfter(pulled); ok {
		t.Logf("cable pulled -> first write through the keepalived VIP: %s", first.At.Sub(pulled).Round(time.Millisecond))
	}
	if err := db1.LinkUp(); err != nil {
		t.Fatal(err)
	}
	r.stays(newMaster, 5*time.Second)
}

// masterhaManager is a masterha_manager symlink to the mha binary.
func masterhaManager(t *testing.T) string {
	link := filepath.Join(t.TempDir(), "masterha_manager")
	if err := os.Symlink(bins.mha, link); err != nil {
		t.Fatal(err)
	}
	return link
}

// newFailoverRigOnConf is a failoverRig for startManager only: the lab
// and its configuration are the caller's, and so is the writer.
func newFailoverRigOnConf(t *testing.T, l *lab.Lab, ctx context.Context, conf string) *failoverRig {
	return &failoverRig{t: t, l: l, ctx: ctx, conf: conf}
}

// TestKeepalivedReadVIPRunbook: the replicas share a read VIP, their
// keepalived checking each with `mha-node lvs-check --max_lag=5`
// (configs/keepalived-replica.conf). A replica whose SQL thread stops
// leaves the pool and the VIP moves to the other one; a replica that lags
// beyond the limit (MASTER_DELAY under writes) leaves it too.
func TestKeepalivedReadVIPRunbook(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 3})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	db2, db3 := l.Hosts[1], l.Hosts[2]
	p := netip.MustParsePrefix(l.Subnet)
	a := p.Addr().As4()
	a[3] = 101
	readVIP := netip.PrefixFrom(netip.AddrFrom4(a), p.Bits())
	var procs []*lab.Process
	for i, h := range []*lab.Host{db2, db3} {
		cnf, err := h.CheckCnf()
		if err != nil {
			t.Fatal(err)
		}
		peer := db3
		if h == db3 {
			peer = db2
		}
		conf := h.KeepalivedConf(lab.VRRP{Name: "gomha_read", RouterID: 52, VIP: readVIP.String(), Priority: 100 - 10*i, Peers: []*lab.Host{peer},
			AdvertInt: lab.KeepalivedAdvert,
			Check:     []string{bins.mhaNode, "lvs-check", "--defaults_file=" + cnf, "--max_lag=5"}})
		proc, err := h.StartKeepalived(conf)
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, proc)
	}
	t.Cleanup(func() {
		for _, h := range []*lab.Host{db2, db3} {
			t.Logf("keepalived log of %s:\n%s", h.Name, lab.Tail(filepath.Join(h.Dir, "keepalived.log"), 30))
		}
	})
	addr := readVIP.Addr().String()
	// Both replicas pass; with nopreempt the one whose check passed first
	// takes the VIP and keeps it.
	var first, other *lab.Host
	for deadline := time.Now().Add(30 * time.Second); first == nil; {
		got, err := l.VIPHolders(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 1 {
			first, other = l.Host(got[0]), db3
			if first == db3 {
				other = db2
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the read VIP is on %v after 30s, want one replica", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := l.PrepareLoad(ctx); err != nil {
		t.Fatal(err)
	}
	w := lab.StartWriter(ctx, func() []string { return []string{l.Master().Addr()} }, 5*time.Millisecond)
	t.Cleanup(w.Stop)

	// The holder's SQL thread stops: it leaves the pool, the other takes
	// the read VIP.
	if _, err := first.SQL(ctx, "STOP SLAVE SQL_THREAD"); err != nil {
		t.Fatal(err)
	}
	took, err := l.WaitVIP(ctx, addr, other, 15*time.Second)
	if err != nil {
		t.Fatalf("after %s's SQL thread stopped: %v", first.Name, err)
	}
	t.Logf("SQL thread stopped on %s -> read VIP on %s alone: %s", first.Name, other.Name, took.Round(time.Millisecond))
	if _, err := first.SQL(ctx, "START SLAVE SQL_THREAD"); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitReplicaCaughtUp(ctx, first); err != nil {
		t.Fatal(err)
	}
	// The new holder lags 20 s behind (MASTER_DELAY) under the writer:
	// beyond --max_lag=5 it leaves the pool and the read VIP goes back
	// (nopreempt alone would have kept it where it was).
	for _, q := range []string{"STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY=20", "START SLAVE"} {
		if _, err := other.SQL(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	took, err = l.WaitVIP(ctx, addr, first, 45*time.Second)
	if err != nil {
		t.Fatalf("after %s fell behind: %v", other.Name, err)
	}
	t.Logf("%s delayed 20 s -> read VIP on %s alone: %s", other.Name, first.Name, took.Round(time.Millisecond))
	_ = procs
}

// TestKeepalivedMasterPairRunbook: the active/passive pair keepalived
// sites run. db1 and db2 replicate from each other, db2 is read_only and
// is the candidate, db3 replicates from db1; every host starts read_only
// (as the sample config asks), the master is opened by hand. kill -9 of
// db1: the failover goes to db2, keepalived moves the VIP there, db3 is
// repointed. db1 comes back (read-only, still replicating from db2) and an
// online switch takes the master role and the VIP back to it.
func TestKeepalivedMasterPairRunbook(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 3, ExtraMyCnf: []string{"bind-address=0.0.0.0", "read_only=ON"}})
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	db1, db2, db3 := l.Hosts[0], l.Hosts[1], l.Hosts[2]
	sql := sqlOn(t, ctx)
	sql(db1, "SET GLOBAL read_only=0")
	if err := l.ChangeMaster(ctx, db1, db2, false); err != nil {
		t.Fatal(err)
	}
	if err := db1.WaitReplicating(ctx); err != nil {
		t.Fatal(err)
	}
	k, err := l.StartKeepalivedVIPWith(ctx, bins.mhaNode, func(h *lab.Host) []string {
		switch h {
		case db1:
			return []string{"--allow_source=" + db2.IP + ":3306"}
		case db2:
			return []string{"--allow_source=" + db1.IP + ":3306"}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { t.Log(k.Logs(30)) })
	if err := l.PrepareLoad(ctx); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(l.Dir, "app1.cnf")
	if err := l.WriteAppConf(conf, append(k.Conf(bins.mha, "--allow_unfenced"), "[server2] candidate_master=1")...); err != nil {
		t.Fatal(err)
	}
	vip := k.VIP.Addr().String()
	addr := net.JoinHostPort(vip, "3306")
	w := lab.StartWriter(ctx, func() []string { return []string{addr} }, 5*time.Millisecond)
	t.Cleanup(w.Stop)
	if err := w.WaitAcked(ctx, 50); err != nil {
		t.Fatal(err)
	}
	res := mha(t, time.Minute, "check-repl", "--conf="+conf)
	expect(t, res, 0)

	p := newFailoverRigOnConf(t, l, ctx, conf).startManager()
	if err := db1.KillMariaDB(); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("manager exit %d; want 0", code)
	}
	if _, err := l.WaitVIP(ctx, vip, db2, 15*time.Second); err != nil {
		t.Fatalf("after the failover: %v", err)
	}
	if err := w.WaitAcked(ctx, 50); err != nil {
		t.Fatalf("no writes through the VIP after the failover: %v", err)
	}
	if row, err := db3.Row(ctx, "SHOW SLAVE STATUS"); err != nil || row["Master_Host"] != db2.IP {
		t.Errorf("db3 replicates from %q (%v), want db2 (%s)", row["Master_Host"], err, db2.IP)
	}

	// db1 comes back read-only (my.cnf) and catches up from db2.
	if err := db1.StartMariaDB(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db1.WaitReplicating(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitReplicaCaughtUp(ctx, db1); err != nil {
		t.Fatal(err)
	}
	res = mha(t, 3*time.Minute, switchArgs(conf, db1, "--orig_master_is_new_slave")...)
	expect(t, res, 0)
	if _, err := l.WaitVIP(ctx, vip, db1, 15*time.Second); err != nil {
		t.Fatalf("after the switch back: %v\n%s", err, res)
	}
	if err := w.WaitAcked(ctx, 50); err != nil {
		t.Fatalf("no writes through the VIP after the switch back: %v", err)
	}
	w.Stop()
	for _, h := range []*lab.Host{db2, db3} {
		if err := l.WaitReplicaCaughtUp(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range []*lab.Host{db1, db2, db3} {
		missing, err := w.Missing(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		// Inserts acknowledged by db1 just before its kill and not yet
		// received by db2 are db1's alone until it is back; after the
		// switch back every host must have every one.
		if len(missing) > 0 {
			t.Errorf("%s lacks acknowledged inserts %v", h.Name, head(missing, 20))
		}
	}
}
