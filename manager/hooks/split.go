package hooks

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors of SplitCommand, wrapped in a *CommandError.
var (
	// ErrEmptyCommand: the configured value has no words.
	ErrEmptyCommand = errors.New("empty command")
	// ErrUnterminatedQuote: a single or double quote is not closed.
	ErrUnterminatedQuote = errors.New("unterminated quote")
	// ErrNeedsShell: the value uses shell syntax (pipe, list, redirection,
	// substitution, expansion, ...) that only a shell could honour. gomha
	// runs hooks without a shell; the fix is a script that does it.
	ErrNeedsShell = errors.New("needs a shell")
)

// CommandError is a configured hook command that SplitCommand cannot turn
// into an argv list.
type CommandError struct {
	// Value is the configured command, Offset the byte where the problem
	// is.
	Value  string
	Offset int
	// What names the construct, e.g. "| (pipe)".
	What string
	// Err is one of ErrEmptyCommand, ErrUnterminatedQuote, ErrNeedsShell.
	Err error
}

// Error describes the problem and, for shell syntax, the remedy.
func (e *CommandError) Error() string {
	switch {
	case errors.Is(e.Err, ErrEmptyCommand):
		return "empty command"
	case errors.Is(e.Err, ErrUnterminatedQuote):
		return fmt.Sprintf("%q: %s starting at byte %d (MHA strips one trailing quote from every value, so a command ending in a quote loses it)", e.Value, e.What, e.Offset)
	default:
		return fmt.Sprintf("%q: %s at byte %d needs a shell, and gomha runs hooks without one: put the command in a script and configure the script", e.Value, e.What, e.Offset)
	}
}

// Unwrap returns the sentinel error.
func (e *CommandError) Unwrap() error { return e.Err }

// firstWordRefused are words that make sh do something other than run a
// program when they come first.
var firstWordRefused = map[string]string{
	"!": "! (negation)", "{": "{ (group)", "if": "if (compound command)", "case": "case (compound command)",
	"for": "for (loop)", "while": "while (loop)", "until": "until (loop)",
}

