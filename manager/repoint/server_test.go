package repoint

import (
	"database/sql"
	"errors"
	"fmt"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"
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
