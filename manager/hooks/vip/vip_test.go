package vip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/manager/sshexec"
)

// fakeHost is a host as the fake remote sees it.
type fakeHost struct {
	down    bool     // SSH does not connect
	addrs   []string // on eth0, "a.b.c.d/nn"
	noDel   bool     // ip addr del "succeeds" but leaves the address
	arpFail bool
	// arpExit1 is Thomas Habets' arping: -U gets no reply, so it exits 1
	// after sending (with arpOut on stdout).
	arpExit1 bool
	arpOut   string
	// nodeAt is where mha-node is installed ("" = nowhere); nodeExit what
	// its arp command exits with (1: an mha-node without it).
	nodeAt   string
	nodeExit int
	ran      []string
}

type fakeRemote map[string]*fakeHost // by IP

func (f fakeRemote) Connect(_ context.Context, h Host) (Session, error) {
	fh := f[h.IP]
	if fh == nil || fh.down {
		return nil, fmt.Errorf("sshexec: cannot connect to root@%s:22: connection timed out", h.IP)
	}
	return fakeSession{fh}, nil
}

type fakeSession struct{ h *fakeHost }

func (s fakeSession) Close() error { return nil }

func (s fakeSession) Run(_ context.Context, argv []string) (string, error) {
	cmd := strings.Join(argv, " ")
	s.h.ran = append(s.h.ran, cmd)
	switch {
	case cmd == "ip -o addr show dev eth0":
		var b strings.Builder
		b.WriteString("2: eth0    inet 198.18.7.11/24 brd 198.18.7.255 scope global eth0\\       valid_lft forever preferred_lft forever\n")
		for _, a := range s.h.addrs {
			fmt.Fprintf(&b, "2: eth0    inet %s scope global secondary eth0\\       valid_lft forever preferred_lft forever\n", a)
		}
		return b.String(), nil
	case strings.HasPrefix(cmd, "ip -o addr show dev "):
		return "", errors.New(`exit status 1: Device "` + argv[5] + `" does not exist.`)
	case strings.HasPrefix(cmd, "ip addr add "):
		if slices.Contains(s.h.addrs, argv[3]) {
			return "", errors.New("exit status 2: RTNETLINK answers: File exists")
		}
		s.h.addrs = append(s.h.addrs, argv[3])
		return "", nil
	case strings.HasPrefix(cmd, "ip addr del "):
		i := slices.Index(s.h.addrs, argv[3])
		if i < 0 {
			return "", errors.New("exit status 2: RTNETLINK answers: Cannot assign requested address")
		}
		if !s.h.noDel {
			s.h.addrs = slices.Delete(s.h.addrs, i, i+1)
		}
		return "", nil
	case strings.HasSuffix(argv[0], "/mha-node") && len(argv) > 1 && argv[1] == "arp",
		strings.HasPrefix(cmd, "sh -c (sleep 1; /") && strings.Contains(cmd, "/mha-node arp "):
		prog := argv[0]
		if prog == "sh" {
			prog = strings.Fields(strings.TrimPrefix(argv[2], "(sleep 1; "))[0]
		}
		if prog != s.h.nodeAt {
			return "", &sshexec.ExitError{Host: "root@db", Program: prog, Code: 127, Stderr: []byte("sh: 1: " + prog + ": not found")}
		}
		if s.h.nodeExit != 0 && argv[0] != "sh" {
			return "", &sshexec.ExitError{Host: "root@db", Program: prog, Code: s.h.nodeExit, Stderr: []byte("mha-node: unknown command \"arp\" for \"mha-node\"")}
		}
		return "", nil
	case strings.HasPrefix(cmd, "arping "), strings.HasPrefix(cmd, "sh -c (sleep 1; arping "):
		if s.h.arpFail {
			return "", &sshexec.ExitError{Host: "root@db", Program: argv[0], Code: 127, Stderr: []byte("sh: arping: not found")}
		}
		if s.h.arpExit1 && argv[0] == "arping" {
			return s.h.arpOut, &sshexec.ExitError{Host: "root@db", Program: "arping", Code: 1}
		}
		return "", nil
	}
	return "", fmt.Errorf("unexpected command %q", cmd)
}

