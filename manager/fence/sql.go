package fence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gomha/gomha/manager/mysqlx"
)

// SQLSession is one session on the old master, over the manager's own TCP
// connection ([MySQLDialer]) or through the client on its host ([Host]).
// The same fencing statements run through both ([fenceSQL]).
type SQLSession interface {
	// Version is the server's version; its flavor decides whether
	// super_read_only exists.
	Version(ctx context.Context) (mysqlx.Version, error)
	// Exec runs the statements in order in one session and stops at the
	// first error, which carries the server's error number where there is
	// one (see [errorNumber]).
	Exec(ctx context.Context, stmts ...string) error
	// Kill ends the given connections (KILL CONNECTION); one that is
	// already gone is no error.
	Kill(ctx context.Context, ids []uint64) error
	// Value runs a query and returns the first column of its first row as
	// text, "" for NULL or no row.
	Value(ctx context.Context, query string) (string, error)
	// Close ends the session.
	Close() error
}

// sessionSetup runs at the start of every fencing session: the connection
// list is read with GROUP_CONCAT, whose default limit (1024 bytes on MySQL;
// 1 MiB on MariaDB >= 10.2.4) would cut a long list; lock_wait_timeout
// bounds how long SET GLOBAL read_only waits for the global read lock
// behind a running write (both flavours take it before switching).
var sessionSetup = []string{
	"SET SESSION group_concat_max_len = 1048576",
	"SET SESSION lock_wait_timeout = 2",
}

// clientConnectionsQuery lists the client connections other than our own:
// everything except replication and system threads. A replica's binlog
// dump thread (COMMAND Binlog Dump / Binlog Dump GTID), the server's own
// replica threads (USER system user; COMMAND Slave_IO/Slave_SQL/
// Slave_worker on MariaDB, Connect/Query on MySQL), the event scheduler
// (USER event_scheduler, COMMAND Daemon) and connections already being
// killed stay. information_schema.PROCESSLIST is deprecated from MySQL
// 8.0.22 on (in favour of performance_schema.processlist) but still there
// in 8.4; MariaDB has only it.
const clientConnectionsQuery = "SELECT GROUP_CONCAT(ID ORDER BY ID) FROM information_schema.PROCESSLIST" +
	" WHERE ID <> CONNECTION_ID()" +
	" AND USER NOT IN ('system user', 'event_scheduler')" +
	" AND COMMAND NOT IN ('Binlog Dump', 'Binlog Dump GTID', 'Daemon', 'Killed')"

// erLockWaitTimeout is ER_LOCK_WAIT_TIMEOUT (1205): SET GLOBAL read_only
// waited lock_wait_timeout for a running write.
const erLockWaitTimeout = 1205

// hasSuperReadOnly reports whether the server has super_read_only: MySQL
// >= 5.7.8. MariaDB has none (up to 11.x). There, read_only binds SUPER
// accounts from 10.11 on (MDEV-29596 split READ_ONLY ADMIN off SUPER), but
// an account with READ_ONLY ADMIN (MariaDB >= 10.5.2; ALL PRIVILEGES
// includes it) or, before 10.11, SUPER can still write: its connections are
// killed like every other, but a new one could write again. Application
// accounts must not have them.
func hasSuperReadOnly(v mysqlx.Version) bool {
	return v.Flavor == mysqlx.MySQL && v.AtLeast(5, 7, 8)
}

// readOnlyStmts are the statements that close the server to writes.
// super_read_only=1 implies read_only=1 on MySQL; read_only is set first
// anyway, so that a failure of the second statement leaves the first done.
func readOnlyStmts(v mysqlx.Version) []string {
	stmts := []string{"SET GLOBAL read_only = 1"}
	if hasSuperReadOnly(v) {
		stmts = append(stmts, "SET GLOBAL super_read_only = 1")
	}
	return stmts
}

