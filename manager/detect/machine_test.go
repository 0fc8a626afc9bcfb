package detect

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/node/binlog"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the actions the machine returns")

// TestScenarios replays every testdata/*.txt file through a Machine. A file
// is a sequence of lines:
//
//	# comment                         copied as is
//	config [secondary] [builtin] [threshold=N] [interval=D]   first, once
//	> tick                            an input; the lines after it, up to the
//	state PING_OK                     next input or comment, are the actions
//	                                  it must return (Action.String)
//
// Any input may start with @D (a time.Duration such as @1.5s): the
// scenario's clock is then D, which ping results carry as PingResult.At;
// without it the clock stays where it was (0 at the start).
//
// Inputs:
//
//	> tick
//	> ping ok | ping timeout | ping error <errno> <text> | ping neterr <text>
//	> replicas <episode> <name>:<k=v,...> ...   keys: sql=down, repl=no,
//	                                  io=Yes|Connecting|No, ioerr=<n>,
//	                                  read=<before>><after> (two samples),
//	                                  ssh=down, greet=answers|err1040|
//	                                  refused|noroute|silent|hung|unknown
//	> secondary <episode> <code> | secondary <episode> error <text>
//	> ssh <episode> no | yes | noproc | proc=<pid> | unit=<active>/<sub>
//	                                  the SSH check on the master host: it
//	                                  failed; it ran but its process check
//	                                  timed out; no mysqld process there;
//	                                  mariadbd runs with that pid; no
//	                                  process, systemd's mariadb.service in
//	                                  that state (output read by
//	                                  MasterHostOf)
//
// go test -run TestScenarios -update rewrites the expectations.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := replay(string(b))
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(f, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != string(b) {
				t.Errorf("scenario %s differs (run with -update and review the diff):\n%s", f, diffLines(string(b), got))
			}
		})
	}
}

// replay runs a scenario and returns it rewritten with the actual actions.
func replay(text string) (string, error) {
	var out strings.Builder
	var m *Machine
	var clock time.Duration
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for n, line := range lines {
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			out.WriteString(line + "\n")
		case strings.HasPrefix(line, "config"):
			cfg := MachineConfig{}
			for _, f := range strings.Fields(line)[1:] {
				switch {
				case f == "secondary":
					cfg.Secondary = true
				case f == "builtin":
					cfg.BuiltIn = true
				case strings.HasPrefix(f, "threshold="):
					cfg.Threshold, _ = strconv.Atoi(strings.TrimPrefix(f, "threshold="))
				case strings.HasPrefix(f, "interval="):
					d, err := time.ParseDuration(strings.TrimPrefix(f, "interval="))
					if err != nil {
						return "", fmt.Errorf("line %d: %w", n+1, err)
					}
					cfg.PingInterval = d
				default:
					return "", fmt.Errorf("line %d: unknown config %q", n+1, f)
				}
			}
			m = NewMachine(cfg)
			out.WriteString(line + "\n")
		case strings.HasPrefix(line, "> "):
			if m == nil {
				return "", fmt.Errorf("line %d: input before config", n+1)
			}
			fields := strings.Fields(line[2:])
			if len(fields) > 0 && strings.HasPrefix(fields[0], "@") {
				d, err := time.ParseDuration(fields[0][1:])
				if err != nil {
					return "", fmt.Errorf("line %d: %w", n+1, err)
				}
				if d < clock {
					return "", fmt.Errorf("line %d: the clock goes back from %s to %s", n+1, clock, d)
				}
				clock, fields = d, fields[1:]
			}
			acts, err := feed(m, fields, clock)
			if err != nil {
				return "", fmt.Errorf("line %d: %w", n+1, err)
			}
			out.WriteString(line + "\n")
			for _, a := range acts {
				out.WriteString(a.String() + "\n")
			}
		}
		// Other lines are expectations: regenerated above.
	}
	return out.String(), nil
}

// greetings are the greeting probe outcomes a scenario can name, with the
// detail GreetingProbeReach gives them.
func greeting(v string) (Reach, string, bool) {
	switch v {
	case "answers":
		return ReachAnswers, "greeting read", true
	case "err1040":
		return ReachAnswers, "error packet 1040", true
	case "refused":
		return ReachRefused, "connection refused", true
	case "noroute":
		return ReachUnreachable, "no route to host", true
	case "silent":
		return ReachSilent, "no answer to the connect within 2s", true
	case "hung":
		return ReachHung, "no greeting within 2s (hung?)", true
	case "unknown":
		return ReachUnknown, "exit 1: bash: line 1: db1: Name or service not known", true
	}
	return ReachUnknown, "", false
}

