package lab

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Probe settings: every ProbeInterval a prober sends one insert to its host,
// and gives up on it after ProbeDeadline (a hung host then costs its prober
// one attempt per deadline, never the others). Writes of one host less than
// ProbeJoin apart count as one stretch of writability (see TwoWritable).
const (
	ProbeInterval = 20 * time.Millisecond
	ProbeDeadline = 200 * time.Millisecond
	ProbeJoin     = 100 * time.Millisecond
	// ProbeTable holds the probers' rows (it replicates like any table).
	ProbeTable = LoadDB + ".probe"
)

// probeIDSpan separates the id ranges of the probers: the prober of the
// lab's i-th host (0-based) uses ids (i+1)*probeIDSpan+1, +2, ...
const probeIDSpan = 100_000_000

// Probe is one insert a prober's host acknowledged.
type Probe struct {
	// Host is the lab host's name ("db1").
	Host string
	// ID is the row's id, unique across every prober of the lab.
	ID int64
	// Sent is when the insert was sent, Acked when its OK came back: the
	// host was writable at some instant between the two.
	Sent, Acked time.Time
}

// Overlap is a stretch of time during which two different hosts both
// acknowledged writes (see TwoWritable).
type Overlap struct {
	// A and B are the two hosts, in lab order.
	A, B string
	// From and To bound the stretch.
	From, To time.Time
	// AWrites and BWrites are the writes of A and B that make it up.
	AWrites, BWrites []Probe
}

func (o Overlap) String() string {
	return fmt.Sprintf("%s and %s both writable from %s for %s (%d and %d acked writes)",
		o.A, o.B, o.From.Format("15:04:05.000"), o.To.Sub(o.From).Round(time.Millisecond), len(o.AWrites), len(o.BWrites))
}

// ProbeReport is what the probers saw.
type ProbeReport struct {
	// Hosts are the probed hosts' names, in lab order.
	Hosts []string
	// Acked holds each host's acknowledged writes, in the order sent.
	Acked map[string][]Probe
	// IDs are every acknowledged id, ascending.
	IDs []int64
	// Failed counts each host's attempts that were not acknowledged
	// (refused, read_only, timed out, no connection); LastErr is the last
	// such error per host.
	Failed  map[string]int
	LastErr map[string]string
	// TwoWritable lists every moment two different hosts took writes at
	// the same time (see TwoWritable); a correct failover leaves it empty.
	TwoWritable []Overlap
}

// FirstAckedAfter returns the first write host acknowledged that was sent
// at or after t.
func (r ProbeReport) FirstAckedAfter(host string, t time.Time) (Probe, bool) {
	for _, p := range r.Acked[host] {
		if !p.Sent.Before(t) {
			return p, true
		}
	}
	return Probe{}, false
}

// LastAcked returns the host's last acknowledged write.
func (r ProbeReport) LastAcked(host string) (Probe, bool) {
	a := r.Acked[host]
	if len(a) == 0 {
		return Probe{}, false
	}
	return a[len(a)-1], true
}

// Lost queries every given host (as root over its socket) and returns, per
// host name, the acknowledged ids it lacks. Only hosts that lack something
// appear; an empty map means every host holds every acknowledged write.
// Pass the hosts that are reachable (the survivors, or a fenced old master
// whose cable is back).
func (r ProbeReport) Lost(ctx context.Context, hosts ...*Host) (map[string][]int64, error) {
	lost := map[string][]int64{}
	for _, h := range hosts {
		have, err := h.probeIDs(ctx)
		if err != nil {
			return nil, err
		}
		for _, id := range r.IDs {
			if !have[id] {
				lost[h.Name] = append(lost[h.Name], id)
			}
		}
	}
	return lost, nil
}

