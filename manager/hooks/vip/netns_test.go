package vip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/node/arp/arptest"
)

// nsRemote runs a host's commands in its own network namespace through sh,
// as sshd would through the login shell (so a missing program is exit 127).
type nsRemote map[string]string // host IP -> namespace

func (r nsRemote) Connect(_ context.Context, h Host) (Session, error) {
	ns, ok := r[h.IP]
	if !ok {
		return nil, fmt.Errorf("no namespace for %s", h.IP)
	}
	return nsSession(ns), nil
}

type nsSession string

func (s nsSession) Close() error { return nil }

func (s nsSession) Run(ctx context.Context, argv []string) (string, error) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", string(s), "sh", "-c", `exec "$@"`, "sh"}, argv...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), &sshexec.ExitError{Host: string(s), Program: argv[0], Code: ee.ExitCode(), Stderr: errOut.Bytes()}
	}
	return out.String(), err
}

// TestStartNetns runs start for real in two network namespaces of its own
// (TEST-NET-2 addresses, a veth pair): the new master gets the address, the
// gratuitous ARP goes out with mha-node arp while the arping named does not
// exist, and the neighbour's stale entry for the address moves to the new
// master's MAC; then, with no mha-node anywhere, the same with the arping
// installed here (when there is one). GOMHA_LAB=1 and root, else skipped;
// it touches only its own namespaces and removes them.
func TestStartNetns(t *testing.T) {
	arptest.Skip(t)
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	node := filepath.Join(t.TempDir(), "mha-node")
	if out, err := exec.Command(gobin, "build", "-o", node, "github.com/gomha/gomha/cmd/mha-node").CombinedOutput(); err != nil {
		t.Fatalf("build mha-node: %v\n%s", err, out)
	}
	pair := arptest.NewPair(t, []string{"198.51.100.12/24"}, []string{"198.51.100.2/24"})
	nsNew, nsNeigh := pair.A, pair.B
	newMAC := arptest.MAC(t, nsNew)

	vip := netip.MustParsePrefix("198.51.100.100/24")
	db2 := &Host{Name: "db2", IP: "198.51.100.12", Port: 3306}
	m := &Mover{Remote: nsRemote{db2.IP: nsNew}}
	arping, _ := exec.LookPath("arping")
	for _, tc := range []struct {
		name      string
		nodeTools []string
		arping    string
		wantTool  string
	}{
		{"mha-node, no arping", []string{"/nonexistent/mha-node", node}, "/nonexistent/arping", "with mha-node arp (" + node + ")"},
		{"no mha-node, the arping installed here", []string{"/nonexistent/mha-node"}, arping, "with " + arping},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.arping == "" {
				t.Skip("no arping installed here")
			}
			arptest.IP(t, "-n", nsNew, "addr", "flush", "dev", "eth0", "to", vip.Addr().String()+"/32")
			// The neighbour believes the address is at the old master's MAC.
			arptest.StaleNeighbour(t, nsNeigh, vip.Addr().String(), "02:00:5e:00:53:99")
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			o, err := m.Do(ctx, Request{Command: CommandStart, VIP: vip, Interface: "eth0", New: db2, NodeTools: tc.nodeTools, Arping: tc.arping, ArpingCount: 2})
			lines := strings.Join(o.Lines, "\n")
			if err != nil || o.Warned {
				t.Fatalf("start: %v, warned %v:\n%s", err, o.Warned, lines)
			}
			if !strings.Contains(lines, "sent 2 gratuitous ARP announcements for 198.51.100.100 from new master db2 (198.51.100.12) "+tc.wantTool) {
				t.Errorf("lines:\n%s\nwant the announcement %s", lines, tc.wantTool)
			}
			if !strings.Contains(lines, "/nonexistent/mha-node): not installed") {
				t.Errorf("lines:\n%s\nwant the missing mha-node named", lines)
			}
			if neigh := arptest.Neighbour(t, nsNeigh, vip.Addr().String()); !strings.Contains(neigh, newMAC) {
				t.Errorf("neighbour entry after start: %q, want %s", neigh, newMAC)
			}
			time.Sleep(1500 * time.Millisecond) // let the background announcement finish before the next run
		})
	}
}
