package hooks

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/manager/config"
	"github.com/google/go-cmp/cmp"
)

// The observed lines of mha-compat §4.1 and §4.4 (MHA 0.58 on this lab),
// without the script name. None has quotes, so splitting at blanks is
// what sh does with them.
func TestArgsObservedLines(t *testing.T) {
	m1 := Endpoint{Host: "127.0.0.1", IP: "127.0.0.1", Port: 33061, SSHUser: "root", User: "mha", Password: "mhapass"}
	m3 := Endpoint{Host: "127.0.0.1", IP: "127.0.0.1", Port: 33063, SSHUser: "root", User: "mha", Password: "mhapass"}
	tests := []struct {
		name string
		got  []string
		want string
	}{
		{"failover stopssh", FailoverStopArgs(m1, true),
			"--orig_master_host=127.0.0.1 --orig_master_ip=127.0.0.1 --orig_master_port=33061 --command=stopssh --ssh_user=root"},
		{"failover start", FailoverStartArgs(m1, m3),
			"--command=start --ssh_user=root --orig_master_host=127.0.0.1 --orig_master_ip=127.0.0.1 --orig_master_port=33061 --new_master_host=127.0.0.1 --new_master_ip=127.0.0.1 --new_master_port=33063 --new_master_user=mha --new_master_password=mhapass"},
		// The observed line starts with "-s 10.0.0.9", which belongs to
		// the configured command (secondary_check_script = secondary_hook -s 10.0.0.9).
		{"secondary check", SecondaryCheckArgs(SecondaryCheck{Master: m1, PingType: "SELECT"}),
			"--user=root --master_host=127.0.0.1 --master_ip=127.0.0.1 --master_port=33061 --master_user=mha --master_password=mhapass --ping_type=SELECT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(strings.Fields(tt.want), tt.got); diff != "" {
				t.Errorf("argv (-MHA +gomha):\n%s", diff)
			}
		})
	}
}

