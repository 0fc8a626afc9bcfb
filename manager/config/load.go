package config

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DefaultGlobalFile is MHA's default --global_conf.
const DefaultGlobalFile = "/etc/masterha_default.cnf"

// defaultSection is the name of the section every level's defaults live in.
const defaultSection = "server default"

// Resolver turns a hostname into addresses. *net.Resolver implements it.
type Resolver interface {
	// LookupHost returns the addresses of host, best first, or an error.
	// An IP address literal resolves to itself.
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// ScriptRunner runs init_conf_load_script's command line and returns its
// standard output. An error that wraps *exec.ExitError means the command
// ran and exited non-zero; its output is still used, as MHA ignores the
// exit status.
type ScriptRunner func(ctx context.Context, command string) ([]byte, error)

// LoadOptions says which files Load reads and how it resolves names.
type LoadOptions struct {
	// AppFile is the application configuration file (--conf). Required.
	AppFile string
	// GlobalFile is the global configuration file (--global_conf); ""
	// means DefaultGlobalFile. A missing global file is not an error.
	GlobalFile string
	// Resolver resolves hostname and ssh_host; nil means
	// net.DefaultResolver.
	Resolver Resolver
	// OSUser is the default ssh_user, the manager's OS user in MHA; ""
	// means the current user from os/user.
	OSUser string
	// RunScript runs init_conf_load_script; nil runs it with
	// /bin/sh -c, since MHA runs it as a shell command line (backticks).
	// It is bounded by Load's context.
	RunScript ScriptRunner
}

// Load reads, resolves and validates an application's configuration
// following MHA 0.58 (mha-compat §3): built-in defaults, then the global
// file's [server default] (its other sections are ignored), then the
// application file's [server default], then the output of
// init_conf_load_script, then each [server*] and [binlog*] block.
//
// Every problem found is returned at once in an *Error (errors.Is works with
// the sentinel errors). Errors that stop Load before it can check anything
// (the application file cannot be read, ctx ends) are returned wrapped
// instead.
func Load(ctx context.Context, opts LoadOptions) (*Config, error) {
	if opts.AppFile == "" {
		return nil, errors.New("config: no application file given")
	}
	l := &loader{
		opts:  opts,
		cache: make(map[string]lookupResult),
	}
	if l.opts.GlobalFile == "" {
		l.opts.GlobalFile = DefaultGlobalFile
	}
	if l.opts.Resolver == nil {
		l.opts.Resolver = net.DefaultResolver
	}
	if l.opts.RunScript == nil {
		l.opts.RunScript = runShell
	}
	l.conv = converter{osUser: l.opts.OSUser, probs: &l.probs, warns: &l.warns}
	if l.conv.osUser == "" {
		u, err := user.Current()
		if err != nil {
			l.osUserErr = err
		} else {
			l.conv.osUser = u.Username
		}
	}
	return l.load(ctx)
}

// lookupResult caches one resolution.
type lookupResult struct {
	addr string
	err  error
}

// loader holds the state of one Load call.
type loader struct {
	opts      LoadOptions
	conv      converter
	probs     problemList
	warns     problemList
	cache     map[string]lookupResult
	osUserErr error
}

func (l *loader) warn(p Problem) { l.warns.add(p) }

func (l *loader) load(ctx context.Context) (*Config, error) {
	cfg := &Config{File: l.opts.AppFile, App: appName(l.opts.AppFile)}

	// Global file: only [server default] is read.
	globalOwn := level{}
	switch fi, err := os.Stat(l.opts.GlobalFile); {
	case err != nil || !fi.Mode().IsRegular():
		msg := "Global configuration file " + l.opts.GlobalFile + " not found. Skipping."
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			msg = "Global configuration file " + l.opts.GlobalFile + " not usable (" + err.Error() + "). Skipping."
		}
		l.warn(Problem{File: l.opts.GlobalFile, Msg: msg})
	default:
		data, err := os.ReadFile(l.opts.GlobalFile)
		if err != nil {
			return nil, fmt.Errorf("config: read global file: %w", err)
		}
		cfg.GlobalFile = l.opts.GlobalFile
		doc := parseDocument(l.opts.GlobalFile, string(data))
		l.probs.addAll(doc.problems)
		for _, s := range doc.sections {
			switch {
			case s.name == defaultSection:
				globalOwn = l.ownLevel(doc.file, s, true)
			case s.name == "":
				l.warn(Problem{File: doc.file, Line: s.entries[s.keys[0]].line, Key: s.keys[0],
					Msg: "keys before the first section of the global file are ignored"})
			default:
				l.warn(Problem{File: doc.file, Line: s.line, Section: s.name,
					Msg: "ignored: only [server default] is read from the global file"})
			}
		}
		l.addWarnings(doc.warnings, defaultSection)
	}
	globalDef := inherit(globalOwn, nil)
	l.conv.params(globalDef)

	// Application file.
	data, err := os.ReadFile(l.opts.AppFile)
	if err != nil {
		return nil, fmt.Errorf("config: read application file: %w", err)
	}
	doc := parseDocument(l.opts.AppFile, string(data))
	l.probs.addAll(doc.problems)
	l.addWarnings(doc.warnings, "")
	appOwn := level{}
	var blocks []*section
	for _, s := range doc.sections {
		switch {
		case s.name == defaultSection:
			appOwn = l.ownLevel(doc.file, s, true)
		case s.name == "":
			for _, k := range s.keys {
				l.probs.add(Problem{File: doc.file, Line: s.entries[k].line, Key: k,
					Msg: "comes before the first [section] (MHA reads it as block \"_\", which is invalid)",
					Err: ErrKeyOutsideSection})
			}
		case isServerBlock(s.name) || isBinlogBlock(s.name):
			blocks = append(blocks, s)
		default:
			msg := `invalid block name: must be "server default" or start with "server" or "binlog" followed by non-blank characters`
			if levenshtein(strings.ToLower(s.name), defaultSection) <= 2 {
				msg += "; did you mean " + defaultSection + "?"
			}
			l.probs.add(Problem{File: doc.file, Line: s.line, Section: s.name, Msg: msg, Err: ErrInvalidBlock})
		}
	}
	def := inherit(appOwn, globalDef)
	l.conv.params(def)

	// init_conf_load_script, defined at either default level.
	var scriptOwn level
	if v, ok := def["init_conf_load_script"]; ok && v.s != "" {
		scriptOwn, err = l.runInitScript(ctx, v)
		if err != nil {
			return nil, err
		}
		def = inherit(scriptOwn, def)
	}
	cfg.Default = l.conv.params(def)

	// Blocks, in Perl's string order.
	slices.SortFunc(blocks, func(a, b *section) int { return strings.Compare(a.name, b.name) })
	var sshOrder []value // MHA's ssh_options assignments, in the order it makes them
	for _, lv := range []level{globalOwn, appOwn, scriptOwn} {
		if v, ok := lv["ssh_options"]; ok {
			sshOrder = append(sshOrder, v)
		}
	}
	for _, s := range blocks {
		own := l.ownLevel(doc.file, s, false)
		if v, ok := own["ssh_options"]; ok {
			sshOrder = append(sshOrder, v)
		}
		lv := inherit(own, def)
		srv := Server{Block: s.name, Line: s.line, Params: l.conv.params(lv), Origins: origins(lv)}
		if err := l.resolve(ctx, &srv, own); err != nil {
			return nil, err
		}
		if isServerBlock(s.name) {
			cfg.Servers = append(cfg.Servers, srv)
		} else {
			cfg.Binlogs = append(cfg.Binlogs, srv)
		}
	}
	sortServers(cfg.Servers)

	if l.osUserErr != nil {
		for _, s := range cfg.Servers {
			if s.SSHUser == "" {
				l.probs.add(Problem{File: cfg.File, Line: s.Line, Section: s.Block, Key: "ssh_user",
					Msg: "not set, and the current OS user is unknown: " + l.osUserErr.Error(), Err: ErrInvalidValue})
			}
		}
	}
	var verr *Error
	if err := cfg.Validate(); errors.As(err, &verr) {
		l.probs.addAll(verr.Problems)
	}
	l.sshOptionsWarning(cfg, sshOrder)

	cfg.Warnings = l.warns.items
	if len(l.probs.items) > 0 {
		return nil, &Error{Problems: sortProblems(l.probs.items, l.opts.GlobalFile, l.opts.AppFile)}
	}
	return cfg, nil
}

