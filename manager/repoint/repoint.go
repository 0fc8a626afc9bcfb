// Package repoint moves a replica to a new source: the one step a dead-master
// failover and an online switch share. It stops replication, points the
// replica at the new source with the coordinates the caller recorded (a
// binlog position, MariaDB's gtid_slave_pos or MySQL's auto-position),
// restores what CHANGE MASTER changes behind the operator's back (the
// heartbeat period, relay_log_purge), starts replication and waits until
// both threads run. The SQL goes through Server, which FromConn provides
// for a mysqlx session.
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
	// Settings, when set, are given to the replica instead of its own
	// (Settings): an old master joining as a replica in a switch has none,
	// and can take those the new master had as a replica (SettingsOf,
	// read before its RESET SLAVE ALL).
	Settings *Settings
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

// Replica points the replica behind c at src; see ReplicaOn.
func Replica(ctx context.Context, c *mysqlx.Conn, src Source, how How) error {
	return ReplicaOn(ctx, FromConn(c), src, how)
}

// Stop stops both replication threads of the replica behind c; see StopOn.
func Stop(ctx context.Context, c *mysqlx.Conn) error { return StopOn(ctx, FromConn(c)) }

// StopIO stops the IO thread of the replica behind c; see StopIOOn.
func StopIO(ctx context.Context, c *mysqlx.Conn) error { return StopIOOn(ctx, FromConn(c)) }

// WaitRunning waits until both threads of the replica behind c run; see
// WaitRunningOn.
func WaitRunning(ctx context.Context, c *mysqlx.Conn) error { return WaitRunningOn(ctx, FromConn(c)) }

// ReplicaOn points the replica s at src: STOP SLAVE (waiting until both
// threads stopped), its connection settings read (Settings), CHANGE MASTER
// (which also discards the old relay logs, so MHA's separate RESET SLAVE is
// not needed), the settings given again (CHANGE MASTER resets the
// heartbeat period), relay_log_purge restored to its value before (MySQL
// sets it to 0 when CHANGE MASTER names relay-log coordinates), START
// SLAVE, then it waits until the IO and SQL threads both run. It ends with
// ctx: give ctx the step's deadline. Errors name the host and the step.
func ReplicaOn(ctx context.Context, s Server, src Source, how How) error {
	opts, err := Options(src, how)
	if err != nil {
		return err
	}
	rs, err := stop(ctx, s)
	if err != nil {
		return err
	}
	var keep Settings
	switch {
	case how.Settings != nil:
		keep = *how.Settings
	case rs != nil:
		// A server that was not a replica (an old master joining as
		// one) has no settings of its own to keep.
		if keep, err = s.Settings(ctx, rs); err != nil {
			return stepErr(s, "read the replication settings", err)
		}
	}
	purge, err := s.RelayLogPurge(ctx)
	if err != nil {
		return stepErr(s, "read relay_log_purge", err)
	}
	if err := s.ChangeSource(ctx, opts); err != nil {
		return stepErr(s, "CHANGE MASTER TO "+mysqlx.JoinAddr(src.Host, src.Port), err)
	}
	if stmt := keep.Statement(s.Version()); stmt != "" {
		if err := s.ApplySettings(ctx, stmt); err != nil {
			return stepErr(s, "keep the replication settings ("+stmt+")", err)
		}
	}
	after, err := s.RelayLogPurge(ctx)
	if err != nil {
		return stepErr(s, "read relay_log_purge", err)
	}
	if after != purge {
		if err := s.SetRelayLogPurge(ctx, purge); err != nil {
			return stepErr(s, fmt.Sprintf("restore relay_log_purge=%t", purge), err)
		}
	}
	if err := s.StartReplica(ctx); err != nil {
		return stepErr(s, "START SLAVE", err)
	}
	return WaitRunningOn(ctx, s)
}

