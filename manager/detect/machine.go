package detect

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/node/binlog"
)

// DefaultThreshold is how many consecutive counted failures (failed pings
// and failed connects) make the master a suspect: MHA's 4.
const DefaultThreshold = 4

// State is the monitor's view of the master's health, which the daemon maps
// to the health file's 0:PING_OK, 20:PING_FAILING and 21:PING_FAILED.
type State int

// Health states.
const (
	// StatePingOK: the last ping worked.
	StatePingOK State = iota
	// StatePingFailing: pings fail (or the server refuses sessions) but the
	// master is not confirmed dead.
	StatePingFailing
	// StatePingFailed: the master is confirmed dead.
	StatePingFailed
)

// String names the state as MHA's health file does.
func (s State) String() string {
	switch s {
	case StatePingOK:
		return "PING_OK"
	case StatePingFailing:
		return "PING_FAILING"
	case StatePingFailed:
		return "PING_FAILED"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// PingResult is the outcome of one ping or connect attempt.
type PingResult struct {
	// OK is true when the ping (or connect) worked.
	OK bool
	// Errno is the MySQL error number of a failure, 0 when there is none
	// (network error, timeout).
	Errno uint16
	// Timeout is true when the attempt ran into its deadline (ping_interval).
	Timeout bool
	// Err describes the failure for the log; never a password.
	Err string
	// At is when the result came in, on a monotonic clock whose origin does
	// not matter (the monitor's start): the machine measures how long the
	// master has been failing from it (RestartWindow).
	At time.Duration
}

// Reach is what a probe from another host (a replica's) to the master's
// port said: whether the server sent its greeting within the deadline.
type Reach int

// Probe outcomes (GreetingProbeReach reads them from the probe's output).
const (
	// ReachUnknown: the probe did not run or could not tell (SSH to the
	// host failed, bash, timeout, head or od missing there, the name did
	// not resolve).
	ReachUnknown Reach = iota
	// ReachAnswers: the server sent bytes within the deadline, a handshake
	// packet or an error packet (1040 too many connections, 1129 host
	// blocked...): mysqld runs.
	ReachAnswers
	// ReachRefused: the connect was refused (or the connection was closed
	// before any byte came): the host's kernel answers, nothing serves the
	// port. mysqld is down.
	ReachRefused
	// ReachUnreachable: no route to the host (it does not answer ARP or a
	// router says so): the host is down or cut off.
	ReachUnreachable
	// ReachSilent: the connect did not complete within the deadline
	// (packets dropped): the host is down or the network is cut.
	ReachSilent
	// ReachHung: the connect worked but no greeting came within the
	// deadline: the kernel accepts for a mysqld that does not run (SIGSTOP,
	// stuck I/O). Counts as dead once the deadline has passed.
	ReachHung
)

// String names the outcome.
func (r Reach) String() string {
	switch r {
	case ReachAnswers:
		return "answers"
	case ReachRefused:
		return "refused"
	case ReachUnreachable:
		return "unreachable"
	case ReachSilent:
		return "silent"
	case ReachHung:
		return "hung"
	}
	return "unknown"
}

// Dead reports whether the outcome is evidence that the master does not
// serve: refused, unreachable, silent or hung.
func (r Reach) Dead() bool {
	return r == ReachRefused || r == ReachUnreachable || r == ReachSilent || r == ReachHung
}

// ReplicaProbe is what one replica host told about the master during a
// confirmation: its replication IO thread, sampled twice over SQL, and the
// greeting probe from its host to the master's ip:port over SSH.
type ReplicaProbe struct {
	// Name identifies the replica in evidence lines, e.g.
	// "db2(198.18.1.12:3306)".
	Name string
	// SQLErr is why the replica did not answer SQL; "" when it did.
	SQLErr string
	// Replicating is true when the replica's source is the monitored
	// master (SHOW SLAVE STATUS Master_Host/Master_Port).
	Replicating bool
	// IO is the IO thread's state at the last sample.
	IO mysqlx.IOThread
	// IOErrno and IOError are Last_IO_Errno and Last_IO_Error.
	IOErrno int
	IOError string
	// ReadBefore and ReadAfter are the source position the IO thread had
	// received up to (Master_Log_File, Read_Master_Log_Pos) at the first and
	// at the second sample; ReadBefore is zero when only one sample was
	// taken. An IO thread that is running and whose position advanced
	// between them proves the master alive and writing.
	ReadBefore, ReadAfter binlog.Pos
	// SSHErr is why the manager could not run the greeting probe on the
	// host over SSH; "" when it ran.
	SSHErr string
	// Reach is the greeting probe's outcome, ReachDetail its explanation
	// ("greeting read", "error packet 1040", "no greeting within 2s
	// (hung?)", "Connection refused").
	Reach       Reach
	ReachDetail string
}

// Advanced reports whether the IO thread's read position moved forward
// between the two samples. Positions that cannot be ordered (no second
// sample, different binlog base names) did not advance.
func (p ReplicaProbe) Advanced() bool {
	if p.ReadBefore.IsZero() || p.ReadAfter.IsZero() {
		return false
	}
	c, err := binlog.Compare(p.ReadBefore, p.ReadAfter)
	return err == nil && c < 0
}

// Vote is what one replica's evidence says about the master.
type Vote int

// Votes.
const (
	// VoteNone: the replica gave no usable evidence (unreachable, or not
	// replicating from this master and no greeting probe).
	VoteNone Vote = iota
	// VoteAlive: the master is still reachable from the replica.
	VoteAlive
	// VoteDead: the replica cannot reach the master either.
	VoteDead
)

// Judge turns one replica's evidence into a vote and an evidence line.
//
// The rules, first match wins:
//
//	IO thread Yes and its read position advanced between the samples -> alive
//	    (the master sends events: it runs, whatever any probe says; a manager
//	    whose own probe fails is the one cut off)
//	greeting probe: the server answered (greeting or error packet)    -> alive
//	greeting probe: refused, unreachable, silent or hung               -> dead
//	    (an IO thread that says Yes without advancing is stale: on a
//	    silent connection it notices only after slave_net_timeout, 60 s by
//	    default on MariaDB 10.x and MySQL >= 5.7.7)
//	no probe result: IO thread Yes -> alive; Connecting or No -> dead
//	otherwise (no SQL answer, another source)                          -> no evidence
func Judge(p ReplicaProbe) (Vote, string) {
	var io string
	switch {
	case p.SQLErr != "":
		io = "no SQL answer (" + p.SQLErr + ")"
	case !p.Replicating:
		io = "does not replicate from this master"
	default:
		io = "IO thread " + p.IO.String()
		if p.IOErrno != 0 {
			io += fmt.Sprintf(" (error %d: %s)", p.IOErrno, p.IOError)
		}
		switch {
		case p.Advanced():
			io += fmt.Sprintf(", read position advanced %s -> %s", p.ReadBefore, p.ReadAfter)
		case !p.ReadBefore.IsZero():
			io += ", read position still " + p.ReadAfter.String()
		}
	}
	var probe string
	switch {
	case p.SSHErr != "":
		probe = "greeting probe not run: " + p.SSHErr
	case p.Reach == ReachAnswers:
		probe = "the master's port answers"
	case p.Reach == ReachRefused:
		probe = "the master's port refuses"
	case p.Reach == ReachUnreachable:
		probe = "no route to the master"
	case p.Reach == ReachSilent:
		probe = "the master's port is silent"
	case p.Reach == ReachHung:
		probe = "the master's port accepts but sends nothing"
	default:
		probe = "greeting probe inconclusive"
	}
	if p.ReachDetail != "" {
		probe += " (" + p.ReachDetail + ")"
	}
	line := p.Name + ": " + probe + "; " + io
	ioOK := p.SQLErr == "" && p.Replicating
	switch {
	case ioOK && p.IO.Connected() && p.Advanced():
		return VoteAlive, line + " => master alive (replicating)"
	case p.Reach == ReachAnswers:
		return VoteAlive, line + " => master alive"
	case p.Reach.Dead():
		return VoteDead, line + " => master " + deadWord(p.Reach)
	case ioOK && p.IO.Connected():
		return VoteAlive, line + " => master alive"
	case ioOK && answeredErrno(p.IOErrno):
		return VoteAlive, line + " => master alive (it answered the IO thread with an error)"
	case ioOK:
		return VoteDead, line + " => master unreachable"
	}
	return VoteNone, line + " => no evidence"
}

// answeredErrno reports whether an IO thread's last error is one only a
// running master sends (it read the greeting and refused the login), so a
// replica stuck on it is no witness of the master's death: access denied
// (1045), host not allowed (1130), host blocked (1129), too many
// connections (1040, 1203). A greeting probe that finds the port dead
// still wins: the error stays until the IO thread's next retry.
func answeredErrno(errno int) bool {
	switch errno {
	case 1040, 1045, 1129, 1130, 1203:
		return true
	}
	return false
}

// allSilent reports whether every replica that votes dead found the
// master's port silent or unreachable.
func allSilent(probes []ReplicaProbe) bool {
	for _, p := range probes {
		if v, _ := Judge(p); v == VoteDead && p.Reach != ReachSilent && p.Reach != ReachUnreachable {
			return false
		}
	}
	return true
}

func deadWord(r Reach) string {
	if r == ReachHung {
		return "hung"
	}
	return "unreachable"
}

// FailureKind says how a master confirmed dead looked from the replicas'
// hosts, for the fencing step.
type FailureKind int

// Failure kinds.
const (
	// FailureUnknown: no greeting probe said (no replicas, SSH to them
	// failed, only IO threads spoke).
	FailureUnknown FailureKind = iota
	// FailureRefused: the master's host answers but its port refuses:
	// mysqld is down, the host is up (SSH usually works).
	FailureRefused
	// FailureHung: the master's port accepts connections but mysqld sends
	// no greeting: the process exists and hangs (SIGSTOP, stuck I/O). It
	// may resume and take writes: fence it (kill it, power it off).
	FailureHung
	// FailureSilent: the master's port is silent or there is no route to
	// it: the host is down or cut off, and it may still run behind the
	// cut.
	FailureSilent
)

// String names the kind.
func (k FailureKind) String() string {
	switch k {
	case FailureRefused:
		return "refused"
	case FailureHung:
		return "hung"
	case FailureSilent:
		return "silent"
	}
	return "unknown"
}

// failureOf is the kind of the dead votes' probe outcomes: hung when any
// replica saw the port accept without a greeting (the process is there),
// else refused when any saw a refusal (the host is up), else silent.
func failureOf(probes []ReplicaProbe) FailureKind {
	var hung, refused, silent bool
	for _, p := range probes {
		if v, _ := Judge(p); v != VoteDead {
			continue
		}
		switch p.Reach {
		case ReachHung:
			hung = true
		case ReachRefused:
			refused = true
		case ReachSilent, ReachUnreachable:
			silent = true
		}
	}
	switch {
	case hung:
		return FailureHung
	case refused:
		return FailureRefused
	case silent:
		return FailureSilent
	}
	return FailureUnknown
}

// BuiltIn is the built-in confirmation's decision over all replicas:
// dead only when at least one replica votes dead and none votes alive. No
// vote at all (every replica unreachable: the manager is the one cut off)
// is not dead. kind says how the master failed when dead.
func BuiltIn(probes []ReplicaProbe) (dead bool, kind FailureKind, evidence []string) {
	var alive, deadVotes int
	for _, p := range probes {
		v, line := Judge(p)
		evidence = append(evidence, line)
		switch v {
		case VoteAlive:
			alive++
		case VoteDead:
			deadVotes++
		}
	}
	switch {
	case alive > 0:
		evidence = append(evidence, fmt.Sprintf("%d of %d replicas say the master is alive: the trouble is on the manager's side (its link to the master, or a busy master)", alive, len(probes)))
		return false, FailureUnknown, evidence
	case deadVotes == 0:
		evidence = append(evidence, fmt.Sprintf("none of %d replicas could be asked: the manager itself looks cut off, refusing to declare the master dead", len(probes)))
		return false, FailureUnknown, evidence
	}
	kind = failureOf(probes)
	msg := fmt.Sprintf("%d of %d replicas cannot reach the master either", deadVotes, len(probes))
	if n := len(probes) - deadVotes; n > 0 {
		msg += fmt.Sprintf(" (%d gave no evidence)", n)
	}
	if kind != FailureUnknown {
		msg += ", seen as " + kind.String()
	}
	return true, kind, append(evidence, msg)
}

// SecondaryVerdict explains a secondary_check_script exit code the way MHA
// does; only 0 confirms that the master is dead.
func SecondaryVerdict(code int) (confirmed bool, msg string) {
	switch code {
	case 0:
		return true, "Master is not reachable from all other monitoring servers. Failover should start."
	case 2:
		return false, "At least one of monitoring servers is not reachable from this script. This is likely a network problem. Failover should not happen."
	case 3:
		return false, "Master is reachable from at least one of other monitoring servers. Failover should not happen."
	}
	return false, fmt.Sprintf("Got unknown error from secondary_check_script (exit %d). Failover should not happen.", code)
}

// MachineConfig shapes a Machine.
type MachineConfig struct {
	// Threshold is the number of consecutive counted failures after which
	// the confirmation is consulted; 0 means DefaultThreshold.
	Threshold int
	// Secondary is true when secondary_check_script is configured: its exit
	// 0 is then required too.
	Secondary bool
	// BuiltIn is true when there are replicas to ask (the built-in
	// evidence); false skips it.
	BuiltIn bool
	// PingInterval is ping_interval, which sizes RestartWindow; 0 means
	// DefaultPingInterval.
	PingInterval time.Duration
}

// RestartFactor and MinRestartWindow size RestartWindow.
const (
	RestartFactor    = 3
	MinRestartWindow = 3 * time.Second
)

// RestartWindow is how long a master whose port refuses (or of which no
// greeting probe could say how it failed) must have kept failing, from the
// first failure to the latest failed ping, before it is declared dead:
// RestartFactor × ping_interval, at least MinRestartWindow. A restart
// (`systemctl restart mariadb`: the server closes its sessions, the port
// refuses, then answers again) looks exactly like a kill -9 from every
// host, and only time tells them apart: on Debian a restart of an idle
// MariaDB takes 1 to 3 s. MHA, which pings 4 times at ping_interval before
// it decides, waits about 3 × ping_interval; gomha retries a failing
// master every ping_interval/4, so without the window four refused
// connects would come within one ping_interval. A restart that takes
// longer than the window (a shutdown flushing a large buffer pool) is a
// failover: stop the manager first (`mha stop`), as with MHA.
//
// A hung port (accepts, no greeting) or a silent one (no answer) is no
// restart: their pings run into ping_interval each, and they are decided
// without the window (see restartLike). Nor is a master whose host has no
// server process left (ProcessAbsent: the SSH check worked and found no
// mysqld, mariadbd or guard in the host's network namespace, and systemd,
// when there, is not starting one): a kill -9 without a supervisor is
// decided as soon as the evidence allows.
func RestartWindow(interval time.Duration) time.Duration {
	if interval <= 0 {
		interval = DefaultPingInterval
	}
	return max(RestartFactor*interval, MinRestartWindow)
}

// restartLike reports whether a failure may be a restart in progress, so
// that RestartWindow applies: the replicas found the port refusing, or no
// probe said how the master failed (without replicas the pings alone
// decide) and the manager's own last attempt failed at once (refused, lost
// connection) rather than running into its deadline, which a restarting
// server does not make it do. The master's host decides last: with SSH
// working and no server process there (ProcessAbsent) nothing is
// restarting; a process there or no answer (ProcessPresent,
// ProcessUnknown) leaves a restart possible.
func restartLike(k FailureKind, timedOut bool, host MasterHost) bool {
	if host.SSH && host.Process == ProcessAbsent {
		return false
	}
	return k == FailureRefused || (k == FailureUnknown && !timedOut)
}

// ActionKind says what an Action asks the I/O loop to do.
type ActionKind int

// Action kinds.
const (
	// ActPing: ping the master now; Reconnect says a new session is needed
	// first.
	ActPing ActionKind = iota
	// ActSetState: report State (the health file). Sent on every change and
	// on every successful ping.
	ActSetState
	// ActStartConfirm: start confirmation Episode in the background: probe
	// the replicas, run secondary_check_script, test SSH to the master, and
	// feed each result back tagged with Episode.
	ActStartConfirm
	// ActCancelConfirm: stop confirmation Episode; its results are ignored.
	ActCancelConfirm
	// ActDeclareDead: the master is confirmed dead (Evidence, SSH). The
	// machine accepts no more input.
	ActDeclareDead
	// ActLog: log Msg at Level.
	ActLog
)

// Action is one thing the machine asks for.
type Action struct {
	Kind      ActionKind
	Reconnect bool       // ActPing
	State     State      // ActSetState
	Episode   int        // ActStartConfirm, ActCancelConfirm
	Level     slog.Level // ActLog
	Msg       string     // ActLog
	// Evidence, SSH (what the SSH check on the master host found), Failure
	// and Probes come with ActDeclareDead.
	Evidence []string
	SSH      sshexec.Reach
	Failure  FailureKind
	// Probes are the replica probes the verdict rests on (ActDeclareDead;
	// nil without built-in evidence).
	Probes []ReplicaProbe
}

// String renders the action on one line, as the scenario files spell it.
func (a Action) String() string {
	switch a.Kind {
	case ActPing:
		if a.Reconnect {
			return "connect"
		}
		return "ping"
	case ActSetState:
		return "state " + a.State.String()
	case ActStartConfirm:
		return fmt.Sprintf("start-confirm %d", a.Episode)
	case ActCancelConfirm:
		return fmt.Sprintf("cancel-confirm %d", a.Episode)
	case ActDeclareDead:
		return fmt.Sprintf("dead ssh=%d kind=%s\n  %s", a.SSH.MHA(), a.Failure, strings.Join(a.Evidence, "\n  "))
	case ActLog:
		return "log " + strings.ToLower(a.Level.String()) + ": " + a.Msg
	}
	return fmt.Sprintf("Action(%d)", int(a.Kind))
}

// Machine decides when the master is dead. It does no I/O: the monitor
// feeds it ticks and the results of what it asked for, and executes the
// actions it returns. It is not safe for concurrent use.
//
// The rules are MHA's (mha-compat §5.2, §5.3) with two changes:
//   - An error from the "alive" list (mysqlx.IsAliveErrno: too many
//     connections, access denied, host blocked...) never counts as a
//     failure, on a connect or on a ping, and it resets the failure count:
//     the server answered, so it runs. MHA only skipped the count on
//     connects.
//   - Besides secondary_check_script, the master must be unreachable from
//     the replicas (BuiltIn).
//
// At the first counted failure of an episode the confirmation starts in
// the background; from the Threshold-th consecutive counted failure on, the
// machine waits for all of its parts and then decides: confirmed -> dead;
// not confirmed -> the failure count is reset and monitoring goes on (the
// next failure starts a new confirmation). A successful ping at any time
// cancels the confirmation. A confirmed death that may be a restart (the
// port refuses, and the master's host is not known to have no server
// process left: MasterHost) is declared only once the pings have failed
// for RestartWindow (measured on PingResult.At).
type Machine struct {
	cfg       MachineConfig
	connected bool
	failures  int
	state     State
	known     bool // state has been reported once
	dead      bool

	// firstAt is the At of the episode's first counted failure, lastAt
	// that of the latest ping result; timedOut says the latest counted
	// failure ran into its deadline.
	firstAt, lastAt time.Duration
	timedOut        bool

	episode    int
	confirming bool
	replicas   []ReplicaProbe
	gotRepl    bool
	secCode    int
	secErr     string
	gotSec     bool
	ssh        sshexec.Reach
	host       MasterHost
	gotSSH     bool
	// waitLogged: the wait for RestartWindow was logged in this episode.
	waitLogged bool
}

// NewMachine returns a machine that has no session yet: its first tick asks
// for a connect.
func NewMachine(cfg MachineConfig) *Machine {
	if cfg.Threshold <= 0 {
		cfg.Threshold = DefaultThreshold
	}
	return &Machine{cfg: cfg}
}

// Failures returns the current count of consecutive counted failures.
func (m *Machine) Failures() int { return m.failures }

// Dead reports whether the master has been declared dead.
func (m *Machine) Dead() bool { return m.dead }

// Tick is the ping_interval timer: it asks for a ping (or a connect when
// there is no session).
func (m *Machine) Tick() []Action {
	if m.dead {
		return nil
	}
	return []Action{{Kind: ActPing, Reconnect: !m.connected}}
}

func (m *Machine) setState(s State) []Action {
	if m.known && m.state == s && s != StatePingOK {
		return nil
	}
	m.state, m.known = s, true
	return []Action{{Kind: ActSetState, State: s}}
}

func logf(level slog.Level, format string, args ...any) Action {
	return Action{Kind: ActLog, Level: level, Msg: fmt.Sprintf(format, args...)}
}

// cancel abandons the running confirmation, if any.
func (m *Machine) cancel(why string) []Action {
	if !m.confirming {
		return nil
	}
	m.confirming = false
	return []Action{
		{Kind: ActCancelConfirm, Episode: m.episode},
		logf(slog.LevelInfo, "%s; confirmation %d abandoned.", why, m.episode),
	}
}

// Ping feeds the result of the ping or connect the last Tick asked for.
func (m *Machine) Ping(r PingResult) []Action {
	if m.dead {
		return nil
	}
	wasConnect := !m.connected
	m.lastAt = max(m.lastAt, r.At)
	var acts []Action
	switch {
	case r.OK:
		m.connected = true
		if m.failures > 0 {
			acts = append(acts, logf(slog.LevelInfo, "Ping to the master works again after %d failure(s).", m.failures))
		}
		m.failures = 0
		acts = append(acts, m.cancel("Master answers again")...)
		return append(acts, m.setState(StatePingOK)...)
	case mysqlx.IsAliveErrno(r.Errno):
		m.connected = false
		acts = append(acts, logf(slog.LevelWarn, "Got MySQL error %d, but this is not a MySQL crash. Continue health check.. (%s)", r.Errno, r.Err))
		if m.failures > 0 {
			acts = append(acts, logf(slog.LevelInfo, "The master answered: failure count %d reset.", m.failures))
			m.failures = 0
		}
		acts = append(acts, m.cancel("The master answered")...)
		return append(acts, m.setState(StatePingFailing)...)
	}
	m.connected = false
	if m.failures == 0 {
		m.firstAt = m.lastAt
	}
	m.failures++
	m.timedOut = r.Timeout
	what := "Got error on MySQL ping"
	if wasConnect {
		what = "Got error on MySQL connect"
	}
	if r.Timeout {
		what += " (timed out)"
	}
	acts = append(acts, logf(slog.LevelWarn, "%s: %s", what, r.Err))
	if wasConnect {
		acts = append(acts, logf(slog.LevelWarn, "Connection failed %d time(s)..", m.failures))
	}
	acts = append(acts, m.setState(StatePingFailing)...)
	if !m.confirming {
		m.episode++
		m.confirming = true
		m.replicas, m.gotRepl = nil, false
		m.secCode, m.secErr, m.gotSec = 0, "", false
		m.ssh, m.host, m.gotSSH = sshexec.ReachUnknown, MasterHost{}, false
		m.waitLogged = false
		acts = append(acts, Action{Kind: ActStartConfirm, Episode: m.episode})
	}
	return append(acts, m.decide()...)
}

// Replicas feeds the replica probes of confirmation episode.
func (m *Machine) Replicas(episode int, probes []ReplicaProbe) []Action {
	if !m.current(episode) {
		return nil
	}
	m.replicas, m.gotRepl = probes, true
	return m.decide()
}

// Secondary feeds secondary_check_script's exit code for episode; errText
// is set (and code ignored) when the script could not be run.
func (m *Machine) Secondary(episode, code int, errText string) []Action {
	if !m.current(episode) {
		return nil
	}
	m.secCode, m.secErr, m.gotSec = code, errText, true
	return m.decide()
}

// SSH feeds the result of the SSH check on the master host for episode:
// whether its command ran there, and whether the server's process is
// there (MasterHostOf).
func (m *Machine) SSH(episode int, h MasterHost) []Action {
	if !m.current(episode) {
		return nil
	}
	m.ssh, m.host, m.gotSSH = sshexec.ReachOf(h.SSH), h, true
	return m.decide()
}

func (m *Machine) current(episode int) bool {
	return !m.dead && m.confirming && episode == m.episode
}

// EarlyFailures is the failure count at which a conclusive built-in
// evidence (Conclusive) decides without waiting for Threshold.
const EarlyFailures = 2

// Conclusive reports whether the replicas' evidence leaves no doubt: at
// least one replica was asked and every one of them votes dead on a
// greeting probe that ran from its host (an IO thread's state alone, such
// as a DBA's STOP SLAVE, is not enough to decide early).
func Conclusive(probes []ReplicaProbe) bool {
	if len(probes) == 0 {
		return false
	}
	for _, p := range probes {
		if v, _ := Judge(p); v != VoteDead || p.SSHErr != "" || !p.Reach.Dead() {
			return false
		}
	}
	return true
}

// decide concludes the confirmation once every part of it is in and the
// failure count has reached the threshold, or EarlyFailures when the
// replicas' evidence is conclusive (every replica votes dead: a blip on
// the manager's side cannot make its replicas' hosts fail their probes
// too) and secondary_check_script, when set, confirms as well; a
// confirmation that would say "not dead" waits for the threshold, as
// before. A "dead" that may be a restart (restartLike: refused or
// unexplained, and the master's host not known to have no server process)
// also waits until the pings have failed for RestartWindow. The SSH check
// on the master is not waited for when every dead vote found its host
// silent or unreachable: SSH to a host that drops the replicas' packets
// would only run into its connect timeout.
func (m *Machine) decide() []Action {
	if !m.confirming {
		return nil
	}
	if (m.cfg.BuiltIn && !m.gotRepl) || (m.cfg.Secondary && !m.gotSec) {
		return nil
	}
	early := m.cfg.BuiltIn && Conclusive(m.replicas) && m.failures >= EarlyFailures
	if early && m.cfg.Secondary && m.secErr == "" {
		early, _ = SecondaryVerdict(m.secCode)
	} else if m.cfg.Secondary {
		early = false
	}
	if m.failures < m.cfg.Threshold && !early {
		return nil
	}
	var evidence []string
	confirmed := true
	kind := FailureUnknown
	var probes []ReplicaProbe
	if m.cfg.BuiltIn {
		probes = m.replicas
		dead, k, ev := BuiltIn(m.replicas)
		kind = k
		evidence = append(evidence, ev...)
		confirmed = dead
	} else {
		evidence = append(evidence, "no replicas to ask: built-in evidence skipped")
	}

	if !m.gotSSH {
		if !(confirmed && kind == FailureSilent && allSilent(m.replicas)) {
			return nil
		}
		// Unknown, not unreachable: the failover checks SSH itself before
		// it relies on it (a DB network down with SSH on another one must
		// still get the dead master's binlog saved and fencing over SSH).
		m.ssh = sshexec.ReachUnknown
		evidence = append(evidence, "SSH check on the master not waited for: every replica finds its host silent or unreachable (the failover checks SSH itself)")
	}
	if m.failures < m.cfg.Threshold {
		evidence = append(evidence, fmt.Sprintf("decided after %d failures (not %d): every replica's evidence says dead", m.failures, m.cfg.Threshold))
	}
	if m.cfg.Secondary {
		ok, msg := SecondaryVerdict(m.secCode)
		if m.secErr != "" {
			ok, msg = false, "could not run: "+m.secErr+". Failover should not happen."
		}
		evidence = append(evidence, "secondary_check_script: "+msg)
		confirmed = confirmed && ok
	}
	switch {
	case !confirmed:
	case restartLike(kind, m.timedOut, m.host):
		window := RestartWindow(m.cfg.PingInterval)
		failing := m.lastAt - m.firstAt
		if failing < window {
			// Maybe a restart: wait until the pings have failed for the
			// whole window (the next failed ping decides again; one
			// that works cancels the confirmation).
			if m.waitLogged {
				return nil
			}
			m.waitLogged = true
			return []Action{logf(slog.LevelInfo, "%s: waiting out the restart window (%s) before declaring the master dead.",
				m.host.evidence(), window)}
		}
		evidence = append(evidence, m.host.evidence()+": waited out the restart window",
			fmt.Sprintf("failing for %s since the first failure (at least %s: not a restart)", failing.Round(time.Millisecond), window))
	case restartLike(kind, m.timedOut, MasterHost{}):
		// A restart but for the master's host, which has no server
		// process left.
		evidence = append(evidence, m.host.evidence()+": not a restart")
	}
	switch {
	case m.ssh == sshexec.Reachable:
		evidence = append(evidence, "SSH to the master host works")
	case m.ssh == sshexec.Unreachable && m.gotSSH:
		evidence = append(evidence, "SSH to the master host fails")
	}
	m.confirming = false
	if confirmed {
		m.dead = true
		acts := []Action{logf(slog.LevelWarn, "Master is not reachable from health checker! (%d consecutive failures, confirmed)", m.failures)}
		acts = append(acts, m.setState(StatePingFailed)...)
		return append(acts, Action{Kind: ActDeclareDead, Evidence: evidence, SSH: m.ssh, Failure: kind, Probes: probes})
	}
	acts := []Action{logf(slog.LevelWarn, "Master is not confirmed dead after %d failures; failure count reset, monitoring continues. Evidence:\n  %s",
		m.failures, strings.Join(evidence, "\n  "))}
	m.failures = 0
	return acts
}
