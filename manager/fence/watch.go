package fence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/node/binlog"
)

// WatchOptions say which old master to watch after a failover and what to
// do when it answers again.
type WatchOptions struct {
	// Fence is how to reach it over MySQL (Name, MySQL, MySQLDialer, Log;
	// StepTimeout bounds each fencing). Only method (a) is used: a host
	// that answers MySQL again is fenced over MySQL.
	Fence Options
	// Interval is ping_interval: one probe per interval, each a MySQL
	// connect (or, while connected, a query) with the interval as its
	// deadline (at least one second). 0 means 3 seconds.
	Interval time.Duration
	// Since is the old master's binlog coordinate at the failover (the
	// failover's end point). What its binlog holds beyond it is on no
	// survivor: it is reported as errant. Zero skips the report.
	Since binlog.Pos
	// SinceGTID is its GTID position then (MariaDB gtid_binlog_pos, MySQL
	// gtid_executed), for the report; optional.
	SinceGTID string
	// OnReturn runs after the old master was fenced on its return (not
	// for a flip back to writable): it should take the virtual address off
	// it (see [HookOnReturn]). It runs in its own goroutine, so that a slow
	// hook does not delay the probes; one call at a time. An error is
	// logged and the call retried at the next probe. Nil skips it.
	OnReturn func(ctx context.Context) error
	// OnFenced receives every fencing Watch did; nil discards.
	OnFenced func(Event)
}

// Event is one fencing done by [Watch].
type Event struct {
	// Host is the old master's name.
	Host string
	// Answered is when the probe that found it reachable (or writable)
	// started; Fenced when its fencing was proven.
	Answered, Fenced time.Time
	// Flipped is set when it had been fenced and was found writable again
	// (someone, or a restart, set read_only=0) rather than answering after
	// being away.
	Flipped bool
	// Proof is what fenceSQL verified.
	Proof string
	// Errant is what it wrote after the failover's end point (zero Bytes
	// when nothing, or when WatchOptions.Since is zero).
	Errant Errant
}

// Errant describes the binlog an old master wrote after the failover's
// end point: transactions no survivor has.
type Errant struct {
	Host string
	// Since is the failover's end point on it; Now its binlog coordinate
	// when it was fenced.
	Since, Now binlog.Pos
	// Bytes is the binlog written between them, file headers of new files
	// included.
	Bytes uint64
	// SinceGTID and NowGTID are its GTID positions then and now, when known.
	SinceGTID, NowGTID string
	// Err is set when the size could not be worked out (a binlog purged or
	// reset); Bytes is then 0.
	Err error
}

// String renders the report: "db1 took 1234 bytes of binlog after
// mysql-bin.000001:4567 (now mysql-bin.000001:5801): transactions there are
// on no survivor".
func (e Errant) String() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: cannot size the binlog written after %s (now %s): %v", e.Host, e.Since, e.Now, e.Err)
	}
	if e.Bytes == 0 {
		return fmt.Sprintf("%s wrote no binlog after %s", e.Host, e.Since)
	}
	gtid := ""
	if e.SinceGTID != "" || e.NowGTID != "" {
		gtid = fmt.Sprintf("; GTID %q then, %q now", e.SinceGTID, e.NowGTID)
	}
	return fmt.Sprintf("%s took %d bytes of binlog after %s (now %s%s): transactions there are on no survivor",
		e.Host, e.Bytes, e.Since, e.Now, gtid)
}

// Positioner is implemented by sessions that can read binlog coordinates
// ([TCP]'s do); [Watch] needs it for the errant report.
type Positioner interface {
	// BinlogPosition is SHOW MASTER STATUS's coordinate.
	BinlogPosition(ctx context.Context) (binlog.Pos, error)
	// BinaryLogs is SHOW BINARY LOGS.
	BinaryLogs(ctx context.Context) ([]mysqlx.BinaryLog, error)
}

func (s *tcpSession) BinlogPosition(ctx context.Context) (binlog.Pos, error) {
	p, _, err := s.c.BinlogStatus(ctx)
	return p, err
}

func (s *tcpSession) BinaryLogs(ctx context.Context) ([]mysqlx.BinaryLog, error) {
	return s.c.BinaryLogs(ctx)
}

