package topology

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

	"github.com/google/go-cmp/cmp"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/node/binlog"
)

// The scenario files in testdata/ hold whole cases as text, in the spirit of
// etcd-raft's interaction tests:
//
//	# comment
//	=== case name
//	<command> [option ...]
//	<block> <hostname> <ip>:<port> [key[=value] ...]
//	    [more key=value for the same server on indented lines]
//	----
//	<expected output>
//
// Commands: build (tree with details and the start-up report), check-repl
// (start-up report plus CheckReplHealth), select (SelectNewMaster). Server
// keys and their defaults are in observation below; "read=" also sets Exec,
// so write "exec=" after it. Run `go test -update` to rewrite the
// expected outputs after a deliberate change, then review the diff.
var update = flag.Bool("update", false, "rewrite the expected output of testdata scenarios")

type scenario struct {
	name    string
	command []string
	servers [][]string // tokens per server
	input   []string   // raw input lines, kept for -update
	want    string
}

func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenario files in testdata/")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			head, cases, err := parseScenarios(string(data))
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			out.WriteString(head)
			for i := range cases {
				c := &cases[i]
				got, err := runScenario(c)
				switch {
				case err != nil:
					t.Errorf("%s: %v", c.name, err) // kept as is by -update
				case *update:
					c.want = got
				default:
					if diff := cmp.Diff(c.want, got); diff != "" {
						t.Errorf("%s: output differs (-want +got):\n%s", c.name, diff)
					}
				}
				out.WriteString(strings.Join(c.input, "\n"))
				out.WriteString("\n----\n")
				out.WriteString(c.want)
				if i < len(cases)-1 {
					out.WriteString("\n")
				}
			}
			if *update && !t.Failed() {
				if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// parseScenarios splits a file into its leading comment block and cases.
func parseScenarios(text string) (head string, cases []scenario, err error) {
	lines := strings.Split(text, "\n")
	i := 0
	for i < len(lines) && !strings.HasPrefix(lines[i], "=== ") {
		head += lines[i] + "\n"
		i++
	}
	for i < len(lines) {
		c := scenario{name: strings.TrimPrefix(lines[i], "=== ")}
		c.input = append(c.input, lines[i])
		i++
		for ; i < len(lines) && lines[i] != "----"; i++ {
			line := lines[i]
			c.input = append(c.input, line)
			trimmed := strings.TrimSpace(line)
			switch {
			case trimmed == "" || strings.HasPrefix(trimmed, "#"):
			case c.command == nil:
				c.command, err = tokens(trimmed)
			case line[0] == ' ' || line[0] == '\t':
				if len(c.servers) == 0 {
					return "", nil, fmt.Errorf("%s: continuation line before any server: %q", c.name, line)
				}
				var more []string
				more, err = tokens(trimmed)
				c.servers[len(c.servers)-1] = append(c.servers[len(c.servers)-1], more...)
			default:
				var toks []string
				toks, err = tokens(trimmed)
				c.servers = append(c.servers, toks)
			}
			if err != nil {
				return "", nil, fmt.Errorf("%s: %w", c.name, err)
			}
		}
		if i == len(lines) {
			return "", nil, fmt.Errorf("%s: no ---- line", c.name)
		}
		i++ // skip ----
		var want []string
		for ; i < len(lines) && !strings.HasPrefix(lines[i], "=== "); i++ {
			want = append(want, lines[i])
		}
		for len(want) > 0 && strings.TrimSpace(want[len(want)-1]) == "" {
			want = want[:len(want)-1]
		}
		c.want = strings.Join(want, "\n") + "\n"
		cases = append(cases, c)
	}
	return head, cases, nil
}

// tokens splits on spaces; a value may be double-quoted (Go syntax).
func tokens(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inQuote, escaped := false, false
	for _, r := range s {
		switch {
		case escaped:
			escaped = false
		case inQuote && r == '\\':
			escaped = true
		case r == '"':
			inQuote = !inQuote
		case r == ' ' && !inQuote:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteRune(r)
	}
	if inQuote {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out, nil
}

// kv splits "key=value" (value unquoted) or "flag" (value "").
func kv(tok string) (string, string, error) {
	k, v, _ := strings.Cut(tok, "=")
	if strings.HasPrefix(v, `"`) {
		u, err := strconv.Unquote(v)
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", tok, err)
		}
		v = u
	}
	return k, v, nil
}

func parsePos(s string) (binlog.Pos, error) {
	file, off, ok := strings.Cut(s, ":")
	if !ok {
		return binlog.Pos{}, fmt.Errorf("position %q is not file:offset", s)
	}
	n, err := strconv.ParseUint(off, 10, 64)
	if err != nil {
		return binlog.Pos{}, fmt.Errorf("position %q: %w", s, err)
	}
	return binlog.Pos{File: file, Offset: n}, nil
}

func parseVersion(s string) mysqlx.Version {
	v := mysqlx.Version{Raw: s}
	if strings.Contains(s, "MariaDB") {
		v.Flavor = mysqlx.MariaDB
	}
	nums := []*int{&v.Major, &v.Minor, &v.Patch}
	rest := s
	for _, p := range nums {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			break
		}
		*p, _ = strconv.Atoi(rest[:i])
		rest = rest[i:]
		if !strings.HasPrefix(rest, ".") {
			break
		}
		rest = rest[1:]
	}
	return v
}

const (
	defaultPos     = "mysql-bin.000003:1786"
	defaultVersion = "10.11.19-MariaDB-log"
)

// observation builds one server's facts from its tokens.
func observation(idx int, toks []string) (Observation, error) {
	if len(toks) < 3 {
		return Observation{}, fmt.Errorf("server line needs <block> <hostname> <ip>:<port>: %q", toks)
	}
	ip, port, ok := strings.Cut(toks[2], ":")
	if !ok {
		return Observation{}, fmt.Errorf("%q is not ip:port", toks[2])
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return Observation{}, fmt.Errorf("port %q: %w", port, err)
	}
	o := Observation{Server: config.Server{Block: toks[0], Line: idx*10 + 1, Params: config.Params{
		Hostname: toks[1], IP: ip, Port: p,
		CheckReplDelay: true, CheckReplFilter: true, LatestPriority: true, UseGTIDAutoPos: true,
		PingInterval: 3 * time.Second,
	}}}
	st := &mysqlx.State{
		Version:         parseVersion(defaultVersion),
		ServerID:        uint32(idx + 1),
		LogBin:          true,
		SlaveNetTimeout: 60,
		Binlog:          binlog.Pos{File: "mysql-bin.000003", Offset: 1786},
	}
	var rs *mysqlx.ReplicaStatus
	replica := func() *mysqlx.ReplicaStatus {
		if rs == nil {
			pos, _ := parsePos(defaultPos)
			zero := int64(0)
			rs = &mysqlx.ReplicaStatus{Read: pos, Exec: pos, IORunning: mysqlx.IOConnected, SQLRunning: true, SecondsBehind: &zero}
		}
		return rs
	}
	dead := false
	hb := -1.0
	for _, tok := range toks[3:] {
		k, v, err := kv(tok)
		if err != nil {
			return Observation{}, err
		}
		atoi := func() int {
			n, e := strconv.Atoi(v)
			if e != nil && err == nil {
				err = fmt.Errorf("%s: %w", tok, e)
			}
			return n
		}
		switch k {
		// configuration
		case "candidate_master":
			o.Server.CandidateMaster = true
		case "no_master":
			o.Server.NoMaster = true
		case "ignore_fail":
			o.Server.IgnoreFail = true
		case "multi_tier_slave":
			o.Server.MultiTierSlave = true
		case "check_repl_filter":
			o.Server.CheckReplFilter = v != "0"
		case "check_repl_delay":
			o.Server.CheckReplDelay = v != "0"
		case "latest_priority":
			o.Server.LatestPriority = v != "0"
		case "use_gtid_auto_pos":
			o.Server.UseGTIDAutoPos = v != "0"
		case "label":
			o.Server.NodeLabel = v
		case "ping":
			o.Server.PingInterval, err = time.ParseDuration(v)
		// reachability
		case "dead":
			dead = true
			if v == "" {
				v = "dial tcp " + toks[2] + ": connect: connection refused"
			}
			o.Err = errors.New(v)
		case "errno":
			o.Errno = atoi()
		// server state
		case "version":
			st.Version = parseVersion(v)
		case "id":
			st.ServerID = uint32(atoi())
		case "ro":
			st.ReadOnly = true
		case "no_log_bin":
			st.LogBin = false
			st.Binlog = binlog.Pos{}
		case "purge":
			st.RelayLogPurge = true
		case "net_timeout":
			st.SlaveNetTimeout = atoi()
		case "heartbeat":
			hb, err = strconv.ParseFloat(v, 64)
		case "binlog":
			st.Binlog, err = parsePos(v)
		case "binlog_do_db":
			st.BinlogDoDB = v
		case "binlog_ignore_db":
			st.BinlogIgnoreDB = v
		case "gtid_mode":
			st.GTID.Mode = v
		case "executed":
			st.GTID.Executed = v
		case "current_pos":
			st.GTID.CurrentPos = v
		case "slave_pos":
			st.GTID.SlavePos = v
		case "binlog_pos":
			st.GTID.BinlogPos = v
		// replication
		case "source":
			h, pp, ok := strings.Cut(v, ":")
			if !ok {
				return Observation{}, fmt.Errorf("source %q is not host:port", v)
			}
			replica().SourceHost = h
			replica().SourcePort, err = strconv.Atoi(pp)
		case "source_ips":
			o.SourceIPs = strings.Split(v, ",")
		case "read":
			replica().Read, err = parsePos(v)
			replica().Exec = replica().Read
		case "exec":
			replica().Exec, err = parsePos(v)
		case "io":
			replica().IORunning = mysqlx.ParseIOThread(v)
		case "io_errno":
			replica().LastIOErrno = atoi()
		case "io_error":
			replica().LastIOError = v
		case "sql":
			replica().SQLRunning = v == "Yes"
		case "sql_errno":
			replica().LastSQLErrno = atoi()
		case "sql_error":
			replica().LastSQLError = v
		case "lag":
			if v == "null" {
				replica().SecondsBehind = nil
			} else {
				n := int64(atoi())
				replica().SecondsBehind = &n
			}
		case "using_gtid":
			replica().UsingGTID = v
		case "auto_position":
			replica().AutoPosition = true
		case "repl_executed":
			replica().ExecutedGTIDSet = v
		case "replicate_do_db":
			replica().Filters.ReplicateDoDB = v
		case "replicate_ignore_db":
			replica().Filters.ReplicateIgnoreDB = v
		case "replicate_do_table":
			replica().Filters.ReplicateDoTable = v
		case "replicate_wild_ignore_table":
			replica().Filters.ReplicateWildIgnoreTbl = v
		default:
			return Observation{}, fmt.Errorf("unknown key %q", k)
		}
		if err != nil {
			return Observation{}, err
		}
	}
	if rs != nil {
		if rs.ExecutedGTIDSet == "" && st.GTID.Mode == "ON" {
			rs.ExecutedGTIDSet = st.GTID.Executed
		}
		if hb < 0 {
			hb = float64(st.SlaveNetTimeout) / 2
		}
		st.HeartbeatPeriod = hb
		st.Replica = rs
	}
	if !dead {
		o.State = st
	}
	return o, nil
}

func runScenario(c *scenario) (string, error) {
	if len(c.command) == 0 {
		return "", errors.New("no command")
	}
	var obs []Observation
	for i, toks := range c.servers {
		o, err := observation(i, toks)
		if err != nil {
			return "", err
		}
		obs = append(obs, o)
	}
	var opts Options
	var sopts SelectOptions
	maxLag := time.Duration(0)
	var t *Topology
	var rep Report
	topo := func() *Topology {
		if t == nil {
			t, rep = Build(obs, opts)
		}
		return t
	}
	for _, tok := range c.command[1:] {
		k, v, err := kv(tok)
		if err != nil {
			return "", err
		}
		switch k {
		case "ignore_fail_on_start":
			opts.IgnoreFailOnStart = true
		case "ping":
			opts.PingInterval, err = time.ParseDuration(v)
		case "max_lag":
			maxLag, err = time.ParseDuration(v)
		case "new_master":
			h, p, _ := strings.Cut(v, ":")
			sopts.NewMasterHost = h
			if p != "" {
				sopts.NewMasterPort, err = strconv.Atoi(p)
			}
		case "skip_delay":
			sopts.SkipDelayCheck = true
		case "floor":
			sopts.Floor, err = parsePos(v)
		case "base", "exclude":
			// resolved after Build, below
		default:
			return "", fmt.Errorf("unknown option %q", k)
		}
		if err != nil {
			return "", err
		}
	}
	var out strings.Builder
	switch c.command[0] {
	case "build":
		t := topo()
		fmt.Fprintf(&out, "gtid mode: %s\n", t.GTIDMode)
		out.WriteString(t.Tree(TreeOptions{Details: true}))
		writeReport(&out, rep)
	case "check-repl":
		t := topo()
		all := rep
		all.Merge(CheckReplHealth(t, maxLag))
		out.WriteString(t.Tree(TreeOptions{}))
		writeReport(&out, all)
	case "select":
		t := topo()
		for _, tok := range c.command[1:] {
			k, v, _ := kv(tok)
			switch k {
			case "base":
				if sopts.Base = t.Lookup(v, 3306); sopts.Base == nil {
					return "", fmt.Errorf("base %q not found", v)
				}
			case "exclude":
				h, why, _ := strings.Cut(v, ":")
				n := t.Lookup(h, 3306)
				if n == nil {
					return "", fmt.Errorf("exclude %q not found", h)
				}
				sopts.Exclude = append(sopts.Exclude, Exclusion{Node: n, Reasons: []string{why}})
			}
		}
		if !rep.OK() {
			fmt.Fprintf(&out, "start-up errors: %d\n", len(rep.Errors()))
		}
		sel, err := SelectNewMaster(t, sopts)
		writeSelection(&out, sel, err)
	default:
		return "", fmt.Errorf("unknown command %q", c.command[0])
	}
	return out.String(), nil
}

func writeReport(out *strings.Builder, rep Report) {
	if rep.OK() {
		out.WriteString("report: OK\n")
	} else {
		out.WriteString("report: NOT OK\n")
	}
	for _, f := range rep.Findings {
		out.WriteString(f.String())
		out.WriteByte('\n')
	}
}

func writeSelection(out *strings.Builder, sel Selection, err error) {
	names := func(ns []*Node) string {
		var s []string
		for _, n := range ns {
			s = append(s, n.Server.Hostname)
		}
		return strings.Join(s, " ")
	}
	fmt.Fprintf(out, "latest: %s\n", names(sel.Latest))
	fmt.Fprintf(out, "oldest: %s\n", names(sel.Oldest))
	for _, x := range sel.Excluded {
		fmt.Fprintf(out, "excluded: %s\n", x)
	}
	for _, c := range sel.Order {
		fmt.Fprintf(out, "order: %s (%s)\n", c.Node.Server.Hostname, c.Rule)
	}
	if err != nil {
		var nc *NoCandidateError
		fmt.Fprintf(out, "refused (no-candidate=%v): %v\n", errors.As(err, &nc) && errors.Is(err, ErrNoCandidate), err)
		return
	}
	fmt.Fprintf(out, "new master: %s by rule %q\n", sel.NewMaster.Host(), sel.Rule)
}