// SettingsOf reads the replication settings of the replica behind c (zero
// Settings when it is not a replica), for How.Settings.
func SettingsOf(ctx context.Context, c *mysqlx.Conn) (Settings, error) {
	s := FromConn(c)
	rs, err := s.ReplicaStatus(ctx)
	if err != nil {
		return Settings{}, stepErr(s, "read the replica status", err)
	}
	if rs == nil {
		return Settings{}, nil
	}
	st, err := s.Settings(ctx, rs)
	if err != nil {
		return Settings{}, stepErr(s, "read the replication settings", err)
	}
	return st, nil
}

// stepErr names the host and the step of a failed statement.
func stepErr(s Server, step string, err error) error {
	return fmt.Errorf("repoint %s: %s: %w", s.Addr(), step, err)
}

// StopOn stops both replication threads and waits until SHOW SLAVE STATUS
// says they stopped.
func StopOn(ctx context.Context, s Server) error {
	_, err := stop(ctx, s)
	return err
}

// stop is StopOn returning the last replica status (nil: not a replica).
func stop(ctx context.Context, s Server) (*mysqlx.ReplicaStatus, error) {
	if err := s.StopReplica(ctx); err != nil {
		return nil, stepErr(s, "STOP SLAVE", err)
	}
	for {
		rs, err := s.ReplicaStatus(ctx)
		if err != nil {
			return nil, stepErr(s, "wait for replication to stop", err)
		}
		if rs == nil || (rs.IORunning == mysqlx.IOStopped && !rs.SQLRunning) {
			return rs, nil
		}
		if err := sleep(ctx, poll); err != nil {
			return nil, stepErr(s, "wait for replication to stop", err)
		}
	}
}

// StopIOOn stops the IO (receiver) thread only and waits until SHOW SLAVE
// STATUS says it stopped; the SQL thread goes on applying what was
// received.
func StopIOOn(ctx context.Context, s Server) error {
	if err := s.StopReplicaIOThread(ctx); err != nil {
		return stepErr(s, "STOP SLAVE IO_THREAD", err)
	}
	for {
		rs, err := s.ReplicaStatus(ctx)
		if err != nil {
			return stepErr(s, "wait for the IO thread to stop", err)
		}
		if rs == nil || rs.IORunning == mysqlx.IOStopped {
			return nil
		}
		if err := sleep(ctx, poll); err != nil {
			return stepErr(s, "wait for the IO thread to stop", err)
		}
	}
}

// WaitRunningOn waits until both replication threads run. An SQL thread
// that stops with an error fails at once; otherwise it waits until ctx ends
// and then reports the last IO and SQL errors the server shows.
func WaitRunningOn(ctx context.Context, s Server) error {
	var last *mysqlx.ReplicaStatus
	for {
		rs, err := s.ReplicaStatus(ctx)
		if err != nil {
			if last != nil && ctx.Err() != nil {
				return notStarted(s, last, ctx.Err())
			}
			return stepErr(s, "wait for replication to run", err)
		}
		if rs == nil {
			return fmt.Errorf("repoint %s: %w: the server is not a replica", s.Addr(), ErrNotStarted)
		}
		last = rs
		if rs.IORunning.Connected() && rs.SQLRunning {
			return nil
		}
		if !rs.SQLRunning && rs.LastSQLErrno != 0 {
			return notStarted(s, rs, nil)
		}
		if err := sleep(ctx, poll); err != nil {
			return notStarted(s, rs, err)
		}
	}
}

func notStarted(s Server, rs *mysqlx.ReplicaStatus, cause error) error {
	msg := fmt.Sprintf("IO thread %s, SQL thread running=%t", rs.IORunning, rs.SQLRunning)
	if rs.LastIOErrno != 0 {
		msg += fmt.Sprintf("; last IO error %d: %s", rs.LastIOErrno, rs.LastIOError)
	}
	if rs.LastSQLErrno != 0 {
		msg += fmt.Sprintf("; last SQL error %d: %s", rs.LastSQLErrno, rs.LastSQLError)
	}
	if cause != nil {
		return fmt.Errorf("repoint %s: %w (%s): %w", s.Addr(), ErrNotStarted, msg, cause)
	}
	return fmt.Errorf("repoint %s: %w (%s)", s.Addr(), ErrNotStarted, msg)
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
