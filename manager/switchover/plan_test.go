package switchover

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/topology"
	"github.com/gomha/gomha/node/binlog"
)

var update = flag.Bool("update", false, "rewrite the expected plans in testdata/*.txt (review the diff before committing)")

// TestPlanScenarios replays testdata/*.txt: facts in, plan out. After a
// leading comment, each case is
//
//	=== name
//	switch [new=HOST] [orig_is_new_slave] [lock_all_tables] [skip_lock] [remove_conf] [no_watchdog]
//	       [max_write_block=DURATION] [updates=DURATION] [queries=DURATION]
//	dbN [key[=value] ...]        (one line per server, the master first)
//	----
//	<Plan.String()>
//
// Server dbN is at 198.18.0.(10+N):3306. Keys: gtid (MariaDB GTID on every
// server), dead, lag=SECONDS, io_stopped, sql_stopped, no_master,
// candidate_master, no_log_slave_updates, fence_lease=DURATION, hook=PATH
// (master_ip_online_change_script; "" without the key), skip_reset_slave,
// by_name (replicas name the master by hostname, which differs from its
// ip), repl_user=NAME (else the replica's Master_User "repl").
func TestPlanScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := replay(string(b))
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != string(b) {
				w, g := strings.Split(string(b), "\n"), strings.Split(got, "\n")
				for i := range max(len(w), len(g)) {
					if i >= len(w) || i >= len(g) || w[i] != g[i] {
						t.Errorf("%s differs at line %d (go test -run TestPlanScenarios -update, then review the diff):\n want %q\n got  %q",
							file, i+1, at(w, i), at(g, i))
						break
					}
				}
			}
		})
	}
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "<end of file>"
}

// replay returns the scenario text with every expected plan replaced by the
// one NewPlan makes.
func replay(text string) (string, error) {
	head, rest, _ := strings.Cut(text, "=== ")
	var out strings.Builder
	out.WriteString(head)
	for i, c := range strings.Split("=== "+rest, "\n=== ") {
		if i > 0 {
			c = "=== " + c
			out.WriteString("\n")
		}
		facts, _, ok := strings.Cut(c, "\n----\n")
		if !ok {
			return "", fmt.Errorf("%q: no ---- line", firstLine(c))
		}
		got, err := planFromFacts(strings.Split(facts, "\n")[1:])
		if err != nil {
			return "", fmt.Errorf("%s: %w", firstLine(c), err)
		}
		out.WriteString(facts + "\n----\n" + got)
	}
	return out.String(), nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// planFromFacts builds the topology the lines describe and plans on it.
func planFromFacts(lines []string) (string, error) {
	var cmd []string
	var servers [][]string
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			if cmd == nil {
				cmd = f
			} else {
				servers = append(servers, f)
			}
		}
	}
	if len(cmd) == 0 || cmd[0] != "switch" || len(servers) < 2 {
		return "", errors.New("want a switch line, the master and a replica")
	}
	po := PlanOptions{NewMasterPort: 3306, HaveWatchdog: true, MaxWriteBlock: DefaultMaxWriteBlock,
		RunningUpdatesLimit: DefaultRunningUpdatesLimit, RunningSecondsLimit: DefaultRunningSecondsLimit}
	for _, tok := range cmd[1:] {
		k, v, _ := strings.Cut(tok, "=")
		var err error
		switch k {
		case "new":
			po.NewMasterHost = v
		case "orig_is_new_slave":
			po.OrigMasterIsNewSlave = true
		case "skip_lock":
			po.SkipLockAllTables = true
		case "lock_all_tables":
			po.LockAllTables = true
		case "remove_conf":
			po.RemoveOrigMasterConf = true
		case "no_watchdog":
			po.HaveWatchdog = false
		case "max_write_block":
			po.MaxWriteBlock, err = time.ParseDuration(v)
		case "updates":
			po.RunningUpdatesLimit, err = time.ParseDuration(v)
		case "queries":
			po.RunningSecondsLimit, err = time.ParseDuration(v)
		default:
			return "", fmt.Errorf("unknown switch option %q", k)
		}
		if err != nil {
			return "", err
		}
	}
	gtid := slices.ContainsFunc(servers, func(s []string) bool { return slices.Contains(s, "gtid") })
	byName := slices.ContainsFunc(servers, func(s []string) bool { return slices.Contains(s, "by_name") })
	var obs []topology.Observation
	for i, toks := range servers {
		o, err := observation(i, toks, gtid, byName)
		if err != nil {
			return "", err
		}
		obs = append(obs, o)
	}
	topo, rep := topology.Build(obs, topology.Options{})
	rep.Merge(topology.CheckReplHealth(topo, DefaultSecondsBehindMaster))
	return NewPlan(topo, rep, po).String(), nil
}

