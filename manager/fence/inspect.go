package fence

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gomha/gomha/node/watchdog"
)

// inspectScript prints what the host knows about its mysqld, one fact a
// line, for [ParseInspection]. It is a constant: the port, the pid file and
// more pids to report on come in as positional parameters ($1, $2, $3),
// quoted by sshexec, never pasted into it. It needs sh, ss (iproute2), sed, grep, tr, head,
// readlink and timeout (coreutils); systemctl only where systemd runs.
const inspectScript = `port=$1 pidfile=$2
echo "netns $(readlink /proc/$$/ns/net)"
pids=$(echo "$3" | tr -dc '0-9 ')
if [ -n "$pidfile" ]; then
  if [ -r "$pidfile" ]; then p=$(head -c 64 "$pidfile" | tr -dc 0-9); echo "pidfile $p"; pids="$pids $p"
  else echo "pidfile -"; fi
fi
if ! l=$(ss -Hltnp "sport = :$port" 2>&1); then echo "error ss: $l"; exit 3; fi
printf '%s\n' "$l" | sed -n 's/^./listen &/p'
pids="$pids $(printf '%s\n' "$l" | grep -o 'pid=[0-9]*' | tr -dc '0-9\n' | tr '\n' ' ')"
systemd=
[ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 && systemd=1
for p in $pids; do
  [ -r /proc/$p/stat ] || { echo "gone $p"; continue; }
  echo "comm $p $(cat /proc/$p/comm 2>/dev/null)"
  st=$(sed 's/^.*) //' /proc/$p/stat 2>/dev/null)
  pp=$(echo "$st" | cut -d' ' -f2)
  echo "stat $p $(echo "$st" | cut -d' ' -f1) $pp"
  echo "pcomm $p $(cat /proc/$pp/comm 2>/dev/null)"
  echo "pnetns $p $(readlink /proc/$p/ns/net 2>/dev/null)"
  sed -n "s|^[^:]*:[^:]*:|cgroup $p |p" /proc/$p/cgroup 2>/dev/null
  if [ -n "$systemd" ]; then
    for u in $(sed -n 's|^.*/\([^/]*\.service\)$|\1|p' /proc/$p/cgroup 2>/dev/null | sort -u); do
      echo "unit $p $u $(timeout -s KILL 2 systemctl show -p MainPID --value -- "$u" 2>/dev/null)"
    done
  fi
done
`

// Inspection is what [inspectScript] printed, parsed.
type Inspection struct {
	// NetNS is the network namespace of the shell that looked
	// ("net:[4026531840]").
	NetNS string
	// PIDFile is the pid read from master_pid_file; 0 when none was
	// configured or it held no number. PIDFileMissing is set when one was
	// configured and could not be read.
	PIDFile        int
	PIDFileMissing bool
	// Listeners are the ss lines of sockets listening on the MySQL port.
	Listeners []Listener
	// Procs are the processes named by the pid file or the listeners, by
	// pid; a pid that is gone is absent.
	Procs map[int]Proc
}

// Listener is one listening socket on the MySQL port.
type Listener struct {
	// Line is ss's line; PIDs and Comms are the processes it names ("" when
	// ss could not tell: no privileges).
	Line  string
	PIDs  []int
	Comms []string
}

// Proc is one process seen on the host.
type Proc struct {
	PID   int
	Comm  string
	State string // /proc/<pid>/stat state: R, S, T (stopped), Z (zombie)...
	PPID  int
	// ParentComm is the parent's name (mysqld_safe, systemd, ...).
	ParentComm string
	// SameNetNS reports whether the process is in the network namespace
	// of the shell that looked (so it is this host's, not another's seen
	// through a shared pid namespace).
	SameNetNS bool
	// Units are the systemd units of its cgroup with their main pid.
	Units map[string]int
}

var ssUser = regexp.MustCompile(`\("([^"]*)",pid=(\d+)`)

