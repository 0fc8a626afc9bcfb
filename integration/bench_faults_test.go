package integration

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/gomha/gomha/integration/lab"
)

// benchFaultTrials is the number of trials per scenario;
// GOMHA_BENCH_TRIALS overrides it.
const benchFaultTrials = 5

// faultScenario is one row of the fault matrix.
type faultScenario struct {
	name string
	opts lab.Options
	// extra are configuration lines added to the lab's app1.cnf.
	extra []string
	// failover says whether the fault should make the manager fail over;
	// when false, a failover within window is a false failover.
	failover bool
	window   time.Duration
	// prepare runs before the fault (with the probers and manager running).
	prepare func(r *faultRig) error
	// fault injects the fault.
	fault func(r *faultRig) error
	// recover runs after the failover (or the window): the cable plugged
	// back, SIGCONT... It returns the further hosts whose probe rows count
	// and the async-tail bound (see faultRig.outcome).
	recover func(r *faultRig) (holders []*lab.Host, asyncTail time.Time, err error)
}

// faultTrial is what one trial measured.
type faultTrial struct {
	failedOver bool
	toWrite    time.Duration // fault -> first write acknowledged on the new master
	lost       int
	twoWrite   int
	err        error // the trial could not be measured (why)
}

// restartOldMaster is the kill scenarios' recovery: with the probers
// stopped, the old master is started again, so that everything it holds
// counts.
func restartOldMaster(r *faultRig) ([]*lab.Host, time.Time, error) {
	r.probers.Stop()
	db1 := r.l.Master()
	if err := db1.StartMariaDB(r.ctx); err != nil {
		return nil, time.Time{}, err
	}
	return []*lab.Host{db1}, time.Time{}, nil
}

func faultScenarios() []faultScenario {
	master := func(r *faultRig) *lab.Host { return r.l.Master() }
	return []faultScenario{
		{
			name: "kill", failover: true, window: 90 * time.Second,
			fault:   func(r *faultRig) error { return master(r).KillMariaDB() },
			recover: restartOldMaster,
		},
		{
			name: "cable", failover: true, window: 90 * time.Second,
			// Without shutdown_script the lease is what fences a master
			// behind a pulled cable (as in TestFaultCable).
			extra: []string{fmt.Sprintf("fence_lease=%d", leaseSeconds)},
			fault: func(r *faultRig) error { return master(r).LinkDown() },
			recover: func(r *faultRig) ([]*lab.Host, time.Time, error) {
				if err := master(r).LinkUp(); err != nil {
					return nil, time.Time{}, err
				}
				time.Sleep(5 * time.Second) // the old master's prober reaches it again
				return []*lab.Host{master(r)}, r.fault, nil
			},
		},
		{
			name: "sigstop", failover: true, window: 90 * time.Second,
			fault: func(r *faultRig) error { return master(r).SuspendMariaDB() },
			recover: func(r *faultRig) ([]*lab.Host, time.Time, error) {
				// The fencing stops a hung mysqld over SSH (SIGKILL, proven
				// gone): then there is nothing to resume, and its binlog,
				// read over SSH by the failover, is on the survivors.
				if err := master(r).ResumeMariaDB(); err != nil {
					r.t.Logf("db1's mariadbd was stopped by the fencing: %v", err)
					return nil, time.Time{}, nil
				}
				time.Sleep(5 * time.Second)
				return []*lab.Host{master(r)}, time.Time{}, nil
			},
		},
		{
			name: "manager-link-only", failover: false, window: 60 * time.Second,
			fault: func(r *faultRig) error { return master(r).CutFrom(r.ctx, r.l.Manager) },
			recover: func(r *faultRig) ([]*lab.Host, time.Time, error) {
				return nil, time.Time{}, master(r).HealFrom(r.ctx, r.l.Manager)
			},
		},
		{
			name: "lag", failover: true, window: 90 * time.Second,
			prepare: func(r *faultRig) error {
				db3 := r.l.Hosts[2]
				if err := db3.StopSQLThread(r.ctx); err != nil {
					return err
				}
				w := lab.StartWriter(r.ctx, func() []string { return []string{master(r).Addr()} }, 5*time.Millisecond)
				defer w.Stop()
				return w.WaitAcked(r.ctx, 800)
			},
			fault:   func(r *faultRig) error { return master(r).KillMariaDB() },
			recover: restartOldMaster,
		},
	}
}

