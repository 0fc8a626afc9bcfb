// Package lease is the manager's side of the fencing lease (fence_lease):
// it runs `mha-node watchdog` on the master's host, which demotes its own
// mysqld when the host has lost both the manager and every replica for
// longer than the lease (see node/watchdog), and it tells the failover
// when an unreachable old master has surely demoted itself.
//
// The policy for an old master the manager cannot reach, neither over
// MySQL nor SSH, with fence_lease set and no shutdown_script: promote only
// after Terms.ExpiredAt(lastContact), where lastContact is the moment the
// master's failure was confirmed (see Terms.ExpiredAt) and the Terms are
// the ones the watchdog reported (Status.Terms: its demotion budget). The
// guarantee holds only while the watchdog runs and can demote: Ensure
// starts it and checks it is healthy and able to stop its mysqld (the last
// resort for a server that does not answer SQL) before monitoring starts,
// Verify checks it again on demand.
//
// The guarantee also assumes the isolation lasted: a master whose link
// comes back before its lease ran out counts the replicas as contact again
// and does not demote. So after Wait, the failover must still try the
// reachable path (the master answers again: fence it over MySQL or SSH)
// before it promotes.
package lease

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/nodeinstall"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/node/watchdog"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrOff reports a master whose fence_lease is 0.
	ErrOff = errors.New("fence_lease is 0 (off)")
	// ErrUnhealthy reports a watchdog that does not run or does not hold
	// the lease (demoted, stalled, exited at start).
	ErrUnhealthy = errors.New("watchdog not healthy")
	// ErrCannotDemote reports a watchdog that runs and holds the lease but
	// said at start that it cannot stop its mysqld (not root nor mysqld's
	// uid, a systemd unit it may not stop, mysqld not found): a server
	// that does not answer SQL would not be demoted, so its lease is not
	// counted on.
	ErrCannotDemote = errors.New("watchdog cannot demote")
)

// ClockDrift is the share of the lease added to the margin for the rate
// difference between the manager's and the master's monotonic clocks
// (crystals drift by well under 0.01 %; 1 % is generous).
const ClockDrift = 100 // lease / ClockDrift

// Terms are what the manager counts on from one watchdog: the lease, and
// the demotion budget the watchdog reported in its state file.
type Terms struct {
	// Lease is the master's fence_lease.
	Lease time.Duration
	// DemoteBudget is the watchdog's reported budget; 0 (a watchdog that
	// predates the report, or no report at all) means the compiled
	// watchdog.DemoteBudget.
	DemoteBudget time.Duration
}

// TermsFor returns the terms of a lease without a watchdog's report: the
// compiled demotion budget.
func TermsFor(lease time.Duration) Terms { return Terms{Lease: lease} }

// budget is the demotion budget counted in the margin.
func (t Terms) budget() time.Duration {
	if t.DemoteBudget > 0 {
		return t.DemoteBudget
	}
	return watchdog.DemoteBudget
}

// Margin is what ExpiredAt adds to the lease: the watchdog notices the
// silence at its first tick after the lease (at most one tick late), after
// that tick's fact gathering (one probe deadline), then demotes (at most
// its demotion budget, as it reported it); plus lease/ClockDrift for the
// two clocks.
func (t Terms) Margin() time.Duration {
	tick := watchdog.Tick(t.Lease)
	return tick + watchdog.ProbeTimeout(tick) + t.budget() + t.Lease/ClockDrift
}

// ExpiredAt returns the moment after which a healthy watchdog on an
// isolated master has surely demoted it: lastContact + lease + Margin.
// (The watchdog's tick is a function of the lease, watchdog.Tick, so it is
// not a parameter.)
//
// lastContact must be the latest moment the master could still have been
// in contact with the manager or with a replica; use the moment the failure
// was confirmed (detect.Verdict.DetectedAt), or, for a manual dead-master
// switch, the moment the switch found the master unreachable. Two earlier
// candidates are wrong:
//   - the manager's last successful ping: a later ping that failed may still
//     have reached the server, and only its reply been lost; the watchdog
//     then dates its lease from that statement;
//   - the manager's last ping attempt of any kind: the watchdog also counts
//     a replica's greeting as contact, and the replicas may have reached
//     the master after the manager lost it. The confirmation, which found
//     the master unreachable from the replicas' hosts too, comes after both.
//
// Pass a time.Time from time.Now(): its monotonic reading makes the result
// immune to wall-clock steps for Wait.
func (t Terms) ExpiredAt(lastContact time.Time) time.Time {
	return lastContact.Add(t.Lease + t.Margin())
}

