package hooks

import (
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gomha/gomha/manager/config"
)

// Endpoint is what the hook arguments say about one server: the orig (or
// dead) master, the new master, or the server a shutdown_script acts on.
type Endpoint struct {
	// Host is the configured hostname, IP its resolved address, Port the
	// MySQL port.
	Host, IP string
	Port     int
	// SSHUser, SSHHost, SSHIP and SSHPort are how SSH reaches the server.
	// An empty SSHHost or SSHIP means Host or IP, a zero SSHPort means 22,
	// as MHA fills them in.
	SSHUser, SSHHost, SSHIP string
	SSHPort                 int
	// SSHOptions is the server's ssh_options value as configured; quote
	// characters are dropped when it is passed on (MHA's s/['"]//g).
	SSHOptions string
	// User and Password are the MySQL account (user, password).
	User, Password string

	// SSHConnectTimeout is ssh_connection_timeout, used in the option
	// string MHA passes when SSH is not reachable (ConnectTimeout=N);
	// zero means MHA's default of 5 seconds.
	SSHConnectTimeout time.Duration
	// SSHUnreachable tells FailoverStartArgs that SSH to this (dead)
	// master did not work, so the check option set is passed in
	// --ssh_options instead of the alive one, as MHA does with its SSH
	// verdict after the shutdown step (mha-compat §4.7). The other
	// builders take reachability as a parameter or assume SSH works, as
	// MHA does.
	SSHUnreachable bool
	// SecondaryCheckScript is the server's secondary_check_script as
	// configured: SecondaryCheckArgs reads from it whether the checker is
	// MHA's masterha_secondary_check (see there).
	SecondaryCheckScript string
}

// EndpointOf returns the Endpoint of a resolved server block.
func EndpointOf(srv config.Server) Endpoint {
	return Endpoint{
		Host:              srv.Hostname,
		IP:                srv.IP,
		Port:              srv.Port,
		SSHUser:           srv.SSHUser,
		SSHHost:           srv.SSHHost,
		SSHIP:             srv.SSHIP,
		SSHPort:           srv.SSHPort,
		SSHOptions:        srv.SSHOptions,
		User:              srv.User,
		Password:          srv.Password,
		SSHConnectTimeout: srv.SSHConnectionTimeout,

		SecondaryCheckScript: srv.SecondaryCheckScript,
	}
}

// shellEscaped lists the bytes MHA 0.58's escape_for_shell puts a
// backslash before (MHA::NodeUtil @shell_escape_chars). The list also
// holds '\x0A' and '\xFF' in Perl single quotes: four-character strings
// that never equal one character, so newline and 0xFF are not escaped.
const shellEscaped = "\"!#&;`|*?~<>^()[]{}$, "

