package failover

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

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/manager/topology"
	"github.com/gomha/gomha/node/binlog"
)

var update = flag.Bool("update", false, "rewrite the expected plans in testdata/*.txt (review the diff)")

// TestPlanScenarios replays testdata/*.txt: facts in, plan out. A file is a
// leading comment block, then cases:
//
//	=== name
//	plan [ssh=yes|no|unknown] [tail_problem="..."] [skip_save] [new_master=host]
//	<block> <hostname> <ip>:<port> [key[=value] ...]
//	----
//	<Plan.String()>
//
// The first server is the dead master. Replica keys: read=FILE:POS (also
// sets exec), exec=FILE:POS, candidate_master, no_master, ignore_fail,
// check_repl_delay=0, gtid (MariaDB GTID, Using_Gtid=Slave_Pos),
// no_log_slave_updates, dead, problem="..." (a failed pre-check), gone (no
// session: not a survivor).
func TestPlanScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := replayPlans(string(b))
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != string(b) {
				t.Errorf("%s differs (go test -run TestPlanScenarios -update, then review the diff):\n%s", file, firstDiff(string(b), got))
			}
		})
	}
}

func firstDiff(want, got string) string {
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
			return fmt.Sprintf("line %d:\n  want %q\n  got  %q", i+1, wl, gl)
		}
	}
	return ""
}

// replayPlans rewrites a scenario file with the plans NewPlan returns.
func replayPlans(text string) (string, error) {
	var out strings.Builder
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	i := 0
	for i < len(lines) && !strings.HasPrefix(lines[i], "=== ") {
		out.WriteString(lines[i] + "\n")
		i++
	}
	for i < len(lines) {
		name := lines[i]
		out.WriteString(name + "\n")
		i++
		var cmd []string
		var servers [][]string
		for ; i < len(lines) && lines[i] != "----"; i++ {
			out.WriteString(lines[i] + "\n")
			l := strings.TrimSpace(lines[i])
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			toks, err := splitTokens(l)
			if err != nil {
				return "", fmt.Errorf("%s: %w", name, err)
			}
			if cmd == nil {
				cmd = toks
			} else {
				servers = append(servers, toks)
			}
		}
		if i == len(lines) {
			return "", fmt.Errorf("%s: no ---- line", name)
		}
		i++
		for i < len(lines) && !strings.HasPrefix(lines[i], "=== ") {
			i++
		}
		got, err := planCase(cmd, servers)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		out.WriteString("----\n" + got)
		if i < len(lines) {
			out.WriteString("\n")
		}
	}
	return out.String(), nil
}

func splitTokens(s string) ([]string, error) {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		end := strings.IndexByte(s, ' ')
		if q := strings.IndexByte(s, '"'); q >= 0 && (end < 0 || q < end) {
			rest := s[q+1:]
			c := strings.IndexByte(rest, '"')
			if c < 0 {
				return nil, fmt.Errorf("unterminated quote in %q", s)
			}
			end = q + 1 + c + 1
			if end < len(s) && s[end] != ' ' {
				return nil, fmt.Errorf("text after a quote in %q", s)
			}
			if end == len(s) {
				end = -1
			}
		}
		if end < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out, nil
}

func pos(s string) (binlog.Pos, error) {
	f, o, ok := strings.Cut(s, ":")
	if !ok {
		return binlog.Pos{}, fmt.Errorf("%q is not file:pos", s)
	}
	n, err := strconv.ParseUint(o, 10, 64)
	return binlog.Pos{File: f, Offset: n}, err
}