// Wait blocks until ExpiredAt(lastContact), or until ctx ends (then it
// returns ctx's error).
func (t Terms) Wait(ctx context.Context, lastContact time.Time) error {
	d := time.Until(t.ExpiredAt(lastContact))
	if d <= 0 {
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("lease: waiting for the old master's lease to run out: %w", ctx.Err())
	}
}

// Margin is TermsFor(lease).Margin(): the compiled demotion budget. Use
// Status.Terms where the watchdog's report is at hand.
func Margin(lease time.Duration) time.Duration { return TermsFor(lease).Margin() }

// ExpiredAt is TermsFor(lease).ExpiredAt(lastContact): the compiled
// demotion budget. Use Status.Terms where the watchdog's report is at hand.
func ExpiredAt(lastContact time.Time, lease time.Duration) time.Time {
	return TermsFor(lease).ExpiredAt(lastContact)
}

// Wait is TermsFor(lease).Wait(ctx, lastContact).
func Wait(ctx context.Context, lastContact time.Time, lease time.Duration) error {
	return TermsFor(lease).Wait(ctx, lastContact)
}

// Target says where to run the watchdog and what it watches.
type Target struct {
	// Config is the cluster's configuration (for error messages).
	Config *config.Config
	// Master is the server whose host runs the watchdog; its fence_lease,
	// user, password, ip, port and remote_workdir are used.
	Master config.Server
	// Peers are the replicas whose MySQL greeting counts as contact.
	Peers []config.Server
	// ManagerHost is the manager's client host as the master shows it in
	// its processlist; "" means ask the master (ManagerHostOf).
	ManagerHost string
	// NodeBinary is the local mha-node executable to install.
	NodeBinary string
	// VIP (ADDRESS/PREFIX) and VIPDev are removed by the watchdog on
	// demotion; "" for none (see VIPFromHook).
	VIP, VIPDev string
}

// Status is the watchdog's health as `mha-node watchdog --status` reports
// it.
type Status struct {
	// Host names the master's host (SSH name).
	Host string
	// ExitCode is --status' exit code: 0 healthy, 1 down, 2 demoted.
	ExitCode int
	watchdog.Health
	// ManagerHost and Peers are what the watchdog was started with (Ensure
	// only).
	ManagerHost string
	Peers       []string
	// Lease is the master's fence_lease.
	Lease time.Duration
}

// Terms returns the terms the watchdog reported: the longer of the
// configured lease and the one it runs with, and its demotion budget (the
// compiled one when it reported none).
func (s *Status) Terms() Terms {
	t := Terms{Lease: s.Lease}
	if s.State != nil {
		t.Lease = max(t.Lease, time.Duration(s.State.LeaseMS)*time.Millisecond)
		if s.State.DemoteBudgetMS > 0 {
			t.DemoteBudget = time.Duration(s.State.DemoteBudgetMS) * time.Millisecond
		}
	}
	return t
}

// CanDemote reports whether the watchdog can be counted on to demote its
// server, and why not: a watchdog that reported it cannot stop its mysqld
// cannot. One that predates the report is counted on (as before it).
func (s *Status) CanDemote() (bool, string) {
	if s.State == nil || s.State.CanKill == nil || *s.State.CanKill {
		return true, ""
	}
	return false, "it cannot stop its mysqld (" + s.State.KillCheck + "): a server that does not answer SQL would stay writable"
}

// Check is the manager's acceptance of a watchdog's status: healthy (it
// runs and holds the lease), else ErrUnhealthy; able to demote, else
// ErrCannotDemote. The error names the host and says why.
func (s *Status) Check() error {
	if !s.OK {
		return fmt.Errorf("lease: watchdog on %s: %w: %s", s.Host, ErrUnhealthy, s.Message)
	}
	if ok, why := s.CanDemote(); !ok {
		return fmt.Errorf("lease: watchdog on %s: %w: %s; the lease is not counted on", s.Host, ErrCannotDemote, why)
	}
	return nil
}

