package binlog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Pos is a binlog coordinate: a file name such as "mysql-bin.000042" and a
// byte offset in it. Positions are compared by the file's base name, then by
// the numeric extension as a number (so mysql-bin.999999 comes before
// mysql-bin.1000000), then by offset; never as strings.
type Pos struct {
	File   string
	Offset uint64
}

// ErrBadFileName reports a binlog file name without a numeric extension.
var ErrBadFileName = errors.New("binlog file name has no numeric extension")

// String renders the position as "file:offset".
func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Offset) }

// IsZero reports whether p is the zero position (no file).
func (p Pos) IsZero() bool { return p.File == "" && p.Offset == 0 }

// SplitName splits "mysql-bin.000042" into its base "mysql-bin" and the
// number 42. Directories are ignored.
func SplitName(name string) (base string, num uint64, err error) {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 || dot == len(name)-1 {
		return "", 0, fmt.Errorf("%q: %w", name, ErrBadFileName)
	}
	n, err := strconv.ParseUint(name[dot+1:], 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("%q: %w", name, ErrBadFileName)
	}
	return name[:dot], n, nil
}

// Compare orders a and b: -1 if a is before b, 0 if equal, +1 if after. It
// fails when either file name has no numeric extension or the base names
// differ (positions of different binlog series cannot be ordered).
func Compare(a, b Pos) (int, error) {
	ab, an, err := SplitName(a.File)
	if err != nil {
		return 0, err
	}
	bb, bn, err := SplitName(b.File)
	if err != nil {
		return 0, err
	}
	if ab != bb {
		return 0, fmt.Errorf("cannot order %s and %s: different binlog base names", a, b)
	}
	switch {
	case an < bn:
		return -1, nil
	case an > bn:
		return 1, nil
	case a.Offset < b.Offset:
		return -1, nil
	case a.Offset > b.Offset:
		return 1, nil
	}
	return 0, nil
}

// NextFile returns the name of the binlog file that follows name
// ("mysql-bin.000009" -> "mysql-bin.000010"), keeping at least the width of
// the original numeric extension.
func NextFile(name string) (string, error) {
	base, n, err := SplitName(name)
	if err != nil {
		return "", err
	}
	width := len(name) - strings.LastIndexByte(name, '.') - 1
	dir := ""
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		dir = name[:i+1]
	}
	return fmt.Sprintf("%s%s.%0*d", dir, base, width, n+1), nil
}

// ParsePos parses what Pos.String renders, "mysql-bin.000042:1234". A
// directory before the file name is kept.
func ParsePos(s string) (Pos, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return Pos{}, fmt.Errorf("binlog position %q: want file:offset", s)
	}
	off, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil {
		return Pos{}, fmt.Errorf("binlog position %q: bad offset: %w", s, err)
	}
	return Pos{File: s[:i], Offset: off}, nil
}
