package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// warningStrings returns the warnings as their one-line form.
func warningStrings(ws []Problem) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.String()
	}
	return out
}

// checkWarnings asserts that each want (a "LINE: text" suffix after the file
// name, or text for whole-file warnings) is among the warnings, and that
// there are no others.
func checkWarnings(t *testing.T, file string, got []Problem, want []string) {
	t.Helper()
	gs := warningStrings(got)
	for _, w := range want {
		found := false
		for _, g := range gs {
			if strings.Contains(g, w) {
				found = true
			}
		}
		if !found {
			t.Errorf("no warning containing %q in:\n%s", w, strings.Join(gs, "\n"))
		}
	}
	if len(gs) != len(want) {
		t.Errorf("got %d warnings, want %d:\n%s", len(gs), len(want), strings.Join(gs, "\n"))
	}
}

func TestLoadGood(t *testing.T) {
	b := builtin()
	allDefault := with(b, func(p *Params) {
		p.Port = 3307
		p.SSHPort = 2222
		p.SSHUser = "mhaadmin"
		p.SSHConnectionTimeout = 7 * time.Second
		p.SSHOptions = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
		p.User = "mha"
		p.Password = "s3cret pw"
		p.ReplUser = "repl"
		p.ReplPassword = "r3pl"
		p.SkipResetSlave = true
		p.DisableLogBin = true
		p.MasterPIDFile = "/var/run/mysqld/mysqld.pid"
		p.HandleRawBinlog = false
		p.RemoteWorkdir = "/var/tmp/mha"
		p.MasterBinlogDir = []string{"/data/binlog", "/data/binlog2"}
		p.LogLevel = "debug"
		p.ManagerWorkdir = "/var/lib/mha/app1"
		p.ManagerLog = "/var/log/mha/app1.log"
		p.CheckReplDelay = false
		p.CheckReplFilter = false
		p.LatestPriority = false
		p.MultiTierSlave = true
		p.PingInterval = 5 * time.Second
		p.PingType = PingConnect
		p.SecondaryCheckScript = "/usr/local/bin/masterha_secondary_check -s remote1 -s remote2"
		p.MasterIPFailoverScript = "/usr/local/bin/master_ip_failover"
		p.MasterIPOnlineChangeScript = "/usr/local/bin/master_ip_online_change"
		p.ShutdownScript = "/usr/local/bin/power_manager"
		p.ReportScript = "/usr/local/bin/send_report"
		p.InitConfLoadScript = "/bin/echo client_bindir=/opt/mysql/bin"
		p.ClientBindir = "/opt/mysql/bin" // from init_conf_load_script, over /usr/bin
		p.ClientLibdir = "/usr/lib/mysql"
		p.UseGTIDAutoPos = false
	})
	quotesDefault := with(b, func(p *Params) {
		p.Password = "double quoted"
		p.ReplPassword = "single"
		p.SecondaryCheckScript = `/usr/local/bin/check --arg "a b` // only the last quote goes
		p.ReportScript = `"/usr/local/bin/report`                  // a leading quote alone stays
		p.ShutdownScript = "/usr/local/bin/power_manager"
		p.MasterPIDFile = `pid"` // one quote per level: stripped again in each block
		p.SSHOptions = "-o X=1"  // every quote deleted
	})
	tinyDefault := with(b, func(p *Params) {
		p.User = "admin"
		p.Password = "pw # not a comment"
		p.ReplPassword = "rp"
		p.ReplUser = "a;b"
		p.MasterPIDFile = "x ;"
	})

	tests := []struct {
		file         string
		wantDefault  Params
		wantServers  []Server
		wantBinlogs  []Server
		wantWarnings []string
	}{
		{
			file:        "minimal.cnf",
			wantDefault: b,
			wantServers: []Server{srv(b, "server1", 1, "db1", "192.0.2.1")},
			wantWarnings: []string{
				"no-global.cnf: Global configuration file",
			},
		},
		{
			file:        "all_params.cnf",
			wantDefault: allDefault,
			wantServers: []Server{
				srv(allDefault, "server1", 39, "db1", "192.0.2.101", func(p *Params) {
					p.Port = 3308
					p.SSHHost, p.SSHIP = "bastion1", "198.51.100.1" // ssh_ip=203.0.113.99 is ignored
					p.SSHPort = 2200
					p.NodeLabel = "primary"
					p.CandidateMaster = true
					p.IgnoreFail = true
					p.SkipInitSSHCheck = true
					p.SSHOptions = "-o ConnectTimeout=9"
				}),
				srv(allDefault, "server2", 53, "db2", "192.0.2.2"),
			},
			wantWarnings: []string{
				"no-global.cnf: Global configuration file",
				"all_params.cnf:44: [server1] ssh_ip: ignored",
				`all_params.cnf:51: [server1] ssh_options: MHA 0.58 would use "-o ConnectTimeout=9" for every server; gomha uses each block's own or inherited value, which differs for server2`,
			},
		},
		{
			file:        "numeric_order.cnf",
			wantDefault: b,
			wantServers: []Server{
				srv(b, "server1", 5, "db1", "192.0.2.1"),
				srv(b, "server2", 3, "db2", "192.0.2.2"),
				srv(b, "server10", 1, "db10", "192.0.2.10"),
			},
			wantBinlogs: []Server{ // string order
				srv(b, "binlog10", 9, "binlog10", "192.0.2.210"),
				srv(b, "binlog2", 7, "binlog2", "192.0.2.202"),
			},
			wantWarnings: []string{"Global configuration file"},
		},
		{
			file:        "string_order.cnf",
			wantDefault: b,
			wantServers: []Server{
				srv(b, "server10", 2, "db10", "192.0.2.10"),
				srv(b, "server2", 4, "db2", "192.0.2.2"),
				srv(b, "server_b", 6, "db3", "192.0.2.3"),
			},
			wantWarnings: []string{"Global configuration file"},
		},
		{
			file:        "config_tiny.cnf",
			wantDefault: tinyDefault,
			wantServers: []Server{
				srv(tinyDefault, "server1", 10, "db1", "192.0.2.1", func(p *Params) {
					p.Port = 3310
					p.CandidateMaster = true // from the repeated [server1]
				}),
				srv(tinyDefault, "server2", 14, "db2", "192.0.2.2"),
			},
			wantWarnings: []string{
				"Global configuration file",
				"config_tiny.cnf:13: [server1] port: overrides the value set at line 12",
				"config_tiny.cnf:16: [server1] section repeated (first at line 10)",
			},
		},
		{
			file:        "line_endings.cnf",
			wantDefault: with(b, func(p *Params) { p.User = "crlf" }),
			wantServers: []Server{
				srv(with(b, func(p *Params) { p.User = "crlf" }), "server1", 4, "db1", "192.0.2.1"),
				srv(with(b, func(p *Params) { p.User = "crlf" }), "server2", 6, "db2", "192.0.2.2", func(p *Params) { p.Port = 3307 }),
			},
			wantWarnings: []string{"Global configuration file"},
		},
		{
			file:         "bom.cnf",
			wantDefault:  b,
			wantServers:  []Server{srv(b, "server1", 2, "db1", "192.0.2.1")},
			wantWarnings: []string{"Global configuration file"},
		},
		{
			file:        "quotes.cnf",
			wantDefault: quotesDefault,
			wantServers: []Server{
				srv(quotesDefault, "server1", 9, "db1", "192.0.2.1", func(p *Params) {
					p.User = "dba"
					p.MasterPIDFile = "pid"
				}),
				srv(quotesDefault, "server2", 12, "db2", "192.0.2.2", func(p *Params) {
					p.Password = "own"
					p.MasterPIDFile = "pid"
				}),
			},
			wantWarnings: []string{"Global configuration file"},
		},
		{
			file:        "ssh_host.cnf",
			wantDefault: b,
			wantServers: []Server{
				srv(b, "server1", 1, "db1", "192.0.2.1", func(p *Params) { p.SSHHost, p.SSHIP = "bastion1", "198.51.100.1" }),
				srv(b, "server2", 4, "v6host", "2001:db8::1"),
				srv(b, "server3", 6, "multi", "192.0.2.50"), // the first address
				srv(b, "server4", 9, "db4", "192.0.2.44"),   // ip given: db4 is not resolved
			},
			wantWarnings: []string{"Global configuration file"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "good", tt.file)
			o := opts(t, path)
			cfg, err := Load(context.Background(), o)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := &Config{
				File:    path,
				App:     strings.TrimSuffix(tt.file, ".cnf"),
				Default: tt.wantDefault,
				Servers: tt.wantServers,
				Binlogs: tt.wantBinlogs,
			}
			if diff := cmp.Diff(want, cfg, cmpopts.IgnoreFields(Config{}, "Warnings"), cmpopts.IgnoreFields(Server{}, "Origins")); diff != "" {
				t.Errorf("Load mismatch (-want +got):\n%s", diff)
			}
			checkWarnings(t, path, cfg.Warnings, tt.wantWarnings)
		})
	}
}

