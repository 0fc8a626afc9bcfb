package topology

import (
	"fmt"
	"strings"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/mysqlx"
)

// TreeOptions chooses what Tree prints.
type TreeOptions struct {
	// Details appends each server's state in brackets: the master's binary
	// log position and GTID position; a replica's IO/SQL threads, Read and
	// Exec positions, lag and promotion flags; a dead server's error.
	Details bool
}

// Tree renders the topology in MHA's shape (mha-compat §5.1 step 15):
//
//	db1(198.18.0.11:3306) (current master)
//	 +--db2(198.18.0.12:3306)
//	 +--db3(198.18.0.13:3306)
//
// A node_label follows the host in parentheses as in MHA. Replicas of
// replicas are indented under their source; dead servers other than the
// master are listed under the master (their source is unknown); servers
// that fit nowhere follow as their own roots. Without Details, only
// servers that are not plain replicas get a bracketed status ([dead],
// [unmanaged], ...).
func (t *Topology) Tree(opts TreeOptions) string {
	var b strings.Builder
	done := map[*Node]bool{}
	var walk func(n *Node, depth int)
	walk = func(n *Node, depth int) {
		done[n] = true
		if depth > 0 {
			b.WriteString(strings.Repeat("    ", depth-1))
			b.WriteString(" +--")
		}
		b.WriteString(t.line(n, opts))
		b.WriteByte('\n')
		for _, c := range t.Nodes {
			if done[c] || c == t.Master {
				continue
			}
			if c.Source == n || n == t.Master && c.Role == RoleDead {
				walk(c, depth+1)
			}
		}
	}
	if t.Master != nil {
		walk(t.Master, 0)
	}
	for _, n := range t.Nodes { // roots: servers without a configured source
		if !done[n] && (n.Source == nil || n.Source == n) {
			walk(n, 0)
		}
	}
	for _, n := range t.Nodes { // what is left sits on a replication cycle
		if !done[n] {
			walk(n, 0)
		}
	}
	return b.String()
}

func (t *Topology) line(n *Node, opts TreeOptions) string {
	s := n.Host()
	if n == t.Master {
		s += " (current master)"
	}
	if n.Server.NodeLabel != "" {
		s += " (" + n.Server.NodeLabel + ")"
	}
	var tags []string
	switch n.Role {
	case RoleDead:
		if ServerUpErrno(n.Errno) {
			tags = append(tags, "refused")
		} else {
			tags = append(tags, "dead")
		}
	case RoleMaster:
		if !n.Alive() {
			tags = append(tags, "dead")
		}
	case RoleFailedReplica:
		tags = append(tags, fmt.Sprintf("SQL error %d", n.Replica().LastSQLErrno))
	case RoleUnmanaged:
		tags = append(tags, "unmanaged")
	case RoleStray:
		if r := n.Replica(); r != nil {
			tags = append(tags, "stray: replicates from "+config.HostPort(r.SourceHost, r.SourcePort))
		} else if t.Master != nil {
			tags = append(tags, "stray: not a replica")
		}
	}
	if opts.Details {
		tags = append(tags, details(n)...)
	}
	if len(tags) > 0 {
		s += " [" + strings.Join(tags, " ") + "]"
	}
	return s
}

func details(n *Node) []string {
	if !n.Alive() {
		return []string{"err=" + oneLine(errText(n.Err))}
	}
	var d []string
	st := n.State
	if r := n.Replica(); r != nil {
		io := r.IORunning
		if io == mysqlx.IOUnknown {
			io = mysqlx.IOStopped
		}
		sql := "No"
		if r.SQLRunning {
			sql = "Yes"
		}
		lag := "NULL"
		if r.SecondsBehind != nil {
			lag = fmt.Sprintf("%ds", *r.SecondsBehind)
		}
		d = append(d, "IO:"+string(io), "SQL:"+sql, "read="+r.Read.String(), "exec="+r.Exec.String(), "lag="+lag)
		if n.Role == RoleMaster && n.Source != nil {
			d = append(d, "source="+n.Source.Host())
		}
	}
	if n.Role == RoleMaster {
		if !st.Binlog.IsZero() {
			d = append(d, "binlog="+st.Binlog.String())
		}
		if g := st.GTID.Current(); g != "" {
			d = append(d, "gtid="+oneLine(g))
		}
	}
	if st.ReadOnly && n.Role == RoleMaster {
		d = append(d, "read_only")
	}
	if n.Server.CandidateMaster {
		d = append(d, "candidate_master")
	}
	if n.Server.NoMaster {
		d = append(d, "no_master")
	}
	if !st.LogBin {
		d = append(d, "log-bin=off")
	}
	return d
}
