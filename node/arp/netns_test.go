package arp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gomha/gomha/node/arp/arptest"
)

// TestNetns sends real frames between two network namespaces of its own
// (gomha-arptest-N-a and -b, a veth pair between them, addresses of
// TEST-NET-2 that exist only inside them): an announcement from one is
// captured on the other and updates the other's kernel neighbour entry; a
// probe for an address the other side holds is answered with its MAC, a
// probe for an address nobody holds is not. Gated like the lab (GOMHA_LAB=1)
// and run as root; it touches nothing but its own namespaces, which it
// removes whatever happens.
func TestNetns(t *testing.T) {
	arptest.Skip(t)
	var (
		addrA = netip.MustParseAddr("198.51.100.1")
		addrB = netip.MustParseAddr("198.51.100.2")
		vip   = netip.MustParseAddr("198.51.100.100")
		stale = "02:00:5e:00:53:99" // a MAC nobody has (RFC 7042 documentation range)
	)
	pair := arptest.NewPair(t, []string{addrA.String() + "/24", vip.String() + "/24"}, []string{addrB.String() + "/24"})
	nsA, nsB := pair.A, pair.B
	// B believes the VIP is at a stale MAC (the old master's), as a
	// neighbour does right after a failover.
	arptest.StaleNeighbour(t, nsB, vip.String(), stale)

	a := openIn(t, nsA, "eth0")
	b := openIn(t, nsB, "eth0")
	for _, c := range []struct {
		ns   string
		s    *Socket
		want bool
	}{{nsA, a, true}, {nsB, b, false}} {
		var held bool
		if err := inNetns(c.ns, func() (err error) { held, err = c.s.Holds(vip); return err }); err != nil || held != c.want {
			t.Fatalf("Holds(%s) in %s = %v, %v; want %v", vip, c.ns, held, err, c.want)
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	// Announce from A, capture on B.
	var (
		mu  sync.Mutex
		got []Packet
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 1600)
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, err := b.Receive(buf, time.Now().Add(50*time.Millisecond))
			if err != nil {
				continue
			}
			if p, err := Parse(buf[:n]); err == nil && p.SenderIP == vip {
				mu.Lock()
				got = append(got, p)
				mu.Unlock()
			}
		}
	})
	n, err := Announce(ctx, a, vip, 2, 100*time.Millisecond)
	if err != nil || n != 2 {
		t.Fatalf("Announce = %d, %v", n, err)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	want := []Packet{Announcement(a.HardwareAddr(), vip), AnnouncementReply(a.HardwareAddr(), vip)}
	want = append(want, want...)
	if len(got) != len(want) {
		t.Fatalf("captured %d frames in %s (%v), want %d", len(got), nsB, got, len(want))
	}
	for i := range want {
		w, _ := want[i].Marshal()
		g, _ := got[i].Marshal()
		if !bytes.Equal(w, g) {
			t.Errorf("frame %d: got %v, want %v", i, got[i], want[i])
		}
	}
	// B's kernel took the announcement: the VIP now points at A's MAC.
	if neigh := arptest.Neighbour(t, nsB, vip.String()); !strings.Contains(neigh, a.HardwareAddr().String()) {
		t.Errorf("neighbour entry in %s after the announcement: %q, want %s", nsB, neigh, a.HardwareAddr())
	}

	// Probe from B: A's kernel answers for the VIP and for its own address.
	for _, addr := range []netip.Addr{vip, addrA} {
		res, err := Probe(ctx, b, addr, ProbeOptions{Count: 3, Interval: 200 * time.Millisecond})
		if err != nil {
			t.Fatalf("Probe %s: %v", addr, err)
		}
		if !res.Answered || !bytes.Equal(res.MAC, a.HardwareAddr()) {
			t.Errorf("Probe %s = %+v, want an answer from %s", addr, res, a.HardwareAddr())
		}
	}
	// Nobody holds .77; and B's own address is not "another host".
	for _, addr := range []netip.Addr{netip.MustParseAddr("198.51.100.77"), addrB} {
		res, err := Probe(ctx, b, addr, ProbeOptions{Count: 2, Interval: 150 * time.Millisecond})
		if err != nil || res.Answered || res.Sent != 2 {
			t.Errorf("Probe %s = %+v, %v; want 2 probes, no answer", addr, res, err)
		}
	}
	// The probe leaves no trace in A's neighbour table (sender IP 0.0.0.0).
	if neigh := arptest.IP(t, "-n", nsA, "neigh", "show", "dev", "eth0"); strings.Contains(neigh, "0.0.0.0") {
		t.Errorf("neighbours in %s after the probes: %q", nsA, neigh)
	}
}

// openIn opens a Socket on dev inside network namespace ns. The socket
// stays in that namespace after the thread returns to its own.
func openIn(t *testing.T, ns, dev string) *Socket {
	t.Helper()
	var s *Socket
	err := inNetns(ns, func() error {
		var err error
		s, err = Open(dev)
		return err
	})
	if err != nil {
		t.Fatalf("open %s in %s: %v", dev, ns, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// inNetns runs fn on a thread switched into network namespace ns.
func inNetns(ns string, fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return err
	}
	defer self.Close()
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("setns %s: %w", ns, err)
	}
	ferr := fn()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays locked and dies with the goroutine, so the
		// runtime never reuses it in the wrong namespace.
		runtime.LockOSThread()
		return errors.Join(ferr, fmt.Errorf("setns back: %w", err))
	}
	return ferr
}