func feed(m *Machine, f []string, now time.Duration) ([]Action, error) {
	need := func(n int) error {
		if len(f) < n {
			return fmt.Errorf("%q needs %d fields", strings.Join(f, " "), n)
		}
		return nil
	}
	ep := func() int { n, _ := strconv.Atoi(f[1]); return n }
	switch f[0] {
	case "tick":
		return m.Tick(), nil
	case "ping":
		if err := need(2); err != nil {
			return nil, err
		}
		switch f[1] {
		case "ok":
			return m.Ping(PingResult{OK: true, At: now}), nil
		case "timeout":
			return m.Ping(PingResult{Timeout: true, Err: "context deadline exceeded", At: now}), nil
		case "error":
			if err := need(3); err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(f[2])
			if err != nil {
				return nil, err
			}
			return m.Ping(PingResult{Errno: uint16(n), Err: strings.Join(f[3:], " "), At: now}), nil
		case "neterr":
			return m.Ping(PingResult{Err: strings.Join(f[2:], " "), At: now}), nil
		}
	case "replicas":
		if err := need(2); err != nil {
			return nil, err
		}
		var probes []ReplicaProbe
		for _, spec := range f[2:] {
			name, kvs, _ := strings.Cut(spec, ":")
			p := ReplicaProbe{Name: name, Replicating: true, IO: mysqlx.IOConnected}
			for _, kv := range strings.Split(kvs, ",") {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "sql":
					p.SQLErr = "connection refused"
				case "repl":
					p.Replicating = v != "no"
				case "io":
					p.IO = mysqlx.ParseIOThread(v)
				case "ioerr":
					p.IOErrno, _ = strconv.Atoi(v)
					p.IOError = "error reconnecting to master"
				case "read":
					// read=100>250: Read_Master_Log_Pos at the two samples.
					a, b, ok := strings.Cut(v, ">")
					if !ok {
						return nil, fmt.Errorf("read=%s: want before>after", v)
					}
					before, err1 := strconv.ParseUint(a, 10, 64)
					after, err2 := strconv.ParseUint(b, 10, 64)
					if err := errors.Join(err1, err2); err != nil {
						return nil, fmt.Errorf("read=%s: %w", v, err)
					}
					p.ReadBefore = binlog.Pos{File: "mysql-bin.000003", Offset: before}
					p.ReadAfter = binlog.Pos{File: "mysql-bin.000003", Offset: after}
				case "ssh":
					p.SSHErr = "ssh: i/o timeout"
				case "greet":
					r, detail, ok := greeting(v)
					if !ok {
						return nil, fmt.Errorf("unknown greet=%s", v)
					}
					p.Reach, p.ReachDetail = r, detail
				case "":
				default:
					return nil, fmt.Errorf("unknown replica key %q", k)
				}
			}
			probes = append(probes, p)
		}
		return m.Replicas(ep(), probes), nil
	case "secondary":
		if err := need(3); err != nil {
			return nil, err
		}
		if f[2] == "error" {
			return m.Secondary(ep(), 0, strings.Join(f[3:], " ")), nil
		}
		code, err := strconv.Atoi(f[2])
		if err != nil {
			return nil, err
		}
		return m.Secondary(ep(), code, ""), nil
	case "ssh":
		if err := need(3); err != nil {
			return nil, err
		}
		h, err := sshCheck(f[2])
		if err != nil {
			return nil, err
		}
		return m.SSH(ep(), h), nil
	}
	return nil, fmt.Errorf("unknown input %q", strings.Join(f, " "))
}

// sshCheck returns what MasterHostOf reads from the SSH check's outcome a
// scenario names.
func sshCheck(v string) (MasterHost, error) {
	var res sshexec.Result
	var err error
	name, arg, _ := strings.Cut(v, "=")
	switch name {
	case "no":
		err = errors.New("sshexec: dial root@198.18.1.11:22: connect: connection refused")
	case "yes":
		res.ExitCode = 124
		err = &sshexec.ExitError{Host: "root@198.18.1.11:22", Program: "env", Code: 124}
	case "noproc":
		res.Stdout = []byte("done\n")
	case "proc":
		res.Stdout = []byte("proc " + arg + " mariadbd\ndone\n")
	case "unit":
		active, sub, _ := strings.Cut(arg, "/")
		res.Stdout = []byte("systemd\nId=mariadb.service\nActiveState=" + active + "\nSubState=" + sub + "\nJob=\n\ndone\n")
	default:
		return MasterHost{}, fmt.Errorf("unknown ssh outcome %q", v)
	}
	return MasterHostOf(res, err, ProcessCheckTimeout), nil
}

