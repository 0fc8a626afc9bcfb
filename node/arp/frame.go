// Package arp sends the ARP packets a database host needs when a virtual IP
// address moves to it, without an arping binary: the gratuitous ARP that
// tells the neighbours which MAC address now answers for the address, and
// the duplicate-address probe (RFC 5227) that asks whether any other host
// still answers for it.
//
// Frames are built and parsed here (IPv4 over Ethernet only: the 42-byte
// frame of RFC 826, padded to Ethernet's 60-byte minimum); the socket is an
// AF_PACKET socket from github.com/mdlayher/packet behind the small [Link]
// interface, so that everything but the socket is tested without a network.
//
// What goes on the wire:
//
//   - Announcement (gratuitous ARP), as iputils' arping -U and keepalived
//     send it: an ARP request from the interface's MAC with sender and
//     target IP both the address, to the Ethernet broadcast. Each
//     announcement is followed by the reply form of it (arping -A: sender
//     and target MAC both the interface's), which some neighbours honour
//     when they ignore unsolicited requests; Linux accepts either form as
//     gratuitous (net/ipv4/arp.c, arp_is_garp).
//   - Probe, as arping -D and RFC 5227 §2.1.1: an ARP request from the
//     interface's MAC with sender IP 0.0.0.0 (so that no neighbour learns
//     anything from it) and target IP the address. Any ARP packet whose
//     sender IP is the address and whose sender MAC is not the interface's
//     is another host answering for it (RFC 5227 §2.1.1: a reply, or a
//     request it sends itself).
package arp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Ethernet and ARP constants (RFC 826, IEEE 802.3).
const (
	// EtherType is ARP's Ethernet protocol number.
	EtherType = 0x0806
	// headerLen is the Ethernet header: destination, source, EtherType.
	headerLen = 14
	// packetLen is an ARP packet for IPv4 over Ethernet.
	packetLen = 28
	// FrameLen is the length of the frames Marshal builds: the Ethernet
	// minimum without the frame check sequence (the 42 bytes of header
	// and ARP packet, zero-padded).
	FrameLen = 60
)

// Operation is an ARP operation code.
type Operation uint16

// ARP operations (RFC 826).
const (
	OpRequest Operation = 1
	OpReply   Operation = 2
)

func (o Operation) String() string {
	switch o {
	case OpRequest:
		return "request"
	case OpReply:
		return "reply"
	}
	return fmt.Sprintf("op%d", uint16(o))
}

// Sentinel errors.
var (
	// ErrNotARP reports a frame that is not an ARP packet for IPv4 over
	// Ethernet (another EtherType, hardware or protocol type, or too short).
	ErrNotARP = errors.New("arp: not an IPv4-over-Ethernet ARP frame")
	// ErrAddress reports an address that cannot go into a frame: a MAC
	// address that is not 6 bytes, an IP address that is not IPv4.
	ErrAddress = errors.New("arp: invalid address")
)

// Broadcast is the Ethernet broadcast address.
var Broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// zeroMAC is the target hardware address of requests (RFC 5227: ignored,
// set to zero).
var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// Packet is one ARP packet with the Ethernet header that carries it.
type Packet struct {
	// Dst and Src are the Ethernet destination and source.
	Dst, Src net.HardwareAddr
	// Op is request or reply.
	Op Operation
	// SenderMAC and SenderIP say who sends (the address being announced,
	// or 0.0.0.0 in a probe).
	SenderMAC net.HardwareAddr
	SenderIP  netip.Addr
	// TargetMAC and TargetIP say whom it is for.
	TargetMAC net.HardwareAddr
	TargetIP  netip.Addr
}

// String is a one-line summary as tcpdump would print it.
func (p Packet) String() string {
	switch p.Op {
	case OpRequest:
		return fmt.Sprintf("%s > %s: who-has %s tell %s (%s)", p.Src, p.Dst, p.TargetIP, p.SenderIP, p.SenderMAC)
	case OpReply:
		return fmt.Sprintf("%s > %s: %s is-at %s", p.Src, p.Dst, p.SenderIP, p.SenderMAC)
	}
	return fmt.Sprintf("%s > %s: %s %s/%s -> %s/%s", p.Src, p.Dst, p.Op, p.SenderIP, p.SenderMAC, p.TargetIP, p.TargetMAC)
}

// Announcement is the gratuitous ARP request for addr from mac.
func Announcement(mac net.HardwareAddr, addr netip.Addr) Packet {
	return Packet{Dst: Broadcast, Src: mac, Op: OpRequest, SenderMAC: mac, SenderIP: addr, TargetMAC: zeroMAC, TargetIP: addr}
}

