package detect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/sshexec"
)

// Sentinel errors.
var (
	// ErrLockHeld reports that another session holds the monitor lock
	// (mysqlx.MonitorLock) on the master: another gomha or MHA manager
	// monitors it. Run's error wraps it with MHA's message.
	ErrLockHeld = errors.New("monitor lock held by another session")
)

// lockHeldMsg is MHA's message for ErrLockHeld.
const lockHeldMsg = "Target master's advisory lock is already held by someone. Please check whether you monitor the same master from multiple monitoring processes."

// DefaultPingInterval is MHA's ping_interval default, used when the
// configuration has none.
const DefaultPingInterval = 3 * time.Second

// SecondaryCheckTimeout bounds secondary_check_script when Monitor.Hooks
// has no Timeout: a script that hangs counts as "not confirmed" (the count
// resets and a new confirmation starts) instead of holding the verdict
// back for ever, as it did in MHA.
const SecondaryCheckTimeout = time.Minute

// Verdict is a confirmed master failure.
type Verdict struct {
	// Master is the server found dead.
	Master config.Server
	// SSHReachable is MHA's --ssh_reachable number: 1 when the SSH check
	// (ProcessCheckArgv) ran on the master host during the confirmation,
	// 0 when it did not, 2 when unknown (not waited for). Read it as a
	// type with SSH.
	SSHReachable int
	// Kind says how the master looked from the replicas' hosts: refused
	// (mysqld down, host up), hung (the port accepts, mysqld sends no
	// greeting: the process may resume), silent (nothing answers: host down
	// or cut off, it may still run) or unknown (no greeting probe said).
	// The fencing step chooses by it.
	Kind FailureKind
	// Evidence says what each replica and secondary_check_script reported,
	// one line each, for the log and the failover report.
	Evidence []string
	// Probes are the replicas' answers the verdict rests on (IO thread,
	// Read_Master_Log_Pos at both samples, greeting probe), in
	// Monitor.Secondary order; nil when no replicas were asked.
	Probes []ReplicaProbe
	// DetectedAt is when the failure was confirmed.
	DetectedAt time.Time
}

// SSH returns what the confirmation learnt of SSH to the master host.
func (v Verdict) SSH() sshexec.Reach { return sshexec.FromMHA(v.SSHReachable) }

// Monitor pings the master and returns when it is confirmed dead. The
// decisions are Machine's; Monitor does the I/O: pings per ping_type, the
// monitor lock, and the confirmation probes in the background.
type Monitor struct {
	// Config is the loaded configuration (file and credentials for
	// messages, secondary_check_script).
	Config *config.Config
	// Master is the server to watch; its ping_interval, ping_type and
	// secondary_check_script apply.
	Master config.Server
	// Log receives progress (keys host, step, err); nil discards.
	Log *slog.Logger
	// Hooks runs secondary_check_script; a zero Timeout means
	// SecondaryCheckTimeout.
	Hooks hooks.Runner
	// OnState is called on every health state change and after every
	// successful ping (to refresh the health file); it may be nil. It runs
	// on Run's goroutine and should return quickly.
	OnState func(State)
	// Secondary are the replicas asked to confirm a failure (their IO
	// thread over SQL, sampled twice, and the greeting probe to the master
	// from their host over SSH): the alive replicas. Empty skips the
	// built-in evidence, leaving failure counting and
	// secondary_check_script.
	Secondary []config.Server

	// io does the pings, probes and timer; nil is liveIO (tests set a
	// fake).
	io monitorIO
}

// interval returns ping_interval.
func (m *Monitor) interval() time.Duration {
	if m.Master.PingInterval > 0 {
		return m.Master.PingInterval
	}
	if m.Config != nil && m.Config.Default.PingInterval > 0 {
		return m.Config.Default.PingInterval
	}
	return DefaultPingInterval
}

