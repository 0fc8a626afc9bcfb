package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gomha/gomha/manager/hooks"
)

// Hostile database credentials: everything MHA escapes, quotes,
// backslashes, blanks and non-ASCII. (A configured value has no newline.)
var hookPasswords = []string{
	"mhapass",
	`a$b c`,
	`it's "quoted" \ back\slash`,
	"$(touch /tmp/gomha-pwned) `id` ${HOME} $PATH; rm -rf / | & > < * ? ~ ^ [x] {y},!#",
	"pässwörd",
}

// recorder writes a hook that records its argv one word per line into
// $HOOK_ARGV.
func recorder(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "record_hook")
	body := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$HOOK_ARGV\"\n"
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// readArgv returns the words the recorder wrote.
func readArgv(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// mhaQuote is MHA 0.58's escape_for_shell (MHA::NodeUtil): the single-
// quoted, backslash-escaped form MHA pastes into the string it runs with
// /bin/sh -c.
func mhaQuote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i : i+1]
		switch {
		case c == "'":
			b.WriteString(`'\''`)
		case c == `\`:
			b.WriteString(`\\`)
		case strings.Contains(`"!#&;`+"`"+`|*?~<>^()[]{}$, `, c):
			b.WriteString(`\` + c)
		default:
			b.WriteString(c)
		}
	}
	return "'" + b.String() + "'"
}

// TestHookArgs runs a recording hook the way MHA 0.58 does (one string
// through /bin/sh -c, built as MHA's Perl builds it) and through
// hooks.Runner with the argument builders, with hostile passwords, and
// checks the hook received the same words both times, plus the words of
// the configured command.
func TestHookArgs(t *testing.T) {
	rec := recorder(t)
	argvFile := filepath.Join(t.TempDir(), "argv")
	r := hooks.Runner{Timeout: 30 * time.Second, Env: []string{"HOOK_ARGV=" + argvFile}}
	ctx := context.Background()
	configured := rec + ` --vip='10.0.0.100/24' --label="db master"`
	prefix := []string{"--vip=10.0.0.100/24", "--label=db master"}

	for _, pw := range hookPasswords {
		orig := hooks.Endpoint{Host: "db1", IP: "198.18.1.2", Port: 3306, SSHUser: "root", SSHHost: "db1", SSHIP: "198.18.1.2", SSHPort: 22,
			User: "mha", Password: pw, SSHOptions: "-i /root/.ssh/id_mha", SSHConnectTimeout: 5 * time.Second}
		newm := hooks.Endpoint{Host: "db2", IP: "198.18.2.2", Port: 3307, SSHUser: "mha", SSHHost: "db2-admin", SSHIP: "198.18.9.2", SSHPort: 2222,
			User: "adm " + pw, Password: pw + "'2"}
		p := strconv.Itoa
		cases := []struct {
			name string
			mha  string // what MHA appends to the configured command
			args []string
		}{
			{"failover start",
				" --command=start --ssh_user=mha --orig_master_host=db1 --orig_master_ip=198.18.1.2 --orig_master_port=3306" +
					" --new_master_host=db2 --new_master_ip=198.18.2.2 --new_master_port=" + p(newm.Port) + " --new_master_user=" + mhaQuote(newm.User) +
					"  --ssh_options='" + hooks.SSHOptionString(orig, true) + "' " +
					"  --new_master_ssh_host=db2-admin --new_master_ssh_ip=198.18.9.2 --new_master_ssh_port=2222" +
					" --new_master_password=" + mhaQuote(newm.Password),
				hooks.FailoverStartArgs(orig, newm)},
			{"online change stop",
				" --command=stop --orig_master_host=db1 --orig_master_ip=198.18.1.2 --orig_master_port=3306 --orig_master_user=" + mhaQuote(orig.User) +
					" --new_master_host=db2 --new_master_ip=198.18.2.2 --new_master_port=3307 --new_master_user=" + mhaQuote(newm.User) +
					" --orig_master_ssh_user=root --new_master_ssh_user=mha" +
					"  --ssh_options='" + hooks.SSHOptionString(orig, true) + "' " +
					"  --new_master_ssh_host=db2-admin --new_master_ssh_ip=198.18.9.2 --new_master_ssh_port=2222" +
					" --orig_master_is_new_slave" +
					" --orig_master_password=" + mhaQuote(orig.Password) + " --new_master_password=" + mhaQuote(newm.Password),
				hooks.OnlineChangeArgs(hooks.OnlineChange{Command: "stop", Orig: orig, New: newm, OrigIsNewSlave: true})},
			{"failover stop",
				" --orig_master_host=db1 --orig_master_ip=198.18.1.2 --orig_master_port=3306 --command=stop" +
					"  --ssh_options='" + hooks.SSHOptionString(orig, false) + "' ",
				hooks.FailoverStopArgs(orig, false)},
			{"shutdown stopssh",
				" --command=stopssh --ssh_user=root  --host=db1  --ip=198.18.1.2  --port=3306  --pid_file=/run/mysqld/mysqld.pid" +
					"  --ssh_options='" + hooks.SSHOptionString(orig, true) + "' ",
				hooks.ShutdownStopArgs(orig, true, "/run/mysqld/mysqld.pid")},
		}
		for _, c := range cases {
			// MHA: the configured value and the arguments in one sh -c string.
			sh := exec.Command("/bin/sh", "-c", configured+c.mha)
			sh.Env = append(os.Environ(), "HOOK_ARGV="+argvFile)
			if out, err := sh.CombinedOutput(); err != nil {
				t.Fatalf("%s: sh -c: %v\n%s", c.name, err, out)
			}
			viaMHA := readArgv(t, argvFile)

			res, err := r.Run(ctx, "master_ip_failover_script", configured, c.args)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if ok, _ := res.Proceed(); !ok {
				t.Fatalf("%s: recorder failed: %+v", c.name, res)
			}
			viaGomha := readArgv(t, argvFile)
			if diff := cmp.Diff(viaMHA, viaGomha); diff != "" {
				t.Errorf("%s, password %q: argv (-MHA 0.58 via sh +gomha):\n%s", c.name, pw, diff)
			}
			if diff := cmp.Diff(append(append([]string{}, prefix...), c.args...), viaGomha); diff != "" {
				t.Errorf("%s: the hook did not receive exactly the built argv (-built +received):\n%s", c.name, diff)
			}
		}

		// The secondary check gets the password raw, as one word (MHA's
		// unquoted paste would be split and expanded by sh).
		sc := hooks.SecondaryCheckArgs(hooks.SecondaryCheck{Master: orig, PingType: "SELECT"})
		if _, err := r.Run(ctx, "secondary_check_script", rec+" -s db2 -s db3", sc); err != nil {
			t.Fatal(err)
		}
		want := append([]string{"-s", "db2", "-s", "db3"}, sc...)
		if got := readArgv(t, argvFile); !cmp.Equal(want, got) || !strings.Contains(strings.Join(got, "\n"), "\n--master_password="+pw+"\n") {
			t.Errorf("secondary check, password %q: received %q, want %q", pw, got, want)
		}
	}
}

// TestReportScriptSample runs samples/report_script through hooks.Runner
// with MHA's report arguments and checks the record it appends.
func TestReportScriptSample(t *testing.T) {
	sample, err := filepath.Abs("../samples/report_script")
	if err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(t.TempDir(), "mha_report.log")
	r := hooks.Runner{Timeout: 30 * time.Second, Env: []string{"REPORT_LOG=" + logFile}}
	rep := hooks.Report{
		OrigMasterHost: "db1",
		NewMasterHost:  "db2",
		NewSlaveHosts:  []string{"db3", "db4"},
		Conf:           "/etc/mha/app1.cnf",
		Subject:        "app1: MySQL Master failover db1(198.18.1.2:3306) to db2(198.18.2.2:3306) succeeded",
		Body: "Master db1(198.18.1.2:3306) is down!\n\nCheck MHA Manager logs at mgr:/var/log/mha/app1.log for details.\n\n" +
			"Selected db2(198.18.2.2:3306) as a new master.\nodd: $HOME `id` \\ 'q' \"dq\" -- --body=x",
	}
	args := append(hooks.ReportArgs(rep), "--unknown_option=ignored", "--flag")
	for range 2 {
		res, err := r.Run(context.Background(), "report_script", sample, args)
		if err != nil {
			t.Fatal(err)
		}
		if res.Code != 0 || res.Signal != "" {
			t.Fatalf("report_script: %+v", res)
		}
	}
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	if n := strings.Count(log, "\n=== "); n != 1 || !strings.HasPrefix(log, "=== ") {
		t.Errorf("want two appended records, log:\n%s", log)
	}
	for _, want := range []string{
		"\nsubject: " + rep.Subject + "\n",
		"\norig_master_host: db1\n",
		"\nnew_master_host: db2\n",
		"\nnew_slave_hosts: db3,db4\n",
		"\nconf: /etc/mha/app1.cnf\n",
		"\n  Master db1(198.18.1.2:3306) is down!\n  \n  Check MHA Manager logs at",
		"\n  odd: $HOME `id` \\ 'q' \"dq\" -- --body=x\n",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}

	// Without a new master, and with an unwritable log, it still exits 0.
	r.Env = []string{"REPORT_LOG=/nonexistent/dir/report.log"}
	res, err := r.Run(context.Background(), "report_script", sample, hooks.ReportArgs(hooks.Report{OrigMasterHost: "db1", Conf: "c", Subject: "s", Body: "b"}))
	if err != nil || res.Code != 0 || !strings.Contains(res.Output, "cannot write /nonexistent/dir/report.log") {
		t.Errorf("report_script with an unwritable log: %+v, %v", res, err)
	}
}
