package topology

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/node/binlog"
)

// MaxExecDelayBytes is check_repl_delay's byte limit (MHA's 100000000): a
// replica whose SQL thread is more than this many bytes behind the latest
// Read position in the same binlog file is not promoted, because applying
// the difference would take long.
const MaxExecDelayBytes = 100_000_000

// ErrNoCandidate is wrapped by every NoCandidateError.
var ErrNoCandidate = errors.New("no replica can be the new master")

// Exclusion is a server that may not become the new master, and why.
type Exclusion struct {
	Node    *Node
	Reasons []string
}

// String renders "host: reason; reason".
func (e Exclusion) String() string {
	return e.Node.Host() + ": " + strings.Join(e.Reasons, "; ")
}

// NoCandidateError is SelectNewMaster's refusal: it names every server that
// was excluded and why.
type NoCandidateError struct {
	// Requested is "host:port" of --new_master_host/--new_master_port when
	// given; it was refused and nothing else was tried (MHA: no fallback).
	Requested string
	// Excluded are the servers ruled out, in configuration order; for a
	// requested server, only that one (empty when it is not configured).
	Excluded []Exclusion
}

// Error tells what was refused and why.
func (e *NoCandidateError) Error() string {
	var why []string
	for _, x := range e.Excluded {
		why = append(why, x.String())
	}
	if e.Requested != "" {
		if len(why) == 0 {
			return fmt.Sprintf("new master %s: not a configured server", e.Requested)
		}
		return fmt.Sprintf("new master %s cannot be promoted: %s", e.Requested, strings.Join(why, "; "))
	}
	if len(why) == 0 {
		return "none of the replicas can be the new master: there is no replica"
	}
	return "none of the replicas can be the new master (" + strings.Join(why, " | ") +
		"). Maybe candidate_master/no_master are misconfigured or all replicas are too far behind"
}

// Unwrap returns ErrNoCandidate.
func (e *NoCandidateError) Unwrap() error { return ErrNoCandidate }

func readPos(n *Node) binlog.Pos { return n.Replica().Read }

// LatestReplicas returns the replicas that have received the most and the
// least of the master's binary log, by Read position (Master_Log_File,
// Read_Master_Log_Pos), ties kept in the given order (mha-compat §6.3).
// Unlike MHA, file names are compared by their numeric extension
// (mysql-bin.999999 < mysql-bin.1000000). Every node must be an alive
// replica; it fails when two positions cannot be ordered (different binlog
// base names: the replicas do not replicate from the same source).
func LatestReplicas(replicas []*Node) (latest, oldest []*Node, err error) {
	for _, n := range replicas {
		if n.Replica() == nil {
			return nil, nil, fmt.Errorf("topology: %s is not a replica", n.Host())
		}
		if len(latest) == 0 {
			latest, oldest = []*Node{n}, []*Node{n}
			continue
		}
		c, err := binlog.Compare(readPos(n), readPos(latest[0]))
		if err != nil {
			return nil, nil, fmt.Errorf("topology: ordering %s and %s by Read position: %w", n.Host(), latest[0].Host(), err)
		}
		switch {
		case c > 0:
			latest = []*Node{n}
		case c == 0:
			latest = append(latest, n)
		}
		c, err = binlog.Compare(readPos(n), readPos(oldest[0]))
		if err != nil {
			return nil, nil, fmt.Errorf("topology: ordering %s and %s by Read position: %w", n.Host(), oldest[0].Host(), err)
		}
		switch {
		case c < 0:
			oldest = []*Node{n}
		case c == 0:
			oldest = append(oldest, n)
		}
	}
	return latest, oldest, nil
}

// RelayLogFloor returns the oldest Read position among the replicas without
// ignore_fail (MHA's get_oldest_limit_pos): a failover's base replica must
// hold relay logs from there on, because those replicas have to be
// recovered. ok is false when every replica has ignore_fail=1.
func RelayLogFloor(replicas []*Node) (floor binlog.Pos, ok bool, err error) {
	var oldest *Node
	for _, n := range replicas {
		if n.Server.IgnoreFail || n.Replica() == nil {
			continue
		}
		if oldest == nil {
			oldest = n
			continue
		}
		c, err := binlog.Compare(readPos(n), readPos(oldest))
		if err != nil {
			return binlog.Pos{}, false, fmt.Errorf("topology: ordering %s and %s by Read position: %w", n.Host(), oldest.Host(), err)
		}
		if c < 0 {
			oldest = n
		}
	}
	if oldest == nil {
		return binlog.Pos{}, false, nil
	}
	return readPos(oldest), true, nil
}

