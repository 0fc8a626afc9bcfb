package failover

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/repoint"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/manager/topology"
	"github.com/gomha/gomha/node/binlog"
)

// ---- Phase 3 ----

// target is one survivor being brought to the end point.
type target struct {
	node *topology.Node
	conn Server
	plan Target
	// exec is where its SQL thread stopped; read what its IO thread
	// received.
	exec, read binlog.Pos
}

func (r *run) recoverMaster(ctx context.Context) error {
	// Fresh positions, now that no IO thread runs; the plan again from
	// them.
	r.refresh(ctx)
	p := r.makePlan()
	r.plan = p
	r.res.Plan = p.String()
	r.log.Info("failover plan\n" + p.String())
	if len(p.Blockers) > 0 {
		return fmt.Errorf("%w:\n  %s", ErrTopology, strings.Join(p.Blockers, "\n  "))
	}
	r.res.EndPoint = p.End
	r.log.Info(fmt.Sprintf("The latest binary log file/position on all slaves is %s", p.End), "host", p.Latest[0].Host())
	for _, x := range p.Excluded {
		r.log.Info("not a candidate", "host", x.Node.Host(), "why", strings.Join(x.Reasons, "; "))
	}
	for _, s := range p.Skipped {
		r.mu.Lock()
		r.res.Failed = append(r.res.Failed, s)
		r.mu.Unlock()
		r.note("Skipped " + s)
	}
	// Lagging targets finish their relay logs meanwhile, each with its own
	// SQL thread: they need nobody else.
	r.startOwnSQL(ctx)
	r.saveTail(ctx, p)

	var errs []error
	for i, c := range p.Candidates {
		activated, err := r.promote(ctx, c)
		if err == nil {
			return nil
		}
		// Once writable, or when a hook refused, the failover was
		// cancelled or this manager may no longer act, another candidate
		// would not help.
		if activated || errors.Is(err, ErrHook) || errors.Is(err, ErrNotActive) || ctx.Err() != nil {
			return fmt.Errorf("recover new master %s: %w", c.Node.Host(), err)
		}
		errs = append(errs, fmt.Errorf("%s: %w", c.Node.Host(), err))
		r.fail(c.Node, fmt.Errorf("could not be made the new master: %w", err))
		if i+1 < len(p.Candidates) {
			r.note(fmt.Sprintf("New master candidate %s failed before it was opened for writes; trying %s.", c.Node.Host(), p.Candidates[i+1].Node.Host()))
		}
	}
	r.res.NewMaster.Block = ""
	return fmt.Errorf("no candidate could be made the new master: %w", errors.Join(errs...))
}

