package failover

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/repoint"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/node/binlog"
)

// The executor reaches the world only through the interfaces below; the
// real ones are a MySQL session (sqlServer), an SSH session with the node
// tools (nodeHost), hooks.Runner, a Fencer and the journal. Tests put
// fakes in their place (fakes_test.go).

// Server is SQL on one survivor, in the failover's own verbs.
type Server interface {
	Version() mysqlx.Version
	State(ctx context.Context) (*mysqlx.State, error)
	ReplicaStatus(ctx context.Context) (*mysqlx.ReplicaStatus, error)
	BinlogStatus(ctx context.Context) (binlog.Pos, mysqlx.Filters, error)
	// StopIO stops the IO thread and waits until it stopped.
	StopIO(ctx context.Context) error
	// StartSQLThread starts the SQL thread only.
	StartSQLThread(ctx context.Context) error
	// StopReplication stops both threads and waits until they stopped.
	StopReplication(ctx context.Context) error
	SetReadOnly(ctx context.Context, on bool) error
	// Writable runs fn with super_read_only lifted where it is on, and
	// restores it.
	Writable(ctx context.Context, fn func() error) error
	// Repoint points the replica at src (package repoint).
	Repoint(ctx context.Context, src repoint.Source, how repoint.How) error
	ResetReplicaAll(ctx context.Context) error
	// SetRelayLogPurge sets relay_log_purge.
	SetRelayLogPurge(ctx context.Context, on bool) error
	GetLock(ctx context.Context, name string, timeout time.Duration) (bool, error)
	ReleaseLock(ctx context.Context, name string) (bool, error)
	Close() error
}

// Node is the node tools and file copies on one database host.
type Node interface {
	// SaveTail is save_binary_logs on the dead master from start; ok false
	// when there is nothing after it.
	SaveTail(ctx context.Context, start binlog.Pos, name string) (res nodeResult, ok bool, err error)
	// Generate is apply_diff_relay_logs --command=generate on a replica.
	Generate(ctx context.Context, serverID uint32, relayDir string, latest, target binlog.Pos, name, ts string) (res nodeResult, ok bool, err error)
	// Apply is apply_diff_relay_logs --command=apply against the host's own
	// server.
	Apply(ctx context.Context, file string, disableLogBin bool, ts string) error
	// Find is apply_diff_relay_logs --command=find.
	Find(ctx context.Context, relayDir string, latest, target binlog.Pos) error
	// TestBinlogs is save_binary_logs --command=test.
	TestBinlogs(ctx context.Context, startFile, ts string) error
	// Fetch copies a file of the host into the manager's workdir; Put one
	// from there into the host's remote_workdir.
	Fetch(ctx context.Context, remote, workdir string) (string, error)
	Put(ctx context.Context, local string) (string, error)
}

// Nodes opens one Node per server, kept for the whole failover.
type Nodes interface {
	Get(ctx context.Context, srv config.Server) (Node, error)
	Close()
}

// HookRunner runs a hook script (hooks.Runner).
type HookRunner interface {
	Run(ctx context.Context, name, command string, args []string) (hooks.Result, error)
}

// world are the executor's ways out; zero fields get the real ones.
type world struct {
	// connect opens a session to a server (Phase 1 and the double check).
	connect func(ctx context.Context, cfg *config.Config, srv config.Server, timeout time.Duration) (Server, error)
	// sshCheck tells whether a host answers SSH.
	sshCheck func(ctx context.Context, srv config.Server) error
	// nodes opens node sessions.
	nodes Nodes
}

func (w *world) defaults(binary string) {
	if w.connect == nil {
		w.connect = func(ctx context.Context, cfg *config.Config, srv config.Server, timeout time.Duration) (Server, error) {
			c, err := mysqlx.Open(ctx, check.Target(cfg, srv, timeout))
			if err != nil {
				return nil, err
			}
			return sqlServer{c}, nil
		}
	}
	if w.sshCheck == nil {
		w.sshCheck = func(ctx context.Context, srv config.Server) error {
			t, err := check.SSHTarget(srv)
			if err != nil {
				return err
			}
			res, err := sshexec.RunOnce(ctx, t, []string{"true"})
			if err == nil && res.ExitCode != 0 {
				err = fmt.Errorf("exit %d", res.ExitCode)
			}
			return err
		}
	}
	if w.nodes == nil {
		w.nodes = &hosts{binary: binary}
	}
}

// sqlServer is a Server over a MySQL session.
type sqlServer struct{ *mysqlx.Conn }

func (s sqlServer) StopIO(ctx context.Context) error { return repoint.StopIO(ctx, s.Conn) }

func (s sqlServer) StartSQLThread(ctx context.Context) error {
	_, err := s.Exec(ctx, startSQLThread(s.Conn.Version()))
	return err
}

func (s sqlServer) StopReplication(ctx context.Context) error { return repoint.Stop(ctx, s.Conn) }

func (s sqlServer) Repoint(ctx context.Context, src repoint.Source, how repoint.How) error {
	return repoint.Replica(ctx, s.Conn, src, how)
}

func (s sqlServer) SetRelayLogPurge(ctx context.Context, on bool) error {
	v := 0
	if on {
		v = 1
	}
	_, err := s.Exec(ctx, fmt.Sprintf("SET GLOBAL relay_log_purge=%d", v))
	return err
}

func (s sqlServer) Writable(ctx context.Context, fn func() error) error {
	return writable(ctx, s.Conn, fn)
}

// startSQLThread is START SLAVE SQL_THREAD in the server's dialect (MySQL
// 8.0.22+ says REPLICA; MariaDB accepts SLAVE in every version).
func startSQLThread(v mysqlx.Version) string {
	if v.Flavor != mysqlx.MariaDB && v.AtLeast(8, 0, 22) {
		return "START REPLICA SQL_THREAD"
	}
	return "START SLAVE SQL_THREAD"
}

// writable runs fn with super_read_only lifted where it is on (MySQL 5.7.8+;
// MariaDB has no super_read_only): the client session of an apply, SUPER
// or not, cannot write under it. It is restored afterwards; read_only stays
// on throughout.
func writable(ctx context.Context, c *mysqlx.Conn, fn func() error) error {
	v := c.Version()
	if v.Flavor == mysqlx.MariaDB || !v.AtLeast(5, 7, 8) {
		return fn()
	}
	var on int
	if err := c.QueryRow(ctx, "SELECT @@global.super_read_only").Scan(&on); err != nil {
		return fmt.Errorf("read super_read_only: %w", err)
	}
	if on == 0 {
		return fn()
	}
	if _, err := c.Exec(ctx, "SET GLOBAL super_read_only=0"); err != nil {
		return fmt.Errorf("lift super_read_only: %w", err)
	}
	err := fn()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, rerr := c.Exec(rctx, "SET GLOBAL super_read_only=1"); rerr != nil {
		return errors.Join(err, fmt.Errorf("restore super_read_only=1: %w", rerr))
	}
	return err
}
