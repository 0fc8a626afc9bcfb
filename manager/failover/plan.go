package failover

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/manager/topology"
	"github.com/gomha/gomha/node/binlog"
)

// Snapshot is what a failover plan is made of: the survivors as read, and
// what the pre-checks found.
type Snapshot struct {
	// Topo is the topology read in Phase 1 (the dead master is its
	// Master), with the positions as they are when the plan is made.
	Topo *topology.Topology
	// Report is the start-up report of Topo.
	Report topology.Report
	// Survivors are the blocks of the alive replicas the failover holds a
	// session to; nil means every alive replica of Topo.
	Survivors []string
	// DeadSSH is whether the dead master's host answers SSH.
	DeadSSH sshexec.Reach
	// TailProblem says why the dead master's binlog cannot be read though
	// its host answers SSH ("" when it can, or nothing was checked).
	TailProblem string
	// Problems are the pre-check failures per block: what a step on that
	// server would need and does not have (SSH, node tools, relay logs).
	Problems map[string][]string
}

// PlanOptions are the failover options a plan depends on.
type PlanOptions struct {
	NewMasterHost        string
	NewMasterPort        int
	SkipSaveMasterBinlog bool
}

// SourceKind is where a target's missing events come from.
type SourceKind int

// Kinds of sources, in the order a target takes them.
const (
	// SourceOwnSQL: the target's own SQL thread finishes its relay log.
	SourceOwnSQL SourceKind = iota + 1
	// SourceRelayDiff: a latest replica's relay logs, from where the
	// target's SQL thread stopped to the end point.
	SourceRelayDiff
	// SourceTail: the dead master's binlog after the end point.
	SourceTail
)

// Source is one step that brings a target closer to the end point.
type Source struct {
	Kind SourceKind
	// Host is the server whose relay logs are read (own SQL thread: the
	// target; diff: a latest replica); nil for the dead master's tail.
	Host *topology.Node
	// To is where the source ends (the tail: where it starts).
	To binlog.Pos
	// Conditional is true for a relay-log diff that is needed only when
	// the target's SQL thread stops inside a transaction its relay log
	// holds only in part (the target already received up to the end).
	Conditional bool
}

func (s Source) String() string {
	switch s.Kind {
	case SourceOwnSQL:
		return "own SQL thread up to " + s.To.String()
	case SourceRelayDiff:
		w := "relay-log diff from " + s.Host.Host() + " up to " + s.To.String()
		if s.Conditional {
			w += ", only for a transaction its SQL thread could not finish"
		}
		return w
	case SourceTail:
		return "dead master's binlog after " + s.To.String()
	}
	return "?"
}

// Target is one survivor brought to the end point.
type Target struct {
	Node    *topology.Node
	Sources []Source
}

// Candidate is a replica that may become the new master, in order.
type Candidate struct {
	Node *topology.Node
	Rule topology.Rule
}

// Plan is what a failover will do, decided from a Snapshot alone.
type Plan struct {
	// Blockers are the reasons not to start; the failover refuses when
	// there is any.
	Blockers []string
	// Candidates are the new master, then the fallbacks in order.
	Candidates []Candidate
	// Excluded are the servers that may not be the new master, and why.
	Excluded []topology.Exclusion
	// Mode is how replicas are repointed.
	Mode topology.GTIDMode
	// Latest are the replicas that received the most of the dead master's
	// binlog.
	Latest []*topology.Node
	// End is the latest Read position: every survivor is brought there,
	// then past it with the dead master's tail when Tail is set.
	End binlog.Pos
	// Tail is true when the dead master's binlog is read after End.
	Tail bool
	// NoTail says why the tail is not read (Tail false).
	NoTail string
	// Targets are the survivors to converge, in configuration order. In
	// GTID modes only the new master takes its sources; the others fetch
	// by GTID from it.
	Targets []Target
	// Skipped are survivors left out of the failover, and why.
	Skipped []string
}

// Target returns the plan of the server with the given block.
func (p *Plan) Target(block string) *Target {
	for i := range p.Targets {
		if p.Targets[i].Node.Server.Block == block {
			return &p.Targets[i]
		}
	}
	return nil
}

// Repoint says how a replica other than the new master is pointed at it.
func (p *Plan) Repoint() string {
	switch p.Mode {
	case topology.GTIDMariaDB:
		return "CHANGE MASTER MASTER_USE_GTID=slave_pos to the new master (fetches what it lacks by GTID)"
	case topology.GTIDMySQL:
		return "CHANGE MASTER MASTER_AUTO_POSITION=1 to the new master (fetches what it lacks by GTID)"
	}
	return "CHANGE MASTER to the new master's binlog position once both converged"
}

