// Package keepalived is the logic behind `mha hook keepalived`: gomha's
// built-in master_ip_failover_script and master_ip_online_change_script for
// sites where keepalived owns the write VIP.
//
// keepalived moves the address (its VRRP advertisements, its gratuitous
// ARP); gomha decides who may have it. The link between the two is the
// check keepalived runs on every candidate master (`mha-node
// keepalived-check` in a vrrp_script with weight 0, see
// configs/keepalived-master.conf), which passes only on the host gomha made
// the writable master, and the mark file the hook writes over SSH in the
// host's remote_workdir (node/keepalived.MarkPath):
//
//   - stop, stopssh: mark the orig master fenced. Its check fails at its
//     next run whatever its mysqld says, its instance goes to FAULT and
//     gives the VIP up. When its host does not answer SSH the mark cannot
//     be written: the hook proceeds with a warning (exit 10), as the SSH VIP
//     hook does; such a host keeps the address only while it is cut off,
//     and the fencing watchdog (fence_lease) demotes it there, which fails
//     its check too.
//   - start: mark the orig master fenced when it answers SSH (a rollback
//     calls start alone), and the new master promoted (its stopped channel to the dead
//     master does not count, and its read_only is tolerated for
//     node/keepalived.PromotedGrace, since the manager opens writes only
//     after this hook), then wait, within a bound, until the VIP is on the
//     new master and on no other host: `ip -o addr show` over SSH on the
//     new master and on the orig master when it answers, and, when the
//     manager has an interface on the same network, an ARP probe from the
//     manager that every answer for the address comes from the new
//     master's MAC.
//   - status: the orig master answers SSH and has mha-node; says where the
//     VIP is.
//
// The old master's mark is also written by the manager's fencing Watch when
// the host answers again (it runs --command=stop), so a master whose cable
// was pulled never takes the VIP back by VRRP priority once it is back.
package keepalived

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/hooks/vip"
	"github.com/gomha/gomha/manager/nodeinstall"
	"github.com/gomha/gomha/manager/sshexec"
)

// DefaultWait bounds start's wait for the VIP when the request sets none:
// keepalived moves it within a check interval (1 s) plus its advertisement
// timeout (3 × advert_int + skew, 3.6 s with advert_int 1) of the new
// master's check passing, and later when the old master still advertises
// until its own check has failed `fall` times.
const DefaultWait = 20 * time.Second

// DefaultPoll is how often start looks for the VIP.
const DefaultPoll = 100 * time.Millisecond

// ErrRequest reports a request that cannot be carried out as given.
var ErrRequest = errors.New("keepalived hook: invalid request")

// ErrNotMoved reports that the VIP did not end up on the new master alone
// within the wait.
var ErrNotMoved = errors.New("keepalived hook: the VIP did not move")

// Request is one hook invocation.
type Request struct {
	// Command is status, stop, stopssh or start.
	Command string
	// VIP is the write VIP keepalived moves; start waits for it. Without
	// it start only marks the new master.
	VIP netip.Prefix
	// Interface is the device that carries the VIP on the hosts; "" looks
	// on every device.
	Interface string
	// Orig and New are MHA's orig and new master.
	Orig, New *vip.Host
	// Workdir is the hosts' remote_workdir, where the mark file is and
	// where the manager installs mha-node (nodeinstall.RemotePath).
	Workdir string
	// Workdirs are per-host exceptions to Workdir, by host name or IP
	// (remote_workdir set in a [serverN] block).
	Workdirs map[string]string
	// NodeTools are further paths where mha-node may be on a host, tried
	// in order after the one in its remote_workdir.
	NodeTools []string
	// Wait bounds start's wait for the VIP; 0 means DefaultWait.
	Wait time.Duration
	// Reason is written into the marks (shown by the check).
	Reason string
}

