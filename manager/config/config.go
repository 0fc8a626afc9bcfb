// Package config models MHA's configuration files (mha.cnf): the global file's
// [server default], the application file's [server default], [serverN] and
// [binlogN] blocks, with MHA 0.58's inheritance, defaults and ordering.
//
// Load reads, resolves and validates a configuration and reports every
// problem at once as an *Error, each with file and line. AddServerBlock,
// RemoveServerBlock and RemoveServer edit an application file for
// mha conf-host and --remove_dead_master_conf as text, keeping comments and
// order (MHA 0.58 re-renders the file and loses both).
//
// The file format is Config::Tiny 2.28's, the version MHA runs with on
// Debian 12: comments are whole lines starting with "#" or ";". There are no
// inline comments, with one exception: a semicolon with a blank on each side
// starts one ("pw ; note" gives "pw"), while "pw # note" and "pw;note" are
// values as written.
//
// Where gomha differs from MHA 0.58 on purpose:
//   - ssh_options is inherited and used per server. MHA keeps one
//     process-wide value that the last block parsed overwrites, so every
//     server gets the last block's value; Load warns when that would differ.
//     Likewise the SSH connect timeout is each server's
//     ssh_connection_timeout, not the first default level's.
//   - Quotes are stripped before values are checked and hostnames resolved,
//     so ping_interval="3" and hostname="db1" work (MHA rejects them).
//   - Booleans must be empty, 0 or 1; MHA takes any other text, even "no",
//     as 1, so gomha rejects it rather than guess.
//   - Ports, log_level, user, ssh_user, remote_workdir, manager_workdir and
//     master_binlog_dir left empty in a server block mean the built-in
//     default; MHA does that only for an empty value inherited from
//     [server default]. log_level aliases are canonicalised ("warn" ->
//     "warning").
//   - A UTF-8 byte order mark is skipped, and blank or CRLF-terminated
//     lines of init_conf_load_script output are tolerated.
package config

import "time"

// Config is one application's resolved configuration.
type Config struct {
	// File is the application configuration file (--conf).
	File string
	// GlobalFile is the global configuration file (--global_conf), "" when
	// it did not exist.
	GlobalFile string
	// App is File's base name without its last extension
	// ("/etc/mha/app1.cnf" -> "app1").
	App string
	// Default is the resolved [server default]: built-in defaults, then the
	// global file, then the application file, then init_conf_load_script.
	Default Params
	// Servers are the [server*] blocks in MHA's order: sorted by name, or by
	// number when every name is server<digits>.
	Servers []Server
	// Binlogs are the [binlog*] blocks in name order.
	Binlogs []Server
	// Warnings are things MHA accepts but an operator should hear about: a
	// missing global file, ignored sections of the global file, duplicate
	// keys, parameters that have no effect where they are written, servers
	// whose ssh_options MHA would override, a failing
	// init_conf_load_script. Load returns them with a nil error; Err is nil
	// in each.
	Warnings []Problem
}

// Server is one resolved [server*] or [binlog*] block.
type Server struct {
	// Block is the section name, e.g. "server1".
	Block string
	// Line is the line of the section header in Config.File.
	Line int
	Params
	// Origins maps a parameter written in a file (own block, [server
	// default] or the global file) to where: "file:line [section]".
	// Built-in defaults are absent.
	Origins map[string]string
}

// Origin returns where param's value was written, or "" for a built-in
// default; messages about a value (a wrong password) point there rather
// than at the block header.
func (s Server) Origin(param string) string { return s.Origins[param] }

// Params holds every MHA parameter (mha-compat §3.4) with its resolved value.
// In Config.Default the per-block-only parameters (Hostname, IP, SSHHost,
// NodeLabel, CandidateMaster, NoMaster, IgnoreFail, SkipInitSSHCheck) are
// zero because MHA never inherits them.
type Params struct {
	Hostname string // hostname (required in a server block)
	IP       string // ip; resolved from Hostname when unset
	Port     int    // port; 3306

	SSHHost              string        // ssh_host; Hostname when unset
	SSHIP                string        // address SSH connects to: IP when SSHHost == Hostname, else resolved SSHHost (the ssh_ip parameter is ignored, as in MHA)
	SSHPort              int           // ssh_port; 22
	SSHUser              string        // ssh_user; the manager's OS user
	SSHConnectionTimeout time.Duration // ssh_connection_timeout; 5s
	SSHOptions           string        // ssh_options; quotes removed

	User         string // user; root
	Password     string // password
	ReplUser     string // repl_user; "" means the replica's Master_User
	ReplPassword string // repl_password; "" means CHANGE MASTER without MASTER_PASSWORD

	CandidateMaster  bool // candidate_master (not inherited)
	NoMaster         bool // no_master (not inherited)
	IgnoreFail       bool // ignore_fail (not inherited)
	SkipInitSSHCheck bool // skip_init_ssh_check (not inherited)
	SkipResetSlave   bool // skip_reset_slave
	DisableLogBin    bool // disable_log_bin

	MasterPIDFile   string   // master_pid_file
	HandleRawBinlog bool     // handle_raw_binlog; true
	RemoteWorkdir   string   // remote_workdir; /var/tmp
	MasterBinlogDir []string // master_binlog_dir; /var/lib/mysql,/var/log/mysql
	LogLevel        string   // log_level; info

	ManagerWorkdir  string // manager_workdir; /var/tmp
	ManagerLog      string // manager_log; "" means stderr
	CheckReplDelay  bool   // check_repl_delay; true
	CheckReplFilter bool   // check_repl_filter; true
	LatestPriority  bool   // latest_priority; true
	MultiTierSlave  bool   // multi_tier_slave

	PingInterval time.Duration // ping_interval; 3s
	PingType     string        // ping_type; SELECT (upper-cased; CONNECT, SELECT or INSERT)

	SecondaryCheckScript       string // secondary_check_script
	MasterIPFailoverScript     string // master_ip_failover_script
	MasterIPOnlineChangeScript string // master_ip_online_change_script
	ShutdownScript             string // shutdown_script
	ReportScript               string // report_script
	InitConfLoadScript         string // init_conf_load_script

	ClientBindir   string // client_bindir
	ClientLibdir   string // client_libdir
	UseGTIDAutoPos bool   // use_gtid_auto_pos; true
	NodeLabel      string // node_label (not inherited)

	// FenceLease is fence_lease, gomha only (MHA has none): the fencing
	// lease the watchdog on the master's host enforces; 0 (the default)
	// means off. The current master's value counts.
	FenceLease time.Duration
}