// probeIDs returns the ids of the probe rows host h holds.
func (h *Host) probeIDs(ctx context.Context) (map[int64]bool, error) {
	out, err := h.SQL(ctx, "SELECT id FROM "+ProbeTable)
	if err != nil {
		return nil, fmt.Errorf("lab: probe rows on %s: %w", h.Name, err)
	}
	have := map[int64]bool{}
	for _, f := range strings.Fields(out) {
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("lab: probe rows on %s: bad id %q", h.Name, f)
		}
		have[id] = true
	}
	return have, nil
}

// TwoWritable finds the moments when two different hosts were writable at
// once, from acknowledged writes alone. A host is counted writable over a
// stretch: its acknowledged writes are joined into one stretch while each
// was sent at most join after the previous one was acknowledged, and a
// stretch runs from its first write's send to its last write's
// acknowledgement (a lone write's stretch is its own [sent, acked] window).
// Two hosts were writable at the same time when stretches of theirs
// overlap: a write of host A acknowledged while B's writes, within join of
// each other, were being acknowledged before and after it; or two writes
// whose windows overlap. Every overlapping pair of stretches gives one
// Overlap, bounded by the intersection of the two stretches.
//
// With probers writing every 20 ms and join = 100 ms, a master that keeps
// taking writes is one stretch, and a failover's outage (seconds without an
// acknowledgement anywhere) separates the old master's stretch from the new
// one's; only two hosts acknowledging writes in the same 100 ms make an
// Overlap.
func TwoWritable(acked map[string][]Probe, join time.Duration) []Overlap {
	type stretch struct {
		from, to time.Time
		writes   []Probe
	}
	hosts := make([]string, 0, len(acked))
	for h := range acked {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	stretches := map[string][]stretch{}
	for _, h := range hosts {
		ps := slices.Clone(acked[h])
		sort.Slice(ps, func(i, j int) bool { return ps[i].Sent.Before(ps[j].Sent) })
		var ss []stretch
		for _, p := range ps {
			if n := len(ss); n > 0 && !p.Sent.After(ss[n-1].to.Add(join)) {
				s := &ss[n-1]
				if p.Acked.After(s.to) {
					s.to = p.Acked
				}
				s.writes = append(s.writes, p)
				continue
			}
			ss = append(ss, stretch{from: p.Sent, to: p.Acked, writes: []Probe{p}})
		}
		stretches[h] = ss
	}
	var out []Overlap
	for i, a := range hosts {
		for _, b := range hosts[i+1:] {
			for _, sa := range stretches[a] {
				for _, sb := range stretches[b] {
					from, to := sa.from, sa.to
					if sb.from.After(from) {
						from = sb.from
					}
					if sb.to.Before(to) {
						to = sb.to
					}
					if from.After(to) {
						continue
					}
					out = append(out, Overlap{A: a, B: b, From: from, To: to, AWrites: sa.writes, BWrites: sb.writes})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].From.Before(out[j].From) })
	return out
}

// Probers are one prober per lab host, each inserting into ProbeTable on
// its own host only, every ProbeInterval, as the application account (no
// SUPER: read_only stops it as it stops an application).
type Probers struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	hosts  []string

	mu      sync.Mutex
	acked   map[string][]Probe
	failed  map[string]int
	lastErr map[string]string
}

// StartProbers creates the load schema and the probe table when missing (on
// the lab's master, db1: call it before any fault) and starts a prober on
// every database host. Each prober connects to its host's address directly
// (never through a VIP), bounds every insert by ProbeDeadline and
// reconnects lazily after an error, so a hung or unreachable host stalls
// only its own prober. They run until Stop or until ctx ends; Report reads
// what they saw (also while they run).
func (l *Lab) StartProbers(ctx context.Context) (*Probers, error) {
	if err := l.PrepareLoad(ctx); err != nil {
		return nil, err
	}
	quietDriver.Do(func() { _ = mysql.SetLogger(log.New(io.Discard, "", 0)) })
	ctx, cancel := context.WithCancel(ctx)
	p := &Probers{cancel: cancel, acked: map[string][]Probe{}, failed: map[string]int{}, lastErr: map[string]string{}}
	for i, h := range l.Hosts {
		c := mysql.NewConfig()
		c.User, c.Passwd, c.Net, c.Addr = LoadUser, LoadPassword, "tcp", h.Addr()
		c.Timeout, c.ReadTimeout, c.WriteTimeout = ProbeDeadline, ProbeDeadline, ProbeDeadline
		conn, err := mysql.NewConnector(c)
		if err != nil {
			cancel()
			p.wg.Wait()
			return nil, fmt.Errorf("lab: prober for %s: %w", h.Name, err)
		}
		db := sql.OpenDB(conn)
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		p.hosts = append(p.hosts, h.Name)
		p.acked[h.Name] = nil
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer db.Close()
			p.loop(ctx, h.Name, db, int64(i+1)*probeIDSpan)
		}()
	}
	return p, nil
}

