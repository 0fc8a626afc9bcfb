package watchdog

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Proc is what /proc says about one process, the facts PlanStop decides
// from.
type Proc struct {
	PID int
	// Comm is /proc/PID/comm (15 characters at most).
	Comm string
	// PPID and ParentComm are the parent's pid and comm.
	PPID       int
	ParentComm string
	// UID and ParentUID are the effective uids (/proc/PID/status Uid,
	// second field); -1 when unknown.
	UID, ParentUID int
	// Cgroup is /proc/PID/cgroup as read.
	Cgroup string
	// SameNetNS says the process is in the watchdog's network namespace:
	// this host's server, not another one's seen through a shared pid
	// namespace.
	SameNetNS bool
}

// StopPlan says how to stop mysqld so that nothing starts it again:
// first the systemd stop job of Unit (systemctl stop --no-block, so that
// Restart= does not apply to the SIGKILL that follows), then SIGKILL to
// Guard (mysqld_safe would restart mysqld), then SIGKILL to PID.
type StopPlan struct {
	// Running is false when no mysqld of this host was found.
	Running bool
	// Refuse, when set, says why nothing may be stopped.
	Refuse string
	// PID and Comm are mysqld's.
	PID  int
	Comm string
	// Guard is a mysqld_safe parent; 0 when there is none.
	Guard     int
	GuardComm string
	// Unit is mysqld's systemd service; "" when there is none.
	Unit string
	// Note says why a unit found in the cgroup is not stopped.
	Note string
}

// String renders the plan as the steps it takes.
func (p StopPlan) String() string {
	switch {
	case p.Refuse != "":
		return "refused: " + p.Refuse
	case !p.Running:
		return "mysqld is not running"
	}
	var parts []string
	if p.Unit != "" {
		parts = append(parts, "systemctl stop --no-block "+p.Unit)
	}
	if p.Guard > 0 {
		parts = append(parts, fmt.Sprintf("SIGKILL to %s (PID %d)", p.GuardComm, p.Guard))
	}
	parts = append(parts, fmt.Sprintf("SIGKILL to %s (PID %d)", p.Comm, p.PID))
	return strings.Join(parts, ", then ")
}

// IsMySQLD reports whether a process name (/proc comm) is a MySQL or
// MariaDB server (mariadbd since MariaDB 10.5, mysqld before it and in
// MySQL).
func IsMySQLD(comm string) bool { return comm == "mysqld" || comm == "mariadbd" }

// IsGuard reports whether a process name is a wrapper that restarts a
// killed server: mysqld_safe (MySQL, MariaDB), mariadbd-safe (MariaDB >=
// 10.5; comm is cut to 15 characters, so "mariadbd-safe" and
// "mariadb-safe" fit).
func IsGuard(comm string) bool {
	return comm == "mysqld_safe" || comm == "mariadbd-safe" || comm == "mariadb-safe"
}

var unitRE = regexp.MustCompile(`^[A-Za-z0-9:_.@\\-]+\.service$`)

// ServiceName reports whether s is a plain systemd service name
// (letters, digits and ":_.@\\-", ending in .service): safe to pass to
// systemctl and never an option.
func ServiceName(s string) bool { return unitRE.MatchString(s) && !strings.HasPrefix(s, "-") }

// ServiceUnit returns the systemd service whose cgroup holds the process,
// from /proc/PID/cgroup: the unified hierarchy's line ("0::/system.slice/
// mariadb.service") or, on cgroup v1, the name=systemd one
// ("1:name=systemd:/system.slice/mysql.service"); the deepest path element
// that is a service wins (a unit's sub-cgroup such as
// /system.slice/mariadb.service/payload still names mariadb.service). ""
// when there is none: a login session's scope, a container's, no systemd.
func ServiceUnit(cgroup string) string {
	var v2, v1 string
	for _, line := range strings.Split(cgroup, "\n") {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			v2 = parts[2]
		case slices.Contains(strings.Split(parts[1], ","), "name=systemd"):
			v1 = parts[2]
		}
	}
	path := v2
	if path == "" || path == "/" {
		path = v1
	}
	elems := strings.Split(path, "/")
	for i := len(elems) - 1; i >= 0; i-- {
		if ServiceName(elems[i]) {
			return elems[i]
		}
	}
	return ""
}

// serverUnit reports whether a unit name is one of the MySQL or MariaDB
// server units the distributions ship (mysql, mysqld, mariadb, mariadb@x,
// mysqld@x, percona-server...), for when its main pid cannot be asked.
func serverUnit(unit string) bool {
	u := strings.ToLower(unit)
	return strings.Contains(u, "mysql") || strings.Contains(u, "mariadb") || strings.Contains(u, "percona")
}

