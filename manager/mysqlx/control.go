package mysqlx

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/gomha/gomha/node/binlog"
)

// MHA's advisory lock names (GET_LOCK), kept so that an MHA manager and
// gomha exclude each other.
const (
	// MonitorLock is held on the master by the process that monitors it.
	MonitorLock = "MHA_Master_High_Availability_Monitor"
	// FailoverLock is held on each server while a failover changes it.
	FailoverLock = "MHA_Master_High_Availability_Failover"
)

// SetReadOnly sets @@global.read_only. On MySQL >= 5.7.8, turning it off
// also turns super_read_only off; turning it on leaves super_read_only as
// it is.
func (c *Conn) SetReadOnly(ctx context.Context, on bool) error {
	stmt := "SET GLOBAL read_only = 0"
	if on {
		stmt = "SET GLOBAL read_only = 1"
	}
	_, err := c.exec(ctx, stmt, stmt)
	return err
}

// StopReplica stops both replication threads (STOP SLAVE, or STOP REPLICA
// on MySQL >= 8.0.22).
func (c *Conn) StopReplica(ctx context.Context) error {
	return c.simple(ctx, c.version.replicaStmt("STOP", ""))
}

// StartReplica starts both replication threads (START SLAVE, or START
// REPLICA on MySQL >= 8.0.22).
func (c *Conn) StartReplica(ctx context.Context) error {
	return c.simple(ctx, c.version.replicaStmt("START", ""))
}

// StopReplicaIOThread stops the IO (receiver) thread only.
func (c *Conn) StopReplicaIOThread(ctx context.Context) error {
	return c.simple(ctx, c.version.replicaStmt("STOP", "IO_THREAD"))
}

// StopReplicaSQLThread stops the SQL (applier) thread only.
func (c *Conn) StopReplicaSQLThread(ctx context.Context) error {
	return c.simple(ctx, c.version.replicaStmt("STOP", "SQL_THREAD"))
}

// ResetReplicaAll forgets the replica configuration and relay logs (RESET
// SLAVE ALL, or RESET REPLICA ALL on MySQL >= 8.0.22). Replication must be
// stopped.
func (c *Conn) ResetReplicaAll(ctx context.Context) error {
	return c.simple(ctx, c.version.replicaStmt("RESET", "ALL"))
}

func (c *Conn) simple(ctx context.Context, stmt string) error {
	_, err := c.exec(ctx, stmt, stmt)
	return err
}

// Kill ends another session on the server (KILL CONNECTION id).
func (c *Conn) Kill(ctx context.Context, id uint64) error {
	stmt := "KILL CONNECTION " + strconv.FormatUint(id, 10)
	_, err := c.exec(ctx, stmt, stmt)
	return err
}

// KillQuery ends the statement another session is running (KILL QUERY id),
// leaving the session open.
func (c *Conn) KillQuery(ctx context.Context, id uint64) error {
	stmt := "KILL QUERY " + strconv.FormatUint(id, 10)
	_, err := c.exec(ctx, stmt, stmt)
	return err
}

// ChangeSourceOptions says where a replica replicates from and where it
// starts. Exactly one of Pos, UseGTID and AutoPosition must be set.
type ChangeSourceOptions struct {
	Host string
	Port int
	// User and Password: empty keeps the replica's current value (MHA:
	// repl_user/repl_password unset).
	User     string
	Password string
	// Pos starts at a binlog coordinate of the source. On MariaDB >= 10.0.2
	// this also sets MASTER_USE_GTID=no, on MySQL >= 5.6.5
	// MASTER_AUTO_POSITION=0.
	Pos binlog.Pos
	// UseGTID is MariaDB's MASTER_USE_GTID: "slave_pos" or "current_pos".
	UseGTID string
	// AutoPosition is MySQL's MASTER_AUTO_POSITION=1 (gtid_mode=ON).
	AutoPosition bool
}