// loop is one host's prober.
func (p *Probers) loop(ctx context.Context, host string, db *sql.DB, base int64) {
	tick := time.NewTicker(ProbeInterval)
	defer tick.Stop()
	q := "INSERT INTO " + ProbeTable + " (id, host) VALUES (?, ?)"
	for n := int64(1); ; n++ {
		id := base + n
		ictx, cancel := context.WithTimeout(ctx, ProbeDeadline)
		sent := time.Now()
		_, err := db.ExecContext(ictx, q, id, host)
		at := time.Now()
		cancel()
		p.mu.Lock()
		if err == nil {
			p.acked[host] = append(p.acked[host], Probe{Host: host, ID: id, Sent: sent, Acked: at})
		} else if ctx.Err() == nil {
			p.failed[host]++
			p.lastErr[host] = err.Error()
		}
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Stop stops every prober and waits for their last insert to end.
func (p *Probers) Stop() {
	p.cancel()
	p.wg.Wait()
}

// Report returns what the probers saw so far, with TwoWritable computed
// with ProbeJoin.
func (p *Probers) Report() ProbeReport {
	p.mu.Lock()
	r := ProbeReport{
		Hosts:   slices.Clone(p.hosts),
		Acked:   map[string][]Probe{},
		Failed:  map[string]int{},
		LastErr: map[string]string{},
	}
	for h, ps := range p.acked {
		r.Acked[h] = slices.Clone(ps)
		for _, pr := range ps {
			r.IDs = append(r.IDs, pr.ID)
		}
	}
	for h, n := range p.failed {
		r.Failed[h] = n
	}
	for h, e := range p.lastErr {
		r.LastErr[h] = e
	}
	p.mu.Unlock()
	slices.Sort(r.IDs)
	r.TwoWritable = TwoWritable(r.Acked, ProbeJoin)
	return r
}

// WaitAcked waits until host has acknowledged n more writes than when
// called, or ctx ends.
func (p *Probers) WaitAcked(ctx context.Context, host string, n int) error {
	count := func() int {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.acked[host])
	}
	start := count()
	for count() < start+n {
		select {
		case <-ctx.Done():
			p.mu.Lock()
			defer p.mu.Unlock()
			return fmt.Errorf("lab: probers: %s acknowledged %d of %d writes (%d failed, last: %s): %w",
				host, len(p.acked[host])-start, n, p.failed[host], p.lastErr[host], ctx.Err())
		case <-time.After(ProbeInterval):
		}
	}
	return nil
}

// Summary is one line per host: acknowledged and failed writes.
func (r ProbeReport) Summary() string {
	var b strings.Builder
	for _, h := range r.Hosts {
		fmt.Fprintf(&b, "%s: %d acked, %d failed", h, len(r.Acked[h]), r.Failed[h])
		if a := r.Acked[h]; len(a) > 0 {
			fmt.Fprintf(&b, " (acked %s .. %s)", a[0].Sent.Format("15:04:05.000"), a[len(a)-1].Acked.Format("15:04:05.000"))
		}
		if e := r.LastErr[h]; e != "" {
			fmt.Fprintf(&b, "; last error: %s", e)
		}
		b.WriteString("\n")
	}
	return b.String()
}