// SplitCommand splits a configured hook command (master_ip_failover_script
// and the like, a line MHA runs with /bin/sh -c) into the argv list sh
// would build, without expanding anything:
//
//   - words are separated by blanks (space, tab); a newline may only be
//     followed by blanks or a comment;
//   - '...' is literal;
//   - "..." is literal except that a backslash before $ ` " \ or newline
//     is removed (and a backslash-newline pair disappears);
//   - outside quotes a backslash makes the next byte literal, and a
//     backslash-newline pair disappears;
//   - a word starting with # outside quotes starts a comment.
//
// What needs a shell is refused with an error naming it (a *CommandError
// wrapping ErrNeedsShell): unquoted | ; & < > ( ) ` and newline, $( ${
// $NAME $1 $? and the like (also inside double quotes), bash's $'...' and
// $"...", a word starting with ~, a leading NAME=value assignment, and
// compound commands. Unquoted * ? [ are kept literally: sh would expand
// them only if they matched a file. A $ followed by anything else is
// literal, as in sh.
func SplitCommand(value string) ([]string, error) {
	var (
		words     []string
		cur       strings.Builder
		inWord    bool // a word has started (even if empty, like '')
		wordStart int  // offset of the current word's first byte
		plain     bool // the current word has no quote or backslash so far
	)
	needs := func(off int, what string) error {
		return &CommandError{Value: value, Offset: off, What: what, Err: ErrNeedsShell}
	}
	end := func(off int) error {
		if !inWord {
			return nil
		}
		w := cur.String()
		if what, ok := firstWordRefused[w]; ok && plain && len(words) == 0 {
			return needs(off-len(w), what)
		}
		words = append(words, w)
		cur.Reset()
		inWord = false
		return nil
	}
	for i := 0; i < len(value); i++ {
		c := value[i]
		if !inWord && c != ' ' && c != '\t' && c != '\n' {
			wordStart, plain = i, true
		}
		if c == '\'' || c == '"' || c == '\\' {
			plain = false
		}
		switch {
		case c == ' ' || c == '\t':
			if err := end(i); err != nil {
				return nil, err
			}
		case c == '\n':
			if rest := strings.TrimLeft(value[i:], " \t\n"); rest != "" && rest[0] != '#' {
				return nil, needs(i, "newline (command separator)")
			}
			if err := end(i); err != nil {
				return nil, err
			}
			i = len(value)
		case c == '#' && !inWord: // a comment, to the end of the line
			if j := strings.IndexByte(value[i:], '\n'); j >= 0 {
				i += j - 1
			} else {
				i = len(value)
			}
		case c == '~' && !inWord:
			return nil, needs(i, "~ (tilde expansion)")
		case c == '\'':
			j := strings.IndexByte(value[i+1:], '\'')
			if j < 0 {
				return nil, &CommandError{Value: value, Offset: i, What: "single quote", Err: ErrUnterminatedQuote}
			}
			cur.WriteString(value[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '"':
			start := i
			closed := false
			for i++; i < len(value); i++ {
				d := value[i]
				if d == '"' {
					closed = true
					break
				}
				switch d {
				case '\\':
					if i+1 < len(value) && strings.IndexByte("$`\"\\\n", value[i+1]) >= 0 {
						i++
						if value[i] != '\n' {
							cur.WriteByte(value[i])
						}
						continue
					}
				case '`':
					return nil, needs(i, "` (command substitution)")
				case '$':
					if what := dollar(value, i, true); what != "" {
						return nil, needs(i, what)
					}
				}
				cur.WriteByte(d)
			}
			if !closed {
				return nil, &CommandError{Value: value, Offset: start, What: "double quote", Err: ErrUnterminatedQuote}
			}
			inWord = true
		case c == '\\':
			if i+1 < len(value) {
				i++
				if value[i] == '\n' {
					continue
				}
				cur.WriteByte(value[i])
			} else {
				cur.WriteByte(c) // sh keeps a trailing backslash
			}
			inWord = true
		case c == '|':
			return nil, needs(i, "| (pipe)")
		case c == ';':
			return nil, needs(i, "; (command list)")
		case c == '&':
			return nil, needs(i, "& (background or && list)")
		case c == '<' || c == '>':
			return nil, needs(i, string(c)+" (redirection)")
		case c == '(' || c == ')':
			return nil, needs(i, string(c)+" (subshell)")
		case c == '`':
			return nil, needs(i, "` (command substitution)")
		case c == '$':
			if what := dollar(value, i, false); what != "" {
				return nil, needs(i, what)
			}
			cur.WriteByte(c)
			inWord = true
		case c == '=' && len(words) == 0 && plain && isName(cur.String()):
			return nil, needs(wordStart, "NAME=value (environment assignment)")
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if err := end(len(value)); err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, &CommandError{Value: value, Err: ErrEmptyCommand}
	}
	return words, nil
}

// dollar names the expansion that value[i] ('$') starts, or "" when sh
// would keep the $ literally; quoted tells whether it is inside double
// quotes.
func dollar(value string, i int, quoted bool) string {
	if i+1 >= len(value) {
		return ""
	}
	switch n := value[i+1]; {
	case n == '(':
		return "$( (command substitution)"
	case !quoted && (n == '\'' || n == '"'):
		return "$" + string(n) + " (bash quoting; dash keeps the $)"
	case n == '{':
		return "${ (parameter expansion)"
	case n == '_' || n >= 'a' && n <= 'z' || n >= 'A' && n <= 'Z' || n >= '0' && n <= '9',
		strings.IndexByte("@*#?-$!", n) >= 0:
		return "$" + string(n) + " (parameter expansion)"
	}
	return ""
}

// isName reports whether s is a shell variable name.
func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}
