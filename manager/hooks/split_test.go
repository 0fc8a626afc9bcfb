package hooks

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"/usr/local/bin/master_ip_failover", []string{"/usr/local/bin/master_ip_failover"}},
		{"  masterha_secondary_check -s db2 -s\tdb3 \n", []string{"masterha_secondary_check", "-s", "db2", "-s", "db3"}},
		{`mha hook vip --vip=10.0.0.100/24 --interface=eth0`, []string{"mha", "hook", "vip", "--vip=10.0.0.100/24", "--interface=eth0"}},
		{`hook 'a b' "c d" e\ f`, []string{"hook", "a b", "c d", "e f"}},
		{`hook '' ""`, []string{"hook", "", ""}},
		{`hook 'it'\''s'`, []string{"hook", "it's"}},
		{`hook "a\"b\\c\$d\` + "`" + `e\x"`, []string{"hook", "a\"b\\c$d`e\\x"}},
		{`hook "a|b;c&d<e>f(g)"`, []string{"hook", "a|b;c&d<e>f(g)"}},
		{`hook '$(x) ${y} $z ` + "`w`" + `'`, []string{"hook", "$(x) ${y} $z `w`"}},
		{`hook \$HOME \| \;`, []string{"hook", "$HOME", "|", ";"}},
		{`hook a$ "b$" $ c$%`, []string{"hook", "a$", "b$", "$", "c$%"}},
		{`hook 'a'"b"c`, []string{"hook", "abc"}},
		{"hook a\\\nb", []string{"hook", "ab"}},
		{"hook \"a\\\nb\"", []string{"hook", "ab"}},
		{`hook a\`, []string{"hook", `a\`}},
		{`hook --url=http://x/?a=b *.cnf [ab]`, []string{"hook", "--url=http://x/?a=b", "*.cnf", "[ab]"}},
		{`hook a#b # a comment | ; $(x)`, []string{"hook", "a#b"}},
		{`hook --x=~/y a~`, []string{"hook", "--x=~/y", "a~"}},
		{`'!' x`, []string{"!", "x"}},
		{`"A=b" x`, []string{"A=b", "x"}},
		{`hook A=b`, []string{"hook", "A=b"}},
		{`=x y`, []string{"=x", "y"}},
		{"h\xffk \xc3\xa4", []string{"h\xffk", "\xc3\xa4"}},
		{"hook a\n", []string{"hook", "a"}},
		{"hook a\n  # note\n", []string{"hook", "a"}},
		{"hook 'a\nb'", []string{"hook", "a\nb"}},
	}
	for _, tt := range tests {
		got, err := SplitCommand(tt.in)
		if err != nil {
			t.Errorf("SplitCommand(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("SplitCommand(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestSplitCommandRefuses(t *testing.T) {
	tests := []struct {
		in   string
		err  error
		what string // must appear in the message
	}{
		{"", ErrEmptyCommand, "empty"},
		{"  \t\n", ErrEmptyCommand, "empty"},
		{"# only a comment", ErrEmptyCommand, "empty"},
		{`hook "a b`, ErrUnterminatedQuote, "double quote"},
		{`cmd "a b`, ErrUnterminatedQuote, "trailing quote"}, // `cmd "a b"` after MHA's quote stripping
		{`hook 'a b`, ErrUnterminatedQuote, "single quote"},
		{`hook | logger`, ErrNeedsShell, "| (pipe)"},
		{`hook; other`, ErrNeedsShell, "; (command list)"},
		{`hook && other`, ErrNeedsShell, "&"},
		{`hook &`, ErrNeedsShell, "&"},
		{`hook > /tmp/log`, ErrNeedsShell, "> (redirection)"},
		{`hook 2>&1`, ErrNeedsShell, "> (redirection)"},
		{`hook < /dev/null`, ErrNeedsShell, "< (redirection)"},
		{"hook `id`", ErrNeedsShell, "command substitution"},
		{"hook \"`id`\"", ErrNeedsShell, "command substitution"},
		{`hook $(id)`, ErrNeedsShell, "$( (command substitution)"},
		{`hook "$(id)"`, ErrNeedsShell, "$( (command substitution)"},
		{`hook ${HOME}`, ErrNeedsShell, "${ (parameter expansion)"},
		{`hook $HOME`, ErrNeedsShell, "$H (parameter expansion)"},
		{`hook "--pw=$PW"`, ErrNeedsShell, "$P (parameter expansion)"},
		{`hook $1`, ErrNeedsShell, "$1"},
		{`hook $?`, ErrNeedsShell, "$?"},
		{`hook $'a\nb'`, ErrNeedsShell, "bash quoting"},
		{`(hook)`, ErrNeedsShell, "( (subshell)"},
		{`~/bin/hook`, ErrNeedsShell, "~ (tilde expansion)"},
		{`hook ~root/x`, ErrNeedsShell, "~ (tilde expansion)"},
		{`PATH=/opt/bin hook`, ErrNeedsShell, "environment assignment"},
		{`! hook`, ErrNeedsShell, "! (negation)"},
		{`if true`, ErrNeedsShell, "compound command"},
		{"hook\nother", ErrNeedsShell, "newline (command separator)"},
		{"hook # note\nother", ErrNeedsShell, "newline (command separator)"},
	}
	for _, tt := range tests {
		_, err := SplitCommand(tt.in)
		if !errors.Is(err, tt.err) {
			t.Errorf("SplitCommand(%q) = %v, want %v", tt.in, err, tt.err)
			continue
		}
		var ce *CommandError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.what) {
			t.Errorf("SplitCommand(%q): message %q does not name %q", tt.in, err, tt.what)
		}
		if errors.Is(err, ErrNeedsShell) && !strings.Contains(err.Error(), "script") {
			t.Errorf("SplitCommand(%q): message %q does not suggest a script", tt.in, err)
		}
	}
}

// shSplit returns the words /bin/sh makes of value when it comes after a
// command name.
func shSplit(t *testing.T, value string) []string {
	t.Helper()
	out, err := exec.Command("/bin/sh", "-c", `printf '%s\0' `+value).Output()
	if err != nil {
		t.Fatalf("sh -c %q: %v", value, err)
	}
	words := strings.Split(string(out), "\x00")
	return words[:len(words)-1]
}

// FuzzSplitCommand checks that SplitCommand never panics, that refusals
// are *CommandErrors, and that whatever it accepts /bin/sh splits the same
// way (skipping globs, which sh may expand, and NUL bytes, which it
// cannot take).
func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{
		`hook 'a b' "c\"d" e\ f`, `a$ "b$" $%`, `hook "a\\b\x" '\'`, "x \\\n y", `h #c`, `a#b`, "\"\\\n\"",
		`x "$(y)"`, `x $'y'`, `A=b c`, `x A=b`, `'!' "{"`, `x ~y`, `x y~`, `"`, `'`, `\`, "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		words, err := SplitCommand(value)
		if err != nil {
			var ce *CommandError
			if !errors.As(err, &ce) {
				t.Fatalf("SplitCommand(%q): error %T is not a *CommandError", value, err)
			}
			return
		}
		if len(words) == 0 {
			t.Fatalf("SplitCommand(%q): no words and no error", value)
		}
		if strings.ContainsAny(value, "*?[\x00") {
			return
		}
		if diff := cmp.Diff(shSplit(t, value), words); diff != "" {
			t.Fatalf("SplitCommand(%q) (-sh +gomha):\n%s", value, diff)
		}
	})
}
