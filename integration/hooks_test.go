package integration

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gomha/gomha/integration/lab"
)

// origArgs and newArgs are the orig/new master arguments MHA appends to
// master_ip_failover_script (mha-compat §4.1), for a lab host.
func origArgs(h *lab.Host) []string {
	return []string{"--orig_master_host=" + h.Name, "--orig_master_ip=" + h.IP, "--orig_master_port=" + strconv.Itoa(h.Port)}
}

func newArgs(h *lab.Host) []string {
	return []string{"--new_master_host=" + h.Name, "--new_master_ip=" + h.IP, "--new_master_port=" + strconv.Itoa(h.Port)}
}

// hookLine joins the hook's own command line and MHA's arguments.
func hookLine(hook []string, parts ...[]string) []string {
	out := slices.Clone(hook)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// labVIP is an address of the lab's subnet that no host has: .100.
func labVIP(l *lab.Lab) netip.Prefix {
	p := netip.MustParsePrefix(l.Subnet)
	a := p.Addr().As4()
	a[3] = 100
	return netip.PrefixFrom(netip.AddrFrom4(a), p.Bits())
}

// serverIDAt connects to addr:3306 with the lab's admin account and returns
// @@server_id: which host answers on that address.
func serverIDAt(ctx context.Context, l *lab.Lab, addr netip.Addr) (int, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = l.AdminUser, l.AdminPassword
	cfg.Net, cfg.Addr = "tcp", netip.AddrPortFrom(addr, 3306).String()
	cfg.Timeout, cfg.ReadTimeout = 3*time.Second, 3*time.Second
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var id int
	err = db.QueryRowContext(ctx, "SELECT @@server_id").Scan(&id)
	return id, err
}

// holders lists the lab hosts whose eth0 carries addr.
func holders(t *testing.T, ctx context.Context, l *lab.Lab, addr netip.Addr) []string {
	t.Helper()
	var names []string
	for _, h := range l.Hosts {
		out, err := h.Exec(ctx, "ip", "-o", "addr", "show", "dev", "eth0")
		if err != nil {
			t.Fatalf("%v", err)
		}
		if strings.Contains(string(out), " inet "+addr.String()+"/") {
			names = append(names, h.Name)
		}
	}
	return names
}

// TestVIPHookRunbook moves a virtual IP address between lab hosts with `mha
// hook vip` called with MHA's exact argument lines: first placement, the
// failover sequence (stopssh on the old master, start on the new one), a
// start that has to take the address away itself, and a dead old master
// (SSH down: refuse while the address answers; cable pulled: proceed with a
// warning). After each step the address answers from the expected host
// only.
func TestVIPHookRunbook(t *testing.T) {
	// mariadbd listens on every address, as on a host that takes a VIP.
	l := lab.New(t, lab.Options{NoReplication: true, ExtraMyCnf: []string{"bind-address=0.0.0.0"}})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	db1, db2, db3 := l.Hosts[0], l.Hosts[1], l.Hosts[2]
	vip := labVIP(l)
	hook := []string{"hook", "vip", "--vip=" + vip.String(), "--interface=eth0", "--ssh_options=" + l.SSHOptions()}
	answersFrom := func(want *lab.Host) {
		t.Helper()
		var id int
		var err error
		for range 20 { // ARP caches settle within the arping's 3 packets
			if id, err = serverIDAt(ctx, l, vip.Addr()); err == nil && id == want.ServerID {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		if err != nil || id != want.ServerID {
			t.Fatalf("%s answers with server_id %d (%v), want %d (%s)", vip.Addr(), id, err, want.ServerID, want.Name)
		}
		if got := holders(t, ctx, l, vip.Addr()); !slices.Equal(got, []string{want.Name}) {
			t.Fatalf("%s is on %v, want only %s", vip.Addr(), got, want.Name)
		}
	}
	silent := func() {
		t.Helper()
		c, err := net.DialTimeout("tcp", netip.AddrPortFrom(vip.Addr(), 3306).String(), 2*time.Second)
		if err == nil {
			c.Close()
			t.Fatalf("%s still answers", vip.Addr())
		}
	}

	// Monitor start-up: status on the master; nothing holds the address yet.
	r := mha(t, time.Minute, hookLine(hook, []string{"--command=status", "--ssh_user=root"}, origArgs(db1))...)
	expect(t, r, 0, "is not on eth0 of orig master db1")

	// First placement on db1 (start with only the new master).
	r = mha(t, time.Minute, hookLine(hook, []string{"--command=start", "--ssh_user=root"}, newArgs(db1))...)
	expect(t, r, 0, "added "+vip.String()+" to eth0 on new master db1", "gratuitous ARP")
	answersFrom(db1)
	r = mha(t, time.Minute, hookLine(hook, []string{"--command=status", "--ssh_user=root"}, origArgs(db1))...)
	expect(t, r, 0, "is on eth0 of orig master db1")

	// Failover db1 -> db2, MHA's phase 2 then phase 3 lines (SSH to db1 works).
	r = mha(t, time.Minute, hookLine(hook, origArgs(db1), []string{"--command=stopssh", "--ssh_user=root"})...)
	expect(t, r, 0, "deleted "+vip.String()+" from eth0 on orig master db1")
	if got := holders(t, ctx, l, vip.Addr()); len(got) != 0 {
		t.Fatalf("after stopssh %s is on %v", vip.Addr(), got)
	}
	silent()
	r = mha(t, time.Minute, hookLine(hook, []string{"--command=start", "--ssh_user=root"}, origArgs(db1), newArgs(db2),
		[]string{"--new_master_user='mha'", "--new_master_password='" + l.AdminPassword + "'"})...)
	expect(t, r, 0, "is not on eth0 of orig master db1", "added "+vip.String()+" to eth0 on new master db2")
	answersFrom(db2)

	// Online switch db2 -> db3 where start alone must take it from db2.
	r = mha(t, time.Minute, hookLine(hook, []string{"--command=start"}, origArgs(db2), newArgs(db3),
		[]string{"--orig_master_ssh_user=root", "--new_master_ssh_user=root", "--orig_master_is_new_slave"})...)
	expect(t, r, 0, "deleted "+vip.String()+" from eth0 on orig master db2", "added "+vip.String()+" to eth0 on new master db3")
	answersFrom(db3)

	// db3's sshd dies, its address still answers: stop must refuse.
	if err := db3.StopSSH(); err != nil {
		t.Fatal(err)
	}
	r = mha(t, time.Minute, hookLine(hook, origArgs(db3), []string{"--command=stop"})...)
	expect(t, r, 1, "vip stop: orig master db3", "still answers")
	answersFrom(db3)

	// Its cable is pulled: nothing answers, stop proceeds with a warning
	// (exit 10) and start moves the address to db1.
	if err := db3.LinkDown(); err != nil {
		t.Fatal(err)
	}
	r = mha(t, time.Minute, hookLine(hook, origArgs(db3), []string{"--command=stop"})...)
	expect(t, r, 10, "warning: cannot reach orig master db3", "does not answer")
	r = mha(t, time.Minute, hookLine(hook, []string{"--command=start", "--ssh_user=root"}, origArgs(db3), newArgs(db1))...)
	expect(t, r, 10, "warning: cannot reach orig master db3", "added "+vip.String()+" to eth0 on new master db1")
	id, err := serverIDAt(ctx, l, vip.Addr())
	if err != nil || id != db1.ServerID {
		t.Fatalf("%s answers with server_id %d (%v), want db1's", vip.Addr(), id, err)
	}
	// db3, cut off, still carries the address: fencing it is the
	// shutdown_script's job, not the IP hook's.
}

// TestConsulHookRunbook points Consul's master.node.consul at the master
// with `mha hook consul` and MHA's argument lines, resolving it through the
// agent's DNS interface after each step.
func TestConsulHookRunbook(t *testing.T) {
	l := lab.New(t, lab.Options{NoReplication: true})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute) // may build Consul
	defer cancel()
	c, err := l.StartConsul(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db1, db2 := l.Hosts[0], l.Hosts[1]
	hook := []string{"hook", "consul", "--consul_addr=" + c.URL()}
	resolver := c.Resolver()
	resolves := func(want *lab.Host) {
		t.Helper()
		addrs, err := resolver.LookupHost(ctx, "master.node.consul.")
		if err != nil || !slices.Equal(addrs, []string{want.IP}) {
			t.Fatalf("master.node.consul = %v (%v), want %s (%s)", addrs, err, want.IP, want.Name)
		}
		_, srvs, err := resolver.LookupSRV(ctx, "", "", "mysql-master.service.consul.")
		if err != nil || len(srvs) != 1 || srvs[0].Port != uint16(want.Port) {
			t.Fatalf("SRV mysql-master.service.consul = %v (%v), want one on port %d", srvs, err, want.Port)
		}
	}

	r := mha(t, time.Minute, hookLine(hook, []string{"--command=status", "--ssh_user=root"}, origArgs(db1))...)
	expect(t, r, 0, "node master is not registered")

	r = mha(t, time.Minute, hookLine(hook, []string{"--command=start", "--ssh_user=root"}, newArgs(db1))...)
	expect(t, r, 0, "registered node master at "+db1.IP)
	resolves(db1)

	// Failover db1 -> db2.
	r = mha(t, time.Minute, hookLine(hook, origArgs(db1), []string{"--command=stopssh", "--ssh_user=root"})...)
	expect(t, r, 0, "deregistered node master ("+db1.IP+")")
	_, err = resolver.LookupHost(ctx, "master.node.consul.")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Fatalf("master.node.consul after stop: %v, want NXDOMAIN", err)
	}
	r = mha(t, time.Minute, hookLine(hook, []string{"--command=start", "--ssh_user=root"}, origArgs(db1), newArgs(db2),
		[]string{"--new_master_user='mha'", "--new_master_password='x'"})...)
	expect(t, r, 0, "registered node master at "+db2.IP)
	resolves(db2)

	// A late stop for the old master leaves the new entry alone.
	r = mha(t, time.Minute, hookLine(hook, origArgs(db1), []string{"--command=stop"})...)
	expect(t, r, 10, "points at "+db2.IP+", not at orig master db1")
	resolves(db2)

	// Switch back with start alone (online switch), then withdraw.
	r = mha(t, time.Minute, hookLine(hook, []string{"--command=start"}, origArgs(db2), newArgs(db1), []string{"--orig_master_is_new_slave"})...)
	expect(t, r, 0, "registered node master at "+db1.IP)
	resolves(db1)
	r = mha(t, time.Minute, hookLine(hook, origArgs(db1), []string{"--command=stop"})...)
	expect(t, r, 0, "deregistered node master")
	_, err = resolver.LookupHost(ctx, "master.node.consul.")
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Fatalf("master.node.consul after the last stop: %v, want NXDOMAIN", err)
	}

	// Agent gone: status fails, naming the agent.
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	r = mha(t, time.Minute, hookLine(hook, []string{"--command=status"}, origArgs(db1))...)
	expect(t, r, 1, "consul status: agent "+c.URL())
}

// TestSamplesSyntax checks every shell sample with sh -n.
func TestSamplesSyntax(t *testing.T) {
	files, err := filepath.Glob("../samples/*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || !strings.HasPrefix(string(b), "#!/bin/sh") {
			continue
		}
		n++
		if out, err := exec.Command("sh", "-n", f).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", f, err, out)
		}
		if st, err := os.Stat(f); err != nil || st.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable", f)
		}
	}
	if n < 5 {
		t.Errorf("checked %d shell samples, want at least 5", n)
	}
}

