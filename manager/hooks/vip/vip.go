// Package vip moves a virtual IP address between database hosts over SSH:
// the logic behind `mha hook vip`, gomha's built-in
// master_ip_failover_script and master_ip_online_change_script.
//
// MHA calls the hook with --command=status, stop, stopssh or start and the
// orig/new master's addresses (mha-compat §4.1, §4.5). What each command does
// here:
//
//   - status: SSH to the orig master and report whether it holds the
//     address. Fails when SSH does not work, as MHA's start-up check wants.
//   - stop, stopssh: remove the address from the orig master (`ip addr del`);
//     absent already is fine. When the orig master cannot be reached over SSH
//     (the usual case for --command=stop: MHA already knows SSH is down) the
//     address is probed from the manager (see [TCPProbe]): if something
//     still answers it fails, since another host would then hold the
//     address twice; if nothing answers the hook proceeds with a warning
//     (exit 10, MHA's "Proceeding.") that says what it is: not verified. A
//     host that cannot be reached may still hold the address (a pulled cable
//     leaves it configured there, and it answers again once the link is
//     back), so the address is never reported as released. Fencing that
//     host is the job of shutdown_script, the lease, and manager/fence's
//     Watch, which runs --command=stop again when the host answers and so
//     removes the address there. Refusing instead (exit 1) would stop every
//     failover of a host whose cable was pulled, which is what a failover
//     is for.
//   - start: make sure the orig master no longer holds the address (remove
//     it over SSH and check `ip -o addr show` there; when SSH fails, the probe
//     decides as for stop), then `ip addr add` it on the new master, check
//     that it is there and announce it with gratuitous ARP, so that
//     neighbours replace an entry that still points at the old host's MAC.
//     When the orig master could not be checked, the announcements go on
//     for longer (see [Request.ArpingCount]).
//
// The gratuitous ARP needs no arping binary: start first runs `mha-node
// arp` on the new master (gomha's node tool sends it on an AF_PACKET
// socket; the manager installs mha-node in every host's remote_workdir),
// trying each of [Request.NodeTools] in turn, and only when none of them
// is there (or none works) the arping program the request names (see
// [Request.ARPTools], [ARPTool.Judge]). arping comes in two flavours that
// both take -U -c N -I DEV ADDR: iputils' (Debian's iputils-arping) exits 0
// in -U mode, Thomas Habets' (Debian's arping package) exits 1 whenever no
// reply came, which is always the case for an unsolicited announcement. An
// exit status 1 whose output says that packets were sent counts as sent
// (see [ARPSent]).
//
// The online switch calls stop (writes must stop reaching the orig master)
// and start (the new master takes the address) with the same meanings.
//
// Every remote command is an argv list quoted by sshexec; nothing is pasted
// into a shell. Host keys are verified (sshexec's known_hosts handling).
package vip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gomha/gomha/manager/sshexec"
)

// Commands MHA passes with --command.
const (
	CommandStatus  = "status"
	CommandStop    = "stop"
	CommandStopSSH = "stopssh"
	CommandStart   = "start"
)

// Sentinel errors.
var (
	// ErrRequest reports a request that cannot be carried out as given: an
	// unknown command, a missing host or address.
	ErrRequest = errors.New("vip: invalid request")
	// ErrStillAnswers reports that the orig master could not be reached over
	// SSH and the address still answers: some host still holds it, so it was
	// not (and cannot be) taken over safely.
	ErrStillAnswers = errors.New("vip: address still answers")
	// ErrNotMoved reports that a command ran but the address is not where it
	// should be afterwards (still on the orig master, missing on the new one).
	ErrNotMoved = errors.New("vip: address not where it should be")
)

// Host is one side of the move (MHA's orig or new master).
type Host struct {
	// Name is the host name as MHA passes it (--orig_master_host).
	Name string
	// IP is the host's address (--orig_master_ip).
	IP string
	// Port is MySQL's port on it (--orig_master_port); the probe uses it.
	Port int
	// SSH is how to log in to it.
	SSH sshexec.Target
}

// String names the host for messages: "db1 (198.18.7.11)".
func (h Host) String() string {
	if h.IP == "" || h.IP == h.Name {
		return h.Name
	}
	return h.Name + " (" + h.IP + ")"
}