// promote brings candidate c to the end point and opens it for writes.
// activated says whether it became writable (no fallback after that).
func (r *run) promote(ctx context.Context, c Candidate) (activated bool, err error) {
	nm := c.Node
	conn := r.conn(nm.Server.Block)
	tg := r.plan.Target(nm.Server.Block)
	if conn == nil || tg == nil {
		return false, errors.New("no session to it any more")
	}
	r.mu.Lock()
	r.res.NewMaster = nm.Server
	r.res.Why = fmt.Sprintf("%s: rule %q; it had received up to %s (latest %s)", nm.Host(), c.Rule, nm.Replica().Read, r.plan.End)
	r.mu.Unlock()
	r.note(fmt.Sprintf("Selected %s as a new master (%s).", nm.Host(), c.Rule))

	t := &target{node: nm, conn: conn, plan: *tg}
	if err := r.catchUp(ctx, t); err != nil {
		return false, err
	}
	r.note(fmt.Sprintf("%s: OK: Applying all logs succeeded.", nm.Host()))

	// The new master's coordinates: where the other replicas start.
	if err := r.step(ctx, "read new master coordinates", nm.Host(), r.opts.StepTimeout, nil, func(ctx context.Context) error {
		pos, _, err := conn.BinlogStatus(ctx)
		if err != nil {
			return err
		}
		st, err := conn.State(ctx)
		if err != nil {
			return err
		}
		gtid := st.GTID.Binlog()
		r.mu.Lock()
		r.res.NewMasterPos, r.res.NewMasterGTID = pos, gtid
		r.mu.Unlock()
		return nil
	}); err != nil {
		return false, err
	}
	r.log.Info("new master coordinates", "host", nm.Host(), "binlog_file", r.res.NewMasterPos.File, "binlog_pos", r.res.NewMasterPos.Offset, "gtid", r.res.NewMasterGTID)

	if cmd := nm.Server.MasterIPFailoverScript; cmd != "" {
		if r.hookStartFor != "" {
			r.log.Warn("master_ip_failover_script start ran for a candidate that failed; running it again for the next one", "failed", r.hookStartFor, "host", nm.Host())
		}
		orig := hooks.EndpointOf(r.res.DeadMaster)
		orig.SSHUnreachable = r.reach != sshexec.Reachable
		r.hookStartFor = nm.Host()
		if err := r.hook(ctx, "master_ip_failover_script", "start", cmd, hooks.FailoverStartArgs(orig, hooks.EndpointOf(nm.Server))); err != nil {
			return false, err
		}
		r.note(fmt.Sprintf("%s: OK: Activated master IP address.", nm.Host()))
	} else {
		r.log.Warn("master_ip_failover_script is not set. Skipping taking over new master IP address.")
	}
	if !r.opts.SkipDisableReadOnly {
		detail := map[string]string{
			"block": nm.Server.Block, "host": nm.Host(),
			"binlog_file": r.res.NewMasterPos.File, "binlog_pos": fmt.Sprint(r.res.NewMasterPos.Offset),
			"gtid": r.res.NewMasterGTID,
		}
		if err := r.step(ctx, "set read_only=0", nm.Host(), r.opts.StepTimeout, detail, func(ctx context.Context) error {
			return conn.SetReadOnly(ctx, false)
		}); err != nil {
			return false, err
		}
	}
	r.mu.Lock()
	r.res.MasterActivatedAt = time.Now()
	r.mu.Unlock()
	r.log.Info("** Finished master recovery successfully.", "host", nm.Host())
	return true, nil
}

// refresh rereads every survivor's state into the topology; one that does
// not answer any more is dropped and reported.
func (r *run) refresh(ctx context.Context) {
	each(r.replicas(), func(n *topology.Node) error {
		err := r.step(ctx, "read replica status", n.Host(), r.opts.StepTimeout, nil, func(ctx context.Context) error {
			st, err := r.conn(n.Server.Block).State(ctx)
			if err != nil {
				return err
			}
			if st.Replica == nil {
				return errors.New("not a replica any more")
			}
			n.State = st
			return nil
		})
		if err != nil {
			r.fail(n, err)
		}
		return err
	})
}

// saveTail reads the dead master's binlog after the end point once, into
// the manager's workdir, when the plan says it is readable; otherwise it
// records what may be lost.
func (r *run) saveTail(ctx context.Context, p Plan) {
	dead := r.res.DeadMaster
	lost := func(why string) {
		r.mu.Lock()
		r.res.Lost = fmt.Sprintf("Dead master %s could not be read (%s): any transaction it wrote after %s (the latest Read position, on %s) is lost.", hostInfo(dead), why, p.End, p.Latest[0].Host())
		r.mu.Unlock()
		r.log.Warn(r.res.Lost)
	}
	if !p.Tail {
		lost(p.NoTail)
		return
	}
	var res nodeResult
	var ok bool
	var local string
	err := r.step(ctx, "save dead master binlog", check.SSHName(dead), r.opts.ApplyTimeout, nil, func(ctx context.Context) error {
		h, err := r.nodes.Get(ctx, dead)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("saved_master_binlog_from_%s_%d_%s.binlog", dead.Hostname, dead.Port, r.ts)
		res, ok, err = h.SaveTail(ctx, p.End, name)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		// It must hold at least what the latest replica received (it may
		// not after an OS crash with sync_binlog=0).
		if end, perr := binlog.ParsePos(res.End); perr == nil {
			if c, cerr := binlog.Compare(end, p.End); cerr == nil && c < 0 {
				return fmt.Errorf("its binlog ends at %s, before %s that a replica received", end, p.End)
			}
		}
		local, err = h.Fetch(ctx, res.OutputFile, r.opts.Workdir)
		return err
	})
	if err != nil {
		r.log.Warn("Failed to save binary log events from the dead master. Maybe disks on binary logs are not accessible or binary log itself is corrupt?", "host", hostInfo(dead), "err", err)
		lost(fmt.Sprintf("its binlog: %v", err))
		return
	}
	if !ok {
		r.note(fmt.Sprintf("The dead master's binlog holds nothing after %s: the latest replica received everything it wrote.", p.End))
		return
	}
	r.tail = local
	r.mu.Lock()
	r.res.TailEvents, r.res.TailBytes = res.Events, res.Bytes
	r.mu.Unlock()
	r.note(fmt.Sprintf("Only the dead master had %d events (%d bytes) after %s, up to %s: saved once, applied to every survivor.", res.Events, res.Bytes, p.End, res.End))
}

