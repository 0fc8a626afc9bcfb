// Package repoint moves a replica to a new source: the one step a dead-master
// failover and an online switch share. It stops replication, points the
// replica at the new source with the coordinates the caller recorded (a
// binlog position, MariaDB's gtid_slave_pos or MySQL's auto-position),
// restores what CHANGE MASTER changes behind the operator's back, starts
// replication and waits until both threads run.
package repoint

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/topology"
	"github.com/gomha/gomha/node/binlog"
)

// Source is the server a replica is pointed at, with the replication
// account it logs in with.
type Source struct {
	Host     string
	Port     int
	User     string
	Password string
}

// How says where the replica starts on its new source.
type How struct {
	// Mode decides the coordinates: GTIDMariaDB uses MASTER_USE_GTID=
	// slave_pos (the replica stays on GTID), GTIDMySQL MASTER_AUTO_POSITION=1,
	// any other mode the binlog position Pos.
	Mode topology.GTIDMode
	// Pos is the source's binlog coordinate to start from (file/position
	// modes only).
	Pos binlog.Pos
}

// Sentinel errors.
var (
	// ErrNotStarted reports a replica whose threads did not both run after
	// START SLAVE; the error text carries the server's last IO/SQL error.
	ErrNotStarted = errors.New("replication did not start")
)

// poll is how often the replica's status is read while waiting.
const poll = 100 * time.Millisecond

// Options returns the CHANGE MASTER options for src and how.
func Options(src Source, how How) (mysqlx.ChangeSourceOptions, error) {
	o := mysqlx.ChangeSourceOptions{Host: src.Host, Port: src.Port, User: src.User, Password: src.Password}
	switch how.Mode {
	case topology.GTIDMariaDB:
		o.UseGTID = "slave_pos"
	case topology.GTIDMySQL:
		o.AutoPosition = true
	default:
		if how.Pos.File == "" || how.Pos.Offset < 4 {
			return o, fmt.Errorf("repoint: no binlog position to start from on %s", mysqlx.JoinAddr(src.Host, src.Port))
		}
		o.Pos = how.Pos
	}
	return o, nil
}

// Replica points the replica behind c at src: STOP SLAVE (waiting until both
// threads stopped), CHANGE MASTER (which also discards the old relay logs, so
// MHA's separate RESET SLAVE is not needed), relay_log_purge restored to its
// value before (MySQL sets it to 0 when CHANGE MASTER names relay-log
// coordinates), START SLAVE, then it waits until the IO and SQL threads both
// run. It ends with ctx: give ctx the step's deadline.
func Replica(ctx context.Context, c *mysqlx.Conn, src Source, how How) error {
	opts, err := Options(src, how)
	if err != nil {
		return err
	}
	if err := Stop(ctx, c); err != nil {
		return err
	}
	var purge int
	if err := c.QueryRow(ctx, "SELECT @@global.relay_log_purge").Scan(&purge); err != nil {
		return fmt.Errorf("repoint %s: read relay_log_purge: %w", c.Addr(), err)
	}
	if err := c.ChangeSource(ctx, opts); err != nil {
		return err
	}
	var after int
	if err := c.QueryRow(ctx, "SELECT @@global.relay_log_purge").Scan(&after); err != nil {
		return fmt.Errorf("repoint %s: read relay_log_purge: %w", c.Addr(), err)
	}
	if after != purge {
		if _, err := c.Exec(ctx, fmt.Sprintf("SET GLOBAL relay_log_purge=%d", purge)); err != nil {
			return fmt.Errorf("repoint %s: restore relay_log_purge=%d: %w", c.Addr(), purge, err)
		}
	}
	if err := c.StartReplica(ctx); err != nil {
		return err
	}
	return WaitRunning(ctx, c)
}

// Stop stops both replication threads and waits until SHOW SLAVE STATUS
// says they stopped.
func Stop(ctx context.Context, c *mysqlx.Conn) error {
	if err := c.StopReplica(ctx); err != nil {
		return err
	}
	for {
		rs, err := c.ReplicaStatus(ctx)
		if err != nil {
			return err
		}
		if rs == nil || (rs.IORunning == "No" && !rs.SQLRunning) {
			return nil
		}
		if err := sleep(ctx, poll); err != nil {
			return fmt.Errorf("repoint %s: wait for replication to stop: %w", c.Addr(), err)
		}
	}
}

// StopIO stops the IO (receiver) thread only and waits until SHOW SLAVE
// STATUS says it stopped; the SQL thread goes on applying what was
// received.
func StopIO(ctx context.Context, c *mysqlx.Conn) error {
	if err := c.StopReplicaIOThread(ctx); err != nil {
		return err
	}
	for {
		rs, err := c.ReplicaStatus(ctx)
		if err != nil {
			return err
		}
		if rs == nil || rs.IORunning == "No" {
			return nil
		}
		if err := sleep(ctx, poll); err != nil {
			return fmt.Errorf("repoint %s: wait for the IO thread to stop: %w", c.Addr(), err)
		}
	}
}

// WaitRunning waits until both replication threads run. An SQL thread that
// stops with an error fails at once; otherwise it waits until ctx ends and
// then reports the last IO and SQL errors the server shows.
func WaitRunning(ctx context.Context, c *mysqlx.Conn) error {
	var last *mysqlx.ReplicaStatus
	for {
		rs, err := c.ReplicaStatus(ctx)
		if err != nil {
			if last != nil && ctx.Err() != nil {
				return notStarted(c, last, ctx.Err())
			}
			return err
		}
		if rs == nil {
			return fmt.Errorf("repoint %s: %w: the server is not a replica", c.Addr(), ErrNotStarted)
		}
		last = rs
		if rs.IORunning == "Yes" && rs.SQLRunning {
			return nil
		}
		if !rs.SQLRunning && rs.LastSQLErrno != 0 {
			return notStarted(c, rs, nil)
		}
		if err := sleep(ctx, poll); err != nil {
			return notStarted(c, rs, err)
		}
	}
}

func notStarted(c *mysqlx.Conn, rs *mysqlx.ReplicaStatus, cause error) error {
	msg := fmt.Sprintf("IO thread %s, SQL thread running=%t", rs.IORunning, rs.SQLRunning)
	if rs.LastIOErrno != 0 {
		msg += fmt.Sprintf("; last IO error %d: %s", rs.LastIOErrno, rs.LastIOError)
	}
	if rs.LastSQLErrno != 0 {
		msg += fmt.Sprintf("; last SQL error %d: %s", rs.LastSQLErrno, rs.LastSQLError)
	}
	if cause != nil {
		return fmt.Errorf("repoint %s: %w (%s): %w", c.Addr(), ErrNotStarted, msg, cause)
	}
	return fmt.Errorf("repoint %s: %w (%s)", c.Addr(), ErrNotStarted, msg)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
