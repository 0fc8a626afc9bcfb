package switchover

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/repoint"
	"github.com/gomha/gomha/manager/topology"
	"github.com/gomha/gomha/node/binlog"
)

// fakeWorld is a cluster of fake servers: every call is logged in order
// ("db1 SetReadOnly true"), and a test makes any call fail or block
// through a server's on function.
type fakeWorld struct {
	mu      sync.Mutex
	calls   []string
	servers map[string]*fakeServer // by hostname
	nextID  uint64
}

func (w *fakeWorld) record(format string, args ...any) {
	w.mu.Lock()
	w.calls = append(w.calls, fmt.Sprintf(format, args...))
	w.mu.Unlock()
}

// count is how many logged calls start with prefix.
func (w *fakeWorld) count(prefix string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, c := range w.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// index is the position of the first logged call starting with prefix, -1
// when there is none.
func (w *fakeWorld) index(prefix string) int { return w.indexFrom(prefix, 0) }

// indexFrom is index among the calls from position from on.
func (w *fakeWorld) indexFrom(prefix string, from int) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := from; i < len(w.calls); i++ {
		if strings.HasPrefix(w.calls[i], prefix) {
			return i
		}
	}
	return -1
}

func (w *fakeWorld) callLog() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.calls, "\n")
}

func (w *fakeWorld) world() world {
	return world{
		survey: func(_ context.Context, cfg *config.Config, _ time.Duration, _ config.Resolver) []topology.Observation {
			var obs []topology.Observation
			for _, srv := range cfg.Servers {
				s := w.servers[srv.Hostname]
				o := topology.Observation{Server: srv}
				if s.down {
					o.Err = fmt.Errorf("dial tcp %s:%d: connect: connection refused", srv.IP, srv.Port)
				} else {
					o.State = s.state()
				}
				obs = append(obs, o)
			}
			return obs
		},
		connect: func(_ context.Context, _ *config.Config, srv config.Server, _ time.Duration) (Server, error) {
			s := w.servers[srv.Hostname]
			w.record("%s connect", s.name)
			s.mu.Lock()
			s.connects++
			refused := s.down || (s.refuseFrom > 0 && s.connects >= s.refuseFrom)
			s.mu.Unlock()
			if refused {
				return nil, fmt.Errorf("dial tcp %s:%d: connect: connection refused", srv.IP, srv.Port)
			}
			w.mu.Lock()
			w.nextID++
			id := w.nextID
			w.mu.Unlock()
			return &fakeSession{s: s, id: id}, nil
		},
		binlogStill: 10 * time.Millisecond,
		killPoll:    5 * time.Millisecond,
	}
}

// fakeServer is one server's state, shared by its sessions.
type fakeServer struct {
	w    *fakeWorld
	name string
	// down: it does not answer at all; refuseFrom: sessions from the
	// refuseFrom-th on cannot be opened (0: all can), Phase 1's survey
	// aside.
	down       bool
	refuseFrom int
	connects   int

	mu          sync.Mutex
	st          *mysqlx.State
	gtid        string // GTIDPos
	locked      bool   // FLUSH TABLES WITH READ LOCK held
	replicating bool
	source      string // "host:port" it replicates from; "" none
	busyLocks   map[string]bool
	// updates and queries are the long sessions LongThreads reports
	// without and with reads; blockers the sessions in the way of
	// read_only=1 (SetReadOnly waits until they are killed).
	updates, queries Threads
	blockers         []uint64
	moving           bool // every BinlogStatus moves the position on
	// settings are what ReplicationSettings answers; repointedWith the
	// How.Settings of the last Repoint.
	settings      repoint.Settings
	repointedWith *repoint.Settings
	counts        map[string]int
	// on is called before each call with its method and how many times it
	// was called (from 1); a non-nil error is returned by the call.
	on func(ctx context.Context, method string, n int) error
}

func (s *fakeServer) state() *mysqlx.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := *s.st
	if s.st.Replica != nil {
		rs := *s.st.Replica
		st.Replica = &rs
	}
	return &st
}

func (s *fakeServer) readOnly() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.ReadOnly
}

