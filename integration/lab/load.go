package lab

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Load schema and account: a steady insert load with a sequence number, the
// way the failover and switch runbooks prove that nothing acknowledged is
// lost. The account has no SUPER, so read_only stops it as it stops an
// application.
const (
	LoadDB       = "gomha_load"
	LoadTable    = LoadDB + ".seq"
	LoadUser     = "app"
	LoadPassword = "app-pw"
)

// PrepareLoad creates the load table, the probe table (see StartProbers)
// and the application account on the master (all replicate) and waits
// until every replica has them.
func (l *Lab) PrepareLoad(ctx context.Context) error {
	_, err := l.Master().SQL(ctx, fmt.Sprintf(`CREATE DATABASE IF NOT EXISTS %s;
		CREATE TABLE IF NOT EXISTS %s (id BIGINT PRIMARY KEY, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB;
		CREATE TABLE IF NOT EXISTS %s (id BIGINT PRIMARY KEY, host VARCHAR(16) NOT NULL, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB;
		CREATE USER IF NOT EXISTS '%s'@'%%' IDENTIFIED BY '%s';
		GRANT SELECT, INSERT ON %s.* TO '%s'@'%%';`, LoadDB, LoadTable, ProbeTable, LoadUser, LoadPassword, LoadDB, LoadUser))
	if err != nil {
		return err
	}
	for _, h := range l.Replicas() {
		if err := l.WaitReplicaCaughtUp(ctx, h); err != nil {
			return err
		}
	}
	return nil
}

var quietDriver sync.Once

// Write is one acknowledged insert.
type Write struct {
	ID   int64
	Addr string
	At   time.Time
}

// Writer inserts rows with increasing ids, one at a time, into whichever
// address accepts them, and records every acknowledged id.
type Writer struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	acked  []Write
	errors int
	last   error
}

// StartWriter starts a writer. addrs returns the addresses to try, in order,
// for each insert (for example the VIP, or every host: only the writable
// master accepts the application account's insert). Every interval one
// insert is attempted; a failed insert is retried with the same id (a
// duplicate-key answer then means the earlier attempt was committed).
func StartWriter(ctx context.Context, addrs func() []string, interval time.Duration) *Writer {
	return StartWriterAt(ctx, 1, addrs, interval)
}

// StartWriterAt is StartWriter with ids starting at first, so that several
// writers can share the table.
func StartWriterAt(ctx context.Context, first int64, addrs func() []string, interval time.Duration) *Writer {
	// The driver logs every connection reset of a dying master to stderr;
	// the writer records errors itself.
	quietDriver.Do(func() { _ = mysql.SetLogger(log.New(io.Discard, "", 0)) })
	ctx, cancel := context.WithCancel(ctx)
	w := &Writer{cancel: cancel, done: make(chan struct{})}
	go w.loop(ctx, first, addrs, interval)
	return w
}

func (w *Writer) loop(ctx context.Context, first int64, addrs func() []string, interval time.Duration) {
	defer close(w.done)
	dbs := map[string]*sql.DB{}
	defer func() {
		for _, db := range dbs {
			db.Close()
		}
	}()
	open := func(addr string) *sql.DB {
		if db := dbs[addr]; db != nil {
			return db
		}
		c := mysql.NewConfig()
		c.User, c.Passwd, c.Net, c.Addr = LoadUser, LoadPassword, "tcp", addr
		c.Timeout, c.ReadTimeout, c.WriteTimeout = 300*time.Millisecond, time.Second, time.Second
		conn, err := mysql.NewConnector(c)
		if err != nil {
			return nil
		}
		db := sql.OpenDB(conn)
		db.SetMaxOpenConns(1)
		db.SetConnMaxIdleTime(time.Minute)
		dbs[addr] = db
		return db
	}
	id := first
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		for _, addr := range addrs() {
			db := open(addr)
			if db == nil {
				continue
			}
			ictx, cancel := context.WithTimeout(ctx, time.Second)
			_, err := db.ExecContext(ictx, "INSERT INTO "+LoadTable+" (id) VALUES (?)", id)
			cancel()
			var me *mysql.MySQLError
			if err == nil || (errors.As(err, &me) && me.Number == 1062) {
				w.mu.Lock()
				w.acked = append(w.acked, Write{ID: id, Addr: addr, At: time.Now()})
				w.mu.Unlock()
				id++
				break
			}
			w.mu.Lock()
			w.errors++
			w.last = err
			w.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Stop stops the writer and waits for its last insert to end.
func (w *Writer) Stop() {
	w.cancel()
	<-w.done
}

// Acked returns the acknowledged writes so far, in order.
func (w *Writer) Acked() []Write {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.acked)
}

// WaitAcked waits until n more writes than now were acknowledged (so a test
// knows the load really runs), or ctx ends.
func (w *Writer) WaitAcked(ctx context.Context, n int) error {
	start := len(w.Acked())
	for len(w.Acked()) < start+n {
		select {
		case <-ctx.Done():
			w.mu.Lock()
			defer w.mu.Unlock()
			return fmt.Errorf("writer: %d of %d writes acknowledged (%d errors, last: %v): %w", len(w.acked)-start, n, w.errors, w.last, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// FirstAfter returns the first acknowledged write at or after t.
func (w *Writer) FirstAfter(t time.Time) (Write, bool) {
	for _, a := range w.Acked() {
		if !a.At.Before(t) {
			return a, true
		}
	}
	return Write{}, false
}

// LongestGap returns the longest time between two consecutive acknowledged
// writes, and when it ended.
func (w *Writer) LongestGap() (time.Duration, time.Time) {
	acked := w.Acked()
	var gap time.Duration
	var end time.Time
	for i := 1; i < len(acked); i++ {
		if d := acked[i].At.Sub(acked[i-1].At); d > gap {
			gap, end = d, acked[i].At
		}
	}
	return gap, end
}

// Missing returns the acknowledged ids that host h does not have.
func (w *Writer) Missing(ctx context.Context, h *Host) ([]int64, error) {
	out, err := h.SQL(ctx, "SELECT id FROM "+LoadTable+" ORDER BY id")
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, f := range strings.Fields(out) {
		have[f] = true
	}
	var missing []int64
	for _, a := range w.Acked() {
		if !have[fmt.Sprint(a.ID)] {
			missing = append(missing, a.ID)
		}
	}
	return missing, nil
}

// Percentiles returns the minimum, median and 95th percentile of ds.
func Percentiles(ds []time.Duration) (lo, median, p95 time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	idx := func(q float64) time.Duration {
		i := int(q*float64(len(s))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(s) {
			i = len(s) - 1
		}
		return s[i]
	}
	return s[0], idx(0.5), idx(0.95)
}
