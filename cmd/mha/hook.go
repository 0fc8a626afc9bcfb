package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gomha/gomha/cmd/internal/mhacli"
	"github.com/gomha/gomha/manager/daemon"
	"github.com/gomha/gomha/manager/hooks/consul"
	"github.com/gomha/gomha/manager/hooks/keepalived"
	"github.com/gomha/gomha/manager/hooks/vip"
	"github.com/gomha/gomha/manager/nodeinstall"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/node/arp"
)

// hookEndpoint is one side (orig_master_ or new_master_) of MHA's hook
// arguments (mha-compat §4.1, §4.5, §4.7).
type hookEndpoint struct {
	host, ip                string
	port                    int
	sshUser, sshHost, sshIP string
	sshPort                 int
	sshOptions              string
	user, password          string // passed by MHA, not used by the built-in hooks
}

// hookArgs are the arguments MHA appends to master_ip_failover_script and
// master_ip_online_change_script, plus --ssh_options, gomha's own option for
// the hosts MHA passes no ssh_options for.
type hookArgs struct {
	command       string
	sshUser       string
	sshOptions    string
	origIsNewRepl bool
	orig, new     hookEndpoint
}

func (e *hookEndpoint) add(fs *pflag.FlagSet, prefix, what string) {
	fs.StringVar(&e.host, prefix+"host", "", what+" host name")
	fs.StringVar(&e.ip, prefix+"ip", "", what+" IP address")
	fs.IntVar(&e.port, prefix+"port", 0, what+" MySQL port")
	fs.StringVar(&e.sshUser, prefix+"ssh_user", "", what+" SSH user")
	fs.StringVar(&e.sshHost, prefix+"ssh_host", "", what+" SSH host")
	fs.StringVar(&e.sshIP, prefix+"ssh_ip", "", what+" SSH address")
	fs.IntVar(&e.sshPort, prefix+"ssh_port", 0, what+" SSH port")
	fs.StringVar(&e.sshOptions, prefix+"ssh_options", "", what+" ssh_options")
	fs.StringVar(&e.user, prefix+"user", "", what+" MySQL user (ignored)")
	fs.StringVar(&e.password, prefix+"password", "", what+" MySQL password (ignored)")
}

func (a *hookArgs) add(fs *pflag.FlagSet) {
	fs.StringVar(&a.command, "command", "", "status, stop, stopssh or start (passed by MHA)")
	fs.StringVar(&a.sshUser, "ssh_user", "", "SSH user of the host the command is about (passed by MHA)")
	fs.BoolVar(&a.origIsNewRepl, "orig_master_is_new_slave", false, "passed by MHA's online switch (ignored)")
	a.orig.add(fs, "orig_master_", "orig master")
	a.new.add(fs, "new_master_", "new master")
}

// given reports whether MHA passed this side at all.
func (e hookEndpoint) given() bool { return e.host != "" || e.ip != "" }

// unquote removes one pair of single quotes around a value: MHA writes
// --orig_master_ssh_options='<options>' for /bin/sh, and a runner that does
// not go through a shell leaves the quotes in.
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return s[1 : len(s)-1]
	}
	return s
}

// vipHost turns one side into a vip.Host. user is the SSH user to fall back
// on (MHA's --ssh_user belongs to different hosts in different calls).
func (e hookEndpoint) vipHost(user, defaultOptions string) (*vip.Host, error) {
	if !e.given() {
		return nil, nil
	}
	h := &vip.Host{Name: e.host, IP: e.ip, Port: e.port}
	if h.Name == "" {
		h.Name = h.IP
	}
	if h.IP == "" {
		h.IP = h.Name
	}
	t := sshexec.Target{Host: firstOf(e.sshIP, e.ip, e.sshHost, e.host), Port: e.sshPort, User: firstOf(e.sshUser, user)}
	raw := unquote(firstOf(e.sshOptions, defaultOptions))
	if raw != "" {
		o, err := sshexec.ParseOptions(raw)
		if err != nil {
			return nil, fmt.Errorf("ssh options for %s: %w", h.Name, err)
		}
		t.Options = o
	}
	h.SSH = t
	return h, nil
}

