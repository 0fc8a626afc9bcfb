package arp

import (
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var (
	ownMAC   = net.HardwareAddr{0x02, 0x42, 0xc6, 0x33, 0x64, 0x01}
	otherMAC = net.HardwareAddr{0x02, 0x42, 0xc6, 0x33, 0x64, 0x02}
	vipAddr  = netip.MustParseAddr("198.51.100.100")
)

// hexFrame strips spaces from a hex dump and pads it to FrameLen.
func hexFrame(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return append(b, make([]byte, FrameLen-len(b))...)
}

// The frames byte for byte, as tcpdump -xx shows iputils' arping -U / -A /
// -D sending them (target MAC zero in requests, as RFC 5227 asks).
func TestMarshal(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Packet
		want string
	}{
		{"announcement", Announcement(ownMAC, vipAddr),
			"ffffffffffff 0242c6336401 0806 0001 0800 06 04 0001 0242c6336401 c6336464 000000000000 c6336464"},
		{"announcement reply", AnnouncementReply(ownMAC, vipAddr),
			"ffffffffffff 0242c6336401 0806 0001 0800 06 04 0002 0242c6336401 c6336464 0242c6336401 c6336464"},
		{"probe", ProbeRequest(ownMAC, vipAddr),
			"ffffffffffff 0242c6336401 0806 0001 0800 06 04 0001 0242c6336401 00000000 000000000000 c6336464"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.p.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if want := hexFrame(t, tc.want); string(got) != string(want) {
				t.Errorf("Marshal =\n%x\nwant\n%x", got, want)
			}
			back, err := Parse(got)
			if err != nil {
				t.Fatalf("Parse(Marshal): %v", err)
			}
			if diff := cmp.Diff(tc.p, back, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("Parse(Marshal) (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMarshalRejects(t *testing.T) {
	v6 := netip.MustParseAddr("2001:db8::1")
	for _, tc := range []struct {
		name string
		p    Packet
	}{
		{"short MAC", Announcement(net.HardwareAddr{1, 2, 3}, vipAddr)},
		{"infiniband MAC", Announcement(make(net.HardwareAddr, 20), vipAddr)},
		{"IPv6", Announcement(ownMAC, v6)},
		{"zero IP", Announcement(ownMAC, netip.Addr{})},
		{"no target MAC", Packet{Dst: Broadcast, Src: ownMAC, SenderMAC: ownMAC, SenderIP: vipAddr, TargetIP: vipAddr}},
	} {
		if _, err := tc.p.Marshal(); !errors.Is(err, ErrAddress) {
			t.Errorf("%s: Marshal error %v, want ErrAddress", tc.name, err)
		}
	}
}

// A Linux host's answer to a probe (arp_process's duplicate-address
// special case): a unicast reply to the prober, target IP 0.0.0.0; then an
// Ethernet frame with a trailing FCS; then things that are not ARP.
func TestParse(t *testing.T) {
	reply := hexFrame(t, "0242c6336401 0242c6336402 0806 0001 0800 06 04 0002 0242c6336402 c6336464 0242c6336401 00000000")
	p, err := Parse(reply)
	if err != nil {
		t.Fatal(err)
	}
	want := Packet{Dst: ownMAC, Src: otherMAC, Op: OpReply, SenderMAC: otherMAC, SenderIP: vipAddr, TargetMAC: ownMAC, TargetIP: netip.IPv4Unspecified()}
	if diff := cmp.Diff(want, p, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
	if got := p.String(); got != "02:42:c6:33:64:02 > 02:42:c6:33:64:01: 198.51.100.100 is-at 02:42:c6:33:64:02" {
		t.Errorf("String = %q", got)
	}
	if _, err := Parse(append(reply, 0xde, 0xad, 0xbe, 0xef)); err != nil {
		t.Errorf("frame with FCS: %v", err)
	}
	// Parse copies: changing the buffer later does not change the packet.
	reply[22] = 0xff
	if p.SenderMAC[0] != 0x02 {
		t.Error("Parse aliases its input")
	}

	for _, tc := range []struct{ name, frame string }{
		{"empty", ""},
		{"41 bytes", strings.Repeat("00", 41)},
		{"IPv4 EtherType", "ffffffffffff 0242c6336401 0800 4500003c1c4640004006b1e6c0a80001c0a800c7000000000000000000000000"},
		{"token ring hardware", "ffffffffffff 0242c6336401 0806 0006 0800 06 04 0001 0242c6336401 c6336464 000000000000 c6336464"},
		{"IPv6 protocol", "ffffffffffff 0242c6336401 0806 0001 86dd 06 04 0001 0242c6336401 c6336464 000000000000 c6336464"},
		{"8-byte hardware length", "ffffffffffff 0242c6336401 0806 0001 0800 08 04 0001 0242c6336401 c6336464 000000000000 c6336464"},
	} {
		b, err := hex.DecodeString(strings.Join(strings.Fields(tc.frame), ""))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(b); !errors.Is(err, ErrNotARP) {
			t.Errorf("%s: Parse error %v, want ErrNotARP", tc.name, err)
		}
	}
}

func TestAnswers(t *testing.T) {
	other := netip.MustParseAddr("198.51.100.7")
	for _, tc := range []struct {
		name string
		p    Packet
		want bool
	}{
		{"reply from another host", Packet{Op: OpReply, SenderMAC: otherMAC, SenderIP: vipAddr, TargetIP: netip.IPv4Unspecified()}, true},
		{"another host announcing it", AnnouncementReply(otherMAC, vipAddr), true},
		{"another host's request from it", Packet{Op: OpRequest, SenderMAC: otherMAC, SenderIP: vipAddr, TargetIP: other}, true},
		{"our own announcement", Announcement(ownMAC, vipAddr), false},
		{"our own probe", ProbeRequest(ownMAC, vipAddr), false},
		{"another host probing it too", ProbeRequest(otherMAC, vipAddr), false},
		{"reply for another address", Packet{Op: OpReply, SenderMAC: otherMAC, SenderIP: other}, false},
	} {
		if got := Answers(tc.p, vipAddr, ownMAC); got != tc.want {
			t.Errorf("%s: Answers = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []Packet{Announcement(ownMAC, vipAddr), AnnouncementReply(ownMAC, vipAddr), ProbeRequest(ownMAC, vipAddr)} {
		b, _ := p.Marshal()
		f.Add(b)
		f.Add(b[:42])
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		// What parses marshals back to the same 42 bytes.
		out, err := p.Marshal()
		if err != nil {
			t.Fatalf("Marshal(Parse(%x)): %v", b, err)
		}
		if string(out[:42]) != string(b[:42]) {
			t.Fatalf("round trip %x -> %x", b[:42], out[:42])
		}
		_ = p.String()
	})
}
