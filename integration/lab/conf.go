package lab

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// confSection is one [block] of an app config being built.
type confSection struct {
	name string
	kv   [][2]string
}

func (s *confSection) set(k, v string) {
	for i := range s.kv {
		if s.kv[i][0] == k {
			s.kv[i][1] = v
			return
		}
	}
	s.kv = append(s.kv, [2]string{k, v})
}

func (s *confSection) unset(k string) {
	out := s.kv[:0]
	for _, e := range s.kv {
		if e[0] != k {
			out = append(out, e)
		}
	}
	s.kv = out
}

// confDoc is an ordered INI document.
type confDoc struct{ sections []*confSection }

func (d *confDoc) section(name string) *confSection {
	for _, s := range d.sections {
		if s.name == name {
			return s
		}
	}
	s := &confSection{name: name}
	d.sections = append(d.sections, s)
	return s
}

func (d *confDoc) String() string {
	var b strings.Builder
	for i, s := range d.sections {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("[" + s.name + "]\n")
		for _, e := range s.kv {
			b.WriteString(e[0] + "=" + e[1] + "\n")
		}
	}
	return b.String()
}

// apply applies one extra line (see AppConf).
func (d *confDoc) apply(line string) error {
	sec := "server default"
	rest := strings.TrimSpace(line)
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return fmt.Errorf("extra %q: unclosed [", line)
		}
		sec = strings.TrimSpace(rest[1:end])
		rest = strings.TrimSpace(rest[end+1:])
		if sec == "" {
			return fmt.Errorf("extra %q: empty section name", line)
		}
	}
	s := d.section(sec)
	switch {
	case rest == "":
		return nil
	case strings.HasPrefix(rest, "-"):
		s.unset(strings.TrimSpace(rest[1:]))
		return nil
	}
	k, v, ok := strings.Cut(rest, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return fmt.Errorf("extra %q: want key=value, -key, or [section] before either", line)
	}
	s.set(k, strings.TrimSpace(v))
	return nil
}

// AppConf renders an MHA-style application configuration for the lab:
//
//	[server default]
//	user, password            the manager's admin account (AdminUser)
//	repl_user, repl_password  the replication account (ReplUser)
//	ssh_user=root, ssh_options (SSHOptions)
//	manager_workdir           <lab dir>/manager
//	ping_interval=1
//	[server1] ... [serverN]   one block per database host:
//	hostname=<IP>, port=3306,
//	master_binlog_dir         the host's datadir (binary logs live there)
//	remote_workdir            <host dir>/work (hosts share one file system,
//	                          so each needs its own)
//
// Each extra line changes the document, in order:
//
//	"key=value"            sets key in [server default] (replacing a value
//	                       already there, else appending)
//	"[block] key=value"    sets key in [block]; a block that does not exist
//	                       yet ([server4], [binlog1]) is appended
//	"-key", "[block] -key" removes key
//	"[block]"              adds an empty block
//
// For example "[server2] candidate_master=1", "ping_interval=3" or
// "-ping_interval".
func (l *Lab) AppConf(extra ...string) (string, error) {
	return l.AppConfFor(l.Hosts, extra...)
}

// AppConfFor is AppConf for a cluster of some of the lab's hosts only
// (hosts[0] its master): several clusters in one lab.
func (l *Lab) AppConfFor(hosts []*Host, extra ...string) (string, error) {
	d := &confDoc{}
	def := d.section("server default")
	def.set("user", l.AdminUser)
	def.set("password", l.AdminPassword)
	def.set("repl_user", l.ReplUser)
	def.set("repl_password", l.ReplPassword)
	def.set("ssh_user", "root")
	def.set("ssh_options", l.SSHOptions())
	def.set("manager_workdir", l.ManagerWorkdir)
	def.set("ping_interval", "1")
	for i, h := range hosts {
		s := d.section("server" + strconv.Itoa(i+1))
		s.set("hostname", h.IP)
		s.set("port", strconv.Itoa(h.Port))
		s.set("master_binlog_dir", h.DataDir)
		s.set("remote_workdir", h.RemoteWorkdir)
	}
	for _, e := range extra {
		if err := d.apply(e); err != nil {
			return "", fmt.Errorf("lab: app config: %w", err)
		}
	}
	return "# MHA application configuration for gomha lab " + l.Name + " (integration/lab).\n" + d.String(), nil
}

// WriteAppConf writes AppConf(extra...) to path (mode 0600: it holds
// passwords).
func (l *Lab) WriteAppConf(path string, extra ...string) error {
	s, err := l.AppConf(extra...)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		return fmt.Errorf("lab: write app config: %w", err)
	}
	return nil
}