// Validate checks a request before anything runs.
func (r Request) Validate() error {
	switch r.Command {
	case vip.CommandStatus, vip.CommandStop, vip.CommandStopSSH:
		if r.Orig == nil {
			return fmt.Errorf("%w: --command=%s needs --orig_master_host/--orig_master_ip", ErrRequest, r.Command)
		}
	case vip.CommandStart:
		if r.New == nil {
			return fmt.Errorf("%w: --command=start needs --new_master_host/--new_master_ip", ErrRequest)
		}
	case "":
		return fmt.Errorf("%w: --command=status|stop|stopssh|start is required", ErrRequest)
	default:
		return fmt.Errorf("%w: unknown --command=%s (want status, stop, stopssh or start)", ErrRequest, r.Command)
	}
	if !strings.HasPrefix(r.Workdir, "/") {
		return fmt.Errorf("%w: --remote_workdir=%q: want an absolute path", ErrRequest, r.Workdir)
	}
	for h, d := range r.Workdirs {
		if !strings.HasPrefix(d, "/") {
			return fmt.Errorf("%w: remote_workdir of %s %q: want an absolute path", ErrRequest, h, d)
		}
	}
	for _, h := range []*vip.Host{r.Orig, r.New} {
		if h != nil && h.Port <= 0 {
			return fmt.Errorf("%w: %s has no MySQL port (--orig_master_port/--new_master_port): the mark file is per port", ErrRequest, h)
		}
	}
	return nil
}

// Neighbours asks the network, from where the hook runs, which hardware
// addresses answer ARP for addr (an ARP probe listened out to its end).
type Neighbours func(ctx context.Context, addr netip.Addr) ([]net.HardwareAddr, error)

// Keeper carries out requests.
type Keeper struct {
	// Remote reaches the hosts.
	Remote vip.Remote
	// ARP, when set, is asked who answers for the VIP before start
	// succeeds; nil skips that check (the manager has no interface on the
	// hosts' network).
	ARP Neighbours
	// Memo carries stop's finding that the orig master did not answer SSH
	// to the start that follows, which then does not dial it again.
	Memo vip.Memo
	// Poll is the interval of start's look for the VIP; 0 means
	// DefaultPoll.
	Poll time.Duration
	// StepTimeout bounds each remote command; 0 means 10 seconds.
	StepTimeout time.Duration
}

// Outcome is what a request did: vip.Outcome's lines and warning flag.
type Outcome = vip.Outcome

func note(o *Outcome, format string, args ...any) {
	o.Lines = append(o.Lines, fmt.Sprintf(format, args...))
}

func warn(o *Outcome, format string, args ...any) {
	o.Warned = true
	o.Lines = append(o.Lines, "warning: "+fmt.Sprintf(format, args...))
}

// Do carries out the request.
func (k *Keeper) Do(ctx context.Context, r Request) (Outcome, error) {
	var o Outcome
	if err := r.Validate(); err != nil {
		return o, err
	}
	var err error
	switch r.Command {
	case vip.CommandStatus:
		err = k.status(ctx, r, &o)
	case vip.CommandStop, vip.CommandStopSSH:
		err = k.stop(ctx, r, &o)
	case vip.CommandStart:
		err = k.start(ctx, r, &o)
	}
	return o, err
}

func (k *Keeper) status(ctx context.Context, r Request, o *Outcome) error {
	s, err := k.Remote.Connect(ctx, *r.Orig)
	if err != nil {
		return fmt.Errorf("keepalived status: orig master %s: %w", r.Orig, err)
	}
	defer s.Close()
	tool, ver, err := k.findTool(ctx, s, r, *r.Orig)
	if err != nil {
		return fmt.Errorf("keepalived status: orig master %s: %w", r.Orig, err)
	}
	note(o, "mha-node on orig master %s: %s (%s)", r.Orig, tool, ver)
	if r.VIP.IsValid() {
		held, err := k.holds(ctx, s, r)
		if err != nil {
			return fmt.Errorf("keepalived status: orig master %s: %w", r.Orig, err)
		}
		if held {
			note(o, "%s is on orig master %s", r.VIP.Addr(), r.Orig)
		} else {
			note(o, "%s is not on orig master %s (keepalived gives it to the host whose check passes)", r.VIP.Addr(), r.Orig)
		}
	}
	return nil
}

