package watchdog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// Options configure the daemon.
type Options struct {
	// Lease is how long the host may go without contact before it demotes
	// its mysqld.
	Lease time.Duration
	// ManagerUser and ManagerHosts identify the manager's sessions in the
	// local processlist: its MySQL user and its client host as the server
	// shows it (an IP address, or a name when the server resolves names).
	ManagerUser  string
	ManagerHosts []string
	// Peers are the replicas' MySQL addresses (ip:port) whose greeting is
	// contact.
	Peers []string
	// VIP (ADDR/PREFIX) is removed from VIPDev on demotion; "" for none.
	VIP, VIPDev string
	// StateFile is the JSON state file.
	StateFile string
	// Fresh starts a new lease (the manager, starting the watchdog over
	// SSH, has just reached the host). Without it a holding state left by a
	// previous watchdog of the same boot is carried over, so that a restart
	// never extends a lease. A demotion is carried over either way.
	Fresh bool
	// Log receives the daemon's lines; nil discards them.
	Log *slog.Logger
	// Version is written into the state file for the manager; "" means
	// BuildVersion().
	Version string
}

// Local is the watchdog's access to its own mysqld.
type Local interface {
	ManagerIdle(ctx context.Context, user string, hosts []string) (time.Duration, bool, error)
	Demote(ctx context.Context) []Step
	// ReadOnly reports @@global.read_only.
	ReadOnly(ctx context.Context) (bool, error)
}

// Killer is a Local that can stop its mysqld outright (SIGKILL) and tell
// when the process is gone: the demotion's last resort.
type Killer interface {
	// Kill stops mysqld for good: its systemd unit's stop job, its
	// mysqld_safe guard, then mysqld itself, found again at the call.
	Kill(ctx context.Context) Step
	// CanKill proves, without harm, that Kill would work now (mysqld
	// found, the privileges to signal it and to stop its unit, signal 0
	// delivered), and says why or why not.
	CanKill(ctx context.Context) (bool, string)
}

// Clock gives monotonic readings.
type Clock interface{ Now() time.Duration }

// Env is the daemon's I/O. Zero fields get the real implementations, except
// Local, which is required.
type Env struct {
	Local     Local
	Probe     func(ctx context.Context, addr string) error
	RemoveVIP func(ctx context.Context, vip, dev string) Step
	Clock     Clock
	BootID    string
	Wall      func() time.Time
	// Ticks, when set, replaces the ticker, and AfterTick is called after
	// each tick's work (tests).
	Ticks     <-chan time.Time
	AfterTick func()
}

// Run runs the watchdog until ctx ends. It returns an error only when it
// cannot start or cannot write its state file at start.
func Run(ctx context.Context, o Options, env Env) error {
	if o.Lease <= 0 {
		return errors.New("watchdog: lease must be positive")
	}
	if env.Local == nil {
		return errors.New("watchdog: no local server")
	}
	if env.Probe == nil {
		env.Probe = ProbeGreeting
	}
	if env.RemoveVIP == nil {
		env.RemoveVIP = RemoveVIP
	}
	if env.Clock == nil {
		env.Clock = BootClock{}
	}
	if env.Wall == nil {
		env.Wall = time.Now
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tick := Tick(o.Lease)
	d := &daemon{o: o, env: env, log: log, tick: tick}
	d.m = d.restore()
	d.st.StartedAt = env.Wall()
	d.terms(ctx)
	if err := d.save(true); err != nil {
		return fmt.Errorf("watchdog: write %s: %w", o.StateFile, err)
	}
	ph := d.m.Phase()
	log.Info("watchdog started", "phase", ph.String(), "lease", o.Lease, "tick", tick,
		"manager", o.ManagerUser+"@"+strings.Join(o.ManagerHosts, ","), "peers", strings.Join(o.Peers, ","), "vip", o.VIP,
		"version", d.st.Version, "demote_budget", DemoteBudget, "can_kill", *d.st.CanKill)
	if !*d.st.CanKill {
		log.Warn("this watchdog cannot stop its mysqld: a server that does not answer SQL cannot be demoted, and the manager will not count on the lease", "why", d.st.KillCheck)
	}
	ticks := env.Ticks
	if ticks == nil {
		t := time.NewTicker(tick)
		defer t.Stop()
		ticks = t.C
	}
	d.once(ctx)
	for {
		select {
		case <-ctx.Done():
			log.Info("watchdog stopped", "phase", d.m.Phase().String())
			return nil
		case <-ticks:
			d.once(ctx)
			if env.AfterTick != nil {
				env.AfterTick()
			}
		}
	}
}

type daemon struct {
	o    Options
	env  Env
	log  *slog.Logger
	tick time.Duration
	m    *Machine
	st   State
	// lastLocal and lastSteps are what was last logged, so that a failure
	// that repeats at every tick is logged once.
	lastLocal, lastSteps string
}

// killCheckTimeout bounds the start's proof that mysqld can be stopped
// (one @@pid_file query, a /proc scan, systemctl show).
const killCheckTimeout = 3 * time.Second

// terms records what the manager counts on, in the state file: the
// demotion budget, the version, and whether the last resort (stopping
// mysqld) was proven possible at start.
func (d *daemon) terms(ctx context.Context) {
	d.st.Version = d.o.Version
	if d.st.Version == "" {
		d.st.Version = BuildVersion()
	}
	d.st.DemoteBudgetMS = DemoteBudget.Milliseconds()
	ok, why := false, "the watchdog's access to its server has no way to stop mysqld"
	if k, isK := d.env.Local.(Killer); isK {
		cctx, cancel := context.WithTimeout(ctx, killCheckTimeout)
		ok, why = k.CanKill(cctx)
		cancel()
	}
	d.st.CanKill, d.st.KillCheck = &ok, why
}

// BuildVersion is the watchdog's build as Go recorded it: the main
// module's version and, when built from a checkout, the VCS revision
// (with "+dirty" for uncommitted changes).
func BuildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += " " + rev + dirty
	}
	return v
}

