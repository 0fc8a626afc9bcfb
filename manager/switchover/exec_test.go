package switchover

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/repoint"
	"github.com/gomha/gomha/node/binlog"
)

func contains(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

// stepNames are the names of res.Steps with their hosts' hostnames; the
// repoints, which run in parallel, sorted among themselves.
func stepNames(res Result) []string {
	var out []string
	for _, s := range res.Steps {
		out = append(out, s.Name+" "+s.Host)
	}
	return shortSorted(out)
}

// planned are the plan's steps in the same form.
func planned(p Plan) []string {
	var out []string
	for _, s := range p.Steps() {
		out = append(out, s.Name+" "+s.Host)
	}
	return shortSorted(out)
}

func shortSorted(steps []string) []string {
	for i, s := range steps {
		steps[i], _, _ = strings.Cut(s, "(")
	}
	first := slices.IndexFunc(steps, func(s string) bool { return strings.HasPrefix(s, StepRepoint+" ") })
	if first >= 0 {
		end := first
		for end < len(steps) && strings.HasPrefix(steps[end], StepRepoint+" ") {
			end++
		}
		slices.Sort(steps[first:end])
	}
	return steps
}

// assertNothingChanged: a refusal touched nothing.
func assertNothingChanged(t *testing.T, c *cluster) {
	t.Helper()
	for _, m := range []string{"SetReadOnly", "LockTables", "StopReplication", "Repoint", "ResetReplicaAll", "Kill"} {
		for name := range c.w.servers {
			if n := c.w.count(name + " " + m); n > 0 {
				t.Errorf("%s %s called %d times by a refused switch", name, m, n)
			}
		}
	}
	if n := c.w.count("hook "); n > 0 {
		t.Errorf("%d hook calls by a refused switch", n)
	}
	if n := c.w.count("watchdog "); n > 0 {
		t.Errorf("%d watchdog calls by a refused switch", n)
	}
}

// assertOrder: the calls in order were logged in that order (others may
// come between them).
func assertOrder(t *testing.T, c *cluster, order []string) {
	t.Helper()
	last := -1
	for _, o := range order {
		i := c.w.indexFrom(o, last+1)
		if i < 0 {
			t.Errorf("%q missing or out of order (nothing after call %d)", o, last)
			continue
		}
		last = i
	}
}

// assertOldMasterBack: after an abort before the point of no return the
// old master db1 is writable and unlocked again, the candidate db2 is
// read-only and replicates from db1, and no other replica was touched.
func assertOldMasterBack(t *testing.T, c *cluster, res Result) {
	t.Helper()
	db1, db2 := c.server("db1"), c.server("db2")
	if db1.readOnly() {
		t.Error("the old master db1 is still read-only after the rollback")
	}
	if db1.isLocked() {
		t.Error("the old master db1 still holds the global read lock")
	}
	if !db2.readOnly() {
		t.Error("the candidate db2 is writable after the rollback: two writable masters")
	}
	if on, src := db2.isReplicating(); !on || src != "198.18.9.11:3306" {
		t.Errorf("the candidate db2 replicating=%t from %q; want from db1", on, src)
	}
	for name := range c.w.servers {
		if name != "db1" && name != "db2" && c.w.count(name+" Repoint") > 0 {
			t.Errorf("%s was repointed by a rolled-back switch", name)
		}
	}
	if !res.RolledBack || res.Switched {
		t.Errorf("RolledBack=%t Switched=%t; want rolled back, not switched", res.RolledBack, res.Switched)
	}
}

// The happy path: every step in the plan's order, writes blocked on db1 by
// read_only=1 alone (MHA 0.58: no global read lock), db2 writable, then
// the hook "start", db1 read-only (not repointed without
// orig_master_is_new_slave), db3 repointed at db2's position; every step
// logged with its duration and every irreversible one journaled.
func TestRunHappyPath(t *testing.T) {
	c := newCluster(t, 2, nil)
	res, err := c.run(t)
	if err != nil {
		t.Fatalf("switch failed: %v", err)
	}
	if !res.Switched || res.RolledBack || res.NewMaster != "db2(198.18.9.12:3306)" || res.OrigMaster != "db1(198.18.9.11:3306)" {
		t.Errorf("result %+v", res)
	}
	want := []string{
		"pre-sync new master db2", "online-change hook stop db1", "prepare write lock db1", "set read_only=1 db1",
		"read old master position db1", "new master catch-up db2", "stop replication db2",
		"read new master position db2", "check old master position unchanged db1", "set read_only=0 db2", "online-change hook start db2",
		"check old master position after the switch db1", "change master db3", "reset slave all db2",
	}
	if got := stepNames(res); !slices.Equal(got, want) {
		t.Errorf("steps\n got %q\nwant %q", got, want)
	}
	if got, want := stepNames(res), planned(c.plan()); !slices.Equal(got, want) {
		t.Errorf("steps run\n got %q\nplanned %q", got, want)
	}
	if n := c.w.count("db1 LockTables") + c.w.count("db1 UnlockTables"); n != 0 {
		t.Errorf("FLUSH TABLES WITH READ LOCK / UNLOCK TABLES sent %d times without LockAllTables", n)
	}
	// The SQL order on the servers.
	order := []string{"hook stop db1->db2", "db1 SetReadOnly true", "db1 BinlogStatus", "db2 WaitForPos",
		"db2 StopReplication", "db2 BinlogStatus", "db1 BinlogStatus", "db2 SetReadOnly false", "hook start db1->db2", "db1 BinlogStatus",
		"db3 WaitForPos", "db3 Repoint", "db2 ResetReplicaAll"}
	assertOrder(t, c, order)
	if c.server("db2").readOnly() || !c.server("db1").readOnly() || c.server("db1").isLocked() {
		t.Error("want db2 writable, db1 read-only and unlocked")
	}
	if on, src := c.server("db3").isReplicating(); !on || src != "198.18.9.12:3306" {
		t.Errorf("db3 replicating=%t from %q; want from db2", on, src)
	}
	if c.w.count("db3 Repoint 198.18.9.12:3306 repl 0 (file/position) mysql-bin.000001:329") != 1 {
		t.Error("db3 not repointed at db2's binlog position after the catch-up")
	}
	if c.w.count("db1 Repoint") != 0 || c.w.count("db3 WaitForPos mysql-bin.000001:9000") != 1 {
		t.Error("db1 repointed without orig_master_is_new_slave, or db3 did not wait for db1's final position")
	}
	for _, s := range res.Steps {
		if s.Err != nil || s.Duration < 0 {
			t.Errorf("step %s on %s: %v after %s", s.Name, s.Host, s.Err, s.Duration)
		}
	}
	contains(t, "log", c.log.String(), `msg="step done" cluster=app1 step="set read_only=0" host=db2(198.18.9.12:3306) duration=`,
		`step="change master" host=db3(198.18.9.13:3306) duration=`, "Switching master to db2(198.18.9.12:3306) completed successfully.",
		`msg="phase done" cluster=app1 step="Phase 2: Rejecting updates Phase" duration=`)
	for _, j := range []string{"intent set read_only=1 db1(198.18.9.11:3306)", "done set read_only=0 db2(198.18.9.12:3306)",
		"intent change master db3(198.18.9.13:3306)", "done reset slave all db2(198.18.9.12:3306)"} {
		if !c.jr.has(j) {
			t.Errorf("journal lacks %q: %q", j, c.jr.records)
		}
	}
	if c.jr.has("intent read old master position db1(198.18.9.11:3306)") {
		t.Error("a read-only step was journaled")
	}
	if d := c.jr.details["change master db3(198.18.9.13:3306)"]; d["source_host"] != "198.18.9.12" || d["binlog_pos"] != "329" {
		t.Errorf("change master journal detail %v", d)
	}
	if strings.Contains(c.log.String(), "s3cret") {
		t.Error("the replication password is in the log")
	}
}

// With orig_master_is_new_slave the old master replicates from the new one
// (without waiting for its own final position); without it, it is left
// alone, read-only. On MariaDB GTID every replica stays on GTID and the old
// master's gtid_slave_pos is set to its own final position first.
func TestRunOrigMasterIsNewSlave(t *testing.T) {
	for _, tt := range []struct {
		name string
		on   bool
		gtid bool
	}{{"off", false, false}, {"on", true, false}, {"on, MariaDB GTID", true, true}} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, 2, nil)
			if tt.gtid {
				c.gtid()
			}
			c.opts.OrigMasterIsNewSlave = tt.on
			res, err := c.run(t)
			if err != nil {
				t.Fatalf("switch failed: %v", err)
			}
			on, src := c.server("db1").isReplicating()
			if tt.on != (on && src == "198.18.9.12:3306") {
				t.Errorf("db1 replicating=%t from %q with orig_master_is_new_slave=%t", on, src, tt.on)
			}
			if !c.server("db1").readOnly() {
				t.Error("the old master is writable after the switch")
			}
			if c.w.count("db1 WaitForPos") != 0 {
				t.Error("the old master waited for its own final position")
			}
			if n := len(res.Replicas); n != map[bool]int{false: 1, true: 2}[tt.on] {
				t.Errorf("%d servers repointed", n)
			}
			if tt.on && res.Replicas[len(res.Replicas)-1].Host != "db1(198.18.9.11:3306)" {
				t.Errorf("the old master is not repointed last: %+v", res.Replicas)
			}
			if tt.gtid {
				if c.w.count("db1 SetGTIDSlavePos 0-1-100") != 1 || c.w.count("db3 WaitForGTID 0-1-100") != 1 ||
					c.w.count("db3 Repoint 198.18.9.12:3306 repl 3 (MariaDB GTID)") != 1 {
					t.Error("GTID: want db1's gtid_slave_pos set, db3 waiting by GTID and repointed by GTID")
				}
				contains(t, "log", c.log.String(), "gtid_mode=\"3 (MariaDB GTID)\"")
			}
		})
	}
}

