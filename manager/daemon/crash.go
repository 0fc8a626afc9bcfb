package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/failover"
	"github.com/gomha/gomha/manager/journal"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/repoint"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/manager/statefile"
	"github.com/gomha/gomha/manager/topology"
)

// crashGuard runs before a manager monitors or a dead-master switch fails
// over: it reads the failover journal and the health file a previous
// manager left. After an unfinished failover it makes sure
// <app>.failover.error exists, tells which step was done last and what
// may be half done, and refuses (exit 1) unless resume is set and the
// journal allows it; then it returns the plan to carry out. It returns nil
// and no error when there is nothing to resume.
//
// It never touches the health file: a stale FAILOVER_RUNNING stays for
// check-status to report until a manager really starts.
func crashGuard(workdir, app string, resume bool, log *slog.Logger, out io.Writer) (*resumePlan, error) {
	st, err := journal.Read(workdir, app)
	if err != nil {
		return nil, &ExitError{Code: 1, Err: fmt.Errorf("%w; check it and the servers, then move it away", err)}
	}
	errFile := statefile.ErrorPath(workdir, app)
	stale := staleFailover(workdir, app)
	say := func(msg string) {
		log.Error(msg)
		fmt.Fprintln(out, msg)
	}
	if !st.Unfinished() {
		if stale == "" {
			return nil, nil
		}
		if st == nil {
			// A killed manager that wrote no journal (an older gomha, or
			// MHA): nobody can tell how far it got.
			if err := statefile.MarkError(workdir, app); err != nil {
				log.Error("cannot create the failover error flag", "err", err)
			}
			msg := stale + ", and no failover journal tells how far it got. Check the servers by hand, then remove " +
				statefile.HealthPath(workdir, app) + " and " + errFile + " and start again."
			say(msg)
			return nil, &ExitError{Code: 1, Err: errors.New(msg)}
		}
		log.Warn(stale+"; its journal says the failover ended.", "journal", st.Summary())
		fmt.Fprintln(out, stale+"; "+st.Summary()+".")
		return nil, nil
	}

	if pid, hs, _, _, err := statefile.ReadHealth(statefile.HealthPath(workdir, app)); err == nil && hs == statefile.FailoverRunning && ProcessAlive(pid) {
		// Not a crash: another manager is failing over right now.
		msg := fmt.Sprintf("A failover is running (manager pid %d, %s): %s.", pid, hs, st.Summary())
		say(msg)
		return nil, &ExitError{Code: 1, Err: errors.New(msg)}
	}
	if err := statefile.MarkError(workdir, app); err != nil {
		log.Error("cannot create the failover error flag", "err", err)
	}
	p := planResume(st)
	head := "An earlier failover did not finish: " + p.Summary + "."
	if stale != "" {
		head = stale + ". " + head
	}
	say(head)
	switch {
	case p.Action == resumeRefuse:
		msg := "Cannot resume it: " + p.Reason + ". Failover error flag file " + errFile +
			" exists. After checking and finishing by hand, move " + st.File + " away, remove " + errFile + " and start again."
		say(msg)
		return nil, &ExitError{Code: 1, Err: fmt.Errorf("%w: %s. %s", journal.ErrUnfinished, p.Summary, msg)}
	case !resume:
		msg := "Refusing to act blindly: failover error flag file " + errFile + " exists. With --resume: " + p.Reason + "."
		say(msg)
		return nil, &ExitError{Code: 1, Err: fmt.Errorf("%w: %s. %s", journal.ErrUnfinished, p.Summary, msg)}
	}
	log.Warn("--resume: "+p.Reason, "action", p.Action.String())
	fmt.Fprintln(out, "--resume: "+p.Reason+".")
	return &p, nil
}

// staleFailover describes a health file left in FAILOVER_RUNNING by a
// manager that is gone, "" when there is none.
func staleFailover(workdir, app string) string {
	pid, st, master, _, err := statefile.ReadHealth(statefile.HealthPath(workdir, app))
	if err != nil || st != statefile.FailoverRunning || ProcessAlive(pid) {
		return ""
	}
	s := fmt.Sprintf("The previous manager (pid %d) stopped in the middle of a failover (%s", pid, st)
	if master != "" {
		s += ", master:" + master
	}
	return s + "): it was killed or crashed"
}

// clearForResume removes the error flag the unfinished failover left (the
// operator asked to go on), as the resumed failover starts.
func clearForResume(workdir, app string, log *slog.Logger) {
	p := statefile.ErrorPath(workdir, app)
	if err := os.Remove(p); err == nil {
		log.Info("--resume: removed the failover error flag of the unfinished failover.", "file", p)
	} else if !errors.Is(err, fs.ErrNotExist) {
		log.Error("--resume: cannot remove the failover error flag", "file", p, "err", err)
	}
}