func planCase(cmd []string, servers [][]string) (string, error) {
	if len(cmd) == 0 || cmd[0] != "plan" {
		return "", fmt.Errorf("want a plan command, got %q", cmd)
	}
	if len(servers) < 2 {
		return "", errors.New("need the dead master and a replica")
	}
	snap := Snapshot{DeadSSH: sshexec.Reachable, Problems: map[string][]string{}, Survivors: []string{}}
	var po PlanOptions
	for _, tok := range cmd[1:] {
		k, v, _ := strings.Cut(tok, "=")
		v = strings.Trim(v, `"`)
		switch k {
		case "ssh":
			snap.DeadSSH = map[string]sshexec.Reach{"yes": sshexec.Reachable, "no": sshexec.Unreachable, "unknown": sshexec.ReachUnknown}[v]
		case "tail_problem":
			snap.TailProblem = v
		case "skip_save":
			po.SkipSaveMasterBinlog = true
		case "new_master":
			po.NewMasterHost = v
		default:
			return "", fmt.Errorf("unknown plan option %q", k)
		}
	}
	var obs []topology.Observation
	master := servers[0]
	mip, mport, _ := strings.Cut(master[2], ":")
	for i, toks := range servers {
		ip, port, ok := strings.Cut(toks[2], ":")
		if !ok {
			return "", fmt.Errorf("%q is not ip:port", toks[2])
		}
		p, _ := strconv.Atoi(port)
		o := topology.Observation{Server: config.Server{Block: toks[0], Line: i*10 + 1, Params: config.Params{
			Hostname: toks[1], IP: ip, Port: p, CheckReplDelay: true, LatestPriority: true, UseGTIDAutoPos: true,
			PingInterval: 3 * time.Second,
		}}}
		if i == 0 {
			o.Err = errors.New("dead master (not contacted)")
			obs = append(obs, o)
			continue
		}
		mp, _ := strconv.Atoi(mport)
		rd, _ := pos("mysql-bin.000003:1786")
		st := &mysqlx.State{Version: mysqlx.Version{Raw: "10.11.19-MariaDB-log", Flavor: mysqlx.MariaDB, Major: 10, Minor: 11, Patch: 19},
			ServerID: uint32(i + 1), LogBin: true, LogSlaveUpdates: true, ReadOnly: true, SlaveNetTimeout: 60, HeartbeatPeriod: 30,
			Binlog:  binlog.Pos{File: "mysql-bin.000001", Offset: 328},
			Replica: &mysqlx.ReplicaStatus{SourceHost: mip, SourcePort: mp, Read: rd, Exec: rd, IORunning: mysqlx.IOStopped, SQLRunning: false}}
		gone := false
		for _, tok := range toks[3:] {
			k, v, _ := strings.Cut(tok, "=")
			v = strings.Trim(v, `"`)
			var err error
			switch k {
			case "read":
				st.Replica.Read, err = pos(v)
				st.Replica.Exec = st.Replica.Read
			case "exec":
				st.Replica.Exec, err = pos(v)
			case "candidate_master":
				o.Server.CandidateMaster = true
			case "no_master":
				o.Server.NoMaster = true
			case "ignore_fail":
				o.Server.IgnoreFail = true
			case "check_repl_delay":
				o.Server.CheckReplDelay = v != "0"
			case "gtid":
				st.Replica.UsingGTID = "Slave_Pos"
				st.GTID.SlavePos = "0-1-100"
				st.GTID.CurrentPos = "0-1-100"
			case "no_log_slave_updates":
				st.LogSlaveUpdates = false
			case "dead":
				o.Err = errors.New("dial tcp " + toks[2] + ": connect: connection refused")
			case "problem":
				snap.Problems[toks[0]] = append(snap.Problems[toks[0]], v)
			case "gone":
				gone = true
			default:
				return "", fmt.Errorf("unknown server key %q", k)
			}
			if err != nil {
				return "", err
			}
		}
		if o.Err == nil {
			o.State = st
			if !gone {
				snap.Survivors = append(snap.Survivors, toks[0])
			}
		}
		obs = append(obs, o)
	}
	t, rep := topology.Build(obs, topology.Options{IgnoreFailOnStart: true})
	snap.Topo, snap.Report = t, rep
	p := NewPlan(snap, po)
	return p.String(), nil
}