func (e hookEndpoint) consulHost() *consul.Host {
	if !e.given() {
		return nil
	}
	return &consul.Host{Name: firstOf(e.host, e.ip), IP: firstOf(e.ip, e.host), Port: e.port}
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// vipFlags are `mha hook vip`'s own options.
type vipFlags struct {
	vip, iface, arping string
	arpingCount        int
	timeout            time.Duration
	// nodeARP sends the gratuitous ARP with mha-node in remoteWorkdir
	// when it is on the new master.
	nodeARP       bool
	remoteWorkdir string
}

// vipRequest builds the request from parsed arguments.
func vipRequest(a hookArgs, f vipFlags) (vip.Request, error) {
	r := vip.Request{Command: a.command, Interface: f.iface, Arping: f.arping, ArpingCount: f.arpingCount}
	if f.nodeARP {
		if !path.IsAbs(f.remoteWorkdir) {
			return r, fmt.Errorf("%w: --remote_workdir=%q: want an absolute path", vip.ErrRequest, f.remoteWorkdir)
		}
		r.NodeTools = []string{nodeinstall.RemotePath(f.remoteWorkdir)}
	}
	if f.vip != "" {
		p, err := netip.ParsePrefix(f.vip)
		if err != nil {
			return r, fmt.Errorf("%w: --vip=%s: want ADDRESS/PREFIX such as 192.0.2.10/24", vip.ErrRequest, f.vip)
		}
		r.VIP = p
	}
	// --ssh_user is the orig master's for status/stop/stopssh and the new
	// master's for start (mha-compat §4.1); the online switch passes
	// --orig_master_ssh_user and --new_master_ssh_user instead.
	origUser, newUser := a.sshUser, a.sshUser
	var err error
	if r.Orig, err = a.orig.vipHost(origUser, a.sshOptions); err != nil {
		return r, err
	}
	if r.New, err = a.new.vipHost(newUser, a.sshOptions); err != nil {
		return r, err
	}
	return r, r.Validate()
}

func consulRequest(a hookArgs) consul.Request {
	return consul.Request{Command: a.command, Orig: a.orig.consulHost(), New: a.new.consulHost()}
}

// hookResult turns an outcome into output and MHA's exit code: 0, 10 (done
// with a warning: "Proceeding.") or 1.
func hookResult(out io.Writer, command string, lines []string, warned bool, err error) error {
	for _, l := range lines {
		fmt.Fprintln(out, l)
	}
	if err != nil {
		return &mhacli.ExitError{Code: 1, Err: err}
	}
	if warned && command != vip.CommandStatus {
		return &mhacli.ExitError{Code: 10}
	}
	return nil
}

// tolerant makes a hook command accept every option MHA may pass, known to
// this version or not (mha-compat §4: hooks must tolerate options they do
// not know), and stray arguments.
func tolerant(cmd *cobra.Command) *cobra.Command {
	cmd.FParseErrWhitelist.UnknownFlags = true
	cmd.Args = cobra.ArbitraryArgs
	return cmd
}

// hookRunners carry out the built-in hooks' requests; tests replace them.
type hookRunners struct {
	vip        func(context.Context, vip.Request) (vip.Outcome, error)
	consul     func(context.Context, consul.Config, consul.Request) (consul.Outcome, error)
	keepalived func(ctx context.Context, r keepalived.Request, arpDev string) (vip.Outcome, error)
}

// hookMemo carries what the VIP hook's stop found to the start of the same
// failover when both run in-process (builtinHook).
var hookMemo vip.MemMemo

func newHookCmd() *cobra.Command {
	return newHookCmdWith(hookRunners{
		vip: func(ctx context.Context, r vip.Request) (vip.Outcome, error) {
			m := &vip.Mover{Remote: vip.SSH{}, Memo: &hookMemo}
			return m.Do(ctx, withOwnNodeTool(r, daemon.NodeBinary))
		},
		consul:     consul.Do,
		keepalived: doKeepalived,
	})
}

// doKeepalived runs the keepalived hook on the warm SSH connections, with
// the ARP check from arpDev on this host when one is named.
func doKeepalived(ctx context.Context, r keepalived.Request, arpDev string) (vip.Outcome, error) {
	k := &keepalived.Keeper{Remote: vip.SSH{}, Memo: &hookMemo}
	if arpDev != "" && r.Command == vip.CommandStart && r.VIP.IsValid() {
		sock, err := arp.Open(arpDev)
		if err != nil {
			return vip.Outcome{}, fmt.Errorf("keepalived hook: --arp_interface=%s: %w", arpDev, err)
		}
		defer sock.Close()
		k.ARP = func(ctx context.Context, addr netip.Addr) ([]net.HardwareAddr, error) {
			res, err := arp.Probe(ctx, sock, addr, arp.ProbeOptions{Count: 1, Wait: 150 * time.Millisecond, All: true})
			return res.MACs, err
		}
	}
	return k.Do(ctx, withOwnNodeTools(r, daemon.NodeBinary))
}

// withOwnNodeTools is withOwnNodeTool for the keepalived hook's request.
func withOwnNodeTools(r keepalived.Request, own func() (string, error)) keepalived.Request {
	// The request's own entry is its hosts' remote_workdir copy (added by
	// the Keeper); this host's path comes after it.
	if p, err := own(); err == nil && path.IsAbs(p) {
		r.NodeTools = append(slices.Clone(r.NodeTools), p)
	}
	return r
}

// withOwnNodeTool adds the path of this host's mha-node (own: the node
// binary the manager ships, see daemon.NodeBinary) to the request's node tools,
// after the remote_workdir copy: database hosts with gomha installed at the
// same path as here (a package, or the lab's one file system) have it
// there. A request that asks for no mha-node is left alone.
func withOwnNodeTool(r vip.Request, own func() (string, error)) vip.Request {
	if len(r.NodeTools) == 0 {
		return r
	}
	if p, err := own(); err == nil && path.IsAbs(p) {
		r.NodeTools = append(slices.Clone(r.NodeTools), p)
	}
	return r
}

func newHookCmdWith(run hookRunners) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hook",
		Short: "Built-in hook scripts for master_ip_failover_script / master_ip_online_change_script",
		Long: "Point MHA's master_ip_failover_script and master_ip_online_change_script at one of these\n" +
			"instead of a hand-written script. They take MHA's arguments (--command=status|stop|stopssh|start,\n" +
			"--orig_master_*, --new_master_*; unknown options are ignored) and exit 0 (done), 10 (done with a\n" +
			"warning: MHA logs \"Proceeding.\") or 1 (failed: MHA aborts). See samples/README.md.",
	}
	cmd.AddCommand(newHookVIPCmd(run.vip), newHookConsulCmd(run.consul), newHookKeepalivedCmd(run.keepalived))
	return cmd
}

