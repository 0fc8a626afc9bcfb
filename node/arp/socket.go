package arp

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/packet"
)

// Socket is the [Link] of a real interface: an AF_PACKET socket (raw,
// bound to ARP's EtherType) from github.com/mdlayher/packet. Opening it
// needs CAP_NET_RAW.
type Socket struct {
	ifi  *net.Interface
	conn *packet.Conn
}

// Open opens a packet socket on the named interface, which must have a
// 6-byte (Ethernet) hardware address.
func Open(dev string) (*Socket, error) {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return nil, fmt.Errorf("arp: interface %s: %w", dev, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("arp: interface %s: %w: hardware address %q is not Ethernet", dev, ErrAddress, ifi.HardwareAddr)
	}
	c, err := packet.Listen(ifi, packet.Raw, EtherType, nil)
	if err != nil {
		return nil, fmt.Errorf("arp: packet socket on %s: %w", dev, err)
	}
	return &Socket{ifi: ifi, conn: c}, nil
}

// Send implements Link.
func (s *Socket) Send(frame []byte) error {
	if len(frame) < 6 {
		return fmt.Errorf("arp: send on %s: frame of %d bytes", s.ifi.Name, len(frame))
	}
	_, err := s.conn.WriteTo(frame, &packet.Addr{HardwareAddr: net.HardwareAddr(frame[:6])})
	return err
}

// Receive implements Link.
func (s *Socket) Receive(b []byte, deadline time.Time) (int, error) {
	if err := s.conn.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	n, _, err := s.conn.ReadFrom(b)
	return n, err
}

// HardwareAddr implements Link.
func (s *Socket) HardwareAddr() net.HardwareAddr { return s.ifi.HardwareAddr }

// Holds reports whether the interface has addr configured (asked of the
// calling thread's network namespace).
func (s *Socket) Holds(addr netip.Addr) (bool, error) {
	addrs, err := s.ifi.Addrs()
	if err != nil {
		return false, fmt.Errorf("arp: addresses of %s: %w", s.ifi.Name, err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Unmap() == addr {
			return true, nil
		}
	}
	return false, nil
}

// Close closes the socket.
func (s *Socket) Close() error { return s.conn.Close() }
