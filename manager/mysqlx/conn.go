package mysqlx

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
)

// DefaultTimeout is the connect timeout (and read/write timeout) used when
// Target.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// minIOTimeout is the smallest per-packet read/write timeout: long server
// waits are cut into slices of at least one second that must fit in it.
const minIOTimeout = 2 * time.Second

// queryTag starts every statement this package sends, so that the server's
// process list, general log and slow log show who sent it.
const queryTag = "/* gomha */ "

// erNoSuchThread is ER_NO_SUCH_THREAD (1094), "Unknown thread id", which
// KILL returns when the connection is already gone.
const erNoSuchThread = 1094

// Target says where and as whom to connect.
//
// Its String and GoString methods leave the password out, so a Target can be
// printed safely.
type Target struct {
	// Addr is "host:port"; an IPv6 host is bracketed: "[fd00::12]:3306".
	Addr     string
	User     string
	Password string
	// Timeout bounds connecting (TCP connect, handshake, authentication and
	// the first query) and is the read/write timeout of every network packet
	// afterwards (at least 2 s): a statement that sends nothing back for
	// longer fails and loses the session. Server-side waits (WaitForPos,
	// WaitForGTID, GetLock) are cut into slices that fit. Zero means
	// DefaultTimeout. A deadline on the context passed to Open also bounds
	// connecting.
	Timeout time.Duration
	// CredentialsFrom says where User and Password were configured (for
	// example "/etc/mha/app1.cnf [server1]"); an access-denied error points
	// there. Optional.
	CredentialsFrom string
	// OnPeerClose, when set, is called (once, from another goroutine) when
	// the server closes or resets the session's TCP connection while the
	// session is open: a mysqld killed with -9 or shut down, a KILL of the
	// connection, wait_timeout. It lets a monitor react at once instead of
	// at its next ping. It is never called for a close on this side, nor
	// for a silent peer (pulled cable, SIGSTOP): nothing arrives then.
	// Linux only; elsewhere it is never called.
	OnPeerClose func()
	// NoKillSideways leaves a session whose statement was interrupted
	// alone on the server instead of killing it through a side connection
	// (see Conn). For sessions that end by themselves soon (a short
	// wait_timeout) and whose caller cannot wait: the monitor's pings,
	// where the side connection to a silent master only costs another
	// connect timeout.
	NoKillSideways bool
}

// String renders the target as "user@host:port", without the password.
func (t Target) String() string { return t.User + "@" + t.Addr }

// GoString renders the target for %#v, without the password.
func (t Target) GoString() string {
	return fmt.Sprintf("mysqlx.Target{Addr:%q, User:%q, Password:<redacted>, Timeout:%s}", t.Addr, t.User, t.Timeout)
}