// keepalivedFlags are `mha hook keepalived`'s own options.
type keepalivedFlags struct {
	vip, iface, remoteWorkdir, arpIface, reason string
	hostWorkdirs                                []string
	wait, timeout                               time.Duration
}

// keepalivedRequest builds the request from parsed arguments.
func keepalivedRequest(a hookArgs, f keepalivedFlags) (keepalived.Request, error) {
	r := keepalived.Request{Command: a.command, Interface: f.iface, Workdir: f.remoteWorkdir, Wait: f.wait, Reason: f.reason}
	if !path.IsAbs(f.remoteWorkdir) {
		return r, fmt.Errorf("%w: --remote_workdir=%q: want an absolute path", keepalived.ErrRequest, f.remoteWorkdir)
	}
	for _, hw := range f.hostWorkdirs {
		h, d, ok := strings.Cut(hw, "=")
		if !ok || h == "" || !path.IsAbs(d) {
			return r, fmt.Errorf("%w: --host_workdir=%q: want HOST=/ABSOLUTE/DIR", keepalived.ErrRequest, hw)
		}
		if r.Workdirs == nil {
			r.Workdirs = map[string]string{}
		}
		r.Workdirs[h] = d
	}
	if f.vip != "" {
		p, err := netip.ParsePrefix(f.vip)
		if err != nil {
			a, aerr := netip.ParseAddr(f.vip)
			if aerr != nil {
				return r, fmt.Errorf("%w: --vip=%s: want an address (or ADDRESS/PREFIX) such as 192.0.2.10", keepalived.ErrRequest, f.vip)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		r.VIP = p
	}
	var err error
	if r.Orig, err = a.orig.vipHost(a.sshUser, a.sshOptions); err != nil {
		return r, err
	}
	if r.New, err = a.new.vipHost(a.sshUser, a.sshOptions); err != nil {
		return r, err
	}
	if r.Reason == "" {
		switch {
		case r.Command == vip.CommandStart && r.Orig != nil:
			r.Reason = "gomha promoted it in place of " + r.Orig.String()
		case r.Command != vip.CommandStart && r.New != nil:
			r.Reason = "gomha moved the master to " + r.New.String()
		case r.Command != vip.CommandStart:
			r.Reason = "gomha failover: old master"
		}
	}
	return r, r.Validate()
}

func newHookKeepalivedCmd(do func(context.Context, keepalived.Request, string) (vip.Outcome, error)) *cobra.Command {
	var a hookArgs
	var f keepalivedFlags
	cmd := tolerant(&cobra.Command{
		Use:   "keepalived [--vip=ADDR] [--interface=DEV] [--remote_workdir=DIR] [--arp_interface=DEV] <MHA hook arguments>",
		Short: "Make keepalived move the write VIP to the new master (mark files read by mha-node keepalived-check)",
		Long: "For sites where keepalived owns the write VIP and runs `mha-node keepalived-check` as its\n" +
			"vrrp_script (configs/keepalived-master.conf). stop/stopssh: mark the orig master fenced over SSH\n" +
			"(its check fails, keepalived there gives the VIP up); a host that does not answer SSH -> exit 10.\n" +
			"start: mark the new master promoted, then wait up to --wait until ADDR is on the new master and\n" +
			"on no other host (ip addr over SSH on both masters; with --arp_interface, an ARP probe from this\n" +
			"host must find only the new master's MAC). status: SSH and mha-node work on the orig master.\n" +
			"The mark file is <remote_workdir>/mha-keepalived-<port>.mark; mha-node is looked for in\n" +
			"<remote_workdir>/.gomha (where the manager installs it), then at this host's path.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := keepalivedRequest(a, f)
			if err != nil {
				return &mhacli.ExitError{Code: 1, Err: err}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			o, err := do(ctx, r, f.arpIface)
			return hookResult(cmd.OutOrStdout(), r.Command, o.Lines, o.Warned, err)
		},
	})
	fs := cmd.Flags()
	a.add(fs)
	fs.StringVar(&a.sshOptions, "ssh_options", "", "ssh_options for hosts MHA passes none for (the new master always)")
	fs.StringVar(&f.vip, "vip", "", "the write VIP keepalived moves, e.g. 192.0.2.10 or 192.0.2.10/24; start waits for it (without it start only marks)")
	fs.StringVar(&f.iface, "interface", "eth0", "device that carries the VIP on the hosts (\"\" = any)")
	fs.StringVar(&f.remoteWorkdir, "remote_workdir", "/var/tmp", "the hosts' remote_workdir: the mark file and the manager's mha-node are there")
	fs.StringArrayVar(&f.hostWorkdirs, "host_workdir", nil, "HOST=DIR: a host (name or IP) whose remote_workdir is not --remote_workdir; repeatable")
	fs.StringVar(&f.arpIface, "arp_interface", "", "this host's device on the hosts' network: start's ARP check that only the new master answers for the VIP")
	fs.StringVar(&f.reason, "reason", "", "reason written into the marks (default: says which failover or switch)")
	fs.Bool("allow_unfenced", false, "accept, at the manager's start, a master with neither fence_lease nor shutdown_script (its keepalived may take the VIP back when a pulled cable returns)")
	fs.DurationVar(&f.wait, "wait", keepalived.DefaultWait, "start: bound on the wait for keepalived to move the VIP")
	fs.DurationVar(&f.timeout, "timeout", 2*time.Minute, "bound on the whole hook")
	return cmd
}

func newHookVIPCmd(do func(context.Context, vip.Request) (vip.Outcome, error)) *cobra.Command {
	var a hookArgs
	var f vipFlags
	cmd := tolerant(&cobra.Command{
		Use:   "vip --vip=ADDR/PREFIX --interface=DEV [--ssh_options=OPTS] <MHA hook arguments>",
		Short: "Move a virtual IP address to the new master over SSH (ip addr, gratuitous ARP)",
		Long: "stop/stopssh: `ip addr del` the address on the orig master (absent is fine). If the orig master\n" +
			"cannot be reached over SSH, a TCP connection to ADDR:orig_master_port decides: nothing answers ->\n" +
			"exit 10 (released, with a warning); something answers (even a refusal) -> exit 1.\n" +
			"start: the same removal on the orig master, then `ip addr add` on the new master, a check with\n" +
			"`ip -o addr show`, and gratuitous ARP: `mha-node arp` from --remote_workdir (where the manager\n" +
			"installs it) or from the path of this host's mha-node, else `arping -U` (iputils' or Habets').\n" +
			"status: SSH to the orig master works; says where the address is.\n" +
			"Host keys are verified against known_hosts; --ssh_options (e.g. \"-i KEY -o UserKnownHostsFile=F\")\n" +
			"applies to every host MHA passes no --*_ssh_options for.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := vipRequest(a, f)
			if err != nil {
				return &mhacli.ExitError{Code: 1, Err: err}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			o, err := do(ctx, r)
			return hookResult(cmd.OutOrStdout(), r.Command, o.Lines, o.Warned, err)
		},
	})
	fs := cmd.Flags()
	a.add(fs)
	fs.StringVar(&a.sshOptions, "ssh_options", "", "ssh_options for hosts MHA passes none for (the new master always)")
	fs.StringVar(&f.vip, "vip", "", "virtual address with prefix length, e.g. 192.0.2.10/24 (required)")
	fs.StringVar(&f.iface, "interface", "", "network device that carries it, e.g. eth0 (required)")
	fs.StringVar(&f.arping, "arping", "arping", "arping program on the new master when mha-node is not there; empty for none")
	fs.IntVar(&f.arpingCount, "arping_count", 3, "gratuitous ARP announcements to send, one a second")
	fs.BoolVar(&f.nodeARP, "node_arp", true, "send the gratuitous ARP with mha-node arp when mha-node is on the new master")
	fs.StringVar(&f.remoteWorkdir, "remote_workdir", "/var/tmp", "the new master's remote_workdir, where the manager installs mha-node")
	fs.DurationVar(&f.timeout, "timeout", 2*time.Minute, "bound on the whole hook")
	return cmd
}

func newHookConsulCmd(do func(context.Context, consul.Config, consul.Request) (consul.Outcome, error)) *cobra.Command {
	var a hookArgs
	var cfg consul.Config
	cmd := tolerant(&cobra.Command{
		Use:   "consul [--consul_addr=URL] [--node=master] [--service=mysql-master] <MHA hook arguments>",
		Short: "Point a Consul catalog node and service at the new master",
		Long: "start: register catalog node NODE at the new master's IP with service SERVICE (its port, tag\n" +
			"\"gomha\", a TCP check definition), so master.node.consul resolves to it. stop/stopssh:\n" +
			"deregister the node (left alone when it points at another host than the orig master: exit 10).\n" +
			"status: the agent answers and knows a leader. CONSUL_HTTP_TOKEN and the other CONSUL_*\n" +
			"variables are honoured.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := consulRequest(a)
			if err := r.Validate(); err != nil {
				return &mhacli.ExitError{Code: 1, Err: err}
			}
			o, err := do(cmd.Context(), cfg, r)
			return hookResult(cmd.OutOrStdout(), r.Command, o.Lines, o.Warned, err)
		},
	})
	fs := cmd.Flags()
	a.add(fs)
	fs.StringVar(&cfg.Addr, "consul_addr", consul.DefaultAddr, "Consul agent HTTP API")
	fs.StringVar(&cfg.Node, "node", consul.DefaultNode, "catalog node name for the master")
	fs.StringVar(&cfg.Service, "service", consul.DefaultService, "service name for the master")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "bound on each Consul API call")
	return cmd
}
