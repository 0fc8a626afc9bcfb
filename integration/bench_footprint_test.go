package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/integration/lab"
)

// BenchmarkManagerFootprint prints the manager's RSS and CPU while it
// monitors 1 cluster and 20 clusters in one process (`mha manager
// --conf_dir`), each cluster a master and a replica of their own (40
// mariadbd in one lab). Figures, not a timed test: `make bench-footprint`.
func BenchmarkManagerFootprint(b *testing.B) {
	const clusters = 20
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	l, err := lab.Start(ctx, lab.Options{Hosts: 2 * clusters, NoReplication: true})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	for i := range clusters {
		m, r := l.Hosts[2*i], l.Hosts[2*i+1]
		if err := l.ChangeMaster(ctx, r, m, false); err != nil {
			b.Fatal(err)
		}
		if _, err := m.SQL(ctx, "SET GLOBAL read_only=0"); err != nil {
			b.Fatal(err)
		}
		if _, err := r.SQL(ctx, "SET GLOBAL read_only=1"); err != nil {
			b.Fatal(err)
		}
	}
	dir := b.TempDir()
	for i := range clusters {
		conf, err := l.AppConfFor([]*lab.Host{l.Hosts[2*i], l.Hosts[2*i+1]})
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("c%02d.cnf", i+1)), []byte(conf), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	one := b.TempDir()
	if err := os.Link(filepath.Join(dir, "c01.cnf"), filepath.Join(one, "c01.cnf")); err != nil {
		b.Fatal(err)
	}
	var lines []string
	for _, run := range []struct {
		name string
		dir  string
		n    int
	}{{"1 cluster", one, 1}, {fmt.Sprintf("%d clusters", clusters), dir, clusters}} {
		rss, cpu, start := footprint(b, ctx, l, run.dir, run.n)
		lines = append(lines, fmt.Sprintf("%-12s start-up to all PING_OK %6s   RSS %5.1f MB   CPU %5.2f %% of one core (idle monitoring, 20 s)",
			run.name, start.Round(10*time.Millisecond), rss, cpu))
	}
	fmt.Print("\nmanager footprint (ping_interval=1, `mha manager --conf_dir`):\n" + strings.Join(lines, "\n") + "\n")
}

// footprint runs `mha manager --conf_dir=dir`, waits until its n clusters
// report PING_OK, lets it monitor for 20 s and returns its RSS (MB), its
// CPU use over those 20 s (% of one core) and how long the start took.
func footprint(b *testing.B, ctx context.Context, l *lab.Lab, dir string, n int) (float64, float64, time.Duration) {
	b.Helper()
	cmd := exec.CommandContext(ctx, bins.mha, "manager", "--conf_dir="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &syncWriter{w: &out}, &syncWriter{w: &out}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	for {
		ok := 0
		entries, _ := filepath.Glob(filepath.Join(l.ManagerWorkdir, "c*.master_status.health"))
		for _, e := range entries {
			if bs, _ := os.ReadFile(e); strings.Contains(string(bs), "0:PING_OK") {
				ok++
			}
		}
		if ok >= n {
			break
		}
		if time.Since(began) > 5*time.Minute {
			b.Fatalf("%d of %d clusters PING_OK after 5 min\n%s", ok, n, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	start := time.Since(began)
	for _, e := range mustGlob(b, filepath.Join(l.ManagerWorkdir, "c*.master_status.health")) {
		_ = os.Remove(e) // the next run waits for its own
	}
	t0, c0 := time.Now(), cpuTicks(b, cmd.Process.Pid)
	time.Sleep(20 * time.Second)
	t1, c1 := time.Now(), cpuTicks(b, cmd.Process.Pid)
	cpu := float64(c1-c0) / 100 / t1.Sub(t0).Seconds() * 100 // USER_HZ=100
	return rssMB(b, cmd.Process.Pid), cpu, start
}

func mustGlob(b *testing.B, pattern string) []string {
	m, err := filepath.Glob(pattern)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// cpuTicks is utime+stime of pid (/proc/pid/stat, in USER_HZ ticks).
func cpuTicks(b *testing.B, pid int) int64 {
	bs, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(bs[strings.LastIndexByte(string(bs), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// rssMB is VmRSS of pid in MB.
func rssMB(b *testing.B, pid int) float64 {
	bs, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(bs), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
