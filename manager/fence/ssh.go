package fence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/node/watchdog"
)

// Host is the old master's host, logged in over SSH.
type Host interface {
	// SQL returns a session through the command-line client on the host.
	SQL() SQLSession
	// Inspect looks for mysqld: the pid file, the listener on port, and
	// what /proc says about them and about extra pids.
	Inspect(ctx context.Context, port int, pidFile string, extra []int) (Inspection, error)
	// Stop stops mysqld in one remote command, so that one round trip
	// does it and nothing in it can hang past its own bound: when t.Unit
	// is set, the unit's stop job without waiting for it (so that its
	// Restart= does not bring mysqld back); SIGKILL to the guard
	// (mysqld_safe), then to mysqld, each only if its pid still runs the
	// program of that name (a SIGSTOPped mysqld never handles the stop
	// job's SIGTERM); SIGKILL to what is left of the unit; a wait of at
	// most wait for them to be gone; then the proof: an inspection as
	// Inspect makes it, and the unit's state ("" without a unit).
	Stop(ctx context.Context, t Target, port int, pidFile string, wait time.Duration) (Inspection, string, error)
	// UnitState is `systemctl is-active` of the unit ("inactive",
	// "failed", "active"...).
	UnitState(ctx context.Context, unit string) (string, error)
	// Close logs out.
	Close() error
}

// SSHDialer logs in to the old master's host.
type SSHDialer interface {
	Dial(ctx context.Context) (Host, error)
}

// sshUnreachable reports whether a Dial error means the host did not
// answer (nothing ran there), as opposed to one that answered and refused
// the login (authentication, host key).
func sshUnreachable(err error) bool {
	return !errors.Is(err, sshexec.ErrAuth) && !errors.Is(err, sshexec.ErrHostKey)
}

// SSH is the [SSHDialer] over sshexec.
type SSH struct {
	// Target is how to log in.
	Target sshexec.Target
	// Local says how the client on the host reaches mysqld.
	Local LocalClient
	// StepTimeout bounds each remote command; 0 means 10 seconds.
	StepTimeout time.Duration
}

// LocalClient says how the mariadb/mysql client on the host connects to
// its mysqld, and as whom.
type LocalClient struct {
	// User and Password are the MySQL account. The password goes to the
	// client in an option file on its standard input, never in argv.
	User, Password string
	// Socket is the server's unix socket on the host; when "", the client
	// connects over TCP to Addr:Port.
	Socket string
	// Addr and Port are the server's address as seen on the host itself
	// (the manager's address of the master: over the host's own stack,
	// this works when only the manager's route to it is broken).
	Addr string
	Port int
	// Bindir is client_bindir: where mariadb or mysql is; "" searches
	// PATH.
	Bindir string
	// Timeout bounds each client run on the host (coreutils timeout -s
	// KILL) and, at most 2 s of it, its connect; 0 means 5 seconds. A hung
	// mysqld makes the client hang: this turns it into a failure.
	Timeout time.Duration
}

// Dial logs in.
func (d SSH) Dial(ctx context.Context) (Host, error) {
	c, err := sshexec.Dial(ctx, d.Target)
	if err != nil {
		return nil, err
	}
	step := d.StepTimeout
	if step <= 0 {
		step = 10 * time.Second
	}
	return &sshHost{r: clientRunner{c}, local: d.Local, step: step, close: c.Close}, nil
}

// runner runs one command on the host with an optional standard input and
// returns its standard output; a command that ran and failed returns an
// error (an *sshexec.ExitError with its standard error).
type runner interface {
	Run(ctx context.Context, argv []string, stdin io.Reader) (string, error)
}

type clientRunner struct{ c *sshexec.Client }

func (r clientRunner) Run(ctx context.Context, argv []string, stdin io.Reader) (string, error) {
	if stdin == nil {
		res, err := r.c.Run(ctx, argv)
		return string(res.Stdout), err
	}
	var stdout, stderr bytes.Buffer
	err := r.c.Stream(ctx, argv, stdin, &stdout, &stderr)
	var ee *sshexec.ExitError
	if errors.As(err, &ee) && ee.Stderr == nil {
		ee.Stderr = stderr.Bytes()
	}
	return stdout.String(), err
}

type sshHost struct {
	r     runner
	local LocalClient
	step  time.Duration
	close func() error
}

func (h *sshHost) run(ctx context.Context, argv []string, stdin io.Reader) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, h.step)
	defer cancel()
	return h.r.Run(ctx, argv, stdin)
}

func (h *sshHost) Close() error {
	if h.close == nil {
		return nil
	}
	return h.close()
}

func (h *sshHost) SQL() SQLSession { return &clientSession{h: h} }

