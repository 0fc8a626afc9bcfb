package config

// This file is a line scanner that reproduces Config::Tiny 2.28 (the version
// MHA 0.58 runs with on Debian 12) instead of using gopkg.in/ini.v1. ini.v1
// is a different dialect: it treats "#" and ";" after a value as inline
// comments, unquotes and continues values, keeps the first of duplicate keys
// or merges them into shadows, exposes no line numbers, and re-renders the
// whole file when saving. MHA compatibility needs exactly Config::Tiny's rules
// (whole-line comments, only " ; " inline comments, last duplicate wins, keys
// before the first section land in a pseudo-section) plus a line number for
// every key and section, and mha conf-host must edit the file as text so
// comments and order survive. A hundred lines of scanner do all of that.

import "strings"

// lineKind classifies one line of a configuration file.
type lineKind int

const (
	lineBlank   lineKind = iota // empty or whitespace only
	lineComment                 // first non-blank character is '#' or ';'
	lineSection                 // [name]
	lineKey                     // key = value
	lineSyntax                  // anything else: Config::Tiny's "Syntax error"
)

// rawLine is one physical line of a file.
type rawLine struct {
	num   int      // 1-based line number
	text  string   // the line without its terminator
	eol   string   // the terminator: "\n", "\r\n", "\r\r\n", "\r" or "" at EOF
	kind  lineKind // classification
	name  string   // section name (lineSection) or key (lineKey)
	value string   // value (lineKey)
}

// utf8BOM is stripped before scanning; Config::Tiny does not, so MHA rejects
// a file that starts with one.
const utf8BOM = "\xef\xbb\xbf"

// scanLines splits data into lines the way Config::Tiny does, on "\r\r\n",
// "\r\n", "\r" or "\n", and classifies each. Joining text+eol of every line
// gives back data without its BOM. It never fails; malformed lines are
// lineSyntax.
func scanLines(data string) []rawLine {
	data = strings.TrimPrefix(data, utf8BOM)
	var lines []rawLine
	start := 0
	for i := 0; i < len(data); {
		var eol string
		switch {
		case data[i] == '\n':
			eol = "\n"
		case strings.HasPrefix(data[i:], "\r\r\n"):
			eol = "\r\r\n"
		case strings.HasPrefix(data[i:], "\r\n"):
			eol = "\r\n"
		case data[i] == '\r':
			eol = "\r"
		default:
			i++
			continue
		}
		lines = append(lines, classify(len(lines)+1, data[start:i], eol))
		i += len(eol)
		start = i
	}
	if start < len(data) {
		lines = append(lines, classify(len(lines)+1, data[start:], ""))
	}
	return lines
}

// perlSpace is Perl's \s on a byte string.
const perlSpace = " \t\n\r\f\v"

func isPerlSpace(c byte) bool { return strings.IndexByte(perlSpace, c) >= 0 }

// classify parses one line with Config::Tiny 2.28's regular expressions.
func classify(num int, text, eol string) rawLine {
	l := rawLine{num: num, text: text, eol: eol}
	body := strings.TrimLeft(text, perlSpace)
	switch {
	case body == "":
		l.kind = lineBlank
		return l
	case body[0] == '#' || body[0] == ';':
		l.kind = lineComment
		return l
	}
	body = strings.TrimRight(stripInlineComment(text), perlSpace)
	body = strings.TrimLeft(body, perlSpace)

	// /^\s*\[\s*(.+?)\s*\]\s*$/
	if len(body) >= 3 && body[0] == '[' && body[len(body)-1] == ']' {
		inner := body[1 : len(body)-1]
		name := strings.Trim(inner, perlSpace)
		if name == "" {
			name = inner[len(inner)-1:] // .+? keeps one character
		}
		l.kind, l.name = lineSection, name
		return l
	}

	// /^\s*([^=]+?)\s*=\s*(.*?)\s*$/
	key, value, ok := strings.Cut(body, "=")
	key = strings.TrimRight(key, perlSpace)
	if !ok || key == "" {
		l.kind = lineSyntax
		return l
	}
	l.kind, l.name, l.value = lineKey, key, strings.TrimLeft(value, perlSpace)
	return l
}

// stripInlineComment applies Config::Tiny's s/\s\;\s.+$//: from the first
// whitespace-semicolon-whitespace that is followed by at least one more
// character, the rest of the line is a comment. A "#" is never an inline
// comment, and neither is a ";" without blanks around it.
func stripInlineComment(s string) string {
	for i := 0; i+3 < len(s); i++ {
		if isPerlSpace(s[i]) && s[i+1] == ';' && isPerlSpace(s[i+2]) {
			return s[:i]
		}
	}
	return s
}

// entry is one key's value in a section and where it was written.
type entry struct {
	value string
	line  int
}

// section is one [name] of a file. Repeated headers with the same name are
// merged into one section, as Config::Tiny does.
type section struct {
	name    string
	line    int              // line of the first header; 0 for keys before any header
	entries map[string]entry // last duplicate wins
	keys    []string         // keys in order of first appearance
}

// document is a scanned file.
type document struct {
	file     string
	lines    []rawLine
	sections []*section // in order of first appearance; a pseudo-section named "" holds keys before the first header
	problems []Problem  // syntax errors
	warnings []Problem  // duplicate keys and sections
}

// parseDocument scans data (the contents of file) into sections.
func parseDocument(file, data string) *document {
	d := &document{file: file, lines: scanLines(data)}
	byName := make(map[string]*section)
	var cur *section
	get := func(name string, line int) *section {
		s, ok := byName[name]
		if !ok {
			s = &section{name: name, line: line, entries: make(map[string]entry)}
			byName[name] = s
			d.sections = append(d.sections, s)
		}
		return s
	}
	for _, l := range d.lines {
		switch l.kind {
		case lineSection:
			if s, ok := byName[l.name]; ok && s.line > 0 {
				d.warnings = append(d.warnings, Problem{File: file, Line: l.num, Section: l.name,
					Msg: "section repeated (first at line " + itoa(s.line) + "); its keys are merged into it, as MHA does"})
			}
			cur = get(l.name, l.num)
			if cur.line == 0 {
				cur.line = l.num
			}
		case lineKey:
			if cur == nil {
				cur = get("", 0)
			}
			if old, ok := cur.entries[l.name]; ok {
				d.warnings = append(d.warnings, Problem{File: file, Line: l.num, Section: cur.name, Key: l.name,
					Msg: "overrides the value set at line " + itoa(old.line) + " (the last one wins, as in MHA)"})
			} else {
				cur.keys = append(cur.keys, l.name)
			}
			cur.entries[l.name] = entry{value: l.value, line: l.num}
		case lineSyntax:
			sec := ""
			if cur != nil {
				sec = cur.name
			}
			d.problems = append(d.problems, Problem{File: file, Line: l.num, Section: sec,
				Msg: "syntax error: " + quote(strings.TrimSpace(l.text)) + " is not a [section], a key = value line or a comment",
				Err: ErrSyntax})
		}
	}
	return d
}

// lookup returns the section called name, or nil.
func (d *document) lookup(name string) *section {
	for _, s := range d.sections {
		if s.name == name {
			return s
		}
	}
	return nil
}

// render joins the lines back into file contents.
func render(lines []rawLine) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.text)
		b.WriteString(l.eol)
	}
	return b.String()
}