// Request is one hook invocation.
type Request struct {
	// Command is status, stop, stopssh or start.
	Command string
	// VIP is the virtual address with its prefix length (198.18.7.100/24).
	VIP netip.Prefix
	// Interface is the network device that carries it (eth0).
	Interface string
	// Orig is the current (or dead) master; nil when MHA did not pass one.
	Orig *Host
	// New is the new master; required for start.
	New *Host
	// NodeTools are the paths where mha-node may be on the new master
	// (its remote_workdir's copy first), tried in order for the gratuitous
	// ARP (`mha-node arp`) before Arping. None means arping only.
	NodeTools []string
	// Arping is the arping program run on the new master after the address
	// is added when no NodeTools entry sent the announcement ("" = none).
	// Debian's iputils-arping and the arping package (Thomas Habets') both
	// accept the arguments used: -U -c N -I DEV ADDR.
	Arping string
	// ArpingCount is how many gratuitous ARP announcements to send, one a
	// second; 0 means 3. When the orig master could not be checked (it may
	// still hold the address), at least [UnverifiedArpingCount] are sent.
	ArpingCount int
}

// Session runs commands on one host.
type Session interface {
	// Run runs argv and returns its standard output. A command that ran and
	// failed returns an error carrying its exit status and standard error.
	Run(ctx context.Context, argv []string) (string, error)
	// Close ends the session.
	Close() error
}

// Remote opens sessions to hosts. An error from Connect means the host
// could not be reached or logged in to; nothing ran there.
type Remote interface {
	Connect(ctx context.Context, h Host) (Session, error)
}

// Probe reports whether anything answers on addr:port from where the hook
// runs, and says what it saw ("connection refused", "no answer within 2s").
type Probe func(ctx context.Context, addr netip.Addr, port int) (answered bool, detail string)

// Mover carries out requests.
type Mover struct {
	// Remote reaches the hosts (SSH in production, a fake in tests).
	Remote Remote
	// Probe checks whether the address answers; nil means [TCPProbe] with a
	// two-second timeout.
	Probe Probe
	// StepTimeout bounds each remote command; 0 means 30 seconds.
	StepTimeout time.Duration
	// Memo carries what stop found out about the orig master to the start
	// that follows (a separate hook run): nil remembers nothing.
	Memo Memo
}

// Memo remembers, between the hook's runs of one failover, that the orig
// master could not be reached over SSH, so that start does not dial it
// again into the same connect timeout.
type Memo interface {
	// Unreachable records that orig could not be reached now.
	Unreachable(orig Host, vip netip.Prefix)
	// WasUnreachable reports whether orig was recorded unreachable within
	// MemoFor, and forgets it.
	WasUnreachable(orig Host, vip netip.Prefix) (bool, time.Duration)
}

// MemoFor is how long a stop's finding is trusted by the start after it.
const MemoFor = time.Minute

// StopConnectTimeout bounds the SSH connect of --command=stop.
const StopConnectTimeout = time.Second

// ShortConnect returns h with its SSH connect bounded by
// StopConnectTimeout: for a host that is probably down (a failover's
// --command=stop, a dead master checked again), where a full connect
// timeout would be spent for nothing.
func (h Host) ShortConnect() Host {
	if h.SSH.ConnectTimeout <= 0 || h.SSH.ConnectTimeout > StopConnectTimeout {
		h.SSH.ConnectTimeout = StopConnectTimeout
	}
	return h
}

// DefaultProbeTimeout is the address probe's timeout when Mover.Probe is
// nil: on a LAN a connect is answered in well under a millisecond.
const DefaultProbeTimeout = time.Second

// Outcome is what a request did, for the hook's output.
type Outcome struct {
	// Lines describe each step, in order.
	Lines []string
	// Warned is set when the request succeeded only with a caveat (a host
	// that could not be reached, a failed arping): MHA's exit code 10.
	Warned bool
	// Unverified is set when the orig master could not be reached over SSH
	// and nothing answered on the address: it may still hold it (a pulled
	// cable), so it must be fenced, and the address removed there when it
	// is back. Warned is set too.
	Unverified bool
}

// UnverifiedArpingCount is the smallest number of gratuitous ARP packets
// start sends when the orig master could not be checked.
const UnverifiedArpingCount = 10

func (o *Outcome) note(format string, args ...any) {
	o.Lines = append(o.Lines, fmt.Sprintf(format, args...))
}