// hostile values: every character MHA escapes, quotes, backslashes,
// non-ASCII bytes and a newline.
var hostile = []string{
	"",
	"mhapass",
	`a$b c`,
	`it's`,
	`a\b`,
	`"!#&;` + "`" + `|*?~<>^()[]{}$, `,
	`\$HOME \\ '\'' "x"`,
	"$(touch /tmp/pwned) `id` ${PATH}",
	"pässwörd\xff\x01",
	"line1\nline2",
	`'`,
	`\`,
}

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"mha", "mha"},
		{`a$b c`, `a\$b\ c`},
		{`it's`, `it's`},
		{`a\b`, `a\\b`},
		{`"!#&;` + "`" + `|*?~<>^()[]{}$, `, `\"\!\#\&\;\` + "`" + `\|\*\?\~\<\>\^\(\)\[\]\{\}\$\,\ `},
		{"a\nb", "a\nb"},           // '\x0A' in MHA's list is four characters: not escaped
		{"a\xffb", "a\xffb"},       // likewise '\xFF'
		{"%+-./:=@_", "%+-./:=@_"}, // not in the list
	}
	for _, tt := range tests {
		if got := Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// mhaEscape is MHA 0.58's escape_for_shell transcribed: the quoted form
// MHA pastes into its shell string.
func mhaEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		x := s[i : i+1]
		escape := strings.Contains(`"!#&;`+"`"+`|*?~<>^()[]{}$, `, x)
		if x == "'" {
			x = `'\''`
		}
		if x == `\` {
			x = `\\`
		}
		if escape {
			x = `\` + x
		}
		b.WriteString(x)
	}
	return "'" + b.String() + "'"
}

// mhaSSHArgs is MHA 0.58's get_ssh_args_if transcribed, with gomha's
// option strings.
func mhaSSHArgs(e Endpoint, argNumber int, typ string, reachable bool) string {
	arg := " "
	head := map[string]string{"orig": " --orig_master_", "new": " --new_master_", "shutdown": " --"}[typ]
	if e.Host != e.SSHHost || e.IP != e.SSHIP {
		arg += head + "ssh_host=" + e.SSHHost + head + "ssh_ip=" + e.SSHIP
	}
	if e.SSHPort != 22 {
		arg += head + "ssh_port=" + strconv.Itoa(e.SSHPort)
	}
	if e.SSHOptions != "" && argNumber <= 1 {
		arg += " --ssh_options='" + SSHOptionString(e, reachable) + "' "
	}
	return arg
}

// shWords returns what a hook receives from MHA's string: sh splits it.
func shWords(t *testing.T, mha string) []string {
	t.Helper()
	out, err := exec.Command("/bin/sh", "-c", `printf '%s\0' `+mha).Output()
	if err != nil {
		t.Fatalf("sh -c %q: %v", mha, err)
	}
	words := strings.Split(string(out), "\x00")
	return words[:len(words)-1]
}

// TestArgsAgainstMHAStrings builds MHA 0.58's command strings as its Perl
// code does (MasterFailover.pm, MasterRotate.pm, MasterMonitor.pm), lets
// /bin/sh split them, and compares with the builders, for hostile users
// and passwords and every SSH extra.
func TestArgsAgainstMHAStrings(t *testing.T) {
	endpoints := []Endpoint{
		{Host: "db1", IP: "10.0.0.1", Port: 3306, SSHUser: "root", SSHHost: "db1", SSHIP: "10.0.0.1", SSHPort: 22},
		{Host: "db2.example", IP: "10.0.0.2", Port: 3307, SSHUser: "mha", SSHHost: "db2-admin", SSHIP: "10.9.0.2", SSHPort: 2222,
			SSHOptions: "-i /root/.ssh/id_mha -o UserKnownHostsFile=/etc/mha/known_hosts", SSHConnectTimeout: 7 * time.Second},
		{Host: "db3", IP: "10.0.0.3", Port: 3306, SSHUser: "root", SSHHost: "db3", SSHIP: "10.0.0.3", SSHPort: 22, SSHOptions: "-p 22"},
	}
	port := func(e Endpoint) string { return strconv.Itoa(e.Port) }
	for _, pw := range hostile {
		for i, orig := range endpoints {
			newm := endpoints[(i+1)%len(endpoints)]
			orig.User, orig.Password = "or ig$"+pw, pw
			newm.User, newm.Password = pw+"'new", "N"+pw
			for _, reachable := range []bool{true, false} {
				orig.SSHUnreachable = !reachable
				cases := map[string]struct {
					mha string
					got []string
				}{
					"failover status": {
						" --command=status --ssh_user=" + orig.SSHUser + " --orig_master_host=" + orig.Host + " --orig_master_ip=" + orig.IP + " --orig_master_port=" + port(orig) +
							mhaSSHArgs(orig, 1, "orig", true),
						FailoverStatusArgs(orig)},
					"failover stop": {
						" --orig_master_host=" + orig.Host + " --orig_master_ip=" + orig.IP + " --orig_master_port=" + port(orig) +
							map[bool]string{true: " --command=stopssh --ssh_user=" + orig.SSHUser + " ", false: " --command=stop"}[reachable] +
							mhaSSHArgs(orig, 1, "orig", reachable),
						FailoverStopArgs(orig, reachable)},
					"failover start": {
						" --command=start --ssh_user=" + newm.SSHUser + " --orig_master_host=" + orig.Host + " --orig_master_ip=" + orig.IP + " --orig_master_port=" + port(orig) +
							" --new_master_host=" + newm.Host + " --new_master_ip=" + newm.IP + " --new_master_port=" + port(newm) + " --new_master_user=" + mhaEscape(newm.User) +
							mhaSSHArgs(orig, 1, "orig", reachable) + mhaSSHArgs(newm, 2, "new", true) +
							" --new_master_password=" + mhaEscape(newm.Password),
						FailoverStartArgs(orig, newm)},
					"shutdown status": {
						" --command=status --ssh_user=" + orig.SSHUser + " --host=" + orig.Host + " --ip=" + orig.IP + mhaSSHArgs(orig, 1, "shutdown", true),
						ShutdownStatusArgs(orig)},
					"shutdown stop": {
						map[bool]string{true: " --command=stopssh --ssh_user=" + orig.SSHUser + " ", false: " --command=stop"}[reachable] +
							" --host=" + orig.Host + "  --ip=" + orig.IP + "  --port=" + port(orig) + "  --pid_file=/var/run/mysqld/mysqld.pid" +
							mhaSSHArgs(orig, 1, "shutdown", reachable),
						ShutdownStopArgs(orig, reachable, "/var/run/mysqld/mysqld.pid")},
					"online change": {
						" --command=stop --orig_master_host=" + orig.Host + " --orig_master_ip=" + orig.IP + " --orig_master_port=" + port(orig) + " --orig_master_user=" + mhaEscape(orig.User) +
							" --new_master_host=" + newm.Host + " --new_master_ip=" + newm.IP + " --new_master_port=" + port(newm) + " --new_master_user=" + mhaEscape(newm.User) +
							" --orig_master_ssh_user=" + orig.SSHUser + " --new_master_ssh_user=" + newm.SSHUser +
							mhaSSHArgs(orig, 1, "orig", true) + mhaSSHArgs(newm, 2, "new", true) +
							map[bool]string{true: " --orig_master_is_new_slave", false: ""}[reachable] +
							" --orig_master_password=" + mhaEscape(orig.Password) + " --new_master_password=" + mhaEscape(newm.Password),
						OnlineChangeArgs(OnlineChange{Command: "stop", Orig: orig, New: newm, OrigIsNewSlave: reachable})},
				}
				for name, c := range cases {
					if diff := cmp.Diff(shWords(t, c.mha), c.got); diff != "" {
						t.Errorf("%s, password %q, %s, ssh reachable %v: argv (-MHA +gomha):\n%s", name, pw, orig.Host, reachable, diff)
					}
				}
			}
		}
	}
}

func TestShutdownStopWithoutPIDFile(t *testing.T) {
	e := Endpoint{Host: "db1", IP: "10.0.0.1", Port: 3306, SSHUser: "root"}
	want := []string{"--command=stop", "--host=db1", "--ip=10.0.0.1", "--port=3306"}
	if diff := cmp.Diff(want, ShutdownStopArgs(e, false, "")); diff != "" {
		t.Error(diff)
	}
}

func TestSSHOptionString(t *testing.T) {
	e := Endpoint{SSHOptions: `-i "/root/key" -o 'ProxyJump=bastion'`, SSHConnectTimeout: 9 * time.Second}
	if got, want := SSHOptionString(e, true), "-o ServerAliveInterval=60 -o ServerAliveCountMax=20 -o ConnectionAttempts=5 -o PasswordAuthentication=no -o BatchMode=yes -i /root/key -o ProxyJump=bastion"; got != want {
		t.Errorf("alive = %q, want %q", got, want)
	}
	if got, want := SSHOptionString(e, false), "-o PasswordAuthentication=no -o BatchMode=yes -o ConnectTimeout=9 -i /root/key -o ProxyJump=bastion"; got != want {
		t.Errorf("check = %q, want %q", got, want)
	}
	e.SSHConnectTimeout = 0
	if got := SSHOptionString(e, false); !strings.Contains(got, "ConnectTimeout=5 ") {
		t.Errorf("check without timeout = %q, want MHA's default 5", got)
	}
	if got := SSHOptionString(Endpoint{SSHOptions: `""`}, true); got != "" {
		t.Errorf("options of only quotes = %q, want none", got)
	}
}

func TestReportArgs(t *testing.T) {
	body := "Master db1(10.0.0.1:3306) is down!\n\nCheck MHA Manager logs at mgr:/var/log/mha/app1.log for details.\n$HOME `x` \\n"
	tests := []struct {
		name string
		r    Report
		want []string
	}{
		{"no new master", Report{OrigMasterHost: "db1", Conf: "/etc/mha/app1.cnf", Subject: "app1: MySQL Master failover db1(10.0.0.1:3306)", Body: body},
			[]string{"--orig_master_host=db1", "--conf=/etc/mha/app1.cnf", "--subject=app1: MySQL Master failover db1(10.0.0.1:3306)", "--body=" + body}},
		{"new master, no slaves", Report{OrigMasterHost: "db1", NewMasterHost: "db2", Conf: "c", Subject: "s", Body: "b"},
			[]string{"--orig_master_host=db1", "--new_master_host=db2", "--new_slave_hosts=", "--conf=c", "--subject=s", "--body=b"}},
		{"new master and slaves", Report{OrigMasterHost: "db1", NewMasterHost: "db2", NewSlaveHosts: []string{"db3", "db4"}, Conf: "c", Subject: "s", Body: "b"},
			[]string{"--orig_master_host=db1", "--new_master_host=db2", "--new_slave_hosts=db3,db4", "--conf=c", "--subject=s", "--body=b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ReportArgs(tt.r)); diff != "" {
				t.Error(diff)
			}
		})
	}
	// Without special characters, MHA's double-quoted subject and body
	// reach the hook as they are: the same words.
	r := Report{OrigMasterHost: "db1", NewMasterHost: "db2", NewSlaveHosts: []string{"db3"}, Conf: "/etc/mha/app1.cnf",
		Subject: "app1: MySQL Master failover db1(10.0.0.1:3306) to db2(10.0.0.2:3306) succeeded",
		Body:    "Master db1(10.0.0.1:3306) is down!\n\nSelected db2(10.0.0.2:3306) as a new master.\n"}
	mha := " --orig_master_host=" + r.OrigMasterHost + "  --new_master_host=" + r.NewMasterHost + "  --new_slave_hosts=db3  --conf=" + r.Conf +
		` --subject="` + r.Subject + `" --body="` + r.Body + `"`
	if diff := cmp.Diff(shWords(t, mha), ReportArgs(r)); diff != "" {
		t.Errorf("argv (-MHA +gomha):\n%s", diff)
	}
}

func TestSecondaryCheckArgs(t *testing.T) {
	m := Endpoint{Host: "db1", IP: "10.0.0.1", Port: 3306, SSHUser: "root", User: "mha user", Password: `p a$s'"`, SSHOptions: "-i /k", SSHConnectTimeout: 3 * time.Second}
	want := []string{"--user=root", "--master_host=db1", "--master_ip=10.0.0.1", "--master_port=3306",
		"--master_user=mha user", `--master_password=p a$s'"`, "--ping_type=INSERT",
		"--options=-o PasswordAuthentication=no -o BatchMode=yes -o ConnectTimeout=3 -i /k"}
	if diff := cmp.Diff(want, SecondaryCheckArgs(SecondaryCheck{Master: m, PingType: "INSERT"})); diff != "" {
		t.Error(diff)
	}
}

