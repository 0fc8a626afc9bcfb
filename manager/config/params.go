package config

import "strings"

// inheritRule says how a parameter missing from a block gets its value. The
// rules mirror MHA 0.58's parse_server (MHA/Config.pm), which treats "defined
// but empty" differently per parameter.
type inheritRule int

const (
	// inheritFalsy: take the default level's value when the block does not
	// set the key; when that value is empty or "0", use the built-in one.
	inheritFalsy inheritRule = iota
	// inheritDefined: take the default level's value when the block does
	// not set the key, even if it is empty; the built-in value only when no
	// level set it at all.
	inheritDefined
	// inheritPlain: take the default level's value; no built-in value.
	inheritPlain
	// notInherited: only the block's own value counts (mha-compat §0 item 4).
	notInherited
	// ignored: accepted in every block and never used (ssh_ip).
	ignored
)

// param describes one MHA parameter name.
type param struct {
	name    string
	rule    inheritRule
	builtin string // the built-in default; meaningful for inheritFalsy and inheritDefined
}

// osUserBuiltin stands for "the manager's OS user" in the parameter table;
// resolve replaces it with LoadOptions.OSUser.
const osUserBuiltin = "\x00os-user"

// defaultMasterBinlogDir is MHA 0.58's built-in master_binlog_dir.
const defaultMasterBinlogDir = "/var/lib/mysql,/var/log/mysql"

// paramTable lists every parameter MHA 0.58 accepts, in the order of its
// @PARAM_ARRAY (MHA/Config.pm), then gomha's own (fence_lease).
var paramTable = [...]param{
	{name: "hostname", rule: notInherited},
	{name: "ip", rule: notInherited},
	{name: "port", rule: inheritFalsy, builtin: "3306"},
	{name: "ssh_host", rule: notInherited},
	{name: "ssh_ip", rule: ignored},
	{name: "ssh_port", rule: inheritFalsy, builtin: "22"},
	{name: "ssh_connection_timeout", rule: inheritFalsy, builtin: "5"},
	// MHA does not inherit ssh_options at all: it stores every non-empty
	// value in a process-wide variable, so the last block parsed wins for
	// every server. gomha inherits it like any other parameter instead; see
	// sshOptionsWarning.
	{name: "ssh_options", rule: inheritPlain},
	{name: "node_label", rule: notInherited},
	{name: "candidate_master", rule: notInherited},
	{name: "no_master", rule: notInherited},
	{name: "ignore_fail", rule: notInherited},
	{name: "skip_init_ssh_check", rule: notInherited},
	{name: "skip_reset_slave", rule: inheritDefined, builtin: "0"},
	{name: "user", rule: inheritFalsy, builtin: "root"},
	{name: "password", rule: inheritDefined, builtin: ""},
	{name: "repl_user", rule: inheritPlain},
	{name: "repl_password", rule: inheritPlain},
	{name: "disable_log_bin", rule: inheritDefined, builtin: "0"},
	{name: "master_pid_file", rule: inheritPlain},
	{name: "handle_raw_binlog", rule: inheritDefined, builtin: "1"},
	{name: "ssh_user", rule: inheritFalsy, builtin: osUserBuiltin},
	{name: "remote_workdir", rule: inheritFalsy, builtin: "/var/tmp"},
	{name: "master_binlog_dir", rule: inheritFalsy, builtin: defaultMasterBinlogDir},
	{name: "log_level", rule: inheritFalsy, builtin: "info"},
	{name: "manager_workdir", rule: inheritFalsy, builtin: "/var/tmp"},
	{name: "manager_log", rule: inheritPlain},
	{name: "check_repl_delay", rule: inheritDefined, builtin: "1"},
	{name: "check_repl_filter", rule: inheritDefined, builtin: "1"},
	{name: "latest_priority", rule: inheritDefined, builtin: "1"},
	{name: "multi_tier_slave", rule: inheritDefined, builtin: "0"},
	{name: "ping_interval", rule: inheritDefined, builtin: "3"},
	{name: "ping_type", rule: inheritDefined, builtin: PingSelect},
	{name: "secondary_check_script", rule: inheritPlain},
	{name: "master_ip_failover_script", rule: inheritPlain},
	{name: "master_ip_online_change_script", rule: inheritPlain},
	{name: "shutdown_script", rule: inheritPlain},
	{name: "report_script", rule: inheritPlain},
	{name: "init_conf_load_script", rule: inheritPlain},
	{name: "client_bindir", rule: inheritPlain},
	{name: "client_libdir", rule: inheritPlain},
	{name: "use_gtid_auto_pos", rule: inheritDefined, builtin: "1"},
	// gomha only (MHA has no such parameter): seconds of the fencing lease
	// that the watchdog on the master's host enforces (`mha-node
	// watchdog`, manager/lease); 0, the default, turns it off as in MHA.
	{name: "fence_lease", rule: inheritDefined, builtin: "0"},
}