// origins maps each parameter of lv written in a file to "file:line [section]".
func origins(lv level) map[string]string {
	m := make(map[string]string, len(lv))
	for name, v := range lv {
		if v.builtin || v.src.file == "" {
			continue
		}
		m[name] = fmt.Sprintf("%s:%d [%s]", v.src.file, v.src.line, v.src.section)
	}
	return m
}

// addWarnings keeps a document's warnings; only is the one section whose
// warnings matter ("" for all).
func (l *loader) addWarnings(ws []Problem, only string) {
	for _, w := range ws {
		if only == "" || w.Section == only {
			l.warn(w)
		}
	}
}

// ownLevel validates the keys of one section and returns them as a level.
// In a [server default] section the per-block parameters are dropped with a
// warning, since MHA never inherits them.
func (l *loader) ownLevel(file string, s *section, isDefault bool) level {
	own := level{}
	for _, k := range s.keys {
		e := s.entries[k]
		src := source{file: file, line: e.line, section: s.name}
		own.add(l, k, e.value, src, isDefault)
	}
	return own
}

// add records one key of a level after checking its name.
func (lv level) add(l *loader, key, val string, src source, isDefault bool) {
	p, ok := lookupParam(key)
	if !ok {
		msg := "unknown parameter"
		if key == "" {
			msg = "empty parameter name"
		}
		if sg := SuggestParameter(key); sg != "" {
			msg += "; did you mean " + sg + "?"
		}
		l.probs.add(Problem{File: src.file, Line: src.line, Section: src.section, Key: key,
			Msg: src.note + msg, Err: ErrUnknownParameter})
		return
	}
	switch {
	case p.rule == ignored:
		l.warn(Problem{File: src.file, Line: src.line, Section: src.section, Key: key,
			Msg: src.note + "ignored: the SSH address is always resolved from ssh_host (as in MHA 0.58)"})
		return
	case p.rule == notInherited && isDefault:
		l.warn(Problem{File: src.file, Line: src.line, Section: src.section, Key: key,
			Msg: src.note + "has no effect here: it is never inherited from [server default]; set it in each server block"})
		return
	}
	lv[key] = value{s: val, src: src}
}

