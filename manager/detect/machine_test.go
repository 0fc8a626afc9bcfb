package detect

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the actions the machine returns")

// TestScenarios replays every testdata/*.txt file through a Machine. A file
// is a sequence of lines:
//
//	# comment                         copied as is
//	config [secondary] [builtin] [threshold=N]   first, once
//	> tick                            an input; the lines after it, up to the
//	state PING_OK                     next input or comment, are the actions
//	                                  it must return (Action.String)
//
// Inputs:
//
//	> tick
//	> ping ok | ping timeout | ping error <errno> <text> | ping neterr <text>
//	> replicas <episode> <name>:<k=v,...> ...   keys: sql=down, repl=no,
//	                                  io=Yes|Connecting|No, ioerr=<n>,
//	                                  ssh=down, tcp=yes|no|unknown
//	> secondary <episode> <code> | secondary <episode> error <text>
//	> ssh <episode> yes|no
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
			acts, err := feed(m, strings.Fields(line[2:]))
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

func feed(m *Machine, f []string) ([]Action, error) {
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
			return m.Ping(PingResult{OK: true}), nil
		case "timeout":
			return m.Ping(PingResult{Timeout: true, Err: "context deadline exceeded"}), nil
		case "error":
			if err := need(3); err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(f[2])
			if err != nil {
				return nil, err
			}
			return m.Ping(PingResult{Errno: uint16(n), Err: strings.Join(f[3:], " ")}), nil
		case "neterr":
			return m.Ping(PingResult{Err: strings.Join(f[2:], " ")}), nil
		}
	case "replicas":
		if err := need(2); err != nil {
			return nil, err
		}
		var probes []ReplicaProbe
		for _, spec := range f[2:] {
			name, kvs, _ := strings.Cut(spec, ":")
			p := ReplicaProbe{Name: name, Replicating: true, IORunning: "Yes"}
			for _, kv := range strings.Split(kvs, ",") {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "sql":
					p.SQLErr = "connection refused"
				case "repl":
					p.Replicating = v != "no"
				case "io":
					p.IORunning = v
				case "ioerr":
					p.IOErrno, _ = strconv.Atoi(v)
					p.IOError = "error reconnecting to master"
				case "ssh":
					p.SSHErr = "ssh: i/o timeout"
				case "tcp":
					switch v {
					case "yes":
						p.TCP = ReachYes
					case "no":
						p.TCP, p.TCPDetail = ReachNo, "exit 1: Connection refused"
					}
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
		return m.SSH(ep(), f[2] == "yes"), nil
	}
	return nil, fmt.Errorf("unknown input %q", strings.Join(f, " "))
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
	tests := []struct {
		name string
		p    ReplicaProbe
		want Vote
	}{
		{"tcp yes wins over a stopped IO thread", ReplicaProbe{TCP: ReachYes, Replicating: true, IORunning: "No"}, VoteAlive},
		{"tcp no wins over a stale IO Yes", ReplicaProbe{TCP: ReachNo, Replicating: true, IORunning: "Yes"}, VoteDead},
		{"no probe, IO Yes", ReplicaProbe{SSHErr: "down", Replicating: true, IORunning: "Yes"}, VoteAlive},
		{"no probe, IO Connecting", ReplicaProbe{SSHErr: "down", Replicating: true, IORunning: "Connecting", IOErrno: 2003}, VoteDead},
		{"no probe, other source", ReplicaProbe{SSHErr: "down", Replicating: false, IORunning: "Yes"}, VoteNone},
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

func TestSecondaryVerdict(t *testing.T) {
	for code, want := range map[int]bool{0: true, 1: false, 2: false, 3: false, 127: false} {
		if got, msg := SecondaryVerdict(code); got != want || msg == "" {
			t.Errorf("SecondaryVerdict(%d) = %v %q, want %v", code, got, msg, want)
		}
	}
}