// Under MHA's checker name the --options set starts with MHA's
// StrictHostKeyChecking=no (the secondary hosts' keys are usually not in
// known_hosts, and MHA's checker would exit 2 forever); gomha's own
// checker and a site's script keep host-key checking; an ssh_options that
// says StrictHostKeyChecking itself is left as it is.
func TestSecondaryCheckArgsHostKeys(t *testing.T) {
	const check = "-o PasswordAuthentication=no -o BatchMode=yes -o ConnectTimeout=5 "
	tests := []struct {
		name, script, sshOptions string
		// want is the --options value; "" means no --options at all.
		want string
	}{
		{"MHA's Perl checker", "/usr/bin/masterha_secondary_check -s db2 -s db3", "-i /k",
			"-o StrictHostKeyChecking=no " + check + "-i /k"},
		{"MHA's name found on PATH", "masterha_secondary_check -s db2", "-i /k",
			"-o StrictHostKeyChecking=no " + check + "-i /k"},
		{"quoted path to MHA's name", `'/opt/mha tools/masterha_secondary_check' -s db2`, "-i /k",
			"-o StrictHostKeyChecking=no " + check + "-i /k"},
		{"MHA's name, ssh_options sets host-key checking itself", "masterha_secondary_check -s db2", "-o StrictHostKeyChecking=yes",
			check + "-o StrictHostKeyChecking=yes"},
		{"MHA's name, spelled in another case", "masterha_secondary_check -s db2", "-o stricthostkeychecking=accept-new",
			check + "-o stricthostkeychecking=accept-new"},
		{"MHA's name without ssh_options: no --options, the checker's defaults", "masterha_secondary_check -s db2", "", ""},
		{"gomha's own checker keeps host-key checking", "/usr/local/bin/mha secondary-check -s db2", "-i /k", check + "-i /k"},
		{"a site's own script", "/usr/local/bin/secondary_hook -s db2", "-i /k", check + "-i /k"},
		{"a name that only contains MHA's", "/usr/local/bin/my_masterha_secondary_check_wrapper -s db2", "-i /k", check + "-i /k"},
		{"no script", "", "-i /k", check + "-i /k"},
		{"unbalanced quote", `masterha_secondary_check 'x`, "-i /k", check + "-i /k"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Endpoint{Host: "db1", IP: "10.0.0.1", Port: 3306, SSHUser: "root", SSHOptions: tt.sshOptions, SecondaryCheckScript: tt.script}
			var got string
			found := false
			for _, a := range SecondaryCheckArgs(SecondaryCheck{Master: m, PingType: "SELECT"}) {
				if v, ok := strings.CutPrefix(a, "--options="); ok {
					got, found = v, true
				}
			}
			if found != (tt.want != "") || got != tt.want {
				t.Errorf("--options %q (sent %t); want %q", got, found, tt.want)
			}
		})
	}
}