// Ping types accepted by ping_type (after upper-casing).
const (
	// PingConnect checks the master by connecting and disconnecting.
	PingConnect = "CONNECT"
	// PingSelect checks the master with SELECT 1 on a persistent connection.
	PingSelect = "SELECT"
	// PingInsert checks the master by inserting into a heartbeat table.
	PingInsert = "INSERT"
)

// lookupParam returns the table entry for name.
func lookupParam(name string) (param, bool) {
	for _, p := range paramTable {
		if p.name == name {
			return p, true
		}
	}
	return param{}, false
}

// Parameters returns every parameter name MHA 0.58 accepts, in MHA's order,
// then gomha's own (fence_lease). The result is a fresh slice the caller
// may modify.
func Parameters() []string {
	names := make([]string, len(paramTable))
	for i, p := range paramTable {
		names[i] = p.name
	}
	return names
}

// IsParameter reports whether name is a parameter MHA 0.58 accepts, or one
// of gomha's own. Names are case-sensitive, as in MHA.
func IsParameter(name string) bool {
	_, ok := lookupParam(name)
	return ok
}

// SuggestParameter returns the valid parameter name name was probably
// meant to be, or "" when none is close: the shortest name that starts with
// name (at least four characters, ignoring case: "candidate" ->
// candidate_master), else the name closest by Levenshtein distance when
// that is at most max(2, len(name)/3) ("pnig_interval" -> ping_interval).
func SuggestParameter(name string) string {
	return suggest(name, Parameters())
}

// suggest implements SuggestParameter over candidates. Ties go to the
// earlier candidate.
func suggest(name string, candidates []string) string {
	lower := strings.ToLower(name)
	if len(lower) >= 4 {
		best := ""
		for _, c := range candidates {
			lc := strings.ToLower(c)
			if len(lc) > len(lower) && strings.HasPrefix(lc, lower) && (best == "" || len(c) < len(best)) {
				best = c
			}
		}
		if best != "" {
			return best
		}
	}
	limit := max(2, len(name)/3)
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if d := levenshtein(lower, strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// levenshtein returns the edit distance between a and b, counted in bytes.
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// logLevels maps every level name Log::Dispatch 2.70 accepts (MHA passes
// log_level to it as min_level) to its canonical name. Log::Dispatch is
// case-sensitive and also accepts the numbers 0-7.
var logLevels = map[string]string{
	"debug": "debug", "info": "info", "notice": "notice", "warning": "warning",
	"error": "error", "critical": "critical", "alert": "alert", "emergency": "emergency",
	"warn": "warning", "err": "error", "crit": "critical", "emerg": "emergency",
	"0": "debug", "1": "info", "2": "notice", "3": "warning",
	"4": "error", "5": "critical", "6": "alert", "7": "emergency",
}

// canonicalLevels are the level names in Log::Dispatch's order, for suggestions.
var canonicalLevels = []string{"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"}
