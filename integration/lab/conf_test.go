package lab

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func testLab() *Lab {
	l := &Lab{
		Name: "gl-000000", AdminUser: "mha", AdminPassword: "Adm$in pw;1", ReplUser: "repl", ReplPassword: "Re`pl pw|2",
		SSHKey: "/tmp/l/id_ed25519", KnownHosts: "/tmp/l/known_hosts", ManagerWorkdir: "/tmp/l/manager",
	}
	for i, ip := range []string{"198.18.7.11", "198.18.7.12"} {
		d := "/tmp/l/db" + string(rune('1'+i))
		l.Hosts = append(l.Hosts, &Host{IP: ip, Port: 3306, DataDir: d + "/data", RemoteWorkdir: d + "/work"})
	}
	return l
}

func TestAppConf(t *testing.T) {
	got, err := testLab().AppConf("ping_interval=3", "[server2] candidate_master=1", "-repl_password",
		"[server2] -remote_workdir", "[binlog1] hostname=198.18.7.20", "[server3]", " secondary_check_script = x y ")
	if err != nil {
		t.Fatal(err)
	}
	want := `# MHA application configuration for gomha lab gl-000000 (integration/lab).
[server default]
user=mha
password=Adm$in pw;1
repl_user=repl
ssh_user=root
ssh_options=-i /tmp/l/id_ed25519 -o UserKnownHostsFile=/tmp/l/known_hosts
manager_workdir=/tmp/l/manager
ping_interval=3
secondary_check_script=x y

[server1]
hostname=198.18.7.11
port=3306
master_binlog_dir=/tmp/l/db1/data
remote_workdir=/tmp/l/db1/work

[server2]
hostname=198.18.7.12
port=3306
master_binlog_dir=/tmp/l/db2/data
candidate_master=1

[binlog1]
hostname=198.18.7.20

[server3]
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AppConf (-want +got):\n%s", diff)
	}
}

func TestAppConfBadExtra(t *testing.T) {
	for _, extra := range []string{"novalue", "[server1 x=1", "[] x=1", "=1"} {
		if _, err := testLab().AppConf(extra); err == nil {
			t.Errorf("AppConf(%q) succeeded", extra)
		}
	}
}

func TestQuoteSQL(t *testing.T) {
	for in, want := range map[string]string{
		"plain":       `'plain'`,
		"Adm$in pw;1": `'Adm$in pw;1'`,
		`it's`:        `'it\'s'`,
		`back\slash`:  `'back\\slash'`,
		"nl\nnul\x00": `'nl\nnul\0'`,
	} {
		if got := QuoteSQL(in); got != want {
			t.Errorf("QuoteSQL(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestUnescapeBatch(t *testing.T) {
	in := `a\tb\nc\\d\0e`
	if got, want := unescapeBatch(in), "a\tb\nc\\d\x00e"; got != want {
		t.Errorf("unescapeBatch(%q) = %q, want %q", in, got, want)
	}
	if got := unescapeBatch(`trailing\`); got != `trailing\` {
		t.Errorf("trailing backslash: %q", got)
	}
}

func TestLabNameRE(t *testing.T) {
	for name, want := range map[string]string{
		"gl-3f9a0c": "gl-3f9a0c", "gl-3f9a0c-db1": "gl-3f9a0c", "gl-3f9a0c-1": "gl-3f9a0c", "gl-3f9a0c-mgr": "gl-3f9a0c",
		"gl-3F9a0c": "", "gl-3f9a0": "", "xgl-3f9a0c": "", "eth0": "",
	} {
		got := ""
		if m := labNameRE.FindStringSubmatch(name); m != nil {
			got = m[1]
		}
		if got != want {
			t.Errorf("%s: lab %q, want %q", name, got, want)
		}
	}
	if !strings.HasPrefix("gl-000000", namePrefix) {
		t.Error("prefix")
	}
}
