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

// ProbeTimeout bounds the TCP connect a replica host makes to the master
// during a confirmation (a dead host's port times out, a dead mysqld's port
// refuses at once).
const ProbeTimeout = 2 * time.Second

// probeSQLTimeout bounds connecting to a replica and reading its status.
const probeSQLTimeout = 3 * time.Second

// TCPProbeArgv returns the command that, run on another host over SSH,
// connects to host:port and exits 0 when the connect works within timeout
// (whole seconds, at least 1). It needs bash (its /dev/tcp redirection) and
// coreutils' timeout there, which every Linux database host has; the
// address is passed as positional parameters, never pasted into the
// script. Read the outcome with TCPProbeReach.
func TCPProbeArgv(host string, port int, timeout time.Duration) []string {
	secs := max(int((timeout+time.Second-1)/time.Second), 1)
	return []string{"timeout", strconv.Itoa(secs), "bash", "-c", `exec 3<>"/dev/tcp/$0/$1"`, host, strconv.Itoa(port)}
}

// TCPProbeReach reads the result of running TCPProbeArgv with
// sshexec.Client.Run: exit 0 is reachable; exit 1 (connect refused, no
// route, name not resolved) and 124 (timed out) are unreachable; anything
// else, a missing program or a transport error, is unknown, with a detail.
func TCPProbeReach(res sshexec.Result, err error) (Reach, string) {
	var ee *sshexec.ExitError
	switch {
	case err == nil:
		return ReachYes, ""
	case !errors.As(err, &ee):
		return ReachUnknown, err.Error()
	}
	stderr := lastLine(res.Stderr)
	switch ee.Code {
	case 1:
		if bytes.Contains(res.Stderr, []byte("No such file or directory")) {
			// bash built without /dev/tcp support.
			return ReachUnknown, "bash has no /dev/tcp: " + stderr
		}
		return ReachNo, "exit 1: " + stderr
	case 124:
		return ReachNo, "no answer within the probe timeout"
	case 126, 127:
		return ReachUnknown, fmt.Sprintf("exit %d, timeout or bash missing: %s", ee.Code, stderr)
	}
	return ReachUnknown, fmt.Sprintf("exit %d: %s", ee.Code, stderr)
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
	return fmt.Sprintf("%s(%s)", srv.Hostname, mysqlx.JoinAddr(srv.IP, srv.Port))
}

// probeReplica asks one replica about master: over SQL its replication IO
// thread, over SSH a TCP connect from its host to the master's ip:port. The
// two run in parallel; each is bounded by its own timeout.
func probeReplica(ctx context.Context, cfg *config.Config, master, srv config.Server) ReplicaProbe {
	p := ReplicaProbe{Name: serverName(srv)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.SSHErr, p.TCP, p.TCPDetail = tcpFrom(ctx, srv, master)
	}()
	sctx, cancel := context.WithTimeout(ctx, probeSQLTimeout)
	defer cancel()
	c, err := mysqlx.Open(sctx, check.Target(cfg, srv, probeSQLTimeout))
	if err == nil {
		var rs *mysqlx.ReplicaStatus
		rs, err = c.ReplicaStatus(sctx)
		_ = c.Close()
		if err == nil && rs != nil {
			p.Replicating = rs.SourcePort == master.Port && (rs.SourceHost == master.IP || rs.SourceHost == master.Hostname)
			p.IORunning, p.IOErrno, p.IOError = rs.IORunning, rs.LastIOErrno, rs.LastIOError
		}
	}
	if err != nil {
		p.SQLErr = err.Error()
	}
	<-done
	return p
}

// tcpFrom runs the TCP probe towards master on srv's host over SSH.
func tcpFrom(ctx context.Context, srv, master config.Server) (sshErr string, r Reach, detail string) {
	t, err := check.SSHTarget(srv)
	if err != nil {
		return err.Error(), ReachUnknown, ""
	}
	dialTimeout := t.ConnectTimeout
	if dialTimeout <= 0 {
		dialTimeout = sshexec.DefaultConnectTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout+ProbeTimeout+2*time.Second)
	defer cancel()
	c, err := sshexec.Dial(ctx, t)
	if err != nil {
		return err.Error(), ReachUnknown, ""
	}
	defer c.Close()
	res, err := c.Run(ctx, TCPProbeArgv(master.IP, master.Port, ProbeTimeout))
	r, detail = TCPProbeReach(res, err)
	return "", r, detail
}

// sshReachable runs `exit 0` on the master host over SSH (MHA's SSH check
// during detection), bounded by its ssh_connection_timeout.
func sshReachable(ctx context.Context, master config.Server) error {
	t, err := check.SSHTarget(master)
	if err != nil {
		return err
	}
	timeout := t.ConnectTimeout
	if timeout <= 0 {
		timeout = sshexec.DefaultConnectTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout+2*time.Second)
	defer cancel()
	_, err = sshexec.RunOnce(ctx, t, []string{"exit", "0"})
	return err
}
