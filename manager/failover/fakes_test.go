package failover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/repoint"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/node/binlog"
)

// fakeWorld is a cluster of fake servers and hosts: every call is logged
// in order ("db2 Apply missing_events..."), and a server can be made to die
// at a given call.
type fakeWorld struct {
	t       *testing.T
	mu      sync.Mutex
	calls   []string
	servers map[string]*fakeServer // by block
	nodes   map[string]*fakeNode
	// binlogFile is a real binlog copied for every fetched file (combine
	// reads them).
	binlogFile string
}

func (w *fakeWorld) record(s string) {
	w.mu.Lock()
	w.calls = append(w.calls, s)
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

func (w *fakeWorld) callLog() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.calls, "\n")
}

func (w *fakeWorld) world() world {
	return world{
		connect: func(ctx context.Context, cfg *config.Config, srv config.Server, timeout time.Duration) (Server, error) {
			s := w.servers[srv.Block]
			if s == nil || s.isDead() {
				return nil, fmt.Errorf("dial tcp %s:%d: connect: connection refused", srv.IP, srv.Port)
			}
			return s, nil
		},
		sshCheck: func(ctx context.Context, srv config.Server) error { return errors.New("ssh: no route to host") },
		nodes:    fakeNodes{w},
	}
}

type fakeServer struct {
	w     *fakeWorld
	name  string
	mu    sync.Mutex
	st    *mysqlx.State
	dieOn string // method name at which it dies; "" never
	dead  bool
}

func (s *fakeServer) isDead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dead
}

// call logs method m and fails once the server is dead.
func (s *fakeServer) call(m string, args ...any) error {
	line := s.name + " " + m
	if len(args) > 0 {
		line += " " + fmt.Sprint(args...)
	}
	s.w.record(line)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dieOn == m {
		s.dead = true
	}
	if s.dead {
		return fmt.Errorf("%s: invalid connection", s.name)
	}
	return nil
}

func (s *fakeServer) Version() mysqlx.Version { return s.st.Version }