// BenchmarkFaultMatrix runs every scenario of the fault matrix
// benchFaultTrials times (GOMHA_BENCH_TRIALS), each trial on a fresh lab
// with the probers on every host and the manager (ping_interval=1) in the
// manager namespace, and prints one row per scenario: trials, the median
// time from the fault to the first write acknowledged on the new master,
// the acknowledged writes lost that a reachable host held, the moments with
// two writable masters, false failovers (a failover where none was due),
// and missed failovers. It reports figures, it does not pass or fail on
// them (`make bench-faults`; -benchtime 1x; -bench 'FaultMatrix/cable'
// runs one scenario).
func BenchmarkFaultMatrix(b *testing.B) {
	trials := benchFaultTrials
	if n, err := strconv.Atoi(os.Getenv("GOMHA_BENCH_TRIALS")); err == nil && n > 0 {
		trials = n
	}
	type row struct {
		sc      faultScenario
		results []faultTrial
	}
	var rows []row
	for _, sc := range faultScenarios() {
		b.Run(sc.name, func(b *testing.B) {
			rw := row{sc: sc}
			for i := range trials {
				b.Run(fmt.Sprintf("trial%d", i+1), func(b *testing.B) {
					tr := runFaultTrial(b, sc)
					b.Logf("%s trial %d: failed over %v, fault -> write on new master %s, lost %d, two writable %d, error %v",
						sc.name, i+1, tr.failedOver, ms(tr.toWrite), tr.lost, tr.twoWrite, tr.err)
					rw.results = append(rw.results, tr)
				})
			}
			rows = append(rows, rw)
		})
	}
	var out strings.Builder
	tw := tabwriter.NewWriter(&out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\ttrials\tmedian fault->write on new master\tlost acked writes\ttwo writable masters\tfalse failovers\tmissed failovers\tunmeasured")
	for _, rw := range rows {
		var toWrite []time.Duration
		lost, two, falseFO, missed, unmeasured := 0, 0, 0, 0, 0
		for _, tr := range rw.results {
			if tr.err != nil {
				unmeasured++
				continue
			}
			lost += tr.lost
			two += tr.twoWrite
			switch {
			case tr.failedOver && !rw.sc.failover:
				falseFO++
			case !tr.failedOver && rw.sc.failover:
				missed++
			case tr.failedOver:
				toWrite = append(toWrite, tr.toWrite)
			}
		}
		med := "-"
		if len(toWrite) > 0 {
			_, m, _ := lab.Percentiles(toWrite)
			med = ms(m)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%d\t%d\n", rw.sc.name, len(rw.results), med, lost, two, falseFO, missed, unmeasured)
	}
	tw.Flush()
	fmt.Print("\nfault matrix (" + strconv.Itoa(trials) + " trials per scenario):\n" + out.String())
}

// runFaultTrial runs one trial of sc on a fresh lab (closed when the
// sub-benchmark ends). Only a lab that cannot be set up fails the
// benchmark; a trial whose aftermath cannot be read is reported with err.
func runFaultTrial(b *testing.B, sc faultScenario) (tr faultTrial) {
	b.Helper()
	r := newFaultRig(b, sc.opts, sc.extra...)
	if sc.prepare != nil {
		if err := sc.prepare(r); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(time.Duration(time.Now().UnixNano()%1000) * time.Millisecond) // a random phase against the ping ticks
	r.inject(sc.name, func() error { return sc.fault(r) })
	var nm *lab.Host
	if sc.failover {
		var err error
		nm, err = r.awaitFailover(sc.window)
		tr.failedOver = err == nil
		if err != nil {
			b.Logf("%s: %v", sc.name, err)
		}
	} else {
		_, exited := r.waitManager(time.Until(r.fault.Add(sc.window)))
		tr.failedOver = exited
		if exited {
			// A false failover: the new master is the writable replica.
			nm, _ = r.awaitFailover(time.Second)
		}
	}
	holders, tail, err := sc.recover(r)
	if err != nil {
		tr.err = err
		return tr
	}
	survivors := []*lab.Host{r.l.Master(), r.l.Hosts[1], r.l.Hosts[2]}
	if nm != nil {
		survivors = r.survivorsWith(nm)
	} else if sc.failover {
		// No failover: nothing to measure against the survivors; the
		// probers still tell whether two hosts took writes.
		r.probers.Stop()
		tr.twoWrite = len(r.probers.Report().TwoWritable)
		return tr
	}
	o, err := r.outcome(survivors, holders, tail)
	if err != nil {
		tr.err = err
		return tr
	}
	tr.lost = o.lostCount()
	tr.twoWrite = len(o.report.TwoWritable)
	if nm != nil {
		if first, ok := o.report.FirstAckedAfter(nm.Name, r.fault); ok {
			tr.toWrite = first.Acked.Sub(r.fault)
		}
	}
	return tr
}
