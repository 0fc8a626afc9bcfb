package keepalived

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomha/gomha/manager/hooks/vip"
	"github.com/gomha/gomha/manager/sshexec"
)

const tool = "/var/tmp/.gomha/mha-node"

// world is a small keepalived cluster as the hook sees it: hosts with a
// mark each, and the VIP wherever the fake VRRP put it. A host holds the
// VIP from `takeAfter` looks on after it was marked promoted; one marked
// fenced loses it after `dropAfter` looks.
type world struct {
	mu    sync.Mutex
	hosts map[string]*host // by IP
}

type host struct {
	name      string
	mac       string
	down      bool // SSH does not connect
	noTool    bool // mha-node missing (exit 127)
	markFails bool // mha-node runs and fails
	holds     bool
	mark      string
	looks     int // `ip -o addr show` runs since the last mark
	takeAfter int // with a promoted mark: holds the VIP from this look on (-1: never)
	dropAfter int // with a fenced mark: gives it up from this look on (-1: never)
	ran       []string
}

func (w *world) Connect(_ context.Context, h vip.Host) (vip.Session, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fh := w.hosts[h.IP]
	if fh == nil || fh.down {
		return nil, fmt.Errorf("sshexec: cannot connect to root@%s:22: connection timed out", h.IP)
	}
	return session{w, fh}, nil
}

type session struct {
	w *world
	h *host
}

func (s session) Close() error { return nil }

func (s session) Run(_ context.Context, argv []string) (string, error) {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	h := s.h
	cmd := strings.Join(argv, " ")
	h.ran = append(h.ran, cmd)
	switch {
	case argv[0] == tool && h.noTool, strings.HasSuffix(argv[0], "/mha-node") && argv[0] != tool:
		return "", &sshexec.ExitError{Host: "root@" + h.name, Program: argv[0], Code: 127, Stderr: []byte("sh: 1: " + argv[0] + ": not found")}
	case argv[0] == tool && len(argv) == 2 && argv[1] == "--version":
		return "mha-node version 0.9 (MHA 0.58 compatible)\n", nil
	case argv[0] == tool && argv[1] == "keepalived-check":
		if h.markFails {
			return "", &sshexec.ExitError{Host: "root@" + h.name, Program: tool, Code: 1, Stderr: []byte("write mark: permission denied")}
		}
		for _, a := range argv {
			if m, ok := strings.CutPrefix(a, "--mark="); ok {
				h.mark, h.looks = m, 0
			}
		}
		return "", nil
	case cmd == "ip -o addr show dev eth0":
		h.looks++
		switch {
		case h.mark == "promoted" && h.takeAfter >= 0 && h.looks >= h.takeAfter:
			h.holds = true
		case h.mark == "fenced" && h.dropAfter >= 0 && h.looks >= h.dropAfter:
			h.holds = false
		}
		out := "2: eth0    inet 198.18.7.11/24 brd 198.18.7.255 scope global eth0\n"
		if h.holds {
			out += "2: eth0    inet 198.18.7.100/24 scope global secondary eth0:write\n"
		}
		return out, nil
	case cmd == "cat /sys/class/net/eth0/address":
		return h.mac + "\n", nil
	}
	return "", fmt.Errorf("unexpected command %q", cmd)
}

// arp answers for the VIP with the MAC of every host that holds it (a
// host that is down still answers if it holds it: a cable pulled between
// the manager and it is not modelled here).
func (w *world) arp(context.Context, netip.Addr) ([]net.HardwareAddr, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []net.HardwareAddr
	for _, ip := range slices.Sorted(func(yield func(string) bool) {
		for k := range w.hosts {
			if !yield(k) {
				return
			}
		}
	}) {
		if h := w.hosts[ip]; h.holds {
			m, _ := net.ParseMAC(h.mac)
			out = append(out, m)
		}
	}
	return out, nil
}

