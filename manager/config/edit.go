package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// KV is one parameter assignment for AddServerBlock.
type KV struct {
	// Key is the parameter name; it must be one of Parameters().
	Key string
	// Value is written as is after "=".
	Value string
}

// BlockName returns the block name masterha_conf_host uses: block with
// "server" put in front unless it already starts with it ("100" ->
// "server100", without an underscore), or "server_<hostname>" when block is
// empty. It returns "" when both are empty.
func BlockName(block, hostname string) string {
	switch {
	case block != "" && strings.HasPrefix(block, "server"):
		return block
	case block != "":
		return "server" + block
	case hostname != "":
		return "server_" + hostname
	}
	return ""
}

// ParseParams splits masterha_conf_host's --params value, "k1=v1;k2=v2",
// into assignments the way MHA does: items are separated by ";", the key is
// the text before the first "=" and the value the text up to a second "="
// (anything after it is lost). Empty items are skipped; names are checked by
// AddServerBlock.
func ParseParams(s string) []KV {
	var kvs []KV
	for item := range strings.SplitSeq(s, ";") {
		if item == "" {
			continue
		}
		fields := strings.Split(item, "=")
		kv := KV{Key: fields[0]}
		if len(fields) > 1 {
			kv.Value = fields[1]
		}
		kvs = append(kvs, kv)
	}
	return kvs
}

// AddServerBlock appends a server block to the application file at path,
// as masterha_conf_host --command=add does, but as a text edit: every other
// byte of the file, comments and order included, is kept. The block name
// follows BlockName (the hostname comes from params, which must set a
// non-empty hostname). It fails with ErrBlockExists if the block exists,
// with an *Error wrapping ErrUnknownParameter for unknown names (all of them
// listed), and when a name or value would not read back unchanged (a
// newline, surrounding blanks, " ; ", ...). A key given twice keeps its last
// value. The block is written as "[name]" then hostname first and the other
// parameters in the given order, one "key=value" per line, after a blank
// line, at the end of the file, with the file's own line terminator.
func AddServerBlock(path, block string, params []KV) error {
	var hostname string
	var keys []string
	vals := make(map[string]string)
	var probs problemList
	for _, kv := range params {
		if !IsParameter(kv.Key) {
			msg := "unknown parameter"
			if sg := SuggestParameter(kv.Key); sg != "" {
				msg += "; did you mean " + sg + "?"
			}
			probs.add(Problem{File: path, Key: kv.Key, Msg: msg, Err: ErrUnknownParameter})
			continue
		}
		if kv.Key == "hostname" {
			hostname = kv.Value
		}
		if _, ok := vals[kv.Key]; !ok {
			keys = append(keys, kv.Key)
		}
		vals[kv.Key] = kv.Value
	}
	if len(probs.items) > 0 {
		return fmt.Errorf("config: add block to %s: %w", path, &Error{Problems: probs.items})
	}
	if hostname == "" {
		return fmt.Errorf("config: add block to %s: %w", path, ErrNoHostname)
	}
	name := BlockName(block, hostname)
	if !isServerBlock(name) {
		return fmt.Errorf("config: add block %q to %s: %w", name, path, ErrInvalidBlock)
	}
	// hostname first, the rest in the order given.
	if i := slices.Index(keys, "hostname"); i > 0 {
		keys = slices.Insert(slices.Delete(keys, i, i+1), 0, "hostname")
	}

	return editFile(path, func(lines []rawLine) ([]rawLine, error) {
		for _, l := range lines {
			if l.kind == lineSection && l.name == name {
				return nil, fmt.Errorf("config: add block %q to %s: line %d: %w", name, path, l.num, ErrBlockExists)
			}
		}
		eol := "\n"
		for _, l := range lines {
			if l.eol != "" {
				eol = l.eol
				break
			}
		}
		out := slices.Clone(lines)
		if n := len(out); n > 0 {
			if out[n-1].eol == "" {
				out[n-1].eol = eol
			}
			if out[n-1].kind != lineBlank {
				out = append(out, rawLine{kind: lineBlank, eol: eol})
			}
		}
		header := "[" + name + "]"
		if l := classify(0, header, ""); strings.ContainsAny(name, "\r\n") || l.kind != lineSection || l.name != name {
			return nil, fmt.Errorf("config: add block %q to %s: the name would not read back unchanged: %w", name, path, ErrInvalidBlock)
		}
		out = append(out, rawLine{text: header, eol: eol, kind: lineSection, name: name})
		for _, k := range keys {
			text := k + "=" + vals[k]
			l := classify(0, text, eol)
			if strings.ContainsAny(text, "\r\n") || l.kind != lineKey || l.name != k || l.value != vals[k] {
				return nil, fmt.Errorf("config: add block %q to %s: %s: value %q would not read back unchanged: %w",
					name, path, k, vals[k], ErrInvalidValue)
			}
			out = append(out, l)
		}
		return out, nil
	})
}

