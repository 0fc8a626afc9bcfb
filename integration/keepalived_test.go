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
	procs  map[string]*lab.Process
	confs  map[string]string
	writer *lab.Writer
}

// keepalivedAdvert is the lab's advert_int: VRRP version 3 takes
// fractions (the sample's comment names 0.25 s for a ~1 s takeover).
const keepalivedAdvert = "0.25"

// labKeepalived is keepalived running on every host of a lab with the
// write instance of configs/keepalived-master.conf, and the hook line that
// makes `mha hook keepalived` follow it.
type labKeepalived struct {
	vip   netip.Prefix
	hook  string
	confs map[string]string
	procs map[string]*lab.Process
}

// startLabKeepalived starts keepalived on every host of l (priorities 100,
// 90, 80...) and waits until it put the VIP on the master.
func startLabKeepalived(ctx context.Context, l *lab.Lab) (*labKeepalived, error) {
	k := &labKeepalived{vip: labVIP(l), confs: map[string]string{}, procs: map[string]*lab.Process{}}
	for i, h := range l.Hosts {
		cnf, err := h.CheckCnf()
		if err != nil {
			return nil, err
		}
		var peers []*lab.Host
		for _, p := range l.Hosts {
			if p != h {
				peers = append(peers, p)
			}
		}
		k.confs[h.Name] = h.KeepalivedConf(lab.VRRP{Name: "gomha_write", RouterID: 51, VIP: k.vip.String(), Priority: 100 - 10*i, Peers: peers,
			AdvertInt: keepalivedAdvert,
			Check:     []string{bins.mhaNode, "keepalived-check", "--defaults_file=" + cnf, "--workdir=" + h.RemoteWorkdir, fmt.Sprintf("--port=%d", h.Port)}})
		p, err := h.StartKeepalived(k.confs[h.Name])
		if err != nil {
			return nil, err
		}
		k.procs[h.Name] = p
	}
	if _, err := l.WaitVIP(ctx, k.vip.Addr().String(), l.Master(), 30*time.Second); err != nil {
		return nil, fmt.Errorf("keepalived did not put the VIP on the master: %w", err)
	}
	k.hook = bins.mha + " hook keepalived --vip=" + k.vip.Addr().String() + " --interface=eth0 --arp_interface=" + l.Bridge() +
		" --ssh_options='" + l.SSHOptions() + "'"
	for _, h := range l.Hosts {
		k.hook += " --host_workdir=" + h.IP + "=" + h.RemoteWorkdir
	}
	return k, nil
}

// conf is the configuration lines that make the keepalived hook the
// cluster's failover and online-change hook.
func (k *labKeepalived) conf() []string {
	return []string{"master_ip_failover_script=" + k.hook, "master_ip_online_change_script=" + k.hook}
}

// logs returns the tail of every host's keepalived log.
func keepalivedLogs(l *lab.Lab) string {
	var b strings.Builder
	for _, h := range l.Hosts {
		fmt.Fprintf(&b, "keepalived log of %s:\n%s\n", h.Name, tailFile(filepath.Join(h.Dir, "keepalived.log"), 40))
	}
	return b.String()
}

func newKeepalivedRig(t *testing.T, opts lab.Options, extra ...string) *keepalivedRig {
	t.Helper()
	opts.ExtraMyCnf = append(opts.ExtraMyCnf, "bind-address=0.0.0.0")
	l := lab.New(t, opts)
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	t.Cleanup(cancel)
	t.Cleanup(func() { t.Log(keepalivedLogs(l)) })
	k, err := startLabKeepalived(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	r := &keepalivedRig{t: t, l: l, ctx: ctx, vip: k.vip, procs: k.procs, confs: k.confs}
	extra = append(k.conf(), extra...)
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

	// A replica's keepalived restarts: its check fails (read_only, a
	// replica), it holds nothing, and the VIP does not move.
	if err := db3.StopKeepalived(r.ctx, r.procs[db3.Name]); err != nil {
		t.Fatal(err)
	}
	r.startKeepalived(db3)
	r.stays(db1, 3*time.Second)

	// Online switch db1 -> db2: keepalived follows.
	res := mha(t, 3*time.Minute, switchArgs(r.conf, db2, "--orig_master_is_new_slave")...)
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

// newFailoverRigOnConf is a failoverRig for startManager only: the lab
// and its configuration are the caller's, and so is the writer.
func newFailoverRigOnConf(t *testing.T, l *lab.Lab, ctx context.Context, conf string) *failoverRig {
	return &failoverRig{t: t, l: l, ctx: ctx, conf: conf}
}

// tailFile returns the last n lines of a file ("" when it cannot be read).
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
