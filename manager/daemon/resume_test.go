package daemon

import (
	"slices"
	"strings"
	"testing"

	"github.com/gomha/gomha/manager/journal"
)

// jr builds a journal State from compact records: "intent step@host",
// "done step@host", "end 0"; detail is attached to the record with the
// same index in details.
func jr(begin map[string]string, recs []string, details map[int]map[string]string) *journal.State {
	st := &journal.State{File: "/w/app1.failover.journal", Begin: journal.Record{Kind: journal.KindBegin, Detail: begin}}
	for i, r := range recs {
		kind, rest, _ := strings.Cut(r, " ")
		rec := journal.Record{Kind: kind, Detail: details[i]}
		if kind == journal.KindEnd {
			rec.Outcome = rest
			st.Ended, st.Outcome = true, rest
		} else {
			rec.Step, rec.Host, _ = strings.Cut(rest, "@")
		}
		st.Records = append(st.Records, rec)
	}
	return st
}

const (
	db2 = "db2(10.0.0.2:3306)"
	db3 = "db3(10.0.0.3:3306)"
	mgr = "manager"
)

func TestPlanResume(t *testing.T) {
	begin := map[string]string{"dead_master": "db1(10.0.0.1:3306)", "ssh_reachable": "1"}
	shutdown := []string{
		"intent stop IO thread@" + db2, "intent stop IO thread@" + db3,
		"done stop IO thread@" + db2, "done stop IO thread@" + db3,
		"intent master_ip_failover_script stop@" + mgr, "done master_ip_failover_script stop@" + mgr,
	}
	toOpen := append(slices.Clone(shutdown),
		"intent stop SQL thread@"+db2, "done stop SQL thread@"+db2,
		"intent apply missing events@"+db2, "done apply missing events@"+db2,
		"intent master_ip_failover_script start@"+mgr, "done master_ip_failover_script start@"+mgr,
		"intent set read_only=0@"+db2, "done set read_only=0@"+db2,
	)
	openDetail := map[string]string{"binlog_file": "mysql-bin.000003", "binlog_pos": "1234", "gtid": "0-2-99", "new_master_block": "server2"}
	at := func(recs []string, step string) int { return slices.Index(recs, step) }

	tests := []struct {
		name   string
		st     *journal.State
		action resumeAction
		reason []string // substrings of Reason
		check  func(t *testing.T, p resumePlan)
	}{
		{name: "no journal", st: nil, action: resumeNothing},
		{name: "ended", st: jr(begin, append(slices.Clone(toOpen), "end 0"), nil), action: resumeNothing},
		{name: "nothing started", st: jr(begin, nil, nil), action: resumeRerun, reason: []string{"runs the failover again"},
			check: func(t *testing.T, p resumePlan) {
				if p.DeadMaster != "db1(10.0.0.1:3306)" || p.SSHReachable != 1 {
					t.Errorf("dead master %q ssh %d", p.DeadMaster, p.SSHReachable)
				}
			}},
		{name: "killed before the IP stop", st: jr(begin, shutdown[:4], nil), action: resumeRerun},
		{name: "killed after the IP stop intent (hook may have run)", st: jr(begin, shutdown[:5], nil), action: resumeRerun},
		{name: "after the shutdown phase", st: jr(begin, shutdown, nil), action: resumeRerun},
		{name: "fence steps are repeatable", st: jr(begin, append(slices.Clone(shutdown), "intent fence old master@db1"), nil), action: resumeRerun},
		{name: "SQL thread stopped on the candidate", st: jr(begin, toOpen[:8], nil), action: resumeRerun},
		{name: "apply started, not done", st: jr(begin, toOpen[:9], nil), action: resumeRefuse,
			reason: []string{`"apply missing events" on ` + db2, "NOT confirmed done", "part of the missing events"}},
		{name: "apply done, not opened", st: jr(begin, toOpen[:10], nil), action: resumeRefuse,
			reason: []string{`"apply missing events" on ` + db2 + " was done", "apply them twice"}},
		{name: "IP moved to the new master, not opened", st: jr(begin, append(slices.Clone(shutdown), "intent master_ip_failover_script start@"+mgr), nil), action: resumeRefuse,
			reason: []string{"master IP address may already point"}},
		{name: "read_only=0 started, not confirmed", st: jr(begin, toOpen[:13], nil), action: resumeRefuse,
			reason: []string{`"apply missing events"`}},
		{name: "read_only=0 started on a clean journal", st: jr(begin, append(slices.Clone(shutdown), "intent set read_only=0@"+db2), nil), action: resumeRefuse,
			reason: []string{`"set read_only=0" on ` + db2, "may already take writes"}},
		{name: "unknown step", st: jr(begin, append(slices.Clone(shutdown), "intent frobnicate@"+db2), nil), action: resumeRefuse,
			reason: []string{`"frobnicate"`}},
		{name: "opened, no detail (today's journal)", st: jr(begin, toOpen, nil), action: resumeRecover,
			check: func(t *testing.T, p resumePlan) {
				if p.NewMaster != db2 || p.Pos.File != "" || p.GTID != "" || len(p.Repointed) != 0 || p.ResetDone {
					t.Errorf("plan %+v", p)
				}
				if !slices.Contains(p.CaughtUp, db2) {
					t.Errorf("caught up %v", p.CaughtUp)
				}
			}},
		{name: "opened, detail on the done record", st: jr(begin, toOpen, map[int]map[string]string{len(toOpen) - 1: openDetail}), action: resumeRecover,
			reason: []string{"opened for writes", db2},
			check: func(t *testing.T, p resumePlan) {
				if p.Pos.File != "mysql-bin.000003" || p.Pos.Offset != 1234 || p.GTID != "0-2-99" || p.NewMasterBlock != "server2" {
					t.Errorf("plan %+v", p)
				}
			}},
		{name: "opened, detail on the intent record, other key names", st: jr(begin, toOpen, map[int]map[string]string{
			at(toOpen, "intent set read_only=0@"+db2): {"file": "b.000001", "pos": "4", "new_master_host": "db2"}}), action: resumeRecover,
			check: func(t *testing.T, p resumePlan) {
				if p.Pos.File != "b.000001" || p.Pos.Offset != 4 || p.NewMaster != "db2" {
					t.Errorf("plan %+v", p)
				}
			}},
		{name: "one replica moved, one half moved, reset half done", st: jr(begin, append(slices.Clone(toOpen),
			"intent change master@"+db3, "done change master@"+db3,
			"intent change master@db4(10.0.0.4:3306)",
			"intent reset slave all@"+db2), nil), action: resumeRecover,
			check: func(t *testing.T, p resumePlan) {
				if !slices.Equal(p.Repointed, []string{db3}) || !slices.Equal(p.Redo, []string{"db4(10.0.0.4:3306)"}) || p.ResetDone {
					t.Errorf("plan %+v", p)
				}
			}},
		{name: "everything but the end", st: jr(begin, append(slices.Clone(toOpen),
			"intent change master@"+db3, "done change master@"+db3,
			"intent reset slave all@"+db2, "done reset slave all@"+db2), nil), action: resumeRecover,
			check: func(t *testing.T, p resumePlan) {
				if !p.ResetDone {
					t.Errorf("plan %+v", p)
				}
			}},
		{name: "opened, then an apply on a replica half done", st: jr(begin, append(slices.Clone(toOpen),
			"intent stop SQL thread@"+db3, "done stop SQL thread@"+db3, "intent apply missing events@"+db3), nil), action: resumeRefuse,
			reason: []string{"was opened for writes", `"apply missing events" on ` + db3}},
		{name: "old journal without ssh_reachable", st: jr(map[string]string{"dead_master": "db1(10.0.0.1:3306)"}, nil, nil), action: resumeRerun,
			check: func(t *testing.T, p resumePlan) {
				if p.SSHReachable != -1 {
					t.Errorf("ssh %d", p.SSHReachable)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planResume(tt.st)
			if p.Action != tt.action {
				t.Fatalf("action %v, want %v (reason %q)", p.Action, tt.action, p.Reason)
			}
			for _, w := range tt.reason {
				if !strings.Contains(p.Reason, w) {
					t.Errorf("reason %q lacks %q", p.Reason, w)
				}
			}
			if tt.action != resumeNothing && !strings.Contains(p.Summary, "failover journal") {
				t.Errorf("summary %q", p.Summary)
			}
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
}

func TestParseHostLabel(t *testing.T) {
	for _, tt := range []struct {
		in   string
		name string
		port int
	}{
		{"db1(10.0.0.1:3306)", "db1", 3306},
		{"db1([fd00::1]:3307)", "db1", 3307},
		{"db1", "db1", 0},
		{"", "", 0},
	} {
		if n, p := parseHostLabel(tt.in); n != tt.name || p != tt.port {
			t.Errorf("parseHostLabel(%q) = %q, %d; want %q, %d", tt.in, n, p, tt.name, tt.port)
		}
	}
}