// Ensure starts the watchdog on t.Master's host, replacing one already
// running there, and returns once it reports itself healthy: it installs
// the node tools (nodeinstall.Ensure), writes the local credentials into a
// 0600 option file in remote_workdir (the password travels on the SSH
// session's standard input, never in argv or the log), and runs `mha-node
// watchdog --daemon`, which detaches the daemon (setsid, its own log and
// pid file in remote_workdir) and waits for its first state. A demotion the
// host recorded earlier is sticky: Ensure then fails with ErrUnhealthy
// and the status names it; the operator clears it with `mha-node watchdog
// --clear` after checking the server. A watchdog that reports it cannot
// stop its mysqld fails Ensure with ErrCannotDemote (and the status). Keep
// the status: its Terms are what a later lease wait counts on.
func Ensure(ctx context.Context, t Target, log *slog.Logger) (*Status, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := t.Master
	name := check.SSHName(m)
	if m.FenceLease <= 0 {
		return nil, fmt.Errorf("lease: watchdog on %s: %w", name, ErrOff)
	}
	if t.NodeBinary == "" {
		return nil, fmt.Errorf("lease: watchdog on %s: no node binary to install", name)
	}
	if t.ManagerHost == "" {
		h, err := ManagerHostOf(ctx, t.Config, m)
		if err != nil {
			return nil, fmt.Errorf("lease: watchdog on %s: %w", name, err)
		}
		t.ManagerHost = h
	}
	c, err := dial(ctx, m)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	bin, err := nodeinstall.Ensure(ctx, c, t.NodeBinary, m.RemoteWorkdir)
	if err != nil {
		return nil, fmt.Errorf("lease: install node tools on %s: %w", name, err)
	}
	paths := watchdog.PathsFor(m.RemoteWorkdir, m.Port)
	creds := watchdog.FormatDefaults(watchdog.Client{User: m.User, Password: m.Password, Host: m.IP, Port: m.Port})
	// umask before the file exists: it is never readable by others, not
	// even between its creation and a chmod; noclobber (O_EXCL) after the
	// rm: in a shared remote_workdir such as /var/tmp a planted file or
	// symlink is never written through.
	const writeScript = `umask 077 && rm -f -- "$1.tmp" && set -C && cat > "$1.tmp" && chmod 600 "$1.tmp" && mv -f -- "$1.tmp" "$1"`
	var errOut bytes.Buffer
	if err := c.Stream(ctx, []string{"sh", "-c", writeScript, "sh", paths.Defaults}, bytes.NewReader(creds), nil, &errOut); err != nil {
		return nil, fmt.Errorf("lease: write the watchdog's credentials %s on %s: %w: %s", paths.Defaults, name, err, strings.TrimSpace(errOut.String()))
	}
	var peers []string
	for _, p := range t.Peers {
		peers = append(peers, p.Addr())
	}
	argv := []string{bin, "watchdog", "--daemon", "--json", "--fresh",
		"--workdir=" + m.RemoteWorkdir, "--port=" + strconv.Itoa(m.Port),
		"--defaults_file=" + paths.Defaults,
		"--lease=" + strconv.FormatFloat(m.FenceLease.Seconds(), 'f', -1, 64),
		"--manager_user=" + m.User, "--manager_host=" + t.ManagerHost,
	}
	for _, p := range peers {
		argv = append(argv, "--peer="+p)
	}
	if t.VIP != "" {
		argv = append(argv, "--vip="+t.VIP, "--vip_dev="+t.VIPDev)
	}
	log.Info("starting the fencing watchdog", "host", m.Hostname, "step", "lease", "lease", m.FenceLease,
		"manager_host", t.ManagerHost, "peers", strings.Join(peers, ","), "vip", t.VIP, "workdir", m.RemoteWorkdir)
	st, err := status(ctx, c, m, argv)
	if st != nil {
		st.ManagerHost, st.Peers = t.ManagerHost, peers
	}
	if err != nil {
		return st, err
	}
	log.Info("fencing watchdog running: "+st.Message, "host", m.Hostname, "step", "lease", "log", paths.Log)
	return st, nil
}

// Verify runs `mha-node watchdog --status` on srv's host and returns the
// status; the error wraps ErrUnhealthy unless the watchdog runs and holds
// the lease, ErrCannotDemote when it reported it cannot stop its mysqld.
func Verify(ctx context.Context, srv config.Server) (*Status, error) {
	c, err := dial(ctx, srv)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	bin := nodeinstall.RemotePath(srv.RemoteWorkdir)
	return status(ctx, c, srv, []string{bin, "watchdog", "--status", "--json",
		"--workdir=" + srv.RemoteWorkdir, "--port=" + strconv.Itoa(srv.Port)})
}

// Stop stops the watchdog on srv's host (a master that became a replica in
// an online switch must not keep one). Its state file stays, so a
// demotion it recorded is still sticky for the next watchdog.
func Stop(ctx context.Context, srv config.Server) error {
	return remote(ctx, srv, "stop", "--stop")
}

// Release stops the watchdog on srv's host and clears a demotion it
// recorded (`mha-node watchdog --stop`, then `--clear`; the old state file
// is kept aside). Call it before making srv writable on purpose (promoting
// it in a failover or an online switch): a demoted watchdog there would
// otherwise set read_only=1 again within a tick, and the next Ensure on
// that host would refuse to start.
func Release(ctx context.Context, srv config.Server) error {
	if err := remote(ctx, srv, "stop", "--stop"); err != nil {
		return err
	}
	return remote(ctx, srv, "clear", "--clear")
}

