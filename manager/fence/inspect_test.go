package fence

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gomha/gomha/node/watchdog"
)

const nsA = "net:[4026532301]"

func inspection(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

func TestChooseTarget(t *testing.T) {
	tests := []struct {
		name   string
		out    string
		want   Target
		refuse string // substring of Target.Refuse
	}{
		{name: "nothing runs, no pid file",
			out:  inspection("netns " + nsA),
			want: Target{}},
		{name: "stale pid file of a dead server",
			out:  inspection("netns "+nsA, "pidfile 4242", "gone 4242"),
			want: Target{}},
		{name: "hung mariadbd listening (SIGSTOP)",
			out: inspection("netns "+nsA,
				`listen LISTEN 0 80 198.18.7.11:3306 0.0.0.0:* users:(("mariadbd",pid=812,fd=21))`,
				"comm 812 mariadbd", "stat 812 T 1", "pcomm 812 process_api", "pnetns 812 "+nsA, "cgroup 812 /"),
			want: Target{Running: true, PID: 812, Comm: "mariadbd"}},
		{name: "pid file and listener agree",
			out: inspection("netns "+nsA, "pidfile 812",
				`listen LISTEN 0 80 *:3306 *:* users:(("mysqld",pid=812,fd=21))`,
				"comm 812 mysqld", "stat 812 S 1", "pnetns 812 "+nsA),
			want: Target{Running: true, PID: 812, Comm: "mysqld"}},
		{name: "pid file only (listener gone, process stopped)",
			out:  inspection("netns "+nsA, "pidfile 812", "comm 812 mysqld", "stat 812 T 1", "pnetns 812 "+nsA),
			want: Target{Running: true, PID: 812, Comm: "mysqld"}},
		{name: "pid file reused by another program",
			out:  inspection("netns "+nsA, "pidfile 812", "comm 812 bash", "stat 812 S 1", "pnetns 812 "+nsA),
			want: Target{}},
		{name: "pid file naming another host's server (shared pid namespace)",
			out:  inspection("netns "+nsA, "pidfile 812", "comm 812 mariadbd", "stat 812 S 1", "pnetns 812 net:[4026532999]"),
			want: Target{}},
		{name: "zombie is gone",
			out:  inspection("netns "+nsA, "pidfile 812", "comm 812 mariadbd", "stat 812 Z 1", "pnetns 812 "+nsA),
			want: Target{}},
		{name: "port held by another program",
			out: inspection("netns "+nsA,
				`listen LISTEN 0 1 0.0.0.0:3306 0.0.0.0:* users:(("nc",pid=99,fd=3))`, "comm 99 nc", "stat 99 S 1", "pnetns 99 "+nsA),
			want: Target{Running: true}, refuse: "held by nc (pid 99), not by mysqld"},
		{name: "listener ss cannot name",
			out:  inspection("netns "+nsA, `listen LISTEN 0 80 0.0.0.0:3306 0.0.0.0:*`),
			want: Target{Running: true}, refuse: "cannot name"},
		{name: "pid file and listener disagree",
			out: inspection("netns "+nsA, "pidfile 700",
				`listen LISTEN 0 80 *:3306 *:* users:(("mysqld",pid=812,fd=21))`,
				"comm 812 mysqld", "stat 812 S 1", "pnetns 812 "+nsA,
				"comm 700 mysqld", "stat 700 S 1", "pnetns 700 "+nsA),
			want: Target{Running: true}, refuse: "different mysqld processes"},
		{name: "mysqld_safe guard",
			out: inspection("netns "+nsA,
				`listen LISTEN 0 80 *:3306 *:* users:(("mysqld",pid=812,fd=21))`,
				"comm 812 mysqld", "stat 812 T 700", "pcomm 812 mysqld_safe", "pnetns 812 "+nsA),
			want: Target{Running: true, PID: 812, Comm: "mysqld", Guard: 700, GuardComm: "mysqld_safe"}},
		{name: "under systemd, main pid",
			out: inspection("netns "+nsA,
				`listen LISTEN 0 80 *:3306 *:* users:(("mariadbd",pid=812,fd=21))`,
				"comm 812 mariadbd", "stat 812 T 1", "pcomm 812 systemd", "pnetns 812 "+nsA,
				"cgroup 812 /system.slice/mariadb.service", "unit 812 mariadb.service 812"),
			want: Target{Running: true, PID: 812, Comm: "mariadbd", Unit: "mariadb.service"}},
		{name: "in another service's cgroup (not its main pid): no systemctl stop",
			out: inspection("netns "+nsA,
				`listen LISTEN 0 80 *:3306 *:* users:(("mariadbd",pid=812,fd=21))`,
				"comm 812 mariadbd", "stat 812 S 500", "pcomm 812 go", "pnetns 812 "+nsA,
				"cgroup 812 /system.slice/ci-runner.service", "unit 812 ci-runner.service 400"),
			want: Target{Running: true, PID: 812, Comm: "mariadbd"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, err := ParseInspection(tc.out)
			if err != nil {
				t.Fatal(err)
			}
			got := ChooseTarget(in, 3306)
			if !strings.Contains(got.Refuse, tc.refuse) || (tc.refuse == "" && got.Refuse != "") {
				t.Errorf("Refuse = %q, want %q", got.Refuse, tc.refuse)
			}
			got.Refuse = ""
			if got != tc.want {
				t.Errorf("ChooseTarget = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseInspectionError(t *testing.T) {
	if _, err := ParseInspection("netns x\nerror ss: not found\n"); err == nil || !strings.Contains(err.Error(), "ss: not found") {
		t.Errorf("err = %v", err)
	}
	// Garbage never panics and yields nothing to kill.
	in, err := ParseInspection("comm\ncomm x y\nstat 1\nunit\nlisten users:((\"mysqld\",pid=abc\npidfile -1\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := ChooseTarget(in, 3306); got.PID != 0 {
		t.Errorf("garbage gives target %+v", got)
	}
}

func TestGone(t *testing.T) {
	tg := Target{Running: true, PID: 812, Comm: "mariadbd"}
	for _, tc := range []struct {
		name string
		out  string
		want bool
	}{
		{"gone", inspection("netns "+nsA, "gone 812"), true},
		{"zombie", inspection("netns "+nsA, "comm 812 mariadbd", "stat 812 Z 1"), true},
		{"pid reused", inspection("netns "+nsA, "comm 812 sleep", "stat 812 S 1"), true},
		{"still there", inspection("netns "+nsA, "comm 812 mariadbd", "stat 812 T 1"), false},
		{"port still listened on", inspection("netns "+nsA, "gone 812", `listen LISTEN 0 80 *:3306 *:* users:(("mariadbd",pid=900,fd=21))`), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := ParseInspection(tc.out)
			if err != nil {
				t.Fatal(err)
			}
			if got, why := Gone(in, tg); got != tc.want {
				t.Errorf("Gone = %v (%s), want %v", got, why, tc.want)
			}
		})
	}
}

// TestInspectScript runs the real script against a listener of this test
// process (sh, ss and /proc needed).
func TestInspectScript(t *testing.T) {
	if _, err := exec.LookPath("ss"); err != nil {
		t.Skip("no ss here")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	pidFile := filepath.Join(t.TempDir(), "x.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", "-c", inspectScript, "sh", strconv.Itoa(port), pidFile, "").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	in, err := ParseInspection(string(out))
	if err != nil {
		t.Fatal(err)
	}
	me := os.Getpid()
	p, ok := in.Procs[me]
	if in.PIDFile != me || len(in.Listeners) != 1 || !slices.Contains(in.Listeners[0].PIDs, me) || !ok || !p.SameNetNS || p.State == "" || p.Comm == "" {
		t.Fatalf("inspection %+v (proc %+v) from:\n%s", in, p, out)
	}
	// This process is no mysqld: it is never a target.
	if tg := ChooseTarget(in, port); tg.PID != 0 || !strings.Contains(tg.Refuse, "not by mysqld") {
		t.Errorf("target %+v", tg)
	}
	ln.Close()
	out, err = exec.Command("sh", "-c", inspectScript, "sh", strconv.Itoa(port), "", "999999999").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if in, err = ParseInspection(string(out)); err != nil || len(in.Listeners) != 0 || ChooseTarget(in, port).Running {
		t.Fatalf("after close: %+v %v\n%s", in, err, out)
	}
}

// FuzzParseInspection: any output parses without panicking, and a target
// chosen from it is always a live mysqld of the inspecting namespace or of
// a listener on the port.
func FuzzParseInspection(f *testing.F) {
	f.Add(hungInspection())
	f.Add(hungInspection("cgroup 812 /system.slice/mariadb.service", "unit 812 mariadb.service 812"))
	f.Add(goneInspection)
	f.Add(joinLines("netns "+nsA, "pidfile 812", "comm 812 mysqld", "stat 812 T 700", "pcomm 812 mysqld_safe", "pnetns 812 "+nsA))
	f.Fuzz(func(t *testing.T, out string) {
		if len(out) > 4096 {
			return
		}
		in, err := ParseInspection(out)
		if err != nil {
			return
		}
		tg := ChooseTarget(in, 3306)
		if tg.PID == 0 {
			return
		}
		p := in.Procs[tg.PID]
		if !watchdog.IsMySQLD(p.Comm) || !p.alive() || tg.Refuse != "" {
			t.Fatalf("target %+v from proc %+v", tg, p)
		}
	})
}