// SelectOptions are a new-master selection's inputs beyond the topology.
type SelectOptions struct {
	// NewMasterHost and NewMasterPort are --new_master_host and
	// --new_master_port: that server (hostname or ip; port 3306 when 0) is
	// the new master if it is an eligible replica, otherwise selection
	// fails without trying others.
	NewMasterHost string
	NewMasterPort int
	// SkipDelayCheck turns check_repl_delay off whatever the configuration
	// says (MHA's online switch does so).
	SkipDelayCheck bool
	// Base is the replica the failover uses as the source of relay-log
	// differences (MHA's "latest base slave"); its check_repl_delay is
	// used. Nil means the first latest replica.
	Base *Node
	// Floor, when set, excludes the replicas whose Read position is before
	// it: no replica has the relay logs to bring them up to date (MHA's
	// set_no_master_if_older after a failed relay-log search).
	Floor binlog.Pos
	// Exclude are further exclusions found by the caller, such as "SSH
	// unreachable" or "lacks relay logs".
	Exclude []Exclusion
}

// Rule is the §6.4 rule that picked a new master.
type Rule string

// Rules of mha-compat §6.4, in the order they are tried.
const (
	// RuleRequested: --new_master_host named it.
	RuleRequested Rule = "requested"
	// RuleLatestNoPreference: no candidate_master and no excluded replica,
	// latest_priority=1: the first latest replica.
	RuleLatestNoPreference Rule = "latest replica, no preference"
	// RuleLatestCandidate: latest_priority=1: a latest replica that has
	// candidate_master=1.
	RuleLatestCandidate Rule = "latest candidate_master"
	// RuleCandidate: a candidate_master replica, even if behind (it will
	// receive the differences).
	RuleCandidate Rule = "candidate_master"
	// RuleLatest: latest_priority=1: a latest replica.
	RuleLatest Rule = "latest replica"
	// RuleAny: any eligible replica, in configuration order.
	RuleAny Rule = "first eligible replica"
)

// Choice is one eligible replica and the rule that ranks it.
type Choice struct {
	Node *Node
	Rule Rule
}

// Selection is the outcome of SelectNewMaster.
type Selection struct {
	// Latest and Oldest are the replicas with the greatest and smallest
	// Read position.
	Latest, Oldest []*Node
	// NewMaster is the chosen replica (Order[0].Node).
	NewMaster *Node
	// Rule is the rule that chose it.
	Rule Rule
	// Order lists every eligible replica in the order the rules rank them,
	// the new master first; the others are fallbacks for the caller, which
	// MHA itself never uses.
	Order []Choice
	// Excluded lists the servers that may not become master, and why, in
	// configuration order.
	Excluded []Exclusion
}

