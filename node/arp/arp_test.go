package arp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeLink records what is sent and hands out queued frames; a frame
// queued with after > 0 arrives only once that many frames were sent (an
// answer to the n-th probe).
type fakeLink struct {
	mu      sync.Mutex
	mac     net.HardwareAddr
	sent    [][]byte
	inbox   []queued
	sendErr error
	recvErr error
}

type queued struct {
	after int
	frame []byte
}

func (l *fakeLink) Send(f []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sendErr != nil {
		return l.sendErr
	}
	l.sent = append(l.sent, slices.Clone(f))
	return nil
}

func (l *fakeLink) Receive(b []byte, deadline time.Time) (int, error) {
	l.mu.Lock()
	if l.recvErr != nil {
		defer l.mu.Unlock()
		return 0, l.recvErr
	}
	for i, q := range l.inbox {
		if len(l.sent) >= q.after {
			l.inbox = slices.Delete(l.inbox, i, i+1)
			l.mu.Unlock()
			return copy(b, q.frame), nil
		}
	}
	l.mu.Unlock()
	time.Sleep(time.Until(deadline))
	return 0, os.ErrDeadlineExceeded
}

func (l *fakeLink) HardwareAddr() net.HardwareAddr { return l.mac }

func frame(t *testing.T, p Packet) []byte {
	t.Helper()
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAnnounce(t *testing.T) {
	l := &fakeLink{mac: ownMAC}
	start := time.Now()
	n, err := Announce(t.Context(), l, vipAddr, 3, 20*time.Millisecond)
	if err != nil || n != 3 {
		t.Fatalf("Announce = %d, %v; want 3, nil", n, err)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("3 announcements 20ms apart took %s", d)
	}
	req, rep := frame(t, Announcement(ownMAC, vipAddr)), frame(t, AnnouncementReply(ownMAC, vipAddr))
	want := [][]byte{req, rep, req, rep, req, rep}
	if !slices.EqualFunc(l.sent, want, func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Errorf("sent %x, want %x", l.sent, want)
	}
}

func TestAnnounceFails(t *testing.T) {
	boom := errors.New("sendto: network is down")
	if n, err := Announce(t.Context(), &fakeLink{mac: ownMAC, sendErr: boom}, vipAddr, 3, time.Millisecond); n != 0 || !errors.Is(err, boom) {
		t.Errorf("send error: Announce = %d, %v", n, err)
	}
	if _, err := Announce(t.Context(), &fakeLink{mac: net.HardwareAddr{1}}, vipAddr, 1, 0); !errors.Is(err, ErrAddress) {
		t.Errorf("bad MAC: %v, want ErrAddress", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	l := &fakeLink{mac: ownMAC}
	go func() { time.Sleep(30 * time.Millisecond); cancel() }()
	n, err := Announce(ctx, l, vipAddr, 100, 10*time.Second)
	if n != 1 || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: Announce = %d, %v; want 1, context.Canceled", n, err)
	}
}

func TestProbe(t *testing.T) {
	answer := Packet{Dst: ownMAC, Src: otherMAC, Op: OpReply, SenderMAC: otherMAC, SenderIP: vipAddr, TargetMAC: ownMAC, TargetIP: netip.IPv4Unspecified()}
	opts := ProbeOptions{Count: 3, Interval: 10 * time.Millisecond}
	for _, tc := range []struct {
		name     string
		inbox    []queued
		answered bool
		sent     int
	}{
		{"nobody answers", nil, false, 3},
		{"answer to the first probe", []queued{{1, frame(t, answer)}}, true, 1},
		{"answer to the second probe", []queued{{2, frame(t, answer)}}, true, 2},
		{"own frames and noise are no answer", []queued{
			{1, frame(t, ProbeRequest(ownMAC, vipAddr))},
			{1, frame(t, Announcement(ownMAC, vipAddr))},
			{1, []byte("not a frame")},
			{1, frame(t, ProbeRequest(otherMAC, vipAddr))},
			{1, frame(t, AnnouncementReply(otherMAC, netip.MustParseAddr("198.51.100.7")))},
		}, false, 3},
		{"answer among noise", []queued{{1, []byte{1, 2, 3}}, {1, frame(t, Announcement(otherMAC, vipAddr))}}, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &fakeLink{mac: ownMAC, inbox: tc.inbox}
			res, err := Probe(t.Context(), l, vipAddr, opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Answered != tc.answered || res.Sent != tc.sent {
				t.Errorf("Probe = answered %v after %d, want %v after %d", res.Answered, res.Sent, tc.answered, tc.sent)
			}
			if tc.answered && res.MAC.String() != otherMAC.String() {
				t.Errorf("MAC = %s, want %s", res.MAC, otherMAC)
			}
			probe := frame(t, ProbeRequest(ownMAC, vipAddr))
			for i, f := range l.sent {
				if string(f) != string(probe) {
					t.Errorf("frame %d sent %x, want the probe %x", i, f, probe)
				}
			}
		})
	}
}

// With All the probe listens out its window and lists every host that
// answered: an address held twice shows two MACs.
func TestProbeAll(t *testing.T) {
	third := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x33}
	answer := func(mac net.HardwareAddr) []byte {
		return frame(t, Packet{Dst: ownMAC, Src: mac, Op: OpReply, SenderMAC: mac, SenderIP: vipAddr, TargetMAC: ownMAC, TargetIP: netip.IPv4Unspecified()})
	}
	l := &fakeLink{mac: ownMAC, inbox: []queued{{1, answer(otherMAC)}, {1, answer(otherMAC)}, {2, answer(third)}}}
	res, err := Probe(t.Context(), l, vipAddr, ProbeOptions{Count: 2, Interval: 10 * time.Millisecond, All: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 2 || !res.Answered || len(res.MACs) != 2 || res.MACs[0].String() != otherMAC.String() || res.MACs[1].String() != third.String() {
		t.Errorf("Probe(All) = sent %d, answered %v, MACs %v; want 2, true, [%s %s]", res.Sent, res.Answered, res.MACs, otherMAC, third)
	}
}

func TestProbeFails(t *testing.T) {
	boom := errors.New("recvfrom: network is down")
	if _, err := Probe(t.Context(), &fakeLink{mac: ownMAC, recvErr: boom}, vipAddr, ProbeOptions{}); !errors.Is(err, boom) {
		t.Errorf("receive error: %v", err)
	}
	if res, err := Probe(t.Context(), &fakeLink{mac: ownMAC, sendErr: boom}, vipAddr, ProbeOptions{}); !errors.Is(err, boom) || res.Sent != 0 {
		t.Errorf("send error: %+v, %v", res, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := Probe(ctx, &fakeLink{mac: ownMAC}, vipAddr, ProbeOptions{Count: 5, Interval: 10 * time.Second}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("expired context: %v", err)
	}
	if d := time.Since(start); d > 2*pollSlice+50*time.Millisecond {
		t.Errorf("cancelled probe returned after %s", d)
	}
}