// rerunTarget is the dead master and its SSH reachability to fail over
// again from a resumeRerun plan.
func rerunTarget(cfg *config.Config, p *resumePlan) (config.Server, sshexec.Reach, error) {
	name, port := parseHostLabel(p.DeadMaster)
	if name == "" {
		return config.Server{}, sshexec.ReachUnknown, errors.New("--resume: the journal does not name the dead master")
	}
	dead, err := failover.FindServer(cfg, name, port)
	if err != nil {
		return config.Server{}, sshexec.ReachUnknown, fmt.Errorf("--resume: dead master %s: %w", p.DeadMaster, err)
	}
	// A journal without the number (-1) is unknown reachability.
	return dead, sshexec.FromMHA(p.SSHReachable), nil
}

// resumeRecovery finishes an unfinished failover whose new master was
// opened for writes: every replica not yet moved is pointed at the new
// master, RESET SLAVE ALL runs on the new master, the journal gets its end
// and failover.complete is written. It returns the exit code (0, or 10
// when a replica could not be moved) and the dead master's configuration.
func resumeRecovery(ctx context.Context, cfg *config.Config, workdir string, p *resumePlan, log *slog.Logger, out io.Writer) (int, config.Server, error) {
	app := cfg.App
	fail := func(err error) (int, config.Server, error) {
		if merr := statefile.MarkError(workdir, app); merr != nil {
			log.Error("cannot create the failover error flag", "err", merr)
		}
		return 1, config.Server{}, err
	}
	deadName, deadPort := parseHostLabel(p.DeadMaster)
	dead, err := failover.FindServer(cfg, deadName, deadPort)
	if err != nil {
		return fail(fmt.Errorf("--resume: dead master %q: %w", p.DeadMaster, err))
	}
	nm, err := resumeNewMaster(cfg, p)
	if err != nil {
		return fail(err)
	}
	// Read every survivor, as the failover does (the dead master is not
	// contacted).
	obs := make([]topology.Observation, len(cfg.Servers))
	conns := map[string]*mysqlx.Conn{}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i, srv := range cfg.Servers {
		if srv.Block == dead.Block {
			obs[i] = topology.Observation{Server: srv, Err: errors.New("dead master (not contacted)")}
			continue
		}
		o, c := observeServer(ctx, cfg, srv)
		obs[i] = o
		if c != nil {
			conns[srv.Block] = c
		}
	}
	t, _ := topology.Build(obs, topology.Options{IgnoreFailOnStart: true})
	mode := t.GTIDMode
	nc := conns[nm.Block]
	if nc == nil {
		return fail(fmt.Errorf("--resume: the new master %s does not answer", hostInfo(nm)))
	}
	var ro int
	if err := nc.QueryRow(ctx, "SELECT @@global.read_only").Scan(&ro); err != nil {
		return fail(fmt.Errorf("--resume: read_only on the new master %s: %w", hostInfo(nm), err))
	}
	if ro != 0 {
		log.Warn("--resume: the journal says the new master was opened, but it is read_only=1 now.", "host", hostInfo(nm))
	}
	// Which replicas to move, and whether resume may move them.
	type move struct {
		srv  config.Server
		node *topology.Node
	}
	var moves []move
	var refuse []string
	for _, n := range t.Nodes {
		srv := n.Server
		if srv.Block == dead.Block || srv.Block == nm.Block {
			continue
		}
		label := hostInfo(srv)
		if !n.Alive() {
			if srv.IgnoreFail {
				log.Warn("--resume: replica is dead and has ignore_fail=1: skipped.", "host", label)
				continue
			}
			refuse = append(refuse, label+" does not answer")
			continue
		}
		if slices.Contains(p.Repointed, label) {
			log.Info("--resume: replica was moved before the crash.", "host", label)
			continue
		}
		rs := n.Replica()
		if rs == nil {
			log.Warn("--resume: not a replica: skipped.", "host", label)
			continue
		}
		redo := slices.Contains(p.Redo, label)
		if !redo && (rs.SourceHost == nm.Hostname || rs.SourceHost == nm.IP) {
			log.Info("--resume: replica already replicates from the new master.", "host", label)
			continue
		}
		if !mode.UsesGTID() {
			switch {
			case redo:
				refuse = append(refuse, label+": its CHANGE MASTER was started and not confirmed, and without GTID doing it again could apply events twice")
				continue
			case p.Pos.File == "" || p.Pos.Offset < 4:
				refuse = append(refuse, label+": the journal does not record the new master's binlog coordinates (file/position replication needs them)")
				continue
			case !slices.Contains(p.CaughtUp, label):
				refuse = append(refuse, label+": its missing events were not applied before the crash, and --resume does not apply them")
				continue
			}
		}
		moves = append(moves, move{srv: srv, node: n})
	}
	if len(refuse) > 0 {
		return fail(fmt.Errorf("--resume: %q was done on %s (it takes writes), but --resume cannot finish the replica recovery: %s. "+
			"Point those replicas at %s by hand, then move %s away, remove %s and start again",
			stepOpen, hostInfo(nm), strings.Join(refuse, "; "), hostInfo(nm), journal.Path(workdir, app), statefile.ErrorPath(workdir, app)))
	}
	jr, err := journal.Open(workdir, app)
	if err != nil {
		return fail(err)
	}
	log.Info("--resume: finishing the replica recovery.", "new_master", hostInfo(nm), "mode", mode.String(), "replicas", len(moves))
	var failed, recovered []string
	for _, m := range moves {
		label := hostInfo(m.srv)
		src := repoint.Source{Host: nm.Hostname, Port: nm.Port, User: m.srv.ReplUser, Password: m.srv.ReplPassword}
		if rs := m.node.Replica(); rs != nil {
			if src.User == "" {
				src.User = rs.SourceUser
			}
			if net.ParseIP(rs.SourceHost) != nil {
				src.Host = nm.IP
			}
		}
		how := repoint.How{Mode: mode, Pos: p.Pos}
		if err := journaled(ctx, jr, log, stepChangeMaster, label, func(ctx context.Context) error {
			return repoint.Replica(ctx, conns[m.srv.Block], src, how)
		}); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", label, err))
			continue
		}
		recovered = append(recovered, m.srv.Hostname)
		fmt.Fprintf(out, "%s: OK: Slave started, replicating from %s\n", label, hostInfo(nm))
	}
	if nm.SkipResetSlave || len(failed) > 0 {
		log.Info("--resume: skipping RESET SLAVE ALL on the new master.", "host", hostInfo(nm))
	} else if !p.ResetDone {
		if err := journaled(ctx, jr, log, stepResetSlaveAll, hostInfo(nm), func(ctx context.Context) error {
			if err := repoint.Stop(ctx, nc); err != nil {
				return err
			}
			return nc.ResetReplicaAll(ctx)
		}); err != nil {
			failed = append(failed, fmt.Sprintf("%s: RESET SLAVE ALL: %v", hostInfo(nm), err))
		} else {
			fmt.Fprintf(out, "%s: Resetting slave info succeeded.\n", hostInfo(nm))
		}
	}
	code := failover.ExitOK
	if len(failed) > 0 {
		code = failover.ExitPartial
	}
	if err := jr.End(fmt.Sprint(code)); err != nil {
		log.Error("cannot close the failover journal", "err", err)
	}
	if err := statefile.MarkComplete(workdir, app); err != nil {
		log.Error("cannot create the failover complete flag", "err", err)
	}
	slices.Sort(recovered)
	if code == failover.ExitOK {
		fmt.Fprintf(out, "Resumed failover to %s completed successfully (replicas moved now: %s).\n", hostInfo(nm), strings.Join(recovered, ","))
		log.Info("--resume: failover completed.", "new_master", hostInfo(nm))
		return code, dead, nil
	}
	msg := fmt.Sprintf("Resumed failover to %s done, but recovery on slave partially failed: %s", hostInfo(nm), strings.Join(failed, "; "))
	fmt.Fprintln(out, msg)
	log.Error(msg)
	return code, dead, errors.New(msg)
}