// restore builds the machine from the state file: a demotion is sticky; a
// holding state of the same boot is carried over unless Fresh.
func (d *daemon) restore() *Machine {
	now := d.env.Clock.Now()
	prev, err := ReadState(d.o.StateFile)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			d.log.Warn("cannot read the previous state; starting a fresh lease", "err", err)
		}
		return New(d.o.Lease, now)
	}
	ph, _ := ParsePhase(prev.Phase)
	sameBoot := prev.BootID != "" && prev.BootID == d.env.BootID
	d.st.DemotedAt, d.st.Why, d.st.Steps = prev.DemotedAt, prev.Why, prev.Steps
	switch {
	case ph != Holding:
		d.log.Warn("the previous watchdog demoted this server: staying demoted (clear with mha-node watchdog --clear)",
			"demoted_at", prev.DemotedAt, "why", prev.Why)
		at := time.Duration(prev.DemotedMono)
		if !sameBoot {
			at = now
		}
		return Restore(d.o.Lease, ph, now, "restart", at, prev.Why)
	case sameBoot && !d.o.Fresh:
		d.st.DemotedAt, d.st.Why, d.st.Steps = time.Time{}, "", nil
		return Restore(d.o.Lease, Holding, time.Duration(prev.LastContactMono), prev.LastContactBy, 0, "")
	}
	d.st.DemotedAt, d.st.Why, d.st.Steps = time.Time{}, "", nil
	return New(d.o.Lease, now)
}

// once runs one tick: gather the facts, step the machine, demote if asked.
func (d *daemon) once(ctx context.Context) {
	before := d.m.Phase()
	if before == Demoted {
		d.keepDemoted(ctx)
	} else {
		f := d.gather(ctx)
		dec := d.m.Step(f)
		if f.LocalErr != d.lastLocal {
			if f.LocalErr != "" {
				d.log.Warn("cannot read the local processlist", "err", f.LocalErr)
			} else {
				d.log.Info("the local processlist can be read again")
			}
			d.lastLocal = f.LocalErr
		}
		if dec.Demote {
			if before == Holding {
				d.log.Warn("lease expired: demoting this server", "why", dec.Why)
			}
			steps, complete := d.demote(ctx)
			d.m.Done(complete)
			d.st.Steps = steps
			if sum := fmt.Sprint(steps); sum != d.lastSteps {
				d.lastSteps = sum
				for _, s := range steps {
					if s.OK {
						d.log.Info("demotion step done", "step", s.Name, "detail", s.Detail)
					} else {
						d.log.Error("demotion step failed (retried at every tick)", "step", s.Name, "err", s.Err)
					}
				}
			}
			if complete {
				d.log.Warn("server demoted: read-only, client sessions killed, VIP released")
			}
		}
	}
	if err := d.save(d.m.Phase() != before); err != nil {
		d.log.Error("cannot write the state file", "file", d.o.StateFile, "err", err)
	}
}