// Run monitors the master until it is confirmed dead and returns the
// verdict. It first connects and takes the monitor lock (GET_LOCK
// mysqlx.MonitorLock, waiting up to 4 × ping_interval): a lock held by
// someone else ends Run with an error wrapping ErrLockHeld. Then it pings at
// every ping_interval (loop start to loop start), each ping bounded by
// ping_interval: SELECT (SELECT 1 on one session), CONNECT (a new session
// per ping, which takes the lock without waiting) or INSERT (MHA's
// infra.chk_masterha write). It returns ctx's error when ctx ends.
func (m *Monitor) Run(ctx context.Context) (Verdict, error) {
	if m.Config == nil {
		return Verdict{}, errors.New("detect: no configuration")
	}
	log := m.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := serverName(m.Master)
	log = log.With("host", name)
	interval := m.interval()
	script := m.Master.SecondaryCheckScript
	if script == "" {
		log.Warn("secondary_check_script is not defined. It is highly recommended setting it to check master reachability from two or more routes.")
	}
	if len(m.Secondary) == 0 {
		log.Warn("no replicas to confirm a master failure with: failed pings and secondary_check_script (if set) decide alone")
	}
	pingType := m.Master.PingType
	if pingType == "" {
		pingType = config.PingSelect
	}
	log.Info("monitoring the master", "step", "ping", "ping_type", pingType, "ping_interval", interval,
		"replicas", len(m.Secondary), "secondary_check_script", script != "")

	mach := NewMachine(MachineConfig{Secondary: script != "", BuiltIn: len(m.Secondary) > 0, PingInterval: interval})
	io := m.io
	if io == nil {
		io = newLiveIO(m, interval, pingType, log)
	}
	defer io.close()

	results := make(chan func() []Action, 16)
	var wg sync.WaitGroup
	cancels := map[int]context.CancelFunc{}
	defer func() {
		for _, c := range cancels {
			c()
		}
		wg.Wait()
	}()

	// A ping runs in the background, so that a confirmation result that
	// arrives while a ping to a silent master runs into its deadline is
	// decided on at once, not a ping timeout later. One ping at a time: a
	// tick that comes while one runs is taken as soon as it ends.
	type pinged struct {
		r   PingResult
		err error
	}
	pingCtx, cancelPing := context.WithCancel(ctx)
	defer cancelPing() // runs first: the ping in flight returns, then wg.Wait
	pingDone := make(chan pinged, 1)
	inFlight, tickMissed := false, false

	ticker := io.newTicker(interval)
	defer ticker.Stop()
	cadence := interval
	// closeMissed: the server closed the session while a ping ran on it.
	closeMissed := false
	// pingOnClose pings a session the server closed at once; its failure
	// is the episode's first, and RestartWindow runs from it: a restart
	// (sessions closed, the port refusing for a few seconds) is not
	// decided on the refused connects that follow.
	pingOnClose := func() []Action {
		log.Info("the master closed the monitoring session: pinging now", "step", "ping")
		ticker.Reset(cadence)
		return mach.Tick()
	}
	acts := mach.Tick()
	for {
		for len(acts) > 0 {
			a := acts[0]
			acts = acts[1:]
			switch a.Kind {
			case ActPing:
				if inFlight || ctx.Err() != nil {
					tickMissed = inFlight
					continue
				}
				inFlight = true
				wg.Add(1)
				go func(reconnect bool) {
					defer wg.Done()
					r, err := io.ping(pingCtx, reconnect)
					pingDone <- pinged{r, err}
				}(a.Reconnect)
			case ActSetState:
				if m.OnState != nil {
					m.OnState(a.State)
				}
			case ActStartConfirm:
				cctx, cancel := context.WithCancel(ctx)
				cancels[a.Episode] = cancel
				m.confirm(cctx, io, &wg, log, mach, a.Episode, pingType, results)
			case ActCancelConfirm:
				if c := cancels[a.Episode]; c != nil {
					c()
					delete(cancels, a.Episode)
				}
			case ActDeclareDead:
				return Verdict{Master: m.Master, SSHReachable: a.SSH.MHA(), Kind: a.Failure, Evidence: a.Evidence, Probes: a.Probes, DetectedAt: time.Now()}, nil
			case ActLog:
				log.Log(ctx, a.Level, a.Msg, "step", "ping", "failures", mach.Failures())
			}
		}
		// Once a ping failed, the next attempts come every retryCadence
		// rather than every ping_interval: a dead master is declared after
		// about one ping_interval instead of MHA's four, while the
		// confirmation through the replicas and secondary_check_script
		// still decides.
		if want := retryCadence(interval, mach.Failures()); want != cadence {
			cadence = want
			ticker.Reset(cadence)
		}
		if ctx.Err() != nil && !inFlight {
			return Verdict{}, fmt.Errorf("detect: monitoring %s: %w", name, ctx.Err())
		}
		// Confirmation results first: when pings run into their deadline
		// (a hung or cut-off master) the ticker is always ready after one,
		// and a random choice would leave a finished confirmation waiting
		// a whole ping_interval per coin toss.
		select {
		case feed := <-results:
			acts = feed()
			continue
		default:
		}
		select {
		case <-ctx.Done():
			if inFlight {
				// The ping in flight ends with ctx; its answer is taken
				// (and its error returned) as a synchronous ping's was.
				p := <-pingDone
				inFlight = false
				if p.err != nil {
					return Verdict{}, p.err
				}
				p.r.At = io.now()
				acts = mach.Ping(p.r)
				continue
			}
			return Verdict{}, fmt.Errorf("detect: monitoring %s: %w", name, ctx.Err())
		case <-ticker.C():
			acts = mach.Tick()
		case <-io.peerClosed():
			// One close is one failure. The session already found lost
			// (the next attempt is a connect at the retry cadence) gets
			// no extra attempt; a ping in flight on it decides: failed,
			// that was the close; worked, the close came after it and the
			// session is pinged at once.
			switch {
			case inFlight:
				closeMissed = true
			case mach.Failures() == 0:
				acts = pingOnClose()
			}
		case feed := <-results:
			acts = feed()
		case p := <-pingDone:
			inFlight = false
			if p.err != nil {
				return Verdict{}, p.err
			}
			p.r.At = io.now()
			acts = mach.Ping(p.r)
			switch {
			case closeMissed && p.r.OK:
				acts = append(acts, pingOnClose()...)
			case tickMissed:
				acts = append(acts, mach.Tick()...)
			}
			tickMissed, closeMissed = false, false
		}
	}
}