// catchUp brings target t to the end point: its own SQL thread finishes
// its relay log, then the latest replica's relay-log difference from where
// it stopped and the dead master's tail are applied as ONE file.
func (r *run) catchUp(ctx context.Context, t *target) error {
	host := t.node.Host()
	for _, src := range t.plan.Sources {
		if src.Kind != SourceOwnSQL {
			continue
		}
		var err error
		if ch := r.own[t.node.Server.Block]; ch != nil {
			err = <-ch // started at the beginning of Phase 3
		} else {
			err = r.finishStep(ctx, t, src.To)
		}
		if err != nil {
			return err
		}
	}
	if err := r.step(ctx, "stop SQL thread", host, r.opts.StepTimeout, nil, func(ctx context.Context) error {
		if err := t.conn.StopReplication(ctx); err != nil {
			return err
		}
		rs, err := t.conn.ReplicaStatus(ctx)
		if err != nil {
			return err
		}
		if rs == nil {
			return errors.New("not a replica any more")
		}
		t.exec, t.read = rs.Exec, rs.Read
		return nil
	}); err != nil {
		return err
	}
	end := r.plan.End
	r.log.Info(fmt.Sprintf("Server %s executed up to %s and received up to %s; the end point is %s.", host, t.exec, t.read, end), "host", host)

	// What it lacks: the relay-log difference, then the tail.
	type piece struct {
		remote string
		from   Node
		same   bool // generated on the target's own host
	}
	var diff *piece
	wantTail := false
	for _, src := range t.plan.Sources {
		switch src.Kind {
		case SourceRelayDiff:
			if c, err := binlog.Compare(t.exec, end); err == nil && c >= 0 {
				continue
			}
			bases := []*topology.Node{src.Host}
			for _, n := range r.plan.Latest {
				if n != src.Host {
					bases = append(bases, n)
				}
			}
			var errs []error
			for _, base := range bases {
				var file string
				var h Node
				err := r.step(ctx, "generate relay log diff", base.Host(), r.opts.ApplyTimeout, nil, func(ctx context.Context) error {
					var err error
					h, err = r.nodes.Get(ctx, base.Server)
					if err != nil {
						return err
					}
					name := fmt.Sprintf("relay_from_%s_to_latest_%s_%d_%s.binlog", strings.ReplaceAll(t.exec.String(), ":", "_"), t.node.Server.Hostname, t.node.Server.Port, r.ts)
					res, ok, err := h.Generate(ctx, base.State.ServerID, relayDir(base.State), base.Replica().Read, t.exec, name, r.ts)
					if err != nil {
						return err
					}
					if ok {
						file = res.DiffFile
						r.log.Info("relay log diff", "host", host, "from", t.exec.String(), "to", end.String(), "events", res.Events, "bytes", res.Bytes, "source", base.Host())
					}
					return nil
				})
				if err == nil {
					if file != "" {
						diff = &piece{remote: file, from: h, same: base == t.node}
						r.note(fmt.Sprintf("%s: Generating relay diff files from the latest slave %s succeeded (%s to %s).", host, base.Host(), t.exec, end))
					}
					errs = nil
					break
				}
				errs = append(errs, err)
			}
			if len(errs) > 0 {
				return fmt.Errorf("no latest replica has the relay logs from %s on: %w", t.exec, errors.Join(errs...))
			}
		case SourceTail:
			wantTail = r.tail != ""
		}
	}
	if diff == nil && !wantTail {
		r.log.Info("nothing to apply", "host", host)
		return nil
	}
	th, err := r.nodes.Get(ctx, t.node.Server)
	if err != nil {
		return err
	}
	var remote string
	var files []string
	if err := r.step(ctx, "copy missing events", host, r.opts.ApplyTimeout, nil, func(ctx context.Context) error {
		var err error
		switch {
		case diff != nil && wantTail:
			local, err := diff.from.Fetch(ctx, diff.remote, r.opts.Workdir)
			if err != nil {
				return err
			}
			combined := filepath.Join(r.opts.Workdir, fmt.Sprintf("missing_events_for_%s_%d_%s.binlog", t.node.Server.Hostname, t.node.Server.Port, r.ts))
			if err := combine(combined, local, r.tail); err != nil {
				return err
			}
			files = []string{filepath.Base(diff.remote), filepath.Base(r.tail)}
			remote, err = th.Put(ctx, combined)
			return err
		case diff != nil:
			files = []string{filepath.Base(diff.remote)}
			remote, err = move(ctx, diff.from, th, diff.remote, r.opts.Workdir, diff.same)
			return err
		default:
			files = []string{filepath.Base(r.tail)}
			remote, err = th.Put(ctx, r.tail)
			return err
		}
	}); err != nil {
		return err
	}
	// In GTID topologies events must reach the binlog so that the other
	// replicas fetch them by GTID; otherwise disable_log_bin decides, as
	// in MHA.
	disable := t.node.Server.DisableLogBin && !r.mode.UsesGTID()
	detail := map[string]string{
		"host": host, "files": strings.Join(files, ","), "file": remote,
		"from": t.exec.String(), "to": end.String(), "tail": fmt.Sprint(wantTail),
	}
	start := time.Now()
	if err := r.step(ctx, "apply missing events", host, r.opts.ApplyTimeout, detail, func(ctx context.Context) error {
		return t.conn.Writable(ctx, func() error { return th.Apply(ctx, remote, disable, r.ts) })
	}); err != nil {
		return err
	}
	if st, err := os.Stat(filepath.Join(r.opts.Workdir, filepath.Base(remote))); err == nil {
		d := time.Since(start)
		mb := float64(st.Size()) / 1e6
		r.note(fmt.Sprintf("%s: applied %s (%.1f MB) through the client in %s (%.1f MB/s).", host, strings.Join(files, " + "), mb, d.Round(time.Millisecond), mb/max(d.Seconds(), 0.001)))
	}
	return nil
}

