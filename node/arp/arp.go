package arp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"time"
)

// Link sends and receives Ethernet frames on one interface: an AF_PACKET
// socket in production ([Open]), a fake in tests.
type Link interface {
	// Send writes one Ethernet frame; its first six bytes are the
	// destination.
	Send(frame []byte) error
	// Receive reads one frame into b, waiting at most until deadline. When
	// the deadline passes first the error wraps os.ErrDeadlineExceeded.
	Receive(b []byte, deadline time.Time) (int, error)
	// HardwareAddr is the interface's MAC address.
	HardwareAddr() net.HardwareAddr
}

// DefaultInterval is the time between announcements, and between probes,
// when none is given: one second, as arping.
const DefaultInterval = time.Second

// Announce sends count gratuitous ARP announcements for addr on l, the
// first at once and the others interval apart (0 means DefaultInterval).
// Each announcement is two frames: the request form and the reply form
// (see the package documentation). It returns how many announcements went
// out; the error, if any, says which one failed or that ctx ended.
func Announce(ctx context.Context, l Link, addr netip.Addr, count int, interval time.Duration) (int, error) {
	if count <= 0 {
		count = 1
	}
	if interval <= 0 {
		interval = DefaultInterval
	}
	mac := l.HardwareAddr()
	var frames [][]byte
	for _, p := range []Packet{Announcement(mac, addr), AnnouncementReply(mac, addr)} {
		b, err := p.Marshal()
		if err != nil {
			return 0, fmt.Errorf("arp: announce %s: %w", addr, err)
		}
		frames = append(frames, b)
	}
	for i := range count {
		if i > 0 {
			if err := sleep(ctx, interval); err != nil {
				return i, fmt.Errorf("arp: announce %s: %d of %d sent: %w", addr, i, count, err)
			}
		}
		for _, f := range frames {
			if err := l.Send(f); err != nil {
				return i, fmt.Errorf("arp: announce %s: send %d of %d: %w", addr, i+1, count, err)
			}
		}
	}
	return count, nil
}

// ProbeOptions shape a duplicate-address probe.
type ProbeOptions struct {
	// Count is how many probes to send at most; 0 means 1.
	Count int
	// Interval is the time between probes; 0 means DefaultInterval.
	Interval time.Duration
	// Wait is how long to listen after the last probe; 0 means Interval.
	Wait time.Duration
	// All keeps listening after the first answer, until Wait after the
	// last probe, and lists every distinct sender in MACs: who else holds
	// the address (two hosts answering is an address held twice).
	All bool
}

// ProbeResult is what a probe found.
type ProbeResult struct {
	// Sent is how many probes went out.
	Sent int
	// Answered is set when another host answered for the address; Reply
	// is the first packet that did, and MAC its sender's hardware address.
	Answered bool
	Reply    Packet
	MAC      net.HardwareAddr
	// MACs are the distinct senders that answered, in order (with All;
	// else at most MAC).
	MACs []net.HardwareAddr
}

// pollSlice bounds one Receive, so that a cancelled ctx is noticed soon.
const pollSlice = 100 * time.Millisecond

// Probe asks whether any host other than this one answers for addr on l
// (RFC 5227 duplicate-address detection, as arping -D): it sends up to
// o.Count probes and stops at the first answer. Nobody answering is a
// result (Answered false), not an error.
func Probe(ctx context.Context, l Link, addr netip.Addr, o ProbeOptions) (ProbeResult, error) {
	var res ProbeResult
	if o.Count <= 0 {
		o.Count = 1
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Wait <= 0 {
		o.Wait = o.Interval
	}
	mac := l.HardwareAddr()
	frame, err := ProbeRequest(mac, addr).Marshal()
	if err != nil {
		return res, fmt.Errorf("arp: probe %s: %w", addr, err)
	}
	buf := make([]byte, 1600)
	for i := range o.Count {
		if err := l.Send(frame); err != nil {
			return res, fmt.Errorf("arp: probe %s: send %d of %d: %w", addr, i+1, o.Count, err)
		}
		res.Sent++
		wait := o.Interval
		if i == o.Count-1 {
			wait = o.Wait
		}
		until := time.Now().Add(wait)
		for {
			if err := ctx.Err(); err != nil {
				return res, fmt.Errorf("arp: probe %s: %w", addr, context.Cause(ctx))
			}
			now := time.Now()
			if !now.Before(until) {
				break
			}
			n, err := l.Receive(buf, minTime(until, now.Add(pollSlice)))
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			if err != nil {
				return res, fmt.Errorf("arp: probe %s: receive: %w", addr, err)
			}
			p, err := Parse(buf[:n])
			if err != nil {
				continue // not ARP, or not IPv4 over Ethernet
			}
			if !Answers(p, addr, mac) {
				continue
			}
			if !res.Answered {
				res.Answered, res.Reply, res.MAC = true, p, p.SenderMAC
			}
			if !slices.ContainsFunc(res.MACs, func(m net.HardwareAddr) bool { return bytes.Equal(m, p.SenderMAC) }) {
				res.MACs = append(res.MACs, p.SenderMAC)
			}
			if !o.All {
				return res, nil
			}
		}
	}
	return res, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