// Escape returns s as a hook receives a user or password from MHA 0.58
// (mha-compat §4, §0.9). MHA's escape_for_shell puts a backslash before
// each of " ! # & ; ` | * ? ~ < > ^ ( ) [ ] { } $ , and space, doubles
// each backslash, turns a single quote into a quote-closing sequence, and
// wraps the result in single quotes; the hook is then run through sh,
// which removes the quotes and keeps the backslashes. Escape returns what
// the hook receives, the string with those backslashes and without
// quotes:
//
//	configured   MHA's shell string                 hook receives = Escape
//	a$b c        --new_master_password='a\$b\ c'    --new_master_password=a\$b\ c
//	it's         --new_master_password='it'\''s'    --new_master_password=it's
//	a\b          --new_master_password='a\\b'       --new_master_password=a\\b
//
// Hooks written for MHA undo this (MHA's own node tools call
// unescape_for_shell); an empty string stays empty. It works on bytes, as
// Perl does on undecoded input.
func Escape(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' || strings.IndexByte(shellEscaped, c) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// The SSH option sets MHA passes to hooks (MHA::NodeConst::SSH_OPT_ALIVE
// when SSH to the server works, MHA::ManagerConst::SSH_OPT_CHECK when it
// does not or is unknown), each followed by the server's ssh_options.
// "-o StrictHostKeyChecking=no", which MHA has in both, is left out: see
// the package documentation.
const (
	sshOptAlive = "-o ServerAliveInterval=60 -o ServerAliveCountMax=20 -o ConnectionAttempts=5 -o PasswordAuthentication=no -o BatchMode=yes"
	sshOptCheck = "-o PasswordAuthentication=no -o BatchMode=yes -o ConnectTimeout="
)

// SSHOptionString returns the option string MHA hands a hook in
// --ssh_options (or the secondary check in --options) for e: the alive or
// the check option set, then e.SSHOptions with its quote characters
// removed. It is "" when e has no ssh_options, in which case MHA passes no
// such argument.
func SSHOptionString(e Endpoint, reachable bool) string {
	own := strings.NewReplacer(`'`, "", `"`, "").Replace(e.SSHOptions)
	if own == "" {
		return ""
	}
	if reachable {
		return sshOptAlive + " " + own
	}
	timeout := int(e.SSHConnectTimeout / time.Second)
	if timeout <= 0 {
		timeout = 5
	}
	return sshOptCheck + strconv.Itoa(timeout) + " " + own
}

// sshExtras is MHA's get_ssh_args_if (mha-compat §4.7): with prefix
// "--orig_master_", "--new_master_" or "--", ssh_host and ssh_ip when
// either differs from the hostname and ip, ssh_port when it is not 22,
// and, only when withOptions (the orig master or the shutdown target),
// --ssh_options with the alive or check option set.
func sshExtras(args []string, prefix string, e Endpoint, withOptions, reachable bool) []string {
	sshHost, sshIP, sshPort := e.SSHHost, e.SSHIP, e.SSHPort
	if sshHost == "" {
		sshHost = e.Host
	}
	if sshIP == "" {
		sshIP = e.IP
	}
	if sshPort == 0 {
		sshPort = 22
	}
	if sshHost != e.Host || sshIP != e.IP {
		args = append(args, prefix+"ssh_host="+sshHost, prefix+"ssh_ip="+sshIP)
	}
	if sshPort != 22 {
		args = append(args, prefix+"ssh_port="+strconv.Itoa(sshPort))
	}
	if withOptions {
		if opts := SSHOptionString(e, reachable); opts != "" {
			args = append(args, "--ssh_options="+opts)
		}
	}
	return args
}

// masterArgs returns --<prefix>host=, --<prefix>ip= and --<prefix>port=.
func masterArgs(args []string, prefix string, e Endpoint) []string {
	return append(args,
		"--"+prefix+"host="+e.Host,
		"--"+prefix+"ip="+e.IP,
		"--"+prefix+"port="+strconv.Itoa(e.Port))
}

// FailoverStatusArgs returns the arguments of master_ip_failover_script
// with --command=status, which `mha manager` (at start, and with
// --check_only) and `mha check-repl` run after the topology checks, as
// MHA's check_scripts does at monitor start and in masterha_check_repl:
//
//	--command=status --ssh_user=<u> --orig_master_host=<h>
//	--orig_master_ip=<ip> --orig_master_port=<p> [orig SSH extras]
//
// A non-zero exit fails the start-up ("Failed to get
// master_ip_failover_script status with return code H:L").
func FailoverStatusArgs(orig Endpoint) []string {
	args := []string{"--command=status", "--ssh_user=" + orig.SSHUser}
	args = masterArgs(args, "orig_master_", orig)
	return sshExtras(args, "--orig_master_", orig, true, true)
}

// FailoverStopArgs returns the arguments of master_ip_failover_script when
// the dead master is fenced (failover phase 2, MHA force_shutdown_internal):
//
//	--orig_master_host=<h> --orig_master_ip=<ip> --orig_master_port=<p>
//	--command=stopssh --ssh_user=<u>     (SSH to the dead master works)
//	--command=stop                       (it does not)
//	[orig SSH extras, option set by sshReachable]
//
// Exit 0 is success, 10 "Proceeding." with a warning, anything else aborts
// the failover ([Result.Proceed]).
func FailoverStopArgs(orig Endpoint, sshReachable bool) []string {
	args := masterArgs(nil, "orig_master_", orig)
	if sshReachable {
		args = append(args, "--command=stopssh", "--ssh_user="+orig.SSHUser)
	} else {
		args = append(args, "--command=stop")
	}
	return sshExtras(args, "--orig_master_", orig, true, sshReachable)
}

// FailoverStartArgs returns the arguments of the new master's
// master_ip_failover_script once it has applied all logs, before
// read_only=0 (MHA recover_master):
//
//	--command=start --ssh_user=<new ssh_user>
//	--orig_master_host --orig_master_ip --orig_master_port
//	--new_master_host --new_master_ip --new_master_port
//	--new_master_user=<Escape(user)> [orig SSH extras] [new SSH extras]
//	--new_master_password=<Escape(password)>
//
// The orig extras carry --ssh_options with the alive option set unless
// orig.SSHUnreachable; the new master never gets --ssh_options.
func FailoverStartArgs(orig, newm Endpoint) []string {
	args := []string{"--command=start", "--ssh_user=" + newm.SSHUser}
	args = masterArgs(args, "orig_master_", orig)
	args = masterArgs(args, "new_master_", newm)
	args = append(args, "--new_master_user="+Escape(newm.User))
	args = sshExtras(args, "--orig_master_", orig, true, !orig.SSHUnreachable)
	args = sshExtras(args, "--new_master_", newm, false, true)
	return append(args, "--new_master_password="+Escape(newm.Password))
}

// ShutdownStatusArgs returns the arguments of shutdown_script with
// --command=status, run where FailoverStatusArgs' call is (manager start,
// --check_only, check-repl; MHA check_scripts):
//
//	--command=status --ssh_user=<u> --host=<h> --ip=<ip> [SSH extras]
//
// with the SSH extras' plain prefix (--ssh_host, --ssh_ip, --ssh_port,
// --ssh_options). A non-zero exit fails the start-up.
func ShutdownStatusArgs(srv Endpoint) []string {
	args := []string{"--command=status", "--ssh_user=" + srv.SSHUser, "--host=" + srv.Host, "--ip=" + srv.IP}
	return sshExtras(args, "--", srv, true, true)
}

// ShutdownStopArgs returns the arguments of shutdown_script right after
// the IP stop hook in failover phase 2 (MHA force_shutdown_internal):
//
//	--command=stopssh --ssh_user=<u>  |  --command=stop
//	--host=<h> --ip=<ip> --port=<p> [--pid_file=<master_pid_file>]
//	[SSH extras, option set by sshReachable]
//
// pidFile is master_pid_file, "" when unset. Exit 0 means powered off:
// MHA then takes SSH as unreachable and saves no binlog; 10 means mysqld
// was stopped and SSH works; anything else aborts the failover.
func ShutdownStopArgs(srv Endpoint, sshReachable bool, pidFile string) []string {
	var args []string
	if sshReachable {
		args = append(args, "--command=stopssh", "--ssh_user="+srv.SSHUser)
	} else {
		args = append(args, "--command=stop")
	}
	args = append(args, "--host="+srv.Host, "--ip="+srv.IP, "--port="+strconv.Itoa(srv.Port))
	if pidFile != "" {
		args = append(args, "--pid_file="+pidFile)
	}
	return sshExtras(args, "--", srv, true, sshReachable)
}

// Report is what report_script is told at the end of a failover.
type Report struct {
	// OrigMasterHost is the dead master's hostname.
	OrigMasterHost string
	// NewMasterHost is the new master's hostname, "" unless the new master
	// was activated; NewSlaveHosts are the hostnames of the replicas
	// recovered successfully. Both are passed only when NewMasterHost is
	// set.
	NewMasterHost string
	NewSlaveHosts []string
	// Conf is the application configuration file (--conf).
	Conf string
	// Subject and Body are the report's mail subject and body (mha-compat
	// §4.3); the body has newlines.
	Subject, Body string
}

// ReportArgs returns the arguments of report_script (MHA send_report):
//
//	--orig_master_host=<h> [--new_master_host=<h> --new_slave_hosts=<a,b>]
//	--conf=<file> --subject=<subject> --body=<body>
//
// --new_slave_hosts is passed, possibly empty, whenever --new_master_host
// is. MHA puts subject and body in double quotes in its shell string, so a
// $, ` or \ in them would be interpreted; gomha passes them as they are.
func ReportArgs(r Report) []string {
	args := []string{"--orig_master_host=" + r.OrigMasterHost}
	if r.NewMasterHost != "" {
		args = append(args, "--new_master_host="+r.NewMasterHost, "--new_slave_hosts="+strings.Join(r.NewSlaveHosts, ","))
	}
	return append(args, "--conf="+r.Conf, "--subject="+r.Subject, "--body="+r.Body)
}

// SecondaryCheck is what secondary_check_script is told when the master
// stops answering.
type SecondaryCheck struct {
	// Master is the master being checked; its SSHUser, Host, IP, Port,
	// User, Password and SSHOptions are passed.
	Master Endpoint
	// PingType is ping_type (CONNECT, SELECT or INSERT).
	PingType string
}

// SecondaryCheckArgs returns the arguments of secondary_check_script
// (MHA HealthCheck::secondary_check), appended to the configured command
// (typically "masterha_secondary_check -s host2 -s host3"):
//
//	--user=<master ssh_user> --master_host=<h> --master_ip=<ip>
//	--master_port=<p> --master_user=<user> --master_password=<password>
//	--ping_type=<TYPE> [--options=<check SSH option set>]
//
// Unlike every other hook, MHA passes user and password unescaped and
// unquoted, so its shell splits them at blanks and expands $ and `;
// gomha passes each as one word, exactly as configured. --options is the
// check option set ([SSHOptionString] with reachable false), sent only
// when the master has ssh_options.
//
// --options replaces the checker's whole SSH option set. When the checker
// is named masterha_secondary_check (MHA's Perl script, or gomha under
// MHA's name), the set starts with "-o StrictHostKeyChecking=no" as MHA's
// did, unless ssh_options says StrictHostKeyChecking itself: without it
// MHA's script would verify the secondary hosts' keys, which are usually
// not in known_hosts, exit 2 and so keep the manager from ever failing
// over. `mha secondary-check` and a site's own script get gomha's set,
// which leaves host-key checking on.
func SecondaryCheckArgs(c SecondaryCheck) []string {
	m := c.Master
	args := []string{
		"--user=" + m.SSHUser,
		"--master_host=" + m.Host,
		"--master_ip=" + m.IP,
		"--master_port=" + strconv.Itoa(m.Port),
		"--master_user=" + m.User,
		"--master_password=" + m.Password,
		"--ping_type=" + c.PingType,
	}
	if opts := SSHOptionString(m, false); opts != "" {
		if IsMHASecondaryCheck(m.SecondaryCheckScript) && !strings.Contains(strings.ToLower(m.SSHOptions), "stricthostkeychecking") {
			opts = noStrictHostKeys + " " + opts
		}
		args = append(args, "--options="+opts)
	}
	return args
}

// noStrictHostKeys is the option MHA's SSH option sets start with (mha-compat
// §1: SSH_OPT_CHECK and SSH_OPT_ALIVE).
const noStrictHostKeys = "-o StrictHostKeyChecking=no"

// IsMHASecondaryCheck reports whether the secondary_check_script command
// runs a program named masterha_secondary_check: MHA's Perl script, or
// gomha's mha under MHA's name. It does not look at the file.
func IsMHASecondaryCheck(script string) bool {
	words, err := SplitCommand(script)
	if err != nil || len(words) == 0 {
		return false
	}
	return filepath.Base(words[0]) == "masterha_secondary_check"
}

// OnlineChange is one call of master_ip_online_change_script during an
// online switch.
type OnlineChange struct {
	// Command is "stop" (before the orig master is made read-only) or
	// "start" (MHA: after the new master caught up, before read_only=0 on
	// it; gomha: once it is writable, outside the write block).
	Command string
	// Orig is the current master, New the master being switched to.
	Orig, New Endpoint
	// OrigIsNewSlave is --orig_master_is_new_slave of the switch.
	OrigIsNewSlave bool
}

// OnlineChangeArgs returns the arguments of master_ip_online_change_script
// (MHA MasterRotate reject_update and switch_master), the same for stop
// and start:
//
//	--command=<stop|start>
//	--orig_master_host --orig_master_ip --orig_master_port
//	--orig_master_user=<Escape(user)>
//	--new_master_host --new_master_ip --new_master_port
//	--new_master_user=<Escape(user)>
//	--orig_master_ssh_user=<u> --new_master_ssh_user=<u>
//	[orig SSH extras, alive option set] [new SSH extras, no options]
//	[--orig_master_is_new_slave]
//	--orig_master_password=<Escape(pw)> --new_master_password=<Escape(pw)>
//
// MHA calls it only when the new master has the parameter set, runs the
// orig master's configured command for stop and the new master's for
// start; exit 0 is success, 10 "Proceeding.", anything else aborts.
func OnlineChangeArgs(c OnlineChange) []string {
	args := []string{"--command=" + c.Command}
	args = masterArgs(args, "orig_master_", c.Orig)
	args = append(args, "--orig_master_user="+Escape(c.Orig.User))
	args = masterArgs(args, "new_master_", c.New)
	args = append(args,
		"--new_master_user="+Escape(c.New.User),
		"--orig_master_ssh_user="+c.Orig.SSHUser,
		"--new_master_ssh_user="+c.New.SSHUser)
	args = sshExtras(args, "--orig_master_", c.Orig, true, true)
	args = sshExtras(args, "--new_master_", c.New, false, true)
	if c.OrigIsNewSlave {
		args = append(args, "--orig_master_is_new_slave")
	}
	return append(args,
		"--orig_master_password="+Escape(c.Orig.Password),
		"--new_master_password="+Escape(c.New.Password))
}
