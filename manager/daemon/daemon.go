// Package daemon is the manager's lifecycle: one monitoring loop per
// cluster (start-up checks, monitoring, failover, and after it monitoring
// of the new topology), the process's signals and the configuration reload,
// run as a group of actors in the style of Prometheus' main.go. A failover
// or a hung host in one cluster never stalls another: each cluster runs in
// its own goroutines under its own context. Each cluster keeps MHA's files
// in its own manager_workdir (health file, journal, flags) and its own
// manager_log.
//
// Two modes: a single cluster given as one configuration file behaves
// exactly as MHA's masterha_manager does (the process ends when that
// cluster's manager ends, with its exit code); several files, or a
// directory of them, make a daemon in which a cluster whose manager ends is
// started again after RestartDelay, and which exits 0 on SIGINT/SIGTERM.
package daemon

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/httpapi"
	"github.com/gomha/gomha/manager/metrics"
	"github.com/gomha/gomha/manager/statefile"
)

// Errors of the daemon.
var (
	// ErrDuplicate is returned when two configuration files would be the
	// same cluster: the same application name, or the same state files.
	ErrDuplicate = errors.New("two configurations for one cluster")
	// ErrNoClusters is returned when no configuration file is given or
	// found.
	ErrNoClusters = errors.New("no cluster configuration")
	// ErrNotConfirmed is the operator's "no" to the question before a
	// manual failover.
	ErrNotConfirmed = errors.New("not confirmed: stopping")
	// errStopped ends the run group on SIGINT, SIGTERM or ctx's end.
	errStopped = errors.New("stopped")
)

// DefaultRestartDelay is how long a cluster whose manager ended waits, in
// daemon mode, before it is started again.
const DefaultRestartDelay = time.Minute

// ExitError carries a process exit code (MHA's) out of the daemon, as
// cmd/mha's own exit error does.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Tools are what the daemon borrows from the program that runs it.
type Tools struct {
	// InProcessHook is hooks.Runner.InProcess: the built-in hooks run
	// inside the manager; nil runs every hook as a child process.
	InProcessHook func(ctx context.Context, argv []string, out io.Writer) (code int, handled bool)
	// CheckSecondaryHosts logs in to the hosts of master's
	// secondary_check_script as the script will, printing a line per
	// host to out, and returns the failures (the start-up check); nil
	// checks nothing.
	CheckSecondaryHosts func(ctx context.Context, master config.Server, out io.Writer) []string
}

func (t Tools) checkSecondaryHosts(ctx context.Context, master config.Server, out io.Writer) []string {
	if t.CheckSecondaryHosts == nil {
		return nil
	}
	return t.CheckSecondaryHosts(ctx, master, out)
}

// Options configure a Daemon.
type Options struct {
	// Confs are application configuration files; ConfDirs are
	// directories of them (every *.cnf file, one cluster each).
	Confs    []string
	ConfDirs []string
	// GlobalConf is the global configuration file (a missing one is
	// skipped).
	GlobalConf string
	// Start and Failover apply to every cluster.
	Start    StartOptions
	Failover FailoverOptions
	// ExitAfterFailover is masterha_manager's contract: the manager ends
	// after one failover (or refusal). It needs a single cluster.
	ExitAfterFailover bool
	// Stdout receives the start-up checks' report; Stderr the clusters'
	// logs without manager_log, and the configuration warnings.
	Stdout, Stderr io.Writer
	// Log is the daemon's own log (clusters started and stopped,
	// reloads); nil discards it.
	Log *slog.Logger
	// Tools are the program's helpers.
	Tools Tools
	// RestartDelay is DefaultRestartDelay when zero.
	RestartDelay time.Duration
	// Metrics records each cluster's facts for /metrics; nil: off.
	Metrics *metrics.Recorder
	// Lock, when set, makes each cluster wait for its Consul lock before
	// it monitors and acts (standby managers).
	Lock *LockOptions
}

