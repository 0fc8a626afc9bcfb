package main

import (
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomha/gomha/node/arp"
)

// fakeARPLink is an interface holding addrs whose neighbour answerer (when
// set) answers probes.
type fakeARPLink struct {
	mu       sync.Mutex
	mac      net.HardwareAddr
	addrs    []netip.Addr
	answerer net.HardwareAddr
	sent     int
	pending  []byte
	closed   bool
}

func (l *fakeARPLink) Send(f []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent++
	p, err := arp.Parse(f)
	if err == nil && l.answerer != nil && p.SenderIP == netip.IPv4Unspecified() {
		reply := arp.Packet{Dst: p.SenderMAC, Src: l.answerer, Op: arp.OpReply, SenderMAC: l.answerer, SenderIP: p.TargetIP, TargetMAC: p.SenderMAC, TargetIP: p.SenderIP}
		l.pending, _ = reply.Marshal()
	}
	return nil
}

func (l *fakeARPLink) Receive(b []byte, deadline time.Time) (int, error) {
	l.mu.Lock()
	if l.pending != nil {
		n := copy(b, l.pending)
		l.pending = nil
		l.mu.Unlock()
		return n, nil
	}
	l.mu.Unlock()
	time.Sleep(time.Until(deadline))
	return 0, os.ErrDeadlineExceeded
}

func (l *fakeARPLink) HardwareAddr() net.HardwareAddr { return l.mac }

func (l *fakeARPLink) Holds(a netip.Addr) (bool, error) {
	for _, h := range l.addrs {
		if h == a {
			return true, nil
		}
	}
	return false, nil
}

func (l *fakeARPLink) Close() error { l.closed = true; return nil }

func TestARPCommand(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	other := net.HardwareAddr{2, 0, 0, 0, 0, 2}
	vip := netip.MustParseAddr("198.51.100.100")
	for _, tc := range []struct {
		name     string
		args     []string
		link     *fakeARPLink
		openErr  error
		code     int
		stdout   string // substring
		stderr   string // substring
		wantSent int    // frames
	}{
		{name: "announce", args: []string{"--address=198.51.100.100", "--count=2", "--interval=1ms"},
			link: &fakeARPLink{addrs: []netip.Addr{vip}}, code: 0, wantSent: 4,
			stdout: "sent 2 gratuitous ARP announcements for 198.51.100.100 on eth0 (02:00:00:00:00:01)"},
		{name: "announce an address not held", args: []string{"--address=198.51.100.100"},
			link: &fakeARPLink{}, code: 2, stderr: "198.51.100.100 is not configured on eth0; refusing"},
		{name: "probe nobody answers", args: []string{"--address=198.51.100.100", "--probe", "--count=2", "--interval=5ms"},
			link: &fakeARPLink{}, code: 0, wantSent: 2, stdout: "no other host answered for 198.51.100.100 on eth0 (2 probes)"},
		{name: "probe answered", args: []string{"--address=198.51.100.100", "--probe", "--interval=1s"},
			link: &fakeARPLink{answerer: other}, code: 1, wantSent: 1, stdout: "198.51.100.100 is at 02:00:00:00:00:02"},
		{name: "probe answered, prefix option", args: []string{"--addr=198.51.100.100", "--pro", "--count=3"},
			link: &fakeARPLink{answerer: other}, code: 1, wantSent: 1, stdout: "is at 02:00:00:00:00:02"},
		{name: "no such interface", args: []string{"--address=198.51.100.100", "--probe"},
			openErr: errors.New("arp: interface eth0: route ip+net: no such network interface"), code: 2, stderr: "no such network interface"},
		{name: "IPv6 address", args: []string{"--address=2001:db8::1"}, code: 2, stderr: "want an IPv4 address"},
		{name: "zero count", args: []string{"--address=198.51.100.100", "--count=0"}, code: 2, stderr: "--count=0"},
		{name: "unknown option is 2, not 1", args: []string{"--address=198.51.100.100", "--probe", "--bogus"}, code: 2, stderr: "unknown flag"},
		{name: "stray argument", args: []string{"--address=198.51.100.100", "--probe", "x"}, code: 2, stderr: "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := newRoot()
			for _, c := range root.Commands() {
				if c.Name() == "arp" {
					root.RemoveCommand(c)
				}
			}
			if tc.link != nil {
				tc.link.mac = mac
			}
			root.AddCommand(newARPCmdWith(func(dev string) (arpLink, error) {
				if dev != "eth0" {
					t.Errorf("opened %q", dev)
				}
				if tc.openErr != nil {
					return nil, tc.openErr
				}
				if tc.link == nil {
					t.Fatal("interface opened before the options were checked")
				}
				return tc.link, nil
			}))
			var out, errOut strings.Builder
			code := run(root, "mha-node", append([]string{"arp", "--interface=eth0"}, tc.args...), &out, &errOut)
			if code != tc.code || !strings.Contains(out.String(), tc.stdout) || !strings.Contains(errOut.String(), tc.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, out.String(), errOut.String(), tc.code, tc.stdout, tc.stderr)
			}
			if tc.link != nil {
				if tc.link.sent != tc.wantSent {
					t.Errorf("sent %d frames, want %d", tc.link.sent, tc.wantSent)
				}
				if !tc.link.closed && tc.code != 2 {
					t.Error("link not closed")
				}
			}
		})
	}
}

func TestARPCommandJSON(t *testing.T) {
	root := newRoot()
	for _, c := range root.Commands() {
		if c.Name() == "arp" {
			root.RemoveCommand(c)
		}
	}
	link := &fakeARPLink{mac: net.HardwareAddr{2, 0, 0, 0, 0, 1}, answerer: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
	root.AddCommand(newARPCmdWith(func(string) (arpLink, error) { return link, nil }))
	var out, errOut strings.Builder
	code := run(root, "mha-node", []string{"arp", "--interface=eth0", "--address=198.51.100.100", "--probe", "--json"}, &out, &errOut)
	var res arpResult
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil || code != 1 {
		t.Fatalf("exit %d, %q: %v (stderr %q)", code, out.String(), err, errOut.String())
	}
	if want := (arpResult{Mode: "probe", Interface: "eth0", Address: "198.51.100.100", Sent: 1, Answered: true, MAC: "02:00:00:00:00:02"}); res != want {
		t.Errorf("result %+v, want %+v", res, want)
	}
}
