package switchover

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/lease"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/repoint"
	"github.com/gomha/gomha/manager/topology"
	"github.com/gomha/gomha/node/binlog"
)

// The executor reaches the world only through the interfaces below: a
// MySQL session per server (sqlServer), the hook runner (hooks.Runner), the
// fencing watchdog (LeaseWatchdog) and an optional journal. Tests put fakes
// in their place (fakes_test.go).

// Server is SQL on one server, in the switch's own verbs.
type Server interface {
	// ConnectionID is the session's id (it is left out of process-list
	// checks made from another session).
	ConnectionID() uint64
	BinlogStatus(ctx context.Context) (binlog.Pos, mysqlx.Filters, error)
	// GTIDPos is the server's GTID position in mode: gtid_binlog_pos on
	// MariaDB, gtid_executed (white space removed) on MySQL, "" without
	// GTID.
	GTIDPos(ctx context.Context, mode topology.GTIDMode) (string, error)
	// ReadOnly reads @@global.read_only.
	ReadOnly(ctx context.Context) (bool, error)
	SetReadOnly(ctx context.Context, on bool) error
	// FlushTables is FLUSH NO_WRITE_TO_BINLOG TABLES.
	FlushTables(ctx context.Context) error
	// SetLockWaitTimeout sets the session's lock_wait_timeout (seconds).
	SetLockWaitTimeout(ctx context.Context, secs int64) error
	// LockTables is FLUSH TABLES WITH READ LOCK; UnlockTables releases it.
	LockTables(ctx context.Context) error
	UnlockTables(ctx context.Context) error
	// GetLock takes an advisory lock without waiting.
	GetLock(ctx context.Context, name string) (bool, error)
	ReleaseLock(ctx context.Context, name string) (bool, error)
	// LongThreads lists the sessions that have run one statement for at
	// least secs seconds, as f filters them (see threadsQuery).
	LongThreads(ctx context.Context, secs int64, f ThreadFilter) (Threads, error)
	// Kill is KILL CONNECTION id.
	Kill(ctx context.Context, id uint64) error
	// WaitForPos and WaitForGTID wait until the replica applied pos or
	// gtid, for at most timeout.
	WaitForPos(ctx context.Context, pos binlog.Pos, timeout time.Duration) error
	WaitForGTID(ctx context.Context, gtid string, timeout time.Duration) error
	// StopReplication stops both threads and waits until they stopped;
	// StartReplication starts them and waits until both run.
	StopReplication(ctx context.Context) error
	StartReplication(ctx context.Context) error
	// Repoint points the replica at src (package repoint).
	Repoint(ctx context.Context, src repoint.Source, how repoint.How) error
	// SetGTIDSlavePos is SET GLOBAL gtid_slave_pos (MariaDB).
	SetGTIDSlavePos(ctx context.Context, gtid string) error
	// ReplicationSettings are the connection settings the DBA chose on
	// the replica (heartbeat, connect retry, TLS...; repoint.SettingsOf).
	ReplicationSettings(ctx context.Context) (repoint.Settings, error)
	ResetReplicaAll(ctx context.Context) error
	Close() error
}

// HookRunner runs a hook script (hooks.Runner).
type HookRunner interface {
	Run(ctx context.Context, name, command string, args []string) (hooks.Result, error)
}

// Watchdog controls the fencing lease's watchdog on a database host
// (fence_lease; LeaseWatchdog is the real one).
type Watchdog interface {
	// Stop stops the watchdog on srv's host (a demotion it recorded stays
	// sticky).
	Stop(ctx context.Context, srv config.Server) error
	// Release stops it and clears a demotion it recorded: srv is about to
	// be made writable on purpose.
	Release(ctx context.Context, srv config.Server) error
	// Ensure starts it on master's host, watching peers, and returns once
	// it is healthy.
	Ensure(ctx context.Context, master config.Server, peers []config.Server) error
}

// Journal receives an intent record before each irreversible step and a
// done record after it (journal.Journal satisfies it).
type Journal interface {
	Intent(step, host string, detail map[string]string) error
	Done(step, host string, detail map[string]string) error
}

// world are the executor's ways out; zero fields get the real ones.
type world struct {
	// survey reads every configured server once (Phase 1).
	survey func(ctx context.Context, cfg *config.Config, timeout time.Duration, res config.Resolver) []topology.Observation
	// connect opens a session to a server.
	connect func(ctx context.Context, cfg *config.Config, srv config.Server, timeout time.Duration) (Server, error)
	// binlogStill is how long the binary log must stand still with
	// --skip_lock_all_tables (MHA: 200 ms).
	binlogStill time.Duration
	// killPoll is how often KillBlocking looks for sessions in the way.
	killPoll time.Duration
}