// buildChangeSource renders CHANGE MASTER TO (CHANGE REPLICATION SOURCE TO
// on MySQL >= 8.0.23). String values go through quoteLiteral.
func buildChangeSource(v Version, o ChangeSourceOptions, noBackslashEscapes bool) (string, error) {
	if o.Host == "" {
		return "", errors.New("no source host")
	}
	if o.Port < 1 || o.Port > 65535 {
		return "", fmt.Errorf("bad source port %d", o.Port)
	}
	modes := 0
	if !o.Pos.IsZero() {
		modes++
		if o.Pos.File == "" {
			return "", fmt.Errorf("position %s has no file", o.Pos)
		}
	}
	if o.UseGTID != "" {
		modes++
	}
	if o.AutoPosition {
		modes++
	}
	if modes != 1 {
		return "", errors.New("set exactly one of Pos, UseGTID and AutoPosition")
	}

	kw := "MASTER_"
	stmt := "CHANGE MASTER TO "
	if v.usesSourceKeyword() {
		kw = "SOURCE_"
		stmt = "CHANGE REPLICATION SOURCE TO "
	}
	var opts []string
	add := func(name, value string) { opts = append(opts, kw+name+" = "+value) }
	addString := func(name, value string) error {
		q, err := quoteLiteral(value, noBackslashEscapes)
		if err != nil {
			return fmt.Errorf("%s%s: %w", kw, name, err)
		}
		add(name, q)
		return nil
	}
	if err := addString("HOST", o.Host); err != nil {
		return "", err
	}
	add("PORT", strconv.Itoa(o.Port))
	if o.User != "" {
		if err := addString("USER", o.User); err != nil {
			return "", err
		}
	}
	if o.Password != "" {
		if err := addString("PASSWORD", o.Password); err != nil {
			return "", err
		}
	}
	switch {
	case !o.Pos.IsZero():
		if err := addString("LOG_FILE", o.Pos.File); err != nil {
			return "", err
		}
		add("LOG_POS", strconv.FormatUint(o.Pos.Offset, 10))
		switch {
		case v.isMariaDB(10, 0, 2):
			// MariaDB 10.10+ defaults new replicas to slave_pos; a file
			// and position only make sense without GTID.
			add("USE_GTID", "no")
		case v.isMySQL(5, 6, 5):
			add("AUTO_POSITION", "0")
		}
	case o.UseGTID != "":
		mode := strings.ToLower(o.UseGTID)
		if mode != "slave_pos" && mode != "current_pos" {
			return "", fmt.Errorf("MASTER_USE_GTID %q: want slave_pos or current_pos", o.UseGTID)
		}
		if !v.isMariaDB(10, 0, 2) {
			return "", fmt.Errorf("%w: MASTER_USE_GTID needs MariaDB >= 10.0.2, server is %s", ErrUnsupported, v)
		}
		add("USE_GTID", mode)
	case o.AutoPosition:
		if !v.isMySQL(5, 6, 5) {
			return "", fmt.Errorf("%w: MASTER_AUTO_POSITION needs MySQL >= 5.6.5, server is %s", ErrUnsupported, v)
		}
		add("AUTO_POSITION", "1")
	}
	return stmt + strings.Join(opts, ", "), nil
}

// ChangeSource points the replica at a new source (CHANGE MASTER TO, or
// CHANGE REPLICATION SOURCE TO on MySQL >= 8.0.23). Replication must be
// stopped. It reads the session's sql_mode first, because
// NO_BACKSLASH_ESCAPES changes how string literals are read. A server error
// that quotes the statement is reported without its text, which holds the
// password.
func (c *Conn) ChangeSource(ctx context.Context, o ChangeSourceOptions) error {
	step := "CHANGE MASTER TO"
	if c.version.usesSourceKeyword() {
		step = "CHANGE REPLICATION SOURCE TO"
	}
	res, err := c.query(ctx, step+" (read sql_mode)", "SELECT @@session.sql_mode")
	if err != nil {
		return err
	}
	if len(res.rows) != 1 || len(res.rows[0]) != 1 {
		return c.errorf(step, errors.New("cannot read @@session.sql_mode"))
	}
	nbe := strings.Contains(strings.ToUpper(str(res.rows[0][0])), "NO_BACKSLASH_ESCAPES")
	stmt, err := buildChangeSource(c.version, o, nbe)
	if err != nil {
		return c.errorf(step, err)
	}
	_, err = c.exec(ctx, step, stmt)
	return redactPassword(err, o.Password)
}