// Daemon runs the managers of one or more clusters.
type Daemon struct {
	opts   Options
	log    *slog.Logger
	single bool
	// initial are the clusters found by New, started by Run.
	initial []*cluster
	extra   group

	mu     sync.Mutex
	boards map[string]*statusBoard // by configuration file, kept across restarts
	// shown lists the configuration files Clusters reports: running,
	// finishing, or ended.
	shown map[string]bool
	// secrets are each configuration's passwords, scrubbed from what the
	// HTTP API serves (Secrets).
	secrets map[string][]string

	reloads chan chan error
	// stopped is closed when the clusters' supervisor has returned.
	stopped chan struct{}
	// signals replaces the process's signals (tests).
	signals <-chan os.Signal
	// cycleFor builds each cluster's cycle (tests); nil: the live one.
	cycleFor func(c *cluster, lc *liveCycle) cycle
}

// New reads every cluster's configuration and refuses two files for one
// cluster. Nothing is started before Run.
func New(ctx context.Context, opts Options) (*Daemon, error) {
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	if opts.RestartDelay <= 0 {
		opts.RestartDelay = DefaultRestartDelay
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Daemon{opts: opts, log: log, single: len(opts.Confs) == 1 && len(opts.ConfDirs) == 0,
		boards: map[string]*statusBoard{}, shown: map[string]bool{}, secrets: map[string][]string{}, reloads: make(chan chan error), stopped: make(chan struct{})}
	if !d.single && (opts.ExitAfterFailover || opts.Start.MonitorOnly) {
		return nil, &ExitError{Code: 1, Err: errors.New("exactly one --conf is needed to exit after a failover or with --monitor_only")}
	}
	found, errs := d.discover(ctx)
	if err := errors.Join(errs...); err != nil {
		return nil, &ExitError{Code: 1, Err: err}
	}
	if len(found) == 0 {
		return nil, &ExitError{Code: 1, Err: fmt.Errorf("%w: --conf or --conf_dir with *.cnf files is needed", ErrNoClusters)}
	}
	if err := duplicates(found, opts.Failover); err != nil {
		return nil, &ExitError{Code: 1, Err: err}
	}
	for _, f := range found {
		d.initial = append(d.initial, d.cluster(f))
	}
	return d, nil
}

// Add adds an actor to the run group before Run, such as the HTTP server:
// execute runs until interrupt is called (or fails, which stops the
// daemon). For example:
//
//	srv := &http.Server{Addr: addr, Handler: handlerOf(d)} // d.Clusters, d.Cluster
//	d.Add(srv.ListenAndServe, func(error) { _ = srv.Close() })
func (d *Daemon) Add(execute func() error, interrupt func(error)) {
	d.extra.add(execute, interrupt)
}

// Clusters returns every cluster's status, by application name.
func (d *Daemon) Clusters() []ClusterStatus {
	d.mu.Lock()
	var out []ClusterStatus
	for conf, b := range d.boards {
		if d.shown[conf] {
			out = append(out, b.snapshot())
		}
	}
	d.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].App < out[j].App })
	return out
}

// Cluster returns the status of the cluster named app.
func (d *Daemon) Cluster(app string) (ClusterStatus, bool) {
	for _, s := range d.Clusters() {
		if s.App == app {
			return s, true
		}
	}
	return ClusterStatus{}, false
}

// SetRole records the manager's role for app (RoleActive or RoleStandby),
// for the lock that decides it.
func (d *Daemon) SetRole(app, role string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, b := range d.boards {
		if b.snapshot().App == app {
			b.setRole(role)
		}
	}
}

