package repoint

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/topology"
	"github.com/gomha/gomha/node/binlog"
)

func TestOptions(t *testing.T) {
	src := Source{Host: "db2", Port: 3306, User: "repl", Password: "p"}
	pos := binlog.Pos{File: "mysql-bin.000002", Offset: 1234}
	base := mysqlx.ChangeSourceOptions{Host: "db2", Port: 3306, User: "repl", Password: "p"}
	tests := []struct {
		name    string
		how     How
		want    func(o mysqlx.ChangeSourceOptions) mysqlx.ChangeSourceOptions
		wantErr bool
	}{
		{"file/position", How{Mode: topology.GTIDOff, Pos: pos}, func(o mysqlx.ChangeSourceOptions) mysqlx.ChangeSourceOptions { o.Pos = pos; return o }, false},
		{"MySQL GTID without auto-position uses the position", How{Mode: topology.GTIDMySQLNoAutoPos, Pos: pos}, func(o mysqlx.ChangeSourceOptions) mysqlx.ChangeSourceOptions { o.Pos = pos; return o }, false},
		{"MariaDB GTID stays on slave_pos", How{Mode: topology.GTIDMariaDB, Pos: pos}, func(o mysqlx.ChangeSourceOptions) mysqlx.ChangeSourceOptions { o.UseGTID = "slave_pos"; return o }, false},
		{"MySQL GTID auto-position", How{Mode: topology.GTIDMySQL}, func(o mysqlx.ChangeSourceOptions) mysqlx.ChangeSourceOptions { o.AutoPosition = true; return o }, false},
		{"file/position without a position", How{Mode: topology.GTIDOff}, nil, true},
		{"position before the magic", How{Mode: topology.GTIDOff, Pos: binlog.Pos{File: "mysql-bin.000001", Offset: 3}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Options(src, tt.how)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Options = %+v; want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want(base), got); diff != "" {
				t.Errorf("Options (-want +got):\n%s", diff)
			}
		})
	}
}

var (
	running    = &mysqlx.ReplicaStatus{IORunning: mysqlx.IOConnected, SQLRunning: true}
	stopped    = &mysqlx.ReplicaStatus{IORunning: mysqlx.IOStopped}
	connecting = &mysqlx.ReplicaStatus{IORunning: mysqlx.IOConnecting, SQLRunning: true}
	mysql8     = mysqlx.Version{Major: 8, Minor: 0, Patch: 36, Flavor: mysqlx.MySQL}
)

func ptr[T any](v T) *T { return &v }

