package repoint

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gomha/gomha/manager/mysqlx"
)

// Server is the SQL a repoint issues to one replica. FromConn adapts a
// *mysqlx.Conn; tests use a fake. Errors need not name the host: the
// repoint wraps them with the host and the step.
type Server interface {
	// Addr is host:port, for messages.
	Addr() string
	// Version decides the statement spelling (CHANGE MASTER or CHANGE
	// REPLICATION SOURCE).
	Version() mysqlx.Version
	StopReplica(ctx context.Context) error
	StopReplicaIOThread(ctx context.Context) error
	StartReplica(ctx context.Context) error
	// ReplicaStatus is SHOW SLAVE STATUS; nil when the server is not a
	// replica.
	ReplicaStatus(ctx context.Context) (*mysqlx.ReplicaStatus, error)
	// ChangeSource issues CHANGE MASTER TO with the source and the start
	// coordinates (mysqlx.Conn.ChangeSource: it quotes the values and keeps
	// the password out of its errors).
	ChangeSource(ctx context.Context, o mysqlx.ChangeSourceOptions) error
	// RelayLogPurge reads @@global.relay_log_purge.
	RelayLogPurge(ctx context.Context) (bool, error)
	// SetRelayLogPurge sets @@global.relay_log_purge.
	SetRelayLogPurge(ctx context.Context, on bool) error
	// Settings reads the connection settings the DBA chose on the replica
	// (heartbeat, connect retry, TLS...), best effort: what the server
	// cannot tell stays unknown. rs is its replica status, read just
	// before.
	Settings(ctx context.Context, rs *mysqlx.ReplicaStatus) (Settings, error)
	// ApplySettings runs the statement Settings.Statement built. It holds
	// no password and no value that needs quoting.
	ApplySettings(ctx context.Context, stmt string) error
}

// FromConn returns the Server behind c.
func FromConn(c *mysqlx.Conn) Server { return conn{c} }

// conn is Server over a mysqlx session.
type conn struct{ c *mysqlx.Conn }

func (s conn) Addr() string                                  { return s.c.Addr() }
func (s conn) Version() mysqlx.Version                       { return s.c.Version() }
func (s conn) StopReplica(ctx context.Context) error         { return s.c.StopReplica(ctx) }
func (s conn) StopReplicaIOThread(ctx context.Context) error { return s.c.StopReplicaIOThread(ctx) }
func (s conn) StartReplica(ctx context.Context) error        { return s.c.StartReplica(ctx) }
func (s conn) ReplicaStatus(ctx context.Context) (*mysqlx.ReplicaStatus, error) {
	return s.c.ReplicaStatus(ctx)
}
func (s conn) ChangeSource(ctx context.Context, o mysqlx.ChangeSourceOptions) error {
	return s.c.ChangeSource(ctx, o)
}

func (s conn) RelayLogPurge(ctx context.Context) (bool, error) {
	var v int
	err := s.c.QueryRow(ctx, "SELECT @@global.relay_log_purge").Scan(&v)
	return v != 0, err
}

func (s conn) SetRelayLogPurge(ctx context.Context, on bool) error {
	v := 0
	if on {
		v = 1
	}
	_, err := s.c.Exec(ctx, fmt.Sprintf("SET GLOBAL relay_log_purge=%d", v))
	return err
}

func (s conn) ApplySettings(ctx context.Context, stmt string) error {
	_, err := s.c.Exec(ctx, stmt)
	return err
}

