package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// source says where a value was written.
type source struct {
	file    string
	line    int
	section string
	note    string // message prefix, e.g. "init_conf_load_script output line 2: "
}

// value is one parameter value at one level, as MHA holds it: a string whose
// presence in a level map is Perl's "defined".
type value struct {
	s       string
	src     source
	builtin bool // the built-in default, not written anywhere
}

// level is one parse_server result: every parameter the level defines.
type level map[string]value

// perlTrue is Perl's truth for a string: neither "" nor "0".
func perlTrue(s string) bool { return s != "" && s != "0" }

// stripQuotes is MHA's s/^['"]?(.*)['"]$/$1/ on a true value: a trailing
// quote is removed, and a leading one if present. They need not match, and
// a value such as `cmd "a b"` loses only its last quote.
func stripQuotes(s string) string {
	if !perlTrue(s) {
		return s
	}
	if c := s[len(s)-1]; c != '"' && c != '\'' {
		return s
	}
	s = s[:len(s)-1]
	if s != "" && (s[0] == '"' || s[0] == '\'') {
		s = s[1:]
	}
	return s
}

// removeSpace deletes every blank (MHA's s/\s//g on master_binlog_dir; \s
// on undecoded bytes is ASCII only).
func removeSpace(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if !isPerlSpace(s[i]) {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// inherit computes one level the way MHA 0.58's parse_server does: own holds
// the keys written at this level, def the previous level (nil at the top).
//
// MHA strips quotes at the end of every level, from inherited values too, so
// a value written in [server default] is stripped once there and again in
// each server block; this is reproduced, and only matters for values ending
// in two or more quote characters.
func inherit(own, def level) level {
	out := make(level, len(paramTable))
	for _, p := range paramTable {
		v, ok := own[p.name]
		if !ok {
			switch p.rule {
			case inheritFalsy:
				v, ok = def[p.name]
				if !ok || !perlTrue(v.s) {
					v, ok = value{s: p.builtin, builtin: true}, true
				}
			case inheritDefined:
				v, ok = def[p.name]
				if !ok {
					v, ok = value{s: p.builtin, builtin: true}, true
				}
			case inheritPlain:
				v, ok = def[p.name]
			}
		}
		if !ok {
			continue
		}
		switch p.name {
		case "ssh_options":
			v.s = strings.NewReplacer(`'`, "", `"`, "").Replace(v.s)
		case "master_binlog_dir":
			v.s = removeSpace(v.s)
		case "ping_type":
			v.s = strings.ToUpper(v.s)
		}
		v.s = stripQuotes(v.s)
		out[p.name] = v
	}
	return out
}

// converter turns levels into typed Params and collects problems.
type converter struct {
	osUser string
	probs  *problemList
	// warns receives warnings (values taken, but not as written); nil
	// drops them.
	warns *problemList
}

func (c *converter) bad(name string, v value, msg string) {
	c.probs.add(Problem{File: v.src.file, Line: v.src.line, Section: v.src.section, Key: name,
		Msg: v.src.note + msg, Err: ErrInvalidValue})
}

// params converts a resolved level. Invalid values are reported and replaced
// by the built-in default, so that Validate does not report them again.
func (c *converter) params(lv level) Params {
	var p Params
	for _, prm := range paramTable {
		v, ok := lv[prm.name]
		if !ok {
			continue
		}
		c.set(&p, prm, v)
	}
	return p
}

// set stores one value into its Params field.
func (c *converter) set(p *Params, prm param, v value) {
	s := v.s
	switch prm.name {
	case "hostname":
		p.Hostname = s
	case "ip":
		p.IP = s
	case "port":
		p.Port = c.port(prm.name, v, 3306)
	case "ssh_host":
		p.SSHHost = s
	case "ssh_port":
		p.SSHPort = c.port(prm.name, v, 22)
	case "ssh_user":
		if s == "" || s == osUserBuiltin {
			s = c.osUser
		}
		p.SSHUser = s
	case "ssh_connection_timeout":
		p.SSHConnectionTimeout = c.seconds(prm.name, v, 5)
	case "ssh_options":
		p.SSHOptions = s
	case "user":
		p.User = orDefault(s, "root")
	case "password":
		p.Password = s
	case "repl_user":
		p.ReplUser = s
	case "repl_password":
		p.ReplPassword = s
	case "candidate_master":
		p.CandidateMaster = c.bool(prm.name, v)
	case "no_master":
		p.NoMaster = c.bool(prm.name, v)
	case "ignore_fail":
		p.IgnoreFail = c.bool(prm.name, v)
	case "skip_init_ssh_check":
		p.SkipInitSSHCheck = c.bool(prm.name, v)
	case "skip_reset_slave":
		p.SkipResetSlave = c.bool(prm.name, v)
	case "disable_log_bin":
		p.DisableLogBin = c.bool(prm.name, v)
	case "master_pid_file":
		p.MasterPIDFile = s
	case "handle_raw_binlog":
		p.HandleRawBinlog = c.bool(prm.name, v)
	case "remote_workdir":
		p.RemoteWorkdir = orDefault(s, "/var/tmp")
	case "master_binlog_dir":
		p.MasterBinlogDir = splitDirs(s)
	case "log_level":
		p.LogLevel = c.logLevel(prm.name, v)
	case "manager_workdir":
		p.ManagerWorkdir = orDefault(s, "/var/tmp")
	case "manager_log":
		p.ManagerLog = s
	case "check_repl_delay":
		p.CheckReplDelay = c.bool(prm.name, v)
	case "check_repl_filter":
		p.CheckReplFilter = c.bool(prm.name, v)
	case "latest_priority":
		p.LatestPriority = c.bool(prm.name, v)
	case "multi_tier_slave":
		p.MultiTierSlave = c.bool(prm.name, v)
	case "ping_interval":
		p.PingInterval = c.seconds(prm.name, v, 3)
	case "ping_type":
		p.PingType = c.pingType(prm.name, v)
	case "secondary_check_script":
		p.SecondaryCheckScript = s
	case "master_ip_failover_script":
		p.MasterIPFailoverScript = s
	case "master_ip_online_change_script":
		p.MasterIPOnlineChangeScript = s
	case "shutdown_script":
		p.ShutdownScript = s
	case "report_script":
		p.ReportScript = s
	case "init_conf_load_script":
		p.InitConfLoadScript = s
	case "client_bindir":
		p.ClientBindir = s
	case "client_libdir":
		p.ClientLibdir = s
	case "use_gtid_auto_pos":
		p.UseGTIDAutoPos = c.bool(prm.name, v)
	case "node_label":
		p.NodeLabel = s
	case "fence_lease":
		p.FenceLease = c.nonNegativeSeconds(prm.name, v)
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// splitDirs splits master_binlog_dir on commas; an empty value means MHA's
// built-in list.
func splitDirs(s string) []string {
	var dirs []string
	for d := range strings.SplitSeq(s, ",") {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		return splitDirs(defaultMasterBinlogDir)
	}
	return dirs
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// port parses a TCP port; empty or 0 means def, as in MHA.
func (c *converter) port(name string, v value, def int) int {
	if v.s == "" {
		return def
	}
	n, err := strconv.Atoi(v.s)
	if !allDigits(v.s) || err != nil || n > 65535 {
		c.bad(name, v, fmt.Sprintf("%q is not a port number (1-65535, or 0 for %d)", v.s, def))
		return def
	}
	if n == 0 {
		return def
	}
	return n
}

// seconds parses MHA's check_positive_int: digits only, at least 1.
func (c *converter) seconds(name string, v value, def int) time.Duration {
	n, err := strconv.ParseInt(v.s, 10, 32)
	if !allDigits(v.s) || err != nil || n < 1 {
		c.bad(name, v, fmt.Sprintf("%q is not a positive integer number of seconds", v.s))
		return time.Duration(def) * time.Second
	}
	return time.Duration(n) * time.Second
}

// nonNegativeSeconds parses a whole number of seconds where 0 (or empty)
// means off.
func (c *converter) nonNegativeSeconds(name string, v value) time.Duration {
	if v.s == "" {
		return 0
	}
	n, err := strconv.ParseInt(v.s, 10, 32)
	if !allDigits(v.s) || err != nil {
		c.bad(name, v, fmt.Sprintf("%q is not a whole number of seconds (0 for off)", v.s))
		return 0
	}
	return time.Duration(n) * time.Second
}

// bool parses MHA's 0/1 flags. MHA tests Perl truth, so "" and "0" are
// false and every other string is true, including "no" and "false"; gomha
// accepts only "", "0" and "1" and reports anything else rather than guess.
// bool reads a boolean with Perl's truthiness, as MHA does: empty and "0"
// are false, anything else is true. A value other than empty, 0 or 1
// ("no", "false", "off" are all true) is taken and warned about, with its
// file and line.
func (c *converter) bool(name string, v value) bool {
	switch v.s {
	case "", "0":
		return false
	case "1":
		return true
	}
	if c.warns != nil {
		c.warns.add(Problem{File: v.src.file, Line: v.src.line, Section: v.src.section, Key: name,
			Msg: v.src.note + fmt.Sprintf("%q is not 0 or 1; taken as 1 (true), as MHA does with any value other than empty or 0", v.s)})
	}
	return true
}

func (c *converter) pingType(name string, v value) string {
	switch v.s {
	case PingConnect, PingSelect, PingInsert:
		return v.s
	}
	c.bad(name, v, fmt.Sprintf("%q is not CONNECT, SELECT or INSERT", v.s))
	return PingSelect
}

// logLevel accepts what Log::Dispatch accepts and returns the canonical
// name ("warn" -> "warning", "0" -> "debug"); empty means info.
func (c *converter) logLevel(name string, v value) string {
	if v.s == "" {
		return "info"
	}
	if l, ok := logLevels[v.s]; ok {
		return l
	}
	msg := fmt.Sprintf("%q is not a log level (%s)", v.s, strings.Join(canonicalLevels, ", "))
	if s := suggest(v.s, canonicalLevels); s != "" {
		msg += "; did you mean " + s + "?"
	}
	c.bad(name, v, msg)
	return "info"
}