// confirm starts the confirmation of episode in the background: the
// replica probes, secondary_check_script and the SSH check on the master.
// Each part sends a function that feeds its result to mach on Run's
// goroutine.
func (m *Monitor) confirm(ctx context.Context, io monitorIO, wg *sync.WaitGroup, log *slog.Logger, mach *Machine, episode int, pingType string, results chan<- func() []Action) {
	send := func(f func() []Action) {
		select {
		case results <- f:
		case <-ctx.Done():
		}
	}
	var names []string
	for _, s := range m.Secondary {
		names = append(names, s.Hostname)
	}
	log.Info("checking whether the master is really down", "step", "confirm", "episode", episode, "replicas", strings.Join(names, ","))
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		h := io.checkMaster(ctx)
		if !h.SSH {
			log.Info("SSH to the master host failed", "step", "confirm", "episode", episode, "duration", time.Since(start), "err", h.SSHErr)
		} else {
			log.Info("SSH to the master host works", "step", "confirm", "episode", episode, "duration", time.Since(start),
				"mysqld", h.Process, "evidence", h.Evidence)
		}
		send(func() []Action { return mach.SSH(episode, h) })
	}()
	if len(m.Secondary) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			probes := make([]ReplicaProbe, len(m.Secondary))
			var pwg sync.WaitGroup
			for i, srv := range m.Secondary {
				pwg.Add(1)
				go func() {
					defer pwg.Done()
					probes[i] = io.probeReplica(ctx, srv)
				}()
			}
			pwg.Wait()
			log.Info("replicas probed", "step", "confirm", "episode", episode, "duration", time.Since(start))
			send(func() []Action { return mach.Replicas(episode, probes) })
		}()
	}
	if script := m.Master.SecondaryCheckScript; script != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := hooks.SecondaryCheckArgs(hooks.SecondaryCheck{Master: hooks.EndpointOf(m.Master), PingType: pingType})
			code, err := io.secondary(ctx, script, args)
			errText := ""
			if err != nil {
				errText = err.Error()
			}
			send(func() []Action { return mach.Secondary(episode, code, errText) })
		}()
	}
}

// pinger holds the monitoring session and performs pings per ping_type.
type pinger struct {
	target   mysqlx.Target
	pingType string
	interval time.Duration
	log      *slog.Logger

	conn     *mysqlx.Conn
	lockedAt time.Time // when the monitor lock was first taken; zero before
	haveLock bool      // the current session (SELECT, INSERT) holds the lock
	clean    bool      // CONNECT: the previous ping's session was closed cleanly
}

func (p *pinger) close() {
	if p.conn != nil {
		_ = p.conn.Close()
		p.conn = nil
	}
}

// ping performs one ping (after connecting when reconnect is set, or for
// every CONNECT ping). The error is fatal (lock held by someone else, ctx
// ended); a failed ping is a PingResult.
func (p *pinger) ping(ctx context.Context, reconnect bool) (PingResult, error) {
	err := p.try(ctx, reconnect)
	if err == nil {
		return PingResult{OK: true}, nil
	}
	if errors.Is(err, ErrLockHeld) {
		return PingResult{}, err
	}
	if ctx.Err() != nil {
		return PingResult{}, fmt.Errorf("detect: ping %s: %w", p.target.Addr, ctx.Err())
	}
	p.close()
	return PingResult{
		Errno:   mysqlx.ErrorNumber(err),
		Timeout: errors.Is(err, context.DeadlineExceeded),
		Err:     err.Error(),
	}, nil
}