// JoinAddr builds a Target.Addr from a host (name, IPv4 or IPv6 address)
// and a port.
func JoinAddr(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

func (t Target) validate() error {
	host, port, err := net.SplitHostPort(t.Addr)
	if err != nil {
		return fmt.Errorf("address %q: want host:port (IPv6 in brackets): %w", t.Addr, err)
	}
	if host == "" {
		return fmt.Errorf("address %q has no host", t.Addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("address %q: bad port", t.Addr)
	}
	if t.User == "" {
		return errors.New("no user")
	}
	if t.Timeout < 0 {
		return errors.New("negative timeout")
	}
	return nil
}

// Conn is one dedicated session on a server: session state such as
// SET wait_timeout sticks for its lifetime. Statements run one at a time (a
// call waits for the previous one, or for its context). When a statement's
// context ends while it runs, or the network fails under it, the driver
// drops the socket; Conn then kills that connection on the server through a
// short-lived side connection, so nothing keeps running there, and every
// later call returns ErrSessionLost: open a new Conn.
type Conn struct {
	target         Target
	connectTimeout time.Duration
	ioTimeout      time.Duration
	connector      driver.Connector
	db             *sql.DB
	sc             *sql.Conn
	id             uint64
	version        Version

	sem    chan struct{} // held while a statement runs
	lost   error         // set once the session is gone; guarded by sem
	closed atomic.Bool
}

// Open connects to t and reads the connection id and the server version
// (one query). Failures are returned as *ConnectError, which classifies them
// (access denied, timeout, refused, no route...) and names the address and
// user.
func Open(ctx context.Context, t Target) (*Conn, error) {
	if err := t.validate(); err != nil {
		return nil, fmt.Errorf("mysqlx: connect to %s: %w", t.Addr, err)
	}
	timeout := t.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ioTimeout := max(timeout, minIOTimeout)

	cfg := mysql.NewConfig()
	cfg.User = t.User
	cfg.Passwd = t.Password
	cfg.Net = "tcp"
	cfg.Addr = t.Addr
	cfg.Timeout = timeout
	cfg.ReadTimeout = ioTimeout
	cfg.WriteTimeout = ioTimeout
	cfg.InterpolateParams = false
	cfg.Logger = &mysql.NopLogger{}
	if t.OnPeerClose != nil {
		var once sync.Once
		notify := func() { once.Do(t.OnPeerClose) }
		var d net.Dialer
		cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return watchPeerClose(nc, notify), nil
		}
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysqlx: connect to %s: driver configuration: %w", t.Addr, err)
	}

	effective := timeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < effective {
		effective = time.Until(dl)
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	fail := func(err error) (*Conn, error) {
		_ = db.Close()
		return nil, &ConnectError{
			Addr: t.Addr, User: t.User, Where: t.CredentialsFrom, Timeout: effective,
			Failure: ClassifyConnect(err), Err: err,
		}
	}
	sc, err := db.Conn(cctx)
	if err != nil {
		return fail(err)
	}
	var (
		id               uint64
		version, comment string
	)
	err = sc.QueryRowContext(cctx, queryTag+"SELECT CONNECTION_ID(), @@version, @@version_comment").Scan(&id, &version, &comment)
	if err != nil {
		_ = sc.Close()
		return fail(err)
	}
	v, err := parseServerVersion(version, comment)
	if err != nil {
		_ = sc.Close()
		_ = db.Close()
		return nil, fmt.Errorf("mysqlx: connect to %s: %w", t.Addr, err)
	}
	return &Conn{
		target:         t,
		connectTimeout: timeout,
		ioTimeout:      ioTimeout,
		connector:      connector,
		db:             db,
		sc:             sc,
		id:             id,
		version:        v,
		sem:            make(chan struct{}, 1),
	}, nil
}

// Close ends the session. It waits for a running statement to return
// (cancel its context to make that quick). Closing twice is harmless.
func (c *Conn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	err := c.sc.Close()
	if errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) {
		err = nil
	}
	if dbErr := c.db.Close(); err == nil {
		err = dbErr
	}
	if err != nil {
		return fmt.Errorf("mysqlx: close %s: %w", c.target.Addr, err)
	}
	return nil
}

// Addr returns the server's "host:port".
func (c *Conn) Addr() string { return c.target.Addr }

// Version returns the server version read when the connection was opened.
func (c *Conn) Version() Version { return c.version }

// ConnectionID returns the server's id for this session (CONNECTION_ID()),
// as shown in the process list and accepted by KILL.
func (c *Conn) ConnectionID() uint64 { return c.id }

// errorf wraps err with the package, step and host:
// "mysqlx: SHOW SLAVE STATUS on 198.18.0.12:3306: ...".
func (c *Conn) errorf(step string, err error) error {
	return fmt.Errorf("mysqlx: %s on %s: %w", step, c.target.Addr, err)
}

// do runs f on the session, one statement at a time, and wraps its error
// with the step and host. When f fails because the context ended or the
// network broke, the session is marked lost and its connection is killed on
// the server.
func (c *Conn) do(ctx context.Context, step string, f func(ctx context.Context, sc *sql.Conn) error) error {
	if err := ctx.Err(); err != nil {
		return c.errorf(step, err)
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return c.errorf(step, ctx.Err())
	}
	defer func() { <-c.sem }()
	if c.closed.Load() {
		return c.errorf(step, ErrClosed)
	}
	if c.lost != nil {
		return c.errorf(step, c.lost)
	}
	if err := ctx.Err(); err != nil {
		return c.errorf(step, err)
	}
	start := time.Now()
	err := f(ctx, c.sc)
	if err == nil {
		return nil
	}
	if !sessionLost(err) {
		return c.errorf(step, err)
	}
	c.lost = fmt.Errorf("%w: %s was interrupted after %s: %w", ErrSessionLost, step, time.Since(start).Round(time.Millisecond), err)
	if c.target.NoKillSideways {
		return c.errorf(step, c.lost)
	}
	if kerr := c.killSideways(ctx); kerr != nil {
		return c.errorf(step, fmt.Errorf("%w; killing connection %d on the server failed too: %v", c.lost, c.id, kerr))
	}
	return c.errorf(step, c.lost)
}

// sessionLost reports whether err means the driver gave up the socket: the
// statement's context ended, a read/write timed out, or the network failed.
// A server error (*mysql.MySQLError) or a conversion error leaves the session
// usable.
func sessionLost(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.As(err, &netErr)
}

// killSideways kills this session's connection on the server through a new
// connection, so that a statement abandoned by a cancelled context does not
// keep running (gh-ost does the same with KILL QUERY). The driver has already
// closed our socket, so killing the whole connection loses nothing and also
// releases its locks at once. It runs even when ctx is already done, bounded
// by the connect timeout.
func (c *Conn) killSideways(ctx context.Context) error {
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.connectTimeout)
	defer cancel()
	db := sql.OpenDB(c.connector)
	defer db.Close()
	_, err := db.ExecContext(kctx, queryTag+"KILL CONNECTION "+strconv.FormatUint(c.id, 10))
	if ErrorNumber(err) == erNoSuchThread {
		return nil
	}
	return err
}