func TestKeeper(t *testing.T) {
	vipAddr := netip.MustParsePrefix("198.18.7.100/24")
	db1 := &vip.Host{Name: "db1", IP: "198.18.7.11", Port: 3306}
	db2 := &vip.Host{Name: "db2", IP: "198.18.7.12", Port: 3306}
	type hosts struct{ db1, db2 host }
	tests := []struct {
		name    string
		command string
		orig    *vip.Host
		new     *vip.Host
		hosts   hosts
		arp     bool
		wantErr error // nil: success
		warned  bool
		// after: the marks and VIP holders when the request is done
		marks   [2]string
		holding [2]bool
		lines   []string // substrings of the outcome's lines
	}{
		{name: "stop marks the orig master fenced", command: "stopssh", orig: db1,
			hosts: hosts{db1: host{holds: true, dropAfter: 1}},
			marks: [2]string{"fenced", ""}, holding: [2]bool{true, false}, lines: []string{"db1 (198.18.7.11) marked fenced"}},
		{name: "stop on a host that does not answer SSH proceeds with a warning", command: "stop", orig: db1,
			hosts:  hosts{db1: host{down: true, holds: true}},
			warned: true, holding: [2]bool{true, false}, lines: []string{"does not answer SSH", "fence_lease"}},
		{name: "stop with mha-node missing fails", command: "stopssh", orig: db1,
			hosts:   hosts{db1: host{noTool: true, holds: true}},
			wantErr: errors.New("no mha-node"), holding: [2]bool{true, false}},
		{name: "stop whose mark fails fails", command: "stopssh", orig: db1,
			hosts:   hosts{db1: host{markFails: true, holds: true}},
			wantErr: errors.New("permission denied"), holding: [2]bool{true, false}},
		{name: "start waits until keepalived moved the VIP", command: "start", orig: db1, new: db2, arp: true,
			hosts: hosts{db1: host{dropAfter: 2, holds: true}, db2: host{takeAfter: 3}},
			marks: [2]string{"fenced", "promoted"}, holding: [2]bool{false, true}, lines: []string{"marked promoted", "on no other host"}},
		{name: "start with the orig master down checks ARP", command: "start", orig: db1, new: db2, arp: true,
			hosts: hosts{db1: host{down: true}, db2: host{takeAfter: 2}},
			marks: [2]string{"", "promoted"}, holding: [2]bool{false, true}, lines: []string{"not checked", "on no other host"}},
		{name: "start fails while the orig master keeps the VIP", command: "start", orig: db1, new: db2,
			hosts:   hosts{db1: host{holds: true, dropAfter: -1}, db2: host{takeAfter: 1}},
			wantErr: ErrNotMoved, marks: [2]string{"fenced", "promoted"}, holding: [2]bool{true, true}, lines: []string{"still on the orig master"}},
		{name: "start whose orig master cannot be marked warns", command: "start", orig: db1, new: db2,
			hosts:  hosts{db1: host{markFails: true}, db2: host{takeAfter: 1}},
			warned: true, marks: [2]string{"", "promoted"}, holding: [2]bool{false, true}},
		{name: "start fails while an unreachable host answers ARP for the VIP", command: "start", orig: db1, new: db2, arp: true,
			hosts:   hosts{db1: host{down: true, holds: true}, db2: host{takeAfter: 1}},
			wantErr: ErrNotMoved, marks: [2]string{"", "promoted"}, holding: [2]bool{true, true}},
		{name: "start fails when keepalived never moves it", command: "start", new: db2,
			hosts:   hosts{db2: host{takeAfter: -1}},
			wantErr: ErrNotMoved, marks: [2]string{"", "promoted"}},
		{name: "start on an unreachable new master fails", command: "start", orig: db1, new: db2,
			hosts:   hosts{db2: host{down: true}},
			wantErr: errors.New("new master db2"), holding: [2]bool{false, false}},
		{name: "status finds mha-node and the VIP", command: "status", orig: db1,
			hosts: hosts{db1: host{holds: true}}, holding: [2]bool{true, false}, lines: []string{"mha-node version 0.9", "198.18.7.100 is on orig master"}},
		{name: "status without SSH fails", command: "status", orig: db1,
			hosts: hosts{db1: host{down: true}}, wantErr: errors.New("orig master db1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h1, h2 := tt.hosts.db1, tt.hosts.db2
			h1.name, h1.mac, h2.name, h2.mac = "db1", "02:00:00:00:00:11", "db2", "02:00:00:00:00:12"
			w := &world{hosts: map[string]*host{db1.IP: &h1, db2.IP: &h2}}
			k := &Keeper{Remote: w, Memo: &vip.MemMemo{}, Poll: time.Millisecond}
			if tt.arp {
				k.ARP = w.arp
			}
			r := Request{Command: tt.command, VIP: vipAddr, Interface: "eth0", Orig: tt.orig, New: tt.new,
				Workdir: "/opt/other", Workdirs: map[string]string{"198.18.7.11": "/var/tmp", "db2": "/var/tmp"}, Wait: 200 * time.Millisecond}
			o, err := k.Do(context.Background(), r)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("Do: %v (lines %q)", err, o.Lines)
			case tt.wantErr != nil && err == nil:
				t.Fatalf("Do succeeded (lines %q), want an error like %v", o.Lines, tt.wantErr)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr) && !strings.Contains(err.Error(), tt.wantErr.Error()):
				t.Fatalf("Do: %v, want %v", err, tt.wantErr)
			}
			if o.Warned != tt.warned {
				t.Errorf("Warned = %v, want %v (lines %q)", o.Warned, tt.warned, o.Lines)
			}
			if got := [2]string{h1.mark, h2.mark}; tt.command != "status" && got != tt.marks {
				t.Errorf("marks = %q, want %q", got, tt.marks)
			}
			if got := [2]bool{h1.holds, h2.holds}; got != tt.holding {
				t.Errorf("VIP holders = %v, want %v", got, tt.holding)
			}
			all := strings.Join(o.Lines, "\n")
			if err != nil {
				all += "\n" + err.Error()
			}
			for _, l := range tt.lines {
				if !strings.Contains(all, l) {
					t.Errorf("lines lack %q:\n%s", l, all)
				}
			}
		})
	}
}

