package daemon

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/detect"
	"github.com/gomha/gomha/manager/failover"
	"github.com/gomha/gomha/manager/statefile"
)

// lockedBuffer is a bytes.Buffer several goroutines write.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// tickCycle is one cluster's manager life with fakes: the start-up checks
// find master (then next, after a failover), monitoring touches the health
// file every few milliseconds as a ping does, until die is closed (the
// master is confirmed dead) or ctx ends; the failover sets
// FAILOVER_RUNNING and blocks until gate is closed, whatever its context
// says.
type tickCycle struct {
	health       healthFile
	master, next config.Server
	die          chan struct{}
	gate         chan struct{}
	// failing is closed when the failover has started.
	failing chan struct{}

	startups, ticks atomic.Int64
	// failoverCtxErr is the failover context's error when the gate opened.
	failoverCtxErr atomic.Value
	failedOverOnce sync.Once
}

func newTickCycle(master, next string) *tickCycle {
	return &tickCycle{master: srv(master), next: srv(next), die: make(chan struct{}), gate: make(chan struct{}), failing: make(chan struct{})}
}

func (f *tickCycle) startup(ctx context.Context) (config.Server, []config.Server, error) {
	if f.startups.Add(1) > 1 && f.next.Hostname != "" {
		return f.next, nil, ctx.Err()
	}
	return f.master, nil, ctx.Err()
}

func (f *tickCycle) keepWarm(context.Context, []config.Server, time.Duration) {}

func (f *tickCycle) monitor(ctx context.Context, master config.Server, _ []config.Server) (detect.Verdict, error) {
	tk := time.NewTicker(2 * time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return detect.Verdict{}, ctx.Err()
		case <-f.die:
			if master.Hostname == f.master.Hostname {
				return detect.Verdict{Master: master, SSHReachable: 1}, nil
			}
		case <-tk.C:
			f.ticks.Add(1)
			_ = f.health.Set(statefile.PingOK, master.Hostname)
		}
	}
}

func (f *tickCycle) failover(ctx context.Context, dead deadMaster) (int, *failover.Result, error) {
	_ = f.health.Set(statefile.FailoverRunning, dead.srv.Hostname)
	f.failedOverOnce.Do(func() { close(f.failing) })
	<-f.gate
	f.failoverCtxErr.Store(errString(ctx.Err()))
	return 0, &failover.Result{MasterActivatedAt: time.Now(), NewMaster: f.next, Phases: []failover.Phase{{Name: "Phase 1", Duration: 12 * time.Millisecond}}}, nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (f *tickCycle) watchOld(context.Context, config.Server, *failover.Result) {}
func (f *tickCycle) failedOver(config.Server) error                            { return nil }
func (f *tickCycle) pause(ctx context.Context, d time.Duration)                { sleepCtx(ctx, d) }

// rig is a daemon on fake clusters: each configuration file's manager gets
// the next tickCycle of its application (a restart gets a new one).
type rig struct {
	t       *testing.T
	dir     string
	d       *Daemon
	sigs    chan os.Signal
	stderr  *lockedBuffer
	mu      sync.Mutex
	cycles  map[string][]*tickCycle
	runErr  chan error
	cancel  context.CancelFunc
	masters map[string][2]string
}

// writeConf writes app's configuration in dir (its own workdir below the
// rig's), with extra appended to [server default].
func (r *rig) writeConf(dir, app, extra string) string {
	r.t.Helper()
	p := filepath.Join(dir, app+".cnf")
	body := "[server default]\nmanager_workdir=" + filepath.Join(r.dir, "work", app) + "\nuser=u\npassword=p\nrepl_user=r\nrepl_password=p\n" + extra +
		"[server1]\nhostname=127.0.0.1\nport=1\n[server2]\nhostname=127.0.0.1\nport=2\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		r.t.Fatal(err)
	}
	return p
}

func newRig(t *testing.T) *rig {
	return &rig{t: t, dir: t.TempDir(), stderr: &lockedBuffer{}, cycles: map[string][]*tickCycle{}, sigs: make(chan os.Signal, 1),
		masters: map[string][2]string{}}
}

// start makes the daemon of opts and runs it.
func (r *rig) start(opts Options) {
	r.t.Helper()
	opts.GlobalConf = filepath.Join(r.dir, "none.cnf")
	opts.Stderr, opts.Stdout = r.stderr, r.stderr
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	d, err := New(ctx, opts)
	if err != nil {
		r.t.Fatalf("New: %v", err)
	}
	d.signals = r.sigs
	d.cycleFor = func(c *cluster, lc *liveCycle) cycle {
		m := r.masters[c.cfg.App]
		if m[0] == "" {
			m = [2]string{"db1", "db2"}
		}
		f := newTickCycle(m[0], m[1])
		f.health = lc.health
		r.mu.Lock()
		r.cycles[c.cfg.App] = append(r.cycles[c.cfg.App], f)
		r.mu.Unlock()
		return f
	}
	r.d = d
	r.runErr = make(chan error, 1)
	go func() { r.runErr <- d.Run(ctx) }()
	r.t.Cleanup(func() {
		cancel()
		select {
		case <-r.runErr:
		case <-time.After(10 * time.Second):
			r.t.Error("the daemon did not stop")
		}
	})
}