func (o *Outcome) warn(format string, args ...any) {
	o.Warned = true
	o.Lines = append(o.Lines, "warning: "+fmt.Sprintf(format, args...))
}

// Validate checks a request before anything runs.
func (r Request) Validate() error {
	if !r.VIP.IsValid() {
		return fmt.Errorf("%w: --vip=ADDRESS/PREFIX is required", ErrRequest)
	}
	if r.Interface == "" {
		return fmt.Errorf("%w: --interface=DEVICE is required", ErrRequest)
	}
	switch r.Command {
	case CommandStatus, CommandStop, CommandStopSSH:
		if r.Orig == nil {
			return fmt.Errorf("%w: --command=%s needs --orig_master_host/--orig_master_ip", ErrRequest, r.Command)
		}
	case CommandStart:
		if r.New == nil {
			return fmt.Errorf("%w: --command=start needs --new_master_host/--new_master_ip", ErrRequest)
		}
	case "":
		return fmt.Errorf("%w: --command=status|stop|stopssh|start is required", ErrRequest)
	default:
		return fmt.Errorf("%w: unknown --command=%s (want status, stop, stopssh or start)", ErrRequest, r.Command)
	}
	return nil
}

// Do carries out the request. The error names the host and the step; the
// Outcome holds the steps done so far either way.
func (m *Mover) Do(ctx context.Context, r Request) (Outcome, error) {
	var o Outcome
	if err := r.Validate(); err != nil {
		return o, err
	}
	var err error
	switch r.Command {
	case CommandStatus:
		err = m.status(ctx, r, &o)
	case CommandStop, CommandStopSSH:
		err = m.stop(ctx, r, &o)
	case CommandStart:
		err = m.start(ctx, r, &o)
	}
	return o, err
}

func (m *Mover) status(ctx context.Context, r Request, o *Outcome) error {
	s, err := m.Remote.Connect(ctx, *r.Orig)
	if err != nil {
		return fmt.Errorf("vip status: orig master %s: %w", r.Orig, err)
	}
	defer s.Close()
	held, err := m.held(ctx, s, r)
	if err != nil {
		return fmt.Errorf("vip status: orig master %s: %w", r.Orig, err)
	}
	if held != "" {
		o.note("%s is on %s of orig master %s", held, r.Interface, r.Orig)
	} else {
		o.note("%s is not on %s of orig master %s", r.VIP, r.Interface, r.Orig)
	}
	return nil
}

// remember records, when err is nil (SSH failed and nothing answered on
// the address), that the orig master was found unreachable, for the start
// that follows; it returns err.
func (m *Mover) remember(r Request, err error) error {
	if err == nil && m.Memo != nil {
		m.Memo.Unreachable(*r.Orig, r.VIP)
	}
	return err
}

// forget drops a finding about orig (it answered SSH now).
func (m *Mover) forget(orig Host, vip netip.Prefix) {
	if m.Memo != nil {
		m.Memo.WasUnreachable(orig, vip)
	}
}

func (m *Mover) wasUnreachable(orig Host, vip netip.Prefix) (bool, time.Duration) {
	if m.Memo == nil {
		return false, 0
	}
	return m.Memo.WasUnreachable(orig, vip)
}