// diffLines shows the first differing line with some context.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n want %q\n got  %q", i+1, wl, gl)
		}
	}
	return "(no difference)"
}

func TestJudge(t *testing.T) {
	advanced := func(p ReplicaProbe) ReplicaProbe {
		p.ReadBefore = binlog.Pos{File: "mysql-bin.000009", Offset: 4000}
		p.ReadAfter = binlog.Pos{File: "mysql-bin.000010", Offset: 4}
		return p
	}
	still := func(p ReplicaProbe) ReplicaProbe {
		p.ReadBefore = binlog.Pos{File: "mysql-bin.000010", Offset: 4}
		p.ReadAfter = p.ReadBefore
		return p
	}
	tests := []struct {
		name string
		p    ReplicaProbe
		want Vote
	}{
		{"greeting wins over a stopped IO thread", ReplicaProbe{Reach: ReachAnswers, Replicating: true, IO: mysqlx.IOStopped}, VoteAlive},
		{"error packet is alive", ReplicaProbe{Reach: ReachAnswers, ReachDetail: "error packet 1040", Replicating: true, IO: mysqlx.IOConnecting}, VoteAlive},
		{"refused wins over a stale IO Yes", ReplicaProbe{Reach: ReachRefused, Replicating: true, IO: mysqlx.IOConnected}, VoteDead},
		{"hung wins over a stale IO Yes", still(ReplicaProbe{Reach: ReachHung, Replicating: true, IO: mysqlx.IOConnected}), VoteDead},
		{"silent wins over a stale IO Yes", still(ReplicaProbe{Reach: ReachSilent, Replicating: true, IO: mysqlx.IOConnected}), VoteDead},
		{"IO Yes advancing wins over a silent probe", advanced(ReplicaProbe{Reach: ReachSilent, Replicating: true, IO: mysqlx.IOConnected}), VoteAlive},
		{"IO Yes advancing wins over a hung probe", advanced(ReplicaProbe{Reach: ReachHung, Replicating: true, IO: mysqlx.IOConnected}), VoteAlive},
		{"IO Yes advancing without SSH", advanced(ReplicaProbe{SSHErr: "down", Replicating: true, IO: mysqlx.IOConnected}), VoteAlive},
		{"advance of a reconnecting IO thread is not enough", advanced(ReplicaProbe{Reach: ReachRefused, Replicating: true, IO: mysqlx.IOConnecting}), VoteDead},
		{"advance on another source is not enough", advanced(ReplicaProbe{Reach: ReachRefused, Replicating: false, IO: mysqlx.IOConnected}), VoteDead},
		{"no probe, IO Yes", ReplicaProbe{SSHErr: "down", Replicating: true, IO: mysqlx.IOConnected}, VoteAlive},
		{"unknown probe, IO Yes", ReplicaProbe{Reach: ReachUnknown, Replicating: true, IO: mysqlx.IOConnected}, VoteAlive},
		{"no probe, IO Connecting", ReplicaProbe{SSHErr: "down", Replicating: true, IO: mysqlx.IOConnecting, IOErrno: 2003}, VoteDead},
		{"no probe, IO refused by the master's login check", ReplicaProbe{SSHErr: "down", Replicating: true, IO: mysqlx.IOConnecting, IOErrno: 1045}, VoteAlive},
		{"no probe, IO refused: too many connections", ReplicaProbe{SSHErr: "down", Replicating: true, IO: mysqlx.IOConnecting, IOErrno: 1040}, VoteAlive},
		{"refused port wins over a stale 1045", ReplicaProbe{Reach: ReachRefused, Replicating: true, IO: mysqlx.IOConnecting, IOErrno: 1045}, VoteDead},
		{"no probe, other source", ReplicaProbe{SSHErr: "down", Replicating: false, IO: mysqlx.IOConnected}, VoteNone},
		{"nothing answers", ReplicaProbe{SSHErr: "down", SQLErr: "timeout"}, VoteNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, line := Judge(tt.p); got != tt.want {
				t.Errorf("Judge = %v (%s), want %v", got, line, tt.want)
			}
		})
	}
}