// With orig_master_is_new_slave the old master replicates with the
// connection settings the new master had as a replica (read in Phase 1,
// before its RESET SLAVE ALL; MASTER_DELAY left out); the other replicas
// keep their own. A failed read only costs the settings.
func TestRunOrigMasterIsNewSlaveSettings(t *testing.T) {
	hb, retry, ssl, delay := 1.0, 2, true, int64(30)
	dba := repoint.Settings{HeartbeatPeriod: &hb, ConnectRetry: &retry, SSL: &ssl, SSLCA: "/etc/mysql/ca.pem", Delay: &delay}
	want := dba
	want.Delay = nil
	for _, tt := range []struct {
		name    string
		on      bool
		readErr error
		want    *repoint.Settings
	}{
		{"on", true, nil, &want},
		{"off", false, nil, nil},
		{"read fails", true, errors.New("lost connection"), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, 2, nil)
			c.opts.OrigMasterIsNewSlave = tt.on
			c.server("db2").settings = dba
			c.server("db2").on = func(_ context.Context, m string, _ int) error {
				if m == "ReplicationSettings" {
					return tt.readErr
				}
				return nil
			}
			if _, err := c.run(t); err != nil {
				t.Fatalf("switch failed: %v", err)
			}
			if diff := cmp.Diff(tt.want, c.server("db1").repointedWith); diff != "" {
				t.Errorf("old master repointed with settings (-want +got):\n%s", diff)
			}
			if got := c.server("db3").repointedWith; got != nil {
				t.Errorf("db3 repointed with the new master's settings %+v; want its own", got)
			}
			read := c.w.index("db2 ReplicationSettings")
			if !tt.on {
				if read >= 0 {
					t.Error("the new master's settings read without orig_master_is_new_slave")
				}
				return
			}
			if read < 0 || read > c.w.index("db1 SetReadOnly") || read > c.w.index("db2 ResetReplicaAll") {
				t.Errorf("want the new master's settings read in Phase 1, before the write block and its RESET SLAVE ALL:\n%s", c.w.callLog())
			}
			if tt.readErr != nil {
				contains(t, "log", c.log.String(), "cannot read the new master's replication settings")
			}
		})
	}
}