func (k *Keeper) stop(ctx context.Context, r Request, o *Outcome) error {
	orig := *r.Orig
	if r.Command == vip.CommandStop {
		// stop (not stopssh) means the failover found SSH to the orig
		// master down: do not spend a full connect timeout on it.
		orig = orig.ShortConnect()
	}
	s, err := k.Remote.Connect(ctx, orig)
	if err != nil {
		if k.Memo != nil && r.VIP.IsValid() {
			k.Memo.Unreachable(*r.Orig, r.VIP)
		}
		warn(o, "orig master %s does not answer SSH (%v): its keepalived could not be told to give the VIP up; "+
			"it keeps the address only while it is cut off and its check passes there (fence_lease makes its watchdog demote it, which fails the check)", r.Orig, err)
		return nil
	}
	defer s.Close()
	if k.Memo != nil && r.VIP.IsValid() {
		k.Memo.WasUnreachable(*r.Orig, r.VIP) // it answers now: forget an older finding
	}
	if err := k.mark(ctx, s, r, *r.Orig, "fenced"); err != nil {
		return fmt.Errorf("keepalived stop: orig master %s: %w", r.Orig, err)
	}
	note(o, "orig master %s marked fenced: its keepalived check fails from its next run and its instance gives the VIP up", r.Orig)
	return nil
}

func (k *Keeper) start(ctx context.Context, r Request, o *Outcome) error {
	started := time.Now()
	ns, err := k.Remote.Connect(ctx, *r.New)
	if err != nil {
		return fmt.Errorf("keepalived start: new master %s: %w", r.New, err)
	}
	defer ns.Close()
	var osess vip.Session
	if r.Orig != nil && !sameHost(*r.Orig, *r.New) {
		osess = k.origSession(ctx, r, o)
		if osess != nil {
			defer osess.Close()
			// The orig master must not keep (or win back) the VIP: a stop
			// may not have run (a rollback calls start alone), or its
			// host was unreachable then.
			if err := k.mark(ctx, osess, r, *r.Orig, "fenced"); err != nil {
				warn(o, "orig master %s: %v", r.Orig, err)
			} else {
				note(o, "orig master %s marked fenced", r.Orig)
			}
		}
	}
	if err := k.mark(ctx, ns, r, *r.New, "promoted"); err != nil {
		return fmt.Errorf("keepalived start: new master %s: %w", r.New, err)
	}
	note(o, "new master %s marked promoted: its keepalived check passes once its mysqld replicates from nobody", r.New)
	if !r.VIP.IsValid() {
		note(o, "no --vip: not waiting for keepalived to move the address")
		return nil
	}
	var newMAC net.HardwareAddr
	if k.ARP != nil {
		if newMAC, err = k.mac(ctx, ns, r); err != nil {
			warn(o, "new master %s: %v: the ARP check from the manager is skipped", r.New, err)
		}
	}
	wait := r.Wait
	if wait <= 0 {
		wait = DefaultWait
	}
	poll := k.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	last := "not looked yet"
	for {
		ok, why, err := k.placed(wctx, r, ns, osess, newMAC)
		if err == nil && ok {
			note(o, "%s is on new master %s and on no other host (%s after the start began)", r.VIP.Addr(), r.New, time.Since(started).Round(time.Millisecond))
			return nil
		}
		switch {
		case err != nil && wctx.Err() == nil:
			last = err.Error()
		case err == nil:
			last = why
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("keepalived start: %w", ctx.Err())
			}
			return fmt.Errorf("%w: %s not on new master %s alone within %s: %s (run mha-node keepalived-check there to see why its check fails)", ErrNotMoved, r.VIP.Addr(), r.New, wait, last)
		case <-time.After(poll):
		}
	}
}

