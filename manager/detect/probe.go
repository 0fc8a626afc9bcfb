package detect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/sshexec"
)

// ProbeTimeout is the greeting probe's deadline: a replica host must
// connect to the master and read the first bytes of its greeting within it
// (a dead host's port stays silent, a dead mysqld's port refuses at once, a
// hung mysqld's port accepts and sends nothing). MySQL and MariaDB resolve
// the client's address before they send the greeting: with
// skip_name_resolve off and a slow DNS the greeting can come late and the
// server look hung from there. Such a master still streams events to its
// connected replicas, and an IO thread whose position advances outweighs
// the probe (Judge).
const ProbeTimeout = 2 * time.Second

// MinProbeTimeout is the shortest greeting probe deadline (GreetingTimeout).
// It must outlast TCP's first SYN retransmission (1 s after a SYN that was
// dropped, which a listening socket of a mysqld being killed does): one
// lost packet must not make a refusing port look silent.
const MinProbeTimeout = 1500 * time.Millisecond

// GreetingTimeout is the greeting probe's deadline for a master pinged
// every interval: the interval plus half a second, between MinProbeTimeout
// and ProbeTimeout. On a LAN a connect takes well under a millisecond and
// a healthy server greets in a few.
func GreetingTimeout(interval time.Duration) time.Duration {
	return min(max(interval+500*time.Millisecond, MinProbeTimeout), ProbeTimeout)
}

// IOSampleGap is the least time between the two samples of a replica's IO
// thread: its read position must have moved in between to prove the master
// alive. The second sample is taken when the greeting probe has ended too,
// so the gap overlaps with it.
const IOSampleGap = 500 * time.Millisecond

// probeSQLTimeout bounds connecting to a replica and each read of its
// status.
const probeSQLTimeout = 3 * time.Second

// greetingScript connects to $0:$1 on file descriptor 3, says so on
// stdout, then prints the first 7 bytes the server sends as decimal
// numbers: the 4-byte packet header, the first payload byte (10 for a
// protocol-10 handshake, 0xff for an error packet) and the 2-byte error
// number. A greeting or an error packet is always longer; a server that
// closes sooner ends head early. timeout (around it) bounds the whole.
const greetingScript = `exec 3<>"/dev/tcp/$0/$1" || exit 1
echo connected
head -c 7 <&3 | od -An -tu1 -v`

// GreetingProbeArgv returns the command that, run on another host over
// SSH, connects to host:port and reads the first bytes of the MySQL
// server's greeting within timeout. It needs bash (its /dev/tcp
// redirection) and coreutils (env, timeout, head, od) there, which every
// Linux database host has; the address is passed as positional parameters,
// never pasted into the script, and LC_ALL=C keeps the error messages
// readable by GreetingProbeReach.
func GreetingProbeArgv(host string, port int, timeout time.Duration) []string {
	if timeout <= 0 {
		timeout = ProbeTimeout
	}
	secs := strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64)
	return []string{"env", "LC_ALL=C", "timeout", secs, "bash", "-c", greetingScript, host, strconv.Itoa(port)}
}

// GreetingProbeReach reads the result of running GreetingProbeArgv (with
// the same timeout) through sshexec.Client.Run:
//
//	exit 0, bytes read        -> ReachAnswers ("greeting read", "error packet 1040")
//	exit 0, no byte (closed)  -> ReachRefused
//	exit 1, Connection refused               -> ReachRefused ("connection refused")
//	exit 1, No route to host / Network is unreachable -> ReachUnreachable
//	exit 1, Connection timed out             -> ReachSilent
//	exit 124 after "connected"  -> ReachHung ("no greeting within 2s (hung?)")
//	exit 124 before "connected" -> ReachSilent
//
// Anything else (a missing program, bash without /dev/tcp, a name that
// does not resolve, a transport error) is ReachUnknown, with a detail.
func GreetingProbeReach(res sshexec.Result, err error, timeout time.Duration) (Reach, string) {
	if timeout <= 0 {
		timeout = ProbeTimeout
	}
	connected := bytes.HasPrefix(res.Stdout, []byte("connected\n"))
	var ee *sshexec.ExitError
	switch {
	case err == nil:
		if !connected {
			return ReachUnknown, "unexpected output: " + lastLine(res.Stdout)
		}
		return readGreeting(res.Stdout[len("connected\n"):])
	case !errors.As(err, &ee):
		return ReachUnknown, err.Error()
	}
	stderr := lastLine(res.Stderr)
	switch ee.Code {
	case 1:
		all := string(res.Stderr)
		switch {
		case strings.Contains(all, "Connection refused"):
			return ReachRefused, "connection refused"
		case strings.Contains(all, "No route to host"), strings.Contains(all, "Network is unreachable"):
			return ReachUnreachable, "no route to host"
		case strings.Contains(all, "Connection timed out"):
			return ReachSilent, "connect timed out"
		case strings.Contains(all, "No such file or directory"):
			// bash built without /dev/tcp support.
			return ReachUnknown, "bash has no /dev/tcp: " + stderr
		}
		return ReachUnknown, "exit 1: " + firstLine(res.Stderr)
	case 124:
		if connected {
			return ReachHung, fmt.Sprintf("no greeting within %s (hung?)", timeout)
		}
		return ReachSilent, fmt.Sprintf("no answer to the connect within %s", timeout)
	case 126, 127:
		return ReachUnknown, fmt.Sprintf("exit %d, env, timeout or bash missing: %s", ee.Code, stderr)
	}
	return ReachUnknown, fmt.Sprintf("exit %d: %s", ee.Code, stderr)
}

