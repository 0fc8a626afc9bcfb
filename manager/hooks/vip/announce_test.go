package vip

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gomha/gomha/manager/sshexec"
)

func TestARPTools(t *testing.T) {
	node := func(p string) ARPTool { return ARPTool{Program: p, Node: true} }
	for _, tc := range []struct {
		name string
		r    Request
		want []ARPTool
	}{
		{"arping only (no mha-node known)", Request{Arping: "arping"}, []ARPTool{{Program: "arping"}}},
		{"mha-node, then arping", Request{NodeTools: []string{"/var/tmp/mha-node"}, Arping: "/usr/sbin/arping"},
			[]ARPTool{node("/var/tmp/mha-node"), {Program: "/usr/sbin/arping"}}},
		{"duplicates and empty paths dropped, order kept", Request{NodeTools: []string{"/w/mha-node", "", "/opt/bin/mha-node", "/w/mha-node"}, Arping: "arping"},
			[]ARPTool{node("/w/mha-node"), node("/opt/bin/mha-node"), {Program: "arping"}}},
		{"mha-node only (--arping=)", Request{NodeTools: []string{"/w/mha-node"}}, []ARPTool{node("/w/mha-node")}},
		{"nothing", Request{}, nil},
	} {
		if diff := cmp.Diff(tc.want, tc.r.ARPTools()); diff != "" {
			t.Errorf("%s: ARPTools (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestARPToolArgv(t *testing.T) {
	addr := netip.MustParseAddr("198.18.7.100")
	if got, want := (ARPTool{Program: "/w/mha-node", Node: true}).Argv("eth0", addr, 9),
		[]string{"/w/mha-node", "arp", "--interface=eth0", "--address=198.18.7.100", "--count=9"}; !slices.Equal(got, want) {
		t.Errorf("mha-node argv %q, want %q", got, want)
	}
	if got, want := (ARPTool{Program: "arping"}).Argv("eth0", addr, 1), ARPArgv("arping", "eth0", addr, 1); !slices.Equal(got, want) {
		t.Errorf("arping argv %q, want %q", got, want)
	}
}

// Which outcome of a run is sent, missing (try the next quietly) or failed
// (try the next, say why), for both kinds of tool.
func TestARPToolJudge(t *testing.T) {
	exit := func(code int) error { return &sshexec.ExitError{Host: "root@db2", Program: "x", Code: code} }
	node, arping := ARPTool{Program: "/w/mha-node", Node: true}, ARPTool{Program: "arping"}
	const habets = "--- 198.18.7.100 statistics ---\n1 packets transmitted, 0 packets received, 100% unanswered (0 extra)\n"
	for _, tc := range []struct {
		name string
		tool ARPTool
		out  string
		err  error
		want ARPVerdict
		why  string
	}{
		{"mha-node sent", node, "sent 1 gratuitous ARP announcements", nil, ARPDone, ""},
		{"mha-node not there", node, "", exit(127), ARPMissing, "not installed"},
		{"mha-node not executable", node, "", exit(126), ARPMissing, "not installed"},
		{"mha-node without arp", node, "", exit(1), ARPFailed, "no arp command"},
		{"mha-node error (no CAP_NET_RAW, no device)", node, "", exit(2), ARPFailed, "exit status 2"},
		{"mha-node exit 1 output is not arping's", node, habets, exit(1), ARPFailed, "no arp command"},
		{"mha-node killed", node, "", &sshexec.ExitError{Program: "x", Code: 137, Signal: "KILL"}, ARPFailed, "KILL"},
		{"session lost", node, "", errors.New("connection lost"), ARPFailed, "connection lost"},
		{"iputils arping sent", arping, "Sent 1 probes (1 broadcast(s))\n", nil, ARPDone, ""},
		{"Habets' arping exit 1 after sending", arping, habets, exit(1), ARPDone, ""},
		{"arping not there", arping, "", exit(127), ARPMissing, "not installed"},
		{"arping usage error", arping, "usage: arping [ -0aAbBdDeFhpPqrRuUv ]\n", exit(1), ARPFailed, "exit status 1"},
		{"arping error", arping, "", exit(2), ARPFailed, "exit status 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, why := tc.tool.Judge(tc.out, tc.err)
			if v != tc.want || !strings.Contains(why, tc.why) || (v != ARPDone && why == "") {
				t.Errorf("Judge = %v, %q; want %v, %q", v, why, tc.want, tc.why)
			}
		})
	}
}