// Every failure before the point of no return rolls back: the old master
// is writable again, the candidate read-only and replicating, no replica
// touched, the hook moves the address back.
func TestRunRollsBack(t *testing.T) {
	lockTimeout := &mysql.MySQLError{Number: erLockWaitTimeout, Message: "Lock wait timeout exceeded; try restarting transaction"}
	tests := []struct {
		name  string
		setup func(c *cluster)
		// want are texts of the error; hookBack whether the hook's start
		// runs with the masters swapped; newRestarted whether replication
		// was restarted on db2.
		want         []string
		hookBack     bool
		newRestarted bool
	}{
		{"FLUSH TABLES WITH READ LOCK fails", func(c *cluster) {
			c.opts.LockAllTables = true
			c.server("db1").on = failOn("LockTables", 1, errBoom)
		}, []string{"blocking writes on the old master db1(198.18.9.11:3306): boom"}, true, false},
		{"FLUSH TABLES WITH READ LOCK waits past lock_wait_timeout", func(c *cluster) {
			c.opts.LockAllTables = true
			c.server("db1").on = failOn("LockTables", 1, lockTimeout)
		}, []string{"--max_write_block", "(lock_wait_timeout)"}, true, false},
		{"read_only=1 waits past lock_wait_timeout", func(c *cluster) {
			c.server("db1").on = failOn("SetReadOnly", 1, lockTimeout)
		}, []string{"--max_write_block", "(lock_wait_timeout)"}, true, false},
		{"a session that read_only does not stop writes after the final position", func(c *cluster) {
			db1 := c.server("db1")
			db1.on = func(_ context.Context, m string, n int) error {
				if m == "BinlogStatus" && n == 3 { // pre-sync, final position, then this check
					db1.mu.Lock()
					db1.st.Binlog.Offset += 250
					db1.mu.Unlock()
				}
				return nil
			}
		}, []string{"checking the old master's binlog position", "moved from mysql-bin.000001:9000 to mysql-bin.000001:9250 after read_only=1"}, true, true},
		{"read_only=1 fails", func(c *cluster) {
			c.server("db1").on = failOn("SetReadOnly", 1, errBoom)
		}, []string{"blocking writes on the old master", "boom"}, true, false},
		{"the write-lock session cannot be opened", func(c *cluster) {
			c.server("db1").refuseFrom = 2
		}, []string{"connect to db1"}, true, false},
		{"the old master's final position cannot be read", func(c *cluster) {
			c.server("db1").on = failOn("BinlogStatus", 2, errBoom)
		}, []string{"reading the old master's binlog position: boom"}, true, false},
		{"the new master does not catch up within the bound", func(c *cluster) {
			c.opts.MaxWriteBlock = 100 * time.Millisecond
			c.server("db2").on = blockOn("WaitForPos", 2)
		}, []string{"rolled back", "the write block reached its bound of 100ms (--max_write_block) while waiting for the new master db2(198.18.9.12:3306) to catch up"}, true, false},
		{"the new master's catch-up fails", func(c *cluster) {
			c.server("db2").on = failOn("WaitForPos", 2, errBoom)
		}, []string{"waiting for the new master db2(198.18.9.12:3306) to catch up: boom"}, true, false},
		{"replication does not stop on the new master", func(c *cluster) {
			c.server("db2").on = failOn("StopReplication", 1, errBoom)
		}, []string{"stopping replication on the new master: boom"}, true, true},
		{"the new master has no binary log", func(c *cluster) {
			c.server("db2").on = func(_ context.Context, m string, n int) error {
				if m == "BinlogStatus" {
					c.server("db2").mu.Lock()
					c.server("db2").st.Binlog = binlog.Pos{}
					c.server("db2").mu.Unlock()
				}
				return nil
			}
		}, []string{"binary logging is off"}, true, true},
		{"the hook's stop fails", func(c *cluster) {
			c.hk.code["stop"] = 1
		}, []string{"--command=stop failed with return code 1:0"}, true, false},
		{"read_only=0 fails on the new master", func(c *cluster) {
			c.server("db2").on = failOn("SetReadOnly", 1, errBoom)
		}, []string{"SET GLOBAL read_only=0 on the new master: boom"}, true, true},
		{"a long-running update keeps read_only=1 waiting", func(c *cluster) {
			c.opts.MaxWriteBlock = 100 * time.Millisecond
			c.opts.RunningUpdatesLimit = 30 * time.Second
			c.server("db1").blockers = []uint64{77}
		}, []string{"the write block reached its bound of 100ms (--max_write_block) while blocking writes on the old master"}, true, false},
		{"no hook configured", func(c *cluster) {
			for i := range c.cfg.Servers {
				c.cfg.Servers[i].MasterIPOnlineChangeScript = ""
			}
			c.opts.LockAllTables = true
			c.server("db1").on = failOn("LockTables", 1, errBoom)
		}, []string{"boom"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, 2, nil)
			tt.setup(c)
			res, err := c.run(t)
			if !errors.Is(err, ErrRolledBack) {
				t.Fatalf("err %v; want ErrRolledBack", err)
			}
			contains(t, "error", err.Error(), tt.want...)
			assertOldMasterBack(t, c, res)
			if got := c.w.count("hook start db2->db1"); got != map[bool]int{false: 0, true: 1}[tt.hookBack] {
				t.Errorf("the hook moved the address back %d times; want %t", got, tt.hookBack)
			}
			if got := c.w.count("db2 StartReplication"); got != map[bool]int{false: 0, true: 1}[tt.newRestarted] {
				t.Errorf("replication restarted on db2 %d times; want %t", got, tt.newRestarted)
			}
			if c.w.count("hook start db1->db2") != 0 {
				t.Error("the hook start moved the address to the candidate in a rolled-back switch")
			}
			if c.w.count("db1 SetReadOnly true") > 0 && res.WriteBlock <= 0 {
				t.Error("writes were blocked but WriteBlock is 0")
			}
			for _, s := range res.Steps {
				if strings.HasPrefix(s.Name, "rollback: ") && !c.jr.has("intent "+s.Name+" "+s.Host) {
					t.Errorf("rollback step %s not journaled", s.Name)
				}
			}
		})
	}
}

