package integration

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/integration/lab"
)

// Failover benchmark sizing: kill trials (kill -9 of the master's mariadbd)
// and cable trials (the master's link set down), each on a fresh lab.
const (
	benchKillTrials  = 10
	benchCableTrials = 5
)

// failoverTrial is what one trial measured.
type failoverTrial struct {
	// toMaster and toVIP are the times from the fault to the first
	// acknowledged insert on the new master's own address and through the
	// VIP.
	toMaster, toVIP time.Duration
	// lost counts inserts acknowledged before the fault that no survivor
	// has; lostHeld those the new master lacks although a survivor had
	// them (always a bug).
	lost, lostHeld int
	// detected is the time from the fault to the manager's verdict;
	// phases the failover's phase durations by phase number ("1".."5").
	detected time.Duration
	phases   map[string]time.Duration
	// catchUp is, for the lag scenario, the time the replica's own SQL
	// thread took for a backlog of the same size (measured before the
	// fault on another replica).
	catchUp time.Duration
}

// BenchmarkFailover runs benchKillTrials kill trials and benchCableTrials
// cable trials under a steady insert load (one writer through the VIP, one
// on the hosts' own addresses, each inserting every 5 ms) with the manager
// at ping_interval=1 and the built-in VIP hook, and prints per scenario the
// min / median / p95 of fault -> first successful write on the new master
// and at the VIP, and the acknowledged writes lost. It is not a timed test:
// it reports figures (run it with `make bench-failover`; b.N is ignored,
// use -benchtime 1x).
func BenchmarkFailover(b *testing.B) {
	for _, sc := range []struct {
		name   string
		trials int
		fault  func(h *lab.Host) error
	}{
		{"kill", benchKillTrials, (*lab.Host).KillMariaDB},
		{"cable", benchCableTrials, (*lab.Host).LinkDown},
	} {
		if n, err := strconv.Atoi(os.Getenv("GOMHA_BENCH_TRIALS")); err == nil && n > 0 {
			sc.trials = n // a quick look; the figures need the defaults
		}
		b.Run(sc.name, func(b *testing.B) {
			var toMaster, toVIP []time.Duration
			lost, lostHeld := 0, 0
			for i := range sc.trials {
				tr := runFailoverTrial(b, sc.fault)
				b.Logf("%s trial %d: fault -> write on new master %s, through VIP %s, lost %d (held by a survivor: %d)",
					sc.name, i+1, tr.toMaster.Round(time.Millisecond), tr.toVIP.Round(time.Millisecond), tr.lost, tr.lostHeld)
				toMaster, toVIP = append(toMaster, tr.toMaster), append(toVIP, tr.toVIP)
				lost += tr.lost
				lostHeld += tr.lostHeld
			}
			lo, med, p95 := lab.Percentiles(toMaster)
			vlo, vmed, vp95 := lab.Percentiles(toVIP)
			fmt.Printf("failover %-5s trials=%d  fault->write new master: min %s median %s p95 %s | at VIP: min %s median %s p95 %s | lost acked writes %d (held by a survivor: %d)\n",
				sc.name, sc.trials, ms(lo), ms(med), ms(p95), ms(vlo), ms(vmed), ms(vp95), lost, lostHeld)
			b.ReportMetric(float64(vmed.Milliseconds()), "median-ms-to-vip-write")
			b.ReportMetric(float64(lostHeld), "lost-held-writes")
		})
	}
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

func runFailoverTrial(b *testing.B, fault func(*lab.Host) error) failoverTrial {
	b.Helper()
	return runSpeedTrial(b, speedSpec{fault: func(_ context.Context, _ *lab.Lab, m *lab.Host) error { return fault(m) }})
}

// speedSpec shapes one failover trial: configuration lines added to the
// lab's, what to do before the fault (with the writers running), and the
// fault.
type speedSpec struct {
	// keepalived: keepalived owns the VIP (mha hook keepalived) instead of
	// the SSH VIP hook.
	keepalived bool
	extra      []string
	prepare    func(ctx context.Context, l *lab.Lab, tr *failoverTrial) error
	fault      func(ctx context.Context, l *lab.Lab, m *lab.Host) error
}

func runSpeedTrial(b *testing.B, spec speedSpec) failoverTrial {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Each trial's lab is closed at its end (lab.New would keep them all
	// until the benchmark ends).
	l, err := lab.Start(ctx, lab.Options{Hosts: 3, ExtraMyCnf: []string{"bind-address=0.0.0.0"}})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	vip, extra := vipConf(l)
	m := l.Master()
	if spec.keepalived {
		k, err := startLabKeepalived(ctx, l)
		if err != nil {
			b.Fatal(err)
		}
		vip, extra = k.VIP.Addr().String(), k.Conf(bins.mha, "--allow_unfenced")
	} else if _, err := m.Exec(ctx, "ip", "addr", "add", vip+"/24", "dev", "eth0"); err != nil {
		b.Fatal(err)
	}
	extra = append(extra, spec.extra...)
	if err := l.PrepareLoad(ctx); err != nil {
		b.Fatal(err)
	}
	conf := filepath.Join(l.Dir, "app1.cnf")
	if err := l.WriteAppConf(conf, extra...); err != nil {
		b.Fatal(err)
	}
	vipAddr := net.JoinHostPort(vip, "3306")
	var hostAddrs []string
	for _, h := range l.Hosts {
		hostAddrs = append(hostAddrs, h.Addr())
	}
	viaVIP := lab.StartWriterAt(ctx, 1_000_000_000, func() []string { return []string{vipAddr} }, 5*time.Millisecond)
	defer viaVIP.Stop()
	direct := lab.StartWriter(ctx, func() []string { return hostAddrs }, 5*time.Millisecond)
	defer direct.Stop()
	// Both writers insert into the same table with their own ids: the VIP
	// writer's are offset so they never collide.
	for _, w := range []*lab.Writer{viaVIP, direct} {
		if err := w.WaitAcked(ctx, 20); err != nil {
			b.Fatal(err)
		}
	}

	link := filepath.Join(b.TempDir(), "masterha_manager")
	if err := os.Symlink(bins.mha, link); err != nil {
		b.Fatal(err)
	}
	mgr := exec.CommandContext(ctx, link, "--conf="+conf)
	out := &syncWriter{w: &bytes.Buffer{}}
	mgr.Stdout, mgr.Stderr = out, out
	if err := mgr.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Wait() }()
	health := filepath.Join(l.ManagerWorkdir, "app1.master_status.health")
	for {
		if bs, _ := os.ReadFile(health); strings.Contains(string(bs), "0:PING_OK") {
			break
		}
		select {
		case err := <-done:
			b.Fatalf("manager exited at start: %v\n%s", err, out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	var tr failoverTrial
	if spec.prepare != nil {
		if err := spec.prepare(ctx, l, &tr); err != nil {
			b.Fatalf("prepare: %v\n%s", err, out)
		}
	}
	// A random phase against the ping ticks.
	time.Sleep(1000*time.Millisecond + time.Duration(time.Now().UnixNano()%1000)*time.Millisecond)
	at := time.Now()
	if err := spec.fault(ctx, l, m); err != nil {
		b.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			b.Fatalf("manager: %v\n%s", err, out)
		}
	case <-ctx.Done():
		b.Fatalf("no failover within the deadline\n%s", out)
	}
	for _, w := range []*lab.Writer{viaVIP, direct} {
		if err := w.WaitAcked(ctx, 20); err != nil {
			b.Fatalf("writes did not resume: %v\n%s", err, out)
		}
	}
	viaVIP.Stop()
	direct.Stop()
	// The new master is where the direct writer's last insert went; the
	// first insert there after the fault is when writes resumed.
	acked := direct.Acked()
	newMaster := l.HostByIP(strings.Split(acked[len(acked)-1].Addr, ":")[0])
	if newMaster == nil || newMaster == m {
		b.Fatalf("cannot tell the new master\n%s", out)
	}
	tr.detected, tr.phases = managerTimings(out.String(), at)
	if dir := os.Getenv("GOMHA_BENCH_LOGDIR"); dir != "" {
		// The manager's output of every trial, for a look at where the time went.
		name := strings.NewReplacer("/", "_", " ", "_").Replace(b.Name())
		_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.log", name, time.Now().UnixNano())), []byte(fmt.Sprintf("fault at %s\n%s", at.Format(time.RFC3339Nano), out.String())), 0o644)
	}
	for _, w := range acked {
		if w.At.After(at) && w.Addr == newMaster.Addr() {
			tr.toMaster = w.At.Sub(at)
			break
		}
	}
	// Through the VIP, writes resumed with the first insert after the
	// outage: the first one after the fault that follows a silence of more
	// than 200 ms (an insert in flight at the fault may still be acked).
	vacked := viaVIP.Acked()
	for i := 1; i < len(vacked); i++ {
		if vacked[i].At.After(at) && vacked[i].At.Sub(vacked[i-1].At) > 200*time.Millisecond {
			tr.toVIP = vacked[i].At.Sub(at)
			break
		}
	}
	// Acknowledged before the fault and missing on the new master: lost;
	// and held by a survivor all the same: a bug.
	survivorHas := map[int64]bool{}
	for _, h := range l.Hosts[1:] {
		if h == newMaster {
			continue
		}
		if err := l.WaitReplicaCaughtUp(ctx, h); err != nil {
			b.Fatal(err)
		}
	}
	for _, w := range []*lab.Writer{viaVIP, direct} {
		missing, err := w.Missing(ctx, newMaster)
		if err != nil {
			b.Fatal(err)
		}
		for _, id := range missing {
			tr.lost++
			for _, h := range l.Hosts[1:] {
				if h == newMaster {
					continue
				}
				if got, _ := h.SQL(ctx, fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE id = %d", lab.LoadTable, id)); got == "1" && !survivorHas[id] {
					survivorHas[id] = true
					tr.lostHeld++
				}
			}
		}
	}
	return tr
}