// readGreeting reads od's decimal bytes: the packet header, then the first
// payload byte says a handshake (any protocol) or an error packet, whose
// number follows. Any byte means the server answers.
func readGreeting(out []byte) (Reach, string) {
	var b []byte
	for _, f := range strings.Fields(string(out)) {
		n, err := strconv.ParseUint(f, 10, 8)
		if err != nil {
			return ReachUnknown, "unreadable od output: " + lastLine(out)
		}
		b = append(b, byte(n))
	}
	switch {
	case len(b) == 0:
		return ReachRefused, "connection closed without a greeting"
	case len(b) >= 7 && b[4] == 0xff:
		return ReachAnswers, fmt.Sprintf("error packet %d", uint16(b[5])|uint16(b[6])<<8)
	case len(b) >= 5 && b[4] == 10:
		return ReachAnswers, "greeting read"
	}
	return ReachAnswers, fmt.Sprintf("%d bytes read, not a protocol-10 greeting", len(b))
}

// firstLine returns the first non-blank line of out.
func firstLine(out []byte) string {
	s := strings.TrimSpace(string(out))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}

// lastLine returns the last non-blank line of out.
func lastLine(out []byte) string {
	s := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[i+1:])
	}
	return s
}

// serverName renders a server as evidence lines name it: host(ip:port).
func serverName(srv config.Server) string {
	return srv.Label()
}

// probeReplica asks one replica about master: over SQL its replication IO
// thread, sampled twice, and over SSH the greeting probe from its host to
// the master's ip:port, with deadline timeout (GreetingTimeout). The probe
// runs while the samples are taken: the second sample comes when the probe
// has ended and at least IOSampleGap after the first; it is skipped when
// the probe found the port refusing (nothing listens there, so no IO
// thread can be receiving from it: the second sample could only prove a
// liveness that the refusal rules out). Each part is bounded by its own
// timeout.
func probeReplica(ctx context.Context, cfg *config.Config, master, srv config.Server, timeout time.Duration) ReplicaProbe {
	var sshErr, detail string
	var reach Reach
	done := make(chan struct{})
	go func() {
		defer close(done)
		sshErr, reach, detail = greetingFrom(ctx, srv, master, timeout)
	}()
	p := sampleIO(ctx, cfg, master, srv, done, func() bool { return reach == ReachRefused })
	<-done
	p.Name = serverName(srv)
	p.SSHErr, p.Reach, p.ReachDetail = sshErr, reach, detail
	return p
}

// sampleIO reads srv's replica status twice: once at once, once when
// probed is closed and IOSampleGap has passed, unless refused (read once
// probed is closed) says the master's port refused. A failed second sample
// leaves the first alone (no advance to tell).
func sampleIO(ctx context.Context, cfg *config.Config, master, srv config.Server, probed <-chan struct{}, refused func() bool) ReplicaProbe {
	var p ReplicaProbe
	sample := func(c *mysqlx.Conn) (*mysqlx.ReplicaStatus, error) {
		sctx, cancel := context.WithTimeout(ctx, probeSQLTimeout)
		defer cancel()
		return c.ReplicaStatus(sctx)
	}
	octx, cancel := context.WithTimeout(ctx, probeSQLTimeout)
	c, err := mysqlx.Open(octx, check.Target(cfg, srv, probeSQLTimeout))
	cancel()
	if err != nil {
		p.SQLErr = err.Error()
		return p
	}
	defer c.Close()
	first, err := sample(c)
	if err != nil {
		p.SQLErr = err.Error()
		return p
	}
	p.setSample(first, master)
	if !p.Replicating {
		return p
	}
	gap := time.NewTimer(IOSampleGap)
	defer gap.Stop()
	select {
	case <-probed:
	case <-ctx.Done():
		return p
	}
	if refused() {
		return p
	}
	select {
	case <-gap.C:
	case <-ctx.Done():
		return p
	}
	second, err := sample(c)
	if err != nil || second == nil {
		return p
	}
	p.setSample(second, master)
	if p.Replicating {
		p.ReadBefore = first.Read
	}
	return p
}

// setSample records one SHOW SLAVE STATUS sample (nil: not a replica).
func (p *ReplicaProbe) setSample(rs *mysqlx.ReplicaStatus, master config.Server) {
	if rs == nil {
		p.Replicating = false
		return
	}
	p.Replicating = rs.SourcePort == master.Port && (rs.SourceHost == master.IP || rs.SourceHost == master.Hostname)
	p.IO, p.IOErrno, p.IOError = rs.IORunning, rs.LastIOErrno, rs.LastIOError
	p.ReadAfter = rs.Read
}

// greetingFrom runs the greeting probe towards master on srv's host over
// SSH.
func greetingFrom(ctx context.Context, srv, master config.Server, timeout time.Duration) (sshErr string, r Reach, detail string) {
	t, err := check.SSHTarget(srv)
	if err != nil {
		return err.Error(), ReachUnknown, ""
	}
	dialTimeout := t.ConnectTimeout
	if dialTimeout <= 0 {
		dialTimeout = sshexec.DefaultConnectTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout+timeout+2*time.Second)
	defer cancel()
	c, err := sshexec.Dial(ctx, t)
	if err != nil {
		return err.Error(), ReachUnknown, ""
	}
	defer c.Close()
	res, err := c.Run(ctx, GreetingProbeArgv(master.IP, master.Port, timeout))
	r, detail = GreetingProbeReach(res, err, timeout)
	return "", r, detail
}