// The new master may have been made writable and cannot be set read-only
// again: the old master stays read-only (none writable is better than
// two), and the error says what is left to do.
func TestRunRollbackIncomplete(t *testing.T) {
	c := newCluster(t, 2, nil)
	c.server("db2").on = failOn("SetReadOnly", 0, errBoom)
	res, err := c.run(t)
	if !errors.Is(err, ErrRollbackIncomplete) {
		t.Fatalf("err %v; want ErrRollbackIncomplete", err)
	}
	contains(t, "error", err.Error(), "the new master db2(198.18.9.12:3306) may be writable", "so the old master db1(198.18.9.11:3306) was left read-only")
	if !c.server("db1").readOnly() {
		t.Error("the old master was made writable while the new one may be writable")
	}
	if c.w.count("db1 SetReadOnly false") != 0 {
		t.Error("read_only=0 sent to the old master")
	}
	if !res.RolledBack {
		t.Error("RolledBack false")
	}
}

// The old master was read-only before the switch: a rollback leaves it so.
func TestRunRollbackKeepsPriorReadOnly(t *testing.T) {
	c := newCluster(t, 2, nil)
	c.opts.LockAllTables = true
	// It turns read-only after the survey (a read-only master would not
	// be found as the master at all).
	c.server("db1").on = func(_ context.Context, m string, n int) error {
		if m == "ReadOnly" {
			c.server("db1").mu.Lock()
			c.server("db1").st.ReadOnly = true
			c.server("db1").mu.Unlock()
		}
		if m == "LockTables" {
			return errBoom
		}
		return nil
	}
	_, err := c.run(t)
	if !errors.Is(err, ErrRolledBack) {
		t.Fatalf("err %v", err)
	}
	if c.w.count("db1 SetReadOnly false") != 0 || !c.server("db1").readOnly() {
		t.Error("the rollback made a server writable that was read-only before")
	}
}

// After the point of no return nothing is rolled back: a replica that
// cannot be repointed is reported (MHA exit 10) and RESET SLAVE ALL is
// left out, as in MHA.
func TestRunReplicaFailsToRepoint(t *testing.T) {
	for _, tt := range []struct {
		name   string
		method string
		want   string
	}{
		{"CHANGE MASTER fails", "Repoint", "db3(198.18.9.13:3306): boom"},
		{"the replica does not apply the old master's last transaction", "WaitForPos", "did not apply the old master's last transaction"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, 3, nil)
			c.server("db3").on = failOn(tt.method, 0, errBoom)
			res, err := c.run(t)
			if !errors.Is(err, ErrPartial) {
				t.Fatalf("err %v; want ErrPartial", err)
			}
			contains(t, "error", err.Error(), tt.want)
			if !res.Switched || res.RolledBack || c.server("db2").readOnly() {
				t.Error("the switch was undone after the point of no return")
			}
			if f := res.Failed(); len(f) != 1 || f[0].Host != "db3(198.18.9.13:3306)" {
				t.Errorf("failed %+v; want db3 only", f)
			}
			if on, src := c.server("db4").isReplicating(); !on || src != "198.18.9.12:3306" {
				t.Error("db4 not repointed at db2")
			}
			if c.w.count("db2 ResetReplicaAll") != 0 {
				t.Error("RESET SLAVE ALL ran although a replica failed")
			}
		})
	}
}