// fenceSQL closes the server behind s to writes and proves it: read_only
// (and super_read_only where it exists), every client connection killed so
// that an open transaction cannot commit, then @@global.read_only (and
// @@global.super_read_only) read back. It returns the proof.
func fenceSQL(ctx context.Context, s SQLSession) (string, error) {
	v, err := s.Version(ctx)
	if err != nil {
		return "", fmt.Errorf("read version: %w", err)
	}
	before, err := clientConnections(ctx, s)
	if err != nil {
		return "", err
	}
	ro := readOnlyStmts(v)
	var killed []uint64
	if err := s.Exec(ctx, ro...); err != nil {
		if errorNumber(err) != erLockWaitTimeout {
			return "", fmt.Errorf("%s: %w", strings.Join(ro, "; "), err)
		}
		// A running write holds the way: end it, then try again.
		if err := s.Kill(ctx, before); err != nil {
			return "", fmt.Errorf("kill client connections: %w", err)
		}
		killed = append(killed, before...)
		if err := s.Exec(ctx, ro...); err != nil {
			return "", fmt.Errorf("%s (after killing %d connections): %w", strings.Join(ro, "; "), len(before), err)
		}
	}
	// Connections that came while read_only was being set are listed too.
	after, err := clientConnections(ctx, s)
	if err != nil {
		return "", err
	}
	var rest []uint64
	for _, id := range after {
		if !slices.Contains(killed, id) {
			rest = append(rest, id)
		}
	}
	if err := s.Kill(ctx, rest); err != nil {
		return "", fmt.Errorf("kill client connections: %w", err)
	}
	killed = append(killed, rest...)

	// Proof: read the switches back.
	checks := []string{"@@global.read_only"}
	if hasSuperReadOnly(v) {
		checks = append(checks, "@@global.super_read_only")
	}
	for _, c := range checks {
		got, err := s.Value(ctx, "SELECT "+c)
		if err != nil {
			return "", fmt.Errorf("verify %s: %w", c, err)
		}
		if got != "1" {
			return "", fmt.Errorf("%w: %s = %q after setting it", ErrNotProven, c, got)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "read_only=1")
	if hasSuperReadOnly(v) {
		b.WriteString(" super_read_only=1")
	} else if v.Flavor == mysqlx.MariaDB {
		b.WriteString(" (MariaDB has no super_read_only)")
	}
	fmt.Fprintf(&b, " read back on %s; %d client connections killed", v, len(killed))
	if len(killed) > 0 {
		fmt.Fprintf(&b, " (%s)", joinIDs(killed))
	}
	return b.String(), nil
}

// clientConnections lists the ids of [clientConnectionsQuery].
func clientConnections(ctx context.Context, s SQLSession) ([]uint64, error) {
	v, err := s.Value(ctx, clientConnectionsQuery)
	if err != nil {
		return nil, fmt.Errorf("list client connections: %w", err)
	}
	return parseIDs(v)
}

func parseIDs(list string) ([]uint64, error) {
	var ids []uint64
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		id, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("connection id %q: %w", f, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func joinIDs(ids []uint64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatUint(id, 10)
	}
	return strings.Join(s, ",")
}

// ClientError is a server error reported by the command-line client
// ("ERROR 1094 (HY000) at line 1: Unknown thread id: 12").
type ClientError struct {
	Number  uint16
	Message string
}

func (e *ClientError) Error() string { return e.Message }

var clientErrorLine = regexp.MustCompile(`(?m)^ERROR (\d+) \([0-9A-Z]{5}\)[^\n]*`)

// parseClientError finds the client's ERROR line in its standard error.
func parseClientError(stderr string) *ClientError {
	m := clientErrorLine.FindStringSubmatch(stderr)
	if m == nil {
		return nil
	}
	n, err := strconv.ParseUint(m[1], 10, 16)
	if err != nil {
		return nil
	}
	return &ClientError{Number: uint16(n), Message: m[0]}
}

// errorNumber is the server error number in err, from the driver
// (mysqlx.ErrorNumber) or from the client ([ClientError]); 0 when none.
func errorNumber(err error) uint16 {
	if n := mysqlx.ErrorNumber(err); n != 0 {
		return n
	}
	var ce *ClientError
	if errors.As(err, &ce) {
		return ce.Number
	}
	return 0
}

// erNoSuchThread is ER_NO_SUCH_THREAD (1094): the connection to kill is
// already gone.
const erNoSuchThread = 1094

// MySQLDialer opens sessions over the manager's own TCP connection.
type MySQLDialer interface {
	Open(ctx context.Context, t mysqlx.Target) (SQLSession, error)
}

// TCP is the [MySQLDialer] that uses mysqlx.
type TCP struct{}

// Open connects with mysqlx and runs the session setup.
func (TCP) Open(ctx context.Context, t mysqlx.Target) (SQLSession, error) {
	c, err := mysqlx.Open(ctx, t)
	if err != nil {
		return nil, err
	}
	s := &tcpSession{c: c}
	if err := s.Exec(ctx, sessionSetup...); err != nil {
		c.Close()
		return nil, err
	}
	return s, nil
}

type tcpSession struct{ c *mysqlx.Conn }

func (s *tcpSession) Version(context.Context) (mysqlx.Version, error) { return s.c.Version(), nil }

func (s *tcpSession) Exec(ctx context.Context, stmts ...string) error {
	for _, st := range stmts {
		if _, err := s.c.Exec(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

func (s *tcpSession) Kill(ctx context.Context, ids []uint64) error {
	for _, id := range ids {
		if err := s.c.Kill(ctx, id); err != nil && mysqlx.ErrorNumber(err) != erNoSuchThread {
			return err
		}
	}
	return nil
}

func (s *tcpSession) Value(ctx context.Context, q string) (string, error) {
	var v sql.NullString
	err := s.c.QueryRow(ctx, q).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v.String, err
}

func (s *tcpSession) Close() error { return s.c.Close() }

// mysqlUnreachable reports whether a mysqlx.Open error means the server
// could not be reached at all (nothing ran there), as opposed to a server
// that answered and refused (access denied, too many connections).
func mysqlUnreachable(err error) bool {
	var ce *mysqlx.ConnectError
	if !errors.As(err, &ce) {
		return false
	}
	switch ce.Failure {
	case mysqlx.FailureAccessDenied, mysqlx.FailureRejected:
		return false
	}
	return true
}