// TestSampleHooksRunbook runs the editable samples the way MHA would: the
// VIP sample moves the address db1 -> db2 and proceeds with exit 10 once
// db2's cable is pulled; the Consul sample registers and withdraws
// master.node.consul.
func TestSampleHooksRunbook(t *testing.T) {
	l := lab.New(t, lab.Options{NoReplication: true, ExtraMyCnf: []string{"bind-address=0.0.0.0"}})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute) // may build Consul
	defer cancel()
	db1, db2 := l.Hosts[0], l.Hosts[1]
	vip := labVIP(l)
	failover, err := filepath.Abs("../samples/master_ip_failover")
	if err != nil {
		t.Fatal(err)
	}
	online := filepath.Join(filepath.Dir(failover), "master_ip_online_change")
	own := []string{"--vip=" + vip.String(), "--interface=eth0", "--ssh_options=" + l.SSHOptions()}

	r := run(t, time.Minute, failover, hookLine(own, []string{"--command=status", "--ssh_user=root"}, origArgs(db1))...)
	expect(t, r, 0)
	r = run(t, time.Minute, failover, hookLine(own, []string{"--command=start", "--ssh_user=root"}, origArgs(db1), newArgs(db1))...)
	expect(t, r, 0, "added "+vip.String())
	if id, err := serverIDAt(ctx, l, vip.Addr()); err != nil || id != db1.ServerID {
		t.Fatalf("%s answers with server_id %d (%v), want db1's", vip.Addr(), id, err)
	}
	// Online switch to db2: stop, then start, through the online-change sample.
	r = run(t, time.Minute, online, hookLine(own, []string{"--command=stop"}, origArgs(db1), newArgs(db2), []string{"--orig_master_ssh_user=root", "--new_master_ssh_user=root"})...)
	expect(t, r, 0, "deleted")
	r = run(t, time.Minute, online, hookLine(own, []string{"--command=start"}, origArgs(db1), newArgs(db2), []string{"--orig_master_ssh_user=root", "--new_master_ssh_user=root"})...)
	expect(t, r, 0, "added "+vip.String())
	if got := holders(t, ctx, l, vip.Addr()); !slices.Equal(got, []string{"db2"}) {
		t.Fatalf("%s is on %v, want only db2", vip.Addr(), got)
	}
	// db2's cable pulled: stop cannot reach it, nothing answers: exit 10.
	if err := db2.LinkDown(); err != nil {
		t.Fatal(err)
	}
	r = run(t, time.Minute, failover, hookLine(own, origArgs(db2), []string{"--command=stop"})...)
	expect(t, r, 10, "does not answer")
	if err := db2.LinkUp(); err != nil {
		t.Fatal(err)
	}

	c, err := l.StartConsul(ctx)
	if err != nil {
		t.Fatal(err)
	}
	consulSample := filepath.Join(filepath.Dir(failover), "master_ip_failover_consul")
	addr := []string{"--consul_addr=" + c.URL()}
	r = run(t, time.Minute, consulSample, hookLine(addr, []string{"--command=status"}, origArgs(db1))...)
	expect(t, r, 0, "is up")
	r = run(t, time.Minute, consulSample, hookLine(addr, []string{"--command=start", "--ssh_user=root"}, origArgs(db1), newArgs(db2))...)
	expect(t, r, 0, "registered node master at "+db2.IP)
	if addrs, err := c.Resolver().LookupHost(ctx, "master.node.consul."); err != nil || !slices.Equal(addrs, []string{db2.IP}) {
		t.Fatalf("master.node.consul = %v (%v), want %s", addrs, err, db2.IP)
	}
	r = run(t, time.Minute, consulSample, hookLine(addr, origArgs(db1), []string{"--command=stop"})...)
	expect(t, r, 10, "left as it is")
	r = run(t, time.Minute, filepath.Join(filepath.Dir(failover), "master_ip_online_change_consul"), hookLine(addr, []string{"--command=stop"}, origArgs(db2), newArgs(db1))...)
	expect(t, r, 0, "deregistered node master")
	var dnsErr *net.DNSError
	if _, err := c.Resolver().LookupHost(ctx, "master.node.consul."); !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Fatalf("master.node.consul after stop: %v, want NXDOMAIN", err)
	}
	r = run(t, time.Minute, consulSample, hookLine(addr, origArgs(db2), []string{"--command=stop"})...)
	expect(t, r, 0, "not registered")
}