// Phase 1 refusals change nothing.
func TestRunRefused(t *testing.T) {
	tests := []struct {
		name  string
		setup func(c *cluster)
		want  []string
	}{
		{"an update runs longer than running_updates_limit", func(c *cluster) {
			c.server("db1").updates = Threads{Count: 1, IDs: []uint64{42}, Desc: "Id=42 Command=Query Time=5 Info=UPDATE t SET x=1"}
		}, []string{"Currently 1 update thread(s) are running on the master db1(198.18.9.11:3306) for 2 s or more (--running_updates_limit=1)", "Id=42"}},
		{"a query runs long on the new master", func(c *cluster) {
			c.server("db2").queries = Threads{Count: 2, IDs: []uint64{7, 8}, Desc: "Id=7 ...\nId=8 ..."}
		}, []string{"Currently 2 thread(s) on the new master db2(198.18.9.12:3306) run for 10 s or more (--running_seconds_limit=10)"}},
		{"a manager monitors the master", func(c *cluster) {
			c.server("db1").busyLocks[mysqlx.MonitorLock] = true
		}, []string{"MHA Monitor runs on the current master"}},
		{"a failover holds a replica", func(c *cluster) {
			c.server("db3").busyLocks[mysqlx.FailoverLock] = true
		}, []string{"Getting advisory lock failed on db3(198.18.9.13:3306)"}},
		{"a server is down", func(c *cluster) {
			c.server("db3").down = true
		}, []string{"Switching master should not be started if one or more servers is down: db3(198.18.9.13:3306)"}},
		{"a replica cannot be connected to after the survey", func(c *cluster) {
			c.server("db3").refuseFrom = 1
		}, []string{"connect to db3(198.18.9.13:3306)"}},
		{"the process list cannot be read", func(c *cluster) {
			c.server("db1").on = failOn("LongThreads", 1, errBoom)
		}, []string{"reading the master's process list: boom"}},
		{"FLUSH NO_WRITE_TO_BINLOG TABLES fails", func(c *cluster) {
			c.opts.FlushTables = FlushRun
			c.server("db1").on = failOn("FlushTables", 1, errBoom)
		}, []string{"FLUSH NO_WRITE_TO_BINLOG TABLES on db1(198.18.9.11:3306): boom"}},
		{"the new master does not catch up before the write block", func(c *cluster) {
			c.server("db2").on = failOn("WaitForPos", 1, errBoom)
		}, []string{"did not catch up before the write block: boom"}},
		{"the operator says no", func(c *cluster) {
			c.opts.Ask = func(q string, def bool) (bool, error) { return strings.HasPrefix(q, "Executing FLUSH"), nil }
		}, []string{"not confirmed (answered no)"}},
		{"no hook and the operator says no", func(c *cluster) {
			for i := range c.cfg.Servers {
				c.cfg.Servers[i].MasterIPOnlineChangeScript = ""
			}
			c.opts.Ask = func(q string, def bool) (bool, error) { return !strings.Contains(q, HookParam), nil }
		}, []string{"not confirmed"}},
		{"the new master is not eligible", func(c *cluster) {
			c.cfg.Servers[1].NoMaster = true
		}, []string{"new master db2:3306 cannot be promoted"}},
		{"fence_lease without watchdog control", func(c *cluster) {
			c.cfg.Servers[0].FenceLease = 10 * time.Second
			c.opts.Watchdog = nil
		}, []string{"fence_lease is set but this switch cannot control the fencing watchdogs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, 2, nil)
			tt.setup(c)
			res, err := c.run(t)
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("err %v; want ErrRefused", err)
			}
			contains(t, "error", err.Error(), tt.want...)
			assertNothingChanged(t, c)
			if res.Switched || res.RolledBack || res.WriteBlock != 0 {
				t.Errorf("result %+v", res)
			}
		})
	}
}

// --check_only stops after Phase 1.
func TestRunCheckOnly(t *testing.T) {
	c := newCluster(t, 2, nil)
	c.opts.CheckOnly = true
	c.opts.FlushTables = FlushSkip
	res, err := c.run(t)
	if err != nil || !res.CheckOnly {
		t.Fatalf("err %v, CheckOnly %t", err, res.CheckOnly)
	}
	assertNothingChanged(t, c)
	if c.w.count("db1 FlushTables") != 0 {
		t.Error("FLUSH TABLES with --flush_tables=0")
	}
	contains(t, "plan", res.Plan, "switch db1(198.18.9.11:3306) -> db2(198.18.9.12:3306)")
}

// --kill_blocking kills the session that keeps read_only=1 waiting, and
// the switch goes through within the bound.
func TestRunKillBlocking(t *testing.T) {
	c := newCluster(t, 2, nil)
	c.opts.KillBlocking = true
	c.opts.MaxWriteBlock = 5 * time.Second
	c.server("db1").blockers = []uint64{77}
	res, err := c.run(t)
	if err != nil {
		t.Fatalf("switch failed: %v", err)
	}
	if c.w.count("db1 Kill 77") != 1 || !res.Switched {
		t.Error("the blocking session was not killed once")
	}
	contains(t, "log", c.log.String(), "killing a session that blocks the write lock (--kill_blocking)")
	if c.w.count("db1 LongThreads 1 true true") == 0 {
		t.Error("the blockers were not looked up from running_updates_limit with reads, leaving out waiting sessions")
	}
}

// --skip_lock_all_tables: no global read lock; the binary log must stand
// still, else the switch rolls back.
func TestRunSkipLockAllTables(t *testing.T) {
	t.Run("binlog still", func(t *testing.T) {
		c := newCluster(t, 2, nil)
		c.opts.SkipLockAllTables = true
		res, err := c.run(t)
		if err != nil {
			t.Fatal(err)
		}
		if c.w.count("db1 LockTables") != 0 || c.w.count("db1 UnlockTables") != 0 {
			t.Error("FLUSH TABLES WITH READ LOCK with --skip_lock_all_tables")
		}
		if !slices.Contains(stepNames(res), "check binlog stopped db1") {
			t.Error("the binlog was not checked")
		}
	})
	t.Run("binlog moving", func(t *testing.T) {
		c := newCluster(t, 2, nil)
		c.opts.SkipLockAllTables = true
		c.server("db1").on = func(_ context.Context, m string, n int) error {
			if m == "SetReadOnly" {
				c.server("db1").mu.Lock()
				c.server("db1").moving = true
				c.server("db1").mu.Unlock()
			}
			return nil
		}
		res, err := c.run(t)
		if !errors.Is(err, ErrRolledBack) {
			t.Fatalf("err %v", err)
		}
		contains(t, "error", err.Error(), "Binlog is not stopped!")
		assertOldMasterBack(t, c, res)
	})
}

// A hook that exits 10 is a warning: the switch proceeds.
func TestRunHookProceedsOnTen(t *testing.T) {
	c := newCluster(t, 2, nil)
	c.hk.code["stop"] = 10
	if _, err := c.run(t); err != nil {
		t.Fatal(err)
	}
	contains(t, "log", c.log.String(), "--command=stop returned 10:0. Proceeding.")
}