// erParseError is ER_PARSE_ERROR (1064), whose message quotes the
// statement from the point of the error on.
const erParseError = 1064

// redactPassword replaces a server error whose message may quote the
// password (a syntax error quotes the statement, perhaps cut in the middle
// of the password) with one that does not.
func redactPassword(err error, password string) error {
	var me *mysql.MySQLError
	if err == nil || password == "" || !errors.As(err, &me) {
		return err
	}
	leaks := me.Number == erParseError || strings.Contains(me.Message, password)
	for _, nbe := range []bool{false, true} {
		if q, qerr := quoteLiteral(password, nbe); qerr == nil && strings.Contains(me.Message, q[1:len(q)-1]) {
			leaks = true
		}
	}
	if !leaks {
		return err
	}
	clean := &mysql.MySQLError{Number: me.Number, SQLState: me.SQLState,
		Message: "(server message withheld: it quotes the statement, which contains the password)"}
	// The text around the server's message (step and host) never contains
	// the password; keep it.
	msg := err.Error()
	if i := strings.Index(msg, me.Error()); i >= 0 {
		return fmt.Errorf("%s%w", msg[:i], clean)
	}
	return fmt.Errorf("mysqlx: change source: %w", clean)
}

// maxSlice is the longest single server-side wait: it must end before the
// per-packet read timeout fires, with a second to spare.
func (c *Conn) maxSlice() time.Duration {
	s := (c.ioTimeout - time.Second).Truncate(time.Second)
	return max(s, time.Second)
}

// waitSliced calls try with whole-second slices of timeout until it reports
// done, fails, or the time is up (ErrWaitTimeout). Slicing keeps each round
// trip shorter than the read timeout, and the context is honored between
// and during slices.
func (c *Conn) waitSliced(ctx context.Context, step string, timeout time.Duration, try func(ctx context.Context, secs int64) (bool, error)) error {
	if timeout <= 0 {
		return c.errorf(step, fmt.Errorf("timeout must be positive, got %s", timeout))
	}
	deadline := time.Now().Add(timeout)
	for {
		rem := time.Until(deadline)
		if rem <= 0 {
			return c.errorf(step, fmt.Errorf("%w after %s", ErrWaitTimeout, timeout))
		}
		secs := int64(math.Ceil(min(rem, c.maxSlice()).Seconds()))
		done, err := try(ctx, secs)
		if err != nil || done {
			return err
		}
	}
}

// WaitForPos waits until the replica's SQL thread has executed the source
// coordinate pos, or timeout passes (ErrWaitTimeout): MASTER_POS_WAIT, or
// SOURCE_POS_WAIT on MySQL >= 8.0.26. ErrNotReplicating means the SQL thread
// is not running or replication is not configured (MASTER_POS_WAIT returned
// NULL). MHA's waits have no timeout and hang (issues #65, #72); this one
// always has one. The server counts whole seconds, so a wait may overrun
// timeout by up to a second.
func (c *Conn) WaitForPos(ctx context.Context, pos binlog.Pos, timeout time.Duration) error {
	fn := c.version.posWaitFunc()
	q := "SELECT " + fn + "(?, ?, ?)"
	return c.waitSliced(ctx, fn, timeout, func(ctx context.Context, secs int64) (bool, error) {
		res, err := c.query(ctx, fn, q, pos.File, pos.Offset, secs)
		if err != nil {
			return false, err
		}
		if len(res.rows) != 1 || len(res.rows[0]) != 1 {
			return false, c.errorf(fn, errors.New("no result"))
		}
		if _, null := text(res.rows[0][0]); null {
			return false, c.errorf(fn, ErrNotReplicating)
		}
		n, err := toInt64(res.rows[0][0])
		if err != nil {
			return false, c.errorf(fn, err)
		}
		return n >= 0, nil // -1: this slice timed out
	})
}