// TestReplicaOn walks whole repoints through the fake and checks every
// statement they issue, in order.
func TestReplicaOn(t *testing.T) {
	src := Source{Host: "db3", Port: 3306, User: "repl", Password: "s3cret"}
	pos := binlog.Pos{File: "mysql-bin.000007", Offset: 4242}
	tests := []struct {
		name     string
		fake     func() *fakeServer
		how      How
		wantOpts mysqlx.ChangeSourceOptions
		want     []string
	}{
		{
			name: "file/position on MariaDB keeps the heartbeat",
			fake: func() *fakeServer {
				f := newFake(running, stopped, connecting, running)
				f.settings = Settings{HeartbeatPeriod: ptr(1.5)}
				return f
			},
			how:      How{Mode: topology.GTIDOff, Pos: pos},
			wantOpts: mysqlx.ChangeSourceOptions{Host: "db3", Port: 3306, User: "repl", Password: "s3cret", Pos: pos},
			want: []string{"StopReplica", "ReplicaStatus", "ReplicaStatus", "Settings", "RelayLogPurge", "ChangeSource",
				"ApplySettings CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD = 1.5", "RelayLogPurge", "StartReplica",
				"ReplicaStatus", "ReplicaStatus"},
		},
		{
			name: "MariaDB GTID, a delayed replica stays delayed",
			fake: func() *fakeServer {
				f := newFake(stopped, running)
				f.settings = Settings{HeartbeatPeriod: ptr(2.0), Delay: ptr(int64(3600))}
				return f
			},
			how:      How{Mode: topology.GTIDMariaDB, Pos: pos},
			wantOpts: mysqlx.ChangeSourceOptions{Host: "db3", Port: 3306, User: "repl", Password: "s3cret", UseGTID: "slave_pos"},
			want: []string{"StopReplica", "ReplicaStatus", "Settings", "RelayLogPurge", "ChangeSource",
				"ApplySettings CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD = 2, MASTER_DELAY = 3600", "RelayLogPurge", "StartReplica",
				"ReplicaStatus"},
		},
		{
			name: "MySQL 8 auto-position keeps retry and TLS, relay_log_purge restored",
			fake: func() *fakeServer {
				f := newFake(stopped, running)
				f.version = mysql8
				f.purge = []bool{true, false}
				f.settings = Settings{HeartbeatPeriod: ptr(0.5), ConnectRetry: ptr(5), RetryCount: ptr(uint64(20)),
					SSL: ptr(true), SSLCA: "/etc/mysql/ca.pem", SSLVerifyServerCert: ptr(true)}
				return f
			},
			how:      How{Mode: topology.GTIDMySQL},
			wantOpts: mysqlx.ChangeSourceOptions{Host: "db3", Port: 3306, User: "repl", Password: "s3cret", AutoPosition: true},
			want: []string{"StopReplica", "ReplicaStatus", "Settings", "RelayLogPurge", "ChangeSource",
				"ApplySettings CHANGE REPLICATION SOURCE TO SOURCE_HEARTBEAT_PERIOD = 0.5, SOURCE_CONNECT_RETRY = 5, SOURCE_RETRY_COUNT = 20, " +
					"SOURCE_SSL = 1, SOURCE_SSL_CA = '/etc/mysql/ca.pem', SOURCE_SSL_VERIFY_SERVER_CERT = 1",
				"RelayLogPurge", "SetRelayLogPurge true", "StartReplica", "ReplicaStatus"},
		},
		{
			name: "an old master joining as a replica has no settings to keep",
			fake: func() *fakeServer {
				f := newFake(nil, running)
				f.settings = Settings{HeartbeatPeriod: ptr(9.0)} // must not be read
				return f
			},
			how:      How{Mode: topology.GTIDOff, Pos: pos},
			wantOpts: mysqlx.ChangeSourceOptions{Host: "db3", Port: 3306, User: "repl", Password: "s3cret", Pos: pos},
			want:     []string{"StopReplica", "ReplicaStatus", "RelayLogPurge", "ChangeSource", "RelayLogPurge", "StartReplica", "ReplicaStatus"},
		},
		{
			name:     "an old master joining takes the settings it is given",
			fake:     func() *fakeServer { return newFake(nil, running) },
			how:      How{Mode: topology.GTIDMariaDB, Settings: &Settings{HeartbeatPeriod: ptr(1.0)}},
			wantOpts: mysqlx.ChangeSourceOptions{Host: "db3", Port: 3306, User: "repl", Password: "s3cret", UseGTID: "slave_pos"},
			want: []string{"StopReplica", "ReplicaStatus", "RelayLogPurge", "ChangeSource",
				"ApplySettings CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD = 1", "RelayLogPurge", "StartReplica", "ReplicaStatus"},
		},
		{
			name:     "nothing known: no second statement",
			fake:     func() *fakeServer { return newFake(stopped, running) },
			how:      How{Mode: topology.GTIDOff, Pos: pos},
			wantOpts: mysqlx.ChangeSourceOptions{Host: "db3", Port: 3306, User: "repl", Password: "s3cret", Pos: pos},
			want:     []string{"StopReplica", "ReplicaStatus", "Settings", "RelayLogPurge", "ChangeSource", "RelayLogPurge", "StartReplica", "ReplicaStatus"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.fake()
			if err := ReplicaOn(t.Context(), f, src, tt.how); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, f.log()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if f.change == nil {
				t.Fatal("no CHANGE MASTER")
			}
			if diff := cmp.Diff(tt.wantOpts, *f.change); diff != "" {
				t.Errorf("CHANGE MASTER options (-want +got):\n%s", diff)
			}
			for _, c := range f.log() {
				if strings.Contains(c, src.Password) {
					t.Errorf("the password is in a statement repoint built: %s", c)
				}
			}
		})
	}
}