// A hook that cannot run at all rolls back too.
func TestRunHookCannotRun(t *testing.T) {
	c := newCluster(t, 2, nil)
	c.hk.err["stop"] = errors.New("hooks: start /usr/local/bin/online_change: no such file or directory")
	res, err := c.run(t)
	if !errors.Is(err, ErrRolledBack) {
		t.Fatalf("err %v", err)
	}
	contains(t, "error", err.Error(), "no such file or directory")
	assertOldMasterBack(t, c, res)
}

// The hook "start" runs after the point of no return, outside the write
// block, with its own timeout (StepTimeout): a hook slower than
// --max_write_block (SSH plus arping -c 3) does not roll the switch back,
// and the write block does not count it. A hook that fails or outlasts its
// timeout is reported (ErrPartial, MHA's exit 10) and nothing is undone:
// the new master stays writable and every replica follows it.
func TestRunStartHookAfterPointOfNoReturn(t *testing.T) {
	t.Run("slower than the write block's bound", func(t *testing.T) {
		c := newCluster(t, 2, nil)
		c.opts.MaxWriteBlock = 100 * time.Millisecond
		c.hk.delay["start db1->db2"] = 400 * time.Millisecond
		res, err := c.run(t)
		if err != nil || !res.Switched || res.RolledBack {
			t.Fatalf("err %v, switched %t, rolled back %t; want a finished switch", err, res.Switched, res.RolledBack)
		}
		if res.WriteBlock >= 400*time.Millisecond {
			t.Errorf("write block %s counts the hook start (400ms)", res.WriteBlock)
		}
		var hook time.Duration
		for _, st := range res.Steps {
			if st.Name == StepHookStart {
				hook = st.Duration
			}
		}
		if hook < 400*time.Millisecond {
			t.Errorf("hook start step took %s; want the whole 400ms", hook)
		}
		if w, h := c.w.index("db2 SetReadOnly false"), c.w.index("hook start db1->db2"); w < 0 || h < w {
			t.Errorf("the hook start (call %d) ran before the new master was writable (call %d)", h, w)
		}
		if c.w.count("hook start db2->db1") != 0 {
			t.Error("the address was moved back")
		}
		if on, src := c.server("db3").isReplicating(); !on || src != "198.18.9.12:3306" || c.w.count("db2 ResetReplicaAll") != 1 {
			t.Error("want db3 repointed at db2 and RESET SLAVE ALL on db2")
		}
	})
	for _, tt := range []struct {
		name  string
		setup func(c *cluster)
		want  []string
	}{
		{"fails", func(c *cluster) { c.hk.code["start db1->db2"] = 2 },
			[]string{"--command=start failed with return code 2:0"}},
		{"cannot run", func(c *cluster) { c.hk.err["start"] = errors.New("no such file or directory") },
			[]string{"no such file or directory"}},
		{"hangs past its own timeout", func(c *cluster) {
			c.opts.StepTimeout = 150 * time.Millisecond
			c.hk.block["start db1->db2"] = true
		}, []string{"context deadline exceeded"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, 2, nil)
			tt.setup(c)
			res, err := c.run(t)
			if !errors.Is(err, ErrPartial) {
				t.Fatalf("err %v; want ErrPartial", err)
			}
			contains(t, "error", err.Error(), append(tt.want, "the online-change hook start failed after db2(198.18.9.12:3306) became the master",
				"may still lead to the old master db1(198.18.9.11:3306), move it by hand")...)
			if !res.Switched || res.RolledBack || res.StartHookErr == nil {
				t.Errorf("switched %t, rolled back %t, StartHookErr %v; want switched and the hook's error", res.Switched, res.RolledBack, res.StartHookErr)
			}
			if c.server("db2").readOnly() || !c.server("db1").readOnly() {
				t.Error("want db2 writable and db1 read-only: nothing undone")
			}
			if on, src := c.server("db3").isReplicating(); !on || src != "198.18.9.12:3306" {
				t.Errorf("db3 replicating=%t from %q; want from db2", on, src)
			}
			if c.w.count("hook start db2->db1") != 0 || c.w.count("db2 StartReplication") != 0 {
				t.Error("a rollback step ran after the point of no return")
			}
			if c.w.count("db2 ResetReplicaAll") != 0 {
				t.Error("RESET SLAVE ALL ran although the switch partly failed (MHA skips Phase 5)")
			}
		})
	}
	t.Run("exit 10 proceeds", func(t *testing.T) {
		c := newCluster(t, 2, nil)
		c.hk.code["start"] = 10
		res, err := c.run(t)
		if err != nil || res.StartHookErr != nil {
			t.Fatalf("err %v, StartHookErr %v", err, res.StartHookErr)
		}
		contains(t, "log", c.log.String(), "--command=start returned 10:0. Proceeding.")
	})
}

// LockAllTables (opt-in): FLUSH TABLES WITH READ LOCK after read_only=1,
// held until the hook "start" has moved the address, released before the
// replicas are repointed.
func TestRunLockAllTables(t *testing.T) {
	c := newCluster(t, 2, nil)
	c.opts.LockAllTables = true
	c.opts.OrigMasterIsNewSlave = true
	res, err := c.run(t)
	if err != nil {
		t.Fatal(err)
	}
	order := []string{"db1 SetReadOnly true", "db1 LockTables", "db1 BinlogStatus", "db2 WaitForPos", "db2 SetReadOnly false",
		"hook start db1->db2", "db1 UnlockTables", "db1 BinlogStatus", "db1 Repoint"}
	assertOrder(t, c, order)
	if got, want := stepNames(res), planned(c.plan()); !slices.Equal(got, want) {
		t.Errorf("steps\n got %q\nwant %q", got, want)
	}
	if c.server("db1").isLocked() || !c.server("db1").readOnly() {
		t.Error("want db1 unlocked and read-only")
	}
}

