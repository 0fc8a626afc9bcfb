package integration

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/gomha/gomha/integration/lab"
	"github.com/gomha/gomha/node/binlog"
)

// benchSpeedTrials is the number of trials per scenario of
// BenchmarkFailoverSpeed; GOMHA_BENCH_TRIALS overrides it.
const benchSpeedTrials = 5

// lagBacklog is the number of transactions a lagging replica's stopped SQL
// thread is left behind by in the lag scenario: one-row inserts, five
// binlog events each (GTID, BEGIN, table map, rows, XID), so 15k events.
const lagBacklog = 3000

// speedScenarios are issue 11's: kill -9, a pulled cable (with the fencing
// lease, which is what fences a master behind a cut without
// shutdown_script; and without it, as MHA runs, unfenced), a hung mysqld
// (SIGSTOP) and a lagging candidate.
func speedScenarios() []struct {
	name string
	spec speedSpec
} {
	kill := func(_ context.Context, _ *lab.Lab, m *lab.Host) error { return m.KillMariaDB() }
	return []struct {
		name string
		spec speedSpec
	}{
		{"kill", speedSpec{fault: kill}},
		{"cable+lease", speedSpec{
			extra: []string{fmt.Sprintf("fence_lease=%d", leaseSeconds)},
			fault: func(_ context.Context, _ *lab.Lab, m *lab.Host) error { return m.LinkDown() },
		}},
		{"cable (no fencing)", speedSpec{
			fault: func(_ context.Context, _ *lab.Lab, m *lab.Host) error { return m.LinkDown() },
		}},
		// keepalived owns the VIP (VRRP v3, advert_int 0.25, check interval
		// 1 s, fall 2): the same faults, for the time beside the SSH hook's.
		{"kill (keepalived VIP)", speedSpec{keepalived: true, fault: kill}},
		{"cable+lease (keepalived VIP)", speedSpec{
			keepalived: true,
			extra:      []string{fmt.Sprintf("fence_lease=%d", leaseSeconds)},
			fault:      func(_ context.Context, _ *lab.Lab, m *lab.Host) error { return m.LinkDown() },
		}},
		{"sigstop", speedSpec{
			fault: func(_ context.Context, _ *lab.Lab, m *lab.Host) error { return m.SuspendMariaDB() },
		}},
		{"lag", speedSpec{
			// db2 is the candidate, so that the failover must bring the
			// lagging replica itself to the end before opening it.
			extra:   []string{"[server2] candidate_master=1"},
			prepare: prepareLag,
			fault:   kill,
		}},
	}
}

// prepareLag first measures how long a replica's own SQL thread needs for
// lagBacklog transactions (db3: SQL thread stopped, backlog written,
// started again, timed until it has executed all it read), then leaves
// db2's SQL thread stopped behind the same backlog for the fault.
func prepareLag(ctx context.Context, l *lab.Lab, tr *failoverTrial) error {
	m, db2, db3 := l.Master(), l.Hosts[1], l.Hosts[2]
	if err := db3.StopSQLThread(ctx); err != nil {
		return err
	}
	if err := fillBacklog(ctx, m, 3_000_000_000, lagBacklog); err != nil {
		return err
	}
	if err := waitIORead(ctx, l, db3); err != nil {
		return err
	}
	start := time.Now()
	if err := db3.StartSQLThread(ctx); err != nil {
		return err
	}
	if err := waitExecuted(ctx, db3); err != nil {
		return err
	}
	tr.catchUp = time.Since(start)
	if err := db2.StopSQLThread(ctx); err != nil {
		return err
	}
	if err := fillBacklog(ctx, m, 3_100_000_000, lagBacklog); err != nil {
		return err
	}
	return waitIORead(ctx, l, db2)
}