func (h *sshHost) Inspect(ctx context.Context, port int, pidFile string, extra []int) (Inspection, error) {
	pids := make([]string, len(extra))
	for i, p := range extra {
		pids[i] = strconv.Itoa(p)
	}
	out, err := h.run(ctx, []string{"sh", "-c", inspectScript, "sh", strconv.Itoa(port), pidFile, strings.Join(pids, " ")}, nil)
	if err != nil {
		return Inspection{}, fmt.Errorf("inspect: %w", err)
	}
	return ParseInspection(out)
}

func (h *sshHost) UnitState(ctx context.Context, unit string) (string, error) {
	out, err := h.run(ctx, []string{"systemctl", "is-active", "--", unit}, nil)
	// is-active exits non-zero for every state but active; the state is
	// on standard output either way.
	state := strings.TrimSpace(out)
	var ee *sshexec.ExitError
	if err != nil && !(errors.As(err, &ee) && state != "") {
		return "", fmt.Errorf("systemctl is-active %s: %w", unit, err)
	}
	return state, nil
}

// stopScript is [Host.Stop]'s one remote command. Its arguments: $1 the
// unit ("" for none), $2 the wait in tenths of a second, $3 the port, $4
// the pid file, then pid:comm pairs, the guard first. Each systemctl call
// is bounded by coreutils timeout; a pid is signalled only while its
// /proc comm still matches (never a pid reused since the inspection).
// After the wait it goes on as [inspectScript] with the pids as extra
// ones, and ends with the unit's state.
const stopScript = `unit=$1 wait=$2 port=$3 pidfile=$4; shift 4
pids=
if [ -n "$unit" ]; then
  timeout -s KILL 2 systemctl stop --no-block -- "$unit" >/dev/null 2>&1 || echo "warn systemctl stop --no-block $unit failed"
fi
for a in "$@"; do
  pid=${a%%:*} comm=${a#*:}
  pids="$pids $pid"
  [ "$(cat /proc/$pid/comm 2>/dev/null)" = "$comm" ] && kill -KILL "$pid" && echo "killed $pid $comm"
done
if [ -n "$unit" ]; then
  timeout -s KILL 2 systemctl kill --signal=SIGKILL -- "$unit" >/dev/null 2>&1
fi
i=0
while [ "$i" -lt "$wait" ]; do
  left=
  for a in "$@"; do
    pid=${a%%:*} comm=${a#*:}
    st=$(sed 's/^.*) //' /proc/$pid/stat 2>/dev/null | cut -d' ' -f1)
    [ "$(cat /proc/$pid/comm 2>/dev/null)" = "$comm" ] && [ "$st" != Z ] && [ "$st" != X ] && left=1
  done
  [ -z "$left" ] && break
  sleep 0.1; i=$((i+1))
done
set -- "$port" "$pidfile" "$pids"
` + inspectScript + `[ -n "$unit" ] && echo "unitstate $(timeout -s KILL 2 systemctl is-active -- "$unit" 2>/dev/null)"
exit 0
`

// StopArgv is the argv of [Host.Stop] for t: the guard's pid:comm before
// mysqld's.
func StopArgv(t Target, port int, pidFile string, wait time.Duration) []string {
	tenths := max(int(wait/(100*time.Millisecond)), 0)
	argv := []string{"sh", "-c", stopScript, "sh", t.Unit, strconv.Itoa(tenths), strconv.Itoa(port), pidFile}
	if t.Guard > 0 {
		argv = append(argv, strconv.Itoa(t.Guard)+":"+t.GuardComm)
	}
	return append(argv, strconv.Itoa(t.PID)+":"+t.Comm)
}

// ParseStop reads [stopScript]'s output: the inspection and the unit's
// state.
func ParseStop(out string) (Inspection, string, error) {
	state := ""
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "unitstate "); ok {
			state = strings.TrimSpace(v)
		} else if line == "unitstate" {
			state = "unknown"
		}
	}
	in, err := ParseInspection(out)
	return in, state, err
}

func (h *sshHost) Stop(ctx context.Context, t Target, port int, pidFile string, wait time.Duration) (Inspection, string, error) {
	switch {
	case t.PID <= 0 || !watchdog.IsMySQLD(t.Comm):
		return Inspection{}, "", fmt.Errorf("refusing to kill pid %d (%q): not mysqld", t.PID, t.Comm)
	case t.Guard > 0 && !watchdog.IsGuard(t.GuardComm):
		return Inspection{}, "", fmt.Errorf("refusing to kill pid %d (%q): not a mysqld_safe guard", t.Guard, t.GuardComm)
	case t.Unit != "" && !watchdog.ServiceName(t.Unit):
		return Inspection{}, "", fmt.Errorf("refusing unit name %q", t.Unit)
	}
	out, err := h.run(ctx, StopArgv(t, port, pidFile, wait), nil)
	if err != nil {
		return Inspection{}, "", fmt.Errorf("stop %s pid %d: %w", t.Comm, t.PID, err)
	}
	return ParseStop(out)
}