// Reload reads the configurations again, as SIGHUP does: a file added
// starts its cluster, a file removed stops its cluster, a file changed
// restarts its cluster; a running failover is never interrupted (the
// cluster stops or restarts once it ends). It returns what could not be
// read (those clusters are left as they were). It blocks until the reload
// is applied, or ctx ends, and must be called while Run runs.
func (d *Daemon) Reload(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case d.reloads <- done:
	case <-d.stopped:
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run, called once, runs the clusters, the signal handling and the added
// actors until ctx ends or SIGINT/SIGTERM arrives (then every cluster
// stops, each after its running failover), or, with a single cluster,
// until its manager ends. With a single cluster it returns that manager's outcome (MHA's exit
// codes in an *ExitError); in daemon mode nil after a stop.
func (d *Daemon) Run(ctx context.Context) error {
	if d.opts.Start.CheckOnly {
		return d.checkOnly(ctx)
	}
	var g group
	var supErr error
	supCtx, supCancel := context.WithCancel(ctx)
	g.add(func() error {
		defer close(d.stopped)
		supErr = d.supervise(supCtx)
		return supErr
	}, func(error) { supCancel() })

	sigs := d.signals
	if sigs == nil {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		if !d.opts.ExitAfterFailover {
			// masterha_manager keeps MHA's contract: SIGHUP ends it, as
			// Perl's default does.
			signal.Notify(ch, syscall.SIGHUP)
		}
		defer signal.Stop(ch)
		sigs = ch
	}
	sigCtx, sigCancel := context.WithCancel(ctx)
	g.add(func() error {
		for {
			select {
			case <-sigCtx.Done():
				if ctx.Err() != nil {
					return errStopped
				}
				return nil
			case s := <-sigs:
				if s != syscall.SIGHUP {
					if !d.single {
						d.log.Info("Got terminate signal: stopping every cluster (a running failover runs to its end).", "signal", s.String())
					}
					return errStopped
				}
				d.log.Info("Got SIGHUP: reloading the configurations.")
				if err := d.Reload(sigCtx); err != nil && sigCtx.Err() == nil {
					d.log.Error("reload: some configurations were not applied", "err", err)
				}
			}
		}
	}, func(error) { sigCancel() })
	g.actors = append(g.actors, d.extra.actors...)

	err := g.run()
	switch {
	case d.single && (errors.Is(err, errStopped) || err == supErr):
		return supErr
	case errors.Is(err, errStopped):
		return nil
	}
	return err
}

// checkOnly runs --check_only for every cluster, one after the other.
func (d *Daemon) checkOnly(ctx context.Context) error {
	var failed []string
	for _, c := range d.initial {
		if err := c.run(ctx); err != nil {
			if d.single {
				return err
			}
			failed = append(failed, c.cfg.App)
		}
	}
	if len(failed) > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("check failed for %s", strings.Join(failed, ", "))}
	}
	return nil
}

// found is one configuration file read: its cluster's configuration and a
// digest of the files it was read from.
type found struct {
	conf   string
	cfg    *config.Config
	digest [32]byte
}

// files lists the configuration files: Confs, then every *.cnf of each
// ConfDirs entry (sorted), each file once.
func (d *Daemon) files() ([]string, []error) {
	var out []string
	var errs []error
	seen := map[string]bool{}
	addFile := func(p string) {
		abs, err := filepath.Abs(p)
		if err != nil {
			errs = append(errs, err)
			return
		}
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			abs = real
		}
		if !seen[abs] {
			seen[abs] = true
			out = append(out, p)
		}
	}
	for _, c := range d.opts.Confs {
		addFile(c)
	}
	for _, dir := range d.opts.ConfDirs {
		m, err := filepath.Glob(filepath.Join(dir, "*.cnf"))
		if err == nil {
			if _, serr := os.Stat(dir); serr != nil {
				err = serr
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("--conf_dir %s: %w", dir, err))
			continue
		}
		sort.Strings(m)
		for _, p := range m {
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				addFile(p)
			}
		}
	}
	return out, errs
}

// discover reads every configuration file. It returns the files read and
// one error per file that could not be.
func (d *Daemon) discover(ctx context.Context) ([]found, []error) {
	paths, errs := d.files()
	var out []found
	for _, p := range paths {
		cfg, err := LoadConfig(ctx, p, d.opts.GlobalConf, d.opts.Stderr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, found{conf: p, cfg: cfg, digest: digest(p, d.opts.GlobalConf)})
	}
	return out, errs
}

