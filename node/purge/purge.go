// Package purge deletes a replica's relay logs without stalling its SQL
// thread, as MHA's purge_relay_logs does for servers that run with
// relay_log_purge=0 (which failover needs, to keep relay logs for diffs).
//
// Deleting a large file on ext3-like file systems can take long enough to
// stall the SQL thread that deletes it. So every relay log is first hard
// linked into a work directory: when the server then unlinks it, only a
// directory entry goes and the data stays until the links are removed, by
// this package, outside the server. The purge itself is done by the server:
// relay_log_purge is turned on, the relay log is flushed (rotated), and,
// after a pause that lets the SQL thread move to the new file and remove the
// old ones, relay_log_purge is turned off again.
//
// The server must run on the local host (the relay logs are linked from
// its relay-log directory), and the work directory must be on the same file
// system as the relay logs.
package purge

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Sentinel errors of the package, matched with errors.Is.
var (
	// ErrNotReplica reports a server with no replication configured (SHOW
	// SLAVE STATUS returns no row).
	ErrNotReplica = errors.New("server is not a replica")

	// ErrLocked reports that the failover lock is held: a failover is
	// running, so relay logs must not be purged.
	ErrLocked = errors.New("failover lock is held by another session")
)

// FailoverLock is the advisory lock MHA's manager holds on replicas during
// a failover; purging takes it too, so the two never overlap.
const FailoverLock = "MHA_Master_High_Availability_Failover"

// Options say how to reach the server and where to work.
type Options struct {
	// User and Password are the MySQL account (MHA: --user, root, and
	// --password, empty).
	User, Password string
	// Host and Port address the server (127.0.0.1:3306 by default);
	// Socket, when set, is used instead.
	Host   string
	Port   int
	Socket string
	// Workdir receives the hard links (MHA: /var/tmp). It must be on the
	// relay logs' file system.
	Workdir string
	// DisableRelayLogPurge turns relay_log_purge off when it is on, and
	// purges; without it, a server with relay_log_purge=1 is left alone.
	DisableRelayLogPurge bool
	// Pause is how long relay_log_purge stays on after the flush (MHA
	// waits 3 s); 0 means DefaultPause.
	Pause time.Duration
	// LockTimeout bounds the wait for the failover lock; 0 means 200 s,
	// as MHA.
	LockTimeout time.Duration
}

// DefaultPause is the time the server is given to purge after the flush.
const DefaultPause = 3 * time.Second

// Result describes a purge.
type Result struct {
	// Skipped is true when relay_log_purge was on and
	// DisableRelayLogPurge was not set: nothing was done.
	Skipped bool
	// RelayDir is the directory of the relay logs.
	RelayDir string
	// Before and After are the relay-log files present before and after.
	Before, After []string
}

// Open returns a database handle for opts (not yet connected).
func Open(opts Options) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User = opts.User
	cfg.Passwd = opts.Password
	if opts.Socket != "" {
		cfg.Net, cfg.Addr = "unix", opts.Socket
	} else {
		host, port := opts.Host, opts.Port
		if host == "" {
			host = "127.0.0.1"
		}
		if port == 0 {
			port = 3306
		}
		cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(host, strconv.Itoa(port))
	}
	cfg.Timeout = 10 * time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("purge: %s: %w", cfg.Addr, err)
	}
	return sql.OpenDB(conn), nil
}

