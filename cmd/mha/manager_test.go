package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/cmd/internal/mhacli"
	"github.com/gomha/gomha/manager/statefile"
)

// TestRefusalShownByCheckStatus: after the manager refused a failover and
// went back to monitoring (its health file says PING_FAILED, the refusal
// is recorded), check-status says why.
func TestRefusalShownByCheckStatus(t *testing.T) {
	dir := t.TempDir()
	h := statefile.OpenHealth(dir, "app1")
	if err := h.Set(statefile.PingFailed, "db1"); err != nil {
		t.Fatal(err)
	}
	reason := "Last failover was done at 2026/12/03 14:00:00. Current time is too early: " + statefile.ErrTooEarly.Error()
	if err := statefile.RecordRefusal(dir, "app1", statefile.Refusal{At: time.Now(), Master: "db1", Reason: reason}); err != nil {
		t.Fatal(err)
	}
	cmd := newCheckStatusCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"--status_dir=" + dir, "--app=app1"})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(t.Context())
	var ee *mhacli.ExitError
	if !errors.As(err, &ee) || ee.Code != statefile.PingFailed.Code {
		t.Errorf("check-status = %v; want exit %d (PING_FAILED)", err, statefile.PingFailed.Code)
	}
	for _, want := range []string{"app1 master maybe down(21:PING_FAILED). master:db1", "Last failover refused at ", "Current time is too early: last failover is too recent"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check-status output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestManagerCheckOnly runs `manager --check_only` (as masterha_manager
// --check_only would) against a server that is down: it must report and
// exit 1 at once, writing no state file, instead of monitoring.
func TestManagerCheckOnly(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "app1.cnf")
	body := "[server default]\nmanager_workdir=" + dir + "/work\nuser=u\npassword=p\nrepl_user=r\nrepl_password=p\n" +
		"[server1]\nhostname=127.0.0.1\nport=1\n[server2]\nhostname=127.0.0.1\nport=2\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"manager", "--check_only", "--conf=" + conf, "--global_conf=" + dir + "/none.cnf"},
	} {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(args)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := root.ExecuteContext(ctx)
		cancel()
		var ee *mhacli.ExitError
		if !errors.As(err, &ee) || ee.Code != 1 {
			t.Fatalf("%q: err = %v; want exit 1\n%s", args, err, out.String())
		}
		if !strings.Contains(out.String(), "MySQL Replication Health is NOT OK!") {
			t.Errorf("%q: output:\n%s", args, out.String())
		}
		if _, err := os.Stat(filepath.Join(dir, "work", "app1.master_status.health")); err == nil {
			t.Errorf("%q: --check_only wrote a health file", args)
		}
	}
}

func TestMasterMonitorIsMonitorOnly(t *testing.T) {
	cmd := newMasterMonitorCmd()
	if f := cmd.Flags().Lookup("monitor_only"); f == nil || f.Value.String() != "true" {
		t.Fatalf("master-monitor: monitor_only = %v", f)
	}
	if f := newManagerCmd().Flags().Lookup("monitor_only"); f.Value.String() != "false" {
		t.Fatal("manager: monitor_only on by default")
	}
}

// TestManagerFlagsContract: masterha_manager keeps MHA's one --conf;
// `mha manager` takes several, and directories.
func TestManagerFlagsContract(t *testing.T) {
	for _, tt := range []struct {
		confs, dirs []string
		mhaName     bool
		want        string // "" accepted
	}{
		{nil, nil, false, "--conf=<server config file> must be set"},
		{nil, nil, true, "--conf=<server config file> must be set"},
		{[]string{"a.cnf"}, nil, true, ""},
		{[]string{"a.cnf", "b.cnf"}, nil, true, "exactly one --conf"},
		{[]string{"a.cnf"}, []string{"/etc/gomha/clusters"}, true, "exactly one --conf"},
		{nil, []string{"/etc/gomha/clusters"}, true, "exactly one --conf"},
		{[]string{"a.cnf", "b.cnf"}, []string{"/etc/gomha/clusters"}, false, ""},
		{nil, []string{"/etc/gomha/clusters"}, false, ""},
	} {
		err := managerFlags{confs: tt.confs, confDirs: tt.dirs}.check(tt.mhaName)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%v %v mha=%t: %v", tt.confs, tt.dirs, tt.mhaName, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || exitCode(err) != 1):
			t.Errorf("%v %v mha=%t: %v; want exit 1 with %q", tt.confs, tt.dirs, tt.mhaName, err, tt.want)
		}
	}
}

// TestManagerCheckOnlyMany: --check_only with a --conf_dir checks every
// cluster and exits 1 when one fails; two files of one application name
// are refused before anything, both named.
func TestManagerCheckOnlyMany(t *testing.T) {
	dir := t.TempDir()
	clusters := filepath.Join(dir, "clusters")
	other := filepath.Join(dir, "other")
	for _, d := range []string{clusters, other} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write := func(dir, app string) string {
		p := filepath.Join(dir, app+".cnf")
		body := "[server default]\nmanager_workdir=" + filepath.Join(dir, "work-"+app) + "\nuser=u\npassword=p\nrepl_user=r\nrepl_password=p\n" +
			"[server1]\nhostname=127.0.0.1\nport=1\n[server2]\nhostname=127.0.0.1\nport=2\n"
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write(clusters, "app1")
	write(clusters, "app2")
	run := func(args ...string) (string, error) {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append([]string{"manager", "--global_conf=" + dir + "/none.cnf"}, args...))
		mhacli.Prepare(root, "")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := root.ExecuteContext(ctx)
		return out.String(), err
	}
	out, err := run("--check_only", "--conf_dir="+clusters)
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "app1, app2") || strings.Count(out, "MySQL Replication Health is NOT OK!") != 2 {
		t.Errorf("--check_only --conf_dir: %v\n%s", err, out)
	}
	dup := write(other, "app1")
	out, err = run("--check_only", "--conf_dir="+clusters, "--conf="+dup)
	if exitCode(err) != 1 || !strings.Contains(err.Error(), filepath.Join(clusters, "app1.cnf")) || !strings.Contains(err.Error(), dup) ||
		strings.Contains(out, "MySQL Replication Health") {
		t.Errorf("duplicate app1: %v\n%s", err, out)
	}
}
