package config

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Load and Validate return an *Error whose problems wrap
// these, so errors.Is(err, ErrUnknownParameter) tells whether any problem
// was of that kind. The editing functions wrap them directly.
var (
	// ErrSyntax: a line is neither a comment, a [section] nor key = value.
	ErrSyntax = errors.New("syntax error")
	// ErrKeyOutsideSection: a key = value line comes before the first
	// [section] of the application file.
	ErrKeyOutsideSection = errors.New("key outside any section")
	// ErrInvalidBlock: a section name is not "server default" and does not
	// start with "server" or "binlog" followed by a non-blank character.
	ErrInvalidBlock = errors.New("invalid block name")
	// ErrUnknownParameter: a key is not one of MHA's parameter names.
	ErrUnknownParameter = errors.New("unknown parameter")
	// ErrInvalidValue: a value has the wrong form (integer, boolean,
	// ping_type, log_level).
	ErrInvalidValue = errors.New("invalid value")
	// ErrNoHostname: a server or binlog block has no hostname.
	ErrNoHostname = errors.New("no hostname")
	// ErrResolve: a hostname or ssh_host does not resolve to an address.
	ErrResolve = errors.New("hostname does not resolve")
	// ErrDuplicateAddress: two server blocks resolve to the same ip:port.
	ErrDuplicateAddress = errors.New("duplicate ip:port")
	// ErrNoServers: the application file has no server block.
	ErrNoServers = errors.New("no server block")
	// ErrInitScript: init_conf_load_script could not be run or printed an
	// unusable line.
	ErrInitScript = errors.New("init_conf_load_script failed")
	// ErrBlockExists: AddServerBlock was asked for a block that exists.
	ErrBlockExists = errors.New("block already exists")
	// ErrServerNotFound: RemoveServer found no block for the host and port.
	ErrServerNotFound = errors.New("server not found")
	// ErrAmbiguousServer: RemoveServer found several blocks for the host
	// and port and removed none.
	ErrAmbiguousServer = errors.New("several blocks match the server")
	// ErrFileChanged: the file changed on disk while it was being edited;
	// nothing was written.
	ErrFileChanged = errors.New("file changed during the edit")
)

// Problem is one thing wrong (or, in Config.Warnings, questionable) in a
// configuration, located by file, line, section and key.
type Problem struct {
	// File is the file the problem is in.
	File string
	// Line is the 1-based line, or 0 when the problem is about the whole
	// file (for example "no server block").
	Line int
	// Section is the section name without brackets, "" when none applies.
	Section string
	// Key is the parameter name, "" when none applies.
	Key string
	// Msg describes the problem.
	Msg string
	// Err is the sentinel error this problem is a case of; nil for warnings.
	Err error
}

// String formats the problem as one line:
// "/etc/mha/app1.cnf:12: [server2] ping_type: ...".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(p.Line))
	}
	b.WriteString(": ")
	if p.Section != "" {
		b.WriteString("[" + p.Section + "] ")
	}
	if p.Key != "" {
		b.WriteString(p.Key + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error is returned by Load and Validate and lists every problem found, not
// only the first.
type Error struct {
	// Problems are sorted by file and line.
	Problems []Problem
}

// Error returns one line per problem.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the sentinel error of every problem, for errors.Is.
func (e *Error) Unwrap() []error {
	var errs []error
	for _, p := range e.Problems {
		if p.Err != nil {
			errs = append(errs, p.Err)
		}
	}
	return errs
}

// problemList collects problems, dropping exact repeats: a bad value in
// [server default] is checked again in every block that inherits it and
// must be reported once, at the line where it is written.
type problemList struct {
	seen  map[Problem]bool
	items []Problem
}

func (l *problemList) add(p Problem) {
	if l.seen == nil {
		l.seen = make(map[Problem]bool)
	}
	if l.seen[p] {
		return
	}
	l.seen[p] = true
	l.items = append(l.items, p)
}

func (l *problemList) addAll(ps []Problem) {
	for _, p := range ps {
		l.add(p)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func quote(s string) string { return strconv.Quote(s) }
