package switchover

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/repoint"
	"github.com/gomha/gomha/manager/topology"
)

// finish is what follows the point of no return: the old master unlocked
// (it stays read-only), every other replica and optionally the old master
// repointed in parallel, the new master's replication settings reset.
func (s *switcher) finish(ctx context.Context) error {
	if s.lockConn != nil {
		if _, err := s.lockConn.Exec(ctx, "UNLOCK TABLES"); err != nil {
			// Ending the session releases the global read lock too.
			s.log.Warn("UNLOCK TABLES on the old master failed; closing the session instead", "host", s.orig.Host(), "err", err)
			_ = s.lockConn.Close()
			s.lockConn = nil
		}
	}
	s.log.Info("* Switching slaves in parallel..")
	n := len(s.others)
	if s.o.OrigMasterIsNewSlave {
		n++
	}
	s.res.Replicas = make([]Repointed, n)
	var wg sync.WaitGroup
	for i, r := range s.others {
		wg.Go(func() {
			err := s.repointReplica(ctx, r)
			s.res.Replicas[i] = Repointed{Host: r.Host(), Err: err}
			s.logRepointed(r, err)
		})
	}
	if s.o.OrigMasterIsNewSlave {
		wg.Go(func() {
			err := s.repointOrig(ctx)
			s.res.Replicas[n-1] = Repointed{Host: s.orig.Host(), Err: err}
			s.logRepointed(s.orig, err)
		})
	}
	wg.Wait()
	if failed := s.res.Failed(); len(failed) > 0 {
		var lines []string
		for _, f := range failed {
			lines = append(lines, f.Host+": "+oneLine(f.Err))
		}
		s.log.Error(fmt.Sprintf("Switching master to %s done, but switching slaves partially failed.", s.new.Host()))
		return fmt.Errorf("%w: %s", ErrPartial, strings.Join(lines, "; "))
	}
	s.log.Info("All new slave servers switched successfully.")
	if !s.new.Server.SkipResetSlave {
		c := s.conns[s.new]
		if err := c.ResetReplicaAll(ctx); err != nil {
			return fmt.Errorf("%w: RESET SLAVE ALL on the new master %s: %w", ErrAfterSwitch, s.new.Host(), err)
		}
		s.log.Info("Resetting slave info on the new master succeeded.", "host", s.new.Host())
	}
	if s.o.RemoveOrigMasterConf && !s.o.OrigMasterIsNewSlave {
		found, err := config.RemoveServerBlock(s.o.Config.File, s.orig.Server.Block)
		if err != nil {
			return fmt.Errorf("%w: removing [%s] from %s: %w", ErrAfterSwitch, s.orig.Server.Block, s.o.Config.File, err)
		}
		if found {
			s.log.Info(fmt.Sprintf("Removed [%s] (%s) from %s.", s.orig.Server.Block, s.orig.Host(), s.o.Config.File))
		}
	}
	s.log.Info(fmt.Sprintf("Switching master to %s completed successfully.", s.new.Host()), "write_block", s.res.WriteBlock)
	return nil
}

func (s *switcher) logRepointed(n *topology.Node, err error) {
	if err != nil {
		s.log.Error("repointing failed", "host", n.Host(), "err", err)
		return
	}
	s.log.Info("Slave started, replicating from "+s.new.Host(), "host", n.Host())
}

// sourceHost is how replicas name the new master: by hostname when they
// named the old master by its hostname (and it differs from the ip), else
// by ip (MHA's rule, mha-compat §7 Phase 2 step 10).
func (s *switcher) sourceHost() string {
	h := s.orig.Server.Hostname
	if h == s.orig.Server.IP {
		return s.new.Server.IP
	}
	for _, r := range s.topo.Replicas() {
		if rs := r.Replica(); rs != nil && rs.SourceHost == h {
			return s.new.Server.Hostname
		}
	}
	return s.new.Server.IP
}

// how returns the coordinates replicas start from on the new master.
func (s *switcher) how() repoint.How {
	return repoint.How{Mode: s.topo.GTIDMode, Pos: s.newPos}
}

// repointReplica waits until r applied the old master's final coordinate,
// then points it at the new master.
func (s *switcher) repointReplica(ctx context.Context, r *topology.Node) error {
	ctx, cancel := context.WithTimeout(ctx, s.o.ReplicaTimeout)
	defer cancel()
	c := s.conns[r]
	if err := s.waitApplied(ctx, c, s.o.ReplicaTimeout); err != nil {
		return fmt.Errorf("switchover: %s did not apply the old master's last transaction: %w", r.Host(), err)
	}
	src := repoint.Source{Host: s.sourceHost(), Port: s.new.Server.Port, User: r.Server.ReplUser, Password: r.Server.ReplPassword}
	if src.User == "" {
		src.User = r.Replica().SourceUser
	}
	return repoint.Replica(ctx, c, src, s.how())
}

// repointOrig makes the old master (read-only, unlocked) replicate from the
// new one. With MariaDB GTID its gtid_slave_pos is set to its own last
// GTID position first: a former master's slave position is stale.
func (s *switcher) repointOrig(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.o.ReplicaTimeout)
	defer cancel()
	var c *mysqlx.Conn
	if s.lockConn != nil {
		c = s.lockConn
	} else {
		var err error
		if c, err = s.open(ctx, s.orig); err != nil {
			return err
		}
		s.lockConn = c
	}
	if s.topo.GTIDMode == topology.GTIDMariaDB {
		if _, err := c.Exec(ctx, "SET GLOBAL gtid_slave_pos = ?", s.origGTID); err != nil {
			return fmt.Errorf("switchover: SET GLOBAL gtid_slave_pos='%s' on %s: %w", s.origGTID, s.orig.Host(), err)
		}
	}
	src := repoint.Source{Host: s.sourceHost(), Port: s.new.Server.Port, User: s.orig.Server.ReplUser, Password: s.orig.Server.ReplPassword}
	if src.User == "" {
		for _, r := range s.topo.Replicas() {
			if rs := r.Replica(); rs != nil && rs.SourceUser != "" {
				src.User = rs.SourceUser
				break
			}
		}
	}
	return repoint.Replica(ctx, c, src, s.how())
}