// observation is server i (0 the master) as toks describe it.
func observation(i int, toks []string, gtid, byName bool) (topology.Observation, error) {
	name := toks[0]
	n, err := strconv.Atoi(strings.TrimPrefix(name, "db"))
	if err != nil {
		return topology.Observation{}, fmt.Errorf("server %q is not dbN", name)
	}
	ip := fmt.Sprintf("198.18.0.%d", 10+n)
	srv := config.Server{Block: fmt.Sprintf("server%d", n), Line: n * 10, Params: config.Params{
		Hostname: name, IP: ip, Port: 3306, User: "gomha", ReplPassword: "s3cret", UseGTIDAutoPos: gtid, PingInterval: 3 * time.Second,
	}}
	if byName {
		srv.Hostname = name + ".example"
	}
	zero := int64(0)
	st := &mysqlx.State{Version: mysqlx.Version{Raw: "10.11.19-MariaDB-log", Flavor: mysqlx.MariaDB, Major: 10, Minor: 11, Patch: 19},
		ServerID: uint32(n), LogBin: true, LogSlaveUpdates: true, SlaveNetTimeout: 60, HeartbeatPeriod: 30,
		Binlog: binlog.Pos{File: "mysql-bin.000001", Offset: 9000}}
	if gtid {
		st.GTID.BinlogPos, st.GTID.CurrentPos = "0-1-100", "0-1-100"
	}
	if i > 0 {
		src := "198.18.0.11"
		if byName {
			src = "db1.example"
		}
		st.ReadOnly = true
		st.Replica = &mysqlx.ReplicaStatus{SourceHost: src, SourcePort: 3306, SourceUser: "repl",
			Read: st.Binlog, Exec: st.Binlog, IORunning: "Yes", SQLRunning: true, SecondsBehind: &zero}
		if gtid {
			st.Replica.UsingGTID, st.GTID.SlavePos = "Slave_Pos", "0-1-100"
		}
	}
	o := topology.Observation{Server: srv, State: st}
	if byName {
		o.SourceIPs = []string{"198.18.0.11"}
	}
	for _, tok := range toks[1:] {
		k, v, _ := strings.Cut(tok, "=")
		var err error
		switch k {
		case "gtid", "by_name":
		case "dead":
			o.State, o.Err = nil, errors.New("dial tcp "+ip+":3306: connect: connection refused")
		case "lag":
			var s int64
			s, err = strconv.ParseInt(v, 10, 64)
			st.Replica.SecondsBehind = &s
		case "io_stopped":
			st.Replica.IORunning = "No"
		case "sql_stopped":
			st.Replica.SQLRunning = false
		case "no_master":
			o.Server.NoMaster = true
		case "candidate_master":
			o.Server.CandidateMaster = true
		case "no_log_slave_updates":
			st.LogSlaveUpdates = false
		case "fence_lease":
			o.Server.FenceLease, err = time.ParseDuration(v)
		case "hook":
			o.Server.MasterIPOnlineChangeScript = v
		case "skip_reset_slave":
			o.Server.SkipResetSlave = true
		case "repl_user":
			o.Server.ReplUser = v
		default:
			return o, fmt.Errorf("%s: unknown key %q", name, k)
		}
		if err != nil {
			return o, fmt.Errorf("%s: %s: %w", name, tok, err)
		}
	}
	return o, nil
}

// The rollback undoes exactly what was done, newest first where order
// matters, and never opens the old master while the new one may be
// writable (see TestRunRollbackIncomplete for the skip).
func TestRollbackSteps(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name string
		u    undo
		want []string
	}{
		{"nothing done", undo{}, nil},
		{"watchdog stopped only", undo{watchdogStopped: true}, []string{StepUndoWatchdog}},
		{"hook stopped", undo{hookStopped: true}, []string{StepUndoHook}},
		{"read_only sent", undo{hookStopped: true, readOnly: true, start: now}, []string{StepUndoReadOnly, StepUndoHook}},
		{"read_only before: left so", undo{readOnly: true, prevReadOnly: true, locked: true, start: now}, []string{StepUndoLock}},
		{"locked, caught up, replication stopped", undo{hookStopped: true, readOnly: true, locked: true, newStopped: true, start: now},
			[]string{StepUndoLock, StepUndoReadOnly, StepUndoHook, StepUndoReplication}},
		{"everything, the new master may be writable", undo{watchdogStopped: true, hookStopped: true, readOnly: true, locked: true, newStopped: true, newWritable: true, start: now},
			[]string{StepUndoWritable, StepUndoLock, StepUndoReadOnly, StepUndoHook, StepUndoReplication, StepUndoWatchdog}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rollbackSteps(tt.u); !slices.Equal(got, tt.want) {
				t.Errorf("rollbackSteps = %q, want %q", got, tt.want)
			}
			for _, s := range rollbackSteps(tt.u) {
				if !irreversible[s] {
					t.Errorf("rollback step %q is not journaled", s)
				}
			}
		})
	}
}