// TestReplicaOnErrors fails each step in turn: the error names the host and
// the step, wraps the cause, never holds the password, and nothing runs
// after the failed step.
func TestReplicaOnErrors(t *testing.T) {
	src := Source{Host: "db3", Port: 3306, User: "repl", Password: "s3cret"}
	how := How{Mode: topology.GTIDOff, Pos: binlog.Pos{File: "mysql-bin.000007", Offset: 4242}}
	tests := []struct {
		call, step string
	}{
		{"StopReplica", "STOP SLAVE"},
		{"ReplicaStatus", "wait for replication to stop"},
		{"Settings", "read the replication settings"},
		{"RelayLogPurge", "read relay_log_purge"},
		{"ChangeSource", "CHANGE MASTER TO db3:3306"},
		{"ApplySettings", "keep the replication settings (CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD = 1)"},
		{"SetRelayLogPurge", "restore relay_log_purge=true"},
		{"StartReplica", "START SLAVE"},
	}
	for _, tt := range tests {
		t.Run(tt.call, func(t *testing.T) {
			cause := errors.New("server said no: access denied for s3cret") // a careless driver message
			if tt.call == "ChangeSource" || tt.call == "ApplySettings" {
				cause = errors.New("server said no")
			}
			f := newFake(stopped, running)
			f.settings = Settings{HeartbeatPeriod: ptr(1.0)}
			f.purge = []bool{true, false}
			f.failOn = map[string]error{tt.call: cause}
			err := ReplicaOn(t.Context(), f, src, how)
			if !errors.Is(err, cause) {
				t.Fatalf("err = %v; want it to wrap %v", err, cause)
			}
			if want := "repoint db2:3306: " + tt.step + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("err = %q; want prefix %q", err, want)
			}
			calls := f.log()
			if last := strings.Fields(calls[len(calls)-1])[0]; last != tt.call {
				t.Errorf("calls went on after the failed %s: %v", tt.call, calls)
			}
		})
	}
	t.Run("no position: nothing is touched", func(t *testing.T) {
		f := newFake(stopped)
		if err := ReplicaOn(t.Context(), f, src, How{Mode: topology.GTIDOff}); err == nil || !strings.Contains(err.Error(), "db3:3306") {
			t.Fatalf("err = %v; want one naming the source", err)
		}
		if len(f.log()) != 0 {
			t.Errorf("calls %v; want none", f.log())
		}
	})
	t.Run("the password never reaches the error", func(t *testing.T) {
		f := newFake(stopped)
		f.failOn = map[string]error{"ChangeSource": errors.New("syntax error")}
		err := ReplicaOn(t.Context(), f, src, how)
		if err == nil || strings.Contains(err.Error(), src.Password) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestStopIOOn(t *testing.T) {
	t.Run("waits for the IO thread", func(t *testing.T) {
		f := newFake(running, running, &mysqlx.ReplicaStatus{IORunning: mysqlx.IOStopped, SQLRunning: true})
		if err := StopIOOn(t.Context(), f); err != nil {
			t.Fatal(err)
		}
		want := []string{"StopReplicaIOThread", "ReplicaStatus", "ReplicaStatus", "ReplicaStatus"}
		if diff := cmp.Diff(want, f.log()); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
	})
	t.Run("not a replica", func(t *testing.T) {
		f := newFake()
		if err := StopIOOn(t.Context(), f); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an IO thread that never stops ends with the deadline", func(t *testing.T) {
		f := newFake(connecting)
		ctx, cancel := context.WithTimeout(t.Context(), 3*poll/2)
		defer cancel()
		err := StopIOOn(ctx, f)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "repoint db2:3306: wait for the IO thread to stop") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("STOP SLAVE IO_THREAD fails", func(t *testing.T) {
		f := newFake(running)
		f.failOn = map[string]error{"StopReplicaIOThread": errors.New("lost")}
		err := StopIOOn(t.Context(), f)
		if err == nil || !strings.HasPrefix(err.Error(), "repoint db2:3306: STOP SLAVE IO_THREAD: lost") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("status fails", func(t *testing.T) {
		f := newFake(running)
		f.failOn = map[string]error{"ReplicaStatus": errors.New("lost")}
		err := StopIOOn(t.Context(), f)
		if err == nil || !strings.HasPrefix(err.Error(), "repoint db2:3306: wait for the IO thread to stop: lost") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestStopOnWaitsForBothThreads(t *testing.T) {
	f := newFake(running, &mysqlx.ReplicaStatus{IORunning: mysqlx.IOStopped, SQLRunning: true}, stopped)
	if err := StopOn(t.Context(), f); err != nil {
		t.Fatal(err)
	}
	if got := len(f.log()); got != 4 {
		t.Errorf("calls %v; want STOP SLAVE and three status reads", f.log())
	}
	ctx, cancel := context.WithTimeout(t.Context(), poll/2)
	defer cancel()
	if err := StopOn(ctx, newFake(running)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v; want the deadline", err)
	}
}

func TestWaitRunningOn(t *testing.T) {
	tests := []struct {
		name     string
		statuses []*mysqlx.ReplicaStatus
		timeout  time.Duration
		wantErr  []string // substrings; nil: success
		deadline bool
	}{
		{name: "connecting, then running", statuses: []*mysqlx.ReplicaStatus{connecting, running}},
		{name: "the SQL thread stops with an error at once",
			statuses: []*mysqlx.ReplicaStatus{{IORunning: mysqlx.IOConnected, LastSQLErrno: 1062, LastSQLError: "Duplicate entry '1'"}},
			wantErr:  []string{"repoint db2:3306: replication did not start", "last SQL error 1062: Duplicate entry '1'"}},
		{name: "the IO thread cannot connect until the deadline",
			statuses: []*mysqlx.ReplicaStatus{{IORunning: mysqlx.IOConnecting, SQLRunning: true, LastIOErrno: 2003, LastIOError: "Can't connect"}},
			timeout:  3 * poll / 2, deadline: true,
			wantErr: []string{"replication did not start (IO thread Connecting, SQL thread running=true; last IO error 2003: Can't connect)"}},
		{name: "not a replica", statuses: nil, wantErr: []string{"repoint db2:3306: replication did not start: the server is not a replica"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			err := WaitRunningOn(ctx, newFake(tt.statuses...))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrNotStarted) {
				t.Fatalf("err = %v; want ErrNotStarted", err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q; want it to contain %q", err, w)
				}
			}
			if tt.deadline != errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v; deadline wrapped = %t, want %t", err, !tt.deadline, tt.deadline)
			}
		})
	}
	t.Run("a status error is named", func(t *testing.T) {
		f := newFake(running)
		f.failOn = map[string]error{"ReplicaStatus": errors.New("lost")}
		if err := WaitRunningOn(t.Context(), f); err == nil || !strings.HasPrefix(err.Error(), "repoint db2:3306: wait for replication to run: lost") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestSettingsStatement(t *testing.T) {
	maria := mysqlx.Version{Major: 10, Minor: 11, Patch: 9, Flavor: mysqlx.MariaDB}
	mysql57 := mysqlx.Version{Major: 5, Minor: 7, Patch: 44, Flavor: mysqlx.MySQL}
	tests := []struct {
		name string
		s    Settings
		v    mysqlx.Version
		want string
	}{
		{"nothing known", Settings{}, maria, ""},
		{"heartbeat off stays off", Settings{HeartbeatPeriod: ptr(0.0)}, maria, "CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD = 0"},
		{"MySQL 5.7 spelling", Settings{ConnectRetry: ptr(10), SSL: ptr(false)}, mysql57, "CHANGE MASTER TO MASTER_CONNECT_RETRY = 10, MASTER_SSL = 0"},
		{"every TLS file", Settings{SSL: ptr(true), SSLCA: "/c/ca.pem", SSLCAPath: "/c", SSLCert: "/c/cert.pem", SSLKey: "/c/key.pem",
			SSLCipher: "ECDHE-RSA-AES256-GCM-SHA384:AES128-SHA", SSLCRL: "/c/crl.pem", SSLCRLPath: "/c/crl", SSLVerifyServerCert: ptr(false)}, maria,
			"CHANGE MASTER TO MASTER_SSL = 1, MASTER_SSL_CA = '/c/ca.pem', MASTER_SSL_CAPATH = '/c', MASTER_SSL_CERT = '/c/cert.pem', " +
				"MASTER_SSL_KEY = '/c/key.pem', MASTER_SSL_CIPHER = 'ECDHE-RSA-AES256-GCM-SHA384:AES128-SHA', MASTER_SSL_CRL = '/c/crl.pem', " +
				"MASTER_SSL_CRLPATH = '/c/crl', MASTER_SSL_VERIFY_SERVER_CERT = 0"},
		{"a value that would need quoting is left to the server", Settings{SSLCA: "/etc/o'brien/ca.pem", SSLKey: `C:\k`, SSLCert: "/a b"}, maria, ""},
		{"MySQL 8.0.23 spelling", Settings{HeartbeatPeriod: ptr(1.25), Delay: ptr(int64(60))}, mysql8,
			"CHANGE REPLICATION SOURCE TO SOURCE_HEARTBEAT_PERIOD = 1.25, SOURCE_DELAY = 60"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Statement(tt.v); got != tt.want {
				t.Errorf("Statement =\n  %s\nwant\n  %s", got, tt.want)
			}
		})
	}
}