// AnnouncementReply is the gratuitous ARP reply for addr from mac: the
// target MAC is the sender's too, as Linux wants of a gratuitous reply.
func AnnouncementReply(mac net.HardwareAddr, addr netip.Addr) Packet {
	return Packet{Dst: Broadcast, Src: mac, Op: OpReply, SenderMAC: mac, SenderIP: addr, TargetMAC: mac, TargetIP: addr}
}

// ProbeRequest is the RFC 5227 probe for addr from mac: sender IP 0.0.0.0.
func ProbeRequest(mac net.HardwareAddr, addr netip.Addr) Packet {
	return Packet{Dst: Broadcast, Src: mac, Op: OpRequest, SenderMAC: mac, SenderIP: netip.IPv4Unspecified(), TargetMAC: zeroMAC, TargetIP: addr}
}

// Marshal builds the Ethernet frame, FrameLen bytes.
func (p Packet) Marshal() ([]byte, error) {
	for _, m := range []struct {
		name string
		mac  net.HardwareAddr
	}{{"destination", p.Dst}, {"source", p.Src}, {"sender", p.SenderMAC}, {"target", p.TargetMAC}} {
		if len(m.mac) != 6 {
			return nil, fmt.Errorf("%w: %s MAC %q is not 6 bytes", ErrAddress, m.name, m.mac)
		}
	}
	for _, a := range []struct {
		name string
		ip   netip.Addr
	}{{"sender", p.SenderIP}, {"target", p.TargetIP}} {
		if !a.ip.Is4() {
			return nil, fmt.Errorf("%w: %s IP %v is not IPv4", ErrAddress, a.name, a.ip)
		}
	}
	b := make([]byte, FrameLen)
	copy(b[0:6], p.Dst)
	copy(b[6:12], p.Src)
	binary.BigEndian.PutUint16(b[12:14], EtherType)
	a := b[headerLen:]
	binary.BigEndian.PutUint16(a[0:2], 1)      // hardware type: Ethernet
	binary.BigEndian.PutUint16(a[2:4], 0x0800) // protocol type: IPv4
	a[4], a[5] = 6, 4                          // address lengths
	binary.BigEndian.PutUint16(a[6:8], uint16(p.Op))
	copy(a[8:14], p.SenderMAC)
	s := p.SenderIP.As4()
	copy(a[14:18], s[:])
	copy(a[18:24], p.TargetMAC)
	t := p.TargetIP.As4()
	copy(a[24:28], t[:])
	return b, nil
}

// Parse reads an Ethernet frame holding an ARP packet for IPv4 over
// Ethernet (padding and a trailing frame check sequence are ignored). It
// never panics; anything else is ErrNotARP. The returned addresses do not
// alias b.
func Parse(b []byte) (Packet, error) {
	if len(b) < headerLen+packetLen {
		return Packet{}, fmt.Errorf("%w: %d bytes", ErrNotARP, len(b))
	}
	if et := binary.BigEndian.Uint16(b[12:14]); et != EtherType {
		return Packet{}, fmt.Errorf("%w: EtherType %#04x", ErrNotARP, et)
	}
	a := b[headerLen:]
	if ht, pt := binary.BigEndian.Uint16(a[0:2]), binary.BigEndian.Uint16(a[2:4]); ht != 1 || pt != 0x0800 || a[4] != 6 || a[5] != 4 {
		return Packet{}, fmt.Errorf("%w: hardware type %d, protocol %#04x, lengths %d/%d", ErrNotARP, ht, pt, a[4], a[5])
	}
	mac := func(s []byte) net.HardwareAddr { return net.HardwareAddr(bytes.Clone(s)) }
	return Packet{
		Dst:       mac(b[0:6]),
		Src:       mac(b[6:12]),
		Op:        Operation(binary.BigEndian.Uint16(a[6:8])),
		SenderMAC: mac(a[8:14]),
		SenderIP:  netip.AddrFrom4([4]byte(a[14:18])),
		TargetMAC: mac(a[18:24]),
		TargetIP:  netip.AddrFrom4([4]byte(a[24:28])),
	}, nil
}

// Answers reports whether p shows another host answering for addr: its
// sender IP is addr and its sender MAC is not own (RFC 5227 §2.1.1). Our
// own frames, which a packet socket also sees, never answer; neither do
// other hosts' probes (sender IP 0.0.0.0).
func Answers(p Packet, addr netip.Addr, own net.HardwareAddr) bool {
	return p.SenderIP == addr && addr.IsValid() && !bytes.Equal(p.SenderMAC, own)
}
