package sshexec

import "strings"

// Quote returns arg as one word for a POSIX sh command line: the shell
// turns the result back into exactly arg, with no expansion of any kind.
//
// Arguments made only of ASCII letters, digits and the characters @%+:,./_-
// are returned unchanged; everything else, including the empty string, is put
// in single quotes, and an embedded single quote closes the quotes, adds an
// escaped quote and reopens them:
//
//	it's  ->  'it'\''s'
//
// Bytes that are not ASCII are kept as they are, so any encoding survives. A
// NUL byte cannot be passed through a shell at all; the methods of [Client]
// reject argv values that contain one (see [ErrArgv]).
func Quote(arg string) string {
	if arg == "" {
		return "''"
	}
	if isSafe(arg) {
		return arg
	}
	var b strings.Builder
	b.Grow(len(arg) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(arg); i++ {
		if arg[i] == '\'' {
			b.WriteString(`'\''`)
			continue
		}
		b.WriteByte(arg[i])
	}
	b.WriteByte('\'')
	return b.String()
}

// isSafe reports whether s needs no quoting. '=' is deliberately not safe:
// a first word such as a=b would be taken by sh as a variable assignment.
func isSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '@', c == '%', c == '+', c == ':', c == ',', c == '.', c == '/', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// Join quotes every element of argv with [Quote] and joins them with single
// spaces, giving a command line that a POSIX shell splits back into exactly
// argv. Join(nil) is the empty string.
func Join(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(Quote(a))
	}
	return b.String()
}

// checkArgv reports whether argv can be sent as a command: it must have a
// program name and no NUL bytes.
func checkArgv(argv []string) error {
	if len(argv) == 0 {
		return ErrArgv
	}
	for i, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return &argvError{index: i}
		}
	}
	return nil
}