func TestEndpointOf(t *testing.T) {
	srv := config.Server{Block: "server1", Params: config.Params{
		Hostname: "db1", IP: "10.0.0.1", Port: 3307, SSHHost: "db1", SSHIP: "10.0.0.1", SSHPort: 22, SSHUser: "root",
		SSHOptions: "-i /k", User: "mha", Password: "pw", SSHConnectionTimeout: 5 * time.Second,
		SecondaryCheckScript: "masterha_secondary_check -s db2",
	}}
	want := Endpoint{Host: "db1", IP: "10.0.0.1", Port: 3307, SSHUser: "root", SSHHost: "db1", SSHIP: "10.0.0.1", SSHPort: 22,
		SSHOptions: "-i /k", User: "mha", Password: "pw", SSHConnectTimeout: 5 * time.Second,
		SecondaryCheckScript: "masterha_secondary_check -s db2"}
	if diff := cmp.Diff(want, EndpointOf(srv)); diff != "" {
		t.Error(diff)
	}
	// Unset SSH fields default like MHA's: no extras.
	e := Endpoint{Host: "db1", IP: "10.0.0.1", Port: 3306, SSHUser: "root"}
	want2 := []string{"--command=status", "--ssh_user=root", "--orig_master_host=db1", "--orig_master_ip=10.0.0.1", "--orig_master_port=3306"}
	if diff := cmp.Diff(want2, FailoverStatusArgs(e)); diff != "" {
		t.Errorf("FailoverStatusArgs with unset SSH fields:\n%s", diff)
	}
}
