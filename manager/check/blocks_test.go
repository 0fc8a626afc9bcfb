package check

import (
	"errors"
	"slices"
	"testing"

	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/topology"
)

// TestGates checks the table's shape: one row per finding code, every row
// explained, and nothing below error severity blocking anything.
func TestGates(t *testing.T) {
	seen := map[topology.Code]bool{}
	for _, g := range Gates() {
		if seen[g.Code] {
			t.Errorf("%s has two rows", g.Code)
		}
		seen[g.Code] = true
		ci, ok := topology.LookupCode(g.Code)
		if !ok {
			t.Errorf("%s is not a topology code", g.Code)
			continue
		}
		if g.Why == "" {
			t.Errorf("%s: no reason", g.Code)
		}
		if ci.Severity < topology.SeverityError && (g.Start || g.StartHealth || g.Failover || g.Switch) {
			t.Errorf("%s is a %s but its row blocks something: warnings and infos never stop an operation", g.Code, ci.Severity)
		}
		if g.Start && !g.StartHealth {
			t.Errorf("%s blocks a start but not a start with --check_repl_health, which checks more", g.Code)
		}
	}
	for _, ci := range topology.Codes() {
		if !seen[ci.Code] {
			t.Errorf("%s (%s) has no row: say whether it blocks a start, a failover and a switch", ci.Code, ci.Severity)
		}
	}
}

// TestGatesExceptions pins, per operation, the error findings that do NOT
// block it: what the manager's start, the failover plan and the switch each
// decided on their own before the table.
func TestGatesExceptions(t *testing.T) {
	health := []topology.Code{topology.CodeReplicaIOStopped, topology.CodeReplicaSQLStopped,
		topology.CodeReplicaLagUnknown, topology.CodeReplicaLagging}
	for _, tc := range []struct {
		op   Op
		pass []topology.Code
	}{
		{Start, health},
		{StartHealth, nil},
		{Failover, append([]topology.Code{topology.CodeNoAliveReplica}, health...)},
		{Switch, nil},
	} {
		t.Run(tc.op.String(), func(t *testing.T) {
			var got []topology.Code
			for _, ci := range topology.Codes() {
				if ci.Severity != topology.SeverityError {
					continue
				}
				f := topology.Finding{Code: ci.Code, Severity: ci.Severity, Host: "db2(192.0.2.2:3306)"}
				if !Blocks(f, tc.op) {
					got = append(got, ci.Code)
				}
			}
			slices.Sort(got)
			want := slices.Clone(tc.pass)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("error findings that do not block %s: %v, want %v", tc.op, got, want)
			}
		})
	}
}

func TestBlocks(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    topology.Finding
		op   Op
		want bool
	}{
		{"error blocks", topology.Finding{Code: topology.CodeServerIDCollision, Severity: topology.SeverityError}, Failover, true},
		{"health passes a plain start", topology.Finding{Code: topology.CodeReplicaLagging, Severity: topology.SeverityError}, Start, false},
		{"health stops a checked start", topology.Finding{Code: topology.CodeReplicaLagging, Severity: topology.SeverityError}, StartHealth, true},
		{"health stops a switch", topology.Finding{Code: topology.CodeReplicaIOStopped, Severity: topology.SeverityError}, Switch, true},
		{"warning never blocks", topology.Finding{Code: topology.CodeMasterDead, Severity: topology.SeverityWarning}, Switch, false},
		{"unknown error blocks", topology.Finding{Code: "SomethingNew", Severity: topology.SeverityError}, Start, true},
		{"unknown warning passes", topology.Finding{Code: "SomethingNew", Severity: topology.SeverityWarning}, Start, false},
		{"unknown op blocks", topology.Finding{Code: topology.CodeReplicaLagging, Severity: topology.SeverityError}, Op(99), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Blocks(tc.f, tc.op); got != tc.want {
				t.Errorf("Blocks(%s, %s) = %t, want %t", tc.f.Code, tc.op, got, tc.want)
			}
		})
	}
}

func TestBlockers(t *testing.T) {
	rep := topology.Report{Findings: []topology.Finding{
		{Code: topology.CodeMasterDead, Severity: topology.SeverityWarning, Host: "db1"},
		{Code: topology.CodeReplicaIOStopped, Severity: topology.SeverityError, Host: "db2"},
		{Code: topology.CodeNoAliveReplica, Severity: topology.SeverityError},
		{Code: topology.CodeDeadServer, Severity: topology.SeverityError, Host: "db3"},
	}}
	hosts := func(fs []topology.Finding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, string(f.Code)+"@"+f.Host)
		}
		return out
	}
	for _, tc := range []struct {
		op   Op
		want []string
	}{
		{Start, []string{"NoAliveReplica@", "DeadServer@db3"}},
		{StartHealth, []string{"ReplicaIOStopped@db2", "NoAliveReplica@", "DeadServer@db3"}},
		{Failover, []string{"DeadServer@db3"}},
		{Switch, []string{"ReplicaIOStopped@db2", "NoAliveReplica@", "DeadServer@db3"}},
	} {
		if got := hosts(Blockers(rep, tc.op)); !slices.Equal(got, tc.want) {
			t.Errorf("Blockers(%s) = %v, want %v", tc.op, got, tc.want)
		}
	}
}

func TestStartBlockers(t *testing.T) {
	alive := &topology.Topology{Master: &topology.Node{State: &mysqlx.State{}}}
	dead := &topology.Topology{Master: &topology.Node{}}
	lag := topology.Report{Findings: []topology.Finding{
		{Code: topology.CodeReplicaLagging, Severity: topology.SeverityError, Host: "db2", Message: "lag 40s"},
		{Code: topology.CodeRelayLogPurge, Severity: topology.SeverityWarning, Host: "db2", Message: "on"},
	}}
	sshDown := &SSHReport{Results: []SSHResult{{From: "db2", To: "db3", Err: errors.New("refused")}, {From: "db3", To: "db2"}}}
	for _, tc := range []struct {
		name   string
		res    ReplResult
		health bool
		want   int
		ok     bool
	}{
		{"clean", ReplResult{Topology: alive}, false, 0, true},
		{"lag without --check_repl_health", ReplResult{Topology: alive, Report: lag}, false, 0, false},
		{"lag with --check_repl_health", ReplResult{Topology: alive, Report: lag}, true, 1, false},
		{"ssh failure", ReplResult{Topology: alive, SSH: sshDown}, false, 1, false},
		{"master dead", ReplResult{Topology: dead}, false, 1, true},
		{"no master", ReplResult{Topology: &topology.Topology{}}, false, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := StartBlockers(tc.res, tc.health)
			if len(got) != tc.want {
				t.Errorf("StartBlockers = %q, want %d lines", got, tc.want)
			}
			if tc.res.OK() != tc.ok {
				t.Errorf("OK() = %t, want %t", tc.res.OK(), tc.ok)
			}
		})
	}
}
