package vip

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/gomha/gomha/manager/sshexec"
)

// ARPTool is one program start can send the gratuitous ARP with, on the
// new master.
type ARPTool struct {
	// Program is the path (or name, looked up in PATH there) to run.
	Program string
	// Node is set for gomha's mha-node (`mha-node arp`), clear for an
	// arping program.
	Node bool
}

// String names the tool for messages: "mha-node arp (/var/tmp/mha-node)"
// or "arping".
func (t ARPTool) String() string {
	if t.Node {
		return "mha-node arp (" + t.Program + ")"
	}
	return t.Program
}

// ARPTools lists, in the order start tries them, the programs that may
// send the gratuitous ARP: every distinct NodeTools path, then Arping.
// Empty when the request asks for no gratuitous ARP at all.
func (r Request) ARPTools() []ARPTool {
	var tools []ARPTool
	seen := map[string]bool{}
	for _, p := range r.NodeTools {
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		tools = append(tools, ARPTool{Program: p, Node: true})
	}
	if r.Arping != "" {
		tools = append(tools, ARPTool{Program: r.Arping})
	}
	return tools
}

// Argv is the argv that sends count announcements for addr from dev.
func (t ARPTool) Argv(dev string, addr netip.Addr, count int) []string {
	if t.Node {
		return []string{t.Program, "arp", "--interface=" + dev, "--address=" + addr.String(), "--count=" + strconv.Itoa(count)}
	}
	return ARPArgv(t.Program, dev, addr, count)
}

// ARPVerdict is how one run of an ARPTool ended.
type ARPVerdict int

const (
	// ARPDone: the announcement went out.
	ARPDone ARPVerdict = iota
	// ARPMissing: the program is not on the host (exit 127, or 126: not
	// executable); the next tool is tried.
	ARPMissing
	// ARPFailed: the program ran and failed; the next tool is tried.
	ARPFailed
)

// Judge reads how an [ARPTool.Argv] run ended (out its standard output, err
// the run's error, nil for exit 0) and says why when it did not send.
// mha-node arp sends exactly when it exits 0 (it exits 2 on errors; an
// mha-node older than its arp command exits 1: unknown command). An
// arping program is read with [ARPSent]: Thomas Habets' exits 1 after
// sending.
func (t ARPTool) Judge(out string, err error) (ARPVerdict, string) {
	if err == nil {
		return ARPDone, ""
	}
	var ee *sshexec.ExitError
	isExit := errors.As(err, &ee) && ee.Signal == ""
	if isExit && (ee.Code == 127 || ee.Code == 126) {
		return ARPMissing, "not installed"
	}
	if t.Node {
		if isExit && ee.Code == 1 {
			return ARPFailed, fmt.Sprintf("no arp command (an mha-node older than gomha's ARP support?): %v", err)
		}
		return ARPFailed, err.Error()
	}
	if sent, why := ARPSent(out, err); !sent {
		return ARPFailed, why
	}
	return ARPDone, ""
}
