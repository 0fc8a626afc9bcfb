package repoint

import (
	"database/sql"
	"errors"
	"fmt"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"

	"github.com/gomha/gomha/manager/mysqlx"
)

func TestConnConfigFill(t *testing.T) {
	tests := []struct {
		name string
		row  connConfig
		want Settings
	}{
		{"TLS on and verified", connConfig{heartbeat: 1.5, retry: 10, count: 86400, ssl: "YES", verify: "YES", ca: "/ca.pem", cipher: "AES128-SHA"},
			Settings{HeartbeatPeriod: ptr(1.5), ConnectRetry: ptr(10), RetryCount: ptr(uint64(86400)), SSL: ptr(true), SSLVerifyServerCert: ptr(true), SSLCA: "/ca.pem", SSLCipher: "AES128-SHA"}},
		{"no TLS", connConfig{heartbeat: 30, retry: 60, count: 10, ssl: "NO", verify: "NO"},
			Settings{HeartbeatPeriod: ptr(30.0), ConnectRetry: ptr(60), RetryCount: ptr(uint64(10)), SSL: ptr(false), SSLVerifyServerCert: ptr(false)}},
		{"MASTER_SSL=1 on a server without TLS", connConfig{ssl: "IGNORED", verify: "NO"},
			Settings{HeartbeatPeriod: ptr(0.0), ConnectRetry: ptr(0), RetryCount: ptr(uint64(0)), SSL: ptr(true), SSLVerifyServerCert: ptr(false)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Settings
			tt.row.fill(&got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHeartbeatStatus(t *testing.T) {
	if got := heartbeatStatus("30.000"); got == nil || *got != 30 {
		t.Errorf("heartbeatStatus(30.000) = %v", got)
	}
	if got := heartbeatStatus(" 0.500\n"); got == nil || *got != 0.5 {
		t.Errorf("heartbeatStatus(0.500) = %v", got)
	}
	if got := heartbeatStatus(""); got != nil {
		t.Errorf("heartbeatStatus(\"\") = %v; want unknown", *got)
	}
}

func TestBestEffort(t *testing.T) {
	lost := errors.New("invalid connection")
	for _, tt := range []struct {
		err  error
		want error
	}{
		{fmt.Errorf("query on db2: %w", &mysql.MySQLError{Number: 1146, Message: "Table doesn't exist"}), nil},
		{fmt.Errorf("query on db2: %w", sql.ErrNoRows), nil},
		{lost, lost},
	} {
		if got := bestEffort(tt.err); got != tt.want {
			t.Errorf("bestEffort(%v) = %v; want %v", tt.err, got, tt.want)
		}
	}
}

// TestStatusSettings: on MariaDB (and MySQL 5.6) the settings a repoint
// gives again come from SHOW SLAVE STATUS; the rows are those of
// mysqlx/testdata/replica-status (mariadb-10.11-tls.txt, -pos.txt). No
// MASTER_RETRY_COUNT without a Master_Retry_Count column: MariaDB 10.11's
// CHANGE MASTER does not take it.
func TestStatusSettings(t *testing.T) {
	maria := mysqlx.Version{Major: 10, Minor: 11, Patch: 19, Flavor: mysqlx.MariaDB}
	tls := &mysqlx.ReplicaStatus{ConnectRetry: ptr(5), SSL: ptr(true), SSLVerifyServerCert: ptr(true),
		SSLCA: "/etc/mysql/tls/ca.pem", SSLCAPath: "/etc/mysql/tls", SSLCert: "/etc/mysql/tls/client-cert.pem",
		SSLCipher: "ECDHE-RSA-AES256-GCM-SHA384", SSLKey: "/etc/mysql/tls/client-key.pem", SSLCRL: "/etc/mysql/tls/crl.pem"}
	for _, tt := range []struct {
		name string
		rs   *mysqlx.ReplicaStatus
		want Settings
		stmt string
	}{
		{"TLS replica", tls, Settings{ConnectRetry: ptr(5), SSL: ptr(true), SSLVerifyServerCert: ptr(true),
			SSLCA: "/etc/mysql/tls/ca.pem", SSLCAPath: "/etc/mysql/tls", SSLCert: "/etc/mysql/tls/client-cert.pem",
			SSLCipher: "ECDHE-RSA-AES256-GCM-SHA384", SSLKey: "/etc/mysql/tls/client-key.pem", SSLCRL: "/etc/mysql/tls/crl.pem"},
			"CHANGE MASTER TO MASTER_CONNECT_RETRY = 5, MASTER_SSL = 1, MASTER_SSL_CA = '/etc/mysql/tls/ca.pem', MASTER_SSL_CAPATH = '/etc/mysql/tls', " +
				"MASTER_SSL_CERT = '/etc/mysql/tls/client-cert.pem', MASTER_SSL_KEY = '/etc/mysql/tls/client-key.pem', " +
				"MASTER_SSL_CIPHER = 'ECDHE-RSA-AES256-GCM-SHA384', MASTER_SSL_CRL = '/etc/mysql/tls/crl.pem', MASTER_SSL_VERIFY_SERVER_CERT = 1"},
		{"plain replica", &mysqlx.ReplicaStatus{ConnectRetry: ptr(60), SSL: ptr(false), SSLVerifyServerCert: ptr(false)},
			Settings{ConnectRetry: ptr(60), SSL: ptr(false), SSLVerifyServerCert: ptr(false)},
			"CHANGE MASTER TO MASTER_CONNECT_RETRY = 60, MASTER_SSL = 0, MASTER_SSL_VERIFY_SERVER_CERT = 0"},
		{"with a retry count column", &mysqlx.ReplicaStatus{RetryCount: ptr(uint64(100))}, Settings{RetryCount: ptr(uint64(100))},
			"CHANGE MASTER TO MASTER_RETRY_COUNT = 100"},
		{"nothing known", &mysqlx.ReplicaStatus{}, Settings{}, ""},
		{"not a replica", nil, Settings{}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got Settings
			statusSettings(tt.rs, &got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
			if s := got.Statement(maria); s != tt.stmt {
				t.Errorf("Statement =\n  %s\nwant\n  %s", s, tt.stmt)
			}
		})
	}
}