// startOwnSQL starts, in the background, the own-SQL-thread step of every
// file/position target whose plan has one; catchUp waits for it. (With
// GTID only the new master takes its sources, in its catchUp.)
func (r *run) startOwnSQL(ctx context.Context) {
	if r.mode.UsesGTID() {
		return
	}
	// The latest replicas' relay logs are the others' source: their own
	// SQL threads must not purge them meanwhile (restored in Phase 5).
	for _, n := range r.plan.Latest {
		if c := r.conn(n.Server.Block); c != nil && n.State.RelayLogPurge {
			if err := r.step(ctx, "keep relay logs", n.Host(), r.opts.StepTimeout, nil, func(ctx context.Context) error {
				return c.SetRelayLogPurge(ctx, false)
			}); err == nil {
				r.purged = append(r.purged, n)
			}
		}
	}
	r.own = map[string]chan error{}
	for _, tg := range r.plan.Targets {
		conn := r.conn(tg.Node.Server.Block)
		if conn == nil {
			continue
		}
		for _, src := range tg.Sources {
			if src.Kind != SourceOwnSQL {
				continue
			}
			ch := make(chan error, 1)
			r.own[tg.Node.Server.Block] = ch
			t := &target{node: tg.Node, conn: conn, plan: tg}
			go func() { ch <- r.finishStep(ctx, t, src.To) }()
		}
	}
}

