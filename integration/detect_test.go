package integration

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gomha/gomha/integration/lab"
	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/detect"
	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/node/binlog"
)

// TestDetectRunbook follows what a DBA wants to see before trusting the
// failure detector: one monitor per master (the lock); no failover when the
// master is only busy (too many connections) or when only the manager's
// own link to it is cut for a minute while the application writes (the
// replicas keep receiving events, their hosts read its greeting, and
// secondary_check_script reaches it), not even when no new connection to
// it completes from anywhere while replication goes on; a quick verdict, "hung", when mysqld
// is SIGSTOPped (its port still accepts, no greeting comes), "silent" when
// the master's cable is pulled (the replicas' IO threads still say Yes),
// and "refused" when mysqld is killed. The monitor runs in the test
// process (root namespace, ping_interval=1) with
// `mha secondary-check -s db2 -s db3` as secondary_check_script.
func TestDetectRunbook(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 3})
	ctx := t.Context()
	db1, db2, db3 := l.Hosts[0], l.Hosts[1], l.Hosts[2]
	conf := filepath.Join(l.Dir, "app1.cnf")
	script := bins.mha + " secondary-check -s " + db2.IP + " -s " + db3.IP + " --timeout=2"
	if err := l.WriteAppConf(conf, "secondary_check_script="+script); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(ctx, config.LoadOptions{AppFile: conf, GlobalFile: filepath.Join(l.Dir, "no-global.cnf")})
	if err != nil {
		t.Fatal(err)
	}
	sc := func(t *testing.T, args ...string) result {
		t.Helper()
		base := []string{"secondary-check", "--user=root", "--options=" + l.SSHOptions(), "--master_host=" + db1.IP, "--master_port=3306", "--timeout=2"}
		return mha(t, checkTimeout, append(base, args...)...)
	}

	t.Run("secondary-check on a healthy cluster: master reachable from db2, exit 3", func(t *testing.T) {
		r := sc(t, "-s", db2.IP, "-s", db3.IP)
		expect(t, r, 3, "Master is reachable from "+db2.IP+"!")
		r = sc(t, "-s", db2.IP, "--ping_type=INSERT", "--master_user="+l.AdminUser, "--master_password="+l.AdminPassword)
		expect(t, r, 3, "Master is reachable from "+db2.IP+"!")
		if got := sqlOn(t, ctx)(db1, "SELECT COUNT(*) FROM infra.chk_masterha"); got != "1" {
			t.Errorf("INSERT check left %q rows in infra.chk_masterha, want 1", got)
		}
	})

	t.Run("secondary-check: no -s means dead (exit 0), an unreachable secondary host exit 2", func(t *testing.T) {
		expect(t, sc(t), 0)
		unused := strings.TrimSuffix(l.BridgeIP, ".1") + ".99"
		expect(t, sc(t, "-s", unused), 2, "Monitoring server "+unused+" is NOT reachable!")
		link := filepath.Join(t.TempDir(), "masterha_secondary_check")
		if err := os.Symlink(bins.mha, link); err != nil {
			t.Fatal(err)
		}
		r := run(t, checkTimeout, link, "--master_host="+db1.IP, "--unknown_option=ignored")
		expect(t, r, 0)
	})

	t.Run("a second monitor is refused the monitor lock", func(t *testing.T) {
		w := startMonitor(t, cfg, config.PingSelect)
		w.waitState(t, detect.StatePingOK, 10*time.Second)
		m := w.monitor(t, cfg, config.PingSelect)
		m.OnState = nil
		start := time.Now()
		_, err := m.Run(ctx)
		if !errors.Is(err, detect.ErrLockHeld) || !strings.Contains(err.Error(), "advisory lock is already held by someone") {
			t.Fatalf("second monitor: %v, want ErrLockHeld with MHA's message", err)
		}
		if e := time.Since(start); e < 3*time.Second {
			t.Errorf("second monitor gave up after %s, want the 4 × ping_interval lock wait", e)
		}
	})

	t.Run("too many connections: not a crash, no verdict", func(t *testing.T) {
		sqlOn(t, ctx)(db1, "SET GLOBAL max_connections=6")
		w := startMonitor(t, cfg, config.PingConnect)
		w.waitState(t, detect.StatePingOK, 10*time.Second)
		// Hold every connection slot, including the one extra slot MariaDB
		// keeps for SUPER (the lab's admin account has it), and keep
		// grabbing any slot that frees up, so the monitor's CONNECT pings
		// get error 1040 at accept time.
		hold := holdConnections(t, check.Target(cfg, cfg.Servers[0], 2*time.Second))
		w.waitState(t, detect.StatePingFailing, 10*time.Second)
		w.noVerdictFor(t, 10*time.Second)
		if !strings.Contains(w.logs(), "Got MySQL error 1040, but this is not a MySQL crash") {
			t.Errorf("monitor log lacks the 1040 line:\n%s", w.logs())
		}
		if strings.Contains(w.logs(), "start-confirm") || strings.Contains(w.logs(), "checking whether the master is really down") {
			t.Errorf("a 1040 started a confirmation:\n%s", w.logs())
		}
		hold()
		sqlOn(t, ctx)(db1, "SET GLOBAL max_connections=100")
		w.waitState(t, detect.StatePingOK, 10*time.Second)
	})

	t.Run("manager-only partition for 60 s under write load: the replicas keep replicating, no verdict", func(t *testing.T) {
		if err := l.PrepareLoad(ctx); err != nil {
			t.Fatal(err)
		}
		w := startMonitor(t, cfg, config.PingSelect)
		w.waitState(t, detect.StatePingOK, 10*time.Second)
		// The writer runs in the test process, whose route to db1 is about
		// to be cut: it writes over db1's unix socket.
		load := startSocketWriter(t, db1, l.AdminUser, l.AdminPassword)
		before := readPositions(t, ctx, db2, db3)
		if err := db1.CutFromRoot(ctx); err != nil {
			t.Fatal(err)
		}
		healed := false
		defer func() {
			if !healed {
				_ = db1.HealFromRoot(context.Background())
			}
		}()
		w.waitState(t, detect.StatePingFailing, 10*time.Second)
		const partition = 60 * time.Second
		w.noVerdictFor(t, partition)
		after := readPositions(t, ctx, db2, db3)
		acked := load()
		t.Logf("%d inserts on db1 during the partition; replica read positions %v -> %v", acked, before, after)
		if acked < 100 {
			t.Errorf("only %d inserts acknowledged on db1 in %s", acked, partition)
		}
		for i, h := range []*lab.Host{db2, db3} {
			if c, err := binlog.Compare(before[i], after[i]); err != nil || c >= 0 {
				t.Errorf("%s's Read_Master_Log_Pos %s -> %s did not advance (%v)", h.Name, before[i], after[i], err)
			}
		}
		logs := w.logs()
		for _, want := range []string{
			"replicas say the master is alive",
			"read position advanced",
			"Master is reachable from at least one of other monitoring servers",
			"Master is not confirmed dead",
		} {
			if !strings.Contains(logs, want) {
				t.Errorf("monitor log lacks %q:\n%s", want, logs)
			}
		}
		if err := db1.HealFromRoot(ctx); err != nil {
			t.Fatal(err)
		}
		healed = true
		w.waitState(t, detect.StatePingOK, 15*time.Second)
	})

	t.Run("manager cut off and no new connection to the master completes, replication goes on: no verdict", func(t *testing.T) {
		// The false failover this guards against: every probe fails (the
		// manager's pings, the greeting probes from the replicas' hosts,
		// secondary_check_script), yet the master is alive and the replicas'
		// established IO threads keep receiving its events.
		if err := l.PrepareLoad(ctx); err != nil {
			t.Fatal(err)
		}
		w := startMonitor(t, cfg, config.PingSelect)
		w.waitState(t, detect.StatePingOK, 10*time.Second)
		load := startSocketWriter(t, db1, l.AdminUser, l.AdminPassword)
		if err := db1.CutFromRoot(ctx); err != nil {
			t.Fatal(err)
		}
		undo := dropNewConnections(t, db1)
		defer func() {
			undo()
			_ = db1.HealFromRoot(context.Background())
		}()
		w.waitState(t, detect.StatePingFailing, 10*time.Second)
		w.noVerdictFor(t, 30*time.Second)
		acked := load()
		t.Logf("%d inserts on db1 meanwhile", acked)
		if acked < 100 {
			t.Errorf("only %d inserts acknowledged on db1", acked)
		}
		logs := w.logs()
		for _, want := range []string{
			"the master's port is silent",
			"read position advanced",
			"=> master alive (replicating)",
			"secondary_check_script: Master is not reachable from all other monitoring servers",
			"Master is not confirmed dead",
		} {
			if !strings.Contains(logs, want) {
				t.Errorf("monitor log lacks %q:\n%s", want, logs)
			}
		}
		undo()
		if err := db1.HealFromRoot(ctx); err != nil {
			t.Fatal(err)
		}
		w.waitState(t, detect.StatePingOK, 15*time.Second)
	})

	t.Run("SIGSTOP of the master's mariadbd (port open, no greeting): verdict hung within 15 s", func(t *testing.T) {
		w := startMonitor(t, cfg, config.PingSelect)
		w.waitState(t, detect.StatePingOK, 10*time.Second)
		frozen := time.Now()
		if err := db1.FreezeMariaDB(); err != nil {
			t.Fatal(err)
		}
		thawed := false
		defer func() {
			if !thawed {
				_ = db1.ThawMariaDB()
			}
		}()
		v, err := w.wait(t, 60*time.Second)
		if err != nil {
			t.Fatalf("monitor: %v\n%s", err, w.logs())
		}
		took := time.Since(frozen)
		t.Logf("SIGSTOP to verdict: %s (kind %s):\n  %s", took.Round(time.Millisecond), v.Kind, strings.Join(v.Evidence, "\n  "))
		if took > 15*time.Second {
			t.Errorf("verdict took %s, want a few seconds with ping_interval=1", took)
		}
		if v.Kind != detect.FailureHung || v.SSHReachable != 1 {
			t.Errorf("verdict kind %s ssh_reachable %d, want hung and 1 (sshd still runs)", v.Kind, v.SSHReachable)
		}
		for _, p := range v.Probes {
			if p.Reach != detect.ReachHung || p.IO != mysqlx.IOConnected || p.Advanced() {
				t.Errorf("%s: reach %s, IO %s, advanced %v; want hung, a stale IO thread (Yes) that did not advance", p.Name, p.Reach, p.IO, p.Advanced())
			}
		}
		if len(v.Probes) != 2 {
			t.Errorf("verdict has %d replica probes, want 2", len(v.Probes))
		}
		ev := strings.Join(v.Evidence, "\n")
		greet := detect.GreetingTimeout(time.Second).String() // ping_interval=1
		for _, want := range []string{
			db2.IP + "(" + db2.Addr() + "): the master's port accepts but sends nothing (no greeting within " + greet + " (hung?))",
			db3.IP + "(" + db3.Addr() + "): the master's port accepts but sends nothing (no greeting within " + greet + " (hung?))",
			"seen as hung",
			"secondary_check_script: Master is not reachable from all other monitoring servers",
		} {
			if !strings.Contains(ev, want) {
				t.Errorf("evidence lacks %q:\n%s", want, ev)
			}
		}
		// SIGCONT: the master resumes, the replicas go on from where they
		// were, and a new monitor finds it healthy.
		if err := db1.ThawMariaDB(); err != nil {
			t.Fatal(err)
		}
		thawed = true
		for _, h := range []*lab.Host{db2, db3} {
			if err := h.WaitReplicating(ctx); err != nil {
				t.Fatalf("%s after SIGCONT: %v", h.Name, err)
			}
		}
		w2 := startMonitor(t, cfg, config.PingSelect)
		w2.waitState(t, detect.StatePingOK, 20*time.Second)
	})

	t.Run("cable pulled from the master: IO threads stale, probes silent, verdict silent", func(t *testing.T) {
		w := startMonitor(t, cfg, config.PingSelect)
		w.waitState(t, detect.StatePingOK, 10*time.Second)
		pulled := time.Now()
		if err := db1.LinkDown(); err != nil {
			t.Fatal(err)
		}
		plugged := false
		defer func() {
			if !plugged {
				_ = db1.LinkUp()
			}
		}()
		v, err := w.wait(t, 60*time.Second)
		if err != nil {
			t.Fatalf("monitor: %v\n%s", err, w.logs())
		}
		took := time.Since(pulled)
		t.Logf("cable pull to verdict: %s (kind %s):\n  %s", took.Round(time.Millisecond), v.Kind, strings.Join(v.Evidence, "\n  "))
		if took > 20*time.Second {
			t.Errorf("verdict took %s, want well under 20 s with ping_interval=1", took)
		}
		// SSH is unreachable (0) when its check ended before the decision,
		// unknown (2) when the decision did not wait for it (the failover
		// then checks it itself); never reachable.
		if v.Kind != detect.FailureSilent || (v.SSHReachable != 0 && v.SSHReachable != 2) {
			t.Errorf("verdict kind %s ssh_reachable %d, want silent and 0 or 2", v.Kind, v.SSHReachable)
		}
		ev := strings.Join(v.Evidence, "\n")
		for _, h := range []*lab.Host{db2, db3} {
			name := h.IP + "(" + h.Addr() + "): "
			if !strings.Contains(ev, name+"the master's port is silent") && !strings.Contains(ev, name+"no route to the master") {
				t.Errorf("evidence lacks a silent or no-route probe from %s:\n%s", h.Name, ev)
			}
		}
		if err := db1.LinkUp(); err != nil {
			t.Fatal(err)
		}
		plugged = true
		for _, h := range []*lab.Host{db2, db3} {
			if err := h.WaitReplicating(ctx); err != nil {
				t.Fatalf("%s after the cable is back: %v", h.Name, err)
			}
		}
		w2 := startMonitor(t, cfg, config.PingSelect)
		w2.waitState(t, detect.StatePingOK, 20*time.Second)
	})

	t.Run("kill -9 of the master's mysqld: verdict within 10 s", func(t *testing.T) {
		w := startMonitor(t, cfg, config.PingSelect)
		w.waitState(t, detect.StatePingOK, 10*time.Second)
		killed := time.Now()
		if err := db1.KillMariaDB(); err != nil {
			t.Fatal(err)
		}
		v, err := w.wait(t, 20*time.Second)
		if err != nil {
			t.Fatalf("monitor: %v\n%s", err, w.logs())
		}
		took := time.Since(killed)
		t.Logf("verdict after %s (kind %s):\n  %s", took.Round(time.Millisecond), v.Kind, strings.Join(v.Evidence, "\n  "))
		if took > 10*time.Second {
			t.Errorf("verdict took %s, want at most 10 s with ping_interval=1", took)
		}
		if v.Master.Hostname != db1.IP || v.SSHReachable != 1 || v.Kind != detect.FailureRefused {
			t.Errorf("verdict master %s ssh_reachable %d kind %s, want %s, 1 (sshd still runs) and refused", v.Master.Hostname, v.SSHReachable, v.Kind, db1.IP)
		}
		ev := strings.Join(v.Evidence, "\n")
		for _, want := range []string{
			db2.IP + "(" + db2.Addr() + "): the master's port refuses (connection refused)",
			db3.IP + "(" + db3.Addr() + "): the master's port refuses (connection refused)",
			"secondary_check_script: Master is not reachable from all other monitoring servers",
		} {
			if !strings.Contains(ev, want) {
				t.Errorf("evidence lacks %q:\n%s", want, ev)
			}
		}
		if w.last() != detect.StatePingFailed {
			t.Errorf("last state %v, want PING_FAILED", w.last())
		}
	})

	t.Run("secondary-check after the kill: unreachable from every host, exit 0", func(t *testing.T) {
		r := sc(t, "-s", db2.IP, "-s", db3.IP)
		expect(t, r, 0,
			"Monitoring server "+db2.IP+" is reachable, Master is not reachable from "+db2.IP+". OK.",
			"Monitoring server "+db3.IP+" is reachable, Master is not reachable from "+db3.IP+". OK.")
	})
}

