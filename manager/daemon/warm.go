package daemon

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/nodeinstall"
	"github.com/gomha/gomha/manager/sshexec"
)

// keepHostsWarm takes the SSH work off a failover's critical path: it
// enables the process's SSH pool (one multiplexed connection per host,
// checked before each use), dials every server and verifies (or ships)
// mha-node on it in the background, then checks every connection at each
// interval and dials again the ones that died, until ctx ends. The pool is
// the process's; each cluster keeps its own servers warm. Nothing it
// finds is fatal: a host it cannot reach is dialled again at its next use,
// as before, and the failover's own checks still decide.
func keepHostsWarm(ctx context.Context, servers []config.Server, interval time.Duration, log *slog.Logger) {
	pool := sshexec.EnablePool()
	bin, binErr := NodeBinary()
	var targets []sshexec.Target
	byHost := map[string]config.Server{}
	for _, srv := range servers {
		t, err := check.SSHTarget(srv)
		if err != nil {
			continue
		}
		targets = append(targets, t)
		byHost[t.Host] = srv
	}
	go func() {
		start := time.Now()
		errs := pool.Warm(ctx, targets)
		for host, err := range errs {
			log.Warn("SSH connection not kept warm (dialled again at its next use)", "host", host, "err", err)
		}
		if binErr == nil {
			var wg sync.WaitGroup
			for _, t := range targets {
				if errs[t.Host] != nil {
					continue
				}
				srv := byHost[t.Host]
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := sshexec.Dial(ctx, t)
					if err != nil {
						return
					}
					defer c.Close()
					if _, err := nodeinstall.Ensure(ctx, c, bin, srv.RemoteWorkdir); err != nil {
						log.Warn("mha-node not verified on the host (the failover will try again)", "host", srv.Hostname, "err", err)
					}
				}()
			}
			wg.Wait()
		}
		log.Info("SSH connections warm and mha-node verified", "hosts", len(targets)-len(errs), "duration_ms", time.Since(start).Milliseconds())
		if interval <= 0 {
			interval = time.Second
		}
		tk := time.NewTicker(interval)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				// This cluster's hosts only: the pool is the process's,
				// and every cluster refreshes its own.
				_ = pool.Warm(ctx, targets)
			}
		}
	}()
}