func TestConclusive(t *testing.T) {
	silent := ReplicaProbe{Name: "db2", Reach: ReachSilent, Replicating: true, IO: mysqlx.IOConnected}
	tests := []struct {
		name   string
		probes []ReplicaProbe
		want   bool
	}{
		{"no replicas", nil, false},
		{"every probe dead", []ReplicaProbe{silent, {Name: "db3", Reach: ReachRefused, Replicating: true, IO: mysqlx.IOConnecting}}, true},
		{"one alive", []ReplicaProbe{silent, {Name: "db3", Reach: ReachAnswers}}, false},
		{"one without evidence", []ReplicaProbe{silent, {Name: "db3", SSHErr: "down", SQLErr: "timeout"}}, false},
		// A DBA's STOP SLAVE (or a connecting IO thread) without a probe
		// that ran votes dead, but is not enough to decide early.
		{"dead vote from the IO thread alone", []ReplicaProbe{silent, {Name: "db3", SSHErr: "down", Replicating: true, IO: mysqlx.IOStopped}}, false},
		{"dead vote with an inconclusive probe", []ReplicaProbe{{Name: "db3", Reach: ReachUnknown, Replicating: true, IO: mysqlx.IOConnecting, IOErrno: 2003}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Conclusive(tt.probes); got != tt.want {
				t.Errorf("Conclusive = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAdvanced(t *testing.T) {
	pos := func(f string, o uint64) binlog.Pos { return binlog.Pos{File: f, Offset: o} }
	tests := []struct {
		before, after binlog.Pos
		want          bool
	}{
		{pos("mysql-bin.000001", 100), pos("mysql-bin.000001", 101), true},
		{pos("mysql-bin.999999", 900), pos("mysql-bin.1000000", 4), true},
		{pos("mysql-bin.1000000", 4), pos("mysql-bin.999999", 900), false},
		{pos("mysql-bin.000001", 100), pos("mysql-bin.000001", 100), false},
		{binlog.Pos{}, pos("mysql-bin.000001", 100), false},
		{pos("a.000001", 1), pos("b.000001", 9), false},
	}
	for _, tt := range tests {
		p := ReplicaProbe{ReadBefore: tt.before, ReadAfter: tt.after}
		if got := p.Advanced(); got != tt.want {
			t.Errorf("Advanced(%s -> %s) = %v, want %v", tt.before, tt.after, got, tt.want)
		}
	}
}

func TestBuiltInKind(t *testing.T) {
	dead := func(r Reach) ReplicaProbe { return ReplicaProbe{Reach: r, Replicating: true, IO: mysqlx.IOConnected} }
	tests := []struct {
		name   string
		probes []ReplicaProbe
		dead   bool
		kind   FailureKind
	}{
		{"refused everywhere", []ReplicaProbe{dead(ReachRefused), dead(ReachRefused)}, true, FailureRefused},
		{"hung beats refused", []ReplicaProbe{dead(ReachRefused), dead(ReachHung)}, true, FailureHung},
		{"refused beats silent", []ReplicaProbe{dead(ReachSilent), dead(ReachRefused)}, true, FailureRefused},
		{"no route is silent", []ReplicaProbe{dead(ReachUnreachable), {SQLErr: "down", SSHErr: "down"}}, true, FailureSilent},
		{"IO threads only", []ReplicaProbe{{SSHErr: "down", Replicating: true, IO: mysqlx.IOConnecting}}, true, FailureUnknown},
		{"one alive", []ReplicaProbe{dead(ReachHung), {Reach: ReachAnswers}}, false, FailureUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, k, ev := BuiltIn(tt.probes)
			if d != tt.dead || k != tt.kind {
				t.Errorf("BuiltIn = %v %v, want %v %v\n%s", d, k, tt.dead, tt.kind, strings.Join(ev, "\n"))
			}
		})
	}
}

func TestSecondaryVerdict(t *testing.T) {
	for code, want := range map[int]bool{0: true, 1: false, 2: false, 3: false, 127: false} {
		if got, msg := SecondaryVerdict(code); got != want || msg == "" {
			t.Errorf("SecondaryVerdict(%d) = %v %q, want %v", code, got, msg, want)
		}
	}
}