// NewPlan decides a failover from the snapshot: it never contacts a
// server. A plan with Blockers must not be executed.
func NewPlan(s Snapshot, o PlanOptions) Plan {
	var p Plan
	t := s.Topo
	if t == nil || t.Master == nil {
		p.Blockers = append(p.Blockers, "no master in the topology")
		return p
	}
	p.Mode = t.GTIDMode
	for _, f := range check.Blockers(s.Report, check.Failover) {
		p.Blockers = append(p.Blockers, f.String())
	}
	for _, n := range t.Dead() {
		if n != t.Master && !n.Server.IgnoreFail {
			p.Blockers = append(p.Blockers, fmt.Sprintf("%s is dead too and has no ignore_fail=1", n.Host()))
		}
	}
	for _, n := range t.Failed() {
		p.Blockers = append(p.Blockers, fmt.Sprintf("%s: replica SQL thread stopped with an error", n.Host()))
	}

	// The survivors the failover can work on.
	var usable []*topology.Node
	var exclude []topology.Exclusion
	for _, n := range t.Replicas() {
		if s.Survivors != nil && !slices.Contains(s.Survivors, n.Server.Block) {
			continue
		}
		if why := s.Problems[n.Server.Block]; len(why) > 0 {
			w := strings.Join(why, "; ")
			if n.Server.IgnoreFail {
				p.Skipped = append(p.Skipped, n.Host()+": "+w+" (ignore_fail=1: skipped)")
				exclude = append(exclude, topology.Exclusion{Node: n, Reasons: []string{"pre-check failed: " + w}})
				continue
			}
			p.Blockers = append(p.Blockers, n.Host()+": "+w)
			exclude = append(exclude, topology.Exclusion{Node: n, Reasons: []string{"pre-check failed: " + w}})
		}
		usable = append(usable, n)
	}
	if len(usable) == 0 {
		p.Blockers = append(p.Blockers, "no alive replica to promote")
		return p
	}
	latest, _, err := topology.LatestReplicas(usable)
	if err != nil {
		p.Blockers = append(p.Blockers, err.Error())
		return p
	}
	p.Latest = latest
	p.End = latest[0].Replica().Read

	switch {
	case o.SkipSaveMasterBinlog:
		p.NoTail = "--skip_save_master_binlog"
	case s.DeadSSH != sshexec.Reachable:
		p.NoTail = "its host does not answer SSH"
	case s.TailProblem != "":
		p.NoTail = s.TailProblem
	default:
		p.Tail = true
	}

	// With GTID, the others fetch from the new master by GTID: what it
	// applies must reach its binlog.
	if p.Mode.UsesGTID() {
		for _, n := range usable {
			if n.State != nil && !n.State.LogSlaveUpdates {
				exclude = append(exclude, topology.Exclusion{Node: n, Reasons: []string{"log_slave_updates is off: with GTID the other replicas fetch from the new master by GTID, and the events it applies from its relay log would not be in its binlog"}})
			}
		}
	}
	sel, err := topology.SelectNewMaster(t, topology.SelectOptions{
		NewMasterHost: o.NewMasterHost,
		NewMasterPort: o.NewMasterPort,
		Base:          latest[0],
		Exclude:       exclude,
	})
	p.Excluded = sel.Excluded
	if err != nil {
		p.Blockers = append(p.Blockers, err.Error())
	}
	for _, c := range sel.Order {
		if slices.Contains(usable, c.Node) {
			p.Candidates = append(p.Candidates, Candidate{Node: c.Node, Rule: c.Rule})
		}
	}
	if err == nil && len(p.Candidates) == 0 {
		p.Blockers = append(p.Blockers, "no usable candidate for the new master")
	}

	for _, n := range usable {
		if len(s.Problems[n.Server.Block]) > 0 {
			continue
		}
		p.Targets = append(p.Targets, Target{Node: n, Sources: sources(n, latest, p.End, p.Tail)})
	}
	return p
}

// sources are the steps that bring n to the end point: its own SQL thread
// through its relay log, then a latest replica's relay-log difference up to
// end (itself when it is a latest replica: only for a transaction its relay
// log ends inside), then the dead master's tail.
func sources(n *topology.Node, latest []*topology.Node, end binlog.Pos, tail bool) []Source {
	var out []Source
	rs := n.Replica()
	if c, err := binlog.Compare(rs.Exec, rs.Read); err != nil || c < 0 {
		out = append(out, Source{Kind: SourceOwnSQL, Host: n, To: rs.Read})
	}
	base := latest[0]
	isLatest := slices.Contains(latest, n)
	if isLatest {
		base = n
	}
	c, _ := binlog.Compare(rs.Read, end)
	switch {
	case c < 0:
		out = append(out, Source{Kind: SourceRelayDiff, Host: base, To: end})
	case tail && len(out) > 0:
		// Its relay log may end inside a transaction the tail completes.
		out = append(out, Source{Kind: SourceRelayDiff, Host: base, To: end, Conditional: true})
	}
	if tail {
		out = append(out, Source{Kind: SourceTail, To: end})
	}
	return out
}

// String renders the plan, a line per decision (the scenario tests compare
// it).
func (p *Plan) String() string {
	var b strings.Builder
	for _, x := range p.Blockers {
		b.WriteString("blocker: " + x + "\n")
	}
	if len(p.Latest) > 0 {
		var hs []string
		for _, n := range p.Latest {
			hs = append(hs, n.Host())
		}
		fmt.Fprintf(&b, "end point: %s (latest %s)\n", p.End, strings.Join(hs, ", "))
	}
	if p.Tail {
		b.WriteString("dead master tail: read once, after " + p.End.String() + "\n")
	} else if p.NoTail != "" {
		b.WriteString("dead master tail: not read (" + p.NoTail + "): what it wrote after " + p.End.String() + " may be lost\n")
	}
	for i, c := range p.Candidates {
		w := "new master"
		if i > 0 {
			w = fmt.Sprintf("fallback %d", i)
		}
		fmt.Fprintf(&b, "%s: %s (%s)\n", w, c.Node.Host(), c.Rule)
	}
	for _, x := range p.Excluded {
		if x.Node.Role == topology.RoleMaster {
			continue
		}
		b.WriteString("not a candidate: " + x.String() + "\n")
	}
	for _, tg := range p.Targets {
		b.WriteString("target " + tg.Node.Host() + ":\n")
		if len(tg.Sources) == 0 {
			b.WriteString("  nothing to apply\n")
		}
		for _, s := range tg.Sources {
			b.WriteString("  " + s.String() + "\n")
		}
	}
	for _, x := range p.Skipped {
		b.WriteString("skipped: " + x + "\n")
	}
	if p.Mode.UsesGTID() {
		b.WriteString("GTID: only the new master takes these sources; ")
	}
	b.WriteString("replicas: " + p.Repoint() + "\n")
	return b.String()
}
