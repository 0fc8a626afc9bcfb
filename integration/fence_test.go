package integration

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/gomha/gomha/integration/lab"
	"github.com/gomha/gomha/manager/fence"
	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/node/binlog"
)

// fenceLog sends the fence package's log to t.Log.
func fenceLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tLogWriter struct{ t *testing.T }

func (w tLogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// fenceOptions are the manager's view of old master h: its admin account
// over MySQL, root over SSH with the lab key, the local client over the
// host's own address, the lab's pid file.
func fenceOptions(t *testing.T, l *lab.Lab, h *lab.Host) fence.Options {
	t.Helper()
	opts, err := sshexec.ParseOptions(l.SSHOptions())
	if err != nil {
		t.Fatal(err)
	}
	return fence.Options{
		Name:  h.Name,
		MySQL: mysqlx.Target{Addr: h.Addr(), User: l.AdminUser, Password: l.AdminPassword, Timeout: 2 * time.Second},
		SSH: fence.SSH{
			Target: sshexec.Target{Host: h.IP, Port: h.SSHPort, User: "root", Options: opts, ConnectTimeout: 2 * time.Second},
			Local:  fence.LocalClient{User: l.AdminUser, Password: l.AdminPassword, Addr: h.IP, Port: h.Port},
		},
		PIDFile: filepath.Join(h.Dir, "mariadbd.pid"),
		Log:     fenceLog(t),
	}
}

// appDB opens a single-connection pool as the application account (no
// SUPER, INSERT on the load table) on addr.
func appDB(t *testing.T, addr string) *sql.DB {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = lab.LoadUser, lab.LoadPassword
	cfg.Net, cfg.Addr = "tcp", addr
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 3*time.Second, 5*time.Second, 5*time.Second
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// appInsert runs one insert as the application account on a fresh
// connection.
func appInsert(ctx context.Context, t *testing.T, addr string, id int) error {
	t.Helper()
	db := appDB(t, addr)
	_, err := db.ExecContext(ctx, "INSERT INTO "+lab.LoadTable+" (id) VALUES (?)", id)
	return err
}

// readOnlyOf reads @@global.read_only over the host's unix socket (which
// works whatever its cable does).
func readOnlyOf(ctx context.Context, t *testing.T, h *lab.Host) string {
	t.Helper()
	v, err := h.SQL(ctx, "SELECT @@global.read_only")
	if err != nil {
		t.Fatalf("%s: %v", h.Name, err)
	}
	return v
}

// binlogPos reads SHOW MASTER STATUS over the socket.
func binlogPos(ctx context.Context, t *testing.T, h *lab.Host) binlog.Pos {
	t.Helper()
	row, err := h.Row(ctx, "SHOW MASTER STATUS")
	if err != nil || row == nil {
		t.Fatalf("%s: SHOW MASTER STATUS: %v", h.Name, err)
	}
	off, err := strconv.ParseUint(row["Position"], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return binlog.Pos{File: row["File"], Offset: off}
}

// TestFenceReachableRunbook: the old master answers over MySQL. Fence sets
// read_only, kills an application session holding an uncommitted
// transaction (its COMMIT fails, its row never lands), and the application
// account cannot insert afterwards.
func TestFenceReachableRunbook(t *testing.T) {
	l := lab.New(t, lab.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	db1 := l.Master()
	if err := l.PrepareLoad(ctx); err != nil {
		t.Fatal(err)
	}

	// An application session in the middle of a transaction.
	app := appDB(t, db1.Addr())
	tx, err := app.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+lab.LoadTable+" (id) VALUES (1)"); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	res, err := fence.Fence(ctx, fenceOptions(t, l, db1))
	took := time.Since(start)
	if err != nil || !res.Fenced || res.Method != fence.MethodMySQL {
		t.Fatalf("Fence = %+v, %v; want fenced over MySQL", res, err)
	}
	t.Logf("fenced in %s: %s", took.Round(time.Millisecond), res)
	if !strings.Contains(res.Proof, "client connections killed") || strings.Contains(res.Proof, " 0 client connections killed") {
		t.Errorf("proof %q does not name the killed session", res.Proof)
	}
	if got := readOnlyOf(ctx, t, db1); got != "1" {
		t.Fatalf("db1 read_only = %s after Fence", got)
	}

	// The open transaction is gone: its COMMIT fails and its row is not there.
	if err := tx.Commit(); err == nil {
		t.Fatal("COMMIT of the open transaction succeeded after Fence")
	} else {
		t.Logf("COMMIT after Fence: %v", err)
	}
	if n, err := db1.SQL(ctx, "SELECT COUNT(*) FROM "+lab.LoadTable+" WHERE id = 1"); err != nil || n != "0" {
		t.Fatalf("row of the killed transaction: count %s (%v), want 0", n, err)
	}
	// A new application connection cannot write.
	err = appInsert(ctx, t, db1.Addr(), 2)
	if mysqlx.ErrorNumber(err) != 1290 { // ER_OPTION_PREVENTS_STATEMENT
		t.Fatalf("application insert after Fence: %v, want error 1290 (read-only)", err)
	}
}

// TestFenceLocalClientRunbook: the manager cannot reach mysqld (here its
// MySQL address refuses: a broken route), SSH works: the client on the host
// fences, with the password on its stdin.
func TestFenceLocalClientRunbook(t *testing.T) {
	l := lab.New(t, lab.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	db1 := l.Master()
	if err := l.PrepareLoad(ctx); err != nil {
		t.Fatal(err)
	}
	o := fenceOptions(t, l, db1)
	o.MySQL.Addr = netip.AddrPortFrom(netip.MustParseAddr(db1.IP), 3399).String() // nothing listens there
	res, err := fence.Fence(ctx, o)
	if err != nil || !res.Fenced || res.Method != fence.MethodLocalSQL {
		t.Fatalf("Fence = %+v, %v; want fenced by the local client", res, err)
	}
	t.Logf("%s", res)
	if got := readOnlyOf(ctx, t, db1); got != "1" {
		t.Fatalf("db1 read_only = %s", got)
	}
	if err := appInsert(ctx, t, db1.Addr(), 1); mysqlx.ErrorNumber(err) != 1290 {
		t.Fatalf("application insert after Fence: %v, want error 1290", err)
	}
}

// TestFenceHungRunbook: mysqld is hung (SIGSTOP, port open), SSH works.
// Neither the manager nor the local client gets an answer, so Fence stops
// mysqld (SIGKILL: the lab runs it under no service manager) and proves it
// gone. SIGCONT afterwards resumes nothing: nothing there takes writes.
func TestFenceHungRunbook(t *testing.T) {
	l := lab.New(t, lab.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	db1 := l.Master()
	if err := l.PrepareLoad(ctx); err != nil {
		t.Fatal(err)
	}
	pid := db1.MariaDBPid()
	if pid == 0 {
		t.Fatal("db1's mariadbd is not running")
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(pid, syscall.SIGCONT) // if Fence failed to kill it

	start := time.Now()
	res, err := fence.Fence(ctx, fenceOptions(t, l, db1))
	took := time.Since(start)
	if err != nil || !res.Fenced || res.Method != fence.MethodKill {
		t.Fatalf("Fence = %+v, %v; want mysqld killed", res, err)
	}
	t.Logf("fenced in %s: %s", took.Round(time.Millisecond), res)
	if !strings.Contains(res.Proof, "pid "+strconv.Itoa(pid)+" gone and port 3306 refuses") {
		t.Errorf("proof %q", res.Proof)
	}

	// The operator's SIGCONT finds nothing to resume.
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil && !errors.Is(err, syscall.ESRCH) {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if db1.MariaDBRunning() {
		t.Fatal("db1's mariadbd still runs")
	}
	err = appInsert(ctx, t, db1.Addr(), 1)
	if err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("application insert on db1 after SIGCONT: %v, want connection refused", err)
	}
	// The other hosts' servers are untouched.
	for _, h := range l.Replicas() {
		if !h.MariaDBRunning() {
			t.Errorf("%s's mariadbd is gone too", h.Name)
		}
	}
}

// TestFenceCablePulledRunbook: nothing reaches db1. Fence says so quickly,
// without an error: the caller falls back on shutdown_script or the lease.
func TestFenceCablePulledRunbook(t *testing.T) {
	l := lab.New(t, lab.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	db1 := l.Master()
	if err := db1.LinkDown(); err != nil {
		t.Fatal(err)
	}
	defer db1.LinkUp()
	start := time.Now()
	res, err := fence.Fence(ctx, fenceOptions(t, l, db1))
	took := time.Since(start)
	if err != nil || res.Fenced {
		t.Fatalf("Fence = %+v, %v; want not fenced, no error", res, err)
	}
	if !strings.Contains(res.Why, "unreachable over MySQL and SSH") {
		t.Errorf("Why = %q", res.Why)
	}
	t.Logf("gave up after %s: %s", took.Round(time.Millisecond), res)
	// 2 s MySQL connect + 2 s SSH connect, with a second to spare.
	if took > 5*time.Second {
		t.Errorf("Fence took %s with a pulled cable, want under 5s", took)
	}
}

// TestFenceWatchRunbook: after a failover away from db1 (its binlog position
// recorded as the end point) db1's cable is out. Watch probes it every
// second. Plugged back, db1 is read_only within one interval, the VIP hook
// (OnReturn) takes the address off it; cut again, made writable again (a
// restart without read_only) and written to from inside its namespace by
// the application, then plugged back: fenced again, and the writes are
// reported as errant with their size in bytes.
func TestFenceWatchRunbook(t *testing.T) {
	l := lab.New(t, lab.Options{ExtraMyCnf: []string{"bind-address=0.0.0.0"}})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	db1 := l.Master()
	if err := l.PrepareLoad(ctx); err != nil {
		t.Fatal(err)
	}
	vip := labVIP(l)
	if _, err := db1.Exec(ctx, "ip", "addr", "add", vip.String(), "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	const interval = time.Second
	endPoint := binlogPos(ctx, t, db1)

	// The cable is pulled; the failover happens (not run here); the manager
	// starts watching the old master.
	if err := db1.LinkDown(); err != nil {
		t.Fatal(err)
	}
	defer db1.LinkUp()

	events := make(chan fence.Event, 10)
	var mu sync.Mutex
	var returns []time.Time
	hook := bins.mha + " hook vip --vip=" + vip.String() + " --interface=eth0 --ssh_options='" + l.SSHOptions() + "'"
	stopVIP := fence.HookOnReturn(hooks.Runner{Log: fenceLog(t)}, hook,
		hooks.Endpoint{Host: db1.Name, IP: db1.IP, Port: db1.Port, SSHUser: "root"})
	o := fenceOptions(t, l, db1)
	wctx, wcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- fence.Watch(wctx, fence.WatchOptions{
			Fence: o, Interval: interval, Since: endPoint,
			OnFenced: func(e fence.Event) { events <- e },
			OnReturn: func(ctx context.Context) error {
				err := stopVIP(ctx)
				if err == nil {
					mu.Lock()
					returns = append(returns, time.Now())
					mu.Unlock()
				}
				return err
			},
		})
	}()
	defer func() {
		wcancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	}()
	waitEvent := func(what string) fence.Event {
		t.Helper()
		select {
		case e := <-events:
			return e
		case <-time.After(15 * time.Second):
			t.Fatalf("no fencing within 15s: %s", what)
		}
		return fence.Event{}
	}

	// 1. Away for a few probes, nothing written; plugged back.
	time.Sleep(3 * interval)
	select {
	case e := <-events:
		t.Fatalf("fenced while the cable was out: %+v", e)
	default:
	}
	if got := readOnlyOf(ctx, t, db1); got != "0" {
		t.Fatalf("db1 read_only = %s before its return", got)
	}
	back := time.Now()
	if err := db1.LinkUp(); err != nil {
		t.Fatal(err)
	}
	e := waitEvent("first return")
	first := e.Fenced.Sub(back)
	t.Logf("first return: fenced %s after the cable was plugged back: %s", first.Round(time.Millisecond), e.Proof)
	if first > interval+1500*time.Millisecond {
		t.Errorf("fenced %s after the return, want within one interval (%s) and a small tolerance", first, interval)
	}
	if got := readOnlyOf(ctx, t, db1); got != "1" {
		t.Fatalf("db1 read_only = %s after Watch fenced it", got)
	}
	if e.Errant.Bytes != 0 || e.Errant.Err != nil {
		t.Errorf("nothing was written, yet the report says %s", e.Errant)
	}
	// The hook took the address off db1.
	deadline := time.Now().Add(10 * time.Second)
	for len(holders(t, ctx, l, vip.Addr())) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s still on %v after db1's return", vip.Addr(), holders(t, ctx, l, vip.Addr()))
		}
		time.Sleep(200 * time.Millisecond)
	}

	// 2. Cut again; db1 comes up writable (say, a restart without
	// read_only) and the application writes to it from inside its
	// namespace, then the cable comes back.
	if err := db1.LinkDown(); err != nil {
		t.Fatal(err)
	}
	// Watch's probe on its open session times out (2 s read timeout):
	// it notices db1 is gone.
	time.Sleep(4 * interval)
	if _, err := db1.SQL(ctx, "SET GLOBAL read_only = 0"); err != nil {
		t.Fatal(err)
	}
	const rows = 5
	for i := range rows {
		q := fmt.Sprintf("INSERT INTO %s (id) VALUES (%d)", lab.LoadTable, 1000+i)
		if out, err := db1.Exec(ctx, "mariadb", "--no-defaults", "--host="+db1.IP, "--port="+strconv.Itoa(db1.Port),
			"--user="+lab.LoadUser, "--password="+lab.LoadPassword, "--execute="+q); err != nil {
			t.Fatalf("application write on cut-off db1: %v: %s", err, out)
		}
	}
	wrote := binlogPos(ctx, t, db1)
	if wrote.File != endPoint.File {
		t.Fatalf("binlog rotated (%s -> %s): the expected size below assumes one file", endPoint, wrote)
	}
	want := wrote.Offset - endPoint.Offset
	back = time.Now()
	if err := db1.LinkUp(); err != nil {
		t.Fatal(err)
	}
	e = waitEvent("second return")
	if e.Flipped {
		t.Errorf("the second return was seen as a flip on a session that survived the cut: %+v", e)
	}
	second := e.Fenced.Sub(back)
	t.Logf("second return: fenced %s after the cable was plugged back; %s", second.Round(time.Millisecond), e.Errant)
	if second > interval+1500*time.Millisecond {
		t.Errorf("fenced %s after the return, want within one interval (%s) and a small tolerance", second, interval)
	}
	if e.Errant.Bytes != want || e.Errant.Now != wrote || e.Errant.Err != nil {
		t.Errorf("errant report %+v, want %d bytes after %s up to %s", e.Errant, want, endPoint, wrote)
	}
	if !strings.Contains(e.Errant.String(), fmt.Sprintf("db1 took %d bytes of binlog after %s", want, endPoint)) {
		t.Errorf("report %q", e.Errant)
	}
	if err := appInsert(ctx, t, db1.Addr(), 2000); mysqlx.ErrorNumber(err) != 1290 {
		t.Fatalf("application insert after the second return: %v, want error 1290", err)
	}
	mu.Lock()
	n := len(returns)
	mu.Unlock()
	if n < 1 {
		t.Errorf("OnReturn (the VIP hook) succeeded %d times", n)
	}

	// 3. Someone sets read_only=0 while it is watched: fenced again.
	if _, err := db1.SQL(ctx, "SET GLOBAL read_only = 0"); err != nil {
		t.Fatal(err)
	}
	flip := time.Now()
	e = waitEvent("flip")
	if !e.Flipped {
		t.Errorf("event %+v is not a flip", e)
	}
	t.Logf("flip back to writable: fenced again %s later", e.Fenced.Sub(flip).Round(time.Millisecond))
	if got := readOnlyOf(ctx, t, db1); got != "1" {
		t.Fatalf("db1 read_only = %s after the flip", got)
	}
}