func (s *fakeServer) State(context.Context) (*mysqlx.State, error) {
	if err := s.call("State"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := *s.st
	if s.st.Replica != nil {
		rs := *s.st.Replica
		st.Replica = &rs
	}
	return &st, nil
}

func (s *fakeServer) ReplicaStatus(context.Context) (*mysqlx.ReplicaStatus, error) {
	if err := s.call("ReplicaStatus"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.Replica == nil {
		return nil, nil
	}
	if s.st.Replica.SQLRunning { // a running SQL thread catches up at once
		s.st.Replica.Exec = s.st.Replica.Read
	}
	rs := *s.st.Replica
	return &rs, nil
}

func (s *fakeServer) BinlogStatus(context.Context) (binlog.Pos, mysqlx.Filters, error) {
	if err := s.call("BinlogStatus"); err != nil {
		return binlog.Pos{}, mysqlx.Filters{}, err
	}
	return s.st.Binlog, mysqlx.Filters{}, nil
}

func (s *fakeServer) replica(f func(rs *mysqlx.ReplicaStatus)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.Replica != nil {
		f(s.st.Replica)
	}
}

func (s *fakeServer) StopIO(context.Context) error {
	if err := s.call("StopIO"); err != nil {
		return err
	}
	s.replica(func(rs *mysqlx.ReplicaStatus) { rs.IORunning = mysqlx.IOStopped })
	return nil
}

// StartSQLThread applies the whole relay log at once.
func (s *fakeServer) StartSQLThread(context.Context) error {
	if err := s.call("StartSQLThread"); err != nil {
		return err
	}
	s.replica(func(rs *mysqlx.ReplicaStatus) {
		rs.SQLRunning, rs.Exec, rs.SQLState = true, rs.Read, "Slave has read all relay log; waiting for more updates"
	})
	return nil
}

func (s *fakeServer) StopReplication(context.Context) error {
	if err := s.call("StopReplication"); err != nil {
		return err
	}
	s.replica(func(rs *mysqlx.ReplicaStatus) { rs.SQLRunning, rs.IORunning = false, mysqlx.IOStopped })
	return nil
}

func (s *fakeServer) SetReadOnly(_ context.Context, on bool) error {
	if err := s.call("SetReadOnly", on); err != nil {
		return err
	}
	s.mu.Lock()
	s.st.ReadOnly = on
	s.mu.Unlock()
	return nil
}

func (s *fakeServer) Writable(_ context.Context, fn func() error) error {
	if err := s.call("Writable"); err != nil {
		return err
	}
	return fn()
}

func (s *fakeServer) Repoint(_ context.Context, src repoint.Source, how repoint.How) error {
	return s.call("Repoint", fmt.Sprintf("%s:%d %s %s", src.Host, src.Port, how.Mode, how.Pos))
}

func (s *fakeServer) ResetReplicaAll(context.Context) error {
	if err := s.call("ResetReplicaAll"); err != nil {
		return err
	}
	s.mu.Lock()
	s.st.Replica = nil
	s.mu.Unlock()
	return nil
}

func (s *fakeServer) SetRelayLogPurge(_ context.Context, on bool) error {
	return s.call("SetRelayLogPurge", on)
}

func (s *fakeServer) GetLock(context.Context, string, time.Duration) (bool, error) {
	return true, s.call("GetLock")
}

func (s *fakeServer) ReleaseLock(context.Context, string) (bool, error) { return true, nil }
func (s *fakeServer) Close() error                                      { return nil }

type fakeNodes struct{ w *fakeWorld }

func (n fakeNodes) Get(_ context.Context, srv config.Server) (Node, error) {
	fn := n.w.nodes[srv.Block]
	if fn == nil || fn.sshErr != nil {
		err := errors.New("ssh: connection refused")
		if fn != nil {
			err = fn.sshErr
		}
		return nil, fmt.Errorf("ssh to %s: %w", srv.Hostname, err)
	}
	return fn, nil
}
func (fakeNodes) Close() {}

type fakeNode struct {
	w       *fakeWorld
	name    string
	sshErr  error
	findErr error
	// tail is what SaveTail finds after the start (zero Events: nothing).
	tail nodeResult
}

func (n *fakeNode) SaveTail(_ context.Context, start binlog.Pos, name string) (nodeResult, bool, error) {
	n.w.record(fmt.Sprintf("%s SaveTail %s", n.name, start))
	if n.tail.Events == 0 {
		return nodeResult{ExitCode: 10}, false, nil
	}
	res := n.tail
	res.OutputFile = "/remote/" + name
	return res, true, nil
}

func (n *fakeNode) Generate(_ context.Context, _ uint32, _ string, latest, target binlog.Pos, name, _ string) (nodeResult, bool, error) {
	n.w.record(fmt.Sprintf("%s Generate %s..%s", n.name, target, latest))
	return nodeResult{DiffFile: "/remote/" + name, Events: 7, Bytes: 700}, true, nil
}

func (n *fakeNode) Apply(_ context.Context, file string, _ bool, _ string) error {
	n.w.record(fmt.Sprintf("%s Apply %s", n.name, filepath.Base(file)))
	if s := n.w.servers[n.name]; s != nil {
		return s.call("ApplyClient")
	}
	return nil
}

func (n *fakeNode) Find(_ context.Context, _ string, latest, target binlog.Pos) error {
	n.w.record(fmt.Sprintf("%s Find %s", n.name, target))
	return n.findErr
}

func (n *fakeNode) TestBinlogs(context.Context, string, string) error {
	n.w.record(n.name + " TestBinlogs")
	return nil
}

func (n *fakeNode) Fetch(_ context.Context, remote, workdir string) (string, error) {
	n.w.record(n.name + " Fetch " + filepath.Base(remote))
	local := filepath.Join(workdir, filepath.Base(remote))
	in, err := os.Open(n.w.binlogFile)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.Create(local)
	if err != nil {
		return "", err
	}
	defer out.Close()
	_, err = io.Copy(out, in)
	return local, err
}

func (n *fakeNode) Put(_ context.Context, local string) (string, error) {
	n.w.record(n.name + " Put " + filepath.Base(local))
	return "/remote/" + filepath.Base(local), nil
}

// fakeHooks runs no script; onStart is called for each hook start.
type fakeHooks struct {
	w       *fakeWorld
	onStart func(args []string)
	code    map[string]int // by hook name
}

func (h fakeHooks) Run(_ context.Context, name, _ string, args []string) (hooks.Result, error) {
	cmd := ""
	for _, a := range args {
		if strings.HasPrefix(a, "--command=") {
			cmd = strings.TrimPrefix(a, "--command=")
		}
	}
	var nm string
	for _, a := range args {
		if strings.HasPrefix(a, "--new_master_host=") {
			nm = strings.TrimPrefix(a, "--new_master_host=")
		}
	}
	h.w.record(strings.TrimSpace(fmt.Sprintf("hook %s %s %s", name, cmd, nm)))
	if cmd == "start" && h.onStart != nil {
		h.onStart(args)
	}
	return hooks.Result{Code: h.code[name]}, nil
}

type fakeFencer struct {
	w   *fakeWorld
	res FenceResult
	err error
}

func (f fakeFencer) Fence(_ context.Context, old config.Server, ssh sshexec.Reach) (FenceResult, error) {
	f.w.record(fmt.Sprintf("fence %s ssh=%t", old.Hostname, ssh == sshexec.Reachable))
	return f.res, f.err
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

func (j *fakeJournal) Done(step, host string, d map[string]string) error {
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

// cluster is one test's fake cluster: db1 (dead master) and replicas.
type cluster struct {
	w    *fakeWorld
	cfg  *config.Config
	opts Options
	jr   *fakeJournal
}

// replicaSpec is one replica: its Read and Exec offsets in
// mysql-bin.000001 and its configuration.
type replicaSpec struct {
	read, exec uint64
	sqlStopped bool // its SQL thread was stopped (else it runs)
	params     func(p *config.Params)
}

func newCluster(t *testing.T, reps ...replicaSpec) *cluster {
	t.Helper()
	w := &fakeWorld{t: t, servers: map[string]*fakeServer{}, nodes: map[string]*fakeNode{},
		binlogFile: "../../node/binlog/testdata/crc32/mariadb-bin.000002"}
	cfg := &config.Config{File: "/etc/app1.cnf"}
	for i := 0; i <= len(reps); i++ {
		name := fmt.Sprintf("db%d", i+1)
		p := config.Params{Hostname: name, IP: fmt.Sprintf("198.18.9.%d", 11+i), Port: 3306,
			RemoteWorkdir: "/var/tmp", MasterBinlogDir: []string{"/var/lib/mysql"}, LatestPriority: true,
			CheckReplDelay: true, MasterIPFailoverScript: "/usr/local/bin/vip", SSHConnectionTimeout: time.Second}
		if i > 0 && reps[i-1].params != nil {
			reps[i-1].params(&p)
		}
		srv := config.Server{Block: name, Line: i*10 + 1, Params: p}
		cfg.Servers = append(cfg.Servers, srv)
		w.nodes[name] = &fakeNode{w: w, name: name}
		if i == 0 {
			continue
		}
		r := reps[i-1]
		w.servers[name] = &fakeServer{w: w, name: name, st: &mysqlx.State{
			Version:  mysqlx.Version{Raw: "10.11.19-MariaDB-log", Flavor: mysqlx.MariaDB, Major: 10, Minor: 11, Patch: 19},
			ServerID: uint32(i + 1), LogBin: true, LogSlaveUpdates: true, ReadOnly: true, SlaveNetTimeout: 60, HeartbeatPeriod: 30,
			Binlog: binlog.Pos{File: "mysql-bin.000001", Offset: 328}, DataDir: "/var/lib/mysql/",
			Replica: &mysqlx.ReplicaStatus{SourceHost: "198.18.9.11", SourcePort: 3306, SourceUser: "repl",
				Read:      binlog.Pos{File: "mysql-bin.000001", Offset: r.read},
				Exec:      binlog.Pos{File: "mysql-bin.000001", Offset: r.exec},
				IORunning: mysqlx.IOConnecting, SQLRunning: !r.sqlStopped, LastIOErrno: 2003},
		}}
	}
	jr := &fakeJournal{}
	c := &cluster{w: w, cfg: cfg, jr: jr}
	c.opts = Options{
		Config: cfg, DeadMasterHost: "db1", DeadMasterPort: 3306, SSHReachable: sshexec.Reachable,
		Workdir: t.TempDir(), Hooks: fakeHooks{w: w}, Journal: jr, StepTimeout: 5 * time.Second,
		world: w.world(),
	}
	return c
}

func (c *cluster) run(t *testing.T) *Result {
	t.Helper()
	res := Run(t.Context(), c.opts)
	t.Logf("report:\n%s", res.Report("app1"))
	t.Logf("calls:\n%s", c.w.callLog())
	return res
}
