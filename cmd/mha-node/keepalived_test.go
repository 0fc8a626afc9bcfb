package main

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/node/keepalived"
	"github.com/gomha/gomha/node/watchdog"
)

// fakeChecks answers with srv (or err) and no watchdog; got records the
// client and whether a deadline was set.
type fakeChecks struct {
	srv         *keepalived.Server
	err         error
	wd          keepalived.WatchdogFacts
	got         watchdog.Client
	hadDeadline bool
	calls       int
}

func (f *fakeChecks) env() checkEnv {
	return checkEnv{
		readServer: func(ctx context.Context, c watchdog.Client) (*keepalived.Server, error) {
			f.calls++
			f.got = c
			_, f.hadDeadline = ctx.Deadline()
			return f.srv, f.err
		},
		watchdogFacts: func(watchdog.Paths) keepalived.WatchdogFacts {
			if f.wd.State == nil && f.wd.ReadErr == nil {
				return keepalived.WatchdogFacts{ReadErr: fs.ErrNotExist}
			}
			return f.wd
		},
		now: func() time.Time { return time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC) },
	}
}

func runChecks(f *fakeChecks, args ...string) (int, string, string) {
	root := &cobra.Command{Use: "mha-node"}
	root.AddCommand(newKeepalivedCheckCmd(f.env()), newLVSCheckCmd(f.env()))
	var out, errOut strings.Builder
	code := run(root, "mha-node", args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeCnf(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	cnf := filepath.Join(dir, "check.cnf")
	if err := os.WriteFile(cnf, []byte("[client]\nuser=gomha_check\npassword=\"s3cr#t\"\nsocket=/run/mysqld/mysqld.sock\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, cnf
}

func TestKeepalivedCheck(t *testing.T) {
	dir, cnf := writeCnf(t)
	base := []string{"keepalived-check", "--defaults_file=" + cnf, "--workdir=" + dir, "--port=3307"}
	replica := &keepalived.Server{ReadOnly: true, Channels: []keepalived.Channel{{SourceHost: "db1", SourcePort: 3306, IO: "Yes", SQL: "Yes"}}}
	stopped := &keepalived.Server{Channels: []keepalived.Channel{{SourceHost: "db1", SourcePort: 3306, IO: "No", SQL: "No"}}}
	tests := []struct {
		name    string
		f       *fakeChecks
		args    []string
		code    int
		stdout  string
		stderr  []string
		noQuery bool
	}{
		{"writable master", &fakeChecks{srv: &keepalived.Server{}}, nil, 0,
			"keepalived-check: the writable master (watchdog: no watchdog state file: the watchdog never ran here)\n", nil, false},
		{"a replica: one line per reason", &fakeChecks{srv: replica}, nil, 1, "", []string{
			"keepalived-check: not the writable master: read_only: @@global.read_only is ON",
			"keepalived-check: not the writable master: replica: replication from db1:3306 (IO thread Yes, SQL thread Yes)"}, false},
		{"passive master of a pair", &fakeChecks{srv: &keepalived.Server{Channels: replica.Channels}}, []string{"--allow_source=db1:3306"}, 0, "", nil, false},
		{"stopped channel", &fakeChecks{srv: stopped}, nil, 1, "", []string{"a stopped channel still counts"}, false},
		{"stopped channel, allowed", &fakeChecks{srv: stopped}, []string{"--allow_stopped"}, 0, "", nil, false},
		{"unreachable", &fakeChecks{err: errors.New("mysql gomha_check@unix(/run/mysqld/mysqld.sock): context deadline exceeded")}, nil, 1, "",
			[]string{"keepalived-check: not the writable master: unreachable: local mysqld: mysql gomha_check@unix(/run/mysqld/mysqld.sock): context deadline exceeded"}, false},
		{"require a watchdog", &fakeChecks{srv: &keepalived.Server{}}, []string{"--require_watchdog"}, 1, "", []string{"watchdog: no fencing watchdog holds a lease"}, false},
		{"no credentials file", &fakeChecks{srv: &keepalived.Server{}}, []string{"--defaults_file=" + filepath.Join(dir, "none.cnf")}, 1, "",
			[]string{"unreachable: local mysqld: credentials: open "}, true},
		{"bad flags", &fakeChecks{srv: &keepalived.Server{}}, []string{"--timeout=0", "--allow_source=db1:x"}, 1, "",
			[]string{"--timeout=SECONDS must be positive", "--allow_source: source \"db1:x\""}, true},
		{"unknown option", &fakeChecks{srv: &keepalived.Server{}}, []string{"--bogus"}, 1, "", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runChecks(tc.f, append(append([]string{}, base...), tc.args...)...)
			if code != tc.code || (tc.stdout != "" && out != tc.stdout) {
				t.Fatalf("exit %d, stdout %q, want %d, %q\nstderr: %s", code, out, tc.code, tc.stdout, errOut)
			}
			for _, w := range tc.stderr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q lacks %q", errOut, w)
				}
			}
			if tc.noQuery != (tc.f.calls == 0) {
				t.Errorf("server queried %d times", tc.f.calls)
			}
			if tc.f.calls > 0 && (tc.f.got.Password != "s3cr#t" || tc.f.got.Socket != "/run/mysqld/mysqld.sock" || !tc.f.hadDeadline) {
				t.Errorf("client %+v, deadline %v", tc.f.got, tc.f.hadDeadline)
			}
			if strings.Contains(out+errOut, "s3cr#t") {
				t.Error("the password was printed")
			}
		})
	}
}

func TestKeepalivedCheckMarks(t *testing.T) {
	dir, cnf := writeCnf(t)
	f := &fakeChecks{srv: &keepalived.Server{Channels: []keepalived.Channel{{SourceHost: "db1", IO: "No", SQL: "No"}}}}
	check := func() (int, string, string) {
		return runChecks(f, "keepalived-check", "--defaults_file="+cnf, "--workdir="+dir, "--port=3307")
	}
	mark := func(args ...string) {
		t.Helper()
		code, _, errOut := runChecks(f, append([]string{"keepalived-check", "--workdir=" + dir, "--port=3307"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
	if code, _, _ := check(); code != 1 {
		t.Fatalf("stopped channel without a mark: exit %d", code)
	}
	mark("--mark=promoted", "--reason=failover from db1")
	if code, out, errOut := check(); code != 0 || !strings.Contains(out, "marked promoted at 2026-12-03T15:00:00Z: failover from db1") {
		t.Fatalf("promoted: exit %d %q %q", code, out, errOut)
	}
	mark("--mark=fenced", "--reason=online switch to db2")
	if code, _, errOut := check(); code != 1 || !strings.Contains(errOut, "fenced: the manager's keepalived hook fenced this host (marked fenced at 2026-12-03T15:00:00Z: online switch to db2)") {
		t.Fatalf("fenced: exit %d %q", code, errOut)
	}
	code, out, _ := runChecks(f, "keepalived-check", "--defaults_file="+cnf, "--workdir="+dir, "--port=3307", "--json")
	var v struct {
		ExitCode int                 `json:"exit_code"`
		OK       bool                `json:"ok"`
		Reasons  []keepalived.Reason `json:"reasons"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 1 || v.ExitCode != 1 || v.OK || len(v.Reasons) != 2 || v.Reasons[0].Code != keepalived.CodeFenced {
		t.Fatalf("--json: exit %d, %q (%v)", code, out, err)
	}
	mark("--unmark")
	if _, err := os.Stat(keepalived.MarkPath(dir, 3307)); !os.IsNotExist(err) {
		t.Fatalf("mark file still there: %v", err)
	}
	for _, bad := range [][]string{{"--mark=maybe"}, {"--mark=fenced", "--unmark"}, {"--reason=x"}} {
		if code, _, _ := runChecks(f, append([]string{"keepalived-check", "--workdir=" + dir}, bad...)...); code != 1 {
			t.Errorf("%v: exit %d, want 1", bad, code)
		}
	}
	if f.calls != 4 {
		t.Errorf("the server was queried %d times, want 4 (mark commands query nothing)", f.calls)
	}
}

func TestKeepalivedCheckWatchdog(t *testing.T) {
	dir, cnf := writeCnf(t)
	st := &watchdog.State{Phase: "demoted", BootID: "b", Why: "isolated", DemotedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	f := &fakeChecks{srv: &keepalived.Server{}, wd: keepalived.WatchdogFacts{State: st, BootID: "b"}}
	code, _, errOut := runChecks(f, "keepalived-check", "--defaults_file="+cnf, "--workdir="+dir)
	if code != 1 || !strings.Contains(errOut, "watchdog: the fencing watchdog demoted since 2026-01-02T03:04:05Z: isolated") {
		t.Fatalf("demoted: exit %d %q", code, errOut)
	}
	// The live reader finds the watchdog's state file by --workdir and --port.
	paths := watchdog.PathsFor(dir, 3307)
	if err := watchdog.WriteState(paths.State, st, false); err != nil {
		t.Fatal(err)
	}
	if wf := liveChecks().watchdogFacts(paths); wf.State == nil || wf.State.Phase != "demoted" || wf.Running {
		t.Fatalf("live watchdog facts: %+v", wf)
	}
}

func TestLVSCheck(t *testing.T) {
	_, cnf := writeCnf(t)
	lag := func(n int64) *keepalived.Server {
		return &keepalived.Server{ReadOnly: true, Channels: []keepalived.Channel{{SourceHost: "db1", SourcePort: 3306, IO: "Yes", SQL: "Yes", Lag: &n}}}
	}
	tests := []struct {
		name   string
		f      *fakeChecks
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"healthy", &fakeChecks{srv: lag(2)}, nil, 0, "lvs-check: healthy: 2 s behind (at most 10)\n", ""},
		{"lagging", &fakeChecks{srv: lag(11)}, nil, 1, "", "lvs-check: unhealthy: lag: replication from db1:3306: 11 s behind, more than the allowed 10s\n"},
		{"own bound", &fakeChecks{srv: lag(11)}, []string{"--max_lag=30"}, 0, "lvs-check: healthy: 11 s behind (at most 30)\n", ""},
		{"dynamic weight", &fakeChecks{srv: lag(5)}, []string{"--dynamic", "--weight=21"}, 2 + 11, "lvs-check: healthy: 5 s behind (at most 10), weight 11\n", ""},
		{"dynamic and lagging", &fakeChecks{srv: lag(50)}, []string{"--dynamic"}, 1, "", "lag: "},
		{"master", &fakeChecks{srv: &keepalived.Server{}}, nil, 1, "", "not_replica: "},
		{"unreachable", &fakeChecks{err: errors.New("connection refused")}, []string{"--dynamic"}, 1, "", "unreachable: local mysqld: connection refused"},
		{"bad weight is unhealthy, never a weight", &fakeChecks{srv: lag(0)}, []string{"--dynamic", "--weight=254"}, 1, "", "weight 254"},
		{"no credentials flag", &fakeChecks{srv: lag(0)}, []string{"--defaults_file="}, 1, "", "--defaults_file is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"lvs-check", "--defaults_file=" + cnf}, tc.args...)
			code, out, errOut := runChecks(tc.f, args...)
			if code != tc.code || out != tc.stdout || !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, out, errOut, tc.code, tc.stdout, tc.stderr)
			}
		})
	}
	code, out, _ := runChecks(&fakeChecks{srv: lag(0)}, "lvs-check", "--defaults_file="+cnf, "--json", "--dynamic", "--weight=40")
	if code != 42 || strings.TrimSpace(out) != `{"healthy":true,"seconds_behind":0,"weight":40,"exit_code":42}` {
		t.Fatalf("--json: exit %d %q", code, out)
	}
}

func TestLVSCheckHost(t *testing.T) {
	_, cnf := writeCnf(t)
	f := &fakeChecks{srv: &keepalived.Server{}}
	runChecks(f, "lvs-check", "--defaults_file="+cnf, "--host=198.18.0.13", "--port=3307")
	if f.got.Host != "198.18.0.13" || f.got.Port != 3307 || f.got.Socket != "" || f.got.User != "gomha_check" {
		t.Errorf("--host/--port: client %+v", f.got)
	}
	f = &fakeChecks{srv: &keepalived.Server{}}
	runChecks(f, "lvs-check", "--defaults_file="+cnf)
	if f.got.Socket != "/run/mysqld/mysqld.sock" {
		t.Errorf("without --host: client %+v", f.got)
	}
	if code, _, errOut := runChecks(f, "lvs-check", "--defaults_file="+cnf, "--port=70000"); code != 1 || !strings.Contains(errOut, "not a port") {
		t.Errorf("bad port: exit %d %q", code, errOut)
	}
}

func TestChecksRegistered(t *testing.T) {
	for _, sub := range []string{"keepalived-check", "lvs-check"} {
		if c, _, err := newRoot().Find([]string{sub}); err != nil || c.Name() != sub {
			t.Errorf("%s not registered: %v", sub, err)
		}
	}
}

// TestSampleConfigCommands runs every mha-node command line of the
// keepalived samples in configs/ (script, misc_path, and the ones in
// comments) against a healthy fake server: each must parse and pass, so
// that a sample never carries a misspelled option.
func TestSampleConfigCommands(t *testing.T) {
	dir, cnf := writeCnf(t)
	files, err := filepath.Glob(filepath.Join("..", "..", "configs", "keepalived-*.conf"))
	if err != nil || len(files) < 3 {
		t.Fatalf("samples: %v %v", files, err)
	}
	lag := int64(0)
	seen := 0
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			at := strings.Index(line, "mha-node keepalived-check ")
			if at < 0 {
				at = strings.Index(line, "mha-node lvs-check ")
			}
			if at < 0 {
				continue
			}
			cmdline, _, _ := strings.Cut(line[at+len("mha-node "):], "\"")
			args := strings.Fields(cmdline)
			if len(args) < 2 || !strings.HasPrefix(args[1], "--") {
				continue // prose naming the command
			}
			var f *fakeChecks
			switch args[0] {
			case "keepalived-check":
				f = &fakeChecks{srv: &keepalived.Server{Channels: []keepalived.Channel{{SourceHost: "198.18.0.12", SourcePort: 3306, IO: "Yes", SQL: "Yes"}}}}
				if strings.Contains(cmdline, "--require_watchdog") {
					continue
				}
				if !strings.Contains(cmdline, "--allow_source") {
					f.srv.Channels = nil
				}
			case "lvs-check":
				f = &fakeChecks{srv: &keepalived.Server{Channels: []keepalived.Channel{{SourceHost: "db1", IO: "Yes", SQL: "Yes", Lag: &lag}}}}
			default:
				t.Errorf("%s:%d: unknown command %q", file, i+1, args[0])
				continue
			}
			for j, a := range args {
				switch {
				case strings.HasPrefix(a, "--defaults_file="):
					args[j] = "--defaults_file=" + cnf
				case strings.HasPrefix(a, "--workdir="):
					args[j] = "--workdir=" + dir
				}
			}
			seen++
			code, _, errOut := runChecks(f, args...)
			if strings.Contains(cmdline, "--mark") || strings.Contains(cmdline, "--unmark") {
				if code != 0 {
					t.Errorf("%s:%d: %s: exit %d: %s", file, i+1, cmdline, code, errOut)
				}
				continue
			}
			if code != 0 && !(strings.Contains(cmdline, "--dynamic") && code == 102) {
				t.Errorf("%s:%d: %s: exit %d: %s", file, i+1, cmdline, code, errOut)
			}
		}
	}
	if seen < 8 {
		t.Errorf("only %d mha-node command lines in the samples", seen)
	}
}