// RemoveServerBlock deletes the block named by BlockName(block, "") from
// the application file at path, as masterha_conf_host --command=delete
// does, but as a text edit: the section header, its keys, the comments
// among them and the comment lines directly above the header go; comments
// directly above the next header, and everything else, stay byte for byte,
// and one blank line is dropped so no double gap is left. A repeated header
// of the same name is removed too. found is false (and the file untouched)
// when there is no such block, which MHA reports without failing.
func RemoveServerBlock(path, block string) (found bool, err error) {
	name := BlockName(block, "")
	err = editFile(path, func(lines []rawLine) ([]rawLine, error) {
		out := lines
		for i := len(lines) - 1; i >= 0; i-- {
			if lines[i].kind == lineSection && lines[i].name == name {
				found = true
				out = removeBlockAt(out, i)
			}
		}
		return out, nil
	})
	return found, err
}

// RemoveServer deletes the server block whose own hostname is hostname and
// whose port is port, for --remove_dead_master_conf; it returns the block's
// name. The port of a block that does not set one is the application
// file's [server default] port, else 3306 (a port set only in the global
// file is not seen); port 0 matches any port. It matches names as written,
// without resolving them, so it works when the dead host is gone from DNS.
// It fails with ErrServerNotFound, or ErrAmbiguousServer (removing nothing)
// when several blocks match.
func RemoveServer(path, hostname string, port int) (string, error) {
	var block string
	err := editFile(path, func(lines []rawLine) ([]rawLine, error) {
		doc := parseDocument(path, render(lines))
		defPort := 3306
		if d := doc.lookup(defaultSection); d != nil {
			if e, ok := d.entries["port"]; ok {
				defPort = portOr(e.value, 3306)
			}
		}
		var matches []string
		for _, s := range doc.sections {
			if !isServerBlock(s.name) || stripQuotes(s.entries["hostname"].value) != hostname {
				continue
			}
			p := defPort
			if e, ok := s.entries["port"]; ok {
				p = portOr(e.value, 3306)
			}
			if port == 0 || p == port {
				matches = append(matches, s.name)
			}
		}
		switch len(matches) {
		case 0:
			return nil, fmt.Errorf("config: %s: no server block for %s port %d: %w", path, hostname, port, ErrServerNotFound)
		case 1:
		default:
			return nil, fmt.Errorf("config: %s: blocks %s all match %s port %d: %w",
				path, strings.Join(matches, ", "), hostname, port, ErrAmbiguousServer)
		}
		block = matches[0]
		out := lines
		for i := len(lines) - 1; i >= 0; i-- {
			if lines[i].kind == lineSection && lines[i].name == block {
				out = removeBlockAt(out, i)
			}
		}
		return out, nil
	})
	if err != nil {
		return "", err
	}
	return block, nil
}

// portOr parses a port value as Load does, returning def for empty or 0
// and -1 for garbage.
func portOr(s string, def int) int {
	s = stripQuotes(s)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	switch {
	case !allDigits(s) || err != nil:
		return -1
	case n == 0:
		return def
	}
	return n
}

// removeBlockAt deletes the block whose header is lines[h]; see
// RemoveServerBlock for what goes.
func removeBlockAt(lines []rawLine, h int) []rawLine {
	next := len(lines)
	for i := h + 1; i < len(lines); i++ {
		if lines[i].kind == lineSection {
			next = i
			break
		}
	}
	start := h
	for start > 0 && lines[start-1].kind == lineComment {
		start--
	}
	last := h
	for i := h + 1; i < next; i++ {
		if k := lines[i].kind; k == lineKey || k == lineSyntax {
			last = i
		}
	}
	// Comments right after the last key belong to the block, unless they
	// run straight into the next header.
	j := last + 1
	for j < next && lines[j].kind == lineComment {
		j++
	}
	if j < next || next == len(lines) {
		last = j - 1
	}
	end := last + 1 // exclusive
	if start == 0 || lines[start-1].kind == lineBlank {
		for end < len(lines) && lines[end].kind == lineBlank {
			end++
		}
		if end == len(lines) {
			for start > 0 && lines[start-1].kind == lineBlank {
				start--
			}
		}
	}
	return slices.Concat(lines[:start], lines[end:])
}

// editFile reads path (following symbolic links), applies edit to its
// lines, and writes the result back atomically when it changed.
func editFile(path string, edit func([]rawLine) ([]rawLine, error)) error {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("config: edit %s: %w", path, err)
	}
	orig, err := os.ReadFile(real)
	if err != nil {
		return fmt.Errorf("config: edit %s: %w", path, err)
	}
	bom, body := "", string(orig)
	if strings.HasPrefix(body, utf8BOM) {
		bom, body = utf8BOM, body[len(utf8BOM):]
	}
	lines, err := edit(scanLines(body))
	if err != nil {
		return err
	}
	out := []byte(bom + render(lines))
	if bytes.Equal(out, orig) {
		return nil
	}
	if err := writeAtomic(real, orig, out); err != nil {
		return fmt.Errorf("config: edit %s: %w", path, err)
	}
	return nil
}

// writeAtomic replaces path with data through a temporary file in the same
// directory and a rename, keeping the file's mode (and owner, when the
// platform allows), and refusing with ErrFileChanged if path no longer
// holds orig just before the rename.
func writeAtomic(path string, orig, data []byte) (err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(fi.Mode().Perm()); err != nil {
		return err
	}
	if err = keepOwner(tmp, fi); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	cur, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !bytes.Equal(cur, orig) {
		return ErrFileChanged
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, os.ErrInvalid) {
		return nil // some file systems cannot sync a directory
	}
	return err
}