// ErrantBytes is how many bytes of binlog lie between since and now, given
// the server's binary logs (SHOW BINARY LOGS): the rest of since's file,
// every file after it, and now's offset into its own. 0 when now is not
// after since.
func ErrantBytes(since, now binlog.Pos, logs []mysqlx.BinaryLog) (uint64, error) {
	c, err := binlog.Compare(now, since)
	if err != nil {
		return 0, err
	}
	if c <= 0 {
		return 0, nil
	}
	if now.File == since.File {
		return now.Offset - since.Offset, nil
	}
	var total uint64
	in := false
	for _, l := range logs {
		switch {
		case l.File == since.File:
			in = true
			if l.Size < since.Offset {
				return 0, fmt.Errorf("%s is %d bytes, shorter than the end point %s", l.File, l.Size, since)
			}
			total += l.Size - since.Offset
		case l.File == now.File:
			if !in {
				return 0, fmt.Errorf("%s is no longer among the binary logs (purged?)", since.File)
			}
			return total + now.Offset, nil
		case in:
			total += l.Size
		}
	}
	if !in {
		return 0, fmt.Errorf("%s is no longer among the binary logs (purged?)", since.File)
	}
	return 0, fmt.Errorf("%s is not among the binary logs", now.File)
}

// Watch probes the old master every interval until ctx ends (then it
// returns nil). The moment it answers again it is fenced over MySQL (within
// one interval of its return), the binlog it wrote after the failover's end
// point is reported (Event.Errant, logged at error level when there is
// any), and OnReturn is called. While it stays reachable, read_only is read
// back at every probe and set again if someone or a restart turned it off.
func Watch(ctx context.Context, o WatchOptions) error {
	w := &watcher{o: o, log: o.Fence.logger().With("host", o.Fence.name(), "step", "watch")}
	w.interval = orDefault(o.Interval, 3*time.Second)
	w.dialer = o.Fence.MySQLDialer
	if w.dialer == nil {
		w.dialer = TCP{}
	}
	w.returnDone = make(chan returnResult, 1)
	defer w.disconnect()
	// The OnReturn goroutine ends with ctx (the hook is killed with it).
	defer w.wg.Wait()
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		w.probe(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// returnResult is how one OnReturn call for return number seq ended.
type returnResult struct {
	seq int
	err error
}

type watcher struct {
	o        WatchOptions
	log      *slog.Logger
	interval time.Duration
	dialer   MySQLDialer

	s        SQLSession // open while the old master answers
	fenced   bool       // fenced since it last answered
	reported binlog.Pos // the position last logged as errant

	// Returns are numbered; OnReturn has succeeded for every return up
	// to returnsDone. One call runs at a time (returnRunning), in its own
	// goroutine, and reports on returnDone.
	returns, returnsDone int
	returnRunning        bool
	returnDone           chan returnResult
	wg                   sync.WaitGroup
}

func (w *watcher) disconnect() {
	if w.s != nil {
		w.s.Close()
		w.s = nil
	}
}

// probe is one round: connect (or check the open session), fence when
// needed, call OnReturn when pending.
func (w *watcher) probe(ctx context.Context) {
	w.collectReturn()
	defer w.startReturn(ctx)
	start := time.Now()
	deadline := max(w.interval, time.Second)
	returned := false
	if w.s == nil {
		t := w.o.Fence.MySQL
		t.Timeout = deadline
		pctx, cancel := context.WithTimeout(ctx, deadline)
		s, err := w.dialer.Open(pctx, t)
		cancel()
		if err != nil {
			if w.fenced {
				w.log.Info("old master unreachable again", "err", err)
			}
			w.fenced = false
			return
		}
		w.s, returned = s, true
		w.log.Warn("old master answers again: fencing it")
	}
	flipped := false
	if !returned {
		ro, err := w.readOnly(ctx, deadline)
		if err != nil {
			w.log.Info("old master stopped answering", "err", err)
			w.disconnect()
			w.fenced = false
			return
		}
		flipped = !ro
		if flipped {
			w.log.Warn("old master is writable again: fencing it again")
		}
	}
	if returned || flipped || !w.fenced {
		proof, err := withTimeout(ctx, orDefault(w.o.Fence.StepTimeout, 10*time.Second), func(ctx context.Context) (string, error) {
			return fenceSQL(ctx, w.s)
		})
		if err != nil {
			w.log.Error("fencing the returned old master failed; retrying at the next probe", "err", err)
			if errors.Is(err, mysqlx.ErrSessionLost) {
				w.disconnect()
			}
			return
		}
		ev := Event{Host: w.o.Fence.name(), Answered: start, Fenced: time.Now(), Flipped: flipped && !returned, Proof: proof}
		ev.Errant = w.errant(ctx)
		w.log.Warn("old master fenced", "proof", proof, "after", ev.Fenced.Sub(start).Round(time.Millisecond))
		if (ev.Errant.Bytes > 0 || ev.Errant.Err != nil) && ev.Errant.Now != w.reported {
			// Once per new position: a flip fenced again without new
			// writes does not repeat the report.
			w.reported = ev.Errant.Now
			w.log.Error(ev.Errant.String(), "binlog_file", ev.Errant.Now.File, "binlog_pos", ev.Errant.Now.Offset, "gtid", ev.Errant.NowGTID)
		}
		w.fenced = true
		if returned {
			w.returns++
		}
		if w.o.OnFenced != nil {
			w.o.OnFenced(ev)
		}
	}
}

// collectReturn takes the result of a finished OnReturn call.
func (w *watcher) collectReturn() {
	select {
	case r := <-w.returnDone:
		w.returnRunning = false
		if r.err != nil {
			w.log.Error("taking the address off the returned old master failed; retrying at the next probe", "err", r.err)
			return
		}
		w.returnsDone = max(w.returnsDone, r.seq)
		w.log.Info("address taken off the returned old master")
	default:
	}
}

// startReturn starts OnReturn when a return has not been handled yet and
// no call is running.
func (w *watcher) startReturn(ctx context.Context) {
	if w.o.OnReturn == nil || w.returnRunning || w.returnsDone >= w.returns || ctx.Err() != nil {
		return
	}
	w.returnRunning = true
	seq := w.returns
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.returnDone <- returnResult{seq: seq, err: w.o.OnReturn(ctx)}
	}()
}

// readOnly reads @@global.read_only (and super_read_only where it exists)
// on the open session.
func (w *watcher) readOnly(ctx context.Context, d time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	v, err := w.s.Version(ctx)
	if err != nil {
		return false, err
	}
	q := "SELECT @@global.read_only"
	if hasSuperReadOnly(v) {
		q = "SELECT @@global.read_only AND @@global.super_read_only"
	}
	got, err := w.s.Value(ctx, q)
	if err != nil {
		return false, err
	}
	return got == "1", nil
}

// errant works out what the old master wrote after WatchOptions.Since.
func (w *watcher) errant(ctx context.Context) Errant {
	e := Errant{Host: w.o.Fence.name(), Since: w.o.Since, SinceGTID: w.o.SinceGTID}
	if w.o.Since.IsZero() {
		return e
	}
	p, ok := w.s.(Positioner)
	if !ok {
		e.Err = errors.New("the session cannot read binlog coordinates")
		return e
	}
	ctx, cancel := context.WithTimeout(ctx, orDefault(w.o.Fence.StepTimeout, 10*time.Second))
	defer cancel()
	now, err := p.BinlogPosition(ctx)
	if err != nil {
		e.Err = err
		return e
	}
	e.Now = now
	if v, err := w.s.Version(ctx); err == nil {
		if q := mysqlx.BinlogGTIDQuery(v); q != "" {
			e.NowGTID, _ = w.s.Value(ctx, q)
		}
	}
	if now.File != e.Since.File {
		logs, err := p.BinaryLogs(ctx)
		if err != nil {
			e.Err = err
			return e
		}
		e.Bytes, e.Err = ErrantBytes(e.Since, now, logs)
	} else {
		e.Bytes, e.Err = ErrantBytes(e.Since, now, nil)
	}
	return e
}

// HookOnReturn returns an OnReturn that runs master_ip_failover_script
// --command=stopssh for the returned old master (MHA's phase-2 line with
// SSH reachable: hooks.FailoverStopArgs), so that the hook removes the
// virtual address there. Exit 0 and 10 are success ([hooks.Result.Proceed]).
func HookOnReturn(r hooks.Runner, script string, orig hooks.Endpoint) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		res, err := r.Run(ctx, "master_ip_failover_script", script, hooks.FailoverStopArgs(orig, true))
		if err != nil {
			return err
		}
		if ok, _ := res.Proceed(); !ok {
			return fmt.Errorf("master_ip_failover_script --command=stopssh on %s: return code %s", orig.Host, res.MHACode())
		}
		return nil
	}
}
