package topology

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/node/binlog"
)

// TestCodeTable checks the declarative table: every Code constant has one
// entry, and every entry is produced by at least one scenario in testdata/.
func TestCodeTable(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "findings.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var declared []Code
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for _, v := range vs.Values {
				s, err := strconv.Unquote(v.(*ast.BasicLit).Value)
				if err != nil {
					t.Fatal(err)
				}
				declared = append(declared, Code(s))
			}
		}
	}
	seen := map[Code]bool{}
	for _, ci := range Codes() {
		if seen[ci.Code] {
			t.Errorf("code %s is in the table twice", ci.Code)
		}
		seen[ci.Code] = true
		if ci.Meaning == "" || ci.Check == "" {
			t.Errorf("code %s lacks a meaning or a check", ci.Code)
		}
	}
	for _, c := range declared {
		if !seen[c] {
			t.Errorf("code %s is declared but not in the table", c)
		}
	}
	if len(declared) != len(seen) {
		t.Errorf("%d codes declared, %d in the table", len(declared), len(seen))
	}

	files, _ := filepath.Glob("testdata/*.txt")
	var all strings.Builder
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	for _, ci := range Codes() {
		if !strings.Contains(all.String(), "] "+string(ci.Code)+" ") &&
			!strings.Contains(all.String(), "] "+string(ci.Code)+":") {
			t.Errorf("no scenario produces %s", ci.Code)
		}
	}
}

func TestReport(t *testing.T) {
	var r Report
	if !r.OK() {
		t.Error("empty report is not OK")
	}
	r.add(CodeReplicaWritable, "db2(10.0.0.2:3306)", "read_only=%d", 0)
	r.add(CodeRelayLogPurge, "db2(10.0.0.2:3306)", "on")
	if !r.OK() || len(r.Problems()) != 1 || len(r.Errors()) != 0 {
		t.Errorf("info+warning: OK=%v problems=%d errors=%d", r.OK(), len(r.Problems()), len(r.Errors()))
	}
	var o Report
	o.add(CodeDeadServer, "db3(10.0.0.3:3306)", "down")
	o.add(Code("NoSuchCode"), "", "unknown codes count as errors")
	r.Merge(o)
	if r.OK() || !r.Has(CodeDeadServer) || r.Has(CodeLogBinOff) || len(r.Errors()) != 2 {
		t.Errorf("after merge: OK=%v errors=%d", r.OK(), len(r.Errors()))
	}
	want := "[info] ReplicaWritable db2(10.0.0.2:3306): read_only=0\n" +
		"[warning] RelayLogPurge db2(10.0.0.2:3306): on\n" +
		"[error] DeadServer db3(10.0.0.3:3306): down\n" +
		"[error] NoSuchCode: unknown codes count as errors\n"
	if diff := cmp.Diff(want, r.String()); diff != "" {
		t.Errorf("String (-want +got):\n%s", diff)
	}
}