func (s *fakeServer) isLocked() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.locked
}

func (s *fakeServer) isReplicating() (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replicating, s.source
}

// fakeSession is one session to a fakeServer. It is lost when a statement
// of it was cut by its context, as mysqlx's sessions are.
type fakeSession struct {
	s    *fakeServer
	id   uint64
	lost bool
}

// call logs the method and runs the server's on function.
func (c *fakeSession) call(ctx context.Context, method string, args ...any) error {
	line := c.s.name + " " + method
	if len(args) > 0 {
		line += " " + strings.TrimSpace(fmt.Sprintln(args...))
	}
	c.s.w.record("%s", line)
	if c.lost {
		return fmt.Errorf("%s: %w", c.s.name, mysqlx.ErrSessionLost)
	}
	c.s.mu.Lock()
	if c.s.counts == nil {
		c.s.counts = map[string]int{}
	}
	c.s.counts[method]++
	n := c.s.counts[method]
	on := c.s.on
	c.s.mu.Unlock()
	if on != nil {
		if err := on(ctx, method, n); err != nil {
			if ctx.Err() != nil {
				c.lost = true
			}
			return err
		}
	}
	return nil
}

// blockUntilDone waits for ctx, as a statement the server keeps waiting
// does; the error is what mysqlx returns for a cut statement.
func blockUntilDone(ctx context.Context) error {
	<-ctx.Done()
	return fmt.Errorf("statement interrupted: %w", ctx.Err())
}

func (c *fakeSession) ConnectionID() uint64 { return c.id }

