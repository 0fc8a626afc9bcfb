package mysqlx_test

// Real-server tests against the integration lab (integration/lab): MariaDB
// servers in network namespaces, replicating as a DBA would set them up.
// They run only with GOMHA_LAB=1, as root:
//
//	GOMHA_LAB=1 go test -count=1 -v ./manager/mysqlx/

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/integration/lab"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/node/binlog"
)

// open connects to h as the lab's admin user and closes the connection when
// the test ends.
func open(t *testing.T, l *lab.Lab, h *lab.Host, timeout time.Duration) *mysqlx.Conn {
	t.Helper()
	c, err := mysqlx.Open(t.Context(), mysqlx.Target{
		Addr: h.Addr(), User: l.AdminUser, Password: l.AdminPassword, Timeout: timeout,
		CredentialsFrom: "the lab",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// write makes the master log something.
func write(t *testing.T, c *mysqlx.Conn) {
	t.Helper()
	// Every wait below is bounded: a replica that never starts must fail
	// the test, not hang the suite.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS mysqlx_test",
		"CREATE TABLE IF NOT EXISTS mysqlx_test.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64))",
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Exec(ctx, "INSERT INTO mysqlx_test.t (v) VALUES (?)", time.Now().String()); err != nil {
		t.Fatal(err)
	}
}

// catchUp waits until the replica has executed the master's current
// binlog position.
func catchUp(t *testing.T, master, replica *mysqlx.Conn) binlog.Pos {
	t.Helper()
	pos, _, err := master.BinlogStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := replica.WaitForPos(t.Context(), pos, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	return pos
}

// processGone waits until the server's process list no longer has id.
func processGone(t *testing.T, h *lab.Host, id uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		row, err := h.Row(t.Context(), fmt.Sprintf("SELECT ID, COMMAND, STATE, INFO FROM information_schema.PROCESSLIST WHERE ID = %d", id))
		if err != nil {
			t.Fatal(err)
		}
		if row == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("connection %d still on the server: %v", id, row)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitRunning waits until the process list shows id running a statement
// that starts with prefix, and returns its text.
func waitRunning(t *testing.T, h *lab.Host, id uint64, prefix string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		row, err := h.Row(t.Context(), fmt.Sprintf("SELECT INFO FROM information_schema.PROCESSLIST WHERE ID = %d", id))
		if err != nil {
			t.Fatal(err)
		}
		if row != nil && strings.HasPrefix(row["INFO"], prefix) {
			return row["INFO"]
		}
		if time.Now().After(deadline) {
			t.Fatalf("connection %d does not run %q: %v", id, prefix, row)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLab(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 2})
	mh, rh := l.Master(), l.Replicas()[0]
	master := open(t, l, mh, 5*time.Second)
	replica := open(t, l, rh, 5*time.Second)
	// Every wait below is bounded: a replica that never starts must fail
	// the test, not hang the suite.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	t.Run("Version", func(t *testing.T) {
		v := master.Version()
		if v.Flavor != mysqlx.MariaDB || !v.AtLeast(10, 0, 0) {
			t.Errorf("version %+v, want MariaDB 10+", v)
		}
		raw, err := mh.SQL(ctx, "SELECT VERSION()")
		if err != nil {
			t.Fatal(err)
		}
		if v.Raw != raw {
			t.Errorf("Raw %q, server says %q", v.Raw, raw)
		}
	})

	t.Run("MasterState", func(t *testing.T) {
		write(t, master)
		st, err := master.State(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Replica != nil {
			t.Errorf("master is a replica: %+v", st.Replica)
		}
		if st.ServerID != uint32(mh.ServerID) || st.Port != mh.Port || st.ReadOnly || st.SuperReadOnly || !st.LogBin || !st.LogSlaveUpdates || st.RelayLogPurge {
			t.Errorf("master state %+v", st)
		}
		if st.BinlogFormat != "ROW" || st.HeartbeatPeriod != 0 {
			t.Errorf("binlog format %q, heartbeat %v", st.BinlogFormat, st.HeartbeatPeriod)
		}
		if !strings.HasPrefix(st.Binlog.File, "mysql-bin.") || st.Binlog.Offset < 4 {
			t.Errorf("binlog position %v", st.Binlog)
		}
		if st.GTID.BinlogPos == "" || st.GTID.CurrentPos == "" || st.GTID.Mode != "" {
			t.Errorf("GTID after a write: %+v", st.GTID)
		}
		lab, err := mh.Row(ctx, "SHOW MASTER STATUS")
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%s:%s", lab["File"], lab["Position"]); st.Binlog.String() != want {
			t.Errorf("binlog %v, SHOW MASTER STATUS says %s", st.Binlog, want)
		}
	})

	t.Run("ReplicaState", func(t *testing.T) {
		write(t, master)
		pos := catchUp(t, master, replica)
		st, err := replica.State(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !st.ReadOnly || st.ServerID != uint32(rh.ServerID) || !st.LogBin {
			t.Errorf("replica state %+v", st)
		}
		if filepath.Clean(st.RelayLogBase) != filepath.Join(rh.DataDir, "relay-bin") {
			t.Errorf("relay log base %q, want %s/relay-bin", st.RelayLogBase, rh.DataDir)
		}
		if st.HeartbeatPeriod <= 0 {
			t.Errorf("heartbeat period %v", st.HeartbeatPeriod)
		}
		if st.GTID.SlavePos == "" {
			t.Errorf("gtid_slave_pos empty after replicating a write: %+v", st.GTID)
		}
		rs := st.Replica
		if rs == nil {
			t.Fatal("replica is not a replica")
		}
		if rs.SourceHost != mh.IP || rs.SourcePort != mh.Port || rs.SourceUser != l.ReplUser || rs.SourceServerID != uint32(mh.ServerID) {
			t.Errorf("source %s:%d user %s id %d", rs.SourceHost, rs.SourcePort, rs.SourceUser, rs.SourceServerID)
		}
		if rs.IORunning != mysqlx.IOConnected || !rs.SQLRunning || rs.UsingGTID != "No" || rs.SecondsBehind == nil {
			t.Errorf("threads IO %q SQL %v, Using_Gtid %q, behind %v", rs.IORunning, rs.SQLRunning, rs.UsingGTID, rs.SecondsBehind)
		}
		if rs.Read != pos || rs.Exec != pos {
			t.Errorf("Read %v Exec %v, master at %v", rs.Read, rs.Exec, pos)
		}
		// The same numbers as the mariadb client shows.
		row, err := rh.Row(ctx, "SHOW SLAVE STATUS")
		if err != nil {
			t.Fatal(err)
		}
		for col, got := range map[string]string{
			"Master_Log_File":       rs.Read.File,
			"Read_Master_Log_Pos":   fmt.Sprint(rs.Read.Offset),
			"Relay_Master_Log_File": rs.Exec.File,
			"Exec_Master_Log_Pos":   fmt.Sprint(rs.Exec.Offset),
			"Relay_Log_File":        rs.Relay.File,
			"Relay_Log_Pos":         fmt.Sprint(rs.Relay.Offset),
			"Slave_IO_State":        rs.IOState,
		} {
			if row[col] != got {
				t.Errorf("%s: mysqlx %q, client %q", col, got, row[col])
			}
		}
	})

	t.Run("SessionStateSticksAndQueriesAreTagged", func(t *testing.T) {
		if _, err := replica.Exec(ctx, "SET SESSION wait_timeout = 1234"); err != nil {
			t.Fatal(err)
		}
		var wt int
		var id uint64
		if err := replica.QueryRow(ctx, "SELECT @@session.wait_timeout, CONNECTION_ID()").Scan(&wt, &id); err != nil {
			t.Fatal(err)
		}
		if wt != 1234 || id != replica.ConnectionID() {
			t.Errorf("wait_timeout %d on connection %d, want 1234 on %d", wt, id, replica.ConnectionID())
		}
	})

	t.Run("WaitForPos", func(t *testing.T) {
		pos, _, err := master.BinlogStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := replica.WaitForPos(ctx, pos, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		// A position the master has not reached: the wait must end with
		// ErrWaitTimeout after its timeout, which is longer than the
		// connection's 2 s read timeout (the wait is sliced).
		short := open(t, l, rh, 2*time.Second)
		future := binlog.Pos{File: pos.File, Offset: pos.Offset + 1<<30}
		start := time.Now()
		err = short.WaitForPos(ctx, future, 3500*time.Millisecond)
		if d := time.Since(start); !errors.Is(err, mysqlx.ErrWaitTimeout) || d < 3*time.Second || d > 6*time.Second {
			t.Errorf("future position: %v after %s, want ErrWaitTimeout after about 3.5s", err, d)
		}
		if _, err := short.ReplicaStatus(ctx); err != nil {
			t.Errorf("connection unusable after a timed-out wait: %v", err)
		}
	})

	t.Run("StopStartThreads", func(t *testing.T) {
		if err := replica.StopReplicaSQLThread(ctx); err != nil {
			t.Fatal(err)
		}
		rs, err := replica.ReplicaStatus(ctx)
		if err != nil || rs.SQLRunning || rs.IORunning != mysqlx.IOConnected {
			t.Fatalf("after STOP SQL_THREAD: %+v, %v", rs, err)
		}
		// MASTER_POS_WAIT returns NULL without an SQL thread.
		pos, _, err := master.BinlogStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := replica.WaitForPos(ctx, pos, 5*time.Second); !errors.Is(err, mysqlx.ErrNotReplicating) {
			t.Errorf("wait without SQL thread: %v, want ErrNotReplicating", err)
		}
		if err := replica.StopReplicaIOThread(ctx); err != nil {
			t.Fatal(err)
		}
		rs, err = replica.ReplicaStatus(ctx)
		if err != nil || rs.IORunning != mysqlx.IOStopped || rs.SecondsBehind != nil {
			t.Fatalf("after STOP IO_THREAD: %+v, %v", rs, err)
		}
		if err := replica.StartReplica(ctx); err != nil {
			t.Fatal(err)
		}
		if err := rh.WaitReplicating(ctx); err != nil {
			t.Fatal(err)
		}
		if err := replica.StopReplica(ctx); err != nil {
			t.Fatal(err)
		}
		if rs, err = replica.ReplicaStatus(ctx); err != nil || rs.IORunning != mysqlx.IOStopped || rs.SQLRunning {
			t.Fatalf("after STOP SLAVE: %+v, %v", rs, err)
		}
		if err := replica.StartReplica(ctx); err != nil {
			t.Fatal(err)
		}
		if err := rh.WaitReplicating(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("SetReadOnly", func(t *testing.T) {
		for _, on := range []bool{false, true} {
			if err := replica.SetReadOnly(ctx, on); err != nil {
				t.Fatal(err)
			}
			got, err := rh.SQL(ctx, "SELECT @@global.read_only")
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]string{false: "0", true: "1"}[on]; got != want {
				t.Errorf("read_only %s after SetReadOnly(%v)", got, on)
			}
		}
	})

	t.Run("Locks", func(t *testing.T) {
		a := open(t, l, mh, 5*time.Second)
		b := open(t, l, mh, 5*time.Second)
		if ok, err := a.GetLock(ctx, mysqlx.MonitorLock, 0); !ok || err != nil {
			t.Fatalf("a: GetLock = %v, %v", ok, err)
		}
		start := time.Now()
		if ok, err := b.GetLock(ctx, mysqlx.MonitorLock, time.Second); ok || err != nil || time.Since(start) < 900*time.Millisecond {
			t.Fatalf("b while a holds it: GetLock = %v, %v after %s; want false, nil after 1s", ok, err, time.Since(start))
		}
		if ok, err := a.ReleaseLock(ctx, mysqlx.MonitorLock); !ok || err != nil {
			t.Fatalf("a: ReleaseLock = %v, %v", ok, err)
		}
		if ok, err := b.GetLock(ctx, mysqlx.MonitorLock, time.Second); !ok || err != nil {
			t.Fatalf("b after release: GetLock = %v, %v", ok, err)
		}
		if ok, err := a.ReleaseLock(ctx, mysqlx.MonitorLock); ok || err != nil {
			t.Errorf("a releasing b's lock: %v, %v; want false, nil", ok, err)
		}
	})

	t.Run("Kill", func(t *testing.T) {
		victim := open(t, l, mh, 5*time.Second)
		if err := master.Kill(ctx, victim.ConnectionID()); err != nil {
			t.Fatal(err)
		}
		processGone(t, mh, victim.ConnectionID())
		_, err := victim.ReplicaStatus(ctx)
		if !errors.Is(err, mysqlx.ErrSessionLost) || !strings.Contains(err.Error(), mh.Addr()) {
			t.Errorf("killed session: %v, want ErrSessionLost naming %s", err, mh.Addr())
		}
		if _, err := victim.ReplicaStatus(ctx); !errors.Is(err, mysqlx.ErrSessionLost) {
			t.Errorf("second call: %v, want ErrSessionLost", err)
		}
	})

	t.Run("CancelKillsQueryOnServer", func(t *testing.T) {
		c := open(t, l, rh, 5*time.Second)
		qctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			var v int
			done <- c.QueryRow(qctx, "SELECT SLEEP(30)").Scan(&v)
		}()
		info := waitRunning(t, rh, c.ConnectionID(), "/* gomha */ SELECT SLEEP(30)")
		t.Logf("process list shows %q", info)
		start := time.Now()
		cancel()
		var err error
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("cancelled query did not return")
		}
		if !errors.Is(err, context.Canceled) || !errors.Is(err, mysqlx.ErrSessionLost) {
			t.Errorf("cancelled query: %v, want context.Canceled and ErrSessionLost", err)
		}
		processGone(t, rh, c.ConnectionID())
		t.Logf("query returned and connection gone from the server %s after cancel", time.Since(start))
		if _, err := c.ReplicaStatus(ctx); !errors.Is(err, mysqlx.ErrSessionLost) {
			t.Errorf("after cancel: %v, want ErrSessionLost", err)
		}
	})

	t.Run("DeadlineKillsWaitOnServer", func(t *testing.T) {
		c := open(t, l, rh, 5*time.Second)
		pos, _, err := master.BinlogStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		err = c.WaitForPos(wctx, binlog.Pos{File: pos.File, Offset: pos.Offset + 1<<30}, time.Minute)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("wait past its context's deadline: %v", err)
		}
		processGone(t, rh, c.ConnectionID())
	})

	t.Run("ReadTimeoutKillsQueryOnServer", func(t *testing.T) {
		c := open(t, l, rh, 2*time.Second)
		start := time.Now()
		var v int
		err := c.QueryRow(ctx, "SELECT SLEEP(20)").Scan(&v)
		if d := time.Since(start); !errors.Is(err, mysqlx.ErrSessionLost) || d > 5*time.Second {
			t.Errorf("query longer than the read timeout: %v after %s, want ErrSessionLost after about 2s", err, d)
		}
		processGone(t, rh, c.ConnectionID())
	})

	t.Run("WrongPassword", func(t *testing.T) {
		const bad = "not-the-Password-42"
		_, err := mysqlx.Open(ctx, mysqlx.Target{Addr: mh.Addr(), User: l.AdminUser, Password: bad,
			Timeout: 5 * time.Second, CredentialsFrom: "app1.cnf [server1]"})
		var ce *mysqlx.ConnectError
		if !errors.As(err, &ce) || ce.Failure != mysqlx.FailureAccessDenied {
			t.Fatalf("got %v, want an access-denied ConnectError", err)
		}
		if mysqlx.ErrorNumber(err) != 1045 || !mysqlx.IsAliveError(err) {
			t.Errorf("error number %d, alive %v", mysqlx.ErrorNumber(err), mysqlx.IsAliveError(err))
		}
		want := fmt.Sprintf("access denied for user %s at %s (check user/password in app1.cnf [server1])", l.AdminUser, mh.Addr())
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q, want it to contain %q", err, want)
		}
		if strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), l.AdminPassword) {
			t.Errorf("message shows a password: %q", err)
		}
		t.Logf("message: %v", err)
	})

	t.Run("ChangeSourcePosition", func(t *testing.T) {
		write(t, master)
		catchUp(t, master, replica)
		if err := replica.StopReplica(ctx); err != nil {
			t.Fatal(err)
		}
		rs, err := replica.ReplicaStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		err = replica.ChangeSource(ctx, mysqlx.ChangeSourceOptions{
			Host: mh.IP, Port: mh.Port, User: l.ReplUser, Password: l.ReplPassword, Pos: rs.Exec,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := replica.StartReplica(ctx); err != nil {
			t.Fatal(err)
		}
		if err := rh.WaitReplicating(ctx); err != nil {
			t.Fatal(err)
		}
		write(t, master)
		pos := catchUp(t, master, replica)
		rs, err = replica.ReplicaStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rs.Exec != pos || rs.UsingGTID != "No" || rs.IORunning != mysqlx.IOConnected || !rs.SQLRunning {
			t.Errorf("after CHANGE MASTER by position: %+v, master at %v", rs, pos)
		}
	})

	t.Run("ChangeSourceHostileValues", func(t *testing.T) {
		if err := replica.StopReplica(ctx); err != nil {
			t.Fatal(err)
		}
		before, err := replica.ReplicaStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		hostile := []struct{ host, user string }{
			{"h'x\\y\nz", `u'\"`},
			{`\'; DROP DATABASE mysqlx_test; -- `, `\\`},
			{"/* comment */ \r\x1a", "'"},
		}
		c := open(t, l, rh, 5*time.Second)
		for _, mode := range []string{"default sql_mode", "NO_BACKSLASH_ESCAPES"} {
			if mode == "NO_BACKSLASH_ESCAPES" {
				if _, err := c.Exec(ctx, "SET SESSION sql_mode = CONCAT(@@session.sql_mode, ',NO_BACKSLASH_ESCAPES')"); err != nil {
					t.Fatal(err)
				}
			}
			for _, h := range hostile {
				err := c.ChangeSource(ctx, mysqlx.ChangeSourceOptions{Host: h.host, Port: 3306, User: h.user, Pos: binlog.Pos{File: "x-bin.000001", Offset: 4}})
				if err != nil {
					t.Fatalf("%s: %v", mode, err)
				}
				rs, err := c.ReplicaStatus(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if rs.SourceHost != h.host || rs.SourceUser != h.user || rs.Read.File != "x-bin.000001" {
					t.Errorf("%s: wrote host %q user %q, server has %q %q", mode, h.host, h.user, rs.SourceHost, rs.SourceUser)
				}
			}
		}
		if _, err := mh.SQL(ctx, "SELECT 1 FROM mysqlx_test.t LIMIT 1"); err != nil {
			t.Errorf("test table gone: %v", err)
		}
		// A password with quotes, backslashes and a line break must reach
		// the server intact: the IO thread has to log in with it.
		const pw = "p'a\\ss\"wo\nrd;--"
		if _, err := mh.SQL(ctx, fmt.Sprintf("ALTER USER %s@'%%' IDENTIFIED BY %s", lab.QuoteSQL(l.ReplUser), lab.QuoteSQL(pw))); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if _, err := mh.SQL(ctx, fmt.Sprintf("ALTER USER %s@'%%' IDENTIFIED BY %s", lab.QuoteSQL(l.ReplUser), lab.QuoteSQL(l.ReplPassword))); err != nil {
				t.Error(err)
			}
		}()
		err = c.ChangeSource(ctx, mysqlx.ChangeSourceOptions{Host: mh.IP, Port: mh.Port, User: l.ReplUser, Password: pw, Pos: before.Exec})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.StartReplica(ctx); err != nil {
			t.Fatal(err)
		}
		if err := rh.WaitReplicating(ctx); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for {
			rs, err := c.ReplicaStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rs.IORunning == mysqlx.IOConnected && rs.LastIOErrno == 0 && rs.IOState == "Waiting for master to send event" {
				break
			}
			if wctx.Err() != nil {
				t.Fatalf("IO thread with the hostile password: %q %d %s", rs.IORunning, rs.LastIOErrno, rs.LastIOError)
			}
			time.Sleep(100 * time.Millisecond)
		}
		write(t, master)
		catchUp(t, master, replica)
	})

	t.Run("ChangeSourceGTID", func(t *testing.T) {
		if err := replica.StopReplica(ctx); err != nil {
			t.Fatal(err)
		}
		// The credentials are given again: the previous subtest left
		// hostile ones stored, and CHANGE MASTER keeps what it is not told.
		if err := replica.ChangeSource(ctx, mysqlx.ChangeSourceOptions{
			Host: mh.IP, Port: mh.Port, User: l.ReplUser, Password: l.ReplPassword, UseGTID: "slave_pos",
		}); err != nil {
			t.Fatal(err)
		}
		if err := replica.StartReplica(ctx); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := rh.WaitReplicating(wctx); err != nil {
			t.Fatal(err)
		}
		write(t, master)
		mst, err := master.State(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := replica.WaitForGTID(ctx, mst.GTID.BinlogPos, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		rs, err := replica.ReplicaStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rs.UsingGTID != "Slave_Pos" || rs.GTIDIOPos == "" {
			t.Errorf("Using_Gtid %q, Gtid_IO_Pos %q", rs.UsingGTID, rs.GTIDIOPos)
		}
	})

	t.Run("ResetReplicaAll", func(t *testing.T) {
		c := open(t, l, rh, 5*time.Second)
		if err := c.StopReplica(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.ResetReplicaAll(ctx); err != nil {
			t.Fatal(err)
		}
		rs, err := c.ReplicaStatus(ctx)
		if rs != nil || err != nil {
			t.Errorf("after RESET SLAVE ALL: %+v, %v; want nil, nil", rs, err)
		}
		st, err := c.State(ctx)
		if err != nil || st.Replica != nil || st.HeartbeatPeriod != 0 {
			t.Errorf("State after RESET SLAVE ALL: %+v, %v", st, err)
		}
	})

	t.Run("Unreachable", func(t *testing.T) {
		// An address of the lab's subnet that no host has.
		ip, _, err := net.ParseCIDR(l.Subnet)
		if err != nil {
			t.Fatal(err)
		}
		ip4 := ip.To4()
		addr := mysqlx.JoinAddr(net.IPv4(ip4[0], ip4[1], ip4[2], 99).String(), 3306)
		start := time.Now()
		_, err = mysqlx.Open(ctx, mysqlx.Target{Addr: addr, User: l.AdminUser, Password: l.AdminPassword, Timeout: 2 * time.Second})
		var ce *mysqlx.ConnectError
		if !errors.As(err, &ce) || (ce.Failure != mysqlx.FailureTimeout && ce.Failure != mysqlx.FailureNoRoute) {
			t.Errorf("nobody at %s: %v, want a timeout or no-route ConnectError", addr, err)
		}
		if d := time.Since(start); d > 3500*time.Millisecond {
			t.Errorf("nobody at %s: took %s with a 2s timeout", addr, d)
		}
		if err != nil && (!strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), l.AdminPassword)) {
			t.Errorf("message %q", err)
		}
		t.Logf("message: %v", err)
	})

	t.Run("ServerDies", func(t *testing.T) {
		c := open(t, l, rh, 2*time.Second)
		if err := rh.KillMariaDB(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := c.State(ctx)
		if !errors.Is(err, mysqlx.ErrSessionLost) || time.Since(start) > 5*time.Second {
			t.Errorf("server killed under the session: %v after %s, want ErrSessionLost", err, time.Since(start))
		}
		t.Logf("message: %v", err)
		_, err = mysqlx.Open(ctx, mysqlx.Target{Addr: rh.Addr(), User: l.AdminUser, Password: l.AdminPassword, Timeout: 2 * time.Second})
		var ce *mysqlx.ConnectError
		if !errors.As(err, &ce) || ce.Failure != mysqlx.FailureRefused || mysqlx.IsAliveError(err) {
			t.Errorf("stopped server: %v, want a refused ConnectError", err)
		}
		t.Logf("message: %v", err)
	})
}

func TestLabGTID(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 2, GTID: true})
	mh, rh := l.Master(), l.Replicas()[0]
	master := open(t, l, mh, 5*time.Second)
	replica := open(t, l, rh, 5*time.Second)
	// Every wait below is bounded: a replica that never starts must fail
	// the test, not hang the suite.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	write(t, master)
	mst, err := master.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if mst.GTID.BinlogPos == "" || mst.GTID.CurrentPos != mst.GTID.BinlogPos {
		t.Errorf("master GTID after a write: %+v", mst.GTID)
	}
	if err := replica.WaitForGTID(ctx, mst.GTID.BinlogPos, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	st, err := replica.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rs := st.Replica
	if rs == nil {
		t.Fatal("replica is not a replica")
	}
	if rs.UsingGTID != "Slave_Pos" || rs.GTIDIOPos != mst.GTID.BinlogPos || st.GTID.SlavePos != mst.GTID.BinlogPos {
		t.Errorf("Using_Gtid %q, Gtid_IO_Pos %q, gtid_slave_pos %q; master at %q", rs.UsingGTID, rs.GTIDIOPos, st.GTID.SlavePos, mst.GTID.BinlogPos)
	}
	if rs.IORunning != mysqlx.IOConnected || !rs.SQLRunning || rs.Exec != mst.Binlog || rs.Read != mst.Binlog {
		t.Errorf("replica %+v, master binlog at %v", rs, mst.Binlog)
	}

	// A GTID the master never wrote: the wait times out, sliced across a
	// 2 s read timeout.
	short := open(t, l, rh, 2*time.Second)
	start := time.Now()
	err = short.WaitForGTID(ctx, "0-1-999999", 3*time.Second)
	if d := time.Since(start); !errors.Is(err, mysqlx.ErrWaitTimeout) || d < 2500*time.Millisecond || d > 6*time.Second {
		t.Errorf("future GTID: %v after %s, want ErrWaitTimeout after about 3s", err, d)
	}

	// Back to current_pos and on.
	if err := replica.StopReplica(ctx); err != nil {
		t.Fatal(err)
	}
	if err := replica.ChangeSource(ctx, mysqlx.ChangeSourceOptions{Host: mh.IP, Port: mh.Port, UseGTID: "current_pos"}); err != nil {
		t.Fatal(err)
	}
	if err := replica.StartReplica(ctx); err != nil {
		t.Fatal(err)
	}
	write(t, master)
	if mst, err = master.State(ctx); err != nil {
		t.Fatal(err)
	}
	if err := replica.WaitForGTID(ctx, mst.GTID.BinlogPos, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if rs, err = replica.ReplicaStatus(ctx); err != nil || rs.UsingGTID != "Current_Pos" {
		t.Errorf("after MASTER_USE_GTID=current_pos: %+v, %v", rs, err)
	}
}