// TestGoodFixturesCovered makes sure a new good fixture gets a table entry.
func TestGoodFixturesCovered(t *testing.T) {
	files, err := filepath.Glob("testdata/good/*.cnf")
	if err != nil || len(files) < 9 {
		t.Fatalf("good fixtures: %v, %v", files, err)
	}
	for _, f := range files {
		cfg, err := Load(context.Background(), opts(t, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(cfg.Servers) == 0 {
			t.Errorf("%s: no servers", f)
		}
	}
}

// badWants reads the "# want: " lines of a bad fixture.
func badWants(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var wants []string
	for line := range strings.SplitSeq(string(data), "\n") {
		if w, ok := strings.CutPrefix(line, "# want: "); ok {
			if w[0] >= '0' && w[0] <= '9' {
				wants = append(wants, path+":"+w)
			} else {
				wants = append(wants, path+": "+w)
			}
		}
	}
	if len(wants) == 0 {
		t.Fatalf("%s has no # want: lines", path)
	}
	return wants
}

func TestLoadBad(t *testing.T) {
	sentinels := map[string][]error{
		"bad_values.cnf":         {ErrInvalidValue},
		"duplicate_address.cnf":  {ErrDuplicateAddress},
		"init_script.cnf":        {ErrUnknownParameter},
		"invalid_block.cnf":      {ErrInvalidBlock},
		"key_before_section.cnf": {ErrKeyOutsideSection},
		"many.cnf":               {ErrUnknownParameter, ErrInvalidValue, ErrInvalidBlock, ErrNoHostname, ErrResolve},
		"no_hostname.cnf":        {ErrNoHostname},
		"no_servers.cnf":         {ErrNoServers},
		"syntax.cnf":             {ErrSyntax},
		"unknown_param.cnf":      {ErrUnknownParameter},
		"unresolvable.cnf":       {ErrResolve},
	}
	files, err := filepath.Glob("testdata/bad/*.cnf")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(sentinels) {
		t.Errorf("%d bad fixtures, %d table entries", len(files), len(sentinels))
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			wants := badWants(t, path)
			cfg, err := Load(context.Background(), opts(t, path))
			if err == nil {
				t.Fatalf("Load succeeded: %+v", cfg)
			}
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			msg := err.Error()
			for _, w := range wants {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q:\n%s", w, msg)
				}
			}
			if len(cerr.Problems) != len(wants) {
				t.Errorf("%d problems, want %d:\n%s", len(cerr.Problems), len(wants), msg)
			}
			if strings.Count(msg, "\n")+1 != len(cerr.Problems) {
				t.Errorf("not one line per problem:\n%s", msg)
			}
			for _, s := range sentinels[name] {
				if !errors.Is(err, s) {
					t.Errorf("errors.Is(err, %v) = false", s)
				}
			}
		})
	}
}

