// Package check runs gomha's start-up checks against real servers: it visits
// every configured server (SQL and SSH), feeds what it learned to the pure
// topology model, and reports. It backs `mha check-repl` and
// `mha check-ssh`, and the manager's checks before it starts monitoring.
package check

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/topology"
)

// DefaultConnectTimeout bounds each connection attempt to a server during
// the checks; MHA 0.58 uses 4 s and two attempts.
const DefaultConnectTimeout = 4 * time.Second

// connectAttempts is how many times a server is tried before it counts as
// dead, as in MHA.
const connectAttempts = 2

// Survey connects to every server of cfg at once and reads its state. It
// returns one observation per server, in cfg's order. A server that cannot
// be reached or read has a nil State and the error; MHA's "alive but
// refusing" errors (access denied, too many connections) are not retried.
// Survey is bounded by ctx and by timeout per attempt.
func Survey(ctx context.Context, cfg *config.Config, timeout time.Duration, res config.Resolver) []topology.Observation {
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	if res == nil {
		res = net.DefaultResolver
	}
	obs := make([]topology.Observation, len(cfg.Servers))
	var wg sync.WaitGroup
	for i, srv := range cfg.Servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			obs[i] = observe(ctx, cfg, srv, timeout, res)
		}()
	}
	wg.Wait()
	return obs
}

// Target returns the SQL target of a configured server: its ip and port
// with the configured admin user.
func Target(cfg *config.Config, srv config.Server, timeout time.Duration) mysqlx.Target {
	return mysqlx.Target{
		Addr:            srv.Addr(),
		User:            srv.User,
		Password:        srv.Password,
		Timeout:         timeout,
		CredentialsFrom: fmt.Sprintf("%s [%s] (line %d)", cfg.File, srv.Block, srv.Line),
	}
}

func observe(ctx context.Context, cfg *config.Config, srv config.Server, timeout time.Duration, res config.Resolver) topology.Observation {
	var st *mysqlx.State
	var err error
	for attempt := 1; attempt <= connectAttempts; attempt++ {
		st, err = readState(ctx, Target(cfg, srv, timeout), timeout)
		if err == nil || mysqlx.IsAliveError(err) || ctx.Err() != nil {
			break
		}
	}
	return Observed(ctx, srv, st, err, timeout, res)
}

// Observed is srv's observation from the state read from it, or from the
// error that stopped the read; a replica's source host is resolved (within
// timeout) so that topology can match it to a configured server. Every
// reader of survivor states builds its observations here.
func Observed(ctx context.Context, srv config.Server, st *mysqlx.State, err error, timeout time.Duration, res config.Resolver) topology.Observation {
	o := topology.Observation{Server: srv, State: st}
	if err != nil {
		o.State = nil
		o.Err = err
		o.Errno = int(mysqlx.ErrorNumber(err))
		return o
	}
	if r := o.State.Replica; r != nil && r.SourceHost != "" {
		lctx, cancel := context.WithTimeout(ctx, timeout)
		if ips, err := res.LookupHost(lctx, r.SourceHost); err == nil {
			o.SourceIPs = ips
		}
		cancel()
	}
	return o
}

func readState(ctx context.Context, t mysqlx.Target, timeout time.Duration) (*mysqlx.State, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*timeout)
	defer cancel()
	conn, err := mysqlx.Open(ctx, t)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.State(ctx)
}