// origSession connects to the orig master for start's check, unless stop
// found it unreachable moments ago. nil when it cannot be checked.
func (k *Keeper) origSession(ctx context.Context, r Request, o *Outcome) vip.Session {
	if k.Memo != nil {
		if was, ago := k.Memo.WasUnreachable(*r.Orig, r.VIP); was {
			note(o, "orig master %s not checked: it did not answer SSH %s ago", r.Orig, ago.Round(time.Millisecond))
			return nil
		}
	}
	orig := *r.Orig
	s, err := k.Remote.Connect(ctx, orig.ShortConnect())
	if err != nil {
		note(o, "orig master %s not checked: %v", r.Orig, err)
		return nil
	}
	return s
}

// placed reports whether the VIP is on the new master and nowhere else
// that can be seen, and why not.
func (k *Keeper) placed(ctx context.Context, r Request, ns, osess vip.Session, newMAC net.HardwareAddr) (bool, string, error) {
	on, err := k.holds(ctx, ns, r)
	if err != nil {
		return false, "", fmt.Errorf("new master %s: %w", r.New, err)
	}
	if !on {
		return false, "not yet on the new master", nil
	}
	if osess != nil {
		held, err := k.holds(ctx, osess, r)
		if err != nil {
			return false, "", fmt.Errorf("orig master %s: %w", r.Orig, err)
		}
		if held {
			return false, "still on the orig master " + r.Orig.String(), nil
		}
	}
	if k.ARP != nil && newMAC != nil {
		macs, err := k.ARP(ctx, r.VIP.Addr())
		if err != nil {
			return false, "", fmt.Errorf("ARP probe from the manager: %w", err)
		}
		if why := OnlyFrom(macs, newMAC); why != "" {
			return false, why, nil
		}
	}
	return true, "", nil
}

// OnlyFrom says why an ARP probe's answers do not prove the address is on
// the host with MAC want alone ("" when they do).
func OnlyFrom(macs []net.HardwareAddr, want net.HardwareAddr) string {
	var others []string
	seen := false
	for _, m := range macs {
		if strings.EqualFold(m.String(), want.String()) {
			seen = true
			continue
		}
		others = append(others, m.String())
	}
	switch {
	case len(others) > 0:
		return "ARP answers from " + strings.Join(others, ", ") + " too (not the new master's " + want.String() + ")"
	case !seen:
		return "no ARP answer for it yet from the new master's " + want.String()
	}
	return ""
}

func sameHost(a, b vip.Host) bool { return a.IP == b.IP && a.Port == b.Port }

// mark writes the mark file on h with the first mha-node that runs.
func (k *Keeper) mark(ctx context.Context, s vip.Session, r Request, h vip.Host, kind string) error {
	reason := r.Reason
	if reason == "" {
		reason = "gomha hook --command=" + r.Command
	}
	var errs []error
	for _, tool := range r.tools(h) {
		argv := []string{tool, "keepalived-check", "--workdir=" + r.workdir(h), "--port=" + strconv.Itoa(h.Port), "--mark=" + kind, "--reason=" + reason}
		_, err := k.run(ctx, s, argv...)
		if err == nil {
			return nil
		}
		if missing(err) {
			errs = append(errs, fmt.Errorf("%s: not installed", tool))
			continue
		}
		return fmt.Errorf("mark %s with %s: %w", kind, tool, err)
	}
	return fmt.Errorf("mark %s: no mha-node: %w", kind, errors.Join(errs...))
}