func (m *Mover) stop(ctx context.Context, r Request, o *Outcome) error {
	orig := *r.Orig
	if r.Command == CommandStop {
		// A failover calls stop (not stopssh) when its SSH check of the
		// orig master failed: a full connect timeout would be spent on a
		// host that is known not to answer. (The online switch calls stop
		// on a live host, which answers in milliseconds.)
		orig = orig.ShortConnect()
	}
	// For stop, the probe that decides when SSH fails starts alongside the
	// dial once it has not connected within probeAfter (a live host
	// connects sooner, and is then not probed): one timeout instead of two.
	type probed struct {
		answered bool
		detail   string
	}
	var early chan probed
	if r.Command == CommandStop {
		early = make(chan probed, 1)
		pctx, cancel := context.WithCancel(ctx)
		defer cancel()
		t := time.AfterFunc(probeAfter, func() {
			a, d := m.probeVIP(pctx, r)
			early <- probed{a, d}
		})
		defer t.Stop()
		s, err := m.Remote.Connect(ctx, orig)
		if err == nil {
			t.Stop()
			cancel()
			m.forget(*r.Orig, r.VIP)
			defer s.Close()
			if err := m.remove(ctx, s, r, o); err != nil {
				return fmt.Errorf("vip %s: orig master %s: %w", r.Command, r.Orig, err)
			}
			return nil
		}
		var p probed
		if t.Stop() {
			// The dial failed before the probe started: probe now.
			p.answered, p.detail = m.probeVIP(ctx, r)
		} else {
			select {
			case p = <-early:
			case <-ctx.Done():
				return fmt.Errorf("vip stop: orig master %s: %w", r.Orig, ctx.Err())
			}
		}
		return m.remember(r, m.unreachableAfter(r, o, "vip stop", err, p.answered, p.detail))
	}
	s, err := m.Remote.Connect(ctx, orig)
	if err != nil {
		return m.remember(r, m.unreachable(ctx, r, o, "vip "+r.Command, err))
	}
	m.forget(*r.Orig, r.VIP)
	defer s.Close()
	if err := m.remove(ctx, s, r, o); err != nil {
		return fmt.Errorf("vip %s: orig master %s: %w", r.Command, r.Orig, err)
	}
	return nil
}

// probeAfter is how long stop's dial may take before the address probe
// starts beside it.
const probeAfter = 100 * time.Millisecond

func (m *Mover) start(ctx context.Context, r Request, o *Outcome) error {
	ns, err := m.Remote.Connect(ctx, *r.New)
	if err != nil {
		return fmt.Errorf("vip start: new master %s: %w", r.New, err)
	}
	defer ns.Close()
	onNew, err := m.held(ctx, ns, r)
	if err != nil {
		return fmt.Errorf("vip start: new master %s: %w", r.New, err)
	}

	if r.Orig != nil && r.Orig.IP != r.New.IP {
		var osess Session
		err := error(nil)
		was, ago := m.wasUnreachable(*r.Orig, r.VIP)
		if was {
			err = fmt.Errorf("not dialled again: stop found it unreachable %s ago", ago.Round(time.Millisecond))
		} else {
			osess, err = m.Remote.Connect(ctx, *r.Orig)
		}
		if err != nil && was && onNew == "" {
			// The stop got this far only because its probe of the address
			// found nothing answering (an answer fails the stop): not
			// probed again seconds later.
			if err := m.unreachableAfter(r, o, "vip start", err, false, "not probed again: the stop's probe found nothing answering"); err != nil {
				return err
			}
		} else if err != nil {
			if onNew != "" {
				// The probe would only hear the new master answer.
				o.warn("cannot reach orig master %s to check it lost %s (%v); the new master already holds it", r.Orig, r.VIP.Addr(), err)
			} else if err := m.unreachable(ctx, r, o, "vip start", err); err != nil {
				return err
			}
		} else {
			err := m.remove(ctx, osess, r, o)
			osess.Close()
			if err != nil {
				return fmt.Errorf("vip start: orig master %s: %w", r.Orig, err)
			}
		}
	}

	if onNew != "" {
		o.note("%s is already on %s of new master %s", onNew, r.Interface, r.New)
	} else {
		if _, err := m.run(ctx, ns, "ip", "addr", "add", r.VIP.String(), "dev", r.Interface); err != nil {
			return fmt.Errorf("vip start: new master %s: add %s: %w", r.New, r.VIP, err)
		}
		held, err := m.held(ctx, ns, r)
		if err != nil {
			return fmt.Errorf("vip start: new master %s: %w", r.New, err)
		}
		if held == "" {
			return fmt.Errorf("vip start: new master %s: %w: %s missing from %s after ip addr add", r.New, ErrNotMoved, r.VIP, r.Interface)
		}
		o.note("added %s to %s on new master %s", r.VIP, r.Interface, r.New)
	}

	if tools := r.ARPTools(); len(tools) > 0 {
		n := r.ArpingCount
		if n <= 0 {
			n = 3
		}
		if o.Unverified {
			// The old host may answer ARP for the address again as
			// soon as its link is back; keep telling the neighbours
			// where it is for longer.
			n = max(n, UnverifiedArpingCount)
		}
		m.announce(ctx, ns, r, tools, n, o)
	}
	return nil
}

