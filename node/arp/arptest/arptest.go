// Package arptest gives tests a pair of network namespaces of their own,
// joined by a veth pair, to send real ARP frames between. Only the
// namespaces it creates are touched, and they are removed in the test's
// cleanup, also when the test fails.
package arptest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Skip skips the test unless GOMHA_LAB=1 and it runs as root (what network
// namespaces and packet sockets need), and fails it when the lab is on but
// ip (iproute2) is missing.
func Skip(t testing.TB) {
	t.Helper()
	if os.Getenv("GOMHA_LAB") != "1" {
		t.Skip("set GOMHA_LAB=1 (and run as root) to send real ARP frames between test namespaces")
	}
	if os.Geteuid() != 0 {
		t.Skip("GOMHA_LAB=1 but not root: network namespaces and packet sockets need root")
	}
	if _, err := os.Stat(ipBin()); err != nil {
		t.Fatal("GOMHA_LAB=1 but ip (iproute2) is not installed")
	}
}

// ipBin is ip(8); sudo's PATH may lack /usr/sbin, where Debian has it.
func ipBin() string {
	if p, err := exec.LookPath("ip"); err == nil {
		return p
	}
	return "/usr/sbin/ip"
}

// IP runs ip with args and returns its output; a failure fails the test.
func IP(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(ipBin(), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Pair is two namespaces, each with an eth0 that is one end of the same
// veth pair.
type Pair struct {
	// A and B are the namespaces' names (gomha-arptest-N-a and -b).
	A, B string
}

// NewPair creates the namespaces, gives eth0 in A the addresses addrsA and
// in B addrsB ("198.51.100.1/24": use TEST-NET-2), brings the links up and
// waits for carrier.
func NewPair(t testing.TB, addrsA, addrsB []string) Pair {
	t.Helper()
	base := fmt.Sprintf("gomha-arptest-%d", rand.IntN(1<<30))
	p := Pair{A: base + "-a", B: base + "-b"}
	t.Cleanup(func() {
		for _, ns := range []string{p.A, p.B} {
			if out, err := exec.Command(ipBin(), "netns", "del", ns).CombinedOutput(); err != nil && !strings.Contains(string(out), "No such file") {
				t.Errorf("cleanup: ip netns del %s: %v: %s", ns, err, out)
			}
		}
	})
	IP(t, "netns", "add", p.A)
	IP(t, "netns", "add", p.B)
	// Created inside the namespaces, so no name is ever taken in the
	// caller's.
	IP(t, "-n", p.A, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", p.B)
	for _, side := range []struct {
		ns    string
		addrs []string
	}{{p.A, addrsA}, {p.B, addrsB}} {
		for _, a := range side.addrs {
			IP(t, "-n", side.ns, "addr", "add", a, "dev", "eth0")
		}
		IP(t, "-n", side.ns, "link", "set", "lo", "up")
		IP(t, "-n", side.ns, "link", "set", "eth0", "up")
	}
	for _, ns := range []string{p.A, p.B} {
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(IP(t, "-n", ns, "-o", "link", "show", "eth0"), "LOWER_UP") {
			if time.Now().After(deadline) {
				t.Fatalf("eth0 in %s has no carrier", ns)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return p
}

// MAC is the hardware address of eth0 in namespace ns.
func MAC(t testing.TB, ns string) string {
	t.Helper()
	f := strings.Fields(IP(t, "-n", ns, "-o", "link", "show", "eth0"))
	for i := range f {
		if f[i] == "link/ether" && i+1 < len(f) {
			return f[i+1]
		}
	}
	t.Fatalf("no MAC for eth0 in %s: %q", ns, f)
	return ""
}

// Neighbour is namespace ns's neighbour entry for addr on eth0 ("" when
// none).
func Neighbour(t testing.TB, ns, addr string) string {
	t.Helper()
	return strings.TrimSpace(IP(t, "-n", ns, "neigh", "show", addr, "dev", "eth0"))
}

// StaleNeighbour makes ns believe addr is at mac (state stale), as a
// neighbour of a failed-over master does.
func StaleNeighbour(t testing.TB, ns, addr, mac string) {
	t.Helper()
	IP(t, "-n", ns, "neigh", "replace", addr, "lladdr", mac, "dev", "eth0", "nud", "stale")
}