// A write that read_only let through after the point of no return (SUPER,
// READ_ONLY ADMIN) is not on the new master: it is reported, and the
// switch is not undone.
func TestRunOldMasterWrittenAfterSwitch(t *testing.T) {
	c := newCluster(t, 2, nil)
	db1 := c.server("db1")
	db1.on = func(_ context.Context, m string, n int) error {
		if m == "BinlogStatus" && n == 4 { // pre-sync, final, unchanged, after
			db1.mu.Lock()
			db1.st.Binlog.Offset += 80
			db1.mu.Unlock()
		}
		return nil
	}
	res, err := c.run(t)
	if !errors.Is(err, ErrPartial) {
		t.Fatalf("err %v; want ErrPartial", err)
	}
	contains(t, "error", err.Error(), "the old master db1(198.18.9.11:3306) took writes after the switch (binary log at mysql-bin.000001:9080, final position mysql-bin.000001:9000)")
	if !res.Switched || res.RolledBack || c.server("db2").readOnly() {
		t.Error("the switch was undone")
	}
	if on, src := c.server("db3").isReplicating(); !on || src != "198.18.9.12:3306" {
		t.Error("db3 not repointed")
	}
}

// fence_lease: the old master's watchdog is stopped and the new master's
// released before the write block, and the new master gets one after it
// is writable; a rollback starts the old master's again.
func TestRunFenceLease(t *testing.T) {
	lease := func(_ string, p *config.Params) { p.FenceLease = 10 * time.Second }
	t.Run("switch", func(t *testing.T) {
		c := newCluster(t, 2, lease)
		c.opts.OrigMasterIsNewSlave = true
		res, err := c.run(t)
		if err != nil {
			t.Fatal(err)
		}
		stop, release, ro, writable, ensure := c.w.index("watchdog stop db1"), c.w.index("watchdog release db2"),
			c.w.index("db1 SetReadOnly true"), c.w.index("db2 SetReadOnly false"), c.w.index("watchdog ensure db2 db3,db1")
		if stop < 0 || release < 0 || ensure < 0 || stop > ro || release > ro || ensure < writable {
			t.Errorf("watchdog calls out of order: stop %d release %d read_only=1 %d read_only=0 %d ensure %d", stop, release, ro, writable, ensure)
		}
		if got, want := stepNames(res), planned(c.plan()); !slices.Equal(got, want) {
			t.Errorf("steps\n got %q\nwant %q", got, want)
		}
		if !c.jr.has("done stop fencing watchdog db1(198.18.9.11:3306)") || !c.jr.has("done ensure fencing watchdog db2(198.18.9.12:3306)") {
			t.Errorf("watchdog steps not journaled: %q", c.jr.records)
		}
	})
	t.Run("rollback restarts the old master's watchdog", func(t *testing.T) {
		c := newCluster(t, 2, lease)
		c.server("db1").on = failOn("SetReadOnly", 1, errBoom)
		res, err := c.run(t)
		if !errors.Is(err, ErrRolledBack) {
			t.Fatalf("err %v", err)
		}
		assertOldMasterBack(t, c, res)
		if c.w.index("watchdog ensure db1 db2,db3") < c.w.index("db1 SetReadOnly false") {
			t.Error("the old master's watchdog was not started again after it was writable again")
		}
		if c.w.count("watchdog ensure db2") != 0 {
			t.Error("a watchdog was started on the candidate")
		}
	})
	t.Run("the rollback cannot start the old master's watchdog again", func(t *testing.T) {
		c := newCluster(t, 2, lease)
		c.server("db1").on = failOn("SetReadOnly", 1, errBoom)
		c.wd.err["ensure db1"] = errBoom
		res, err := c.run(t)
		if !errors.Is(err, ErrRollbackIncomplete) {
			t.Fatalf("err %v; want ErrRollbackIncomplete", err)
		}
		contains(t, "error", err.Error(), "the fencing watchdog on db1(198.18.9.11:3306) did not start again")
		assertOldMasterBack(t, c, res)
	})
	t.Run("the old master's watchdog cannot be stopped", func(t *testing.T) {
		c := newCluster(t, 2, lease)
		c.wd.err["stop"] = errBoom
		res, err := c.run(t)
		if !errors.Is(err, ErrRolledBack) {
			t.Fatalf("err %v", err)
		}
		contains(t, "error", err.Error(), "stopping the fencing watchdog on the old master db1(198.18.9.11:3306): boom")
		assertOldMasterBack(t, c, res)
		if c.w.count("db1 SetReadOnly") != 0 || c.w.count("hook ") != 0 || c.w.count("watchdog ensure db1") != 1 {
			t.Error("want nothing else touched and the watchdog started again")
		}
	})
	t.Run("the new master's watchdog cannot be released", func(t *testing.T) {
		c := newCluster(t, 2, lease)
		c.wd.err["release"] = errBoom
		_, err := c.run(t)
		if !errors.Is(err, ErrRolledBack) {
			t.Fatalf("err %v", err)
		}
		if c.w.count("db1 SetReadOnly") != 0 || c.w.count("watchdog ensure db1") != 1 {
			t.Error("want no write block and the old master's watchdog started again")
		}
	})
	t.Run("the new master's watchdog does not start", func(t *testing.T) {
		c := newCluster(t, 2, lease)
		c.wd.err["ensure db2"] = errBoom
		res, err := c.run(t)
		if !errors.Is(err, ErrAfterSwitch) {
			t.Fatalf("err %v; want ErrAfterSwitch", err)
		}
		contains(t, "error", err.Error(), "the fencing watchdog on the new master db2(198.18.9.12:3306) did not start")
		if !res.Switched || c.w.count("db2 ResetReplicaAll") != 1 {
			t.Error("want switched and RESET SLAVE ALL still run")
		}
	})
	t.Run("lease only on the new master", func(t *testing.T) {
		c := newCluster(t, 2, func(b string, p *config.Params) {
			if b == "db2" {
				p.FenceLease = 10 * time.Second
			}
		})
		if _, err := c.run(t); err != nil {
			t.Fatal(err)
		}
		if c.w.count("watchdog stop") != 0 || c.w.count("watchdog release db2") != 1 || c.w.count("watchdog ensure db2 db3") != 1 {
			t.Errorf("watchdog calls: stop %d release %d ensure %d", c.w.count("watchdog stop"), c.w.count("watchdog release db2"), c.w.count("watchdog ensure db2 db3"))
		}
	})
}