// ChooseMySQLD picks the mysqld to stop: the process holding the
// configured port or socket (holders), else the pid in the server's
// pid_file (fromFile, 0 when unread). Only a live mysqld of this host's
// network namespace is chosen; a holder that is another program, or two
// different mysqlds on the socket, is a refusal. procs has the facts of
// every pid named.
func ChooseMySQLD(fromFile int, holders []int, procs map[int]Proc) (Proc, string) {
	var live []int
	for _, pid := range holders {
		p, ok := procs[pid]
		if !ok {
			continue // gone meanwhile
		}
		if !IsMySQLD(p.Comm) {
			return Proc{}, fmt.Sprintf("the server's port or socket is held by %s (PID %d), not by mysqld", p.Comm, pid)
		}
		if p.SameNetNS && !slices.Contains(live, pid) {
			live = append(live, pid)
		}
	}
	if len(live) > 1 {
		return Proc{}, fmt.Sprintf("different mysqld processes %v hold the server's port or socket", live)
	}
	if len(live) == 1 {
		return procs[live[0]], ""
	}
	if p, ok := procs[fromFile]; ok && fromFile > 0 && IsMySQLD(p.Comm) && p.SameNetNS {
		return p, ""
	}
	return Proc{}, ""
}

// PlanStop decides how to stop mysqld p (chosen by ChooseMySQLD; PID 0:
// none) so that it stays stopped: its mysqld_safe parent is killed first,
// and its systemd service, found from its cgroup, gets a stop job first.
// unitMain is the unit's MainPID as systemd reports it, 0 when unknown:
// the unit counts when its main process is mysqld or its guard, or, when
// unknown, when its name is a server's (mariadb.service, mysql.service);
// otherwise (mysqld started from some other service) it is named in Note
// and left alone.
func PlanStop(p Proc, unitMain int) StopPlan {
	if p.PID <= 0 {
		return StopPlan{}
	}
	if !IsMySQLD(p.Comm) {
		return StopPlan{Running: true, Refuse: fmt.Sprintf("PID %d runs %q, not mysqld: not killed", p.PID, p.Comm)}
	}
	plan := StopPlan{Running: true, PID: p.PID, Comm: p.Comm}
	if IsGuard(p.ParentComm) && p.PPID > 1 {
		plan.Guard, plan.GuardComm = p.PPID, p.ParentComm
	}
	if u := ServiceUnit(p.Cgroup); u != "" {
		switch {
		case unitMain > 0 && (unitMain == plan.PID || (plan.Guard > 0 && unitMain == plan.Guard)):
			plan.Unit = u
		case unitMain <= 0 && serverUnit(u):
			plan.Unit = u
		case unitMain > 0:
			plan.Note = fmt.Sprintf("%s (main PID %d) is not mysqld's service: not stopped", u, unitMain)
		default:
			plan.Note = fmt.Sprintf("%s is not a server's unit and its main PID is unknown: not stopped", u)
		}
	}
	return plan
}

// CheckStop decides whether the watchdog, running as euid, could carry
// out plan: root can; another uid only when it is mysqld's (and its
// guard's) and there is no unit to stop (systemctl stop needs root).
// signalErr is the outcome of signal 0 to mysqld and its guard ("" when
// both could be signalled).
func CheckStop(plan StopPlan, euid int, uid, guardUID int, signalErr string) (bool, string) {
	switch {
	case plan.Refuse != "":
		return false, plan.Refuse
	case !plan.Running:
		return false, "mysqld was not found (pid_file, port and socket)"
	case signalErr != "":
		return false, signalErr
	case euid == 0:
		return true, "root can stop " + plan.String()
	case plan.Unit != "":
		return false, fmt.Sprintf("uid %d cannot stop %s (systemctl stop needs root): a killed mysqld would be started again", euid, plan.Unit)
	case uid != euid:
		return false, fmt.Sprintf("uid %d cannot signal %s (PID %d) of uid %d", euid, plan.Comm, plan.PID, uid)
	case plan.Guard > 0 && guardUID != euid:
		return false, fmt.Sprintf("uid %d cannot signal %s (PID %d) of uid %d, which would start mysqld again", euid, plan.GuardComm, plan.Guard, guardUID)
	}
	return true, fmt.Sprintf("uid %d (mysqld's) can stop %s", euid, plan.String())
}
