package integration

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gomha/gomha/integration/lab"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/lease"
	"github.com/gomha/gomha/manager/nodeinstall"
	"github.com/gomha/gomha/node/watchdog"
)

// leaseSeconds is the lab's fence_lease: twice the lab's ping_interval (1 s)
// and more.
const leaseSeconds = 4

// leaseRig is a lab whose master holds the VIP, with fence_lease set, the
// VIP hook configured and the application writing through the VIP.
type leaseRig struct {
	t      *testing.T
	l      *lab.Lab
	ctx    context.Context
	conf   string
	cfg    *config.Config
	vip    string // address
	writer *lab.Writer
}

func newLeaseRig(t *testing.T, extra ...string) *leaseRig {
	t.Helper()
	l := lab.New(t, lab.Options{Hosts: 3, ExtraMyCnf: []string{"bind-address=0.0.0.0"}})
	vip, hook := vipConf(l)
	r := newVIPRig(t, l, vip, append(hook, append([]string{fmt.Sprintf("fence_lease=%d", leaseSeconds)}, extra...)...)...)
	cfg, err := config.Load(r.ctx, config.LoadOptions{AppFile: r.conf, GlobalFile: filepath.Join(l.Dir, "no-global.cnf")})
	if err != nil {
		t.Fatal(err)
	}
	return &leaseRig{t: t, l: l, ctx: r.ctx, conf: r.conf, cfg: cfg, vip: vip, writer: r.writer}
}

// ensure starts the watchdog on db1 as `mha manager` does at start.
func (r *leaseRig) ensure() *lease.Status {
	r.t.Helper()
	master := r.cfg.Servers[0]
	vip, dev := lease.VIPFromHook(master.MasterIPFailoverScript)
	if vip == "" {
		r.t.Fatalf("no VIP found in %q", master.MasterIPFailoverScript)
	}
	st, err := lease.Ensure(r.ctx, lease.Target{Config: r.cfg, Master: master, Peers: r.cfg.Servers[1:],
		NodeBinary: bins.mhaNode, VIP: vip, VIPDev: dev}, nil)
	if err != nil {
		r.t.Fatalf("start the watchdog on db1: %v", err)
	}
	r.t.Logf("watchdog on db1: %s (manager host %s, peers %v)", st.Message, st.ManagerHost, st.Peers)
	r.t.Cleanup(func() {
		h := r.l.Master()
		if b, err := os.ReadFile(watchdog.PathsFor(h.RemoteWorkdir, h.Port).Log); err == nil {
			r.t.Logf("watchdog log on db1:\n%s", b)
		}
	})
	return st
}

// watchdogStatus runs `mha-node watchdog --status` inside h's namespace
// (it works while h's cable is out) and returns its exit code and output.
func watchdogStatus(t *testing.T, ctx context.Context, h *lab.Host) (int, string) {
	t.Helper()
	cmd := h.Command(ctx, nodeinstall.RemotePath(h.RemoteWorkdir), "watchdog", "--status",
		"--workdir="+h.RemoteWorkdir, fmt.Sprintf("--port=%d", h.Port))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("watchdog --status on %s: %v", h.Name, err)
	return -1, ""
}

func vipOn(t *testing.T, ctx context.Context, h *lab.Host, vip string) bool {
	t.Helper()
	out, err := h.Exec(ctx, "ip", "-o", "addr", "show", "dev", "eth0")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(out), " "+vip+"/")
}

// clientSession opens a session of the application account to addr and
// returns its connection id on the server.
func clientSession(t *testing.T, ctx context.Context, addr string) (*sql.Conn, int64) {
	t.Helper()
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr = lab.LoadUser, lab.LoadPassword, "tcp", addr
	c.Timeout, c.ReadTimeout = 2*time.Second, 2*time.Second
	conn, err := mysql.NewConnector(c)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	sc, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := sc.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	return sc, id
}