func TestMover(t *testing.T) {
	vip := netip.MustParsePrefix("198.18.7.100/24")
	db1 := &Host{Name: "db1", IP: "198.18.7.11", Port: 3306}
	db2 := &Host{Name: "db2", IP: "198.18.7.12", Port: 3306}
	silent := func(context.Context, netip.Addr, int) (bool, string) { return false, "no answer within 2s" }
	answers := func(context.Context, netip.Addr, int) (bool, string) { return true, "connection refused" }

	tests := []struct {
		name      string
		command   string
		orig, new *Host
		hosts     map[string]fakeHost // by name
		probe     Probe
		wantErr   error  // errors.Is
		wantMsg   string // substring of the error
		warned    bool
		// unverified: the orig master may still hold the address.
		unverified bool
		want       map[string][]string // addresses afterwards, by name
		wantLine   string
		wantRan    map[string]string // a command that must have run, by host name
		wantNotRan map[string]string // a prefix no command may have, by host name
		nodeTools  []string
		noArping   bool
	}{
		{name: "status held", command: "status", orig: db1,
			hosts:    map[string]fakeHost{"db1": {addrs: []string{"198.18.7.100/24"}}},
			want:     map[string][]string{"db1": {"198.18.7.100/24"}},
			wantLine: "198.18.7.100/24 is on eth0 of orig master db1 (198.18.7.11)"},
		{name: "status not held", command: "status", orig: db1,
			hosts: map[string]fakeHost{"db1": {}}, wantLine: "is not on eth0"},
		{name: "status ssh down fails", command: "status", orig: db1,
			hosts: map[string]fakeHost{"db1": {down: true}}, wantMsg: "vip status: orig master db1 (198.18.7.11): sshexec: cannot connect"},
		{name: "stopssh deletes", command: "stopssh", orig: db1,
			hosts: map[string]fakeHost{"db1": {addrs: []string{"198.18.7.100/24"}}},
			want:  map[string][]string{"db1": nil}, wantLine: "deleted 198.18.7.100/24 from eth0 on orig master db1"},
		{name: "stop deletes with another prefix length", command: "stop", orig: db1,
			hosts: map[string]fakeHost{"db1": {addrs: []string{"198.18.7.100/32"}}},
			want:  map[string][]string{"db1": nil}},
		{name: "stop absent ok", command: "stop", orig: db1,
			hosts: map[string]fakeHost{"db1": {}}, wantLine: "is not on eth0 of orig master"},
		{name: "stop unreachable silent warns", command: "stop", orig: db1, probe: silent,
			hosts: map[string]fakeHost{"db1": {down: true}}, warned: true, unverified: true,
			wantLine: "does not answer from here (no answer within 2s): not verified: db1 is unreachable and may still hold 198.18.7.100"},
		{name: "stop unreachable answering fails", command: "stop", orig: db1, probe: answers,
			hosts: map[string]fakeHost{"db1": {down: true}}, wantErr: ErrStillAnswers, wantMsg: "vip stop: orig master db1"},
		{name: "stop del ineffective fails", command: "stopssh", orig: db1,
			hosts:   map[string]fakeHost{"db1": {addrs: []string{"198.18.7.100/24"}, noDel: true}},
			wantErr: ErrNotMoved},
		{name: "start moves", command: "start", orig: db1, new: db2,
			hosts: map[string]fakeHost{"db1": {addrs: []string{"198.18.7.100/24"}}, "db2": {}},
			want:  map[string][]string{"db1": nil, "db2": {"198.18.7.100/24"}}, wantLine: "sent 3 gratuitous ARP"},
		{name: "start idempotent", command: "start", orig: db1, new: db2,
			hosts: map[string]fakeHost{"db1": {}, "db2": {addrs: []string{"198.18.7.100/24"}}},
			want:  map[string][]string{"db1": nil, "db2": {"198.18.7.100/24"}}, wantLine: "already on eth0 of new master"},
		{name: "start on the same host", command: "start", orig: db1, new: db1,
			hosts: map[string]fakeHost{"db1": {}}, want: map[string][]string{"db1": {"198.18.7.100/24"}}},
		{name: "start without orig", command: "start", new: db2,
			hosts: map[string]fakeHost{"db2": {}}, want: map[string][]string{"db2": {"198.18.7.100/24"}}},
		{name: "start orig down and silent", command: "start", orig: db1, new: db2, probe: silent,
			hosts:  map[string]fakeHost{"db1": {down: true, addrs: []string{"198.18.7.100/24"}}, "db2": {}},
			warned: true, unverified: true, want: map[string][]string{"db2": {"198.18.7.100/24"}},
			wantLine: "sent 10 gratuitous ARP announcements", wantRan: map[string]string{"db2": "sh -c (sleep 1; arping -U -c 9 -I eth0 198.18.7.100) >/dev/null 2>&1 </dev/null &"}},
		{name: "start with Habets' arping exiting 1 after sending", command: "start", orig: db1, new: db2,
			hosts: map[string]fakeHost{"db1": {}, "db2": {arpExit1: true,
				arpOut: "ARPING 198.18.7.100\nTimeout\n\n--- 198.18.7.100 statistics ---\n1 packets transmitted, 0 packets received, 100% unanswered (0 extra)\n"}},
			want: map[string][]string{"db2": {"198.18.7.100/24"}}, wantLine: "sent 3 gratuitous ARP announcements for 198.18.7.100 from new master db2 (198.18.7.12) with arping",
			wantRan: map[string]string{"db2": "arping -U -c 1 -I eth0 198.18.7.100"}},
		{name: "start arping exit 1 without sending warns", command: "start", orig: db1, new: db2,
			hosts:  map[string]fakeHost{"db1": {}, "db2": {arpExit1: true, arpOut: "usage: arping [ -0aAbBdDeFhpPqrRuUv ]\n"}},
			warned: true, want: map[string][]string{"db2": {"198.18.7.100/24"}}, wantLine: "gratuitous ARP for 198.18.7.100 on new master db2 (198.18.7.12) failed"},
		{name: "start orig down and answering refuses", command: "start", orig: db1, new: db2, probe: answers,
			hosts:   map[string]fakeHost{"db1": {down: true, addrs: []string{"198.18.7.100/24"}}, "db2": {}},
			wantErr: ErrStillAnswers, want: map[string][]string{"db2": nil}},
		{name: "start orig down, new holds it already", command: "start", orig: db1, new: db2, probe: answers,
			hosts:  map[string]fakeHost{"db1": {down: true}, "db2": {addrs: []string{"198.18.7.100/24"}}},
			warned: true, want: map[string][]string{"db2": {"198.18.7.100/24"}}},
		{name: "start new down fails", command: "start", orig: db1, new: db2,
			hosts: map[string]fakeHost{"db1": {addrs: []string{"198.18.7.100/24"}}, "db2": {down: true}},
			want:  map[string][]string{"db1": {"198.18.7.100/24"}}, wantMsg: "vip start: new master db2 (198.18.7.12)"},
		{name: "start arping fails warns", command: "start", orig: db1, new: db2,
			hosts:  map[string]fakeHost{"db1": {}, "db2": {arpFail: true}},
			warned: true, want: map[string][]string{"db2": {"198.18.7.100/24"}}, wantLine: "gratuitous ARP"},
		{name: "start with mha-node and no arping", command: "start", orig: db1, new: db2, nodeTools: []string{"/var/tmp/mha-node"},
			hosts: map[string]fakeHost{"db1": {}, "db2": {nodeAt: "/var/tmp/mha-node", arpFail: true}},
			want:  map[string][]string{"db2": {"198.18.7.100/24"}}, wantLine: "sent 3 gratuitous ARP announcements for 198.18.7.100 from new master db2 (198.18.7.12) with mha-node arp (/var/tmp/mha-node)",
			wantRan:    map[string]string{"db2": "sh -c (sleep 1; /var/tmp/mha-node arp '--interface=eth0' '--address=198.18.7.100' '--count=2') >/dev/null 2>&1 </dev/null &"},
			wantNotRan: map[string]string{"db2": "arping"}},
		{name: "start with mha-node in the second place", command: "start", new: db2, nodeTools: []string{"/var/tmp/mha-node", "/opt/gomha/bin/mha-node", "/var/tmp/mha-node"},
			hosts:    map[string]fakeHost{"db2": {nodeAt: "/opt/gomha/bin/mha-node"}},
			wantLine: "with mha-node arp (/opt/gomha/bin/mha-node)", wantNotRan: map[string]string{"db2": "arping"}},
		{name: "start without mha-node falls back to Habets' arping", command: "start", new: db2, nodeTools: []string{"/var/tmp/mha-node"},
			hosts:    map[string]fakeHost{"db2": {arpExit1: true, arpOut: "--- 198.18.7.100 statistics ---\n1 packets transmitted, 0 packets received, 100% unanswered (0 extra)\n"}},
			wantLine: "sent 3 gratuitous ARP announcements for 198.18.7.100 from new master db2 (198.18.7.12) with arping",
			wantRan:  map[string]string{"db2": "sh -c (sleep 1; arping -U -c 2 -I eth0 198.18.7.100) >/dev/null 2>&1 </dev/null &"}},
		{name: "start with an old mha-node falls back to arping", command: "start", new: db2, nodeTools: []string{"/var/tmp/mha-node"},
			hosts:    map[string]fakeHost{"db2": {nodeAt: "/var/tmp/mha-node", nodeExit: 1}},
			wantLine: "no arp command", wantRan: map[string]string{"db2": "arping -U -c 1 -I eth0 198.18.7.100"}},
		{name: "start with neither mha-node nor arping warns", command: "start", new: db2, nodeTools: []string{"/var/tmp/mha-node"},
			hosts:  map[string]fakeHost{"db2": {arpFail: true}},
			warned: true, want: map[string][]string{"db2": {"198.18.7.100/24"}},
			wantLine: "gratuitous ARP for 198.18.7.100 on new master db2 (198.18.7.12) failed (neighbours learn the new address when their ARP entries expire): mha-node arp (/var/tmp/mha-node): not installed; arping: not installed"},
		{name: "start asked for no gratuitous ARP", command: "start", new: db2, noArping: true,
			hosts: map[string]fakeHost{"db2": {}}, want: map[string][]string{"db2": {"198.18.7.100/24"}},
			wantNotRan: map[string]string{"db2": "arping"}},
		{name: "no command", command: "", orig: db1, wantErr: ErrRequest},
		{name: "unknown command", command: "restart", orig: db1, wantErr: ErrRequest},
		{name: "start needs new", command: "start", orig: db1, wantErr: ErrRequest},
		{name: "stop needs orig", command: "stop", new: db2, wantErr: ErrRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			remote := fakeRemote{}
			byName := map[string]*fakeHost{}
			for name, fh := range tc.hosts {
				fh := fh
				byName[name] = &fh
				remote[map[string]string{"db1": db1.IP, "db2": db2.IP}[name]] = &fh
			}
			probe := tc.probe
			if probe == nil {
				probe = func(context.Context, netip.Addr, int) (bool, string) {
					t.Error("unexpected probe")
					return false, ""
				}
			}
			m := &Mover{Remote: remote, Probe: probe}
			arping := "arping"
			if tc.noArping {
				arping = ""
			}
			o, err := m.Do(t.Context(), Request{Command: tc.command, VIP: vip, Interface: "eth0", Orig: tc.orig, New: tc.new, NodeTools: tc.nodeTools, Arping: arping})
			switch {
			case tc.wantErr == nil && tc.wantMsg == "" && err != nil:
				t.Fatalf("Do: %v", err)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("Do: error %v, want %v", err, tc.wantErr)
			case tc.wantMsg != "" && (err == nil || !strings.Contains(err.Error(), tc.wantMsg)):
				t.Fatalf("Do: error %v, want one containing %q", err, tc.wantMsg)
			}
			if o.Warned != tc.warned {
				t.Errorf("Warned = %v, want %v (lines %q)", o.Warned, tc.warned, o.Lines)
			}
			if o.Unverified != tc.unverified {
				t.Errorf("Unverified = %v, want %v (lines %q)", o.Unverified, tc.unverified, o.Lines)
			}
			if strings.Contains(strings.Join(o.Lines, "\n"), "released") {
				t.Errorf("lines %q call the address released", o.Lines)
			}
			for name, cmd := range tc.wantRan {
				if !slices.Contains(byName[name].ran, cmd) {
					t.Errorf("%s ran %q, want %q among them", name, byName[name].ran, cmd)
				}
			}
			for name, prefix := range tc.wantNotRan {
				for _, cmd := range byName[name].ran {
					if strings.HasPrefix(cmd, prefix) || strings.HasPrefix(cmd, "sh -c (sleep 1; "+prefix) {
						t.Errorf("%s ran %q", name, cmd)
					}
				}
			}
			if tc.noArping && strings.Contains(strings.Join(o.Lines, "\n"), "ARP") {
				t.Errorf("lines %q mention ARP", o.Lines)
			}
			if tc.wantLine != "" && !strings.Contains(strings.Join(o.Lines, "\n"), tc.wantLine) {
				t.Errorf("lines %q lack %q", o.Lines, tc.wantLine)
			}
			for name, want := range tc.want {
				if got := byName[name].addrs; !slices.Equal(got, want) {
					t.Errorf("%s holds %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestFindAddr(t *testing.T) {
	out := "2: eth0    inet 198.18.7.11/24 brd 198.18.7.255 scope global eth0\\       valid_lft forever\n" +
		"2: eth0    inet 198.18.7.100/24 scope global secondary eth0\\       valid_lft forever\n" +
		"2: eth0    inet6 fe80::1/64 scope link \\       valid_lft forever\n"
	for _, tc := range []struct{ addr, want string }{
		{"198.18.7.100", "198.18.7.100/24"},
		{"198.18.7.10", ""},
		{"fe80::1", "fe80::1/64"},
	} {
		if got := FindAddr(out, netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("FindAddr(%s) = %q, want %q", tc.addr, got, tc.want)
		}
	}
	if got := FindAddr("inet\ninet garbage\n", netip.MustParseAddr("1.2.3.4")); got != "" {
		t.Errorf("garbage: %q", got)
	}
}

func TestARPSent(t *testing.T) {
	addr := netip.MustParseAddr("198.18.7.100")
	if got := ARPArgv("/usr/sbin/arping", "eth0", addr, 1); !slices.Equal(got, []string{"/usr/sbin/arping", "-U", "-c", "1", "-I", "eth0", "198.18.7.100"}) {
		t.Errorf("ARPArgv = %q", got)
	}
	exit := func(code int) error {
		return &sshexec.ExitError{Host: "root@198.18.7.12:22", Program: "arping", Code: code}
	}
	const habets = "ARPING 198.18.7.100\nTimeout\n\n--- 198.18.7.100 statistics ---\n1 packets transmitted, 0 packets received, 100% unanswered (0 extra)\n\n"
	const iputils = "ARPING 198.18.7.100 from 198.18.7.100 eth0\nSent 1 probes (1 broadcast(s))\nReceived 0 response(s)\n"
	for _, tc := range []struct {
		name string
		out  string
		err  error
		want bool
	}{
		{"iputils exit 0", iputils, nil, true},
		{"habets exit 1 after sending", habets, exit(1), true},
		{"habets wrapped exit 1", habets, fmt.Errorf("step: %w", exit(1)), true},
		{"iputils exit 1 after sending", iputils, exit(1), true},
		{"exit 1 nothing transmitted", "--- x statistics ---\n0 packets transmitted, 0 packets received\n", exit(1), false},
		{"exit 1 usage error", "usage: arping [ -0aAbBdDeFhpPqrRuUv ]\n", exit(1), false},
		{"exit 2 iputils error", iputils, exit(2), false},
		{"not installed", "", exit(127), false},
		{"killed", habets, &sshexec.ExitError{Program: "arping", Code: 1, Signal: "KILL"}, false},
		{"session lost", habets, errors.New("sshexec: run arping on root@db2: connection lost"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := ARPSent(tc.out, tc.err)
			if got != tc.want {
				t.Errorf("ARPSent = %v (%q), want %v", got, why, tc.want)
			}
			if !got && why == "" {
				t.Error("no reason given")
			}
		})
	}
}

// countingRemote counts the connects per IP.
type countingRemote struct {
	fakeRemote
	connects map[string]int
	timeouts []time.Duration
}

func (c *countingRemote) Connect(ctx context.Context, h Host) (Session, error) {
	c.connects[h.IP]++
	c.timeouts = append(c.timeouts, h.SSH.ConnectTimeout)
	return c.fakeRemote.Connect(ctx, h)
}

// A failover's stop on an unreachable orig master is remembered, and the
// start after it neither dials that host again nor waits for it: it probes
// the address once more and goes on unverified.
func TestMoverStartReusesStop(t *testing.T) {
	vip := netip.MustParsePrefix("198.18.7.100/24")
	db1 := &Host{Name: "db1", IP: "198.18.7.11", Port: 3306}
	db2 := &Host{Name: "db2", IP: "198.18.7.12", Port: 3306}
	r := &countingRemote{fakeRemote: fakeRemote{db1.IP: {down: true}, db2.IP: {}}, connects: map[string]int{}}
	silent := func(context.Context, netip.Addr, int) (bool, string) { return false, "no answer within 1s" }
	m := &Mover{Remote: r, Probe: silent, Memo: &MemMemo{}}
	o, err := m.Do(t.Context(), Request{Command: CommandStop, VIP: vip, Interface: "eth0", Orig: db1})
	if err != nil || !o.Unverified {
		t.Fatalf("stop: %v, unverified %v", err, o.Unverified)
	}
	if len(r.timeouts) != 1 || r.timeouts[0] != StopConnectTimeout {
		t.Errorf("stop dialled with connect timeouts %v, want one of %s", r.timeouts, StopConnectTimeout)
	}
	o, err = m.Do(t.Context(), Request{Command: CommandStart, VIP: vip, Interface: "eth0", Orig: db1, New: db2})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if r.connects[db1.IP] != 1 {
		t.Errorf("orig master dialled %d times, want 1 (stop only)", r.connects[db1.IP])
	}
	if !o.Unverified || !strings.Contains(strings.Join(o.Lines, "\n"), "stop found it unreachable") {
		t.Errorf("start lines %q: want unverified, saying stop found it unreachable", o.Lines)
	}
	// The memo is used once: a later start dials again.
	if _, err := m.Do(t.Context(), Request{Command: CommandStart, VIP: vip, Interface: "eth0", Orig: db1, New: db2}); err != nil {
		t.Fatalf("second start: %v", err)
	}
	if r.connects[db1.IP] != 2 {
		t.Errorf("orig master dialled %d times after a second start, want 2", r.connects[db1.IP])
	}
}

func TestMemMemoExpires(t *testing.T) {
	now := time.Unix(1000, 0)
	m := &MemMemo{Now: func() time.Time { return now }}
	h, vip := Host{Name: "db1", IP: "198.18.7.11"}, netip.MustParsePrefix("198.18.7.100/24")
	m.Unreachable(h, vip)
	now = now.Add(MemoFor + time.Second)
	if ok, _ := m.WasUnreachable(h, vip); ok {
		t.Error("a finding older than MemoFor was trusted")
	}
	m.Unreachable(h, vip)
	if ok, _ := m.WasUnreachable(Host{Name: "db3", IP: "198.18.7.13"}, vip); ok {
		t.Error("another host's finding was trusted")
	}
}

type slowDownRemote struct{ d time.Duration }

func (s slowDownRemote) Connect(ctx context.Context, h Host) (Session, error) {
	select {
	case <-time.After(s.d):
	case <-ctx.Done():
	}
	return nil, fmt.Errorf("sshexec: cannot connect to root@%s:22: connection timed out", h.IP)
}

// stop's address probe runs beside a dial that does not connect at once:
// a host that answers neither costs one timeout, not two.
func TestMoverStopProbesBesideTheDial(t *testing.T) {
	vip := netip.MustParsePrefix("198.18.7.100/24")
	db1 := &Host{Name: "db1", IP: "198.18.7.11", Port: 3306}
	probe := func(ctx context.Context, _ netip.Addr, _ int) (bool, string) {
		select {
		case <-time.After(400 * time.Millisecond):
		case <-ctx.Done():
		}
		return false, "no answer within 400ms"
	}
	m := &Mover{Remote: slowDownRemote{d: 500 * time.Millisecond}, Probe: probe}
	start := time.Now()
	o, err := m.Do(t.Context(), Request{Command: CommandStop, VIP: vip, Interface: "eth0", Orig: db1})
	d := time.Since(start)
	if err != nil || !o.Unverified {
		t.Fatalf("stop: %v, unverified %v", err, o.Unverified)
	}
	if d > 800*time.Millisecond {
		t.Errorf("stop took %s: the probe (400ms) did not run beside the dial (500ms)", d)
	}
}
