package detect

import (
	"context"
	"log/slog"
	"time"

	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/config"
)

// monitorIO is the I/O Monitor.Run does around the Machine: the pings, the
// confirmation probes and the ping_interval timer. liveIO does it over
// MySQL, SSH and the hook runner; loop_test.go drives the loop with a
// fake.
type monitorIO interface {
	// ping performs one ping (a connect first when reconnect is set). The
	// error is fatal (lock held by someone else, ctx ended); a failed ping
	// is a PingResult.
	ping(ctx context.Context, reconnect bool) (PingResult, error)
	// close ends the monitoring session.
	close()
	// checkMaster runs the process check on the master host over SSH
	// (ProcessCheckArgv): whether SSH works and the server's process is
	// there.
	checkMaster(ctx context.Context) MasterHost
	// probeReplica asks one replica about the master (IO thread sampled
	// twice, greeting probe from its host).
	probeReplica(ctx context.Context, srv config.Server) ReplicaProbe
	// secondary runs secondary_check_script with args.
	secondary(ctx context.Context, script string, args []string) (code int, err error)
	// newTicker is the ping_interval timer.
	newTicker(d time.Duration) ticker
	// peerClosed receives when the server closed the monitoring session
	// (mysqld killed or shut down): the loop pings at once.
	peerClosed() <-chan struct{}
	// now is a monotonic reading (PingResult.At).
	now() time.Duration
}

// ticker is the part of *time.Ticker the loop uses.
type ticker interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	Stop()
}

// liveIO is monitorIO on the real servers.
type liveIO struct {
	m      *Monitor
	p      *pinger
	closed chan struct{}
	start  time.Time
}

// newLiveIO returns the real I/O for m's master.
func newLiveIO(m *Monitor, interval time.Duration, pingType string, log *slog.Logger) liveIO {
	target := check.Target(m.Config, m.Master, interval)
	// A ping that runs into its deadline leaves its session to the
	// server's wait_timeout (2 × ping_interval, set at connect) rather
	// than spend another connect timeout on a side connection to a master
	// that may be silent.
	target.NoKillSideways = true
	// A session that the server closes (mysqld killed, shut down) is
	// pinged at once instead of at the next tick.
	closed := make(chan struct{}, 1)
	if pingType != config.PingConnect {
		target.OnPeerClose = func() {
			select {
			case closed <- struct{}{}:
			default:
			}
		}
	}
	return liveIO{m: m, closed: closed, start: time.Now(), p: &pinger{
		target:   target,
		pingType: pingType,
		interval: interval,
		log:      log,
	}}
}

func (l liveIO) peerClosed() <-chan struct{} { return l.closed }

// now is the time since the monitor started, from the monotonic clock.
func (l liveIO) now() time.Duration { return time.Since(l.start) }

func (l liveIO) ping(ctx context.Context, reconnect bool) (PingResult, error) {
	return l.p.ping(ctx, reconnect)
}

func (l liveIO) close() { l.p.close() }

func (l liveIO) checkMaster(ctx context.Context) MasterHost { return checkMasterHost(ctx, l.m.Master) }

func (l liveIO) probeReplica(ctx context.Context, srv config.Server) ReplicaProbe {
	return probeReplica(ctx, l.m.Config, l.m.Master, srv, GreetingTimeout(l.m.interval()))
}

func (l liveIO) secondary(ctx context.Context, script string, args []string) (int, error) {
	runner := l.m.Hooks
	if runner.Timeout <= 0 {
		runner.Timeout = SecondaryCheckTimeout
	}
	res, err := runner.Run(ctx, "secondary_check_script", script, args)
	return res.Code, err
}

func (liveIO) newTicker(d time.Duration) ticker { return timeTicker{time.NewTicker(d)} }

// timeTicker is ticker over *time.Ticker.
type timeTicker struct{ t *time.Ticker }

func (t timeTicker) C() <-chan time.Time   { return t.t.C }
func (t timeTicker) Reset(d time.Duration) { t.t.Reset(d) }
func (t timeTicker) Stop()                 { t.t.Stop() }