// resultSet is a fully read result: column names and rows of driver values
// ([]byte, int64, uint64, float64, string, time.Time, or nil for NULL).
type resultSet struct {
	cols []string
	rows [][]any
}

// query runs a statement that returns rows and reads them all.
func (c *Conn) query(ctx context.Context, step, q string, args ...any) (resultSet, error) {
	var rs resultSet
	err := c.do(ctx, step, func(ctx context.Context, sc *sql.Conn) error {
		rows, err := sc.QueryContext(ctx, queryTag+q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		if rs.cols, err = rows.Columns(); err != nil {
			return err
		}
		for rows.Next() {
			vals := make([]any, len(rs.cols))
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			rs.rows = append(rs.rows, vals)
		}
		return rows.Err()
	})
	return rs, err
}

// exec runs a statement that returns no rows.
func (c *Conn) exec(ctx context.Context, step, q string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := c.do(ctx, step, func(ctx context.Context, sc *sql.Conn) error {
		var err error
		res, err = sc.ExecContext(ctx, queryTag+q, args...)
		return err
	})
	return res, err
}

// Exec runs a statement that returns no rows, tagged like every statement
// of this package. Values go through placeholders (server-side prepared
// statements: the driver never interpolates).
func (c *Conn) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return c.exec(ctx, "exec", query, args...)
}

// Row is the first row of a QueryRow result.
type Row struct {
	addr string
	cols []string
	vals []any
	err  error
}

// QueryRow runs a query at once, tagged like every statement of this
// package, and keeps its first row for Scan. Further rows are read and
// dropped.
func (c *Conn) QueryRow(ctx context.Context, query string, args ...any) *Row {
	rs, err := c.query(ctx, "query", query, args...)
	if err != nil {
		return &Row{err: err}
	}
	if len(rs.rows) == 0 {
		return &Row{err: c.errorf("query", sql.ErrNoRows)}
	}
	return &Row{addr: c.target.Addr, cols: rs.cols, vals: rs.rows[0]}
}

// Err returns the query's error, if any (sql.ErrNoRows, wrapped, when there
// was no row).
func (r *Row) Err() error { return r.err }

// Scan copies the row's columns into dest, which must have one pointer per
// column: *string, *[]byte, *int, *int64, *uint64, *uint32, *float64,
// *bool, *any, or an sql.Scanner such as *sql.NullString. NULL into a
// non-nullable destination is an error.
func (r *Row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	if len(dest) != len(r.vals) {
		return fmt.Errorf("mysqlx: scan on %s: %d destinations for %d columns", r.addr, len(dest), len(r.vals))
	}
	for i, d := range dest {
		if err := assign(d, r.vals[i]); err != nil {
			return fmt.Errorf("mysqlx: scan column %s on %s: %w", r.cols[i], r.addr, err)
		}
	}
	return nil
}