// announce sends n gratuitous ARP announcements for the VIP from the new
// master with the first of tools that works. The first announcement is
// sent before the hook returns (writes are enabled right after it); the
// tools wait a second between announcements, so the others follow in the
// background on the host instead of delaying the failover by n-1 seconds.
// A failure is a warning: neighbours still learn the new address when
// their ARP entries expire.
func (m *Mover) announce(ctx context.Context, ns Session, r Request, tools []ARPTool, n int, o *Outcome) {
	addr := r.VIP.Addr()
	var why []string
	for _, t := range tools {
		out, err := m.run(ctx, ns, t.Argv(r.Interface, addr, 1)...)
		v, reason := t.Judge(out, err)
		if v != ARPDone {
			why = append(why, t.String()+": "+reason)
			continue
		}
		if len(why) > 0 {
			o.note("gratuitous ARP on new master %s: %s", r.New, strings.Join(why, "; "))
		}
		if n > 1 {
			// In the background the exit status is lost anyway; only
			// starting it can fail.
			bg := sshexec.Join(t.Argv(r.Interface, addr, n-1))
			if _, err := m.run(ctx, ns, "sh", "-c", "(sleep 1; "+bg+") >/dev/null 2>&1 </dev/null &"); err != nil {
				o.warn("sent 1 gratuitous ARP announcement for %s from new master %s with %s; starting the other %d failed (neighbours learn the new address when their ARP entries expire): %v", addr, r.New, t, n-1, err)
				return
			}
		}
		o.note("sent %d gratuitous ARP announcements for %s from new master %s with %s", n, addr, r.New, t)
		return
	}
	o.warn("gratuitous ARP for %s on new master %s failed (neighbours learn the new address when their ARP entries expire): %s", addr, r.New, strings.Join(why, "; "))
}

// unreachable decides what an SSH failure to the orig master means: fine
// (with a warning) when the address does not answer, ErrStillAnswers when
// it does.
func (m *Mover) unreachable(ctx context.Context, r Request, o *Outcome, step string, sshErr error) error {
	answered, detail := m.probeVIP(ctx, r)
	return m.unreachableAfter(r, o, step, sshErr, answered, detail)
}

// probeVIP probes the address on the orig master's MySQL port.
func (m *Mover) probeVIP(ctx context.Context, r Request) (bool, string) {
	probe := m.Probe
	if probe == nil {
		probe = TCPProbe(DefaultProbeTimeout)
	}
	return probe(ctx, r.VIP.Addr(), origPort(r))
}

func origPort(r Request) int {
	if r.Orig.Port == 0 {
		return 3306
	}
	return r.Orig.Port
}

// unreachableAfter decides, from the probe's answer, what an orig master
// that SSH could not reach means (see unreachable).
func (m *Mover) unreachableAfter(r Request, o *Outcome, step string, sshErr error, answered bool, detail string) error {
	port := origPort(r)
	if answered {
		return fmt.Errorf("%s: orig master %s: %w: cannot reach it over SSH (%v) and %s still answers (%s); remove the address by hand or power the host off",
			step, r.Orig, ErrStillAnswers, sshErr, netip.AddrPortFrom(r.VIP.Addr(), uint16(port)), detail)
	}
	// Silence proves nothing about a host that cannot be reached: with its
	// cable pulled it keeps the address configured, and answers on it again
	// once the link is back.
	o.Unverified = true
	o.warn("cannot reach orig master %s over SSH (%v); %s does not answer from here (%s): not verified: %s is unreachable and may still hold %s; fence it (shutdown_script, lease) and remove the address there when it is back",
		r.Orig, sshErr, netip.AddrPortFrom(r.VIP.Addr(), uint16(port)), detail, r.Orig.Name, r.VIP.Addr())
	return nil
}

// ARPArgv is the argv that sends count gratuitous ARP packets (unsolicited
// ARP requests, -U) for addr from interface dev with program arping. Both
// flavours (iputils, Thomas Habets') read it the same way; Habets' arping
// documents -i for the interface and takes -I as a synonym.
func ARPArgv(arping, dev string, addr netip.Addr, count int) []string {
	return []string{arping, "-U", "-c", strconv.Itoa(count), "-I", dev, addr.String()}
}

