package check

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/sshexec"
)

// maxParallelSSHSources bounds how many hosts are tested at once, so that
// a large cluster does not hit sshd's MaxStartups (MHA staggers its
// children by 0.5 s for the same reason).
const maxParallelSSHSources = 8

// SSHTarget returns how the manager logs in to srv over SSH: ssh_ip,
// ssh_port, ssh_user, ssh_options and ssh_connection_timeout.
func SSHTarget(srv config.Server) (sshexec.Target, error) {
	opts, err := sshexec.ParseOptions(srv.SSHOptions)
	if err != nil {
		return sshexec.Target{}, fmt.Errorf("[%s] ssh_options: %w", srv.Block, err)
	}
	return sshexec.Target{
		Host:           srv.SSHIP,
		Port:           srv.SSHPort,
		User:           srv.SSHUser,
		Options:        opts,
		ConnectTimeout: srv.SSHConnectionTimeout,
	}, nil
}

// SSHName renders a server as MHA's SSH check logs it: user@host(ip:port).
func SSHName(srv config.Server) string {
	return srv.SSHUser + "@" + srv.SSHHost + "(" + config.HostPort(srv.SSHIP, srv.SSHPort) + ")"
}

// SSHResult is one tested connection. From is "" for the manager itself.
type SSHResult struct {
	From, To string
	Elapsed  time.Duration
	Err      error
}

func (r SSHResult) String() string {
	from := r.From
	if from == "" {
		from = "manager"
	}
	if r.Err != nil {
		return fmt.Sprintf("SSH from %s to %s failed: %v", from, r.To, r.Err)
	}
	return fmt.Sprintf("SSH from %s to %s.. ok (%s).", from, r.To, r.Elapsed.Round(time.Millisecond))
}

// SSHReport is the outcome of an SSH check.
type SSHReport struct {
	Results []SSHResult
}

// OK reports whether every tested connection worked.
func (r SSHReport) OK() bool { return len(r.Failures()) == 0 }

// Failures returns the connections that did not work.
func (r SSHReport) Failures() []SSHResult {
	var out []SSHResult
	for _, res := range r.Results {
		if res.Err != nil {
			out = append(out, res)
		}
	}
	return out
}

// SSH tests what a failover needs of SSH: the manager to every server, and,
// as MHA's masterha_check_ssh does, every server to every other server.
// A server with skip_init_ssh_check=1 is not contacted at all, neither as
// a source nor as a destination, as in MHA (SSHCheck skips it both ways). Connections from one source are tested in order; sources in
// parallel. Each step is bounded by the server's ssh_connection_timeout
// and by ctx.
func SSH(ctx context.Context, servers []config.Server) SSHReport {
	type src struct {
		srv     config.Server
		results []SSHResult
	}
	servers = slices.DeleteFunc(slices.Clone(servers), func(s config.Server) bool { return s.SkipInitSSHCheck })
	srcs := make([]src, len(servers))
	sem := make(chan struct{}, maxParallelSSHSources)
	var wg sync.WaitGroup
	for i, s := range servers {
		srcs[i].srv = s
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				srcs[i].results = []SSHResult{{To: SSHName(s), Err: ctx.Err()}}
				return
			}
			defer func() { <-sem }()
			srcs[i].results = checkFrom(ctx, s, servers)
		}()
	}
	wg.Wait()
	var rep SSHReport
	for _, s := range srcs {
		rep.Results = append(rep.Results, s.results...)
	}
	return rep
}

// checkFrom logs in to src from the manager, then from src to every other
// eligible server.
func checkFrom(ctx context.Context, src config.Server, all []config.Server) []SSHResult {
	name := SSHName(src)
	t, err := SSHTarget(src)
	if err != nil {
		return []SSHResult{{To: name, Err: err}}
	}
	start := time.Now()
	client, err := sshexec.Dial(ctx, t)
	out := []SSHResult{{To: name, Elapsed: time.Since(start), Err: err}}
	if err != nil {
		return out
	}
	defer client.Close()
	for _, dst := range all {
		if dst.Block == src.Block {
			continue
		}
		out = append(out, hop(ctx, client, src, dst))
	}
	return out
}

// hop runs `ssh dst exit 0` on src's host.
func hop(ctx context.Context, client *sshexec.Client, src, dst config.Server) SSHResult {
	r := SSHResult{From: SSHName(src), To: SSHName(dst)}
	t, err := SSHTarget(dst)
	if err != nil {
		r.Err = err
		return r
	}
	timeout := dst.SSHConnectionTimeout
	if timeout <= 0 {
		timeout = sshexec.DefaultConnectTimeout
	}
	// The remote ssh may try several addresses and attempts; allow it a
	// margin over its own connect timeout, but never an unbounded wait.
	hctx, cancel := context.WithTimeout(ctx, 2*timeout+5*time.Second)
	defer cancel()
	start := time.Now()
	res, err := client.Run(hctx, sshexec.HopArgv(t, "exit", "0"))
	r.Elapsed = time.Since(start)
	if err != nil {
		var ee *sshexec.ExitError
		if errors.As(err, &ee) {
			msg := strings.TrimSpace(string(res.Stderr))
			if msg == "" {
				msg = "no message"
			}
			r.Err = fmt.Errorf("ssh on %s to %s exited %d: %s", src.SSHHost, dst.SSHIP, ee.Code, msg)
		} else {
			r.Err = fmt.Errorf("run ssh on %s: %w", src.SSHHost, err)
		}
	}
	return r
}
