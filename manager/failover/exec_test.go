package failover

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/sshexec"
)

func contains(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

// The master is killed, its host answers SSH: the tail is read once and
// applied to both replicas; db2 is promoted, db3 follows it.
func TestRunTailReadOnce(t *testing.T) {
	c := newCluster(t, replicaSpec{read: 9000, exec: 9000}, replicaSpec{read: 9000, exec: 9000})
	c.w.nodes["db1"].tail = nodeResult{Events: 3, Bytes: 300, End: "mysql-bin.000001:9500"}
	res := c.run(t)
	if res.Code != ExitOK {
		t.Fatalf("code %d (%v); want 0", res.Code, res.Err)
	}
	if n := c.w.count("db1 SaveTail mysql-bin.000001:9000"); n != 1 {
		t.Errorf("tail read %d times; want once from the end point", n)
	}
	if c.w.count("db2 Apply ") != 1 || c.w.count("db3 Apply ") != 1 {
		t.Errorf("the tail was not applied once on each survivor")
	}
	if c.w.count("db3 Repoint 198.18.9.12:3306") != 1 || c.w.count("db2 ResetReplicaAll") != 1 {
		t.Errorf("db3 not repointed at db2, or no RESET SLAVE ALL on db2")
	}
	if c.w.servers["db2"].st.ReadOnly {
		t.Error("new master still read_only")
	}
	rep := res.Report("app1")
	contains(t, "report", rep, "End point: every survivor converged to mysql-bin.000001:9000", "3 events (300 bytes) only it had",
		"Old master NOT fenced: no fencer configured", "Nothing lost")
	// report_script's --body is the report without header and subject, as MHA.
	body := res.ReportBody()
	if strings.Contains(body, "----- Failover Report -----") || strings.Contains(body, res.Subject("app1")) || !strings.HasSuffix(rep, body) {
		t.Errorf("ReportBody holds the header or subject, or is not the report's end:\n%s", body)
	}
	d := c.jr.details["set read_only=0 db2(198.18.9.12:3306)"]
	if d["binlog_file"] != "mysql-bin.000001" || d["block"] != "db2" {
		t.Errorf("set read_only=0 journal detail = %v", d)
	}
	d = c.jr.details["change master db3(198.18.9.13:3306)"]
	if d["source_host"] != "198.18.9.12" || d["binlog_pos"] == "" || d["mode"] == "" {
		t.Errorf("change master journal detail = %v", d)
	}
	d = c.jr.details["apply missing events db3(198.18.9.13:3306)"]
	if !strings.Contains(d["files"], "saved_master_binlog") || d["to"] != "mysql-bin.000001:9000" {
		t.Errorf("apply missing events journal detail = %v", d)
	}
}

// A lagging replica finishes its relay log with its own SQL thread; the
// candidate that missed the last events gets the latest replica's diff;
// the master's host is gone, so what it had after the end point is lost.
func TestRunLaggingOwnSQLThread(t *testing.T) {
	c := newCluster(t,
		replicaSpec{read: 5000, exec: 5000, params: func(p *config.Params) { p.CandidateMaster = true }},
		replicaSpec{read: 9000, exec: 1000, sqlStopped: true})
	c.opts.SSHReachable = sshexec.Unreachable
	c.w.servers["db3"].st.RelayLogPurge = true
	res := c.run(t)
	if c.w.count("db3 SetRelayLogPurge false") != 1 || c.w.count("db3 SetRelayLogPurge true") != 1 {
		t.Error("the latest replica's relay_log_purge was not kept off during the failover and restored")
	}
	if res.Code != ExitOK {
		t.Fatalf("code %d (%v); want 0", res.Code, res.Err)
	}
	if res.NewMaster.Block != "db2" {
		t.Errorf("new master %s; want the candidate db2", res.NewMaster.Block)
	}
	if c.w.count("db3 StartSQLThread") != 1 {
		t.Error("db3's own SQL thread was not used")
	}
	if c.w.count("db3 Generate mysql-bin.000001:5000..mysql-bin.000001:9000") != 1 || c.w.count("db2 Apply ") != 1 {
		t.Error("db2 did not get db3's relay-log difference")
	}
	if c.w.count("db3 Apply ") != 0 || c.w.count("db1 SaveTail") != 0 {
		t.Error("db3 applied a file, or the unreachable master was read")
	}
	contains(t, "report", res.Report("app1"), "Possibly lost:", "after mysql-bin.000001:9000 (the latest Read position", "its own SQL thread applied its relay log")
}

// Both the latest replica's diff and the dead master's tail: one combined
// file, one apply.
func TestRunDiffAndTailCombined(t *testing.T) {
	c := newCluster(t, replicaSpec{read: 5000, exec: 5000}, replicaSpec{read: 9000, exec: 9000})
	c.w.nodes["db1"].tail = nodeResult{Events: 3, Bytes: 300, End: "mysql-bin.000001:9500"}
	res := c.run(t)
	if res.Code != ExitOK {
		t.Fatalf("code %d (%v)", res.Code, res.Err)
	}
	if c.w.count("db2 Apply missing_events_for_db2") != 1 || c.w.count("db2 Apply ") != 1 {
		t.Errorf("db2 did not get one combined file")
	}
}

// The new master dies before it is opened for writes: the next candidate
// is used and the hook's start runs again for it.
func TestRunNewMasterDiesFallsBack(t *testing.T) {
	c := newCluster(t, replicaSpec{read: 9000, exec: 9000}, replicaSpec{read: 9000, exec: 9000})
	c.w.servers["db2"].dieOn = "SetReadOnly"
	res := c.run(t)
	if res.Code != ExitPartial {
		t.Fatalf("code %d (%v); want 10", res.Code, res.Err)
	}
	if res.NewMaster.Block != "db3" {
		t.Fatalf("new master %q; want db3", res.NewMaster.Block)
	}
	if c.w.count("hook master_ip_failover_script start db2") != 1 || c.w.count("hook master_ip_failover_script start db3") != 1 {
		t.Error("hook start did not run for db2 and then for db3")
	}
	if c.w.count("db3 ResetReplicaAll") != 1 {
		t.Error("no RESET SLAVE ALL on db3")
	}
	contains(t, "failed", strings.Join(res.Failed, "\n"), "db2(198.18.9.12:3306): could not be made the new master")
}

// A replica that stops answering during the failover is skipped; RESET
// SLAVE ALL still runs on the new master.
func TestRunVanishedReplicaSkipped(t *testing.T) {
	for _, die := range []string{"StopIO", "ApplyClient", "Repoint"} {
		t.Run(die, func(t *testing.T) {
			c := newCluster(t, replicaSpec{read: 9000, exec: 9000}, replicaSpec{read: 9000, exec: 9000}, replicaSpec{read: 8000, exec: 8000})
			c.opts.SSHReachable = sshexec.Unreachable
			c.w.servers["db4"].dieOn = die
			res := c.run(t)
			if res.Code != ExitPartial {
				t.Fatalf("code %d (%v); want 10", res.Code, res.Err)
			}
			if res.NewMaster.Block != "db2" || c.w.count("db2 ResetReplicaAll") != 1 || c.w.count("db3 Repoint 198.18.9.12:3306") != 1 {
				t.Errorf("new master %s; db3 not repointed or no RESET SLAVE ALL", res.NewMaster.Block)
			}
			contains(t, "failed", strings.Join(res.Failed, "\n"), "db4(198.18.9.14:3306)")
		})
	}
}

// An ignore_fail replica that fails a pre-check is skipped before anything
// changes; one without ignore_fail blocks the failover.
func TestRunPrecheck(t *testing.T) {
	c := newCluster(t, replicaSpec{read: 9000, exec: 9000}, replicaSpec{read: 9000, exec: 9000, params: func(p *config.Params) { p.IgnoreFail = true }})
	c.w.nodes["db3"].sshErr = errors.New("connection refused")
	res := c.run(t)
	if res.Code != ExitPartial || res.NewMaster.Block != "db2" {
		t.Fatalf("code %d new master %q (%v); want 10 and db2", res.Code, res.NewMaster.Block, res.Err)
	}
	if c.w.count("db3 StopIO") != 0 {
		t.Error("the skipped replica was changed")
	}

	c = newCluster(t, replicaSpec{read: 9000, exec: 9000}, replicaSpec{read: 9000, exec: 9000})
	c.w.nodes["db3"].sshErr = errors.New("connection refused")
	res = c.run(t)
	if res.Code != ExitError || res.ShutdownStarted {
		t.Fatalf("code %d, shutdown started %t; want a refusal before Phase 2", res.Code, res.ShutdownStarted)
	}
	if c.w.count("db2 StopIO") != 0 || c.w.count("db3 StopIO") != 0 {
		t.Error("an IO thread was stopped before the refusal")
	}
	contains(t, "error", res.Err.Error(), "db3(198.18.9.13:3306): ssh to db3: connection refused")

	// Relay logs the lagging candidate needs are gone on the latest replica.
	c = newCluster(t, replicaSpec{read: 5000, exec: 5000}, replicaSpec{read: 9000, exec: 9000})
	c.w.nodes["db3"].findErr = errors.New("exit 1: not found")
	res = c.run(t)
	if res.Code != ExitError || res.ShutdownStarted {
		t.Fatalf("code %d; want a refusal before Phase 2", res.Code)
	}
	contains(t, "error", res.Err.Error(), "the relay logs of db3(198.18.9.13:3306) do not hold its events from mysql-bin.000001:5000")
}

func TestRunFencing(t *testing.T) {
	t.Run("error aborts before promotion", func(t *testing.T) {
		c := newCluster(t, replicaSpec{read: 9000, exec: 9000}, replicaSpec{read: 9000, exec: 9000})
		c.opts.Fencer = fakeFencer{w: c.w, err: errors.New("read_only could not be set")}
		res := c.run(t)
		if res.Code != ExitError || c.w.count("db2 SetReadOnly") != 0 || c.w.count("db3 SetReadOnly") != 0 {
			t.Fatalf("code %d; a server was opened after a fencing error", res.Code)
		}
		contains(t, "error", res.Err.Error(), "could not be fenced, nothing was promoted", "read_only could not be set")
		if !c.jr.has("intent fence old master db1(198.18.9.11:3306)") {
			t.Error("fencing not journaled")
		}
	})
	t.Run("not fenced goes on loudly", func(t *testing.T) {
		c := newCluster(t, replicaSpec{read: 9000, exec: 9000}, replicaSpec{read: 9000, exec: 9000})
		c.opts.Fencer = fakeFencer{w: c.w, res: FenceResult{Proof: "no SSH, no MySQL, no lease"}}
		res := c.run(t)
		if res.Code != ExitOK {
			t.Fatalf("code %d (%v)", res.Code, res.Err)
		}
		contains(t, "report", res.Report("app1"), "old master NOT fenced: no SSH, no MySQL, no lease")
	})
	t.Run("fenced", func(t *testing.T) {
		c := newCluster(t, replicaSpec{read: 9000, exec: 9000}, replicaSpec{read: 9000, exec: 9000})
		c.opts.Fencer = fakeFencer{w: c.w, res: FenceResult{Fenced: true, Method: "read_only over MySQL", Proof: "@@read_only=1"}}
		res := c.run(t)
		contains(t, "report", res.Report("app1"), "Old master fenced: read_only over MySQL (@@read_only=1)")
		if c.w.count("fence db1 ssh=true") != 1 {
			t.Error("fencer not called with SSH reachable")
		}
	})
	t.Run("powered off by shutdown_script", func(t *testing.T) {
		c := newCluster(t, replicaSpec{read: 9000, exec: 9000}, replicaSpec{read: 9000, exec: 9000})
		for i := range c.cfg.Servers {
			c.cfg.Servers[i].ShutdownScript = "/usr/local/bin/power_manager"
		}
		c.opts.Fencer = fakeFencer{w: c.w, err: errors.New("must not be called")}
		res := c.run(t)
		if res.Code != ExitOK || c.w.count("fence") != 0 {
			t.Fatalf("code %d (%v); fencer calls %d", res.Code, res.Err, c.w.count("fence"))
		}
		contains(t, "report", res.Report("app1"), "Old master fenced: powered off by shutdown_script")
		if c.w.count("db1 SaveTail") != 0 {
			t.Error("a powered-off master's binlog was read")
		}
	})
}

// The plan with the candidate order goes into the result.
func TestRunPlanInResult(t *testing.T) {
	c := newCluster(t, replicaSpec{read: 9000, exec: 9000}, replicaSpec{read: 9000, exec: 9000})
	res := c.run(t)
	contains(t, "plan", res.Plan, "new master: db2(198.18.9.12:3306)", "fallback 1: db3(198.18.9.13:3306)")
}

// A manager that loses the right to act (the standby managers' lock) stops
// before the next irreversible step: the steps already done stay done, the
// next is not run, and the failover ends with ErrNotActive.
func TestRunGateStopsBeforeAnIrreversibleStep(t *testing.T) {
	c := newCluster(t, replicaSpec{read: 9000, exec: 9000}, replicaSpec{read: 9000, exec: 9000})
	var (
		mu    sync.Mutex
		asked []string
	)
	c.opts.Gate = func(_ context.Context, step string) error {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, step)
		if step == "set read_only=0" {
			return errors.New("lock lost")
		}
		return nil
	}
	res := c.run(t)
	if res.Code == ExitOK || !errors.Is(res.Err, ErrNotActive) {
		t.Fatalf("code %d (%v); want a failure with ErrNotActive", res.Code, res.Err)
	}
	if rep := res.Report("app1"); strings.Contains(rep, "trying db3") || strings.Contains(rep, "Selected db3") {
		t.Errorf("another candidate was tried after the gate refused:\n%s", rep)
	}
	if !slices.Contains(asked, "stop IO thread") || !slices.Contains(asked, "set read_only=0") {
		t.Errorf("gate asked for %q", asked)
	}
	for _, r := range c.jr.records {
		if strings.Contains(r, "set read_only=0") || strings.Contains(r, "change master") || strings.Contains(r, "apply missing events db3") {
			t.Errorf("journal has %q after the gate refused (no other candidate is tried)", r)
		}
	}
}