// keepDemoted runs the demotion again when a demoted server is writable
// again (a mysqld restarted with read_only=0 in its option file): the
// demotion is sticky until an operator stops the watchdog and clears it.
func (d *daemon) keepDemoted(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, ProbeTimeout(d.tick))
	ro, err := d.env.Local.ReadOnly(rctx)
	cancel()
	if err != nil || ro {
		return
	}
	d.log.Warn("the demoted server is writable again: demoting it again (stop the watchdog and --clear to release it)")
	steps, _ := d.demote(ctx)
	d.st.Steps = steps
	for _, s := range steps {
		if !s.OK {
			d.log.Error("demotion step failed", "step", s.Name, "err", s.Err)
		}
	}
}

// gather reads the local processlist and greets every peer in parallel,
// within one ProbeTimeout.
func (d *daemon) gather(ctx context.Context) Facts {
	f := Facts{Now: d.env.Clock.Now()}
	gctx, cancel := context.WithTimeout(ctx, ProbeTimeout(d.tick))
	defer cancel()
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		idle, seen, err := d.env.Local.ManagerIdle(gctx, d.o.ManagerUser, d.o.ManagerHosts)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			f.LocalErr = err.Error()
			return
		}
		f.ManagerSeen, f.ManagerIdle = seen, idle
	}()
	for _, p := range d.o.Peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.env.Probe(gctx, p); err == nil {
				mu.Lock()
				f.PeersAnswered = append(f.PeersAnswered, p)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return f
}

// killStep names the SIGKILL step of a demotion.
const killStep = "stop mysqld (SIGKILL)"

// demote runs the demotion steps within DemoteBudget: the VIP first (the
// quickest way to stop clients from reaching the server), then the local
// server's steps within DemoteSQLBudget. JudgeDemotion decides on the
// outcome: only when read_only could not be set and verified (or the
// server did not answer) does a Killer Local stop mysqld in the rest of
// the budget; a step that failed on a server verified read-only (a client
// session that could not be killed) is retried at the next tick instead.
// complete says every step succeeded (a kill alone never completes it).
func (d *daemon) demote(ctx context.Context) (steps []Step, complete bool) {
	start := time.Now()
	dctx, cancel := context.WithTimeout(ctx, DemoteBudget)
	defer cancel()
	sctx, scancel := context.WithTimeout(dctx, DemoteSQLBudget)
	defer scancel()
	if d.o.VIP != "" {
		steps = append(steps, d.env.RemoveVIP(sctx, d.o.VIP, d.o.VIPDev))
	}
	steps = append(steps, d.env.Local.Demote(sctx)...)
	switch JudgeDemotion(steps) {
	case Complete:
		return steps, true
	case Retry:
		// Read-only already, which is what the lease promises; the
		// failed step (a session, the VIP) is run again at every tick.
		return steps, false
	}
	k, ok := d.env.Local.(Killer)
	if !ok {
		return steps, false
	}
	st := k.Kill(dctx)
	st.Name = killStep
	if st.OK {
		st.Detail += fmt.Sprintf(" (%s after the demotion began)", time.Since(start).Round(time.Millisecond))
	}
	steps = append(steps, st)
	// Not complete: a restarted mysqld must be found read-only by the
	// next tick's demotion before the server counts as demoted.
	return steps, false
}

// save writes the state file from the machine.
func (d *daemon) save(sync bool) error {
	now, wall := d.env.Clock.Now(), d.env.Wall()
	lc, by := d.m.LastContact()
	st := &d.st
	st.Phase = d.m.Phase().String()
	st.PID = os.Getpid()
	st.BootID = d.env.BootID
	st.LeaseMS = d.o.Lease.Milliseconds()
	st.TickMS = d.tick.Milliseconds()
	st.UpdatedAt, st.UpdatedMono = wall, int64(now)
	st.LastContactMono, st.LastContactBy = int64(lc), by
	st.LastContactAt = wall.Add(lc - now)
	if at, why := d.m.DemotedAt(); d.m.Phase() != Holding {
		st.DemotedMono, st.Why = int64(at), why
		if st.DemotedAt.IsZero() {
			st.DemotedAt = wall.Add(at - now)
		}
	}
	st.Manager = d.o.ManagerUser + "@" + strings.Join(d.o.ManagerHosts, ",")
	st.Peers, st.VIP = d.o.Peers, d.o.VIP
	return WriteState(d.o.StateFile, st, sync)
}