// WaitForGTID waits until the server has applied the GTID position gtid, or
// timeout passes (ErrWaitTimeout): MASTER_GTID_WAIT on MariaDB >= 10.0.9
// (a MariaDB GTID list such as "0-1-100,1-2-7", compared with
// gtid_slave_pos), WAIT_FOR_EXECUTED_GTID_SET on MySQL >= 5.7.5 (a MySQL GTID
// set, compared with gtid_executed). Like WaitForPos it may overrun timeout
// by up to a second.
func (c *Conn) WaitForGTID(ctx context.Context, gtid string, timeout time.Duration) error {
	var fn string
	timedOut := int64(-1)
	switch {
	case c.version.isMariaDB(10, 0, 9):
		fn = "MASTER_GTID_WAIT"
	case c.version.isMySQL(5, 7, 5):
		fn = "WAIT_FOR_EXECUTED_GTID_SET"
		timedOut = 1
	default:
		return c.errorf("GTID wait", fmt.Errorf("%w: no GTID wait function in %s", ErrUnsupported, c.version))
	}
	q := "SELECT " + fn + "(?, ?)"
	return c.waitSliced(ctx, fn, timeout, func(ctx context.Context, secs int64) (bool, error) {
		res, err := c.query(ctx, fn, q, gtid, secs)
		if err != nil {
			return false, err
		}
		if len(res.rows) != 1 || len(res.rows[0]) != 1 {
			return false, c.errorf(fn, errors.New("no result"))
		}
		n, err := toInt64(res.rows[0][0])
		if err != nil {
			return false, c.errorf(fn, err)
		}
		switch n {
		case 0:
			return true, nil
		case timedOut:
			return false, nil
		}
		return false, c.errorf(fn, fmt.Errorf("unexpected result %d", n))
	})
}

// GetLock takes the named advisory lock (GET_LOCK), waiting up to timeout
// for another session to release it. It returns false, without error, when
// the lock stayed busy. A zero timeout tries once. The lock is released by
// ReleaseLock or when the session ends.
func (c *Conn) GetLock(ctx context.Context, name string, timeout time.Duration) (bool, error) {
	const step = "GET_LOCK"
	try := func(ctx context.Context, secs int64) (bool, error) {
		res, err := c.query(ctx, step, "SELECT GET_LOCK(?, ?)", name, secs)
		if err != nil {
			return false, err
		}
		if len(res.rows) != 1 || len(res.rows[0]) != 1 {
			return false, c.errorf(step, errors.New("no result"))
		}
		n, err := toInt64(res.rows[0][0])
		if err != nil {
			return false, c.errorf(step, fmt.Errorf("lock %q: %w", name, err))
		}
		return n == 1, nil
	}
	if timeout == 0 {
		return try(ctx, 0)
	}
	err := c.waitSliced(ctx, step, timeout, try)
	if errors.Is(err, ErrWaitTimeout) {
		return false, nil
	}
	return err == nil, err
}

// ReleaseLock releases the named advisory lock (RELEASE_LOCK). It returns
// false when this session did not hold it.
func (c *Conn) ReleaseLock(ctx context.Context, name string) (bool, error) {
	const step = "RELEASE_LOCK"
	res, err := c.query(ctx, step, "SELECT RELEASE_LOCK(?)", name)
	if err != nil {
		return false, err
	}
	if len(res.rows) != 1 || len(res.rows[0]) != 1 {
		return false, c.errorf(step, errors.New("no result"))
	}
	if _, null := text(res.rows[0][0]); null {
		return false, nil // no such lock
	}
	n, err := toInt64(res.rows[0][0])
	if err != nil {
		return false, c.errorf(step, err)
	}
	return n == 1, nil
}