// cycle returns app's n-th manager life (0 the first), waiting for it.
func (r *rig) cycle(app string, n int) *tickCycle {
	r.t.Helper()
	var f *tickCycle
	r.eventually(app+" started", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.cycles[app]) > n {
			f = r.cycles[app][n]
		}
		return f != nil
	})
	return f
}

func (r *rig) lives(app string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.cycles[app])
}

func (r *rig) eventually(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s; log:\n%s", what, r.stderr.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// ticking waits until app's life f pinged n more times.
func (r *rig) ticking(f *tickCycle, app string, n int64) {
	r.t.Helper()
	from := f.ticks.Load()
	r.eventually(app+" ticking", func() bool { return f.ticks.Load() >= from+n })
}

func healthOf(t *testing.T, dir, app string) string {
	t.Helper()
	_, st, master, _, err := statefile.ReadHealth(statefile.HealthPath(dir, app))
	if err != nil {
		return err.Error()
	}
	return st.String() + " " + master
}

// TestFailoverInOneClusterDoesNotStallAnother: cluster a's failover blocks;
// cluster b keeps pinging and its health file stays PING_OK and fresh;
// SIGTERM then stops b at once but waits for a's failover, whose context
// is never cancelled; the daemon exits 0.
func TestFailoverInOneClusterDoesNotStallAnother(t *testing.T) {
	r := newRig(t)
	a, b := r.writeConf(r.dir, "a", ""), r.writeConf(r.dir, "b", "")
	r.start(Options{Confs: []string{a, b}})
	fa, fb := r.cycle("a", 0), r.cycle("b", 0)
	r.ticking(fa, "a", 3)
	r.ticking(fb, "b", 3)

	close(fa.die)
	<-fa.failing
	r.ticking(fb, "b", 20) // a's failover is blocked meanwhile
	if got := healthOf(t, filepath.Join(r.dir, "work", "a"), "a"); got != "50:FAILOVER_RUNNING db1" {
		t.Errorf("a's health file: %s", got)
	}
	if got := healthOf(t, filepath.Join(r.dir, "work", "b"), "b"); got != "0:PING_OK db1" {
		t.Errorf("b's health file: %s", got)
	}
	sa, _ := r.d.Cluster("a")
	sb, ok := r.d.Cluster("b")
	if !ok || sa.State != "FAILOVER_RUNNING" || sb.State != "PING_OK" || time.Since(sb.LastPingOK) > time.Second || !sb.Running {
		t.Errorf("status a %+v\nb %+v", sa, sb)
	}

	r.sigs <- syscall.SIGTERM
	r.eventually("b stopped", func() bool { s, _ := r.d.Cluster("b"); return !s.Running })
	select {
	case err := <-r.runErr:
		t.Fatalf("the daemon returned (%v) during a's failover", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(fa.gate)
	select {
	case err := <-r.runErr:
		r.runErr <- err // for Cleanup
		if err != nil {
			t.Errorf("Run = %v; want nil after SIGTERM", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon did not stop after the failover")
	}
	if e := fa.failoverCtxErr.Load(); e != "" {
		t.Errorf("a's failover context ended: %v", e)
	}
	sa, _ = r.d.Cluster("a")
	if lf := sa.LastFailover; lf == nil || lf.Result != ResultOK || lf.OldMaster != "db1:3306" || len(lf.Phases) != 1 || lf.Phases[0].MS != 12 {
		t.Errorf("a's last failover: %+v", lf)
	}
	if _, err := os.Stat(statefile.HealthPath(filepath.Join(r.dir, "work", "b"), "b")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("b's health file left after the stop: %v", err)
	}
}

// TestReload: SIGHUP starts an added file's cluster, stops a removed
// one's, restarts a changed one's and leaves an unchanged one alone; a
// file that does not load keeps its cluster running.
func TestReload(t *testing.T) {
	r := newRig(t)
	dir := filepath.Join(r.dir, "clusters")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	changed, removed, same := r.writeConf(dir, "changed", ""), r.writeConf(dir, "removed", ""), r.writeConf(dir, "same", "")
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a cluster"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.start(Options{ConfDirs: []string{dir}})
	for _, app := range []string{"changed", "removed", "same"} {
		r.ticking(r.cycle(app, 0), app, 2)
	}
	if got := len(r.d.Clusters()); got != 3 {
		t.Fatalf("%d clusters; want 3", got)
	}
	r.writeConf(dir, "changed", "ping_interval=2\n")
	if err := os.Remove(removed); err != nil {
		t.Fatal(err)
	}
	r.writeConf(dir, "added", "")
	r.sigs <- syscall.SIGHUP

	r.ticking(r.cycle("added", 0), "added", 2)
	r.ticking(r.cycle("changed", 1), "changed", 2)
	r.eventually("removed gone", func() bool { _, ok := r.d.Cluster("removed"); return !ok })
	if _, err := os.Stat(statefile.HealthPath(filepath.Join(r.dir, "work", "removed"), "removed")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the removed cluster's health file is left: %v", err)
	}
	if n := r.lives("same"); n != 1 {
		t.Errorf("the unchanged cluster was started %d times", n)
	}
	var apps []string
	for _, s := range r.d.Clusters() {
		apps = append(apps, s.App)
	}
	if got := strings.Join(apps, ","); got != "added,changed,same" {
		t.Errorf("clusters %s", got)
	}

	// A file that no longer loads: its cluster goes on as it was.
	if err := os.WriteFile(same, []byte("[server1]\nport=notanumber\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.d.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "same.cnf") {
		t.Errorf("Reload = %v; want the bad file named", err)
	}
	r.ticking(r.cycle("same", 0), "same", 2)
	if n := r.lives("same"); n != 1 {
		t.Errorf("the cluster of a file that does not load was restarted (%d lives)", n)
	}
	_ = changed
}

// TestReloadWaitsForFailover: a cluster whose file changes during its
// failover is restarted only once the failover ended, never two managers
// of it at once, and the failover's context is not cancelled.
func TestReloadWaitsForFailover(t *testing.T) {
	r := newRig(t)
	a, b := r.writeConf(r.dir, "a", ""), r.writeConf(r.dir, "b", "")
	r.start(Options{Confs: []string{a, b}})
	fa := r.cycle("a", 0)
	r.ticking(fa, "a", 2)
	close(fa.die)
	<-fa.failing
	r.writeConf(r.dir, "a", "ping_interval=2\n")
	if err := r.d.Reload(context.Background()); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	r.ticking(r.cycle("b", 0), "b", 5)
	if n := r.lives("a"); n != 1 {
		t.Fatalf("a restarted during its failover (%d lives)", n)
	}
	close(fa.gate)
	r.ticking(r.cycle("a", 1), "a", 2)
	if e := fa.failoverCtxErr.Load(); e != "" {
		t.Errorf("a's failover context ended: %v", e)
	}
}

// TestRemovedDuringFailover: a file removed during its cluster's failover
// stops that cluster only after the failover (it is still shown until
// then); added back meanwhile, its new manager waits for the old one.
func TestRemovedDuringFailover(t *testing.T) {
	r := newRig(t)
	dir := filepath.Join(r.dir, "clusters")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	a := r.writeConf(dir, "a", "")
	r.writeConf(dir, "b", "")
	r.start(Options{ConfDirs: []string{dir}})
	fa := r.cycle("a", 0)
	r.ticking(fa, "a", 2)
	close(fa.die)
	<-fa.failing
	body, err := os.ReadFile(a)
	must(t, err)
	must(t, os.Remove(a))
	must(t, r.d.Reload(context.Background()))
	if s, ok := r.d.Cluster("a"); !ok || s.State != "FAILOVER_RUNNING" {
		t.Errorf("a during its failover, removed: %+v, %v", s, ok)
	}
	must(t, os.WriteFile(a, body, 0o600))
	must(t, r.d.Reload(context.Background()))
	r.ticking(r.cycle("b", 0), "b", 5)
	if n := r.lives("a"); n != 1 {
		t.Fatalf("a added back started beside its running failover (%d lives)", n)
	}
	close(fa.gate)
	r.ticking(r.cycle("a", 1), "a", 2)
	if s, ok := r.d.Cluster("a"); !ok || !s.Running {
		t.Errorf("a after it was added back: %+v, %v", s, ok)
	}
}

// TestDuplicateClusters: two files with one application name are refused
// at start with both named, and a reload that would add one changes
// nothing.
func TestDuplicateClusters(t *testing.T) {
	r := newRig(t)
	one, two := filepath.Join(r.dir, "one"), filepath.Join(r.dir, "two")
	for _, d := range []string{one, two} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	p1, p2 := r.writeConf(one, "app1", ""), r.writeConf(two, "app1", "")
	_, err := New(context.Background(), Options{ConfDirs: []string{one, two}, GlobalConf: filepath.Join(r.dir, "none.cnf")})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 1 || !errors.Is(err, ErrDuplicate) || !strings.Contains(err.Error(), p1) || !strings.Contains(err.Error(), p2) {
		t.Fatalf("New = %v; want exit 1 naming %s and %s", err, p1, p2)
	}
	// The same file twice is one cluster.
	if _, err := New(context.Background(), Options{Confs: []string{p1}, ConfDirs: []string{one}, GlobalConf: filepath.Join(r.dir, "none.cnf")}); err != nil {
		t.Errorf("one file named twice: %v", err)
	}

	r.start(Options{ConfDirs: []string{one}})
	r.ticking(r.cycle("app1", 0), "app1", 2)
	r.d.opts.ConfDirs = append(r.d.opts.ConfDirs, two)
	if err := r.d.Reload(context.Background()); !errors.Is(err, ErrDuplicate) {
		t.Errorf("Reload = %v; want %v", err, ErrDuplicate)
	}
	if n := r.lives("app1"); n != 1 || len(r.d.Clusters()) != 1 {
		t.Errorf("a refused reload changed the clusters: %d lives, %d clusters", n, len(r.d.Clusters()))
	}
}

// TestSingleClusterExit: one --conf keeps MHA's contract: the process
// ends with the cluster's manager, with its code (masterha_manager: after
// one failover), and a terminate signal ends it with exit 1 as before.
func TestSingleClusterExit(t *testing.T) {
	t.Run("masterha_manager exits after the failover", func(t *testing.T) {
		r := newRig(t)
		r.start(Options{Confs: []string{r.writeConf(r.dir, "app1", "")}, ExitAfterFailover: true})
		f := r.cycle("app1", 0)
		r.ticking(f, "app1", 2)
		close(f.die)
		close(f.gate)
		select {
		case err := <-r.runErr:
			r.runErr <- err
			if err != nil {
				t.Errorf("Run = %v; want nil (exit 0)", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("masterha_manager did not exit after the failover")
		}
	})
	t.Run("SIGTERM", func(t *testing.T) {
		r := newRig(t)
		r.start(Options{Confs: []string{r.writeConf(r.dir, "app1", "")}})
		r.ticking(r.cycle("app1", 0), "app1", 2)
		r.sigs <- syscall.SIGTERM
		select {
		case err := <-r.runErr:
			r.runErr <- err
			var ee *ExitError
			if !errors.As(err, &ee) || ee.Code != 1 || !errors.Is(err, context.Canceled) {
				t.Errorf("Run = %v; want exit 1 (context canceled)", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the manager did not stop")
		}
		if !strings.Contains(r.stderr.String(), "Got terminate signal. Exit.") {
			t.Errorf("log:\n%s", r.stderr.String())
		}
	})
	t.Run("SIGHUP restarts a changed file, keeps a removed one", func(t *testing.T) {
		r := newRig(t)
		conf := r.writeConf(r.dir, "app1", "")
		r.start(Options{Confs: []string{conf}})
		r.ticking(r.cycle("app1", 0), "app1", 2)
		r.writeConf(r.dir, "app1", "ping_interval=2\n")
		r.sigs <- syscall.SIGHUP
		r.ticking(r.cycle("app1", 1), "app1", 2)
		must(t, os.Remove(conf))
		if err := r.d.Reload(context.Background()); err == nil {
			t.Error("Reload of a missing --conf reported nothing")
		}
		r.ticking(r.cycle("app1", 1), "app1", 2)
		if n := r.lives("app1"); n != 2 {
			t.Errorf("%d lives; want 2", n)
		}
		select {
		case err := <-r.runErr:
			r.runErr <- err
			t.Fatalf("the manager ended: %v", err)
		default:
		}
	})
	t.Run("several clusters cannot exit after a failover", func(t *testing.T) {
		r := newRig(t)
		_, err := New(context.Background(), Options{Confs: []string{r.writeConf(r.dir, "a", ""), r.writeConf(r.dir, "b", "")}, ExitAfterFailover: true})
		if err == nil {
			t.Fatal("New accepted two clusters with ExitAfterFailover")
		}
	})
}

// TestGroup: the first actor to return interrupts the others with its
// error, and run waits for all.
func TestGroup(t *testing.T) {
	var g group
	stop := make(chan struct{})
	var interrupted []error
	var mu sync.Mutex
	boom := errors.New("boom")
	g.add(func() error { return boom }, func(err error) { mu.Lock(); interrupted = append(interrupted, err); mu.Unlock() })
	g.add(func() error { <-stop; return nil }, func(err error) {
		mu.Lock()
		interrupted = append(interrupted, err)
		mu.Unlock()
		close(stop)
	})
	if err := g.run(); err != boom {
		t.Errorf("run = %v; want boom", err)
	}
	if len(interrupted) != 2 || interrupted[0] != boom || interrupted[1] != boom {
		t.Errorf("interrupts got %v", interrupted)
	}
	var empty group
	if err := empty.run(); err != nil {
		t.Errorf("empty group: %v", err)
	}
}