// digest fingerprints the files a configuration is read from: a reload
// restarts a cluster whose digest changed.
func digest(conf, global string) [32]byte {
	h := sha256.New()
	for _, p := range []string{conf, global} {
		b, _ := os.ReadFile(p)
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// duplicates refuses two files with the same application name, or whose
// state files (<manager_workdir>/<app>.*) would be the same.
func duplicates(fs []found, fo FailoverOptions) error {
	var errs []error
	byApp := map[string]string{}
	byState := map[string]string{}
	for _, f := range fs {
		app := f.cfg.App
		if other, ok := byApp[app]; ok {
			errs = append(errs, fmt.Errorf("%w: %s and %s have the same application name %q (each cluster needs its own file name)", ErrDuplicate, other, f.conf, app))
			continue
		}
		byApp[app] = f.conf
		state := filepath.Clean(statefile.HealthPath(fo.WorkdirOf(f.cfg), app))
		if other, ok := byState[state]; ok {
			errs = append(errs, fmt.Errorf("%w: %s and %s would share the state file %s (set another manager_workdir)", ErrDuplicate, other, f.conf, state))
			continue
		}
		byState[state] = f.conf
	}
	return errors.Join(errs...)
}

// cluster makes the manager of one file.
func (d *Daemon) cluster(f found) *cluster {
	d.mu.Lock()
	b := d.boards[f.conf]
	if b == nil {
		b = newStatusBoard(f.cfg.App, f.conf, d.opts.Metrics)
		d.boards[f.conf] = b
	}
	d.shown[f.conf] = true
	d.secrets[f.conf] = httpapi.SecretsOf(f.cfg)
	d.mu.Unlock()
	return &cluster{conf: f.conf, global: d.opts.GlobalConf, cfg: f.cfg, digest: f.digest,
		start: d.opts.Start, fo: d.opts.Failover, exitAfterFailover: d.opts.ExitAfterFailover,
		stdout: d.opts.Stdout, stderr: d.opts.Stderr, tools: d.opts.Tools, status: b, lock: d.opts.Lock, log: d.log}
}

// LoadConfig reads and validates an application configuration; warnings
// go to stderr. Errors are *ExitError with code 1.
func LoadConfig(ctx context.Context, conf, global string, stderr io.Writer) (*config.Config, error) {
	cfg, err := config.Load(ctx, config.LoadOptions{AppFile: conf, GlobalFile: global})
	if err != nil {
		return nil, &ExitError{Code: 1, Err: fmt.Errorf("configuration: %w", err)}
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	return cfg, nil
}

// running is one cluster's manager as the supervisor tracks it.
type running struct {
	c      *cluster
	cancel context.CancelFunc
	// done is closed when its goroutine has ended.
	done chan struct{}
	// retired is set when a reload stopped or replaced it.
	retired bool
	err     error
}

// supervise runs the clusters: it starts them, applies reloads, and on
// ctx's end stops them and waits for each (a running failover ends
// first). In single mode it returns when the one cluster's manager ends,
// with its outcome.
func (d *Daemon) supervise(ctx context.Context) error {
	runs := map[string]*running{} // current, by configuration file
	// retiring are the managers a reload stopped that have not ended yet
	// (a failover runs to its end): a file added back waits for them.
	retiring := map[string]*running{}
	ended := make(chan *running)
	live := 0
	launch := func(c *cluster, after *running) *running {
		c.cycleFor = d.cycleFor
		rctx, cancel := context.WithCancel(ctx)
		r := &running{c: c, cancel: cancel, done: make(chan struct{})}
		live++
		go func() {
			defer func() { ended <- r }()
			defer close(r.done)
			defer cancel()
			if after != nil {
				// A replaced manager ends first (its failover is never
				// cut short): two managers of one cluster never run.
				<-after.done
				if rctx.Err() != nil {
					return
				}
			}
			r.err = d.keepRunning(rctx, r)
		}()
		return r
	}
	for _, c := range d.initial {
		runs[c.conf] = launch(c, nil)
		if !d.single {
			d.log.Info("Cluster started.", "cluster", c.cfg.App, "conf", c.conf)
		}
	}
	// stop cancels every cluster and waits for each; it returns the
	// outcome of the last one that was not retired by a reload.
	stop := func(last error) error {
		for _, r := range runs {
			r.cancel()
		}
		for ; live > 0; live-- {
			if r := <-ended; !r.retired {
				last = r.err
			}
		}
		return last
	}
	for {
		select {
		case <-ctx.Done():
			err := stop(nil)
			if !d.single {
				err = nil
			}
			return err
		case r := <-ended:
			live--
			if r.retired {
				if retiring[r.c.conf] == r {
					delete(retiring, r.c.conf)
				}
				d.retire(r, runs)
				continue
			}
			// keepRunning returns on its own only in single mode, or when
			// ctx ended.
			err := stop(r.err)
			if !d.single {
				err = nil
			}
			return err
		case done := <-d.reloads:
			done <- d.apply(ctx, runs, retiring, launch)
		}
	}
}

// retire forgets a stopped cluster's status once it ended, unless its file
// came back.
func (d *Daemon) retire(r *running, runs map[string]*running) {
	if _, back := runs[r.c.conf]; back {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.shown[r.c.conf] = false
	delete(d.secrets, r.c.conf)
	d.opts.Metrics.RemoveCluster(r.c.cfg.App)
}

// keepRunning runs a cluster's manager; in daemon mode it starts it again
// after RestartDelay when it ends by itself, reading its file again.
func (d *Daemon) keepRunning(ctx context.Context, r *running) error {
	c := r.c
	for {
		c.status.running(true, nil)
		err := c.run(ctx)
		c.status.running(false, err)
		if ctx.Err() != nil || d.single {
			return err
		}
		d.log.Error("The cluster's manager ended; starting it again later.", "cluster", c.cfg.App, "conf", c.conf,
			"err", err, "after", d.opts.RestartDelay.String())
		for {
			sleepCtx(ctx, d.opts.RestartDelay)
			if ctx.Err() != nil {
				return err
			}
			cfg, lerr := LoadConfig(ctx, c.conf, c.global, c.stderr)
			if lerr == nil {
				next := *c
				next.cfg, next.digest = cfg, digest(c.conf, c.global)
				c = &next
				d.mu.Lock()
				d.secrets[c.conf] = httpapi.SecretsOf(cfg)
				d.mu.Unlock()
				break
			}
			d.log.Error("The cluster's configuration cannot be read; trying again later.", "cluster", c.cfg.App, "conf", c.conf, "err", lerr)
		}
	}
}

// apply carries out a reload on the running clusters.
func (d *Daemon) apply(ctx context.Context, runs, retiring map[string]*running, launch func(*cluster, *running) *running) error {
	fs, errs := d.discover(ctx)
	listed, _ := d.files()
	// A file that is listed but cannot be read keeps its cluster as it
	// was: it counts as present, unchanged.
	keep := map[string]bool{}
	for _, p := range listed {
		keep[p] = true
	}
	// The new set must hold no duplicates, with the kept clusters counted.
	set := slices.Clone(fs)
	for conf, r := range runs {
		if keep[conf] && !slices.ContainsFunc(fs, func(f found) bool { return f.conf == conf }) {
			set = append(set, found{conf: conf, cfg: r.c.cfg, digest: r.c.digest})
		}
	}
	if err := duplicates(set, d.opts.Failover); err != nil {
		return errors.Join(append(errs, fmt.Errorf("reload refused, nothing changed: %w", err))...)
	}
	for conf, r := range runs {
		if keep[conf] {
			continue
		}
		d.log.Info("Cluster removed from the configuration: stopping it (after its failover, if one runs).", "cluster", r.c.cfg.App, "conf", conf)
		r.retired = true
		r.cancel()
		delete(runs, conf)
		retiring[conf] = r
	}
	for _, f := range fs {
		r, ok := runs[f.conf]
		switch {
		case !ok:
			if d.single {
				continue
			}
			// A manager of this file stopped by an earlier reload may still
			// finish its failover: the new one starts after it.
			runs[f.conf] = launch(d.cluster(f), retiring[f.conf])
			d.log.Info("Cluster added: started.", "cluster", f.cfg.App, "conf", f.conf)
		case r.c.digest != f.digest:
			d.log.Info("Cluster configuration changed: restarting it (after its failover, if one runs).", "cluster", f.cfg.App, "conf", f.conf)
			r.retired = true
			r.cancel()
			runs[f.conf] = launch(d.cluster(f), r)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}