// remote runs `mha-node watchdog <flag>` on srv's host; a host that never
// had the node tools has no watchdog either.
func remote(ctx context.Context, srv config.Server, what, flag string) error {
	c, err := dial(ctx, srv)
	if err != nil {
		return err
	}
	defer c.Close()
	bin := nodeinstall.RemotePath(srv.RemoteWorkdir)
	if _, err := c.Run(ctx, []string{"test", "-x", bin}); err != nil {
		var ee *sshexec.ExitError
		if errors.As(err, &ee) {
			return nil
		}
		return fmt.Errorf("lease: %s the watchdog on %s: %w", what, check.SSHName(srv), err)
	}
	if _, err := c.Run(ctx, []string{bin, "watchdog", flag, "--workdir=" + srv.RemoteWorkdir, "--port=" + strconv.Itoa(srv.Port)}); err != nil {
		return fmt.Errorf("lease: %s the watchdog on %s: %w", what, check.SSHName(srv), err)
	}
	return nil
}

func dial(ctx context.Context, srv config.Server) (*sshexec.Client, error) {
	name := check.SSHName(srv)
	t, err := check.SSHTarget(srv)
	if err != nil {
		return nil, fmt.Errorf("lease: ssh to %s: %w", name, err)
	}
	c, err := sshexec.Dial(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("lease: ssh to %s: %w", name, err)
	}
	return c, nil
}

// status runs a watchdog command that prints --json health and decodes it.
func status(ctx context.Context, c *sshexec.Client, srv config.Server, argv []string) (*Status, error) {
	name := check.SSHName(srv)
	res, err := c.Run(ctx, argv)
	var ee *sshexec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return nil, fmt.Errorf("lease: watchdog on %s: %w", name, err)
	}
	line := strings.TrimSpace(string(res.Stdout))
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	var out struct {
		ExitCode int `json:"exit_code"`
		watchdog.Health
	}
	if jerr := json.Unmarshal([]byte(line), &out); jerr != nil {
		if err == nil {
			err = fmt.Errorf("unreadable answer %q", line)
		}
		return nil, fmt.Errorf("lease: watchdog on %s: %w: %s", name, err, strings.TrimSpace(string(res.Stderr)))
	}
	st := &Status{Host: name, ExitCode: out.ExitCode, Health: out.Health, Lease: srv.FenceLease}
	return st, st.Check()
}

// ManagerHostOf returns the manager's client host as srv sees it: the
// HOST column of the manager's own session in srv's processlist, without
// the port. This is the server's view, the same string the watchdog later
// compares (an IP address, or a name when the server resolves client
// names; right through NAT too), so it is asked of the server rather than
// taken from the local address of a connection.
func ManagerHostOf(ctx context.Context, cfg *config.Config, srv config.Server) (string, error) {
	conn, err := mysqlx.Open(ctx, check.Target(cfg, srv, srv.PingInterval))
	if err != nil {
		return "", fmt.Errorf("ask the master for the manager's address: %w", err)
	}
	defer conn.Close()
	var host string
	if err := conn.QueryRow(ctx, "SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()").Scan(&host); err != nil {
		return "", fmt.Errorf("ask %s for the manager's address: %w", conn.Addr(), err)
	}
	return stripPort(host), nil
}

// stripPort turns a processlist HOST ("198.18.0.1:41234",
// "[fd00::1]:41234") into the host part.
func stripPort(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		if _, err := strconv.Atoi(h[i+1:]); err == nil {
			h = h[:i]
		}
	}
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}

// VIPFromHook returns the VIP and interface of gomha's built-in VIP hook
// when master_ip_failover_script is `... hook vip --vip=ADDR/PREFIX
// --interface=DEV ...`, so that the watchdog gives up the same address the
// hook moves; "", "" for any other script.
func VIPFromHook(script string) (vip, dev string) {
	argv, err := hooks.SplitCommand(script)
	if err != nil {
		return "", ""
	}
	isVIP := false
	for i := 0; i+1 < len(argv); i++ {
		if argv[i] == "hook" && argv[i+1] == "vip" {
			isVIP = true
			break
		}
	}
	if !isVIP {
		return "", ""
	}
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		for _, opt := range []struct {
			name string
			dst  *string
		}{{"--vip", &vip}, {"--interface", &dev}} {
			switch {
			case strings.HasPrefix(a, opt.name+"="):
				*opt.dst = strings.TrimPrefix(a, opt.name+"=")
			case a == opt.name && i+1 < len(argv):
				*opt.dst = argv[i+1]
			}
		}
	}
	if vip == "" || dev == "" {
		return "", ""
	}
	return vip, dev
}