// Steps after the point of no return that fail do not undo the switch.
func TestRunAfterSwitch(t *testing.T) {
	t.Run("RESET SLAVE ALL fails", func(t *testing.T) {
		c := newCluster(t, 2, nil)
		c.server("db2").on = failOn("ResetReplicaAll", 1, errBoom)
		res, err := c.run(t)
		if !errors.Is(err, ErrAfterSwitch) || !res.Switched {
			t.Fatalf("err %v switched %t", err, res.Switched)
		}
		contains(t, "error", err.Error(), "RESET SLAVE ALL on the new master db2(198.18.9.12:3306): boom")
	})
	t.Run("UNLOCK TABLES fails: the session is closed instead", func(t *testing.T) {
		c := newCluster(t, 2, nil)
		c.opts.LockAllTables = true
		c.opts.OrigMasterIsNewSlave = true
		c.server("db1").on = failOn("UnlockTables", 1, errBoom)
		res, err := c.run(t)
		if err != nil || !res.Switched {
			t.Fatalf("err %v", err)
		}
		if on, src := c.server("db1").isReplicating(); !on || src != "198.18.9.12:3306" {
			t.Error("db1 not repointed through a new session")
		}
	})
	t.Run("remove_orig_master_conf", func(t *testing.T) {
		c := newCluster(t, 2, nil)
		file := filepath.Join(t.TempDir(), "app1.cnf")
		if err := os.WriteFile(file, []byte("[server default]\nuser=gomha\n\n[server1]\nhostname=db1\n\n[server2]\nhostname=db2\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		c.cfg.File = file
		c.opts.RemoveOrigMasterConf = true
		if _, err := c.run(t); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(file)
		if strings.Contains(string(b), "[server1]") || !strings.Contains(string(b), "[server2]") {
			t.Errorf("configuration after the switch:\n%s", b)
		}
	})
}

// A switch cancelled in the write block still rolls back completely (the
// rollback's steps do not inherit the cancellation).
func TestRunCancelledInBlock(t *testing.T) {
	c := newCluster(t, 2, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c.server("db2").on = func(ctx context.Context, m string, n int) error {
		if m == "WaitForPos" && n == 2 {
			cancel()
			return blockUntilDone(ctx)
		}
		return nil
	}
	res, err := Run(ctx, c.opts)
	if !errors.Is(err, ErrRolledBack) {
		t.Fatalf("err %v", err)
	}
	assertOldMasterBack(t, c, res)
}

// --flush_tables: 0 never, 1 always, 2 asks when interactive and runs
// otherwise (MHA).
func TestRunFlushTables(t *testing.T) {
	yes := func(string, bool) (bool, error) { return true, nil }
	noFlush := func(q string, _ bool) (bool, error) { return !strings.HasPrefix(q, "Executing FLUSH"), nil }
	for _, tt := range []struct {
		name string
		f    FlushTables
		ask  func(string, bool) (bool, error)
		want int
	}{
		{"skip", FlushSkip, nil, 0}, {"run", FlushRun, yes, 1}, {"ask, non-interactive", FlushAsk, nil, 1},
		{"ask, yes", FlushAsk, yes, 1}, {"ask, no", FlushAsk, noFlush, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, 2, nil)
			c.opts.FlushTables, c.opts.Ask, c.opts.CheckOnly = tt.f, tt.ask, true
			if _, err := c.run(t); err != nil {
				t.Fatal(err)
			}
			if got := c.w.count("db1 FlushTables"); got != tt.want {
				t.Errorf("FLUSH NO_WRITE_TO_BINLOG TABLES ran %d times; want %d", got, tt.want)
			}
		})
	}
	t.Run("no answer", func(t *testing.T) {
		c := newCluster(t, 2, nil)
		c.opts.FlushTables = FlushAsk
		c.opts.Ask = func(string, bool) (bool, error) { return false, errors.New("no answer on standard input: EOF") }
		_, err := c.run(t)
		if !errors.Is(err, ErrRefused) {
			t.Fatalf("err %v", err)
		}
		contains(t, "error", err.Error(), "not confirmed (no answer on standard input: EOF)")
	})
}

// brokenJournal cannot write.
type brokenJournal struct{}

func (brokenJournal) Intent(string, string, map[string]string) error { return errors.New("disk full") }
func (brokenJournal) Done(string, string, map[string]string) error   { return errors.New("disk full") }

// A journal that cannot be written is logged, not fatal; without a
// journal nothing is recorded and the switch runs the same.
func TestRunJournal(t *testing.T) {
	for _, tt := range []struct {
		name string
		j    Journal
	}{{"broken", brokenJournal{}}, {"none", nil}} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, 2, nil)
			c.opts.Journal = tt.j
			res, err := c.run(t)
			if err != nil || !res.Switched {
				t.Fatalf("err %v", err)
			}
			if got := strings.Contains(c.log.String(), `cannot write the switch journal" cluster=app1 step="set read_only=1"`); got != (tt.j != nil) {
				t.Errorf("journal error logged: %t", got)
			}
		})
	}
}
