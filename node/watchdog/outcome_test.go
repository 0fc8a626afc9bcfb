package watchdog

import (
	"log/slog"
	"testing"
)

func TestJudgeDemotion(t *testing.T) {
	ok := func(name string) Step { return Step{Name: name, OK: true} }
	bad := func(name, err string) Step { return Step{Name: name, Err: err} }
	tests := []struct {
		name  string
		steps []Step
		want  Outcome
	}{
		{"every step OK", []Step{ok("remove VIP"), ok(StepKillSessions), ok(StepReadOnly), ok(StepKillSessions + " (again)"), ok(StepSuperReadOnly), ok(StepVerify)}, Complete},
		{"one session kill failed, read_only verified: retry, no SIGKILL",
			[]Step{bad(StepKillSessions, "12: Error 1095: You are not owner of thread 12"), ok(StepReadOnly), ok(StepKillSessions + " (again)"), ok(StepSuperReadOnly), ok(StepVerify)}, Retry},
		{"one session kill failed, no super_read_only on this server (MariaDB): kill",
			[]Step{bad(StepKillSessions, "12: Error 1095: You are not owner of thread 12"), ok(StepReadOnly), ok(StepKillSessions + " (again)"),
				{Name: StepSuperReadOnly, OK: true, Detail: "not applicable: the server has no super_read_only (MariaDB; MySQL before 5.7.8)"}, ok(StepVerify)}, Kill},
		{"the second session kill failed, no super_read_only step: kill",
			[]Step{ok(StepKillSessions), ok(StepReadOnly), bad(StepKillSessions+" (again)", "Error 1095"), ok(StepVerify)}, Kill},
		{"the VIP could not be removed, read_only verified: retry",
			[]Step{bad("remove VIP", "ip addr del: Operation not permitted"), ok(StepKillSessions), ok(StepReadOnly), ok(StepVerify)}, Retry},
		{"super_read_only failed, read_only verified: retry",
			[]Step{ok(StepKillSessions), ok(StepReadOnly), bad(StepSuperReadOnly, "Error 1227"), ok(StepVerify)}, Retry},
		{"read_only first failed, set after the kill and verified: complete",
			[]Step{ok(StepKillSessions), bad(StepReadOnly, "Error 1205: Lock wait timeout exceeded"), ok(StepKillSessions + " (again)"), ok(StepReadOnly + " (after kill)"), ok(StepSuperReadOnly), ok(StepVerify)}, Complete},
		{"read_only never set: kill",
			[]Step{ok(StepKillSessions), bad(StepReadOnly, "Error 1205"), ok(StepKillSessions + " (again)"), bad(StepReadOnly+" (after kill)", "Error 1205"), ok(StepSuperReadOnly), bad(StepVerify, "@@global.read_only is 0")}, Kill},
		{"the server does not answer: kill", []Step{ok("remove VIP"), bad(StepConnect, "dial unix /run/mysqld/mysqld.sock: i/o timeout")}, Kill},
		{"verify could not read the value back: kill", []Step{ok(StepKillSessions), ok(StepReadOnly), bad(StepVerify, "context deadline exceeded")}, Kill},
		{"nothing ran: kill", nil, Kill},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := JudgeDemotion(tt.steps); got != tt.want {
				t.Errorf("JudgeDemotion = %v, want %v", got, tt.want)
			}
		})
	}
}

// A round whose read_only is verified but one of whose session kills
// failed, on a server without super_read_only, ends in the SIGKILL: the
// session that survived may hold SUPER, which read_only does not stop.
// With the sessions gone at the next tick the round completes.
func TestDemoteKillsWhenASessionSurvivesWithoutSuperReadOnly(t *testing.T) {
	local := &killingLocal{fakeLocal: &fakeLocal{sessionFail: true}}
	d := &daemon{o: Options{Lease: s}, env: Env{Local: local}, log: slog.New(slog.DiscardHandler)}
	steps, complete := d.demote(t.Context())
	if complete || local.kills != 1 {
		t.Fatalf("demote = %+v, complete %v, kills %d; want incomplete after one kill", steps, complete, local.kills)
	}
	local.sessionFail = false
	if _, complete := d.demote(t.Context()); !complete || local.kills != 1 {
		t.Errorf("second round: complete %v, kills %d; want complete without another kill", complete, local.kills)
	}
}
