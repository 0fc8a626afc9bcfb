package daemon

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gomha/gomha/manager/journal"
	"github.com/gomha/gomha/node/binlog"
)

// resumeAction is what a manager started after an unfinished failover may
// do when the operator asks for --resume.
type resumeAction int

const (
	// resumeNothing: no journal, or its failover ended.
	resumeNothing resumeAction = iota
	// resumeRerun: only repeatable steps were started (the replicas' IO
	// threads stopped, the dead master's address or power taken away):
	// the failover runs again from the start.
	resumeRerun
	// resumeRecover: the new master was opened for writes; what is left
	// is the replica recovery (CHANGE MASTER of the replicas not yet
	// moved, RESET SLAVE ALL on the new master).
	resumeRecover
	// resumeRefuse: a step that cannot be repeated was started and the
	// new master was not opened: only the DBA can tell how far it got.
	resumeRefuse
)

func (a resumeAction) String() string {
	switch a {
	case resumeNothing:
		return "nothing"
	case resumeRerun:
		return "run the failover again"
	case resumeRecover:
		return "finish the replica recovery"
	case resumeRefuse:
		return "refuse"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Journal step names (manager/failover's irreversible steps).
const (
	stepStopIO        = "stop IO thread"
	stepIPStop        = "master_ip_failover_script stop"
	stepShutdownStop  = "shutdown_script stop"
	stepStopSQL       = "stop SQL thread"
	stepApply         = "apply missing events"
	stepIPStart       = "master_ip_failover_script start"
	stepOpen          = "set read_only=0"
	stepChangeMaster  = "change master"
	stepResetSlaveAll = "reset slave all"
)

// repeatable says whether a step may run twice without harm: it changes
// no data (a stopped thread, a removed address, a powered-off host, the
// fencing of the old master).
func repeatable(step string) bool {
	switch step {
	case stepStopIO, stepIPStop, stepShutdownStop, stepStopSQL:
		return true
	}
	return strings.HasPrefix(step, "fence")
}

// handCheck says what the DBA must check by hand after step was started
// on host and not confirmed, or done and not repeatable.
func handCheck(step, host string, done bool) string {
	switch step {
	case stepApply:
		if done {
			return fmt.Sprintf("%s has applied the missing events: running the failover again would apply them twice; "+
				"finish the failover by hand (promote %s or point it at the new master)", host, host)
		}
		return fmt.Sprintf("%s may have applied part of the missing events: compare its data and position (or GTID) "+
			"with the dead master's binlog and the latest replica before promoting or repointing it", host)
	case stepIPStart:
		return fmt.Sprintf("the master IP address may already point at %s while it is still read-only: "+
			"check where the address is and whether %s has every event", host, host)
	case stepOpen:
		return fmt.Sprintf("%s may already take writes (read_only=0): check read_only on it and on the other servers "+
			"before any of them is opened", host)
	case stepChangeMaster:
		return fmt.Sprintf("%s may be half repointed: check its replication source, position and threads", host)
	case stepResetSlaveAll:
		return fmt.Sprintf("check the replica configuration of %s (SHOW SLAVE STATUS)", host)
	}
	return fmt.Sprintf("check what step %q did on %s", step, host)
}

// resumePlan is planResume's answer.
type resumePlan struct {
	Action resumeAction
	// Reason says why (a refusal's reason, or what --resume will do).
	Reason string
	// Summary is the journal's own summary.
	Summary string
	// DeadMaster is the dead master named by the journal's begin record
	// ("host(ip:port)"), "" when the journal does not say.
	DeadMaster string
	// SSHReachable is the dead master's SSH reachability the failover
	// started with (begin detail "ssh_reachable"), -1 when not recorded.
	SSHReachable int

	// The rest is for resumeRecover.

	// NewMaster is the host opened for writes, as the journal names it.
	NewMaster string
	// NewMasterBlock is its configuration block, when recorded.
	NewMasterBlock string
	// Pos and GTID are the new master's coordinates recorded when it was
	// opened (empty when not recorded: file/position replicas then cannot
	// be repointed).
	Pos  binlog.Pos
	GTID string
	// Repointed are the replicas whose "change master" was done.
	Repointed []string
	// Redo are the replicas whose "change master" was started and not
	// confirmed: safe to do again only with GTID.
	Redo []string
	// CaughtUp are the replicas whose "apply missing events" was done
	// (file/position replicas need it before they are repointed).
	CaughtUp []string
	// ResetDone is true when RESET SLAVE ALL on the new master was done.
	ResetDone bool
}

// planResume decides, from an unfinished failover's journal alone, what a
// restarted manager may do: run the failover again, finish its replica
// recovery, or refuse and name the step the DBA must check. It is pure.
func planResume(st *journal.State) resumePlan {
	if !st.Unfinished() {
		return resumePlan{Action: resumeNothing, SSHReachable: -1}
	}
	p := resumePlan{Summary: st.Summary(), DeadMaster: st.Begin.Detail["dead_master"], SSHReachable: -1}
	if v, err := strconv.Atoi(st.Begin.Detail["ssh_reachable"]); err == nil {
		p.SSHReachable = v
	}
	// Which steps were done, and the detail of each record.
	done := map[string]bool{} // step + "\x00" + host
	for _, r := range st.Records {
		if r.Kind == journal.KindDone {
			done[r.Step+"\x00"+r.Host] = true
		}
	}
	var opened *journal.Record
	openDetail := map[string]string{}
	for i, r := range st.Records {
		if r.Step != stepOpen || (r.Kind != journal.KindIntent && r.Kind != journal.KindDone) {
			continue
		}
		for k, v := range r.Detail {
			openDetail[k] = v
		}
		if r.Kind == journal.KindDone {
			opened = &st.Records[i]
		}
	}

	if opened == nil {
		// Not opened: a rerun is safe only when nothing unrepeatable was
		// started.
		for _, r := range st.Records {
			if r.Kind != journal.KindIntent || repeatable(r.Step) {
				continue
			}
			ok := done[r.Step+"\x00"+r.Host]
			state := "was started and NOT confirmed done"
			if ok {
				state = "was done"
			}
			p.Action = resumeRefuse
			p.Reason = fmt.Sprintf("step %q on %s %s, and it cannot be repeated: %s", r.Step, r.Host, state, handCheck(r.Step, r.Host, ok))
			return p
		}
		p.Action = resumeRerun
		p.Reason = "only repeatable steps were started (the replicas' IO threads stopped, the dead master's address or power taken away): --resume runs the failover again"
		return p
	}

	// Opened: the new master takes writes; what is left is Phase 4 and 5.
	p.NewMaster = detailOf(openDetail, "new_master", "new_master_host", "host")
	if p.NewMaster == "" {
		p.NewMaster = opened.Host
	}
	p.NewMasterBlock = detailOf(openDetail, "new_master_block", "block")
	p.Pos.File = detailOf(openDetail, "binlog_file", "file", "master_log_file")
	if v := detailOf(openDetail, "binlog_pos", "pos", "master_log_pos"); v != "" {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			p.Pos.Offset = n
		}
	}
	p.GTID = detailOf(openDetail, "gtid", "gtid_binlog_pos", "new_master_gtid")
	for _, r := range st.Pending() {
		switch r.Step {
		case stepOpen:
			// Its done record is there (a second intent of the same step on
			// the same host would be odd; the done one counts).
		case stepChangeMaster:
			p.Redo = append(p.Redo, r.Host)
		case stepResetSlaveAll, stepStopIO, stepStopSQL:
			// Repeatable.
		default:
			if repeatable(r.Step) {
				continue
			}
			p.Action = resumeRefuse
			p.Reason = fmt.Sprintf("the new master %s was opened for writes, but step %q on %s was started and NOT confirmed done: %s",
				p.NewMaster, r.Step, r.Host, handCheck(r.Step, r.Host, false))
			return p
		}
	}
	for _, r := range st.Records {
		if r.Kind != journal.KindDone {
			continue
		}
		switch r.Step {
		case stepChangeMaster:
			p.Repointed = append(p.Repointed, r.Host)
		case stepApply:
			p.CaughtUp = append(p.CaughtUp, r.Host)
		case stepResetSlaveAll:
			p.ResetDone = true
		}
	}
	p.Action = resumeRecover
	p.Reason = fmt.Sprintf("the new master %s was opened for writes: --resume points the replicas not yet moved at it and resets its replica configuration", p.NewMaster)
	return p
}

// detailOf returns the first non-empty value of keys in m.
func detailOf(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := strings.TrimSpace(m[k]); v != "" {
			return v
		}
	}
	return ""
}

// parseHostLabel splits a journal host label, "name(ip:port)" (or
// "name([ip]:port)"), into its name and port; a bare name has port 0.
func parseHostLabel(label string) (name string, port int) {
	name, rest, ok := strings.Cut(label, "(")
	if !ok {
		return strings.TrimSpace(label), 0
	}
	rest = strings.TrimSuffix(rest, ")")
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		port, _ = strconv.Atoi(rest[i+1:])
	}
	return strings.TrimSpace(name), port
}
