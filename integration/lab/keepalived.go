package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// VRRP is one vrrp_instance of a lab host's keepalived, with its
// vrrp_script: the shape of configs/keepalived-master.conf and
// keepalived-replica.conf (BACKUP + nopreempt everywhere, weight 0 so a
// failing check means FAULT, unicast to the peers).
type VRRP struct {
	// Name names the instance and its script ("gomha_write").
	Name string
	// RouterID is virtual_router_id, the same on every host of the
	// instance.
	RouterID int
	// VIP is the address with its prefix ("198.18.7.100/24").
	VIP string
	// Priority breaks ties between hosts whose check passes.
	Priority int
	// Peers are the other hosts of the instance (unicast_peer).
	Peers []*Host
	// Check is the vrrp_script's command line (split on spaces by
	// keepalived: no spaces inside arguments).
	Check []string
	// Interval, Fall and Rise are the script's; 0 means 1, 2 and 1.
	Interval, Fall, Rise int
	// AdvertInt is advert_int in seconds (VRRP version 3 takes fractions);
	// "" means "1".
	AdvertInt string
}

// CheckCnf writes the host's option file for the keepalived checks (the
// local root account over the unix socket, as /etc/keepalived/gomha-check.cnf
// in the samples) and returns its path.
func (h *Host) CheckCnf() (string, error) {
	p := filepath.Join(h.Dir, "gomha-check.cnf")
	body := "[client]\nuser=root\nsocket=" + h.Socket + "\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		return "", fmt.Errorf("lab: %s: %w", h.Name, err)
	}
	return p, nil
}

// KeepalivedConf renders a keepalived.conf for h with the given instances.
func (h *Host) KeepalivedConf(instances ...VRRP) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Written by the gomha integration lab for %s (shape of configs/keepalived-*.conf).", h.Name)
	w("global_defs {")
	w("    router_id %s", h.Name)
	w("    script_user root")
	w("    vrrp_version 3")
	w("    vrrp_garp_master_delay 5")
	w("    vrrp_garp_master_repeat 3")
	w("}")
	for _, in := range instances {
		interval, fall, rise, advert := in.Interval, in.Fall, in.Rise, in.AdvertInt
		if interval == 0 {
			interval = 1
		}
		if fall == 0 {
			fall = 2
		}
		if rise == 0 {
			rise = 1
		}
		if advert == "" {
			advert = "1"
		}
		w("vrrp_script %s_check {", in.Name)
		w("    script %q", strings.Join(in.Check, " "))
		w("    interval %d", interval)
		w("    timeout %d", interval+1)
		w("    weight 0")
		w("    fall %d", fall)
		w("    rise %d", rise)
		w("    init_fail")
		w("}")
		w("vrrp_instance %s {", in.Name)
		w("    state BACKUP")
		w("    nopreempt")
		w("    interface eth0")
		w("    virtual_router_id %d", in.RouterID)
		w("    priority %d", in.Priority)
		w("    advert_int %s", advert)
		w("    unicast_src_ip %s", h.IP)
		w("    unicast_peer {")
		for _, p := range in.Peers {
			w("        %s", p.IP)
		}
		w("    }")
		w("    virtual_ipaddress {")
		w("        %s dev eth0", in.VIP)
		w("    }")
		w("    track_script {")
		w("        %s_check", in.Name)
		w("    }")
		w("}")
	}
	return b.String()
}

// StartKeepalived writes conf as the host's keepalived.conf and runs
// keepalived (VRRP only, in the foreground, its own pid files) in the
// host's namespace. Its log is keepalived.log in the host's directory.
func (h *Host) StartKeepalived(conf string) (*Process, error) {
	path := filepath.Join(h.Dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("lab: %s: %w", h.Name, err)
	}
	argv := []string{bin("keepalived"), "--dont-fork", "--log-console", "--log-detail", "--vrrp",
		"--use-file=" + path,
		"--pid=" + filepath.Join(h.Dir, "keepalived.pid"),
		"--vrrp_pid=" + filepath.Join(h.Dir, "keepalived-vrrp.pid"),
		"--checkers_pid=" + filepath.Join(h.Dir, "keepalived-checkers.pid")}
	return h.StartProcess("keepalived.log", argv...)
}

