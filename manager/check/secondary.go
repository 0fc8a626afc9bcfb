package check

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gomha/gomha/manager/sshexec"
)

// SecondaryHost is one host of secondary_check_script's -s list, as the
// script will log in to it.
type SecondaryHost struct {
	// Target is how the script reaches the host over SSH.
	Target sshexec.Target
}

// SecondaryHostKeys returns the host-key policy a secondary check uses
// with opts: under MHA's command name (masterha_secondary_check) host keys
// are not verified unless the options say otherwise, as MHA always passed
// StrictHostKeyChecking=no (its "check" option set); gomha's own
// `mha secondary-check` verifies them unless the options say otherwise.
func SecondaryHostKeys(mhaName bool, opts sshexec.Options) sshexec.HostKeyPolicy {
	if mhaName && !opts.HostKeyPolicySet {
		return sshexec.HostKeyAcceptAny
	}
	return opts.HostKeyPolicy
}

// Dialer opens an SSH connection to a target; sshexec.Dial in production.
type Dialer func(ctx context.Context, t sshexec.Target) (interface{ Close() error }, error)

// DialSSH is the production Dialer.
func DialSSH(ctx context.Context, t sshexec.Target) (interface{ Close() error }, error) {
	return sshexec.Dial(ctx, t)
}

// Secondary logs in to every secondary host at once, as the secondary check
// will when the master stops answering: a host it cannot reach makes
// masterha_secondary_check exit 2, and the manager then never fails over.
// Results are in the order of hosts; each connection is bounded by its
// target's connect timeout (plus a margin) and by ctx.
func Secondary(ctx context.Context, hosts []SecondaryHost, dial Dialer) []SSHResult {
	out := make([]SSHResult, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		t := h.Target
		out[i].To = secondaryName(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			timeout := t.ConnectTimeout
			if timeout <= 0 {
				timeout = sshexec.DefaultConnectTimeout
			}
			dctx, cancel := context.WithTimeout(ctx, 2*timeout+5*time.Second)
			defer cancel()
			start := time.Now()
			c, err := dial(dctx, t)
			out[i].Elapsed = time.Since(start)
			if err != nil {
				out[i].Err = secondaryError(t, err)
				return
			}
			_ = c.Close()
		}()
	}
	wg.Wait()
	return out
}

// secondaryName renders a secondary host as user@host:port.
func secondaryName(t sshexec.Target) string {
	user := t.User
	if t.Options.User != "" {
		user = t.Options.User
	}
	return fmt.Sprintf("%s@%s:%d", user, t.Host, portOf(t))
}

// secondaryError says what an unreachable secondary host means for a
// failover, and, for a host key problem, what to do.
func secondaryError(t sshexec.Target, err error) error {
	msg := "secondary_check_script: secondary host %s is not reachable over SSH: %w; the secondary check would exit 2 and the manager would never fail over"
	if errors.Is(err, sshexec.ErrHostKey) {
		msg += fmt.Sprintf(" (record its key: ssh-keyscan -p %d %s >> ~/.ssh/known_hosts, after checking the fingerprint)", portOf(t), t.Host)
	}
	return fmt.Errorf(msg, secondaryName(t), err)
}

func portOf(t sshexec.Target) int {
	switch {
	case t.Options.Port != 0:
		return t.Options.Port
	case t.Port != 0:
		return t.Port
	}
	return sshexec.DefaultPort
}
