package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/cmd/internal/mhacli"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/journal"
	"github.com/gomha/gomha/manager/switchover"
)

// The switch's outcome maps to MHA's exit codes with one last line.
func TestSwitchOutcome(t *testing.T) {
	done := switchover.Result{OrigMaster: "db1(198.18.0.11:3306)", NewMaster: "db2(198.18.0.12:3306)", WriteBlock: 312 * time.Millisecond}
	rolled := done
	rolled.RolledBack = true
	tests := []struct {
		name string
		res  switchover.Result
		err  error
		code int // -1: nil error
		line string
	}{
		{"check only", switchover.Result{CheckOnly: true}, nil, -1, "--check_only is set. Exit."},
		{"switched", done, nil, -1, "Switching master to db2(198.18.0.12:3306) completed successfully. Writes were blocked for 312ms."},
		{"partial", done, fmt.Errorf("%w: db3: boom", switchover.ErrPartial), 10, "switching slaves partially failed"},
		{"rolled back", rolled, fmt.Errorf("%w: bound", switchover.ErrRolledBack), 1, "failed and was rolled back; db1(198.18.0.11:3306) is the master"},
		{"refused", switchover.Result{}, fmt.Errorf("%w: no", switchover.ErrRefused), 1, ""},
		{"after switch", done, fmt.Errorf("%w: reset", switchover.ErrAfterSwitch), 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := switchOutcome(&out, tt.res, tt.err)
			var ee *mhacli.ExitError
			switch {
			case tt.code < 0 && err != nil:
				t.Errorf("err %v; want nil", err)
			case tt.code >= 0 && (!errors.As(err, &ee) || ee.Code != tt.code || !errors.Is(err, tt.err)):
				t.Errorf("err %v; want exit %d wrapping %v", err, tt.code, tt.err)
			}
			if !strings.Contains(out.String(), tt.line) || (tt.line == "" && out.Len() > 0) {
				t.Errorf("output %q; want %q", out.String(), tt.line)
			}
		})
	}
}

func TestFenceLeaseSet(t *testing.T) {
	cfg := &config.Config{Servers: []config.Server{{Block: "server1"}, {Block: "server2"}}}
	if fenceLeaseSet(cfg) {
		t.Error("fence_lease reported set when no server has it")
	}
	cfg.Servers[1].FenceLease = 10 * time.Second
	if !fenceLeaseSet(cfg) {
		t.Error("fence_lease on one server not seen")
	}
}

// MHA's answers: with a "no" default only y/yes is yes; with a "yes"
// default anything but n/no is.
func TestAnswer(t *testing.T) {
	for _, tt := range []struct {
		line       string
		defaultYes bool
		want       bool
	}{
		{"yes\n", false, true}, {"Y\n", false, true}, {"\n", false, false}, {"sure\n", false, false},
		{"\n", true, true}, {"no\n", true, false}, {"N\n", true, false}, {"whatever\n", true, true},
	} {
		if got := answer(tt.line, tt.defaultYes); got != tt.want {
			t.Errorf("answer(%q, %t) = %t", tt.line, tt.defaultYes, got)
		}
	}
	var out bytes.Buffer
	ask := asker(strings.NewReader("yes\n"), &out)
	if ok, err := ask("Starting master switch?", false); !ok || err != nil || out.String() != "Starting master switch? (yes/NO): " {
		t.Errorf("asker: %t %v %q", ok, err, out.String())
	}
	if _, err := ask("again?", true); err == nil {
		t.Error("no error at the end of standard input")
	}
}