// Settings reads what the server tells without parsing SHOW SLAVE STATUS
// beyond mysqlx.ReplicaStatus:
//   - MySQL >= 5.7: performance_schema.replication_connection_configuration
//     (heartbeat, connect retry and retry count, MASTER_SSL*);
//   - MariaDB and MySQL 5.6: the Slave_heartbeat_period status variable,
//     and the rest from rs (statusSettings: Connect_Retry, Master_SSL_*, and
//     Master_Retry_Count where the server has the column).
//
// MASTER_DELAY comes from rs (SQL_Delay). A server error (performance_schema
// off, no such variable) leaves the settings unknown; only a lost session
// is an error.
//
// CHANGE MASTER keeps the settings it does not name (MariaDB 10.x, MySQL
// 5.6-8.4); only the heartbeat period is reset, to slave_net_timeout/2,
// whenever MASTER_HOST or MASTER_PORT is given. The others are given again
// so that they survive a RESET SLAVE ALL too.
func (s conn) Settings(ctx context.Context, rs *mysqlx.ReplicaStatus) (Settings, error) {
	var st Settings
	if rs != nil && rs.SQLDelay > 0 {
		st.Delay = &rs.SQLDelay
	}
	v := s.c.Version()
	if v.Flavor == mysqlx.MySQL && v.AtLeast(5, 7, 0) {
		var r connConfig
		err := s.c.QueryRow(ctx, "SELECT HEARTBEAT_INTERVAL, CONNECTION_RETRY_INTERVAL, CONNECTION_RETRY_COUNT, "+
			"SSL_ALLOWED, SSL_VERIFY_SERVER_CERTIFICATE, SSL_CA_FILE, SSL_CA_PATH, SSL_CERTIFICATE, SSL_CIPHER, SSL_KEY, "+
			"SSL_CRL_FILE, SSL_CRL_PATH FROM performance_schema.replication_connection_configuration WHERE CHANNEL_NAME = ''").
			Scan(&r.heartbeat, &r.retry, &r.count, &r.ssl, &r.verify, &r.ca, &r.caPath, &r.cert, &r.cipher, &r.key, &r.crl, &r.crlPath)
		if err != nil {
			return st, bestEffort(err)
		}
		r.fill(&st)
		return st, nil
	}
	statusSettings(rs, &st)
	var name, value string
	if err := s.c.QueryRow(ctx, "SHOW GLOBAL STATUS LIKE 'Slave_heartbeat_period'").Scan(&name, &value); err != nil {
		return st, bestEffort(err)
	}
	st.HeartbeatPeriod = heartbeatStatus(value)
	return st, nil
}

// statusSettings copies into st the connection settings SHOW SLAVE STATUS
// tells (MariaDB, MySQL 5.6): connect retry, retry count, MASTER_SSL and
// its files. What rs does not know stays unknown. MariaDB 10.x and 11.x
// have no Master_Retry_Count column, so no MASTER_RETRY_COUNT is given
// again there (their CHANGE MASTER does not take it; the master_retry_count
// server option applies).
func statusSettings(rs *mysqlx.ReplicaStatus, st *Settings) {
	if rs == nil {
		return
	}
	st.ConnectRetry, st.RetryCount = rs.ConnectRetry, rs.RetryCount
	st.SSL, st.SSLVerifyServerCert = rs.SSL, rs.SSLVerifyServerCert
	st.SSLCA, st.SSLCAPath, st.SSLCert, st.SSLCipher, st.SSLKey, st.SSLCRL, st.SSLCRLPath =
		rs.SSLCA, rs.SSLCAPath, rs.SSLCert, rs.SSLCipher, rs.SSLKey, rs.SSLCRL, rs.SSLCRLPath
}

// connConfig is MySQL's performance_schema.replication_connection_configuration
// row (5.7 and later).
type connConfig struct {
	heartbeat                                   float64
	retry                                       int
	count                                       uint64
	ssl, verify                                 string // SSL_ALLOWED YES/NO/IGNORED, SSL_VERIFY_SERVER_CERTIFICATE YES/NO
	ca, caPath, cert, cipher, key, crl, crlPath string
}

// fill copies the row into st. SSL_ALLOWED is IGNORED for MASTER_SSL=1 on
// a server built without TLS: the setting is still 1.
func (r connConfig) fill(st *Settings) {
	on, verified := !strings.EqualFold(r.ssl, "NO"), strings.EqualFold(r.verify, "YES")
	hb, retry, count := r.heartbeat, r.retry, r.count
	st.HeartbeatPeriod, st.ConnectRetry, st.RetryCount = &hb, &retry, &count
	st.SSL, st.SSLVerifyServerCert = &on, &verified
	st.SSLCA, st.SSLCAPath, st.SSLCert, st.SSLCipher, st.SSLKey, st.SSLCRL, st.SSLCRLPath = r.ca, r.caPath, r.cert, r.cipher, r.key, r.crl, r.crlPath
}

// heartbeatStatus reads the Slave_heartbeat_period status value ("30.000");
// nil when it is not a number.
func heartbeatStatus(value string) *float64 {
	hb, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
	if err != nil {
		return nil
	}
	return &hb
}

// bestEffort drops a server error or an empty answer (the server answered:
// the setting is not there to read) and keeps any other (the session is gone).
func bestEffort(err error) error {
	if mysqlx.ErrorNumber(err) != 0 || errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	return err
}