// TestLeaseCableRunbook: the master's cable is pulled while the manager
// pings it and the application writes through the VIP. With nobody to
// fence it, the old master fences itself: within the lease and its margin
// it is read_only=1, the application's session is killed and the VIP is
// gone from its interface. When the cable is back it stays so, and its
// watchdog says it demoted.
func TestLeaseCableRunbook(t *testing.T) {
	r := newLeaseRig(t)
	ctx := r.ctx
	db1 := r.l.Master()
	r.ensure()
	startMonitor(t, r.cfg, config.PingSelect) // the manager's pings
	_, appID := clientSession(t, ctx, net.JoinHostPort(db1.IP, "3306"))
	if code, out := watchdogStatus(t, ctx, db1); code != 0 {
		t.Fatalf("watchdog --status before the fault: exit %d: %s", code, out)
	}
	time.Sleep(2 * time.Second) // a few ticks of contact with the manager and the replicas

	ttl := leaseSeconds * time.Second
	pulled := time.Now()
	if err := db1.LinkDown(); err != nil {
		t.Fatal(err)
	}
	linkUp := false
	defer func() {
		if !linkUp {
			_ = db1.LinkUp()
		}
	}()
	limit := ttl + leaseMargin(ttl) + time.Second
	var demoted time.Duration
	for {
		if got, err := db1.SQL(ctx, "SELECT @@global.read_only"); err == nil && got == "1" {
			demoted = time.Since(pulled)
			break
		}
		if time.Since(pulled) > limit {
			t.Fatalf("db1 still writable %.1f s after its cable was pulled (lease %v)", time.Since(pulled).Seconds(), ttl)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("cable pulled -> old master read_only=1: %s (lease %s, tick %s, ExpiredAt margin %s)",
		demoted.Round(time.Millisecond), ttl, watchdog.Tick(ttl), leaseMargin(ttl))
	if demoted < ttl-watchdog.Tick(ttl)-time.Second {
		t.Errorf("demoted %s after the pull: before the lease (%s) could run out", demoted, ttl)
	}
	if bound := ttl + leaseMargin(ttl); demoted > bound {
		t.Errorf("demoted %s after the pull, later than lease+margin %s that the manager waits for", demoted, bound)
	}
	// Give the demotion's last steps (kill, VIP) the budget.
	deadline := time.Now().Add(watchdog.DemoteBudget)
	for vipOn(t, ctx, db1, r.vip) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if vipOn(t, ctx, db1, r.vip) {
		t.Errorf("the VIP %s is still on db1's eth0 after the demotion", r.vip)
	}
	if n, err := db1.SQL(ctx, fmt.Sprintf("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %d", appID)); err != nil || n != "0" {
		t.Errorf("the application's session %d on db1 survived the demotion (%q, %v)", appID, n, err)
	}
	if n, err := db1.SQL(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%' OR USER = 'system user'"); err != nil {
		t.Error(err)
	} else {
		t.Logf("replication and system threads left on db1: %s", n)
	}
	code, out := watchdogStatus(t, ctx, db1)
	if code != 2 || !strings.Contains(out, "demoted since") {
		t.Errorf("watchdog --status while isolated: exit %d %q; want 2, demoted since", code, out)
	}

	// The cable is plugged back: the old master stays fenced.
	if err := db1.LinkUp(); err != nil {
		t.Fatal(err)
	}
	linkUp = true
	back := time.Now()
	time.Sleep(3 * time.Second)
	if got, _ := db1.SQL(ctx, "SELECT @@global.read_only"); got != "1" {
		t.Errorf("db1 read_only=%s after the cable came back; want 1", got)
	}
	if vipOn(t, ctx, db1, r.vip) {
		t.Errorf("the VIP is back on db1 after the cable came back")
	}
	code, out = watchdogStatus(t, ctx, db1)
	if code != 2 || !strings.Contains(out, "demoted since") {
		t.Errorf("watchdog --status after the cable came back: exit %d %q; want 2, demoted since", code, out)
	}
	r.writer.Stop()
	late := 0
	for _, a := range r.writer.Acked() {
		if a.At.After(pulled.Add(demoted)) {
			late++
		}
	}
	if late > 0 {
		t.Errorf("%d writes acknowledged through the VIP after the old master demoted", late)
	}
	t.Logf("writes acknowledged through the VIP after the demotion: %d (cable back at +%s)", late, back.Sub(pulled).Round(time.Millisecond))

	// Someone makes it writable again (or mysqld restarts with read_only=0):
	// the watchdog demotes it again within a tick or two.
	if _, err := db1.SQL(ctx, "SET GLOBAL read_only = 0"); err != nil {
		t.Fatal(err)
	}
	reopened := time.Now()
	for {
		if got, _ := db1.SQL(ctx, "SELECT @@global.read_only"); got == "1" {
			t.Logf("read_only=0 on the demoted master -> read_only=1 again: %s", time.Since(reopened).Round(time.Millisecond))
			break
		}
		if time.Since(reopened) > 3*watchdog.Tick(ttl)+time.Second {
			t.Fatalf("the demoted master stayed writable %s after read_only=0", time.Since(reopened).Round(time.Millisecond))
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A restarted watchdog (as the manager would start it) stays demoted.
	if _, err := lease.Ensure(ctx, lease.Target{Config: r.cfg, Master: r.cfg.Servers[0], Peers: r.cfg.Servers[1:], NodeBinary: bins.mhaNode}, nil); !errors.Is(err, lease.ErrUnhealthy) || !strings.Contains(err.Error(), "demoted since") {
		t.Errorf("Ensure on the demoted host: %v; want ErrUnhealthy, demoted since", err)
	}

	// The DBA (or a failover that promotes this host) releases it: the
	// watchdog is stopped and its demotion cleared; the server may be made
	// writable, and a new watchdog holds a fresh lease.
	if err := lease.Release(ctx, r.cfg.Servers[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := db1.SQL(ctx, "SET GLOBAL read_only = 0"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * watchdog.Tick(ttl))
	if got, _ := db1.SQL(ctx, "SELECT @@global.read_only"); got != "0" {
		t.Errorf("db1 read_only=%s after Release and read_only=0; want 0", got)
	}
	if st, err := lease.Ensure(ctx, lease.Target{Config: r.cfg, Master: r.cfg.Servers[0], Peers: r.cfg.Servers[1:], NodeBinary: bins.mhaNode}, nil); err != nil {
		t.Errorf("Ensure after Release: %v", err)
	} else if !strings.Contains(st.Message, "holding the lease") {
		t.Errorf("Ensure after Release: %s", st.Message)
	}
}

// leaseMargin is lease.ExpiredAt's margin.
func leaseMargin(d time.Duration) time.Duration {
	t0 := time.Now()
	return lease.ExpiredAt(t0, d).Sub(t0) - d
}

// TestLeaseManagerPartitionRunbook: only the manager's route to the master
// is cut; the replicas keep replicating and answering the master's
// watchdog, so the master does not demote within three leases.
func TestLeaseManagerPartitionRunbook(t *testing.T) {
	r := newLeaseRig(t)
	ctx := r.ctx
	db1 := r.l.Master()
	r.ensure()
	startMonitor(t, r.cfg, config.PingSelect)
	time.Sleep(2 * time.Second)
	if err := db1.CutFromRoot(ctx); err != nil {
		t.Fatal(err)
	}
	healed := false
	defer func() {
		if !healed {
			_ = db1.HealFromRoot(context.Background())
		}
	}()
	cut := time.Now()
	for time.Since(cut) < 3*leaseSeconds*time.Second {
		if got, err := db1.SQL(ctx, "SELECT @@global.read_only"); err != nil || got != "0" {
			t.Fatalf("db1 read_only=%q (%v) %.1f s into a manager-only partition; want 0", got, err, time.Since(cut).Seconds())
		}
		time.Sleep(200 * time.Millisecond)
	}
	code, out := watchdogStatus(t, ctx, db1)
	if code != 0 || !strings.Contains(out, "peer") {
		t.Errorf("watchdog --status in a manager-only partition: exit %d %q; want 0, contact through a peer", code, out)
	}
	if !vipOn(t, ctx, db1, r.vip) {
		t.Error("db1 gave up the VIP in a manager-only partition")
	}
	if err := db1.HealFromRoot(ctx); err != nil {
		t.Fatal(err)
	}
	healed = true
}

// TestLeaseManagerRunbook: the real `mha manager` with fence_lease set
// starts the watchdog on the master before it monitors. With the replicas'
// mysqld gone, the manager's pings alone hold the lease; once the manager
// stops too, the master demotes itself.
func TestLeaseManagerRunbook(t *testing.T) {
	r := newLeaseRig(t)
	ctx := r.ctx
	db1, db2, db3 := r.l.Hosts[0], r.l.Hosts[1], r.l.Hosts[2]
	fr := &failoverRig{t: t, l: r.l, ctx: ctx, conf: r.conf, writer: r.writer}
	p := fr.startManager()
	out := p.out.String()
	if !strings.Contains(out, "fencing watchdog running") {
		t.Errorf("manager output lacks the watchdog's start:\n%s", out)
	}
	code, st := watchdogStatus(t, ctx, db1)
	if code != 0 || !strings.Contains(st, "holding the lease") {
		t.Fatalf("watchdog --status after the manager started: exit %d %q", code, st)
	}
	// The replicas' servers go away: no greeting, only the manager's pings.
	for _, h := range []*lab.Host{db2, db3} {
		if err := h.KillMariaDB(); err != nil {
			t.Fatal(err)
		}
	}
	killed := time.Now()
	for time.Since(killed) < 3*leaseSeconds*time.Second {
		if got, err := db1.SQL(ctx, "SELECT @@global.read_only"); err != nil || got != "0" {
			t.Fatalf("db1 read_only=%q (%v) %.1f s after the replicas died while the manager pings; want 0", got, err, time.Since(killed).Seconds())
		}
		time.Sleep(200 * time.Millisecond)
	}
	code, st = watchdogStatus(t, ctx, db1)
	if code != 0 || !strings.Contains(st, "(manager)") {
		t.Errorf("watchdog --status with only the manager's pings: exit %d %q; want 0, contact by the manager", code, st)
	}
	// The manager goes too: nobody holds the lease.
	_ = p.cmd.Process.Kill()
	stopped := time.Now()
	ttl := leaseSeconds * time.Second
	for {
		if got, err := db1.SQL(ctx, "SELECT @@global.read_only"); err == nil && got == "1" {
			break
		}
		if time.Since(stopped) > ttl+leaseMargin(ttl)+time.Second {
			t.Fatalf("db1 still writable %.1f s after the manager and the replicas went away", time.Since(stopped).Seconds())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("manager and replicas gone -> db1 read_only=1: %s", time.Since(stopped).Round(time.Millisecond))
}
