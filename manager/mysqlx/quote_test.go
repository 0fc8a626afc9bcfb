package mysqlx

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// lexLiteral reads an SQL string literal the way the MySQL/MariaDB lexer
// does, in either sql_mode, so that tests can check quoteLiteral's output
// without a server: it returns the value and the rest of the input.
func lexLiteral(s string, noBackslashEscapes bool) (value, rest string, err error) {
	if s == "" || s[0] != '\'' {
		return "", s, errors.New("no opening quote")
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' && i+1 < len(s) && s[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case c == '\'':
			return b.String(), s[i+1:], nil
		case c == '\\' && !noBackslashEscapes && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '0':
				b.WriteByte(0)
			case 'Z':
				b.WriteByte(0x1a)
			case 'b':
				b.WriteByte('\b')
			default:
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("unterminated literal")
}

var hostileValues = []string{
	"",
	"plain",
	"it's",
	"''",
	"'; DROP TABLE mysql.user; -- ",
	`back\slash`,
	`trailing\`,
	`\'`,
	`\\'`,
	"\\' OR 1=1 -- ",
	"line\nbreak",
	"cr\rlf\r\n",
	"ctrl-z \x1a end",
	"tab\there",
	`double "quotes"`,
	"%_ wildcards",
	"/* comment */",
	"pässwörd ☃ 密码",
	"a$b c`d` $(rm -rf /)",
}

func TestQuoteLiteralRoundTrip(t *testing.T) {
	for _, nbe := range []bool{false, true} {
		for _, v := range hostileValues {
			q, err := quoteLiteral(v, nbe)
			if err != nil {
				t.Errorf("quoteLiteral(%q, %v): %v", v, nbe, err)
				continue
			}
			// Followed by more SQL: the literal must end exactly where
			// quoteLiteral ended it.
			got, rest, err := lexLiteral(q+", MASTER_PORT = 1", nbe)
			if err != nil || got != v || rest != ", MASTER_PORT = 1" {
				t.Errorf("noBackslashEscapes=%v: %q quoted as %s lexes to %q, rest %q, err %v", nbe, v, q, got, rest, err)
			}
		}
	}
}

func TestQuoteLiteralExact(t *testing.T) {
	tests := []struct {
		in       string
		nbe      bool
		expected string
	}{
		{"it's", false, `'it''s'`},
		{`a\b`, false, `'a\\b'`},
		{"a\nb", false, `'a\nb'`},
		{"a\x1ab", false, `'a\Zb'`},
		{"it's", true, `'it''s'`},
		{`a\b`, true, `'a\b'`},
		{"a\nb", true, "'a\nb'"},
	}
	for _, tt := range tests {
		if got, err := quoteLiteral(tt.in, tt.nbe); err != nil || got != tt.expected {
			t.Errorf("quoteLiteral(%q, %v) = %s, %v; want %s", tt.in, tt.nbe, got, err, tt.expected)
		}
	}
}

func TestQuoteLiteralRefuses(t *testing.T) {
	for _, v := range []string{"nul\x00byte", "\x00", "bad utf8 \xff\xfe", "\xc0'"} {
		for _, nbe := range []bool{false, true} {
			if q, err := quoteLiteral(v, nbe); err == nil {
				t.Errorf("quoteLiteral(%q, %v) = %s; want an error", v, nbe, q)
			}
		}
	}
}

func FuzzQuoteLiteral(f *testing.F) {
	for _, v := range hostileValues {
		f.Add(v, false)
		f.Add(v, true)
	}
	f.Fuzz(func(t *testing.T, v string, nbe bool) {
		q, err := quoteLiteral(v, nbe)
		if err != nil {
			if strings.IndexByte(v, 0) < 0 && utf8.ValidString(v) {
				t.Fatalf("quoteLiteral(%q): unexpected error %v", v, err)
			}
			return
		}
		got, rest, err := lexLiteral(q+" X", nbe)
		if err != nil || got != v || rest != " X" {
			t.Fatalf("%q quoted as %s lexes to %q, rest %q, err %v", v, q, got, rest, err)
		}
	})
}
