package fence

import (
	"strings"
	"testing"
)

func TestNext(t *testing.T) {
	running := Target{Running: true, PID: 42, Comm: "mariadbd"}
	underSystemd := Target{Running: true, PID: 42, Comm: "mysqld", Unit: "mysql.service"}
	sshUp := func(f Facts) Facts { f.SSHConfigured, f.SSH = true, Proven; return f }
	tests := []struct {
		name   string
		facts  Facts
		action Action
		method string
		why    string // substring
	}{
		{name: "start over MySQL", facts: Facts{SSHConfigured: true}, action: DoMySQL},
		{name: "proven over MySQL", facts: Facts{MySQL: Proven, SSHConfigured: true}, action: Done, method: MethodMySQL},
		{name: "unreachable, no SSH: give up", facts: Facts{MySQL: Unreachable}, action: GiveUp, why: "unreachable over MySQL and no SSH"},
		{name: "MySQL failed, no SSH: fail", facts: Facts{MySQL: Failed}, action: Fail, why: "fencing over MySQL failed"},
		{name: "unreachable: try SSH", facts: Facts{MySQL: Unreachable, SSHConfigured: true}, action: DoSSH},
		{name: "MySQL failed: try SSH too", facts: Facts{MySQL: Failed, SSHConfigured: true}, action: DoSSH},
		{name: "both unreachable: give up", facts: Facts{MySQL: Unreachable, SSHConfigured: true, SSH: Unreachable}, action: GiveUp, why: "unreachable over MySQL and SSH"},
		{name: "MySQL failed, SSH unreachable: fail", facts: Facts{MySQL: Failed, SSHConfigured: true, SSH: Unreachable}, action: Fail},
		{name: "SSH login refused: fail", facts: Facts{MySQL: Unreachable, SSHConfigured: true, SSH: Failed}, action: Fail, why: "SSH login failed"},
		{name: "SSH up: local client", facts: sshUp(Facts{MySQL: Unreachable}), action: DoLocalSQL},
		{name: "local client proven (manager's route broken)", facts: sshUp(Facts{MySQL: Unreachable, LocalSQL: Proven}), action: Done, method: MethodLocalSQL},
		{name: "hung: inspect", facts: sshUp(Facts{MySQL: Unreachable, LocalSQL: Failed}), action: DoInspect},
		{name: "nothing runs: proven", facts: sshUp(Facts{MySQL: Unreachable, LocalSQL: Failed, Inspected: true, Target: Target{}}), action: Done, method: MethodNotRunning},
		{name: "port held by another program: fail", facts: sshUp(Facts{MySQL: Unreachable, LocalSQL: Failed, Inspected: true,
			Target: Target{Running: true, Refuse: "port 3306 is held by nc"}}), action: Fail, why: "held by nc"},
		{name: "hung, no service manager: SIGKILL", facts: sshUp(Facts{MySQL: Unreachable, LocalSQL: Failed, Inspected: true, Target: running}), action: DoKill},
		{name: "hung under systemd: stop the unit", facts: sshUp(Facts{MySQL: Unreachable, LocalSQL: Failed, Inspected: true, Target: underSystemd}), action: DoStopService},
		{name: "killed and gone", facts: sshUp(Facts{MySQL: Unreachable, LocalSQL: Failed, Inspected: true, Target: running, Stop: Proven}), action: Done, method: MethodKill},
		{name: "unit stopped and gone", facts: sshUp(Facts{MySQL: Unreachable, LocalSQL: Failed, Inspected: true, Target: underSystemd, Stop: Proven}), action: Done, method: MethodStopService},
		{name: "kill did not work", facts: sshUp(Facts{MySQL: Unreachable, LocalSQL: Failed, Inspected: true, Target: running, Stop: Failed}), action: Fail, why: "still there after SIGKILL"},
		{name: "unit stop failed: no SIGKILL behind systemd", facts: sshUp(Facts{MySQL: Unreachable, LocalSQL: Failed, Inspected: true, Target: underSystemd, Stop: Failed}),
			action: Fail, why: "stopping mysql.service"},
		{name: "MySQL failed (access denied) and the host is hung-free: local client proves it", facts: sshUp(Facts{MySQL: Failed, LocalSQL: Proven}), action: Done, method: MethodLocalSQL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Next(tc.facts)
			if d.Action != tc.action || d.Method != tc.method {
				t.Fatalf("Next = %+v, want action %d method %q", d, tc.action, tc.method)
			}
			if !strings.Contains(d.Why, tc.why) {
				t.Errorf("Why = %q, want it to contain %q", d.Why, tc.why)
			}
			if (d.Action == Fail || d.Action == GiveUp) && d.Why == "" {
				t.Error("no reason given")
			}
		})
	}
}

// TestNextTerminates drives Next through every combination of outcomes and
// checks that it never asks for a step that already ran.
func TestNextTerminates(t *testing.T) {
	outcomes := []Outcome{Proven, Unreachable, Failed}
	targets := []Target{{}, {Running: true, PID: 1, Comm: "mysqld"}, {Running: true, PID: 1, Comm: "mysqld", Unit: "mysql.service"}, {Running: true, Refuse: "x"}}
	for _, ssh := range []bool{false, true} {
		for _, mo := range outcomes {
			for _, so := range outcomes {
				for _, lo := range []Outcome{Proven, Failed} {
					for _, tg := range targets {
						for _, sto := range []Outcome{Proven, Failed} {
							f := Facts{SSHConfigured: ssh}
							for range 10 {
								d := Next(f)
								switch d.Action {
								case DoMySQL:
									f.MySQL = mo
								case DoSSH:
									f.SSH = so
								case DoLocalSQL:
									f.LocalSQL = lo
								case DoInspect:
									f.Inspected, f.Target = true, tg
								case DoStopService, DoKill:
									if f.Stop != NotTried {
										t.Fatalf("stop asked twice: %+v", f)
									}
									f.Stop = sto
								default:
									goto next
								}
							}
							t.Fatalf("no decision after 10 steps: %+v", f)
						next:
						}
					}
				}
			}
		}
	}
}