func (p *pinger) try(ctx context.Context, reconnect bool) error {
	budget := p.interval
	first := p.lockedAt.IsZero()
	if first {
		budget += 4 * p.interval // the first lock may wait 4 × ping_interval
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	if p.pingType == config.PingConnect {
		p.close()
		if err := p.connect(ctx); err != nil {
			return err
		}
		err := p.selectOne(ctx)
		if err == nil {
			err = p.conn.Close()
		}
		p.clean = err == nil
		p.conn = nil
		return err
	}
	if reconnect || p.conn == nil {
		p.close()
		if err := p.connect(ctx); err != nil {
			return err
		}
	} else if !p.haveLock {
		p.retakeLock(ctx)
	}
	if p.pingType == config.PingInsert {
		return p.insert(ctx)
	}
	return p.selectOne(ctx)
}

// connect opens the session, sets wait_timeout and takes the monitor lock:
// waiting 4 × ping_interval the first time (held elsewhere -> ErrLockHeld),
// without waiting afterwards.
func (p *pinger) connect(ctx context.Context) error {
	c, err := mysqlx.Open(ctx, p.target)
	if err != nil {
		return err
	}
	p.conn = c
	secs := max(int64((2*p.interval+time.Second-1)/time.Second), 1)
	if _, err := c.Exec(ctx, fmt.Sprintf("SET wait_timeout=%d", secs)); err != nil {
		return err
	}
	if p.lockedAt.IsZero() {
		ok, err := c.GetLock(ctx, mysqlx.MonitorLock, 4*p.interval)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("detect: %s: %w: %s", p.target.Addr, ErrLockHeld, lockHeldMsg)
		}
		p.lockedAt, p.haveLock = time.Now(), true
		p.log.Info("monitor lock taken", "step", "lock", "lock", mysqlx.MonitorLock)
		return nil
	}
	if p.pingType == config.PingConnect {
		ok, err := c.GetLock(ctx, mysqlx.MonitorLock, 0)
		if err != nil {
			return err
		}
		if !ok {
			if p.clean {
				return fmt.Errorf("detect: %s: %w: %s", p.target.Addr, ErrLockHeld, lockHeldMsg)
			}
			// Our previous session may not be gone on the server yet.
			p.log.Warn("monitor lock busy after an interrupted ping; going on", "step", "lock")
		}
		return nil
	}
	p.haveLock = false
	p.retakeLock(ctx)
	return nil
}

// retakeLock tries, without waiting, to take the monitor lock again on a
// new session. MHA never retook it after a reconnect; gomha does, but a
// busy lock is not fatal here: the session this monitor lost may still hold
// it on the server until wait_timeout ends it.
func (p *pinger) retakeLock(ctx context.Context) {
	ok, err := p.conn.GetLock(ctx, mysqlx.MonitorLock, 0)
	switch {
	case err != nil:
		// The ping that follows reports the session's trouble.
	case ok:
		p.haveLock = true
	default:
		p.log.Warn("monitor lock still busy after reconnecting (our lost session, or another monitor); retrying at the next ping", "step", "lock")
	}
}

func (p *pinger) selectOne(ctx context.Context) error {
	var v int
	if err := p.conn.QueryRow(ctx, "SELECT 1 AS Value").Scan(&v); err != nil {
		return err
	}
	if v != 1 {
		return fmt.Errorf("detect: ping %s: SELECT 1 returned %d", p.target.Addr, v)
	}
	return nil
}

// insertPing is MHA's INSERT ping (mha-compat §5.2): it writes to the
// master's binary log, so it also catches a read-only or full-disk master.
var insertPing = []string{
	"CREATE DATABASE IF NOT EXISTS infra",
	"CREATE TABLE IF NOT EXISTS infra.chk_masterha (`key` tinyint NOT NULL primary key,`val` int(10) unsigned NOT NULL DEFAULT '0')",
	"INSERT INTO infra.chk_masterha values (1,unix_timestamp()) ON DUPLICATE KEY UPDATE val=unix_timestamp()",
}

func (p *pinger) insert(ctx context.Context) error {
	for _, q := range insertPing {
		if _, err := p.conn.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// RetryInterval is how often a failing master is tried again, as a fraction
// of ping_interval (at least MinRetryInterval).
const (
	RetryFraction    = 4
	MinRetryInterval = 250 * time.Millisecond
)

// retryCadence is the time between pings: ping_interval while pings work,
// ping_interval/RetryFraction (at least MinRetryInterval, at most
// ping_interval) once one failed.
func retryCadence(interval time.Duration, failures int) time.Duration {
	if failures == 0 {
		return interval
	}
	d := interval / RetryFraction
	if d < MinRetryInterval {
		d = MinRetryInterval
	}
	if d > interval {
		d = interval
	}
	return d
}
