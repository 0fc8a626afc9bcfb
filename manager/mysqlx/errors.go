package mysqlx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Sentinel errors.
var (
	// ErrSessionLost reports that the connection's session is gone: a
	// statement was cancelled or timed out mid-flight (the driver then closes
	// the socket, and the statement was killed on the server), the network
	// failed, or the server ended the session. The error that caused it
	// (context.Canceled, context.DeadlineExceeded, the driver's error) is
	// wrapped too. The Conn cannot be used again; open a new one.
	ErrSessionLost = errors.New("session lost")
	// ErrClosed reports use of a Conn after Close.
	ErrClosed = errors.New("connection closed")
	// ErrWaitTimeout reports that WaitForPos, WaitForGTID or GetLock did not
	// succeed within its timeout.
	ErrWaitTimeout = errors.New("wait timed out")
	// ErrNotReplicating reports that MASTER_POS_WAIT returned NULL: the
	// replica's SQL thread is not running or replication is not configured.
	ErrNotReplicating = errors.New("replica SQL thread not running or replication not configured")
	// ErrUnsupported reports a feature the server's flavor or version lacks
	// (MASTER_USE_GTID on MySQL, auto-position on MariaDB, ...).
	ErrUnsupported = errors.New("not supported by this server")
	// ErrMissingColumn reports that a result lacks a column this package
	// needs for the server's flavor and version; the message names it.
	ErrMissingColumn = errors.New("missing column")
)

// MySQL and MariaDB server error numbers used in this package.
const (
	erConCount           = 1040 // ER_CON_COUNT_ERROR: too many connections
	erBadHost            = 1042 // ER_BAD_HOST_ERROR: cannot get host name for your address
	erHandshake          = 1043 // ER_HANDSHAKE_ERROR: bad handshake
	erDBAccessDenied     = 1044 // ER_DBACCESS_DENIED_ERROR
	erAccessDenied       = 1045 // ER_ACCESS_DENIED_ERROR: wrong user or password
	erHostIsBlocked      = 1129 // ER_HOST_IS_BLOCKED: too many connection errors
	erHostNotPrivileged  = 1130 // ER_HOST_NOT_PRIVILEGED: host not allowed to connect
	erTooManyUserConns   = 1203 // ER_TOO_MANY_USER_CONNECTIONS
	erUserLimitReached   = 1226 // ER_USER_LIMIT_REACHED: max_user_connections and friends
	erNotSupportedAuth   = 1251 // ER_NOT_SUPPORTED_AUTH_MODE
	erServerIsInSecureAu = 1275 // ER_SERVER_IS_IN_SECURE_AUTH_MODE
)

// IsAliveError reports whether err carries one of the MySQL error numbers
// that MHA treats as "the server is alive but refuses us" rather than "the
// server is dead": 1040, 1042, 1043, 1044, 1045, 1129, 1130, 1203, 1226,
// 1251 and 1275 (too many connections, access denied, host blocked,
// unsupported authentication...). At start-up such an error is a
// configuration problem; in the ping loop it does not count as a failure.
func IsAliveError(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && IsAliveErrno(me.Number)
}

// IsAliveErrno reports whether a MySQL error number is one of those listed
// for IsAliveError.
func IsAliveErrno(n uint16) bool {
	switch n {
	case erConCount, erBadHost, erHandshake, erDBAccessDenied, erAccessDenied,
		erHostIsBlocked, erHostNotPrivileged, erTooManyUserConns, erUserLimitReached,
		erNotSupportedAuth, erServerIsInSecureAu:
		return true
	}
	return false
}