// resumeNewMaster finds the server the journal says was opened.
func resumeNewMaster(cfg *config.Config, p *resumePlan) (config.Server, error) {
	if p.NewMasterBlock != "" {
		for _, s := range cfg.Servers {
			if s.Block == p.NewMasterBlock {
				return s, nil
			}
		}
	}
	name, port := parseHostLabel(p.NewMaster)
	if name == "" {
		return config.Server{}, errors.New("--resume: the journal does not name the new master")
	}
	s, err := failover.FindServer(cfg, name, port)
	if err != nil {
		return config.Server{}, fmt.Errorf("--resume: new master %q: %w", p.NewMaster, err)
	}
	return s, nil
}

// journaled runs one step of a resumed failover between its intent and
// done records, with a one-minute bound.
func journaled(ctx context.Context, jr *journal.Journal, log *slog.Logger, step, host string, fn func(context.Context) error) error {
	if err := jr.Intent(step, host, nil); err != nil {
		log.Error("cannot write the failover journal", "step", step, "host", host, "err", err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	start := time.Now()
	if err := fn(ctx); err != nil {
		log.Warn("step failed", "step", step, "host", host, "duration", time.Since(start).Round(time.Millisecond).String(), "err", err)
		return fmt.Errorf("%s on %s: %w", step, host, err)
	}
	if err := jr.Done(step, host, nil); err != nil {
		log.Error("cannot write the failover journal", "step", step, "host", host, "err", err)
	}
	log.Info("step done", "step", step, "host", host, "duration", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// observeServer reads one server's state and keeps its connection.
func observeServer(ctx context.Context, cfg *config.Config, srv config.Server) (topology.Observation, *mysqlx.Conn) {
	ctx, cancel := context.WithTimeout(ctx, 3*check.DefaultConnectTimeout)
	defer cancel()
	c, err := mysqlx.Open(ctx, check.Target(cfg, srv, check.DefaultConnectTimeout))
	var st *mysqlx.State
	if err == nil {
		st, err = c.State(ctx)
	}
	if err != nil {
		if c != nil {
			c.Close()
		}
		c = nil
	}
	return check.Observed(ctx, srv, st, err, check.DefaultConnectTimeout, net.DefaultResolver), c
}

// hostInfo is the failover's host label, "name(ip:port)", as the journal
// records hosts.
func hostInfo(s config.Server) string { return s.Label() }