// arpingTransmitted matches the packet count in arping's summary:
// "1 packets transmitted" (Thomas Habets' arping) or "Sent 1 probes"
// (iputils).
var arpingTransmitted = regexp.MustCompile(`(\d+) packets transmitted|Sent (\d+) probe`)

// ARPSent reads how an [ARPArgv] run ended: whether the announcement went
// out, and if not, why. err is the run's error (nil for exit 0), out its
// standard output. Exit 0 is sent. Thomas Habets' arping exits 1 when no
// reply came, which is the normal outcome of -U (nobody answers an
// announcement); its output then still says how many packets were
// transmitted, and at least one means sent. Any other failure (exit 1
// without such a line: a usage error, no such device; 127: not installed;
// a lost session) is not.
func ARPSent(out string, err error) (bool, string) {
	if err == nil {
		return true, ""
	}
	var ee *sshexec.ExitError
	if !errors.As(err, &ee) || ee.Code != 1 || ee.Signal != "" {
		return false, err.Error()
	}
	for _, m := range arpingTransmitted.FindAllStringSubmatch(out, -1) {
		for _, g := range m[1:] {
			if n, perr := strconv.Atoi(g); perr == nil && n > 0 {
				return true, ""
			}
		}
	}
	return false, err.Error()
}

// remove deletes the address from the host when it holds it and checks
// that it is gone.
func (m *Mover) remove(ctx context.Context, s Session, r Request, o *Outcome) error {
	held, err := m.held(ctx, s, r)
	if err != nil {
		return err
	}
	if held == "" {
		o.note("%s is not on %s of orig master %s", r.VIP, r.Interface, r.Orig)
		return nil
	}
	if _, err := m.run(ctx, s, "ip", "addr", "del", held, "dev", r.Interface); err != nil {
		// Removed by someone else meanwhile: EADDRNOTAVAIL.
		if !strings.Contains(err.Error(), "Cannot assign requested address") {
			return fmt.Errorf("delete %s: %w", held, err)
		}
	}
	again, err := m.held(ctx, s, r)
	if err != nil {
		return err
	}
	if again != "" {
		return fmt.Errorf("%w: %s still on %s after ip addr del", ErrNotMoved, again, r.Interface)
	}
	o.note("deleted %s from %s on orig master %s", held, r.Interface, r.Orig)
	return nil
}

// held returns the address as configured on the interface ("a.b.c.d/nn")
// when the host holds the VIP (whatever its prefix length), "" otherwise.
func (m *Mover) held(ctx context.Context, s Session, r Request) (string, error) {
	out, err := m.run(ctx, s, "ip", "-o", "addr", "show", "dev", r.Interface)
	if err != nil {
		return "", fmt.Errorf("list addresses of %s: %w", r.Interface, err)
	}
	return FindAddr(out, r.VIP.Addr()), nil
}

func (m *Mover) run(ctx context.Context, s Session, argv ...string) (string, error) {
	d := m.StepTimeout
	if d <= 0 {
		d = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return s.Run(ctx, argv)
}

// FindAddr looks for addr in the output of `ip -o addr show` and returns it
// as listed ("198.18.7.100/24"), or "" when it is not there.
func FindAddr(ipOutput string, addr netip.Addr) string {
	for _, line := range strings.Split(ipOutput, "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] != "inet" && f[i] != "inet6" {
				continue
			}
			p, err := netip.ParsePrefix(f[i+1])
			if err == nil && p.Addr() == addr {
				return f[i+1]
			}
		}
	}
	return ""
}

// TCPProbe returns a Probe that opens a TCP connection to addr:port with the
// given timeout. An accepted connection or a refusal (TCP reset) both mean
// some host holds the address; a timeout or "no route to host" (nobody
// answered ARP) mean nobody does. This works without privileges (unlike
// ICMP ping) and sees a host whose mysqld is dead but whose address is
// still up.
func TCPProbe(timeout time.Duration) Probe {
	return func(ctx context.Context, addr netip.Addr, port int) (bool, string) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(addr, uint16(port)).String())
		if err == nil {
			c.Close()
			return true, "connection accepted"
		}
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return true, "connection refused"
		case errors.Is(err, syscall.EHOSTUNREACH):
			return false, "no route to host"
		case ctx.Err() != nil:
			return false, "no answer within " + timeout.String()
		}
		// Anything else (no route at all, network down) is not an answer.
		return false, err.Error()
	}
}
