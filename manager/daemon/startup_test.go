package daemon

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/topology"
)

// TestPrintReplRecommendations: each detection recommendation is printed
// under its host's HeartbeatSlow or SlaveNetTimeoutHigh finding (the last
// of them when the host has both), one for a host without such a finding
// after all findings, and nothing when there are none.
func TestPrintReplRecommendations(t *testing.T) {
	db2, db3, db4 := "db2(10.0.0.2:3306)", "db3(10.0.0.3:3306)", "db4(10.0.0.4:3306)"
	rec := func(host string) check.Recommendation {
		return check.Recommendation{Host: host, Changes: []string{"slave_net_timeout 1m0s -> 4s"}, SQL: "SET GLOBAL slave_net_timeout=4"}
	}
	findings := []topology.Finding{
		{Code: topology.CodeSlaveNetTimeoutHigh, Severity: topology.SeverityWarning, Host: db2, Message: "net2"},
		{Code: topology.CodeRelayLogPurge, Severity: topology.SeverityWarning, Host: db3, Message: "purge3"},
		{Code: topology.CodeHeartbeatSlow, Severity: topology.SeverityWarning, Host: db2, Message: "hb2"},
		{Code: topology.CodeHeartbeatSlow, Severity: topology.SeverityWarning, Host: db3, Message: "hb3"},
		{Code: topology.CodeReplicaWritable, Severity: topology.SeverityInfo, Host: db2, Message: "writable2"},
	}
	for _, tc := range []struct {
		name     string
		findings []topology.Finding
		recs     []check.Recommendation
		want     []string
	}{
		{"under the host's finding", findings, []check.Recommendation{rec(db3), rec(db2), rec(db4)}, []string{
			findings[0].String(),
			findings[1].String(),
			findings[2].String(),
			"  " + rec(db2).String(),
			findings[3].String(),
			"  " + rec(db3).String(),
			findings[4].String(),
			rec(db4).String(),
		}},
		{"no finding of the host", findings[1:2], []check.Recommendation{rec(db2)}, []string{
			findings[1].String(),
			rec(db2).String(),
		}},
		{"no recommendation", findings[:2], nil, []string{
			findings[0].String(),
			findings[1].String(),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			res := check.ReplResult{Topology: &topology.Topology{}, Report: topology.Report{Findings: tc.findings}, Recommendations: tc.recs}
			PrintRepl(&b, res, false)
			got := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("printRepl (-want +got):\n%s\nfull output:\n%s", diff, b.String())
			}
		})
	}
}

// TestHookStatus runs the status calls check-repl and the manager's start
// make: each set hook gets --command=status and must exit 0.
func TestHookStatus(t *testing.T) {
	dir := t.TempDir()
	record := filepath.Join(dir, "args")
	script := func(name string, code int) string {
		p := filepath.Join(dir, name)
		body := fmt.Sprintf("#!/bin/sh\necho \"$0 $*\" >> %s\nexit %d\n", record, code)
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok, bad := script("ok", 0), script("bad", 1)
	var m config.Server
	m.Hostname, m.IP, m.Port, m.SSHUser = "db1", "10.0.0.1", 3306, "root"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m.MasterIPFailoverScript, m.ShutdownScript = ok, ok
	if err := HookStatus(context.Background(), m, hooks.Runner{Log: log}, log); err != nil {
		t.Fatalf("status ok: %v", err)
	}
	got, _ := os.ReadFile(record)
	for _, want := range []string{ok + " --command=status --ssh_user=root --orig_master_host=db1", ok + " --command=status --ssh_user=root --host=db1 --ip=10.0.0.1"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("calls:\n%s\nwant %q", got, want)
		}
	}
	m.ShutdownScript = bad
	if err := HookStatus(context.Background(), m, hooks.Runner{Log: log}, log); err == nil || !strings.Contains(err.Error(), "shutdown_script status with return code 1") {
		t.Fatalf("failing shutdown_script status: %v", err)
	}
}

// TestNodeSelfTestWhen: the master's node self-test runs (here: tries SSH,
// which nothing answers) unless SSH checks are skipped, the master has
// skip_init_ssh_check=1 or writes no binlog.
func TestNodeSelfTestWhen(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "mha-node")
	if err := os.WriteFile(bin, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOMHA_NODE_BINARY", bin)
	node := func(skipInit bool, file string) *topology.Node {
		var s config.Server
		s.Block, s.Hostname, s.SSHHost, s.SSHIP, s.SSHPort, s.SSHUser = "server1", "db1", "db1", "127.0.0.1", 1, "root"
		s.RemoteWorkdir, s.SSHConnectionTimeout, s.SkipInitSSHCheck = "/var/tmp", time.Second, skipInit
		st := &mysqlx.State{}
		st.Binlog.File = file
		return &topology.Node{Server: s, State: st}
	}
	ctx := context.Background()
	if err := NodeSelfTest(ctx, node(false, "mysql-bin.000003"), false); err == nil {
		t.Fatal("self-test against a closed SSH port succeeded")
	}
	for name, skip := range map[string]error{
		"--skip_check_ssh":      NodeSelfTest(ctx, node(false, "mysql-bin.000003"), true),
		"skip_init_ssh_check=1": NodeSelfTest(ctx, node(true, "mysql-bin.000003"), false),
		"no binlog":             NodeSelfTest(ctx, node(false, ""), false),
	} {
		if skip != nil {
			t.Errorf("%s: self-test ran: %v", name, skip)
		}
	}
}