// --master_state=alive refuses options it does not know, as MHA's strict
// parsing does, also dead-only ones; values of known options are not
// counted.
func TestUnknownOptions(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"--master_state=alive", "--conf=/etc/app1.cnf", "--new_master_host", "db2", "--orig_master_is_new_slave", "--max_write_block=3s"}, nil},
		{[]string{"--master_state=alive", "--bogus=1"}, []string{"--bogus=1"}},
		{[]string{"--master_state=alive", "--dead_master_host=db1"}, []string{"--dead_master_host=db1"}},
		{[]string{"--master_state=alive", "stray", "--", "--x"}, []string{"stray", "--x"}},
	} {
		fs := newSwitchCmd().Flags()
		fs.SetNormalizeFunc(mhacli.NormalizeFlagName) // as the root command does
		fs.ParseErrorsAllowlist.UnknownFlags = true
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		got := unknownOptions(fs, tt.args, aliveFlags)
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("unknownOptions(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

// `mha switch --master_state=alive` keeps a switch journal: a refused
// switch (no server answers) ends it with exit code 1, an earlier
// unfinished one is warned about and kept as .prev; --check_only writes
// none.
func TestAliveSwitchJournal(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "app1.cnf")
	// Nothing listens on these loopback ports: every connection is refused.
	must(t, os.WriteFile(conf, []byte("[server default]\nuser=mha\npassword=pw\nmanager_workdir="+dir+
		"\n[server1]\nhostname=127.0.0.1\nport=1\n[server2]\nhostname=127.0.0.1\nport=2\n"), 0o600))
	run := func(args ...string) (string, error) {
		root := &cobra.Command{Use: "mha", SilenceErrors: true, SilenceUsage: true}
		root.AddCommand(newSwitchCmd())
		mhacli.Prepare(root, "")
		var buf bytes.Buffer
		root.SetOut(&buf)
		root.SetErr(&buf)
		root.SetArgs(append([]string{"switch", "--master_state=alive", "--conf=" + conf, "--global_conf=" + filepath.Join(dir, "none.cnf"),
			"--interactive=0", "--new_master_host=127.0.0.1", "--new_master_port=2"}, args...))
		err := root.ExecuteContext(t.Context())
		return buf.String(), err
	}
	path := journal.PathOf(journal.OpSwitch, dir, "app1")

	out, err := run("--check_only")
	if _, serr := os.Stat(path); !errors.Is(serr, os.ErrNotExist) {
		t.Fatalf("--check_only wrote a switch journal (%v); output:\n%s", serr, out)
	}
	if exitCode(err) != 1 {
		t.Errorf("--check_only with no server: exit %d (%v)", exitCode(err), err)
	}

	// An earlier switch, killed after its first step.
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Skipf("no /bin/true: %v", err)
	}
	must(t, func() error { _, err := p.Wait(); return err }())
	j, err := journal.CreateOf(journal.OpSwitch, dir, "app1", map[string]string{"pid": strconv.Itoa(p.Pid), "new_master": "db2"})
	must(t, err)
	must(t, j.Intent("set read_only=1", "db1(10.0.0.1:3306)", nil))
	must(t, j.Done("set read_only=1", "db1(10.0.0.1:3306)", nil))
	must(t, j.Close())
	out, err = run()
	if exitCode(err) != 1 {
		t.Errorf("switch with no server: exit %d (%v); output:\n%s", exitCode(err), err, out)
	}
	if !strings.Contains(out, `An earlier master switch did not finish`) || !strings.Contains(out, `last step done: \"set read_only=1\"`) {
		t.Errorf("no warning about the unfinished switch:\n%s", out)
	}
	st, err := journal.ReadOf(journal.OpSwitch, dir, "app1")
	if err != nil || st.Unfinished() || st.Outcome != "1" || st.Begin.Detail["new_master"] != "127.0.0.1" || st.Begin.Detail["pid"] != strconv.Itoa(os.Getpid()) {
		t.Fatalf("switch journal %+v, %v; want begun by this process and ended with 1", st, err)
	}
	if b, err := os.ReadFile(path + ".prev"); err != nil || !strings.Contains(string(b), "set read_only=1") {
		t.Errorf("the unfinished journal was not kept as .prev: %v", err)
	}
	if s, err := journal.Read(dir, "app1"); s != nil || err != nil {
		t.Errorf("the switch wrote a failover journal: %+v, %v", s, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
