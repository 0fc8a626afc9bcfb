package watchdog

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultsRoundTrip(t *testing.T) {
	for _, c := range []Client{
		{User: "mha", Password: `Adm$in pw;1`, Host: "198.18.0.11", Port: 3306},
		{User: "root", Password: `q"uo\te 'x' #not a comment`, Socket: "/run/mysqld/mysqld.sock"},
		{User: "u", Password: "", Host: "::1", Port: 3307},
		{User: "u", Password: "tab\there\nnewline", Host: "h", Port: 1},
	} {
		b := FormatDefaults(c)
		got, err := ParseDefaults(b)
		if err != nil {
			t.Fatalf("%s: %v\n%s", c, err, b)
		}
		want := c
		if want.Socket != "" {
			want.Host, want.Port = "127.0.0.1", 3306
		}
		if got != want {
			t.Errorf("round trip of %#v gave %#v\n%s", c, got, b)
		}
		if strings.Contains(c.String(), c.Password) && c.Password != "" {
			t.Errorf("String shows the password: %s", c)
		}
	}
}

func TestParseDefaults(t *testing.T) {
	got, err := ParseDefaults([]byte("[mysqld]\nuser=mysql\n[client]\nuser = mha\npassword='pw x'\nport=3307 \nhost=db1 # the master\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got != (Client{User: "mha", Password: "pw x", Host: "db1", Port: 3307}) {
		t.Errorf("got %#v", got)
	}
	for _, bad := range []string{"[client]\npassword=x\n", "[client]\nuser=u\nport=x\n", "[client\nuser=u\n", "[client]\nuser=\"u\n"} {
		if _, err := ParseDefaults([]byte(bad)); err == nil {
			t.Errorf("ParseDefaults(%q) succeeded", bad)
		}
	}
}

func TestMatchHost(t *testing.T) {
	tests := []struct {
		host  string
		hosts []string
		want  bool
	}{
		{"198.18.0.1:41234", []string{"198.18.0.1"}, true},
		{"198.18.0.10:41234", []string{"198.18.0.1"}, false},
		{"[fd00::2]:41234", []string{"fd00:0::2"}, true},
		{"fd00::2:41234", []string{"fd00::2"}, true},
		{"mgr.example:5", []string{"198.18.0.1", "MGR.example"}, true},
		{"localhost", []string{"198.18.0.1"}, false},
		{"::ffff:198.18.0.1:5", []string{"198.18.0.1"}, true},
		{"", []string{"198.18.0.1"}, false},
	}
	for _, tt := range tests {
		if got := MatchHost(tt.host, tt.hosts); got != tt.want {
			t.Errorf("MatchHost(%q, %q) = %v, want %v", tt.host, tt.hosts, got, tt.want)
		}
	}
}

func TestParseIdle(t *testing.T) {
	tests := []struct {
		s       string
		seconds bool
		want    time.Duration
		ok      bool
	}{
		{"1234.567", false, 1235 * time.Millisecond, true},
		{"0.000", false, 0, true},
		{"3", true, 4 * time.Second, true},
		{"x", false, 0, false},
		{"-1", false, 0, false},
	}
	for _, tt := range tests {
		got, ok := parseIdle(tt.s, tt.seconds)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseIdle(%q, %v) = %v %v", tt.s, tt.seconds, got, ok)
		}
	}
}

func TestKeepSession(t *testing.T) {
	tests := []struct {
		user, command string
		keep          bool
	}{
		{"system user", "Slave_SQL", true},
		{"event_scheduler", "Daemon", true},
		{"repl", "Binlog Dump", true},
		{"repl", "Binlog Dump GTID", true},
		{"app", "Query", false},
		{"mha", "Sleep", false},
		{"unauthenticated user", "Connect", false},
	}
	for _, tt := range tests {
		if got := keepSession(tt.user, tt.command); got != tt.keep {
			t.Errorf("keepSession(%q, %q) = %v", tt.user, tt.command, got)
		}
	}
}