// ParseInspection reads [inspectScript]'s output. Lines it does not know
// are ignored; an "error" line is an error.
func ParseInspection(out string) (Inspection, error) {
	in := Inspection{Procs: map[int]Proc{}}
	netns := map[int]string{}
	for _, line := range strings.Split(out, "\n") {
		kind, rest, _ := strings.Cut(line, " ")
		switch kind {
		case "error":
			return in, fmt.Errorf("inspect: %s", rest)
		case "netns":
			in.NetNS = rest
		case "pidfile":
			if rest == "-" {
				in.PIDFileMissing = true
			} else if n, err := strconv.Atoi(rest); err == nil && n > 0 {
				in.PIDFile = n
			}
		case "listen":
			l := Listener{Line: rest}
			for _, m := range ssUser.FindAllStringSubmatch(rest, -1) {
				if n, err := strconv.Atoi(m[2]); err == nil && !slices.Contains(l.PIDs, n) {
					l.PIDs = append(l.PIDs, n)
					l.Comms = append(l.Comms, m[1])
				}
			}
			in.Listeners = append(in.Listeners, l)
		case "comm", "stat", "pcomm", "pnetns", "cgroup", "unit":
			pidStr, val, _ := strings.Cut(rest, " ")
			pid, err := strconv.Atoi(pidStr)
			if err != nil || pid <= 0 {
				continue
			}
			p := in.Procs[pid]
			p.PID = pid
			switch kind {
			case "comm":
				p.Comm = val
			case "stat":
				f := strings.Fields(val)
				if len(f) > 0 {
					p.State = f[0]
				}
				if len(f) > 1 {
					p.PPID, _ = strconv.Atoi(f[1])
				}
			case "pcomm":
				p.ParentComm = val
			case "pnetns":
				netns[pid] = val
			case "unit":
				f := strings.Fields(val)
				if len(f) >= 1 {
					if p.Units == nil {
						p.Units = map[string]int{}
					}
					main := 0
					if len(f) > 1 {
						main, _ = strconv.Atoi(f[1])
					}
					p.Units[f[0]] = main
				}
			}
			in.Procs[pid] = p
		}
	}
	for pid, p := range in.Procs {
		p.SameNetNS = in.NetNS != "" && netns[pid] == in.NetNS
		in.Procs[pid] = p
	}
	return in, nil
}

// alive reports whether a process still runs (a zombie has exited and
// holds no socket).
func (p Proc) alive() bool { return p.PID > 0 && p.State != "" && p.State != "Z" && p.State != "X" }

// ChooseTarget decides from an inspection which process to stop: only a
// mysqld (or mariadbd) of this host, found by the pid file or listening on
// the MySQL port; never anything else. A listener on the port that is not
// mysqld, or a pid file and a listener naming two different mysqlds, is a
// refusal. A systemd unit counts only when its main process is that mysqld
// or its mysqld_safe guard.
func ChooseTarget(in Inspection, port int) Target {
	var cands []int
	add := func(pid int) {
		if !slices.Contains(cands, pid) {
			cands = append(cands, pid)
		}
	}
	listening := false
	for _, l := range in.Listeners {
		listening = true
		if len(l.PIDs) == 0 {
			return Target{Running: true, Refuse: fmt.Sprintf("port %d is listened on by a process ss cannot name (%s)", port, l.Line)}
		}
		for i, pid := range l.PIDs {
			if !watchdog.IsMySQLD(l.Comms[i]) {
				return Target{Running: true, Refuse: fmt.Sprintf("port %d is held by %s (pid %d), not by mysqld: nothing stopped", port, l.Comms[i], pid)}
			}
			add(pid)
		}
	}
	if pid := in.PIDFile; pid > 0 {
		// A stale pid file may name a pid reused by anything, or (in
		// a shared pid namespace) another host's server: only a live
		// mysqld of this network namespace counts.
		if p, ok := in.Procs[pid]; ok && p.alive() && watchdog.IsMySQLD(p.Comm) && p.SameNetNS {
			add(pid)
		}
	}
	var live []int
	for _, pid := range cands {
		p, ok := in.Procs[pid]
		if !ok || !p.alive() {
			continue
		}
		// What ss named must be what /proc says the pid runs now.
		if !watchdog.IsMySQLD(p.Comm) {
			return Target{Running: true, Refuse: fmt.Sprintf("pid %d on port %d runs %q, not mysqld: nothing stopped", pid, port, p.Comm)}
		}
		live = append(live, pid)
	}
	switch {
	case len(live) == 0 && !listening:
		return Target{Running: false}
	case len(live) == 0:
		// Listed by ss, gone by the time /proc was read: look again.
		return Target{Running: true, Refuse: fmt.Sprintf("mysqld on port %d exited while it was inspected", port)}
	case len(live) > 1:
		return Target{Running: true, Refuse: fmt.Sprintf("pid file and port %d name different mysqld processes %v: nothing stopped", port, live)}
	}
	p := in.Procs[live[0]]
	t := Target{Running: true, PID: p.PID, Comm: p.Comm}
	if watchdog.IsGuard(p.ParentComm) && p.PPID > 1 {
		t.Guard, t.GuardComm = p.PPID, p.ParentComm
	}
	for u, main := range p.Units {
		if watchdog.ServiceName(u) && main > 0 && (main == t.PID || (t.Guard != 0 && main == t.Guard)) {
			t.Unit = u
		}
	}
	return t
}

// Gone reports whether an inspection after a stop proves target is gone:
// its pid does not run any more (or runs another program) and nothing
// listens on the MySQL port.
func Gone(in Inspection, t Target) (bool, string) {
	if len(in.Listeners) > 0 {
		return false, fmt.Sprintf("still listening: %s", in.Listeners[0].Line)
	}
	if p, ok := in.Procs[t.PID]; ok && p.alive() && p.Comm == t.Comm {
		return false, fmt.Sprintf("%s pid %d still runs (state %s)", t.Comm, t.PID, p.State)
	}
	return true, ""
}