func TestEnumsString(t *testing.T) {
	tests := []struct{ got, want string }{
		{SeverityInfo.String(), "info"},
		{SeverityWarning.String(), "warning"},
		{SeverityError.String(), "error"},
		{Severity(9).String(), "severity(9)"},
		{RoleFailedReplica.String(), "failed replica"},
		{Role(42).String(), "role(42)"},
		{GTIDMySQLNoAutoPos.String(), "2 (MySQL GTID without auto-position: file/position)"},
		{GTIDMode(7).String(), "7 (unknown)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if !GTIDMariaDB.UsesGTID() || GTIDMySQLNoAutoPos.UsesGTID() {
		t.Error("UsesGTID")
	}
}

func TestServerUpErrno(t *testing.T) {
	for _, n := range []int{1040, 1042, 1043, 1044, 1045, 1129, 1130, 1203, 1226, 1251, 1275} {
		if !ServerUpErrno(n) {
			t.Errorf("ServerUpErrno(%d) = false", n)
		}
	}
	for _, n := range []int{0, 2003, 2013, 1205} {
		if ServerUpErrno(n) {
			t.Errorf("ServerUpErrno(%d) = true", n)
		}
	}
}

// srv is a compact server for the API tests below.
func srv(host string, last byte, st *mysqlx.State) Observation {
	return Observation{
		Server: config.Server{Block: "server_" + host, Params: config.Params{
			Hostname: host, IP: "198.18.0." + strconv.Itoa(int(last)), Port: 3306,
			CheckReplFilter: true, CheckReplDelay: true, LatestPriority: true, UseGTIDAutoPos: true,
		}},
		State: st,
	}
}

func state(id uint32, read string) *mysqlx.State {
	st := &mysqlx.State{ServerID: id, LogBin: true, ReadOnly: true, SlaveNetTimeout: 60, HeartbeatPeriod: 30,
		Version: mysqlx.Version{Major: 10, Minor: 11, Patch: 19, Flavor: mysqlx.MariaDB, Raw: "10.11.19-MariaDB"}}
	if read != "" {
		file, off, _ := strings.Cut(read, ":")
		n, _ := strconv.ParseUint(off, 10, 64)
		zero := int64(0)
		st.Replica = &mysqlx.ReplicaStatus{SourceHost: "198.18.0.11", SourcePort: 3306, IORunning: mysqlx.IOConnected, SQLRunning: true,
			Read: binlog.Pos{File: file, Offset: n}, Exec: binlog.Pos{File: file, Offset: n}, SecondsBehind: &zero}
	}
	return st
}

// TestTreeShape pins MHA's exact tree shape without details.
func TestTreeShape(t *testing.T) {
	master := srv("198.18.0.11", 11, state(1, ""))
	master.State.ReadOnly = false
	obs := []Observation{master, srv("198.18.0.12", 12, state(2, "mysql-bin.000001:4")), srv("198.18.0.13", 13, state(3, "mysql-bin.000001:4"))}
	topo, rep := Build(obs, Options{})
	if !rep.OK() {
		t.Fatalf("report: %s", rep)
	}
	want := "198.18.0.11(198.18.0.11:3306) (current master)\n" +
		" +--198.18.0.12(198.18.0.12:3306)\n" +
		" +--198.18.0.13(198.18.0.13:3306)\n"
	if diff := cmp.Diff(want, topo.Tree(TreeOptions{})); diff != "" {
		t.Errorf("Tree (-want +got):\n%s", diff)
	}
	if got := topo.Lookup("198.18.0.12", 3306); got == nil || got.Server.Hostname != "198.18.0.12" {
		t.Errorf("Lookup by ip = %v", got)
	}
	if got := topo.Lookup("198.18.0.12", 3307); got != nil {
		t.Errorf("Lookup with another port = %v", got.Host())
	}
}

// TestAccessors checks the role lists on a cluster with one server of each
// kind.
func TestAccessors(t *testing.T) {
	master := srv("db1", 11, state(1, ""))
	master.State.ReadOnly = false
	failed := srv("db3", 13, state(3, "mysql-bin.000001:4"))
	failed.State.Replica.SQLRunning = false
	failed.State.Replica.LastSQLErrno = 1062
	unmanaged := srv("db4", 14, state(4, "mysql-bin.000001:4"))
	unmanaged.State.Replica.SourceHost = "db2"
	unmanaged.Server.MultiTierSlave = true
	dead := srv("db5", 15, nil)
	obs := []Observation{master, srv("db2", 12, state(2, "mysql-bin.000001:4")), failed, unmanaged, dead}
	topo, _ := Build(obs, Options{})
	names := func(ns []*Node) []string {
		var s []string
		for _, n := range ns {
			s = append(s, n.Server.Hostname)
		}
		return s
	}
	tests := []struct {
		name string
		got  []*Node
		want []string
	}{
		{"Replicas", topo.Replicas(), []string{"db2"}},
		{"Alive", topo.Alive(), []string{"db1", "db2", "db3"}},
		{"Dead", topo.Dead(), []string{"db5"}},
		{"Failed", topo.Failed(), []string{"db3"}},
		{"Unmanaged", topo.Unmanaged(), []string{"db4"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, names(tt.got)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	if topo.Master == nil || topo.Master.Server.Hostname != "db1" || topo.Nodes[3].Source != topo.Nodes[1] {
		t.Errorf("master %v, db4's source %v", topo.Master, topo.Nodes[3].Source)
	}
}

func TestRelayLogFloor(t *testing.T) {
	tests := []struct {
		name    string
		reads   []string
		ignore  []bool
		want    string
		wantOK  bool
		wantErr bool
	}{
		{name: "oldest of all", reads: []string{"mysql-bin.000003:900", "mysql-bin.000002:100", "mysql-bin.000003:5"}, ignore: []bool{false, false, false}, want: "mysql-bin.000002:100", wantOK: true},
		{name: "ignore_fail replicas do not hold the floor back", reads: []string{"mysql-bin.000003:900", "mysql-bin.000002:100"}, ignore: []bool{false, true}, want: "mysql-bin.000003:900", wantOK: true},
		{name: "numeric file order", reads: []string{"mysql-bin.1000000:4", "mysql-bin.999999:800"}, ignore: []bool{false, false}, want: "mysql-bin.999999:800", wantOK: true},
		{name: "every replica ignore_fail", reads: []string{"mysql-bin.000003:900"}, ignore: []bool{true}, want: ":0"},
		{name: "different series", reads: []string{"a-bin.000001:4", "b-bin.000001:4"}, ignore: []bool{false, false}, want: ":0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var nodes []*Node
			for i, r := range tt.reads {
				o := srv("r"+strconv.Itoa(i), byte(20+i), state(uint32(i+2), r))
				nodes = append(nodes, &Node{Server: o.Server, State: o.State, Role: RoleReplica})
				nodes[i].Server.IgnoreFail = tt.ignore[i]
			}
			floor, ok, err := RelayLogFloor(nodes)
			if (err != nil) != tt.wantErr || ok != tt.wantOK || floor.String() != tt.want {
				t.Errorf("RelayLogFloor = %v, %v, %v; want %s, %v, err=%v", floor, ok, err, tt.want, tt.wantOK, tt.wantErr)
			}
		})
	}
}

func TestLatestReplicasRejectsNonReplica(t *testing.T) {
	o := srv("db1", 11, state(1, ""))
	if _, _, err := LatestReplicas([]*Node{{Server: o.Server, State: o.State}}); err == nil {
		t.Error("LatestReplicas accepted a server that is not a replica")
	}
}

func TestOptionsDefaults(t *testing.T) {
	b := &builder{t: &Topology{}}
	if b.pingInterval() != DefaultPingInterval || b.maxSlaveNetTimeout() != DefaultMaxSlaveNetTimeout || b.maxHeartbeat() != 30*time.Second {
		t.Errorf("defaults: ping %s net %s heartbeat %s", b.pingInterval(), b.maxSlaveNetTimeout(), b.maxHeartbeat())
	}
	b.opts = Options{PingInterval: time.Second, MaxSlaveNetTimeout: 2 * time.Minute, MaxHeartbeatPeriod: 7 * time.Second}
	if b.pingInterval() != time.Second || b.maxSlaveNetTimeout() != 2*time.Minute || b.maxHeartbeat() != 7*time.Second {
		t.Errorf("overrides: ping %s net %s heartbeat %s", b.pingInterval(), b.maxSlaveNetTimeout(), b.maxHeartbeat())
	}
}

// TestBuildInvariants feeds Build many generated clusters (fixed seed) and
// checks properties that must hold for any input: no panic, a clean report
// means a master with at least one working replica and no stray server, and
// the tree lists every server once.
func TestBuildInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sources := []string{"", "198.18.0.11", "198.18.0.12", "198.18.0.13", "198.18.0.99"}
	for i := 0; i < 3000; i++ {
		var obs []Observation
		for j := 0; j < 3; j++ {
			var st *mysqlx.State
			if rng.IntN(5) > 0 {
				st = state(uint32(rng.IntN(4)+1), "")
				st.ReadOnly = rng.IntN(2) == 0
				st.LogBin = rng.IntN(4) > 0
				if src := sources[rng.IntN(len(sources))]; src != "" {
					st.Replica = state(0, "mysql-bin.00000"+strconv.Itoa(rng.IntN(3)+1)+":"+strconv.Itoa(rng.IntN(1000))).Replica
					st.Replica.SourceHost = src
					st.Replica.SQLRunning = rng.IntN(5) > 0
					if !st.Replica.SQLRunning && rng.IntN(2) == 0 {
						st.Replica.LastSQLErrno = 1062
					}
				}
			}
			o := srv("db"+strconv.Itoa(j+1), byte(11+j), st)
			if st == nil {
				o.Err = errors.New("down")
			}
			o.Server.MultiTierSlave = rng.IntN(2) == 0
			o.Server.IgnoreFail = rng.IntN(2) == 0
			o.Server.CandidateMaster = rng.IntN(3) == 0
			o.Server.NoMaster = rng.IntN(5) == 0
			obs = append(obs, o)
		}
		topo, rep := Build(obs, Options{IgnoreFailOnStart: rng.IntN(2) == 0})
		tree := topo.Tree(TreeOptions{Details: true})
		for _, n := range topo.Nodes {
			if strings.Count(tree, n.Host()+" ")+strings.Count(tree, n.Host()+"\n") < 1 {
				t.Fatalf("case %d: %s missing from tree:\n%s", i, n.Host(), tree)
			}
		}
		if lines := strings.Count(tree, "\n"); lines != len(topo.Nodes) {
			t.Fatalf("case %d: tree has %d lines for %d servers:\n%s", i, lines, len(topo.Nodes), tree)
		}
		if rep.OK() {
			if topo.Master == nil || topo.Master.Role != RoleMaster || len(topo.Replicas()) == 0 {
				t.Fatalf("case %d: clean report without master or replicas:\n%s%s", i, tree, rep)
			}
			for _, n := range topo.Nodes {
				if n.Role == RoleStray || n.Role == RoleFailedReplica {
					t.Fatalf("case %d: clean report with %s %s:\n%s%s", i, n.Role, n.Host(), tree, rep)
				}
			}
			sel, err := SelectNewMaster(topo, SelectOptions{})
			if err == nil && sel.NewMaster.Role != RoleReplica {
				t.Fatalf("case %d: new master %s is a %s", i, sel.NewMaster.Host(), sel.NewMaster.Role)
			}
		}
		_ = CheckReplHealth(topo, 0)
	}
}

// TestWrongPasswordNamesItsLine: access denied (1045) points at the lines
// that set the manager's password and user, not only at the block.
func TestWrongPasswordNamesItsLine(t *testing.T) {
	var s config.Server
	s.Block, s.Hostname, s.IP, s.Port = "server1", "db1", "10.0.0.1", 3306
	s.Origins = map[string]string{"password": "/etc/mha/app1.cnf:3 [server default]", "user": "/etc/mha/app1.cnf:2 [server default]"}
	_, rep := Build([]Observation{{Server: s, Err: errors.New("Access denied for user 'mha'@'10.0.0.9'"), Errno: 1045}}, Options{})
	var msg string
	for _, f := range rep.Findings {
		if f.Code == CodeConnectRefused {
			msg = f.Message
		}
	}
	if !strings.Contains(msg, "(password set at /etc/mha/app1.cnf:3 [server default]; user set at /etc/mha/app1.cnf:2 [server default])") {
		t.Fatalf("finding: %q", msg)
	}
	_, rep = Build([]Observation{{Server: s, Err: errors.New("Too many connections"), Errno: 1040}}, Options{})
	for _, f := range rep.Findings {
		if f.Code == CodeConnectRefused && strings.Contains(f.Message, "password set at") {
			t.Fatalf("1040 names the password line: %q", f.Message)
		}
	}
}