// findTool returns the first mha-node that answers --version, and its
// answer.
func (k *Keeper) findTool(ctx context.Context, s vip.Session, r Request, h vip.Host) (string, string, error) {
	var errs []error
	for _, tool := range r.tools(h) {
		out, err := k.run(ctx, s, tool, "--version")
		if err == nil {
			return tool, strings.TrimSpace(out), nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", tool, err))
	}
	return "", "", fmt.Errorf("no mha-node: %w", errors.Join(errs...))
}

// workdir is h's remote_workdir.
func (r Request) workdir(h vip.Host) string {
	for _, k := range []string{h.Name, h.IP} {
		if d, ok := r.Workdirs[k]; ok && k != "" {
			return d
		}
	}
	return r.Workdir
}

// tools lists where mha-node may be on h, in the order tried.
func (r Request) tools(h vip.Host) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range append([]string{nodeinstall.RemotePath(r.workdir(h))}, r.NodeTools...) {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

func missing(err error) bool {
	var ee *sshexec.ExitError
	return errors.As(err, &ee) && ee.Signal == "" && (ee.Code == 127 || ee.Code == 126)
}

// holds reports whether the session's host carries the VIP.
func (k *Keeper) holds(ctx context.Context, s vip.Session, r Request) (bool, error) {
	argv := []string{"ip", "-o", "addr", "show"}
	if r.Interface != "" {
		argv = append(argv, "dev", r.Interface)
	}
	out, err := k.run(ctx, s, argv...)
	if err != nil {
		return false, fmt.Errorf("list addresses: %w", err)
	}
	return vip.FindAddr(out, r.VIP.Addr()) != "", nil
}

// mac reads the hardware address of the device that carries (or will
// carry) the VIP on the session's host.
func (k *Keeper) mac(ctx context.Context, s vip.Session, r Request) (net.HardwareAddr, error) {
	dev := r.Interface
	if dev == "" {
		return nil, errors.New("no --interface to read the new master's MAC from")
	}
	out, err := k.run(ctx, s, "cat", "/sys/class/net/"+dev+"/address")
	if err != nil {
		return nil, fmt.Errorf("read the MAC of %s: %w", dev, err)
	}
	m, err := net.ParseMAC(strings.TrimSpace(out))
	if err != nil {
		return nil, fmt.Errorf("MAC of %s: %w", dev, err)
	}
	return m, nil
}

func (k *Keeper) run(ctx context.Context, s vip.Session, argv ...string) (string, error) {
	d := k.StepTimeout
	if d <= 0 {
		d = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return s.Run(ctx, argv)
}

// Unfenced reports why a master whose master_ip_failover_script is script
// would be left able to take the VIP back through keepalived after a pulled
// cable ("" when it would not): the script is this hook (`hook
// keepalived`), the master has neither fence_lease nor shutdown_script, and
// the hook was not given --allow_unfenced. Such a master cannot be marked
// fenced while it is cut off, its check still passes there (writable, no
// replication), and when its link returns VRRP lets the higher priority
// win between two MASTER instances: writes would reach it again before the
// manager's watch fences it.
func Unfenced(script string, fenceLease time.Duration, shutdownScript string) string {
	argv, err := hooks.SplitCommand(script)
	if err != nil || fenceLease > 0 || strings.TrimSpace(shutdownScript) != "" {
		return ""
	}
	isHook := false
	for i := 0; i+1 < len(argv); i++ {
		if argv[i] == "hook" && argv[i+1] == "keepalived" {
			isHook = true
		}
	}
	if !isHook {
		return ""
	}
	for _, a := range argv {
		if a == "--allow_unfenced" || a == "--allow_unfenced=true" || a == "--allow_unfenced=1" {
			return ""
		}
	}
	return "master_ip_failover_script is the keepalived hook, but neither fence_lease nor shutdown_script fences a master whose cable is pulled: " +
		"it cannot be marked fenced while cut off, and when its link returns its keepalived can take the VIP back by VRRP priority. " +
		"Set fence_lease=SECONDS (its watchdog demotes it, which fails its check), a shutdown_script, or pass --allow_unfenced to the hook to accept the risk"
}