// The start after a stop that found the orig master unreachable does not
// dial it again (the memo), and the marks carry the reason and the port.
func TestKeeperStopThenStart(t *testing.T) {
	vipAddr := netip.MustParsePrefix("198.18.7.100/24")
	db1 := &vip.Host{Name: "db1", IP: "198.18.7.11", Port: 3307}
	db2 := &vip.Host{Name: "db2", IP: "198.18.7.12", Port: 3308}
	h1 := &host{name: "db1", down: true}
	h2 := &host{name: "db2", mac: "02:00:00:00:00:12", takeAfter: 1}
	w := &world{hosts: map[string]*host{db1.IP: h1, db2.IP: h2}}
	dials := 0
	k := &Keeper{Remote: countingRemote{w, &dials}, Memo: &vip.MemMemo{}, Poll: time.Millisecond}
	base := Request{VIP: vipAddr, Interface: "eth0", Orig: db1, New: db2, Workdir: "/data/mha", NodeTools: []string{tool}, Wait: time.Second, Reason: "failover of db1"}
	stop := base
	stop.Command = "stop"
	if _, err := k.Do(context.Background(), stop); err != nil {
		t.Fatal(err)
	}
	start := base
	start.Command = "start"
	if _, err := k.Do(context.Background(), start); err != nil {
		t.Fatal(err)
	}
	if dials != 2 { // stop: db1 (fails); start: db2 only
		t.Errorf("%d dials, want 2 (the start trusted the stop's finding)", dials)
	}
	want := tool + " keepalived-check --workdir=/data/mha --port=3308 --mark=promoted --reason=failover of db1"
	if !slices.Contains(h2.ran, want) {
		t.Errorf("db2 ran %q, want %q", h2.ran, want)
	}
}

type countingRemote struct {
	w *world
	n *int
}

func (c countingRemote) Connect(ctx context.Context, h vip.Host) (vip.Session, error) {
	*c.n++
	return c.w.Connect(ctx, h)
}

func TestValidate(t *testing.T) {
	db1 := &vip.Host{Name: "db1", IP: "198.18.7.11", Port: 3306}
	ok := Request{Command: "stop", Orig: db1, Workdir: "/var/tmp"}
	for _, tc := range []struct {
		name string
		mod  func(*Request)
		want string
	}{
		{"no command", func(r *Request) { r.Command = "" }, "required"},
		{"unknown command", func(r *Request) { r.Command = "restart" }, "unknown --command=restart"},
		{"stop without orig", func(r *Request) { r.Orig = nil }, "--orig_master_host"},
		{"start without new", func(r *Request) { r.Command = "start" }, "--new_master_host"},
		{"relative workdir", func(r *Request) { r.Workdir = "tmp" }, "absolute"},
		{"relative per-host workdir", func(r *Request) { r.Workdirs = map[string]string{"db1": "w"} }, "remote_workdir of db1"},
		{"no port", func(r *Request) { r.Orig = &vip.Host{Name: "db1", IP: "198.18.7.11"} }, "port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.mod(&r)
			err := r.Validate()
			if err == nil || !errors.Is(err, ErrRequest) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want ErrRequest mentioning %q", err, tc.want)
			}
		})
	}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid request: %v", err)
	}
}

func TestOnlyFrom(t *testing.T) {
	a, _ := net.ParseMAC("02:00:00:00:00:0a")
	b, _ := net.ParseMAC("02:00:00:00:00:0b")
	for _, tc := range []struct {
		macs []net.HardwareAddr
		want string
	}{
		{[]net.HardwareAddr{a}, ""},
		{nil, "no ARP answer"},
		{[]net.HardwareAddr{a, b}, "02:00:00:00:00:0b too"},
		{[]net.HardwareAddr{b}, "02:00:00:00:00:0b too"},
	} {
		if got := OnlyFrom(tc.macs, a); (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("OnlyFrom(%v) = %q, want %q", tc.macs, got, tc.want)
		}
	}
}

func TestUnfenced(t *testing.T) {
	hook := "/usr/local/bin/mha hook keepalived --vip=192.0.2.10"
	for _, tc := range []struct {
		script   string
		lease    time.Duration
		shutdown string
		want     bool
	}{
		{hook, 0, "", true},
		{hook, 4 * time.Second, "", false},
		{hook, 0, "/usr/local/bin/power_off", false},
		{hook + " --allow_unfenced", 0, "", false},
		{"/usr/local/bin/mha hook vip --vip=192.0.2.10/24 --interface=eth0", 0, "", false},
		{"/usr/local/bin/master_ip_failover", 0, "", false},
		{"", 0, "", false},
	} {
		if got := Unfenced(tc.script, tc.lease, tc.shutdown); (got != "") != tc.want {
			t.Errorf("Unfenced(%q, %s, %q) = %q, want refused=%v", tc.script, tc.lease, tc.shutdown, got, tc.want)
		}
	}
}