// resolve fills IP and SSHIP of a block: ip, else the first address of
// hostname; ssh_ip is IP when ssh_host is hostname, else the first address
// of ssh_host.
func (l *loader) resolve(ctx context.Context, srv *Server, own level) error {
	if srv.Hostname == "" {
		return nil // Validate reports it
	}
	if srv.SSHHost == "" {
		srv.SSHHost = srv.Hostname
	}
	if srv.IP == "" {
		addr, err := l.lookup(ctx, srv.Hostname, "hostname", own["hostname"])
		if err != nil {
			return err
		}
		srv.IP = addr
	}
	if srv.SSHHost == srv.Hostname {
		srv.SSHIP = srv.IP
		return nil
	}
	addr, err := l.lookup(ctx, srv.SSHHost, "ssh_host", own["ssh_host"])
	if err != nil {
		return err
	}
	srv.SSHIP = addr
	return nil
}

// lookup resolves host, written as key at v, reporting a failure as a
// problem there. Only the end of ctx is returned as an error.
func (l *loader) lookup(ctx context.Context, host, key string, v value) (string, error) {
	r, ok := l.cache[host]
	if !ok {
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("config: resolve %s: %w", host, err)
		}
		addrs, err := l.opts.Resolver.LookupHost(ctx, host)
		if err != nil && ctx.Err() != nil {
			return "", fmt.Errorf("config: resolve %s: %w", host, ctx.Err())
		}
		switch {
		case err != nil:
			r.err = err
		case len(addrs) == 0:
			r.err = errors.New("no addresses")
		default:
			r.addr = addrs[0]
		}
		l.cache[host] = r
	}
	if r.err != nil {
		l.probs.add(Problem{File: v.src.file, Line: v.src.line, Section: v.src.section, Key: key,
			Msg: fmt.Sprintf("%q does not resolve: %v", host, r.err), Err: ErrResolve})
	}
	return r.addr, nil
}

// runInitScript runs init_conf_load_script (v) and parses its output into a
// level. Each output line is name=value: the name is the text before the
// first "=", the value the text up to a second "=" (the rest is lost, as in
// MHA); a line without a value leaves the parameter unchanged.
func (l *loader) runInitScript(ctx context.Context, v value) (level, error) {
	out, err := l.opts.RunScript(ctx, v.s)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("config: init_conf_load_script %q: %w", v.s, ctx.Err())
	}
	at := Problem{File: v.src.file, Line: v.src.line, Section: v.src.section, Key: "init_conf_load_script"}
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			at.Msg, at.Err = fmt.Sprintf("cannot run %q: %v", v.s, err), ErrInitScript
			l.probs.add(at)
			return nil, nil
		}
		at.Msg = fmt.Sprintf("%q failed (%v); its output is used anyway, as MHA ignores the exit status", v.s, err)
		l.warn(at)
	}
	own := level{}
	for i, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		fields := strings.Split(line, "=")
		for len(fields) > 0 && fields[len(fields)-1] == "" { // Perl's split drops trailing empty fields
			fields = fields[:len(fields)-1]
		}
		if len(fields) == 0 {
			continue
		}
		note := fmt.Sprintf("init_conf_load_script output line %d: ", i+1)
		src := source{file: v.src.file, line: v.src.line, section: defaultSection, note: note}
		if len(fields) == 1 {
			if !IsParameter(fields[0]) {
				own.add(l, fields[0], "", src, true) // reports the name
			}
			continue
		}
		own.add(l, fields[0], fields[1], src, true)
	}
	return own, nil
}

