package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/failover"
	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/hooks/keepalived"
	"github.com/gomha/gomha/manager/lease"
	"github.com/gomha/gomha/manager/topology"
)

// HookStatus runs master_ip_failover_script and shutdown_script with
// --command=status for master, as MHA's check_scripts does at monitor start
// and in masterha_check_repl: a hook that is set must exit 0.
func HookStatus(ctx context.Context, master config.Server, runner hooks.Runner, log *slog.Logger) error {
	ep := hooks.EndpointOf(master)
	for _, h := range []struct {
		name, cmd string
		args      []string
	}{
		{"master_ip_failover_script", master.MasterIPFailoverScript, hooks.FailoverStatusArgs(ep)},
		{"shutdown_script", master.ShutdownScript, hooks.ShutdownStatusArgs(ep)},
	} {
		if h.cmd == "" {
			log.Warn(h.name + " is not set.")
			continue
		}
		r, err := runner.Run(ctx, h.name, h.cmd, h.args)
		if err != nil {
			return err
		}
		if r.Code != 0 {
			return fmt.Errorf("failed to get %s status with return code %s", h.name, r.MHACode())
		}
		log.Info(h.name+" status OK", "host", master.Hostname)
	}
	return nil
}

// started is what the start-up checks found: the alive master and
// replicas, and the topology they were read from (nil when the checks
// did not get that far).
type started struct {
	master   config.Server
	replicas []config.Server
	topo     *topology.Topology
	// terms are the running watchdog's lease terms (its reported demotion
	// budget) when fence_lease is set; zero otherwise.
	terms lease.Terms
}

// startupChecks runs MHA's start-up checks (check-repl's, without the
// replication health part unless --check_repl_health) and the hooks'
// status calls, and returns the alive master and the alive replicas.
func startupChecks(ctx context.Context, cfg *config.Config, so StartOptions, fo FailoverOptions, tools Tools, log *slog.Logger, out io.Writer) (started, error) {
	var st started
	if errs := hooks.CheckConfig(cfg); len(errs) > 0 {
		return st, errors.Join(errs...)
	}
	for _, b := range cfg.Binlogs {
		// MHA reads binlog servers only on its GTID (auto-position) path;
		// gomha does not read them at all yet: say so rather than lose
		// silently what only a binlog server held.
		log.Warn("binlog server blocks are not used: a failover does not save events from binlog servers", "block", b.Block, "host", b.Hostname)
	}
	for _, err := range hooks.MissingReportScript(cfg) {
		// MHA starts, and logs an error when the report is sent.
		log.Warn("report_script cannot run; the failover report will not be sent", "err", err)
	}
	res := check.Repl(ctx, cfg, check.ReplOptions{
		SkipSSHCheck:        so.SkipSSHCheck,
		IgnoreFailOnStart:   so.IgnoreFailOnStart,
		SecondsBehindMaster: time.Duration(so.SecondsBehindMaster) * time.Second,
	})
	PrintRepl(out, res, false)
	st.topo = res.Topology
	if fatal := check.StartBlockers(res, so.CheckReplHealth); len(fatal) > 0 {
		return st, errors.New(strings.Join(fatal, "\n"))
	}
	t := res.Topology
	master := t.Master.Server
	if why := keepalived.Unfenced(master.MasterIPFailoverScript, master.FenceLease, master.ShutdownScript); why != "" {
		return st, fmt.Errorf("%s (%s)", why, master.Label())
	}
	// MHA's check_binlog: the node tools run in remote_workdir and find
	// the binlogs in master_binlog_dir.
	if err := NodeSelfTest(ctx, t.Master, so.SkipSSHCheck); err != nil {
		return st, err
	}
	if err := HookStatus(ctx, master, hooks.Runner{Log: log, Timeout: fo.HookTimeout, InProcess: tools.InProcessHook}, log); err != nil {
		return st, err
	}
	if master.SecondaryCheckScript == "" {
		log.Warn("secondary_check_script is not defined: the master's failure is confirmed through the replicas only.")
	} else if fails := tools.checkSecondaryHosts(ctx, master, out); len(fails) > 0 {
		return st, errors.New(strings.Join(fails, "\n"))
	}
	st.master = master
	var replicas []config.Server
	for _, n := range t.Nodes {
		if n.Role == topology.RoleReplica && n.Alive() {
			replicas = append(replicas, n.Server)
		}
	}
	if master.FenceLease > 0 {
		// gomha only: the fencing lease's watchdog on the master's host,
		// healthy before monitoring starts.
		bin, err := NodeBinary()
		if err != nil {
			return st, err
		}
		vip, dev := lease.VIPFromHook(master.MasterIPFailoverScript)
		ls, err := lease.Ensure(ctx, lease.Target{Config: cfg, Master: master, Peers: replicas, NodeBinary: bin, VIP: vip, VIPDev: dev}, log)
		if err != nil {
			return st, fmt.Errorf("fence_lease=%d: cannot run the fencing watchdog on the master %s: %w", int(master.FenceLease/time.Second), master.Hostname, err)
		}
		if ls != nil {
			st.terms = ls.Terms()
		}
		// A watchdog belongs on the master only. One left on a replica
		// (an old master that was demoted, then rejoined) would set
		// read_only=1 again right after that replica is promoted.
		var wg sync.WaitGroup
		for _, r := range replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := lease.Release(ctx, r); err != nil {
					log.Warn("cannot stop a fencing watchdog left on a replica; stop it by hand (mha-node watchdog --stop, then --clear) before it could be promoted", "host", r.Hostname, "err", err)
				}
			}()
		}
		wg.Wait()
	}
	st.replicas = replicas
	return st, nil
}

