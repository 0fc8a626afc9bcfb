package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/failover"
	"github.com/gomha/gomha/manager/fence"
	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/lease"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/node/binlog"
)

// fenceConnectTimeout bounds the MySQL connect of a fencing attempt: the
// old master was just found dead, so a long wait would only delay the
// failover.
const fenceConnectTimeout = 2 * time.Second

// recheckTimeout bounds the connect of the check after a lease wait.
const recheckTimeout = 500 * time.Millisecond

// fencer is the failover's Fencer. The policy, per case:
//   - the old master answers MySQL: read_only (and super_read_only where
//     the server has it), client sessions killed, verified (fence.Fence);
//   - it answers SSH only: the same through the client on its host, else
//     mysqld stopped (service manager or SIGKILL), verified gone;
//   - it answers neither: shutdown_script has already run if set (exit 0 =
//     powered off, and then the failover does not call the fencer); with
//     fence_lease the failover waits until the watchdog on that host has
//     surely demoted it (lease.ExpiredAt from the moment the death was
//     confirmed); without either it is NOT fenced: the failover goes on,
//     as MHA does, with a warning in the report, and `mha manager` fences
//     it the moment it answers again (fence.Watch).
type fencer struct {
	cfg *config.Config
	// lastContact is when the death was confirmed (detect's verdict); zero
	// for a manual switch, which then dates the lease from the call.
	lastContact time.Time
	// hung: the detection saw the port accept without a greeting: fence
	// over SSH without SQL first (fence.Options.Hung).
	hung bool
	// silent: every replica found the host silent, and the failover's
	// double check got no answer either: the MySQL attempt gets the short
	// recheckTimeout (a host back on a LAN answers in milliseconds).
	silent bool
	// terms are the watchdog's reported lease terms; zero means
	// lease.TermsFor(fence_lease) with the compiled demotion budget.
	terms lease.Terms
	log   *slog.Logger
}

// fenceOptions says how to reach and fence srv.
func fenceOptions(cfg *config.Config, srv config.Server, ssh sshexec.Reach, log *slog.Logger) (fence.Options, error) {
	o := fence.Options{
		Name:    srv.Label(),
		MySQL:   check.Target(cfg, srv, fenceConnectTimeout),
		PIDFile: srv.MasterPIDFile,
		Port:    srv.Port,
		Log:     log,
	}
	if ssh == sshexec.Reachable {
		t, err := check.SSHTarget(srv)
		if err != nil {
			return o, fmt.Errorf("ssh to %s: %w", check.SSHName(srv), err)
		}
		o.SSH = fence.SSH{Target: t, Local: fence.LocalClient{
			User: srv.User, Password: srv.Password, Addr: srv.IP, Port: srv.Port, Bindir: srv.ClientBindir,
		}}
	}
	return o, nil
}

// Fence implements failover.Fencer.
func (f fencer) Fence(ctx context.Context, old config.Server, ssh sshexec.Reach) (failover.FenceResult, error) {
	o, err := fenceOptions(f.cfg, old, ssh, f.log)
	if err != nil {
		return failover.FenceResult{}, err
	}
	o.Hung = f.hung
	if f.silent {
		o.MySQL.Timeout = recheckTimeout
	}
	r, err := fence.Fence(ctx, o)
	if err != nil {
		return failover.FenceResult{}, err
	}
	if r.Fenced {
		return failover.FenceResult{Fenced: true, Method: r.Method, Proof: r.Proof}, nil
	}
	if old.FenceLease <= 0 {
		return failover.FenceResult{Proof: r.Why + "; no shutdown_script powered it off and fence_lease is not set: it may still take writes behind the cut"}, nil
	}
	from := f.lastContact
	if from.IsZero() {
		from = time.Now()
	}
	t := f.terms
	if t.Lease == 0 {
		t = lease.TermsFor(old.FenceLease)
	}
	until := t.ExpiredAt(from)
	f.log.Info("The old master is unreachable: waiting until its watchdog has surely demoted it (fence_lease).",
		"host", o.Name, "lease", old.FenceLease.String(), "until", until.Format(time.RFC3339Nano), "wait", time.Until(until).Round(time.Millisecond).String())
	if err := t.Wait(ctx, from); err != nil {
		return failover.FenceResult{}, fmt.Errorf("waiting for the fence_lease of %s: %w", o.Name, err)
	}
	// The link may have come back meanwhile: a master that sees the
	// replicas again keeps its lease, so fence it directly if it answers.
	// On a LAN a returned host answers in milliseconds: a short connect
	// keeps this check off the critical path when it is still away.
	o.MySQL.Timeout = recheckTimeout
	// The master may have resumed (a hung one that answers again keeps its
	// lease when it sees the replicas): the re-check tries MySQL first.
	o.Hung = false
	r2, err := fence.Fence(ctx, o)
	if err != nil {
		return failover.FenceResult{}, fmt.Errorf("%s answered again during the lease wait but could not be fenced: %w", o.Name, err)
	}
	if r2.Fenced {
		return failover.FenceResult{Fenced: true, Method: r2.Method, Proof: r2.Proof + " (it answered again after the lease wait)"}, nil
	}
	return failover.FenceResult{
		Fenced: true,
		Method: "lease expired",
		Proof: fmt.Sprintf("%s; its watchdog demotes it after %s without contact with the manager or a replica; contact was lost by %s, waited until %s",
			r.Why, old.FenceLease, from.Format(time.RFC3339Nano), until.Format(time.RFC3339Nano)),
	}, nil
}

// watchOldMaster fences the failed master the moment it answers again
// (link back, SIGCONT) and reports the binlog it wrote after since; it
// takes the address off it through master_ip_failover_script. It runs
// until ctx ends.
func watchOldMaster(ctx context.Context, cfg *config.Config, old config.Server, since binlog.Pos, runner hooks.Runner, log *slog.Logger) {
	o, _ := fenceOptions(cfg, old, sshexec.Unreachable, log)
	interval := old.PingInterval
	if interval <= 0 {
		interval = cfg.Default.PingInterval
	}
	wo := fence.WatchOptions{
		Fence:    o,
		Interval: interval,
		Since:    since,
		OnFenced: func(ev fence.Event) {
			args := []any{"host", ev.Host, "after", ev.Fenced.Sub(ev.Answered).Round(time.Millisecond).String(), "proof", ev.Proof}
			if ev.Errant.Bytes > 0 || ev.Errant.Err != nil {
				args = append(args, "errant", ev.Errant.String())
			}
			if ev.Flipped {
				log.Warn("The old master was writable again: fenced again.", args...)
				return
			}
			log.Warn("The old master answers again: fenced.", args...)
		},
	}
	if old.MasterIPFailoverScript != "" {
		wo.OnReturn = fence.HookOnReturn(runner, old.MasterIPFailoverScript, hooks.EndpointOf(old))
	}
	if err := fence.Watch(ctx, wo); err != nil {
		log.Error("watching the old master stopped", "host", o.Name, "err", err)
	}
}
