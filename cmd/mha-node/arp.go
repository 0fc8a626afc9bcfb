package main

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/cmd/internal/mhacli"
	"github.com/gomha/gomha/node/arp"
)

// Exit codes of `mha-node arp`. A usage error is arpFailed too, so that a
// probe's 1 always means an answer.
const (
	arpOK       = 0 // announce: sent; probe: nobody else answered
	arpAnswered = 1 // probe: another host answered for the address
	arpFailed   = 2 // could not do it (interface, permission, address)
)

// arpLink is an open interface: arp.Link and what the command asks of it.
type arpLink interface {
	arp.Link
	Holds(addr netip.Addr) (bool, error)
	Close() error
}

type arpFlags struct {
	dev, address string
	count        int
	interval     time.Duration
	wait         time.Duration
	probe        bool
	jsonOut      bool
}

// arpResult is the --json line.
type arpResult struct {
	Mode      string `json:"mode"`
	Interface string `json:"interface"`
	Address   string `json:"address"`
	Sent      int    `json:"sent"`
	Answered  bool   `json:"answered,omitempty"`
	MAC       string `json:"mac,omitempty"`
	Error     string `json:"error,omitempty"`
}

func newARPCmd() *cobra.Command {
	return newARPCmdWith(func(dev string) (arpLink, error) { return arp.Open(dev) })
}

func newARPCmdWith(open func(dev string) (arpLink, error)) *cobra.Command {
	var f arpFlags
	c := &cobra.Command{
		Use:   "arp --interface=DEV --address=IP [--count=N] [--interval=D] [--probe [--wait=D]]",
		Short: "Send gratuitous ARP for an address, or probe whether another host answers for it (no arping needed)",
		Long: "Without --probe: announce IP (which must be configured on DEV) with --count gratuitous ARP\n" +
			"announcements, --interval apart, each an ARP request and an ARP reply from DEV's MAC with\n" +
			"sender and target IP both IP (arping -U and -A in one). Exit 0 when sent.\n\n" +
			"With --probe: the duplicate-address probe of RFC 5227 (arping -D): up to --count ARP\n" +
			"requests for IP with sender IP 0.0.0.0, stopping at the first answer, listening --wait\n" +
			"after the last. Exit 0 when no other host answered, 1 when one did (its MAC is printed).\n\n" +
			"Exit 2 on any error (no such interface, no CAP_NET_RAW, bad options). Uses an AF_PACKET\n" +
			"socket: run as root.",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &mhacli.ExitError{Code: arpFailed, Err: fmt.Errorf("unexpected arguments %q", args)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runARP(cmd, f, open)
		},
	}
	c.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		fmt.Fprint(c.ErrOrStderr(), c.UsageString())
		return &mhacli.ExitError{Code: arpFailed, Err: err}
	})
	fs := c.Flags()
	fs.StringVar(&f.dev, "interface", "", "network device, e.g. eth0 (required)")
	fs.StringVar(&f.address, "address", "", "IPv4 address to announce or probe (required)")
	fs.IntVar(&f.count, "count", 3, "announcements to send, or probes at most")
	fs.DurationVar(&f.interval, "interval", arp.DefaultInterval, "time between announcements or probes")
	fs.DurationVar(&f.wait, "wait", 0, "probe: how long to listen after the last probe (default --interval)")
	fs.BoolVar(&f.probe, "probe", false, "probe for another host answering for the address instead of announcing it")
	fs.BoolVar(&f.jsonOut, "json", false, "print the result as one line of JSON")
	return c
}

func runARP(cmd *cobra.Command, f arpFlags, open func(string) (arpLink, error)) error {
	res := arpResult{Mode: "announce", Interface: f.dev, Address: f.address}
	if f.probe {
		res.Mode = "probe"
	}
	fail := func(err error) error {
		res.Error = err.Error()
		if f.jsonOut {
			printJSON(cmd.OutOrStdout(), res)
		}
		return &mhacli.ExitError{Code: arpFailed, Err: err}
	}
	addr, err := netip.ParseAddr(f.address)
	switch {
	case f.dev == "":
		return fail(errors.New("arp: --interface=DEV is required"))
	case err != nil || !addr.Is4():
		return fail(fmt.Errorf("arp: --address=%q: want an IPv4 address", f.address))
	case f.count < 1:
		return fail(fmt.Errorf("arp: --count=%d: want at least 1", f.count))
	case f.interval < 0 || f.wait < 0:
		return fail(errors.New("arp: --interval and --wait must not be negative"))
	}
	link, err := open(f.dev)
	if err != nil {
		return fail(err)
	}
	defer link.Close()
	out := cmd.OutOrStdout()
	mac := link.HardwareAddr()

	if !f.probe {
		// Announcing an address this host does not hold would pull its
		// traffic away from the host that does.
		held, err := link.Holds(addr)
		if err != nil {
			return fail(err)
		}
		if !held {
			return fail(fmt.Errorf("arp: %s is not configured on %s; refusing to announce it", addr, f.dev))
		}
		n, err := arp.Announce(cmd.Context(), link, addr, f.count, f.interval)
		res.Sent = n
		if err != nil {
			return fail(err)
		}
		return conclude(out, cmd.ErrOrStderr(), f.jsonOut, res, arpOK,
			fmt.Sprintf("sent %d gratuitous ARP announcements for %s on %s (%s)", n, addr, f.dev, mac), true)
	}

	pr, err := arp.Probe(cmd.Context(), link, addr, arp.ProbeOptions{Count: f.count, Interval: f.interval, Wait: f.wait})
	res.Sent = pr.Sent
	if err != nil {
		return fail(err)
	}
	if !pr.Answered {
		return conclude(out, cmd.ErrOrStderr(), f.jsonOut, res, arpOK,
			fmt.Sprintf("no other host answered for %s on %s (%d probes)", addr, f.dev, pr.Sent), true)
	}
	res.Answered, res.MAC = true, pr.MAC.String()
	// The answer goes to stdout either way: it is what the caller asked.
	return conclude(out, out, f.jsonOut, res, arpAnswered,
		fmt.Sprintf("%s is at %s (answered probe %d on %s)", addr, pr.MAC, pr.Sent, f.dev), true)
}