// NodeSelfTest runs the node tools' self-test on the master (MHA's
// check_binlog), unless SSH checks are skipped or the master has
// skip_init_ssh_check=1, or it writes no binlog (nothing to save from it).
func NodeSelfTest(ctx context.Context, m *topology.Node, skipSSH bool) error {
	if skipSSH || m.Server.SkipInitSSHCheck || m.State == nil || m.State.Binlog.File == "" {
		return nil
	}
	bin, err := NodeBinary()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return failover.SelfTest(ctx, bin, m.Server, m.State.Binlog.File)
}

// PrintRepl writes check-repl's report: findings (each replica's detection
// recommendation under its HeartbeatSlow or SlaveNetTimeoutHigh finding),
// SSH results, the tree.
func PrintRepl(w io.Writer, res check.ReplResult, details bool) {
	// under[i] are the recommendations printed after finding i: the last
	// detection finding of their host.
	under := map[int][]check.Recommendation{}
	var rest []check.Recommendation
	for _, r := range res.Recommendations {
		at := -1
		for i, f := range res.Report.Findings {
			if f.Host == r.Host && (f.Code == topology.CodeHeartbeatSlow || f.Code == topology.CodeSlaveNetTimeoutHigh) {
				at = i
			}
		}
		if at < 0 {
			rest = append(rest, r)
			continue
		}
		under[at] = append(under[at], r)
	}
	for i, f := range res.Report.Findings {
		if f.Severity == topology.SeverityInfo {
			continue
		}
		fmt.Fprintln(w, f)
		for _, r := range under[i] {
			fmt.Fprintln(w, "  "+r.String())
		}
	}
	for i, f := range res.Report.Findings {
		if f.Severity == topology.SeverityInfo {
			fmt.Fprintln(w, f)
			for _, r := range under[i] {
				fmt.Fprintln(w, "  "+r.String())
			}
		}
	}
	for _, r := range rest {
		fmt.Fprintln(w, r)
	}
	if res.SSH != nil {
		PrintSSH(w, *res.SSH, false)
	}
	fmt.Fprintln(w)
	fmt.Fprint(w, res.Topology.Tree(topology.TreeOptions{Details: details}))
}

// PrintSSH writes an SSH report; all lists every connection, otherwise only
// failures are listed.
func PrintSSH(w io.Writer, rep check.SSHReport, all bool) {
	for _, r := range rep.Results {
		if all || r.Err != nil {
			fmt.Fprintln(w, r)
		}
	}
}