// finishStep is the step "finish relay log".
func (r *run) finishStep(ctx context.Context, t *target, until binlog.Pos) error {
	host := t.node.Host()
	detail := map[string]string{"host": host, "until": until.String()}
	return r.step(ctx, "finish relay log", host, r.opts.ApplyTimeout, detail, func(ctx context.Context) error {
		reached, err := r.finishRelayLog(ctx, t, until)
		detail["reached"] = reached.String()
		return err
	})
}

// finishRelayLog lets the target's own SQL thread (its parallel applier
// where configured) apply its relay log up to until, its Read position,
// with the IO thread stopped. The relay log may end inside a transaction:
// then the SQL thread waits for the rest, which never comes; it is done
// when it says it has read all relay log and Exec no longer moves. It
// returns the Exec position reached (the caller stops the thread and reads
// the exact one).
func (r *run) finishRelayLog(ctx context.Context, t *target, until binlog.Pos) (binlog.Pos, error) {
	c := t.conn
	rs, err := c.ReplicaStatus(ctx)
	if err != nil {
		return binlog.Pos{}, err
	}
	if rs == nil {
		return binlog.Pos{}, errors.New("not a replica any more")
	}
	from := rs.Exec
	start := time.Now()
	if !rs.SQLRunning {
		if err := c.StartSQLThread(ctx); err != nil {
			return from, fmt.Errorf("start SQL thread: %w", err)
		}
	}
	last, stableSince := rs.Exec, time.Now()
	for {
		rs, err = c.ReplicaStatus(ctx)
		if err != nil {
			return last, err
		}
		if rs == nil {
			return last, errors.New("not a replica any more")
		}
		if !rs.SQLRunning && rs.LastSQLErrno != 0 {
			return rs.Exec, fmt.Errorf("SQL thread stopped with error %d: %s", rs.LastSQLErrno, rs.LastSQLError)
		}
		if cmp, err := binlog.Compare(rs.Exec, until); err == nil && cmp >= 0 {
			break
		}
		if !rs.SQLRunning {
			break
		}
		if rs.Exec != last {
			last, stableSince = rs.Exec, time.Now()
		} else if strings.Contains(strings.ToLower(rs.SQLState), "read all relay log") && time.Since(stableSince) >= time.Second {
			r.log.Info("its relay log ends inside a transaction: the SQL thread stopped at the last complete one", "host", t.node.Host(), "exec", rs.Exec.String(), "read", until.String())
			break
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return rs.Exec, err
		}
	}
	d := time.Since(start)
	msg := fmt.Sprintf("%s: its own SQL thread applied its relay log from %s to %s in %s", t.node.Host(), from, rs.Exec, d.Round(time.Millisecond))
	if from.File == rs.Exec.File && rs.Exec.Offset > from.Offset && d > 0 {
		mb := float64(rs.Exec.Offset-from.Offset) / 1e6
		msg += fmt.Sprintf(" (%.1f MB, %.1f MB/s)", mb, mb/d.Seconds())
	}
	r.note(msg + ".")
	return rs.Exec, nil
}

// relayDir is the directory of a replica's relay logs.
func relayDir(st *mysqlx.State) string {
	if st.RelayLogBase != "" {
		return filepath.Dir(st.RelayLogBase)
	}
	return st.DataDir
}

// ---- Phase 4 ----