// StopKeepalived ends a keepalived started by StartKeepalived as its
// service would (SIGTERM: it gives up its addresses) and waits for it.
func (h *Host) StopKeepalived(ctx context.Context, p *Process) error {
	if err := p.Signal(syscall.SIGTERM); err != nil && !p.Exited() {
		return fmt.Errorf("lab: stop keepalived on %s: %w", h.Name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.Wait(ctx); err != nil && ctx.Err() != nil {
		_ = p.Kill()
		return fmt.Errorf("lab: keepalived on %s did not stop within 10s", h.Name)
	}
	return nil
}

// Holds reports whether the host's eth0 carries addr (an address without
// prefix, "198.18.7.100").
func (h *Host) Holds(ctx context.Context, addr string) (bool, error) {
	out, err := h.Exec(ctx, "ip", "-o", "addr", "show", "dev", "eth0")
	if err != nil {
		return false, err
	}
	return strings.Contains(string(out), " inet "+addr+"/"), nil
}

// VIPHolders lists the database hosts whose eth0 carries addr.
func (l *Lab) VIPHolders(ctx context.Context, addr string) ([]string, error) {
	var names []string
	for _, h := range l.Hosts {
		ok, err := h.Holds(ctx, addr)
		if err != nil {
			return nil, err
		}
		if ok {
			names = append(names, h.Name)
		}
	}
	return names, nil
}

// WaitVIP waits until addr is on want alone (want nil: on no host) and
// returns how long that took.
func (l *Lab) WaitVIP(ctx context.Context, addr string, want *Host, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	wantList := ""
	if want != nil {
		wantList = want.Name
	}
	for {
		got, err := l.VIPHolders(ctx, addr)
		if err != nil {
			return 0, err
		}
		if strings.Join(got, ",") == wantList {
			return time.Since(start), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("lab: %s is on %v after %s, want [%s]", addr, got, timeout, wantList)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Bridge is the lab bridge's device in the root namespace, where the
// manager of most runbooks runs (an ARP probe from there reaches every
// host).
func (l *Lab) Bridge() string { return l.bridge }

// KeepalivedVIP is keepalived running on every database host of a lab
// with the write instance of configs/keepalived-master.conf (its check is
// `mha-node keepalived-check`), owning the write VIP.
type KeepalivedVIP struct {
	// VIP is the write VIP (.100 of the lab's subnet) with its prefix.
	VIP netip.Prefix
	// Confs and Procs are each host's keepalived.conf and process, by
	// host name.
	Confs map[string]string
	Procs map[string]*Process
	lab   *Lab
}

// KeepalivedAdvert is the lab's advert_int: VRRP version 3 takes
// fractions (configs/keepalived-master.conf names 0.25 s for a takeover
// of about a second).
const KeepalivedAdvert = "0.25"

// StartKeepalivedVIP starts keepalived on every database host (priorities
// 100, 90, 80..., unicast to the others, the check run with nodeBin) and
// waits until it put the VIP on the master.
func (l *Lab) StartKeepalivedVIP(ctx context.Context, nodeBin string) (*KeepalivedVIP, error) {
	return l.StartKeepalivedVIPWith(ctx, nodeBin, nil)
}

// StartKeepalivedVIPWith is StartKeepalivedVIP with extra arguments for
// each host's check (extra may be nil), such as --allow_source for an
// active/passive master pair.
func (l *Lab) StartKeepalivedVIPWith(ctx context.Context, nodeBin string, extra func(h *Host) []string) (*KeepalivedVIP, error) {
	p := netip.MustParsePrefix(l.Subnet)
	a := p.Addr().As4()
	a[3] = 100
	k := &KeepalivedVIP{VIP: netip.PrefixFrom(netip.AddrFrom4(a), p.Bits()), Confs: map[string]string{}, Procs: map[string]*Process{}, lab: l}
	for i, h := range l.Hosts {
		cnf, err := h.CheckCnf()
		if err != nil {
			return nil, err
		}
		var peers []*Host
		for _, o := range l.Hosts {
			if o != h {
				peers = append(peers, o)
			}
		}
		check := []string{nodeBin, "keepalived-check", "--defaults_file=" + cnf, "--workdir=" + h.RemoteWorkdir, fmt.Sprintf("--port=%d", h.Port)}
		if extra != nil {
			check = append(check, extra(h)...)
		}
		k.Confs[h.Name] = h.KeepalivedConf(VRRP{Name: "gomha_write", RouterID: 51, VIP: k.VIP.String(), Priority: 100 - 10*i, Peers: peers,
			AdvertInt: KeepalivedAdvert,
			Check:     check})
		proc, err := h.StartKeepalived(k.Confs[h.Name])
		if err != nil {
			return nil, err
		}
		k.Procs[h.Name] = proc
	}
	if _, err := l.WaitVIP(ctx, k.VIP.Addr().String(), l.Master(), 30*time.Second); err != nil {
		return nil, fmt.Errorf("keepalived did not put the VIP on the master: %w", err)
	}
	return k, nil
}

// Hook is the `mha hook keepalived` command line for this lab (mhaBin is
// the mha binary), with the ARP check from the root namespace's bridge.
func (k *KeepalivedVIP) Hook(mhaBin string) string {
	l := k.lab
	hook := mhaBin + " hook keepalived --vip=" + k.VIP.Addr().String() + " --interface=eth0 --arp_interface=" + l.bridge +
		" --ssh_options='" + l.SSHOptions() + "'"
	for _, h := range l.Hosts {
		hook += " --host_workdir=" + h.IP + "=" + h.RemoteWorkdir
	}
	return hook
}

// Conf is the configuration lines that make the keepalived hook the
// cluster's failover and online-change hook; extra are more hook options
// (--allow_unfenced for a cluster without fence_lease).
func (k *KeepalivedVIP) Conf(mhaBin string, extra ...string) []string {
	h := strings.Join(append([]string{k.Hook(mhaBin)}, extra...), " ")
	return []string{"master_ip_failover_script=" + h, "master_ip_online_change_script=" + h}
}

// Logs returns the tail of every host's keepalived log.
func (k *KeepalivedVIP) Logs(n int) string {
	var b strings.Builder
	for _, h := range k.lab.Hosts {
		fmt.Fprintf(&b, "keepalived log of %s:\n%s\n", h.Name, tail(filepath.Join(h.Dir, "keepalived.log"), n))
	}
	return b.String()
}

// Tail returns the last n lines of a file ("" when it cannot be read).
func Tail(path string, n int) string { return tail(path, n) }