// runShell is the default ScriptRunner: /bin/sh -c command, standard error
// kept for the error message.
func runShell(ctx context.Context, command string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			if len(msg) > 512 {
				msg = msg[:512] + "..."
			}
			err = fmt.Errorf("%w: %s", err, msg)
		}
	}
	return stdout.Bytes(), err
}

// isServerBlock reports whether name matches MHA's /^server\S+/ (which
// includes "server default" only by the caller's earlier check).
func isServerBlock(name string) bool { return hasWordPrefix(name, "server") }

// isBinlogBlock reports whether name matches /^binlog\S+/.
func isBinlogBlock(name string) bool { return hasWordPrefix(name, "binlog") }

func hasWordPrefix(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	// Perl's \S on the undecoded bytes Config::Tiny reads: only ASCII
	// blanks count as space.
	return ok && rest != "" && !isPerlSpace(rest[0])
}

// serverNumber returns the number MHA sorts by when every server block
// matches /^server\D*(\d+)/.
func serverNumber(name string) (string, bool) {
	rest := strings.TrimPrefix(name, "server")
	if len(rest) == len(name) {
		return "", false
	}
	i := strings.IndexFunc(rest, func(r rune) bool { return r >= '0' && r <= '9' })
	if i < 0 {
		return "", false
	}
	j := i
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	return rest[i:j], true
}

// compareNumbers compares decimal digit strings of any length by value.
func compareNumbers(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// sortServers re-sorts string-ordered servers by number when every block
// name has one (server1, server2, server10), keeping string order for ties.
func sortServers(servers []Server) {
	nums := make(map[string]string, len(servers))
	for _, s := range servers {
		n, ok := serverNumber(s.Block)
		if !ok {
			return
		}
		nums[s.Block] = n
	}
	slices.SortStableFunc(servers, func(a, b Server) int { return compareNumbers(nums[a.Block], nums[b.Block]) })
}

// sshOptionsWarning warns when MHA would give a server other ssh_options
// than gomha does: MHA keeps one process-wide value, overwritten by every
// level and block (in string order) that sets its own, so the last one
// applies to every server.
func (l *loader) sshOptionsWarning(cfg *Config, order []value) {
	var last value
	found := false
	for _, v := range order {
		if v.s = strings.NewReplacer(`'`, "", `"`, "").Replace(v.s); v.s != "" {
			last, found = v, true
		}
	}
	var differ []string
	for _, s := range slices.Concat(cfg.Servers, cfg.Binlogs) {
		if found && s.SSHOptions != last.s {
			differ = append(differ, s.Block)
		}
	}
	if len(differ) == 0 {
		return
	}
	l.warn(Problem{File: last.src.file, Line: last.src.line, Section: last.src.section, Key: "ssh_options",
		Msg: fmt.Sprintf("MHA 0.58 would use %q for every server; gomha uses each block's own or inherited value, which differs for %s",
			last.s, strings.Join(differ, ", "))})
}

// appName is MHA's basename of the configuration file without its last
// extension ("/etc/mha/app1.cnf" -> "app1"). MHA falls back to the whole
// path when that is empty (".cnf"); gomha falls back to the base name.
func appName(file string) string {
	base := filepath.Base(file)
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		return base[:i]
	}
	return base
}

// sortProblems orders problems by file (global first) and line, with
// whole-file problems after the lines of their file.
func sortProblems(ps []Problem, files ...string) []Problem {
	rank := func(f string) int {
		if i := slices.Index(files, f); i >= 0 {
			return i
		}
		return len(files)
	}
	line := func(n int) int {
		if n == 0 {
			return int(^uint(0) >> 1)
		}
		return n
	}
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(rank(a.File), rank(b.File)), cmp.Compare(line(a.Line), line(b.Line)))
	})
	return out
}