func (r *run) recoverReplicas(ctx context.Context) error {
	if r.opts.SkipChangeMaster {
		r.log.Info("--skip_change_master is set: the replicas are left as they are.")
		return nil
	}
	nm := r.res.NewMaster
	var others []*topology.Node
	for _, n := range r.replicas() {
		if n.Server.Block != nm.Block {
			others = append(others, n)
		}
	}
	each(others, func(n *topology.Node) error {
		err := r.recoverReplica(ctx, n)
		if err != nil {
			r.fail(n, err)
			return err
		}
		r.mu.Lock()
		r.res.Recovered = append(r.res.Recovered, n.Server.Hostname)
		r.mu.Unlock()
		r.note(fmt.Sprintf("%s: OK: Slave started, replicating from %s", n.Host(), hostInfo(nm)))
		return nil
	})
	r.mu.Lock()
	slices.Sort(r.res.Recovered)
	slices.Sort(r.res.Failed)
	r.mu.Unlock()
	return nil
}

func (r *run) recoverReplica(ctx context.Context, n *topology.Node) error {
	conn := r.conn(n.Server.Block)
	tg := r.plan.Target(n.Server.Block)
	if conn == nil || tg == nil {
		return errors.New("no session to it any more")
	}
	t := &target{node: n, conn: conn, plan: *tg}
	// With GTID, a replica fetches what it lacks from the new master by
	// GTID: applying a file here would not advance gtid_slave_pos and the
	// events would come twice.
	if !r.mode.UsesGTID() {
		if err := r.catchUp(ctx, t); err != nil {
			return err
		}
	}
	nm := r.res.NewMaster
	src := repoint.Source{Host: nm.Hostname, Port: nm.Port, User: n.Server.ReplUser, Password: n.Server.ReplPassword}
	if rs := n.Replica(); rs != nil {
		if src.User == "" {
			src.User = rs.SourceUser
		}
		// MHA's rule: the hostname, or the ip when this replica named its
		// master by ip.
		if net.ParseIP(rs.SourceHost) != nil {
			src.Host = nm.IP
		}
	}
	how := repoint.How{Mode: r.mode, Pos: r.res.NewMasterPos}
	detail := map[string]string{"replica": n.Host(), "source_host": src.Host, "source_port": fmt.Sprint(src.Port), "mode": r.mode.String()}
	if r.mode.UsesGTID() {
		detail["gtid"] = r.res.NewMasterGTID
	} else {
		detail["binlog_file"], detail["binlog_pos"] = how.Pos.File, fmt.Sprint(how.Pos.Offset)
	}
	return r.step(ctx, "change master", n.Host(), r.opts.StepTimeout, detail, func(ctx context.Context) error {
		return conn.Repoint(ctx, src, how)
	})
}

// ---- Phase 5 ----

// cleanup runs RESET SLAVE ALL on the new master, whether or not every
// replica was recovered.
func (r *run) cleanup(ctx context.Context) error {
	for _, n := range r.purged {
		if c := r.conn(n.Server.Block); c != nil {
			_ = r.step(ctx, "restore relay_log_purge", n.Host(), r.opts.StepTimeout, nil, func(ctx context.Context) error {
				return c.SetRelayLogPurge(ctx, true)
			})
		}
	}
	nm := r.res.NewMaster
	if r.opts.SkipChangeMaster || nm.SkipResetSlave {
		r.log.Info("Skipping RESET SLAVE ALL on the new master.", "host", hostInfo(nm))
		return nil
	}
	c := r.conn(nm.Block)
	if c == nil {
		return nil
	}
	err := r.step(ctx, "reset slave all", hostInfo(nm), r.opts.StepTimeout, nil, func(ctx context.Context) error {
		if err := c.StopReplication(ctx); err != nil {
			return err
		}
		return c.ResetReplicaAll(ctx)
	})
	if err != nil {
		// The master is recovered and writable; a leftover replica
		// configuration is a warning, not a failed failover.
		r.mu.Lock()
		r.res.Failed = append(r.res.Failed, fmt.Sprintf("%s: RESET SLAVE ALL: %v", hostInfo(nm), err))
		r.mu.Unlock()
		return nil
	}
	r.note(fmt.Sprintf("%s: Resetting slave info succeeded.", hostInfo(nm)))
	return nil
}
