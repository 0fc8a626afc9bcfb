package check

import (
	"context"
	"time"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/topology"
)

// DefaultSecondsBehindMaster is check-repl's default lag limit
// (--seconds_behind_master), as in MHA.
const DefaultSecondsBehindMaster = 30 * time.Second

// ReplOptions are check-repl's settings.
type ReplOptions struct {
	// ConnectTimeout bounds each SQL connection attempt; 0 means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// SecondsBehindMaster is the largest replica lag accepted; 0 means
	// DefaultSecondsBehindMaster.
	SecondsBehindMaster time.Duration
	// SkipSSHCheck leaves out the SSH check between the alive servers
	// (--skip_check_ssh).
	SkipSSHCheck bool
	// IgnoreFailOnStart tolerates dead servers with ignore_fail=1.
	IgnoreFailOnStart bool
	// Resolver resolves the replicas' source host names; nil means the
	// system resolver.
	Resolver config.Resolver
}

// ReplResult is what check-repl found.
type ReplResult struct {
	// Topology is the cluster as observed; never nil.
	Topology *topology.Topology
	// Report holds the findings of the start-up checks and of the
	// replication health check.
	Report topology.Report
	// SSH is the SSH check between the alive servers; nil when skipped.
	SSH *SSHReport
	// Recommendations are the detection settings to change on replicas
	// that notice a vanished master slower than the ping interval allows
	// (RecommendDetection with the master's ping_interval).
	Recommendations []Recommendation
	// Elapsed is how long the checks took.
	Elapsed time.Duration
}

// OK reports whether replication is healthy: no finding that blocks a
// start with --check_repl_health (Gates; every error finding does) and every
// SSH connection working.
func (r ReplResult) OK() bool {
	return len(Blockers(r.Report, StartHealth)) == 0 && (r.SSH == nil || r.SSH.OK())
}

// StartBlockers returns why `mha manager` must not start on what check-repl
// found: the findings that block Start (StartHealth with
// --check_repl_health), every failed SSH connection, and a master that is
// not alive. Empty means it may start.
func StartBlockers(r ReplResult, checkReplHealth bool) []string {
	op := Start
	if checkReplHealth {
		op = StartHealth
	}
	var fatal []string
	for _, f := range Blockers(r.Report, op) {
		fatal = append(fatal, f.String())
	}
	if r.SSH != nil && !r.SSH.OK() {
		for _, s := range r.SSH.Failures() {
			fatal = append(fatal, s.String())
		}
	}
	if t := r.Topology; t == nil || t.Master == nil || !t.Master.Alive() {
		fatal = append(fatal, "the master is not alive at start")
	}
	return fatal
}

// Repl runs MHA's start-up checks once plus check-repl's replication health
// check: it reads every server, builds the topology, checks it, and tests
// SSH between the alive servers (a file/position failover copies relay-log
// differences between them).
func Repl(ctx context.Context, cfg *config.Config, opts ReplOptions) ReplResult {
	start := time.Now()
	obs := Survey(ctx, cfg, opts.ConnectTimeout, opts.Resolver)
	topo, rep := topology.Build(obs, topology.Options{IgnoreFailOnStart: opts.IgnoreFailOnStart})
	maxLag := opts.SecondsBehindMaster
	if maxLag <= 0 {
		maxLag = DefaultSecondsBehindMaster
	}
	rep.Merge(topology.CheckReplHealth(topo, maxLag))
	res := ReplResult{Topology: topo, Report: rep, Recommendations: RecommendDetection(topo, 0)}
	if !opts.SkipSSHCheck {
		var alive []config.Server
		for _, n := range topo.Alive() {
			alive = append(alive, n.Server)
		}
		if len(alive) > 0 {
			ssh := SSH(ctx, alive)
			res.SSH = &ssh
		}
	}
	res.Elapsed = time.Since(start)
	return res
}