func (w *world) defaults() {
	if w.survey == nil {
		w.survey = check.Survey
	}
	if w.connect == nil {
		w.connect = func(ctx context.Context, cfg *config.Config, srv config.Server, timeout time.Duration) (Server, error) {
			c, err := mysqlx.Open(ctx, check.Target(cfg, srv, timeout))
			if err != nil {
				return nil, err
			}
			return sqlServer{c}, nil
		}
	}
	if w.binlogStill <= 0 {
		w.binlogStill = 200 * time.Millisecond
	}
	if w.killPoll <= 0 {
		w.killPoll = 100 * time.Millisecond
	}
}

// sqlServer is a Server over a MySQL session.
type sqlServer struct{ *mysqlx.Conn }

func (s sqlServer) GTIDPos(ctx context.Context, mode topology.GTIDMode) (string, error) {
	return gtidPos(ctx, s.Conn, mode)
}

func (s sqlServer) ReadOnly(ctx context.Context) (bool, error) {
	var on bool
	err := s.QueryRow(ctx, "SELECT @@global.read_only").Scan(&on)
	return on, err
}

func (s sqlServer) FlushTables(ctx context.Context) error {
	_, err := s.Exec(ctx, "FLUSH NO_WRITE_TO_BINLOG TABLES")
	return err
}

func (s sqlServer) SetLockWaitTimeout(ctx context.Context, secs int64) error {
	_, err := s.Exec(ctx, fmt.Sprintf("SET SESSION lock_wait_timeout = %d", secs))
	return err
}

func (s sqlServer) LockTables(ctx context.Context) error {
	_, err := s.Exec(ctx, "FLUSH TABLES WITH READ LOCK")
	return err
}

func (s sqlServer) UnlockTables(ctx context.Context) error {
	_, err := s.Exec(ctx, "UNLOCK TABLES")
	return err
}

func (s sqlServer) GetLock(ctx context.Context, name string) (bool, error) {
	return s.Conn.GetLock(ctx, name, 0)
}

func (s sqlServer) LongThreads(ctx context.Context, secs int64, f ThreadFilter) (Threads, error) {
	return longThreads(ctx, s.Conn, secs, f)
}

func (s sqlServer) StopReplication(ctx context.Context) error { return repoint.Stop(ctx, s.Conn) }

func (s sqlServer) StartReplication(ctx context.Context) error {
	if err := s.StartReplica(ctx); err != nil {
		return err
	}
	return repoint.WaitRunning(ctx, s.Conn)
}

func (s sqlServer) Repoint(ctx context.Context, src repoint.Source, how repoint.How) error {
	return repoint.Replica(ctx, s.Conn, src, how)
}

func (s sqlServer) ReplicationSettings(ctx context.Context) (repoint.Settings, error) {
	return repoint.SettingsOf(ctx, s.Conn)
}

func (s sqlServer) SetGTIDSlavePos(ctx context.Context, gtid string) error {
	_, err := s.Exec(ctx, "SET GLOBAL gtid_slave_pos = ?", gtid)
	return err
}

// gtidPos reads the server's GTID position in mode (mysqlx.Conn.BinlogGTID:
// gtid_binlog_pos on MariaDB, gtid_executed without line breaks on MySQL),
// "" without a query when the topology has no GTID mode.
func gtidPos(ctx context.Context, c *mysqlx.Conn, mode topology.GTIDMode) (string, error) {
	if !mode.UsesGTID() {
		return "", nil
	}
	return c.BinlogGTID(ctx)
}

// LeaseWatchdog is the Watchdog of package lease: `mha-node watchdog`
// over SSH on the database hosts.
type LeaseWatchdog struct {
	// Config is the cluster's configuration.
	Config *config.Config
	// NodeBinary is the local mha-node executable Ensure installs.
	NodeBinary string
	// Log receives Ensure's progress; nil discards it.
	Log *slog.Logger
}

// Stop implements Watchdog (lease.Stop).
func (l LeaseWatchdog) Stop(ctx context.Context, srv config.Server) error {
	return lease.Stop(ctx, srv)
}

// Release implements Watchdog (lease.Release).
func (l LeaseWatchdog) Release(ctx context.Context, srv config.Server) error {
	return lease.Release(ctx, srv)
}

// Ensure implements Watchdog (lease.Ensure); the VIP the watchdog gives
// up is the one of gomha's VIP hook in master_ip_failover_script, as for
// `mha manager`.
func (l LeaseWatchdog) Ensure(ctx context.Context, master config.Server, peers []config.Server) error {
	vip, dev := lease.VIPFromHook(master.MasterIPFailoverScript)
	_, err := lease.Ensure(ctx, lease.Target{Config: l.Config, Master: master, Peers: peers, NodeBinary: l.NodeBinary, VIP: vip, VIPDev: dev}, l.Log)
	return err
}
