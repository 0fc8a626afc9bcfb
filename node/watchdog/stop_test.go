package watchdog

import (
	"strings"
	"testing"
)

func TestServiceUnit(t *testing.T) {
	tests := []struct {
		name, cgroup, want string
	}{
		{"cgroup v2, Debian's MariaDB", "0::/system.slice/mariadb.service\n", "mariadb.service"},
		{"cgroup v2, a template instance", "0::/system.slice/system-mariadb.slice/mariadb@node2.service\n", "mariadb@node2.service"},
		{"cgroup v2, a unit's sub-cgroup", "0::/system.slice/mysql.service/payload\n", "mysql.service"},
		{"cgroup v1 (name=systemd)", "12:memory:/system.slice/mysql.service\n1:name=systemd:/system.slice/mysql.service\n", "mysql.service"},
		{"hybrid: the unified line is empty", "1:name=systemd:/system.slice/mysqld.service\n0::/\n", "mysqld.service"},
		{"started by hand in a login session", "0::/user.slice/user-0.slice/session-4.scope\n", ""},
		{"in a container's scope", "0::/system.slice/docker-0123abcd.scope\n", ""},
		{"no systemd", "0::/\n", ""},
		{"empty", "", ""},
		{"hostile unit name", "0::/system.slice/x;reboot.service\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ServiceUnit(tt.cgroup); got != tt.want {
				t.Errorf("ServiceUnit = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestChooseMySQLD(t *testing.T) {
	procs := map[int]Proc{
		42: {PID: 42, Comm: "mariadbd", SameNetNS: true},
		43: {PID: 43, Comm: "mariadbd", SameNetNS: true},
		50: {PID: 50, Comm: "mariadbd"}, // another host's, shared pid namespace
		60: {PID: 60, Comm: "socat", SameNetNS: true},
		70: {PID: 70, Comm: "bash", SameNetNS: true},
	}
	tests := []struct {
		name     string
		fromFile int
		holders  []int
		pid      int
		refuse   string
	}{
		{"the holder of the port", 0, []int{42}, 42, ""},
		{"the holder wins over a stale pid file", 43, []int{42}, 42, ""},
		{"the pid file when nothing holds the port (mysqld hung before listening)", 42, nil, 42, ""},
		{"a pid file naming a reused pid: nothing", 70, nil, 0, ""},
		{"a pid file naming another host's mysqld: nothing", 50, nil, 0, ""},
		{"another host's mysqld holding our port cannot be: nothing", 0, []int{50}, 0, ""},
		{"the port held by another program: refused", 42, []int{60}, 0, "held by socat"},
		{"two mysqlds on the socket: refused", 0, []int{42, 43}, 0, "different mysqld processes"},
		{"gone meanwhile", 0, []int{99}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, refuse := ChooseMySQLD(tt.fromFile, tt.holders, procs)
			if p.PID != tt.pid || (tt.refuse == "") != (refuse == "") || !strings.Contains(refuse, tt.refuse) {
				t.Errorf("ChooseMySQLD = %d %q, want %d %q", p.PID, refuse, tt.pid, tt.refuse)
			}
		})
	}
}

func TestPlanStop(t *testing.T) {
	const (
		v2Maria = "0::/system.slice/mariadb.service\n"
		session = "0::/user.slice/user-0.slice/session-4.scope\n"
	)
	tests := []struct {
		name     string
		p        Proc
		unitMain int
		want     StopPlan
		steps    string // StopPlan.String
	}{
		{"nothing found", Proc{}, 0, StopPlan{}, "mysqld is not running"},
		{"bare mysqld started by hand: SIGKILL",
			Proc{PID: 42, Comm: "mariadbd", PPID: 1, ParentComm: "systemd", Cgroup: session}, 0,
			StopPlan{Running: true, PID: 42, Comm: "mariadbd"}, "SIGKILL to mariadbd (PID 42)"},
		{"under mariadb.service: stop the unit, then SIGKILL",
			Proc{PID: 42, Comm: "mariadbd", PPID: 1, ParentComm: "systemd", Cgroup: v2Maria}, 42,
			StopPlan{Running: true, PID: 42, Comm: "mariadbd", Unit: "mariadb.service"},
			"systemctl stop --no-block mariadb.service, then SIGKILL to mariadbd (PID 42)"},
		{"under mariadb.service, main PID unknown: the server's unit is stopped",
			Proc{PID: 42, Comm: "mariadbd", PPID: 1, ParentComm: "systemd", Cgroup: v2Maria}, 0,
			StopPlan{Running: true, PID: 42, Comm: "mariadbd", Unit: "mariadb.service"}, ""},
		{"under mysqld_safe: the guard first",
			Proc{PID: 42, Comm: "mysqld", PPID: 30, ParentComm: "mysqld_safe", Cgroup: session}, 0,
			StopPlan{Running: true, PID: 42, Comm: "mysqld", Guard: 30, GuardComm: "mysqld_safe"},
			"SIGKILL to mysqld_safe (PID 30), then SIGKILL to mysqld (PID 42)"},
		{"mysqld_safe under mysql.service (SysV script wrapped): unit, guard, mysqld",
			Proc{PID: 42, Comm: "mysqld", PPID: 30, ParentComm: "mysqld_safe", Cgroup: "0::/system.slice/mysql.service\n"}, 30,
			StopPlan{Running: true, PID: 42, Comm: "mysqld", Guard: 30, GuardComm: "mysqld_safe", Unit: "mysql.service"},
			"systemctl stop --no-block mysql.service, then SIGKILL to mysqld_safe (PID 30), then SIGKILL to mysqld (PID 42)"},
		{"MariaDB 10.5's mariadbd-safe is a guard too",
			Proc{PID: 42, Comm: "mariadbd", PPID: 31, ParentComm: "mariadbd-safe"}, 0,
			StopPlan{Running: true, PID: 42, Comm: "mariadbd", Guard: 31, GuardComm: "mariadbd-safe"}, ""},
		{"started from another service whose main process is not mysqld: not stopped, noted",
			Proc{PID: 42, Comm: "mariadbd", PPID: 9, ParentComm: "supervisord", Cgroup: "0::/system.slice/supervisor.service\n"}, 9,
			StopPlan{Running: true, PID: 42, Comm: "mariadbd", Note: "supervisor.service (main PID 9) is not mysqld's service: not stopped"}, ""},
		{"another service, main PID unknown: not stopped",
			Proc{PID: 42, Comm: "mariadbd", PPID: 9, ParentComm: "cron", Cgroup: "0::/system.slice/cron.service\n"}, 0,
			StopPlan{Running: true, PID: 42, Comm: "mariadbd", Note: "cron.service is not a server's unit and its main PID is unknown: not stopped"}, ""},
		{"a pid that runs another program: refused",
			Proc{PID: 42, Comm: "bash"}, 0,
			StopPlan{Running: true, Refuse: `PID 42 runs "bash", not mysqld: not killed`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PlanStop(tt.p, tt.unitMain)
			if got != tt.want {
				t.Errorf("PlanStop = %+v\nwant        %+v", got, tt.want)
			}
			if tt.steps != "" && got.String() != tt.steps {
				t.Errorf("String = %q, want %q", got.String(), tt.steps)
			}
		})
	}
}

func TestCheckStop(t *testing.T) {
	bare := StopPlan{Running: true, PID: 42, Comm: "mariadbd"}
	unit := bare
	unit.Unit = "mariadb.service"
	guarded := bare
	guarded.Guard, guarded.GuardComm = 30, "mysqld_safe"
	tests := []struct {
		name                string
		plan                StopPlan
		euid, uid, guardUID int
		sigErr              string
		ok                  bool
		why                 string
	}{
		{"root, under systemd", unit, 0, 106, 0, "", true, "root can stop systemctl stop --no-block mariadb.service"},
		{"mysqld's own uid, no unit, no guard", bare, 106, 106, 0, "", true, "uid 106 (mysqld's) can stop"},
		{"mysqld's uid, but a unit to stop", unit, 106, 106, 0, "", false, "systemctl stop needs root"},
		{"mysqld's uid, guard is root's", guarded, 106, 106, 0, "", false, "cannot signal mysqld_safe (PID 30) of uid 0"},
		{"another uid", bare, 1000, 106, 0, "", false, "uid 1000 cannot signal mariadbd (PID 42) of uid 106"},
		{"signal 0 refused (a security module)", bare, 0, 106, 0, "signal 0 to mariadbd (PID 42): operation not permitted", false, "operation not permitted"},
		{"mysqld not found", StopPlan{}, 0, -1, -1, "", false, "mysqld was not found"},
		{"refused plan", StopPlan{Running: true, Refuse: "held by socat"}, 0, -1, -1, "", false, "held by socat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, why := CheckStop(tt.plan, tt.euid, tt.uid, tt.guardUID, tt.sigErr)
			if ok != tt.ok || !strings.Contains(why, tt.why) {
				t.Errorf("CheckStop = %v %q, want %v %q", ok, why, tt.ok, tt.why)
			}
		})
	}
}