func TestLoadAppFileErrors(t *testing.T) {
	_, err := Load(context.Background(), opts(t, filepath.Join(t.TempDir(), "missing.cnf")))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing app file: got %v, want ErrNotExist", err)
	}
	if _, err := Load(context.Background(), LoadOptions{}); err == nil {
		t.Error("no app file: got nil error")
	}
}

func TestGlobalFile(t *testing.T) {
	app := writeFile(t, "app1.cnf", `[server default]
password=app_pw
[server1]
hostname=db1
[server2]
hostname=db2
user=own
`)
	global := filepath.Join("testdata", "global", "full.cnf")
	o := opts(t, app)
	o.GlobalFile = global
	cfg, err := Load(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	def := with(builtin(), func(p *Params) {
		p.User = "global_user"
		p.Password = "app_pw" // the application file wins
		p.SSHUser = "global_ssh"
		p.PingInterval = 9 * time.Second
		p.SSHOptions = "-o Global=1"
	})
	want := &Config{
		File:       app,
		GlobalFile: global,
		App:        "app1",
		Default:    def,
		Servers: []Server{
			srv(def, "server1", 3, "db1", "192.0.2.1"), // candidate_master=1 in the global file is not inherited
			srv(def, "server2", 5, "db2", "192.0.2.2", func(p *Params) { p.User = "own" }),
		},
	}
	if diff := cmp.Diff(want, cfg, cmpopts.IgnoreFields(Config{}, "Warnings"), cmpopts.IgnoreFields(Server{}, "Origins")); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	checkWarnings(t, global, cfg.Warnings, []string{
		global + ":2: port: keys before the first section of the global file are ignored",
		global + ":10: [server default] candidate_master: has no effect here",
		global + ":12: [server1] ignored: only [server default] is read from the global file",
	})
}

func TestGlobalFileProblems(t *testing.T) {
	global := writeFile(t, "global.cnf", "[server default]\nping_type=PONG\nsssh_user=x\n[whatever]\nnot checked\n")
	app := writeFile(t, "app.cnf", "[server1]\nhostname=db1\nport=x\n")
	o := opts(t, app)
	o.GlobalFile = global
	_, err := Load(context.Background(), o)
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("got %v, want *Error", err)
	}
	var got []string
	for _, p := range cerr.Problems {
		got = append(got, p.String())
	}
	want := []string{
		global + `:2: [server default] ping_type: "PONG" is not CONNECT, SELECT or INSERT`,
		global + `:3: [server default] sssh_user: unknown parameter; did you mean ssh_user?`,
		// Config::Tiny rejects the whole global file on a syntax error, in
		// any section.
		global + `:5: [whatever] syntax error: "not checked" is not a [section], a key = value line or a comment`,
		app + `:3: [server1] port: "x" is not a port number (1-65535, or 0 for 3306)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestInheritance(t *testing.T) {
	// Each case is an application file with one server, server1 (db1).
	tests := []struct {
		name string
		app  string
		want func(*Params)
	}{
		{"block wins", "[server default]\nuser=a\n[server1]\nhostname=db1\nuser=b\n",
			func(p *Params) { p.User = "b" }},
		{"default inherited", "[server default]\nuser=a\nrepl_user=r\n[server1]\nhostname=db1\n",
			func(p *Params) { p.User, p.ReplUser = "a", "r" }},
		{"empty port means 3306", "[server default]\nport=\n[server1]\nhostname=db1\n", nil},
		{"port 0 means 3306", "[server1]\nhostname=db1\nport=0\n", nil},
		{"empty ssh_port in block means 22", "[server default]\nssh_port=2222\n[server1]\nhostname=db1\nssh_port=\n", nil},
		{"empty user means root", "[server default]\nuser=\n[server1]\nhostname=db1\n", nil},
		{"empty password is kept", "[server default]\npassword=x\n[server1]\nhostname=db1\npassword=\n", nil},
		{"empty boolean is 0", "[server default]\nhandle_raw_binlog=\n[server1]\nhostname=db1\n",
			func(p *Params) { p.HandleRawBinlog = false }},
		{"empty repl_user means Master_User", "[server default]\nrepl_user=\n[server1]\nhostname=db1\n", nil},
		{"ping_type upper-cased", "[server default]\nping_type=insert\n[server1]\nhostname=db1\n",
			func(p *Params) { p.PingType = PingInsert }},
		{"log_level alias", "[server1]\nhostname=db1\nlog_level=warn\n",
			func(p *Params) { p.LogLevel = "warning" }},
		{"master_binlog_dir blanks removed", "[server1]\nhostname=db1\nmaster_binlog_dir= /a , /b c ,,\n",
			func(p *Params) { p.MasterBinlogDir = []string{"/a", "/bc"} }},
		{"empty master_binlog_dir means the default", "[server1]\nhostname=db1\nmaster_binlog_dir=\n", nil},
		{"ssh_options from default reaches the block", "[server default]\nssh_options=-o A=1\n[server1]\nhostname=db1\n",
			func(p *Params) { p.SSHOptions = "-o A=1" }},
		{"ssh_options quotes deleted", "[server1]\nhostname=db1\nssh_options=-o 'A=1' -o \"B=2\"\n",
			func(p *Params) { p.SSHOptions = "-o A=1 -o B=2" }},
		{"ssh_user from the OS", "[server default]\nssh_user=\n[server1]\nhostname=db1\n", nil},
		{"ssh_host equal to hostname", "[server1]\nhostname=db1\nssh_host=db1\n", nil},
		{"explicit ip used for SSH too", "[server1]\nhostname=db1\nip=192.0.2.99\n",
			func(p *Params) { p.IP, p.SSHIP = "192.0.2.99", "192.0.2.99" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(context.Background(), opts(t, writeFile(t, "app.cnf", tt.app)))
			if err != nil {
				t.Fatal(err)
			}
			want := srv(builtin(), "server1", 0, "db1", "192.0.2.1")
			if tt.want != nil {
				tt.want(&want.Params)
			}
			if diff := cmp.Diff(want.Params, cfg.Servers[0].Params); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNotInherited(t *testing.T) {
	app := writeFile(t, "app.cnf", `[server default]
hostname=dbx
ip=192.0.2.77
ssh_host=bastion1
node_label=x
candidate_master=1
no_master=1
ignore_fail=1
skip_init_ssh_check=1
user=inherited
[server1]
hostname=db1
[server2]
hostname=db2
no_master=1
`)
	cfg, err := Load(context.Background(), opts(t, app))
	if err != nil {
		t.Fatal(err)
	}
	base := with(builtin(), func(p *Params) { p.User = "inherited" })
	want := []Server{
		srv(base, "server1", 11, "db1", "192.0.2.1"),
		srv(base, "server2", 13, "db2", "192.0.2.2", func(p *Params) { p.NoMaster = true }),
	}
	if diff := cmp.Diff(want, cfg.Servers, cmpopts.IgnoreFields(Server{}, "Origins")); diff != "" {
		t.Errorf("servers (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(base, cfg.Default); diff != "" {
		t.Errorf("default (-want +got):\n%s", diff)
	}
	var wantWarn []string
	for i, k := range []string{"hostname", "ip", "ssh_host", "node_label", "candidate_master", "no_master", "ignore_fail", "skip_init_ssh_check"} {
		wantWarn = append(wantWarn, app+":"+itoa(i+2)+": [server default] "+k+": has no effect here")
	}
	checkWarnings(t, app, cfg.Warnings, append(wantWarn, "Global configuration file"))
}

func TestOrdering(t *testing.T) {
	tests := []struct {
		name   string
		blocks []string
		want   []string
	}{
		{"numeric", []string{"server10", "server2", "server1"}, []string{"server1", "server2", "server10"}},
		{"numeric after a non-digit prefix", []string{"server_db10", "server_db2"}, []string{"server_db2", "server_db10"}},
		{"numeric with suffix", []string{"server10a", "server9z"}, []string{"server9z", "server10a"}},
		{"equal numbers keep string order", []string{"server1", "server01", "server_1"}, []string{"server01", "server1", "server_1"}},
		{"one name without a number: string order", []string{"server2", "server10", "server_b"}, []string{"server10", "server2", "server_b"}},
		{"string order is byte order", []string{"server_b", "serverB", "servera"}, []string{"serverB", "server_b", "servera"}},
		{"huge numbers", []string{"server100000000000000000001", "server99999999999999999999"}, []string{"server99999999999999999999", "server100000000000000000001"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			for i, name := range tt.blocks {
				b.WriteString("[" + name + "]\nhostname=h" + itoa(i) + "\nip=192.0.2." + itoa(i+1) + "\n")
			}
			cfg, err := Load(context.Background(), opts(t, writeFile(t, "app.cnf", b.String())))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range cfg.Servers {
				got = append(got, s.Block)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStripQuotes(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"x"`, `x`},
		{`'x'`, `x`},
		{`x"`, `x`},
		{`"x`, `"x`},
		{`'x"`, `x`},
		{`cmd "a b"`, `cmd "a b`},
		{`"`, ``},
		{`""`, ``},
		{`"""`, `"`},
		{`x""`, `x"`},
		{``, ``},
		{`0`, `0`},
		{`a'b`, `a'b`},
	}
	for _, tt := range tests {
		if got := stripQuotes(tt.in); got != tt.want {
			t.Errorf("stripQuotes(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestInitConfLoadScript(t *testing.T) {
	app := writeFile(t, "app.cnf", `[server default]
password=filepw
repl_password=filerepl
manager_log=/var/log/x.log
init_conf_load_script=printf 'password=fromscript=lost\ncandidate_master=1\nrepl_password=\nmanager_log==x\nping_interval=7\r\n\n'; :
[server1]
hostname=db1
ping_interval=4
[server2]
hostname=db2
`)
	cfg, err := Load(context.Background(), opts(t, app))
	if err != nil {
		t.Fatal(err)
	}
	def := with(builtin(), func(p *Params) {
		p.Password = "fromscript"   // cut at the second "="
		p.ReplPassword = "filerepl" // "repl_password=" leaves it alone
		p.ManagerLog = ""           // "manager_log==x" sets it empty
		p.PingInterval = 7 * time.Second
		p.InitConfLoadScript = `printf 'password=fromscript=lost\ncandidate_master=1\nrepl_password=\nmanager_log==x\nping_interval=7\r\n\n'; :`
	})
	want := []Server{
		srv(def, "server1", 6, "db1", "192.0.2.1", func(p *Params) { p.PingInterval = 4 * time.Second }), // the block wins
		srv(def, "server2", 9, "db2", "192.0.2.2"),                                                       // candidate_master from the script has no effect
	}
	if diff := cmp.Diff(want, cfg.Servers, cmpopts.IgnoreFields(Server{}, "Origins")); diff != "" {
		t.Errorf("servers (-want +got):\n%s", diff)
	}
	checkWarnings(t, app, cfg.Warnings, []string{
		"Global configuration file",
		app + ":5: [server default] candidate_master: init_conf_load_script output line 2: has no effect here",
	})
}

// TestInitConfLoadScriptTrailingQuote shows MHA's quote stripping breaking a
// command line that ends in a quote (mha-compat §0 item 5): the command run
// is `echo 'user=x`, which the shell rejects.
func TestInitConfLoadScriptTrailingQuote(t *testing.T) {
	app := writeFile(t, "app.cnf", "[server default]\ninit_conf_load_script=echo 'user=x'\n[server1]\nhostname=db1\n")
	cfg, err := Load(context.Background(), opts(t, app))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Servers[0].User; got != "root" {
		t.Errorf("user = %q, want root", got)
	}
	checkWarnings(t, app, cfg.Warnings, []string{
		"Global configuration file",
		app + `:2: [server default] init_conf_load_script: "echo 'user=x" failed (exit status 2: /bin/sh: `,
	})
}

func TestInitConfLoadScriptExitStatusIgnored(t *testing.T) {
	app := writeFile(t, "app.cnf", "[server default]\ninit_conf_load_script=echo password=p; echo oops >&2; exit 3\n[server1]\nhostname=db1\n")
	cfg, err := Load(context.Background(), opts(t, app))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Servers[0].Password; got != "p" {
		t.Errorf("password = %q, want p", got)
	}
	checkWarnings(t, app, cfg.Warnings, []string{
		"Global configuration file",
		app + `:2: [server default] init_conf_load_script: "echo password=p; echo oops >&2; exit 3" failed (exit status 3: oops); its output is used anyway`,
	})
}

func TestInitConfLoadScriptFromGlobalFile(t *testing.T) {
	global := writeFile(t, "global.cnf", "[server default]\ninit_conf_load_script=my-secrets --app x\n")
	app := writeFile(t, "app.cnf", "[server default]\nuser=fileuser\n[server1]\nhostname=db1\n")
	o := opts(t, app)
	o.GlobalFile = global
	var ran []string
	o.RunScript = func(_ context.Context, cmd string) ([]byte, error) {
		ran = append(ran, cmd)
		return []byte("user=scriptuser\nrepl_user=scriptrepl\n"), nil
	}
	cfg, err := Load(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"my-secrets --app x"}, ran); diff != "" {
		t.Errorf("commands run (-want +got):\n%s", diff)
	}
	if s := cfg.Servers[0]; s.User != "scriptuser" || s.ReplUser != "scriptrepl" {
		t.Errorf("user, repl_user = %q, %q; want scriptuser, scriptrepl", s.User, s.ReplUser)
	}
}

func TestInitConfLoadScriptCancelled(t *testing.T) {
	app := writeFile(t, "app.cnf", "[server default]\ninit_conf_load_script=sleep 30\n[server1]\nhostname=db1\n")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Load(ctx, opts(t, app))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Load took %v after the deadline", d)
	}
}

func TestResolveCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Load(ctx, opts(t, filepath.Join("testdata", "good", "minimal.cnf")))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want Canceled", err)
	}
}

func TestOSUserDefault(t *testing.T) {
	// With OSUser empty, Load asks os/user; either way ssh_user is set.
	o := opts(t, filepath.Join("testdata", "good", "minimal.cnf"))
	o.OSUser = ""
	cfg, err := Load(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Servers[0].SSHUser == "" {
		t.Error("ssh_user is empty")
	}
}

func TestSuggestParameter(t *testing.T) {
	tests := []struct{ in, want string }{
		{"pnig_interval", "ping_interval"},
		{"ping_intervall", "ping_interval"},
		{"Hostname", "hostname"},
		{"passwd", "password"},
		{"sshuser", "ssh_user"},
		{"master_binlogdir", "master_binlog_dir"},
		{"candidate", "candidate_master"},
		{"master_ip_failover", "master_ip_failover_script"},
		{"repl_pass", "repl_password"},
		{"xyz", ""},
		{"heartbeat_interval", ""},
		{"completely_unrelated_name", ""},
	}
	for _, tt := range tests {
		if got := SuggestParameter(tt.in); got != tt.want {
			t.Errorf("SuggestParameter(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLevenshtein(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"a", "", 1},
		{"", "abc", 3},
		{"kitten", "sitting", 3},
		{"ping_interval", "pnig_interval", 2},
		{"flaw", "lawn", 2},
	}
	for _, tt := range tests {
		if got := levenshtein(tt.a, tt.b); got != tt.want {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := levenshtein(tt.b, tt.a); got != tt.want {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestAppName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/etc/mha/app1.cnf", "app1"},
		{"app1.conf.cnf", "app1.conf"},
		{"/etc/mha/app1", "app1"},
		{"/etc/mha/.cnf", ".cnf"},
	}
	for _, tt := range tests {
		if got := appName(tt.in); got != tt.want {
			t.Errorf("appName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParametersTable(t *testing.T) {
	got := Parameters()
	if len(got) != 43 {
		t.Errorf("%d parameters, want MHA 0.58's 42 and gomha's fence_lease", len(got))
	}
	seen := map[string]bool{}
	for _, n := range got {
		if seen[n] {
			t.Errorf("duplicate %s", n)
		}
		seen[n] = true
	}
	got[0] = "changed"
	if Parameters()[0] != "hostname" {
		t.Error("Parameters shares its slice")
	}
}

func TestValidateBuiltConfig(t *testing.T) {
	p := builtin()
	cfg := &Config{
		File: "app.cnf",
		Servers: []Server{
			srv(p, "server1", 1, "db1", "192.0.2.1"),
			srv(p, "server2", 4, "", "", func(p *Params) { p.Port = 0; p.PingType = "PING" }),
		},
		Binlogs: []Server{srv(p, "server9", 7, "b", "192.0.2.9")},
	}
	err := cfg.Validate()
	want := strings.Join([]string{
		`app.cnf:4: [server2] hostname: missing (every server and binlog block needs one)`,
		`app.cnf:4: [server2] port: 0 is out of range 1-65535`,
		`app.cnf:4: [server2] ping_type: "PING" is not CONNECT, SELECT or INSERT`,
		`app.cnf:7: [server9] invalid block name`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("Validate:\n%v\nwant:\n%s", err, want)
	}
	v6 := &Config{File: "x", Servers: []Server{srv(p, "server1", 1, "a", "2001:db8::1"), srv(p, "server2", 2, "b", "2001:0db8:0::1")}}
	if err := v6.Validate(); !errors.Is(err, ErrDuplicateAddress) {
		t.Errorf("two spellings of one IPv6 address: %v", err)
	}
	if err := (&Config{File: "x", Servers: []Server{srv(p, "server1", 1, "db1", "192.0.2.1")}}).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

// TestPerlTruthBooleans: booleans take Perl truthiness as in MHA (empty and
// "0" false, anything else true), with a warning naming file and line for
// any value other than 0 or 1.
func TestPerlTruthBooleans(t *testing.T) {
	app := writeFile(t, "app1.cnf", "[server default]\nuser=u\n[server1]\nhostname=db1\ncandidate_master=yes\nno_master=0\n"+
		"[server2]\nhostname=db2\nno_master=no\ncheck_repl_delay=\n[server3]\nhostname=db3\nignore_fail=1\n")
	cfg, err := Load(context.Background(), opts(t, app))
	if err != nil {
		t.Fatal(err)
	}
	s1, s2, s3 := cfg.Servers[0], cfg.Servers[1], cfg.Servers[2]
	if !s1.CandidateMaster || s1.NoMaster || !s2.NoMaster || s2.CheckReplDelay || !s3.IgnoreFail {
		t.Fatalf("candidate_master=yes %v, no_master=0 %v, no_master=no %v, check_repl_delay= %v, ignore_fail=1 %v",
			s1.CandidateMaster, s1.NoMaster, s2.NoMaster, s2.CheckReplDelay, s3.IgnoreFail)
	}
	var got []string
	for _, w := range cfg.Warnings {
		if strings.Contains(w.Msg, "is not 0 or 1") {
			got = append(got, w.String())
		}
	}
	want := []string{
		app + `:5: [server1] candidate_master: "yes" is not 0 or 1; taken as 1 (true), as MHA does with any value other than empty or 0`,
		app + `:9: [server2] no_master: "no" is not 0 or 1; taken as 1 (true), as MHA does with any value other than empty or 0`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

// TestOrigins: each written parameter of a server points at the line that
// sets it, inherited ones at [server default]; built-in defaults at none.
func TestOrigins(t *testing.T) {
	app := writeFile(t, "app1.cnf", "[server default]\nuser=mha\npassword=wrong\n[server1]\nhostname=db1\n[server2]\nhostname=db2\npassword=own\n")
	cfg, err := Load(context.Background(), opts(t, app))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{
		"s1 password": cfg.Servers[0].Origin("password"),
		"s2 password": cfg.Servers[1].Origin("password"),
		"s1 user":     cfg.Servers[0].Origin("user"),
		"s1 port":     cfg.Servers[0].Origin("port"),
	}
	want := map[string]string{
		"s1 password": app + ":3 [server default]",
		"s2 password": app + ":8 [server2]",
		"s1 user":     app + ":2 [server default]",
		"s1 port":     "",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("origins (-want +got):\n%s", diff)
	}
}