// watch is a Monitor running in the background for one subtest.
type watch struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	log     bytes.Buffer
	states  []detect.State
	verdict detect.Verdict
	err     error
}

// startMonitor runs a Monitor on cfg's first server (the master) with the
// other servers as replicas to ask, until the subtest ends.
func startMonitor(t *testing.T, cfg *config.Config, pingType string) *watch {
	t.Helper()
	w := &watch{done: make(chan struct{})}
	m := w.monitor(t, cfg, pingType)
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go func() {
		defer close(w.done)
		v, err := m.Run(ctx)
		w.mu.Lock()
		w.verdict, w.err = v, err
		w.mu.Unlock()
	}()
	t.Cleanup(func() {
		cancel()
		<-w.done
		t.Logf("monitor log:\n%s", w.logs())
	})
	return w
}

// monitor builds a Monitor whose log and states w records.
func (w *watch) monitor(t *testing.T, cfg *config.Config, pingType string) *detect.Monitor {
	t.Helper()
	master := cfg.Servers[0]
	master.PingType = pingType
	log := slog.New(slog.NewTextHandler(lockedWriter{&w.mu, &w.log}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return &detect.Monitor{
		Config:    cfg,
		Master:    master,
		Log:       log,
		Hooks:     hooks.Runner{Log: log},
		Secondary: cfg.Servers[1:],
		OnState: func(s detect.State) {
			w.mu.Lock()
			w.states = append(w.states, s)
			w.mu.Unlock()
		},
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (w *watch) logs() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.log.String()
}

// last returns the last reported state (PING_OK before any report).
func (w *watch) last() detect.State {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.states) == 0 {
		return -1
	}
	return w.states[len(w.states)-1]
}

// waitState waits until the last reported state is s.
func (w *watch) waitState(t *testing.T, s detect.State, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for w.last() != s {
		select {
		case <-w.done:
			t.Fatalf("monitor ended while waiting for %v: %v\n%s", s, w.err, w.logs())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %v not reached within %s (last %v)\n%s", s, d, w.last(), w.logs())
		}
	}
}

// noVerdictFor fails the test if the monitor returns within d.
func (w *watch) noVerdictFor(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-w.done:
		t.Fatalf("monitor returned (verdict %+v, err %v); want it still monitoring\n%s", w.verdict.Evidence, w.err, w.logs())
	case <-time.After(d):
	}
}

// wait waits up to d for the monitor's verdict.
func (w *watch) wait(t *testing.T, d time.Duration) (detect.Verdict, error) {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(d):
		t.Fatalf("no verdict within %s\n%s", d, w.logs())
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.verdict, w.err
}

// holdConnections opens sessions to target until the server answers 1040
// (Too many connections) and keeps grabbing freed slots in the background.
// The returned function closes them all.
func holdConnections(t *testing.T, target mysqlx.Target) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var conns []*mysqlx.Conn
	full := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		saturated := false
		for ctx.Err() == nil {
			c, err := mysqlx.Open(ctx, target)
			switch {
			case err == nil:
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
				continue
			case mysqlx.ErrorNumber(err) == 1040:
				if !saturated {
					saturated = true
					close(full)
				}
			case ctx.Err() == nil:
				t.Logf("holding connections: %v", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	select {
	case <-full:
	case <-time.After(30 * time.Second):
		cancel()
		<-done
		t.Fatal("the master never answered 1040")
	}
	mu.Lock()
	t.Logf("holding %d connections on %s", len(conns), target.Addr)
	mu.Unlock()
	return func() {
		cancel()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	}
}

// startSocketWriter inserts a row into the load table on h every 20 ms
// over h's unix socket (no network: it goes on when h is cut from the test
// process). The returned function stops it and returns how many inserts
// were acknowledged.
func startSocketWriter(t *testing.T, h *lab.Host, user, password string) func() int {
	t.Helper()
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr = user, password, "unix", h.Socket
	conn, err := mysql.NewConnector(c)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithCancel(context.Background())
	if err := db.PingContext(ctx); err != nil {
		cancel()
		db.Close()
		t.Fatalf("writer on %s's socket: %v", h.Name, err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO "+lab.LoadTable+" (id) VALUES (?)", -time.Now().UnixNano()); err != nil {
		cancel()
		db.Close()
		t.Fatalf("writer on %s's socket: %v", h.Name, err)
	}
	var acked int
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		id := time.Now().UnixNano()
		for {
			ictx, icancel := context.WithTimeout(ctx, time.Second)
			_, err := db.ExecContext(ictx, "INSERT INTO "+lab.LoadTable+" (id) VALUES (?)", id)
			icancel()
			if err == nil {
				acked++
				id++
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	stopped := false
	stop := func() int {
		if !stopped {
			stopped = true
			cancel()
			<-done
			db.Close()
		}
		return acked
	}
	t.Cleanup(func() { stop() })
	return stop
}

// readPositions returns each replica's Read_Master_Log_Pos.
func readPositions(t *testing.T, ctx context.Context, hosts ...*lab.Host) []binlog.Pos {
	t.Helper()
	var out []binlog.Pos
	for _, h := range hosts {
		row, err := h.Row(ctx, "SHOW SLAVE STATUS")
		if err != nil {
			t.Fatalf("%s: SHOW SLAVE STATUS: %v", h.Name, err)
		}
		off, err := strconv.ParseUint(row["Read_Master_Log_Pos"], 10, 64)
		if err != nil {
			t.Fatalf("%s: Read_Master_Log_Pos %q: %v", h.Name, row["Read_Master_Log_Pos"], err)
		}
		out = append(out, binlog.Pos{File: row["Master_Log_File"], Offset: off})
	}
	return out
}

// dropNewConnections makes h's MariaDB port take no new TCP connection
// while established ones go on: every SYN-ACK h sends from its port is
// dropped (a u32 filter steering them to an HTB class whose queue holds 0
// packets), so a connect from anywhere goes unanswered. The returned
// function undoes it; it may be called more than once.
func dropNewConnections(t *testing.T, h *lab.Host) func() {
	t.Helper()
	ctx := t.Context()
	port := strconv.Itoa(h.Port)
	for _, args := range [][]string{
		{"qdisc", "add", "dev", "eth0", "root", "handle", "1:", "htb", "default", "10", "r2q", "100000"},
		{"class", "add", "dev", "eth0", "parent", "1:", "classid", "1:10", "htb", "rate", "10gbit"},
		{"class", "add", "dev", "eth0", "parent", "1:", "classid", "1:20", "htb", "rate", "10gbit"},
		{"qdisc", "add", "dev", "eth0", "parent", "1:20", "handle", "20:", "pfifo", "limit", "0"},
		// TCP flags are byte 33 of an IPv4 packet without options; 0x02 is SYN.
		{"filter", "add", "dev", "eth0", "parent", "1:", "protocol", "ip", "prio", "1", "u32",
			"match", "ip", "sport", port, "0xffff", "match", "u8", "0x02", "0x02", "at", "33", "flowid", "1:20"},
	} {
		if _, err := h.Exec(ctx, "tc", args...); err != nil {
			_, _ = h.Exec(context.Background(), "tc", "qdisc", "del", "dev", "eth0", "root")
			t.Fatalf("drop new connections to %s: %v", h.Name, err)
		}
	}
	done := false
	return func() {
		if !done {
			done = true
			if _, err := h.Exec(context.Background(), "tc", "qdisc", "del", "dev", "eth0", "root"); err != nil {
				t.Errorf("undo: %v", err)
			}
		}
	}
}
