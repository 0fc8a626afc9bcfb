package mysqlx

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// quoteLiteral renders s as an SQL string literal, for the few statements
// that cannot take placeholders (CHANGE MASTER TO). It is the only place
// this package builds a literal from a value.
//
// How a literal is read depends on the session's sql_mode: normally a
// backslash escapes the next character; with NO_BACKSLASH_ESCAPES it is an
// ordinary character and only a doubled quote escapes a quote. Callers read
// the mode first and pass it in. A NUL byte and invalid UTF-8 are refused:
// no host name, user or password contains them, and the server would
// truncate or mangle them.
func quoteLiteral(s string, noBackslashEscapes bool) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", errors.New("value contains a NUL byte")
	}
	if !utf8.ValidString(s) {
		return "", errors.New("value is not valid UTF-8")
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\'':
			b.WriteString("''")
		case noBackslashEscapes:
			b.WriteByte(ch)
		case ch == '\\':
			b.WriteString(`\\`)
		case ch == '\n':
			b.WriteString(`\n`)
		case ch == '\r':
			b.WriteString(`\r`)
		case ch == 0x1a:
			b.WriteString(`\Z`)
		default:
			b.WriteByte(ch)
		}
	}
	b.WriteByte('\'')
	return b.String(), nil
}