// ErrorNumber returns the MySQL error number carried by err, or 0 when err
// is not a server error.
func ErrorNumber(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// ConnectFailure classifies why a connection could not be opened.
type ConnectFailure int

// Connect failure kinds.
const (
	// FailureOther is any failure not classified below.
	FailureOther ConnectFailure = iota
	// FailureAccessDenied is MySQL error 1045: wrong user or password.
	FailureAccessDenied
	// FailureRejected is another error of the IsAliveError list: the server
	// answered but refused the session (too many connections, host blocked,
	// host not allowed, unsupported authentication plugin...).
	FailureRejected
	// FailureTimeout means no answer within the connect timeout (host down,
	// packets dropped by a firewall or a partition, server hung).
	FailureTimeout
	// FailureRefused means the host answered with a TCP reset: nothing
	// listens on the port.
	FailureRefused
	// FailureNoRoute means the host or its network is unreachable.
	FailureNoRoute
	// FailureUnresolved means the host name could not be resolved.
	FailureUnresolved
	// FailureCanceled means the caller's context was cancelled.
	FailureCanceled
)

// String names the failure kind.
func (f ConnectFailure) String() string {
	switch f {
	case FailureAccessDenied:
		return "access denied"
	case FailureRejected:
		return "rejected"
	case FailureTimeout:
		return "timeout"
	case FailureRefused:
		return "refused"
	case FailureNoRoute:
		return "no route"
	case FailureUnresolved:
		return "unresolved"
	case FailureCanceled:
		return "canceled"
	}
	return "other"
}

// ClassifyConnect tells why a connect attempt failed, from the error the
// driver or the network returned.
func ClassifyConnect(err error) ConnectFailure {
	var me *mysql.MySQLError
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case err == nil:
		return FailureOther
	case errors.As(err, &me):
		if me.Number == erAccessDenied {
			return FailureAccessDenied
		}
		if IsAliveError(err) {
			return FailureRejected
		}
		return FailureOther
	case errors.Is(err, context.Canceled):
		return FailureCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return FailureTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return FailureRefused
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return FailureNoRoute
	case errors.As(err, &dnsErr):
		if dnsErr.IsTimeout {
			return FailureTimeout
		}
		return FailureUnresolved
	case errors.As(err, &netErr) && netErr.Timeout():
		return FailureTimeout
	}
	return FailureOther
}

// ConnectError is returned by Open when no usable session could be
// established. Its message names the address and the user and says what to
// check; it never contains the password.
type ConnectError struct {
	Addr    string
	User    string
	Where   string        // where the credentials were configured (Target.CredentialsFrom)
	Timeout time.Duration // the connect timeout that applied
	Failure ConnectFailure
	Err     error // the driver's or the network's error
}

// Error renders a message an operator can act on, e.g. "mysqlx: connect:
// access denied for user root at 198.18.0.12:3306 (check user/password in
// app1.cnf [server1]): Error 1045 (28000): Access denied ...".
func (e *ConnectError) Error() string {
	where := e.Where
	if where == "" {
		where = "the configuration"
	}
	var msg string
	switch e.Failure {
	case FailureAccessDenied:
		msg = fmt.Sprintf("access denied for user %s at %s (check user/password in %s)", e.User, e.Addr, where)
	case FailureRejected:
		msg = fmt.Sprintf("%s is up but refused a session for user %s (MySQL error %d; check the server's connection limits, host grants and authentication plugin)",
			e.Addr, e.User, ErrorNumber(e.Err))
	case FailureTimeout:
		msg = fmt.Sprintf("no answer from %s within %s (host down, network partition, firewall, or server hung)", e.Addr, e.Timeout)
	case FailureRefused:
		msg = fmt.Sprintf("connection refused by %s (the host is up but nothing listens on that port: is mysqld running?)", e.Addr)
	case FailureNoRoute:
		msg = fmt.Sprintf("no route to %s (host or network unreachable)", e.Addr)
	case FailureUnresolved:
		msg = fmt.Sprintf("cannot resolve the host of %s", e.Addr)
	case FailureCanceled:
		msg = fmt.Sprintf("connecting to %s as %s was cancelled", e.Addr, e.User)
	default:
		msg = fmt.Sprintf("cannot open a session on %s as user %s", e.Addr, e.User)
	}
	if e.Err == nil {
		return "mysqlx: connect: " + msg
	}
	return "mysqlx: connect: " + msg + ": " + e.Err.Error()
}

// Unwrap returns the underlying error, so errors.As finds *mysql.MySQLError.
func (e *ConnectError) Unwrap() error { return e.Err }