// clientScript runs the mariadb client (MariaDB >= 10.4 installs it as
// mariadb; older ones and MySQL as mysql) from client_bindir or PATH, bounded
// by coreutils timeout. $1 is the bindir, $2 the timeout in seconds; the
// client's own arguments follow.
const clientScript = `b=$1 t=$2; shift 2
for c in "${b:+$b/}mariadb" "${b:+$b/}mysql" mariadb mysql; do
  if command -v "$c" >/dev/null 2>&1; then exec timeout -s KILL "$t" "$c" "$@"; fi
done
echo "no mariadb or mysql client${b:+ in $b} or PATH" >&2
exit 127`

// ClientArgv is the argv that runs sql through the client on the host. The
// client reads the account from an option file on its standard input
// ([OptionFile]): the password is never in argv. force keeps going after a
// failed statement (for KILL lists).
func ClientArgv(l LocalClient, sql string, force bool) []string {
	timeout := l.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	secs := max(1, int(timeout.Round(time.Second)/time.Second))
	argv := []string{"sh", "-c", clientScript, "sh", l.Bindir, strconv.Itoa(secs),
		// Must be the first option.
		"--defaults-extra-file=/dev/stdin",
		"--connect-timeout=" + strconv.Itoa(min(secs, 2)),
		"--batch", "--skip-column-names"}
	if force {
		argv = append(argv, "--force")
	}
	if l.Socket != "" {
		argv = append(argv, "--protocol=SOCKET", "--socket="+l.Socket)
	} else {
		port := l.Port
		if port == 0 {
			port = 3306
		}
		argv = append(argv, "--protocol=TCP", "--host="+l.Addr, "--port="+strconv.Itoa(port))
	}
	return append(argv, "--execute="+sql)
}

// OptionFile renders the account as a [client] option file for the
// client's --defaults-extra-file. Values are double-quoted with the option
// file's escapes (\\, \", \n, \r, \t), so '#', ';', blanks and quotes in a
// password survive.
func OptionFile(user, password string) string {
	return "[client]\nuser=" + optionValue(user) + "\npassword=" + optionValue(password) + "\n"
}

func optionValue(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// clientSession is an [SQLSession] through the client on the host: each
// call is one client run (one server session), so the session setup is sent
// with every batch.
type clientSession struct{ h *sshHost }

func (s *clientSession) batch(ctx context.Context, stmts []string, force bool) (string, error) {
	all := append(append([]string{}, sessionSetup...), stmts...)
	sql := strings.Join(all, ";\n") + ";"
	out, err := s.h.run(ctx, ClientArgv(s.h.local, sql, force), strings.NewReader(OptionFile(s.h.local.User, s.h.local.Password)))
	if err != nil {
		var ee *sshexec.ExitError
		if errors.As(err, &ee) {
			if ce := parseClientError(string(ee.Stderr)); ce != nil && !force {
				return out, fmt.Errorf("%w (%v)", ce, err)
			}
			if ee.Code == 128+9 || ee.Signal == "KILL" {
				return out, fmt.Errorf("%w: no answer from mysqld within the client timeout: %v", ErrLocalHung, err)
			}
		}
		return out, err
	}
	return out, nil
}

func (s *clientSession) Version(ctx context.Context) (mysqlx.Version, error) {
	v, err := s.Value(ctx, "SELECT CONCAT(@@version, ' ', @@version_comment)")
	if err != nil {
		return mysqlx.Version{}, err
	}
	return mysqlx.ParseVersion(v)
}

func (s *clientSession) Exec(ctx context.Context, stmts ...string) error {
	_, err := s.batch(ctx, stmts, false)
	return err
}

func (s *clientSession) Kill(ctx context.Context, ids []uint64) error {
	if len(ids) == 0 {
		return nil
	}
	stmts := make([]string, len(ids))
	for i, id := range ids {
		stmts[i] = "KILL CONNECTION " + strconv.FormatUint(id, 10)
	}
	// --force: a connection gone meanwhile (1094) does not stop the rest;
	// what is left is checked by listing again.
	_, err := s.batch(ctx, stmts, true)
	var ee *sshexec.ExitError
	if errors.As(err, &ee) && ee.Code == 1 {
		return nil
	}
	return err
}

func (s *clientSession) Value(ctx context.Context, q string) (string, error) {
	out, err := s.batch(ctx, []string{q}, false)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(out, "\n")
	if line == "NULL" {
		return "", nil
	}
	return line, nil
}

func (s *clientSession) Close() error { return nil }
