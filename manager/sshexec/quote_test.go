package sshexec

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// hostile are argument values that break naive shell quoting.
var hostile = []string{
	"",
	" ",
	"two words",
	"  leading and trailing  ",
	"it's",
	"'",
	"''",
	`"double"`,
	`\`,
	`back\slash\`,
	`\'`,
	"$(touch /tmp/gomha-pwned)",
	"`touch /tmp/gomha-pwned`",
	"${HOME}",
	"$HOME",
	"$1 $@ $* $# $? $$ $!",
	"a;b",
	"a && b || c",
	"a | b",
	"> /tmp/gomha-pwned",
	"< /etc/passwd",
	"*",
	"?",
	"[a-z]*",
	"~",
	"~root",
	"{a,b}",
	"#comment",
	"a=b",
	"-n",
	"--",
	"line1\nline2",
	"\n",
	"tab\there",
	"cr\rlf\r\n",
	"é unicode ☃ 日本語",
	"\xff\xfe invalid utf-8 \x80",
	"!bang !! !$",
	"%s %d %%",
	"\x01\x1b[31mescape",
	"(subshell)",
	"&",
	"=cmd",
	"^caret",
}

func TestQuote(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "''"},
		{"plain", "plain"},
		{"/var/lib/mysql/mysql-bin.000001", "/var/lib/mysql/mysql-bin.000001"},
		{"--relay_log_info=/x", "'--relay_log_info=/x'"},
		{"user@host:22", "user@host:22"},
		{"a,b+c%d", "a,b+c%d"},
		{"two words", "'two words'"},
		{"it's", `'it'\''s'`},
		{"'", `''\'''`},
		{"$(id)", "'$(id)'"},
		{"`id`", "'`id`'"},
		{"a\nb", "'a\nb'"},
		{"*", "'*'"},
		{"~", "'~'"},
		{"é", "'é'"},
		{"a=b", "'a=b'"},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestJoin(t *testing.T) {
	tests := []struct {
		argv []string
		want string
	}{
		{nil, ""},
		{[]string{"exit", "0"}, "exit 0"},
		{[]string{"echo", "", "a b"}, "echo '' 'a b'"},
		{[]string{"mysql", "-e", "SELECT 'x'"}, `mysql -e 'SELECT '\''x'\'''`},
	}
	for _, tt := range tests {
		if got := Join(tt.argv); got != tt.want {
			t.Errorf("Join(%q) = %q, want %q", tt.argv, got, tt.want)
		}
	}
}

// shells returns the POSIX shells on this machine.
func shells(t *testing.T) []string {
	var out []string
	for _, sh := range []string{"sh", "dash", "bash", "zsh", "ksh", "mksh", "busybox"} {
		if p, err := exec.LookPath(sh); err == nil {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Skip("no shell found")
	}
	return out
}

// roundTrip runs printf through shell -c with argv joined and returns the
// arguments the shell passed to printf.
func roundTrip(t *testing.T, shell string, args []string) []string {
	t.Helper()
	argv := append([]string{"printf", `%s\000`}, args...)
	var cmd *exec.Cmd
	if strings.HasSuffix(shell, "busybox") {
		cmd = exec.Command(shell, "sh", "-c", Join(argv))
	} else {
		cmd = exec.Command(shell, "-c", Join(argv))
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s -c %q: %v: %s", shell, Join(argv), err, stderr.String())
	}
	if len(args) == 0 {
		return nil
	}
	if !bytes.HasSuffix(out, []byte{0}) {
		t.Fatalf("%s: output %q does not end with NUL", shell, out)
	}
	return strings.Split(string(out[:len(out)-1]), "\x00")
}

func TestJoinShellRoundTrip(t *testing.T) {
	for _, shell := range shells(t) {
		t.Run(filepath.Base(shell), func(t *testing.T) {
			got := roundTrip(t, shell, hostile)
			if len(got) != len(hostile) {
				t.Fatalf("got %d arguments, want %d: %q", len(got), len(hostile), got)
			}
			for i := range hostile {
				if got[i] != hostile[i] {
					t.Errorf("argument %d: got %q, want %q", i, got[i], hostile[i])
				}
			}
		})
	}
}

// An argv[0] that looks like an assignment must be run as a command.
func TestJoinFirstWordNotAssignment(t *testing.T) {
	cmd := exec.Command("sh", "-c", Join([]string{"GOMHA_X=1", "true"}))
	err := cmd.Run()
	if err == nil {
		t.Fatal("sh ran 'GOMHA_X=1 true' as an assignment; want command not found")
	}
}

func FuzzJoinRoundTrip(f *testing.F) {
	for _, h := range hostile {
		f.Add(h, "x")
	}
	f.Add("a'b", `c"d`)
	f.Fuzz(func(t *testing.T, a, b string) {
		if strings.ContainsRune(a, 0) || strings.ContainsRune(b, 0) {
			t.Skip("a NUL byte cannot go through a shell")
		}
		got := roundTrip(t, "sh", []string{a, b})
		if len(got) != 2 || got[0] != a || got[1] != b {
			t.Fatalf("round trip of %q, %q gave %q", a, b, got)
		}
	})
}

func TestCheckArgv(t *testing.T) {
	if err := checkArgv(nil); err != ErrArgv {
		t.Errorf("checkArgv(nil) = %v, want ErrArgv", err)
	}
	if err := checkArgv([]string{"echo", "a\x00b"}); err == nil || !strings.Contains(err.Error(), "argument 1") {
		t.Errorf("checkArgv with NUL = %v, want error naming argument 1", err)
	}
	if err := checkArgv([]string{"echo", ""}); err != nil {
		t.Errorf("checkArgv(echo '') = %v", err)
	}
}