// fillBacklog inserts n rows, one transaction each, into the load table
// through the application account, from four sessions at once.
func fillBacklog(ctx context.Context, m *lab.Host, first int64, n int) error {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr = lab.LoadUser, lab.LoadPassword, "tcp", m.Addr()
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return err
	}
	db := dbsql.OpenDB(conn)
	defer db.Close()
	const sessions = 8
	db.SetMaxOpenConns(sessions)
	errs := make(chan error, sessions)
	var wg sync.WaitGroup
	for s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := s; i < n; i += sessions {
				if _, err := db.ExecContext(ctx, "INSERT INTO "+lab.LoadTable+" (id) VALUES (?)", first+int64(i)); err != nil {
					errs <- fmt.Errorf("backlog insert on %s: %w", m.Name, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// replicaPos reads Read_Master_Log_Pos and Exec_Master_Log_Pos (with their
// files) of h.
func replicaPos(ctx context.Context, h *lab.Host) (read, exec string, err error) {
	rows, err := h.Rows(ctx, "SHOW SLAVE STATUS")
	if err != nil || len(rows) == 0 {
		return "", "", fmt.Errorf("SHOW SLAVE STATUS on %s: %v", h.Name, err)
	}
	r := rows[0]
	return r["Master_Log_File"] + ":" + r["Read_Master_Log_Pos"], r["Relay_Master_Log_File"] + ":" + r["Exec_Master_Log_Pos"], nil
}

// waitIORead waits until h's IO thread has read at least what the master
// had written when it was called.
func waitIORead(ctx context.Context, l *lab.Lab, h *lab.Host) error {
	want, err := l.Master().SQL(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return err
	}
	f := strings.Fields(want)
	if len(f) < 2 {
		return fmt.Errorf("SHOW MASTER STATUS on %s: %q", l.Master().Name, want)
	}
	off, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return fmt.Errorf("SHOW MASTER STATUS on %s: %q", l.Master().Name, want)
	}
	target := binlog.Pos{File: f[0], Offset: off}
	for {
		read, _, err := replicaPos(ctx, h)
		if err != nil {
			return err
		}
		if p, err := parsePos(read); err == nil {
			if c, err := binlog.Compare(p, target); err == nil && c >= 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s's IO thread at %s, want %s: %w", h.Name, read, target, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// parsePos reads "file:offset".
func parsePos(s string) (binlog.Pos, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return binlog.Pos{}, fmt.Errorf("position %q", s)
	}
	off, err := strconv.ParseUint(s[i+1:], 10, 64)
	return binlog.Pos{File: s[:i], Offset: off}, err
}

// waitExecuted waits until h's SQL thread has executed at least what its
// IO thread had read when it was called, polling every 20 ms.
func waitExecuted(ctx context.Context, h *lab.Host) error {
	read, _, err := replicaPos(ctx, h)
	if err != nil {
		return err
	}
	target, err := parsePos(read)
	if err != nil {
		return err
	}
	for {
		_, exec, err := replicaPos(ctx, h)
		if err != nil {
			return err
		}
		if p, err := parsePos(exec); err == nil {
			if c, err := binlog.Compare(p, target); err == nil && c >= 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s's SQL thread at %s, want %s: %w", h.Name, exec, target, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

var (
	logTime   = regexp.MustCompile(`^time=(\S+)`)
	phaseDone = regexp.MustCompile(`msg="phase done".* step="Phase (\d)[^"]*".* duration=(\S+)`)
)

// managerTimings reads, from the manager's text log, the time from fault
// to the verdict ("Master is not reachable from health checker!") and the
// phase durations by phase number.
func managerTimings(out string, fault time.Time) (time.Duration, map[string]time.Duration) {
	var detected time.Duration
	phases := map[string]time.Duration{}
	for _, line := range strings.Split(out, "\n") {
		if detected == 0 && strings.Contains(line, "Master is not reachable from health checker") {
			if m := logTime.FindStringSubmatch(line); m != nil {
				if t, err := time.Parse(time.RFC3339Nano, m[1]); err == nil {
					detected = t.Sub(fault)
				}
			}
		}
		if m := phaseDone.FindStringSubmatch(line); m != nil {
			if d, err := time.ParseDuration(strings.Trim(m[2], `"`)); err == nil {
				phases[m[1]] = d
			}
		}
	}
	return detected, phases
}

// BenchmarkFailoverSpeed is issue 11's benchmark: per scenario (kill -9, a
// pulled cable with and without the fencing lease, SIGSTOP, a lagging
// candidate 3k transactions (15k events) behind), benchSpeedTrials trials on fresh
// labs under a steady insert load (one writer through the VIP, one on the
// hosts' own addresses, every 5 ms), manager at ping_interval=1 with the
// built-in VIP hook. It prints min / median / max from the fault to the
// first acknowledged write through the VIP and on the new master, the
// median detection time and phase durations, the acknowledged writes
// lost, and for lag the median time the replica's own SQL thread needs for
// the same backlog. It reports figures and never fails on them
// (`make bench-speed`; -bench 'FailoverSpeed/kill' runs one scenario).
func BenchmarkFailoverSpeed(b *testing.B) {
	trials := benchSpeedTrials
	if n, err := strconv.Atoi(os.Getenv("GOMHA_BENCH_TRIALS")); err == nil && n > 0 {
		trials = n
	}
	type row struct {
		name    string
		results []failoverTrial
	}
	var rows []row
	for _, sc := range speedScenarios() {
		b.Run(sc.name, func(b *testing.B) {
			rw := row{name: sc.name}
			for i := range trials {
				tr := runSpeedTrial(b, sc.spec)
				b.Logf("%s trial %d: fault -> VIP write %s, new master write %s, verdict %s, phases %v, lost %d (held %d), own SQL catch-up %s",
					sc.name, i+1, ms(tr.toVIP), ms(tr.toMaster), ms(tr.detected), tr.phases, tr.lost, tr.lostHeld, ms(tr.catchUp))
				rw.results = append(rw.results, tr)
			}
			rows = append(rows, rw)
		})
	}
	var out strings.Builder
	tw := tabwriter.NewWriter(&out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\ttrials\tfault->VIP write min/median/max\tfault->new master write min/median/max\tverdict\tphase 1|2|3|4|5 medians\tlost acked (of them held by a survivor)\town SQL catch-up")
	for _, rw := range rows {
		var vip, master, det, catch []time.Duration
		phases := map[string][]time.Duration{}
		lost, held := 0, 0
		for _, tr := range rw.results {
			vip, master, det = append(vip, tr.toVIP), append(master, tr.toMaster), append(det, tr.detected)
			if tr.catchUp > 0 {
				catch = append(catch, tr.catchUp)
			}
			for k, d := range tr.phases {
				phases[k] = append(phases[k], d)
			}
			lost += tr.lost
			held += tr.lostHeld
		}
		var ph []string
		for _, k := range []string{"1", "2", "3", "4", "5"} {
			ph = append(ph, ms(median(phases[k])))
		}
		c := "-"
		if len(catch) > 0 {
			c = ms(median(catch))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%d (%d)\t%s\n", rw.name, len(rw.results), spread(vip), spread(master), ms(median(det)), strings.Join(ph, " | "), lost, held, c)
	}
	tw.Flush()
	fmt.Print("\nfailover speed (" + strconv.Itoa(trials) + " trials per scenario, ping_interval=1):\n" + out.String())
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	return ms(slices.Min(ds)) + " / " + ms(median(ds)) + " / " + ms(slices.Max(ds))
}