// Purge purges the relay logs of the server behind db (see the package
// documentation). The hard links are removed and relay_log_purge is set
// back to 0 even when a step fails or ctx ends.
func Purge(ctx context.Context, db *sql.DB, opts Options) (res Result, err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return res, fmt.Errorf("purge: connect: %w", err)
	}
	defer conn.Close()

	rows, err := conn.QueryContext(ctx, "SHOW SLAVE STATUS /* gomha purge */")
	if err != nil {
		return res, fmt.Errorf("purge: SHOW SLAVE STATUS: %w", err)
	}
	isReplica := rows.Next()
	if cerr := errors.Join(rows.Err(), rows.Close()); cerr != nil {
		return res, fmt.Errorf("purge: SHOW SLAVE STATUS: %w", cerr)
	}
	if !isReplica {
		return res, fmt.Errorf("purge: %w", ErrNotReplica)
	}

	var enabled int
	var basename, datadir, relayLog string
	if err := conn.QueryRowContext(ctx,
		"SELECT @@global.relay_log_purge, IFNULL(@@global.relay_log_basename, ''), @@global.datadir, IFNULL(@@global.relay_log, '')").
		Scan(&enabled, &basename, &datadir, &relayLog); err != nil {
		return res, fmt.Errorf("purge: read relay_log_purge and relay_log_basename: %w", err)
	}
	if enabled == 1 {
		if !opts.DisableRelayLogPurge {
			res.Skipped = true
			return res, nil
		}
		if _, err := conn.ExecContext(ctx, "SET GLOBAL relay_log_purge=0"); err != nil {
			return res, fmt.Errorf("purge: SET GLOBAL relay_log_purge=0: %w", err)
		}
	}
	if basename == "" { // servers before MySQL 5.6.2 / MariaDB 10.0
		basename = relayLog
		if basename != "" && !filepath.IsAbs(basename) {
			basename = filepath.Join(datadir, basename)
		}
	}
	if basename == "" {
		return res, errors.New("purge: cannot tell the relay-log directory (relay_log_basename is empty)")
	}
	res.RelayDir = filepath.Dir(basename)
	prefix := filepath.Base(basename)
	if res.Before, err = relayFiles(res.RelayDir, prefix); err != nil {
		return res, err
	}

	workdir := opts.Workdir
	if workdir == "" {
		workdir = "/var/tmp"
	}
	if err := os.MkdirAll(workdir, 0o755); err != nil {
		return res, fmt.Errorf("purge: create workdir: %w", err)
	}
	linkDir, err := os.MkdirTemp(workdir, "purge_relay_logs_")
	if err != nil {
		return res, fmt.Errorf("purge: create link directory: %w", err)
	}
	defer func() {
		if rerr := os.RemoveAll(linkDir); rerr != nil && err == nil {
			err = fmt.Errorf("purge: remove hard links: %w", rerr)
		}
	}()
	for _, f := range res.Before {
		if err := os.Link(filepath.Join(res.RelayDir, f), filepath.Join(linkDir, f)); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // purged or rotated away meanwhile
			}
			return res, fmt.Errorf("purge: hard link %s into %s: %w", f, linkDir, err)
		}
	}

	lockWait := opts.LockTimeout
	if lockWait <= 0 {
		lockWait = 200 * time.Second
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", FailoverLock, int(lockWait.Seconds())).Scan(&got); err != nil {
		return res, fmt.Errorf("purge: GET_LOCK: %w", err)
	}
	if got.Int64 != 1 {
		return res, fmt.Errorf("purge: %s: %w", FailoverLock, ErrLocked)
	}
	cleanup := context.WithoutCancel(ctx)
	defer func() {
		cctx, cancel := context.WithTimeout(cleanup, 10*time.Second)
		defer cancel()
		_, e1 := conn.ExecContext(cctx, "SET GLOBAL relay_log_purge=0")
		_, e2 := conn.ExecContext(cctx, "DO RELEASE_LOCK(?)", FailoverLock)
		if e := errors.Join(e1, e2); e != nil && err == nil {
			err = fmt.Errorf("purge: reset relay_log_purge and release lock: %w", e)
		}
	}()
	if _, err := conn.ExecContext(ctx, "SET GLOBAL relay_log_purge=1"); err != nil {
		return res, fmt.Errorf("purge: SET GLOBAL relay_log_purge=1: %w", err)
	}
	// The versioned comment makes it FLUSH RELAY LOGS on MySQL 5.5.1+ and
	// every MariaDB (which reads it as 5.5.1+), FLUSH LOGS before.
	if _, err := conn.ExecContext(ctx, "FLUSH NO_WRITE_TO_BINLOG /*!50501 RELAY */ LOGS"); err != nil {
		return res, fmt.Errorf("purge: FLUSH RELAY LOGS: %w", err)
	}
	pause := opts.Pause
	if pause <= 0 {
		pause = DefaultPause
	}
	t := time.NewTimer(pause)
	select {
	case <-ctx.Done():
		t.Stop()
		return res, fmt.Errorf("purge: wait for the purge: %w", ctx.Err())
	case <-t.C:
	}
	res.After, err = relayFiles(res.RelayDir, prefix)
	return res, err
}

// relayFiles lists the relay logs "<prefix>.<digits>" of dir.
func relayFiles(dir, prefix string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("purge: list relay logs in %s: %w", dir, err)
	}
	var out []string
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix+".")
		if ok && rest != "" && strings.Trim(rest, "0123456789") == "" && e.Type().IsRegular() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