func (c *fakeSession) BinlogStatus(ctx context.Context) (binlog.Pos, mysqlx.Filters, error) {
	if err := c.call(ctx, "BinlogStatus"); err != nil {
		return binlog.Pos{}, mysqlx.Filters{}, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	p := c.s.st.Binlog
	if c.s.moving {
		c.s.st.Binlog.Offset += 100
	}
	return p, mysqlx.Filters{}, nil
}

func (c *fakeSession) GTIDPos(ctx context.Context, mode topology.GTIDMode) (string, error) {
	if err := c.call(ctx, "GTIDPos"); err != nil {
		return "", err
	}
	if !mode.UsesGTID() {
		return "", nil
	}
	return c.s.gtid, nil
}

func (c *fakeSession) ReadOnly(ctx context.Context) (bool, error) {
	if err := c.call(ctx, "ReadOnly"); err != nil {
		return false, err
	}
	return c.s.readOnly(), nil
}

func (c *fakeSession) SetReadOnly(ctx context.Context, on bool) error {
	if err := c.call(ctx, "SetReadOnly", on); err != nil {
		return err
	}
	if on {
		// read_only=1 waits for the sessions in its way.
		for {
			c.s.mu.Lock()
			n := len(c.s.blockers)
			c.s.mu.Unlock()
			if n == 0 {
				break
			}
			select {
			case <-ctx.Done():
				c.lost = true
				return fmt.Errorf("SET GLOBAL read_only = 1 interrupted: %w", ctx.Err())
			case <-time.After(time.Millisecond):
			}
		}
	}
	c.s.mu.Lock()
	c.s.st.ReadOnly = on
	c.s.mu.Unlock()
	return nil
}

func (c *fakeSession) FlushTables(ctx context.Context) error { return c.call(ctx, "FlushTables") }

func (c *fakeSession) SetLockWaitTimeout(ctx context.Context, secs int64) error {
	return c.call(ctx, "SetLockWaitTimeout", secs)
}

func (c *fakeSession) LockTables(ctx context.Context) error {
	if err := c.call(ctx, "LockTables"); err != nil {
		return err
	}
	c.s.mu.Lock()
	c.s.locked = true
	c.s.mu.Unlock()
	return nil
}

func (c *fakeSession) UnlockTables(ctx context.Context) error {
	if err := c.call(ctx, "UnlockTables"); err != nil {
		return err
	}
	c.s.mu.Lock()
	c.s.locked = false
	c.s.mu.Unlock()
	return nil
}

func (c *fakeSession) GetLock(ctx context.Context, name string) (bool, error) {
	if err := c.call(ctx, "GetLock", name); err != nil {
		return false, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return !c.s.busyLocks[name], nil
}

func (c *fakeSession) ReleaseLock(ctx context.Context, name string) (bool, error) {
	return true, c.call(ctx, "ReleaseLock", name)
}

func (c *fakeSession) LongThreads(ctx context.Context, secs int64, f ThreadFilter) (Threads, error) {
	if err := c.call(ctx, "LongThreads", secs, f.WithReads, f.NotWaiting); err != nil {
		return Threads{}, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	switch {
	case f.NotWaiting:
		th := Threads{Count: len(c.s.blockers), IDs: slices.Clone(c.s.blockers)}
		for _, id := range c.s.blockers {
			th.Desc += fmt.Sprintf("Id=%d Command=Query Time=%d Info=INSERT ... SELECT SLEEP(20)\n", id, secs+1)
		}
		return th, nil
	case f.WithReads:
		return c.s.queries, nil
	}
	return c.s.updates, nil
}

func (c *fakeSession) Kill(ctx context.Context, id uint64) error {
	if err := c.call(ctx, "Kill", id); err != nil {
		return err
	}
	c.s.mu.Lock()
	c.s.blockers = slices.DeleteFunc(c.s.blockers, func(b uint64) bool { return b == id })
	c.s.mu.Unlock()
	return nil
}

func (c *fakeSession) WaitForPos(ctx context.Context, pos binlog.Pos, _ time.Duration) error {
	return c.call(ctx, "WaitForPos", pos)
}

func (c *fakeSession) WaitForGTID(ctx context.Context, gtid string, _ time.Duration) error {
	return c.call(ctx, "WaitForGTID", gtid)
}

func (c *fakeSession) StopReplication(ctx context.Context) error {
	if err := c.call(ctx, "StopReplication"); err != nil {
		return err
	}
	c.s.mu.Lock()
	c.s.replicating = false
	c.s.mu.Unlock()
	return nil
}

func (c *fakeSession) StartReplication(ctx context.Context) error {
	if err := c.call(ctx, "StartReplication"); err != nil {
		return err
	}
	c.s.mu.Lock()
	c.s.replicating = true
	c.s.mu.Unlock()
	return nil
}

func (c *fakeSession) Repoint(ctx context.Context, src repoint.Source, how repoint.How) error {
	if err := c.call(ctx, "Repoint", config.HostPort(src.Host, src.Port), src.User, how.Mode, how.Pos); err != nil {
		return err
	}
	c.s.mu.Lock()
	c.s.replicating, c.s.source = true, config.HostPort(src.Host, src.Port)
	c.s.repointedWith = how.Settings
	c.s.mu.Unlock()
	return nil
}

func (c *fakeSession) ReplicationSettings(ctx context.Context) (repoint.Settings, error) {
	if err := c.call(ctx, "ReplicationSettings"); err != nil {
		return repoint.Settings{}, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.s.settings, nil
}

func (c *fakeSession) SetGTIDSlavePos(ctx context.Context, gtid string) error {
	return c.call(ctx, "SetGTIDSlavePos", gtid)
}

func (c *fakeSession) ResetReplicaAll(ctx context.Context) error {
	if err := c.call(ctx, "ResetReplicaAll"); err != nil {
		return err
	}
	c.s.mu.Lock()
	c.s.source = ""
	c.s.mu.Unlock()
	return nil
}

func (c *fakeSession) Close() error { return nil }

// fakeHooks runs no script: it logs "hook stop db1->db2" (the command, the
// orig and the new master's hostname) and answers code[call], call being
// the logged words after "hook " ("start db1->db2"), or code[command].
type fakeHooks struct {
	w    *fakeWorld
	code map[string]int
	err  map[string]error
	// block makes the call (or command) wait until its context ends;
	// delay makes it take that long (less if its context ends first).
	block map[string]bool
	delay map[string]time.Duration
}

func (h fakeHooks) codeOf(call, cmd string) int {
	if c, ok := h.code[call]; ok {
		return c
	}
	return h.code[cmd]
}

func (h fakeHooks) Run(ctx context.Context, name, _ string, args []string) (hooks.Result, error) {
	arg := func(k string) string {
		for _, a := range args {
			if v, ok := strings.CutPrefix(a, "--"+k+"="); ok {
				return v
			}
		}
		return ""
	}
	cmd := arg("command")
	call := fmt.Sprintf("%s %s->%s", cmd, arg("orig_master_host"), arg("new_master_host"))
	h.w.record("hook %s", call)
	if name != HookParam {
		return hooks.Result{}, fmt.Errorf("unexpected hook %s", name)
	}
	if d := max(h.delay[call], h.delay[cmd]); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	if h.block[call] || h.block[cmd] || ctx.Err() != nil {
		<-ctx.Done()
		return hooks.Result{Code: -1, Signal: "SIGKILL"}, fmt.Errorf("hooks: %s: %w", name, context.Cause(ctx))
	}
	return hooks.Result{Code: h.codeOf(call, cmd)}, h.err[cmd]
}

// fakeWatchdog logs "watchdog stop db1", "watchdog ensure db2 db3,db1".
type fakeWatchdog struct {
	w   *fakeWorld
	err map[string]error // by operation
}

func (f fakeWatchdog) Stop(_ context.Context, srv config.Server) error {
	f.w.record("watchdog stop %s", srv.Hostname)
	return f.err["stop"]
}

func (f fakeWatchdog) Release(_ context.Context, srv config.Server) error {
	f.w.record("watchdog release %s", srv.Hostname)
	return f.err["release"]
}

func (f fakeWatchdog) Ensure(_ context.Context, master config.Server, peers []config.Server) error {
	var names []string
	for _, p := range peers {
		names = append(names, p.Hostname)
	}
	f.w.record("watchdog ensure %s %s", master.Hostname, strings.Join(names, ","))
	return f.err["ensure "+master.Hostname]
}

type fakeJournal struct {
	mu      sync.Mutex
	records []string
	details map[string]map[string]string
}

func (j *fakeJournal) Intent(step, host string, d map[string]string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.records = append(j.records, "intent "+step+" "+host)
	if j.details == nil {
		j.details = map[string]map[string]string{}
	}
	j.details[step+" "+host] = d
	return nil
}

func (j *fakeJournal) Done(step, host string, _ map[string]string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.records = append(j.records, "done "+step+" "+host)
	return nil
}

func (j *fakeJournal) has(s string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Contains(j.records, s)
}

// cluster is one test's fake cluster: db1 the master, db2.. its replicas.
type cluster struct {
	w    *fakeWorld
	cfg  *config.Config
	opts Options
	hk   *fakeHooks
	wd   *fakeWatchdog
	jr   *fakeJournal
	log  *bytes.Buffer
}

// newCluster builds db1 (master) and n replicas on file/position
// replication, everything healthy; params adjusts every server's
// configuration (nil: none).
func newCluster(t *testing.T, n int, params func(block string, p *config.Params)) *cluster {
	t.Helper()
	w := &fakeWorld{servers: map[string]*fakeServer{}}
	cfg := &config.Config{File: "/etc/app1.cnf", App: "app1"}
	version := mysqlx.Version{Raw: "10.11.19-MariaDB-log", Flavor: mysqlx.MariaDB, Major: 10, Minor: 11, Patch: 19}
	zero := int64(0)
	for i := 0; i <= n; i++ {
		name := fmt.Sprintf("db%d", i+1)
		p := config.Params{Hostname: name, IP: fmt.Sprintf("198.18.9.%d", 11+i), Port: 3306, User: "gomha",
			ReplUser: "repl", ReplPassword: "s3cret", PingInterval: 3 * time.Second,
			MasterIPOnlineChangeScript: "/usr/local/bin/online_change"}
		if params != nil {
			params(name, &p)
		}
		cfg.Servers = append(cfg.Servers, config.Server{Block: fmt.Sprintf("server%d", i+1), Line: i*10 + 1, Params: p})
		st := &mysqlx.State{Version: version, ServerID: uint32(i + 1), LogBin: true, LogSlaveUpdates: true,
			SlaveNetTimeout: 60, HeartbeatPeriod: 30, Binlog: binlog.Pos{File: "mysql-bin.000001", Offset: 9000}, DataDir: "/var/lib/mysql/"}
		s := &fakeServer{w: w, name: name, st: st, busyLocks: map[string]bool{}}
		if i > 0 {
			st.ReadOnly = true
			st.Binlog = binlog.Pos{File: "mysql-bin.000001", Offset: 328 + uint64(i)}
			st.Replica = &mysqlx.ReplicaStatus{SourceHost: "198.18.9.11", SourcePort: 3306, SourceUser: "repl",
				Read: binlog.Pos{File: "mysql-bin.000001", Offset: 9000}, Exec: binlog.Pos{File: "mysql-bin.000001", Offset: 9000},
				IORunning: "Yes", SQLRunning: true, SecondsBehind: &zero}
			s.replicating, s.source = true, "198.18.9.11:3306"
		}
		w.servers[name] = s
	}
	hk := &fakeHooks{w: w, code: map[string]int{}, err: map[string]error{}, block: map[string]bool{}, delay: map[string]time.Duration{}}
	wd := &fakeWatchdog{w: w, err: map[string]error{}}
	jr := &fakeJournal{}
	var buf bytes.Buffer
	c := &cluster{w: w, cfg: cfg, hk: hk, wd: wd, jr: jr, log: &buf}
	c.opts = Options{
		Config: cfg, NewMasterHost: "db2", RunningUpdatesLimit: DefaultRunningUpdatesLimit, RunningSecondsLimit: DefaultRunningSecondsLimit,
		MaxWriteBlock: 2 * time.Second, StepTimeout: 2 * time.Second, ReplicaTimeout: 2 * time.Second,
		Hooks: hk, Watchdog: wd, Journal: jr, world: w.world(),
		Log: slog.New(slog.NewTextHandler(&syncWriter{w: &buf}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	return c
}

// gtid turns the cluster to MariaDB GTID replication.
func (c *cluster) gtid() {
	for i := range c.cfg.Servers {
		c.cfg.Servers[i].UseGTIDAutoPos = true
	}
	for _, s := range c.w.servers {
		s.gtid = "0-1-100"
		s.st.GTID.BinlogPos = "0-1-100"
		s.st.GTID.CurrentPos = "0-1-100"
		if s.st.Replica != nil {
			s.st.Replica.UsingGTID = "Slave_Pos"
			s.st.GTID.SlavePos = "0-1-100"
		}
	}
}

func (c *cluster) server(name string) *fakeServer { return c.w.servers[name] }

func (c *cluster) run(t *testing.T) (Result, error) {
	t.Helper()
	res, err := Run(t.Context(), c.opts)
	t.Logf("err: %v", err)
	t.Logf("calls:\n%s", c.w.callLog())
	if t.Failed() || testing.Verbose() {
		t.Logf("log:\n%s", c.log.String())
	}
	return res, err
}

// syncWriter serialises the log's writes (repointing runs in parallel).
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// failOn returns an on function that fails method's nth call (0: every
// call) with err.
func failOn(method string, nth int, err error) func(context.Context, string, int) error {
	return func(_ context.Context, m string, n int) error {
		if m == method && (nth == 0 || n == nth) {
			return err
		}
		return nil
	}
}

// blockOn returns an on function that keeps method's nth call (0: every
// call) waiting until its context ends.
func blockOn(method string, nth int) func(context.Context, string, int) error {
	return func(ctx context.Context, m string, n int) error {
		if m == method && (nth == 0 || n == nth) {
			return blockUntilDone(ctx)
		}
		return nil
	}
}

var errBoom = errors.New("boom")

// plan is the plan the cluster's switch makes, from the same survey.
func (c *cluster) plan() Plan {
	obs := c.opts.world.survey(context.Background(), c.cfg, 0, nil)
	topo, rep := topology.Build(obs, topology.Options{})
	rep.Merge(topology.CheckReplHealth(topo, DefaultSecondsBehindMaster))
	return NewPlan(topo, rep, c.opts.withDefaults().planOptions())
}