// SelectNewMaster chooses the new master among t's replicas as MHA's
// select_new_master does (mha-compat §6.4). A replica is excluded when it
// has no_master=1, log-bin off, a newer version than the oldest replica,
// (with check_repl_delay=1) an SQL thread a binlog file or
// MaxExecDelayBytes behind the latest Read position, a Read position before
// opts.Floor, or an exclusion from opts.Exclude. Then, first match wins:
// --new_master_host (no fallback); the first latest replica when nothing is
// configured or excluded and latest_priority=1; a latest candidate_master;
// any candidate_master; a latest replica; any replica. latest_priority
// comes from the first latest replica's configuration, check_repl_delay
// from opts.Base's (or the first latest replica's). The error is a
// *NoCandidateError when nobody qualifies.
func SelectNewMaster(t *Topology, opts SelectOptions) (Selection, error) {
	var sel Selection
	replicas := t.Replicas()
	latest, oldest, err := LatestReplicas(replicas)
	if err != nil {
		return sel, err
	}
	sel.Latest, sel.Oldest = latest, oldest

	bad := map[*Node][]string{}
	for _, n := range t.Nodes {
		if n.Role != RoleReplica {
			bad[n] = []string{notReplicaReason(n)}
			continue
		}
		bad[n] = append(bad[n], cannotBeMaster(n)...)
	}
	if len(latest) > 0 {
		base := opts.Base
		if base == nil {
			base = latest[0]
		}
		if base.Server.CheckReplDelay && !opts.SkipDelayCheck {
			for _, n := range replicas {
				if why, ok := execDelay(n, latest[0]); ok {
					bad[n] = append(bad[n], why)
				}
			}
		}
	}
	if !opts.Floor.IsZero() {
		for _, n := range replicas {
			c, err := binlog.Compare(readPos(n), opts.Floor)
			switch {
			case err != nil:
				bad[n] = append(bad[n], fmt.Sprintf("Read position %s cannot be compared with %s", readPos(n), opts.Floor))
			case c < 0:
				bad[n] = append(bad[n], fmt.Sprintf("received the master's binlog only up to %s, before %s where the available relay logs start, so it cannot be brought up to date", readPos(n), opts.Floor))
			}
		}
	}
	for _, x := range opts.Exclude {
		if x.Node != nil {
			bad[x.Node] = append(bad[x.Node], x.Reasons...)
		}
	}
	for _, n := range t.Nodes {
		if len(bad[n]) > 0 {
			sel.Excluded = append(sel.Excluded, Exclusion{Node: n, Reasons: bad[n]})
		}
	}
	ok := func(n *Node) bool { return len(bad[n]) == 0 }

	if opts.NewMasterHost != "" {
		port := opts.NewMasterPort
		if port == 0 {
			port = 3306
		}
		req := config.HostPort(opts.NewMasterHost, port)
		n := t.Lookup(opts.NewMasterHost, port)
		if n == nil {
			return sel, &NoCandidateError{Requested: req}
		}
		if !ok(n) {
			return sel, &NoCandidateError{Requested: req, Excluded: []Exclusion{{Node: n, Reasons: bad[n]}}}
		}
		sel.NewMaster, sel.Rule = n, RuleRequested
		sel.Order = []Choice{{n, RuleRequested}}
		return sel, nil
	}

	var candidates []*Node
	for _, n := range t.Nodes {
		if n.Alive() && n.Server.CandidateMaster {
			candidates = append(candidates, n)
		}
	}
	anyBad := false
	for _, n := range replicas {
		anyBad = anyBad || !ok(n)
	}
	latestPriority := len(latest) > 0 && latest[0].Server.LatestPriority

	seen := map[*Node]bool{}
	push := func(n *Node, r Rule) {
		if !seen[n] && ok(n) {
			seen[n] = true
			sel.Order = append(sel.Order, Choice{n, r})
		}
	}
	if len(candidates) == 0 && !anyBad && latestPriority {
		push(latest[0], RuleLatestNoPreference)
	}
	if latestPriority {
		for _, n := range latest {
			if n.Server.CandidateMaster {
				push(n, RuleLatestCandidate)
			}
		}
	}
	for _, n := range replicas {
		if n.Server.CandidateMaster {
			push(n, RuleCandidate)
		}
	}
	if latestPriority {
		for _, n := range latest {
			push(n, RuleLatest)
		}
	}
	for _, n := range replicas {
		push(n, RuleAny)
	}
	if len(sel.Order) == 0 {
		return sel, &NoCandidateError{Excluded: sel.Excluded}
	}
	sel.NewMaster, sel.Rule = sel.Order[0].Node, sel.Order[0].Rule
	return sel, nil
}

// notReplicaReason says why a server that is not an alive, working replica
// cannot be promoted.
func notReplicaReason(n *Node) string {
	switch n.Role {
	case RoleMaster:
		if !n.Alive() {
			return "is the dead master"
		}
		return "is the current master"
	case RoleDead:
		return "is dead (" + oneLine(errText(n.Err)) + ")"
	case RoleFailedReplica:
		return fmt.Sprintf("its SQL thread stopped with error %d", n.Replica().LastSQLErrno)
	case RoleUnmanaged:
		return "is unmanaged (replicates from " + n.Source.Host() + ", multi_tier_slave=1)"
	}
	return "is not a replica of the master"
}

// execDelay is check_repl_delay's rule: the replica's SQL thread (Exec) is
// in an older binlog file than the latest Read position, or more than
// MaxExecDelayBytes behind it in the same file.
func execDelay(n, latest *Node) (string, bool) {
	exec, read := n.Replica().Exec, latest.Replica().Read
	eb, en, err1 := binlog.SplitName(exec.File)
	rb, rn, err2 := binlog.SplitName(read.File)
	if err1 != nil || err2 != nil || eb != rb {
		return fmt.Sprintf("its Exec position %s cannot be compared with the latest Read position %s", exec, read), true
	}
	switch {
	case en < rn:
		return fmt.Sprintf("its SQL thread is at least one binlog file behind (Exec %s, latest Read %s): recovery would take long", exec, read), true
	case en == rn && exec.Offset+MaxExecDelayBytes < read.Offset:
		return fmt.Sprintf("its SQL thread is more than %d bytes behind (Exec %s, latest Read %s): recovery would take long", MaxExecDelayBytes, exec, read), true
	}
	return "", false
}
