package detect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/node/binlog"
)

// pingStep is one entry of a fake ping script.
type pingStep struct {
	r   PingResult
	err error // fatal ping error (lock held)
	// The timer ticks at once after an answer, unless noTick: then Run
	// waits for what the confirmation sends (or the cancellation), or
	// tickWhen: the tick comes once the log holds that text (the
	// confirmation's outcome).
	noTick   bool
	tickWhen string
	// cancel ends the test's context after this answer.
	cancel bool
	// release lets the confirmation probes answer (they wait for it, or
	// for their cancellation); peerClose reports the session closed by
	// the server after this answer.
	release, peerClose bool
	// at, when set, moves the fake monotonic clock (monitorIO.now) to it
	// before the answer.
	at time.Duration
}

// fakeIO is monitorIO from a script: pings answer from steps, which also
// say when the timer ticks; the confirmation probes answer from the
// functions once a step released them.
// When the script ends, the context is cancelled as a terminate signal
// would.
type fakeIO struct {
	cancel context.CancelFunc
	logs   *syncBuffer
	steps  []pingStep

	ssh     func(ctx context.Context) MasterHost
	replica func(ctx context.Context, srv config.Server) ReplicaProbe
	code    int   // secondary_check_script's exit code
	runErr  error // secondary_check_script could not run

	released chan struct{}
	closedCh chan struct{}

	mu      sync.Mutex
	clock   time.Duration
	pings   []string // "connect" or "ping"
	resets  []time.Duration
	args    []string
	cancels int // confirmation probes that saw their context end
	closed  bool
	tick    chan time.Time
	wg      sync.WaitGroup // tickWhen goroutines
}

func (f *fakeIO) ping(ctx context.Context, reconnect bool) (PingResult, error) {
	f.mu.Lock()
	kind := "ping"
	if reconnect {
		kind = "connect"
	}
	f.pings = append(f.pings, kind)
	if len(f.steps) == 0 {
		f.mu.Unlock()
		f.cancel()
		return PingResult{}, fmt.Errorf("detect: ping db1: %w", ctx.Err())
	}
	st := f.steps[0]
	f.steps = f.steps[1:]
	if st.at > 0 {
		f.clock = st.at
	}
	f.mu.Unlock()
	if st.cancel {
		f.cancel()
	}
	if st.release {
		close(f.released)
	}
	if st.peerClose {
		f.closedCh <- struct{}{}
	}
	switch {
	case st.tickWhen != "":
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			for !strings.Contains(f.logs.String(), st.tickWhen) {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Millisecond):
				}
			}
			select {
			case f.tick <- time.Now():
			case <-ctx.Done():
			}
		}()
	case !st.noTick:
		select {
		case f.tick <- time.Now():
		default: // a tick is already due
		}
	}
	return st.r, st.err
}

func (f *fakeIO) close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
}

func (f *fakeIO) sawCancel() {
	f.mu.Lock()
	f.cancels++
	f.mu.Unlock()
}

// wait holds a probe until a step releases it; false when its
// confirmation was cancelled first.
func (f *fakeIO) wait(ctx context.Context) bool {
	select {
	case <-f.released:
		return true
	case <-ctx.Done():
		f.sawCancel()
		return false
	}
}

func (f *fakeIO) checkMaster(ctx context.Context) MasterHost {
	if !f.wait(ctx) {
		return MasterHostOf(sshexec.Result{}, ctx.Err(), ProcessCheckTimeout)
	}
	if f.ssh == nil {
		return MasterHostOf(sshexec.Result{}, errors.New("ssh: connect: connection refused"), ProcessCheckTimeout)
	}
	return f.ssh(ctx)
}

// sshWorks is an SSH check that ran; proc is its output (ProcessCheckArgv's).
func sshWorks(proc string) func(context.Context) MasterHost {
	return func(context.Context) MasterHost {
		return MasterHostOf(sshexec.Result{Stdout: []byte(proc)}, nil, ProcessCheckTimeout)
	}
}

func (f *fakeIO) probeReplica(ctx context.Context, srv config.Server) ReplicaProbe {
	if !f.wait(ctx) {
		return ReplicaProbe{Name: srv.Hostname, SQLErr: ctx.Err().Error()}
	}
	return f.replica(ctx, srv)
}

func (f *fakeIO) peerClosed() <-chan struct{} { return f.closedCh }

func (f *fakeIO) now() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clock
}

func (f *fakeIO) secondary(_ context.Context, script string, args []string) (int, error) {
	f.mu.Lock()
	f.args = append([]string{script}, args...)
	f.mu.Unlock()
	return f.code, f.runErr
}

func (f *fakeIO) newTicker(time.Duration) ticker {
	f.tick = make(chan time.Time, 1)
	return fakeTicker{f}
}

type fakeTicker struct{ f *fakeIO }

func (t fakeTicker) C() <-chan time.Time { return t.f.tick }
func (t fakeTicker) Reset(d time.Duration) {
	t.f.mu.Lock()
	t.f.resets = append(t.f.resets, d)
	t.f.mu.Unlock()
}
func (t fakeTicker) Stop() {}

func refused(_ context.Context, srv config.Server) ReplicaProbe {
	return ReplicaProbe{Name: srv.Hostname, Replicating: true, IO: mysqlx.IOConnecting, IOErrno: 2003, IOError: "error reconnecting to master",
		Reach: ReachRefused, ReachDetail: "Connection refused"}
}

// replicating is a replica whose IO thread still receives the master's
// events: the master is alive, only the manager's link is down.
func replicating(_ context.Context, srv config.Server) ReplicaProbe {
	return ReplicaProbe{Name: srv.Hostname, Replicating: true, IO: mysqlx.IOConnected,
		ReadBefore: binlog.Pos{File: "mysql-bin.000003", Offset: 1000}, ReadAfter: binlog.Pos{File: "mysql-bin.000003", Offset: 5000},
		Reach: ReachAnswers, ReachDetail: "greeting read"}
}

var (
	pingOK   = pingStep{r: PingResult{OK: true}}
	lost     = PingResult{Errno: 2013, Err: "Lost connection to server during query"}
	refusing = PingResult{Err: "dial tcp 10.0.0.1:3306: connect: connection refused"}
)

func loopMaster() config.Server {
	return config.Server{Block: "server1", Params: config.Params{Hostname: "db1", IP: "10.0.0.1", Port: 3306,
		User: "mha", Password: "secret", SSHUser: "root", PingInterval: time.Second}}
}

// TestMonitorLoop runs Monitor.Run over the fake: the loop, its timer
// cadence, the confirmation in the background and the health states.
func TestMonitorLoop(t *testing.T) {
	tests := []struct {
		name      string
		master    func(config.Server) config.Server
		replicas  []string
		io        func(f *fakeIO)
		steps     []pingStep
		wantDead  bool
		verdict   Verdict // Master, SSHReachable, Kind, Evidence compared when wantDead
		wantErr   error   // wrapped by Run's error when not dead
		wantMsg   string  // in Run's error
		states    []State
		pings     []string // nil: not compared
		resets    []time.Duration
		logs      []string // in the log
		cancelled int      // confirmation probes cancelled; -1 not compared
		args      []string // secondary_check_script's argv
	}{
		{
			name:     "a killed master, SSH to its host down (process unknown): conclusive evidence decides before the threshold, once the restart window has passed",
			replicas: []string{"db2", "db3"},
			io:       func(f *fakeIO) { f.replica = refused },
			steps: []pingStep{pingOK, pingOK, {r: lost, at: 10 * time.Second}, {r: refusing, at: 10250 * time.Millisecond, release: true, tickWhen: "replicas probed"},
				{r: refusing, at: 13 * time.Second, noTick: true}},
			wantDead: true,
			verdict: Verdict{SSHReachable: 0, Kind: FailureRefused, Evidence: []string{
				"db2: the master's port refuses (Connection refused); IO thread Connecting (error 2003: error reconnecting to master) => master unreachable",
				"db3: the master's port refuses (Connection refused); IO thread Connecting (error 2003: error reconnecting to master) => master unreachable",
				"2 of 2 replicas cannot reach the master either, seen as refused",
				"decided after 3 failures (not 4): every replica's evidence says dead",
				"whether mysqld runs on the master's host is unknown (SSH failed): waited out the restart window",
				"failing for 3s since the first failure (at least 3s: not a restart)",
				"SSH to the master host fails"}},
			states: []State{StatePingOK, StatePingOK, StatePingFailing, StatePingFailed},
			pings:  []string{"connect", "ping", "ping", "connect", "connect"},
			resets: []time.Duration{250 * time.Millisecond},
			logs:   []string{"Got error on MySQL ping: Lost connection", "Master is not reachable from health checker! (3 consecutive failures, confirmed)"},
		},
		{
			name:     "a killed master whose host has no mysqld process left: decided at the second failure, no restart window",
			replicas: []string{"db2", "db3"},
			io:       func(f *fakeIO) { f.replica, f.ssh = refused, sshWorks("done\n") },
			steps: []pingStep{pingOK, {r: PingResult{OK: true}, peerClose: true, noTick: true},
				{r: lost, at: 10 * time.Second, release: true},
				{r: refusing, at: 10250 * time.Millisecond, noTick: true}},
			wantDead: true,
			verdict: Verdict{SSHReachable: 1, Kind: FailureRefused, Evidence: []string{
				"db2: the master's port refuses (Connection refused); IO thread Connecting (error 2003: error reconnecting to master) => master unreachable",
				"db3: the master's port refuses (Connection refused); IO thread Connecting (error 2003: error reconnecting to master) => master unreachable",
				"2 of 2 replicas cannot reach the master either, seen as refused",
				"decided after 2 failures (not 4): every replica's evidence says dead",
				"no mysqld process on the master's host: not a restart",
				"SSH to the master host works"}},
			states: []State{StatePingOK, StatePingOK, StatePingFailing, StatePingFailed},
			pings:  []string{"connect", "ping", "ping", "connect"},
			logs:   []string{"the master closed the monitoring session: pinging now", "Master is not reachable from health checker! (2 consecutive failures, confirmed)"},
		},
		{
			name:     "a restart: the server closes the session, the port refuses for 1.5 s, then answers: no failover",
			replicas: []string{"db2", "db3"},
			io:       func(f *fakeIO) { f.replica, f.ssh = refused, sshWorks("proc 4242 mariadbd\ndone\n") },
			steps: []pingStep{pingOK, {r: PingResult{OK: true}, peerClose: true, noTick: true},
				{r: lost, at: 10 * time.Second, release: true},
				{r: refusing, at: 10250 * time.Millisecond}, {r: refusing, at: 10500 * time.Millisecond},
				{r: refusing, at: 10750 * time.Millisecond}, {r: refusing, at: 11 * time.Second},
				{r: refusing, at: 11250 * time.Millisecond}, {r: refusing, at: 11500 * time.Millisecond, tickWhen: "replicas probed"},
				{r: PingResult{OK: true}, at: 11750 * time.Millisecond}, {r: PingResult{OK: true}, at: 12750 * time.Millisecond, cancel: true, noTick: true}},
			wantErr:   context.Canceled,
			cancelled: -1, // the probes may answer before the cancellation or not
			states:    []State{StatePingOK, StatePingOK, StatePingFailing, StatePingOK, StatePingOK},
			logs:      []string{"the master closed the monitoring session: pinging now", "Ping to the master works again after 7 failure(s).", "Master answers again; confirmation 1 abandoned."},
		},
		{
			name:     "evidence that is not conclusive waits for the threshold",
			replicas: []string{"db2", "db3"},
			io: func(f *fakeIO) {
				f.replica = func(ctx context.Context, srv config.Server) ReplicaProbe {
					if srv.Hostname == "db3" {
						return ReplicaProbe{Name: "db3", SQLErr: "connect: i/o timeout", SSHErr: "ssh: i/o timeout"}
					}
					return refused(ctx, srv)
				}
			},
			steps: []pingStep{pingOK, {r: lost, release: true}, {r: refusing}, {r: refusing, tickWhen: "replicas probed"},
				{r: refusing, at: 3 * time.Second, noTick: true}},
			wantDead: true,
			verdict: Verdict{SSHReachable: 0, Kind: FailureRefused, Evidence: []string{
				"db2: the master's port refuses (Connection refused); IO thread Connecting (error 2003: error reconnecting to master) => master unreachable",
				"db3: greeting probe not run: ssh: i/o timeout; no SQL answer (connect: i/o timeout) => no evidence",
				"1 of 2 replicas cannot reach the master either (1 gave no evidence), seen as refused",
				"whether mysqld runs on the master's host is unknown (SSH failed): waited out the restart window",
				"failing for 3s since the first failure (at least 3s: not a restart)",
				"SSH to the master host fails"}},
			states: []State{StatePingOK, StatePingFailing, StatePingFailed},
			logs:   []string{"Master is not reachable from health checker! (4 consecutive failures, confirmed)"},
		},
		{
			name:     "a pulled cable: every replica finds the host silent, the SSH check is not waited for",
			replicas: []string{"db2"},
			io: func(f *fakeIO) {
				f.replica = func(_ context.Context, srv config.Server) ReplicaProbe {
					return ReplicaProbe{Name: srv.Hostname, Replicating: true, IO: mysqlx.IOConnected, Reach: ReachSilent, ReachDetail: "no answer within 1s"}
				}
				f.ssh = func(ctx context.Context) MasterHost {
					<-ctx.Done()
					return MasterHostOf(sshexec.Result{}, ctx.Err(), ProcessCheckTimeout)
				}
			},
			steps:    []pingStep{pingOK, {r: PingResult{Timeout: true, Err: "i/o timeout"}}, {r: PingResult{Timeout: true, Err: "i/o timeout"}, release: true, noTick: true}},
			wantDead: true,
			verdict: Verdict{SSHReachable: 2, Kind: FailureSilent, Evidence: []string{
				"db2: the master's port is silent (no answer within 1s); IO thread Yes => master unreachable",
				"1 of 1 replicas cannot reach the master either, seen as silent",
				"SSH check on the master not waited for: every replica finds its host silent or unreachable (the failover checks SSH itself)",
				"decided after 2 failures (not 4): every replica's evidence says dead"}},
			states:    []State{StatePingOK, StatePingFailing, StatePingFailed},
			logs:      []string{"Got error on MySQL connect (timed out): i/o timeout"},
			cancelled: -1, // the SSH check is cut short, before or after its release
		},
		{
			name:      "a master that answers again before the confirmation: it is abandoned, monitoring goes on",
			replicas:  []string{"db2"},
			steps:     []pingStep{pingOK, {r: lost}, {r: refusing}, pingOK, pingOK, {r: PingResult{OK: true}, cancel: true, noTick: true}},
			wantErr:   context.Canceled,
			wantMsg:   "detect: monitoring db1(10.0.0.1:3306): context canceled",
			states:    []State{StatePingOK, StatePingFailing, StatePingOK, StatePingOK, StatePingOK},
			pings:     []string{"connect", "ping", "connect", "connect", "ping", "ping"},
			resets:    []time.Duration{250 * time.Millisecond, time.Second},
			logs:      []string{"Ping to the master works again after 2 failure(s).", "Master answers again; confirmation 1 abandoned."},
			cancelled: 2,
		},
		{
			name:     "the manager alone is cut off: never dead, the count is reset",
			replicas: []string{"db2", "db3"},
			io:       func(f *fakeIO) { f.replica = replicating },
			steps: []pingStep{pingOK, {r: lost, release: true}, {r: refusing}, {r: refusing}, {r: refusing, tickWhen: "failure count reset, monitoring continues"},
				{r: refusing, cancel: true, noTick: true}},
			wantErr:   context.Canceled,
			cancelled: -1, // the second confirmation may or may not have answered
			states:    []State{StatePingOK, StatePingFailing},
			logs:      []string{"Master is not confirmed dead after 4 failures", "IO thread Yes, read position advanced mysql-bin.000003:1000 -> mysql-bin.000003:5000 => master alive"},
		},
		{
			name: "secondary_check_script agrees with conclusive replicas",
			master: func(m config.Server) config.Server {
				m.SecondaryCheckScript = "masterha_secondary_check -s db9"
				return m
			},
			replicas: []string{"db2"},
			io:       func(f *fakeIO) { f.replica, f.ssh = refused, sshWorks("other 977 mariadbd\ndone\n") },
			steps:    []pingStep{pingOK, {r: refusing}, {r: refusing, at: 250 * time.Millisecond, release: true, noTick: true}},
			wantDead: true,
			verdict: Verdict{SSHReachable: 1, Kind: FailureRefused, Evidence: []string{
				"db2: the master's port refuses (Connection refused); IO thread Connecting (error 2003: error reconnecting to master) => master unreachable",
				"1 of 1 replicas cannot reach the master either, seen as refused",
				"decided after 2 failures (not 4): every replica's evidence says dead",
				"secondary_check_script: Master is not reachable from all other monitoring servers. Failover should start.",
				"no mysqld process on the master's host (1 in other network namespaces): not a restart",
				"SSH to the master host works"}},
			states: []State{StatePingOK, StatePingFailing, StatePingFailed},
			args: []string{"masterha_secondary_check -s db9", "--user=root", "--master_host=db1", "--master_ip=10.0.0.1", "--master_port=3306",
				"--master_user=mha", "--master_password=secret", "--ping_type=SELECT"},
		},
		{
			name:     "secondary_check_script that cannot run holds the failover back",
			master:   func(m config.Server) config.Server { m.SecondaryCheckScript = "/nonexistent"; return m },
			replicas: []string{"db2"},
			io:       func(f *fakeIO) { f.replica, f.runErr = refused, errors.New("exec: no such file") },
			steps: []pingStep{pingOK, {r: refusing, release: true}, {r: refusing}, {r: refusing}, {r: refusing, tickWhen: "failure count reset"},
				{r: refusing, cancel: true, noTick: true}},
			wantErr:   context.Canceled,
			cancelled: -1, // the second confirmation may or may not have answered
			states:    []State{StatePingOK, StatePingFailing},
			logs:      []string{"secondary_check_script: could not run: exec: no such file. Failover should not happen."},
		},
		{
			name:      "the server closes the session: pinged at once, not at the next tick",
			steps:     []pingStep{pingOK, {r: PingResult{OK: true}, peerClose: true, noTick: true}, {r: lost, cancel: true, noTick: true}},
			wantErr:   context.Canceled,
			states:    []State{StatePingOK, StatePingOK, StatePingFailing},
			pings:     []string{"connect", "ping", "ping"},
			resets:    []time.Duration{time.Second, 250 * time.Millisecond},
			logs:      []string{"the master closed the monitoring session: pinging now"},
			cancelled: 1, // the SSH check the failed ping started
		},
		{
			name: "the server closes the session while a ping runs on it: one failure, no extra attempt for the close",
			steps: []pingStep{pingOK, {r: lost, peerClose: true, tickWhen: "Got error on MySQL ping: Lost connection"},
				{r: refusing, cancel: true, noTick: true}},
			wantErr:   context.Canceled,
			states:    []State{StatePingOK, StatePingFailing},
			pings:     []string{"connect", "ping", "connect"},
			resets:    []time.Duration{250 * time.Millisecond},
			cancelled: 1, // the SSH check the failed ping started
		},
		{
			name:    "too many connections: alive, nothing to confirm",
			steps:   []pingStep{pingOK, {r: PingResult{Errno: 1040, Err: "Too many connections"}}, pingOK, {r: PingResult{OK: true}, cancel: true, noTick: true}},
			wantErr: context.Canceled,
			states:  []State{StatePingOK, StatePingFailing, StatePingOK, StatePingOK},
			pings:   []string{"connect", "ping", "connect", "ping"},
			logs:    []string{"Got MySQL error 1040, but this is not a MySQL crash"},
		},
		{
			name:    "another manager holds the monitor lock",
			steps:   []pingStep{{err: fmt.Errorf("detect: 10.0.0.1:3306: %w: %s", ErrLockHeld, lockHeldMsg)}},
			wantErr: ErrLockHeld,
			pings:   []string{"connect"},
		},
		{
			name:    "a terminate signal during a ping",
			steps:   []pingStep{pingOK},
			wantErr: context.Canceled, wantMsg: "detect: ping db1: context canceled",
			states: []State{StatePingOK},
			pings:  []string{"connect", "ping"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			logs := &syncBuffer{}
			f := &fakeIO{cancel: cancel, logs: logs, steps: tt.steps, released: make(chan struct{}), closedCh: make(chan struct{}, 1)}
			if tt.io != nil {
				tt.io(f)
			}
			master := loopMaster()
			if tt.master != nil {
				master = tt.master(master)
			}
			var secondary []config.Server
			for _, name := range tt.replicas {
				secondary = append(secondary, config.Server{Params: config.Params{Hostname: name}})
			}
			var states []State
			m := &Monitor{
				Config:    &config.Config{File: "app1.cnf", Servers: []config.Server{master}},
				Master:    master,
				Log:       slog.New(slog.NewTextHandler(logs, nil)),
				Secondary: secondary,
				OnState:   func(s State) { states = append(states, s) }, // Run's goroutine
				io:        f,
			}
			v, err := m.Run(ctx)
			if tt.wantDead {
				if err != nil {
					t.Fatalf("Run: %v\n%s", err, logs.String())
				}
				if v.DetectedAt.IsZero() {
					t.Error("verdict without DetectedAt")
				}
				want := tt.verdict
				want.Master = master
				got := Verdict{Master: v.Master, SSHReachable: v.SSHReachable, Kind: v.Kind, Evidence: v.Evidence}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("verdict (-want +got):\n%s", diff)
				}
				if len(v.Probes) != len(tt.replicas) {
					t.Errorf("verdict rests on %d probes, want %d", len(v.Probes), len(tt.replicas))
				}
			} else {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Run = %+v, %v; want an error wrapping %v\n%s", v, err, tt.wantErr, logs.String())
				}
				if tt.wantMsg != "" && err.Error() != tt.wantMsg {
					t.Errorf("Run error %q; want %q", err, tt.wantMsg)
				}
			}
			// Run has returned: every goroutine it started is done.
			f.wg.Wait()
			f.mu.Lock()
			defer f.mu.Unlock()
			if diff := cmp.Diff(tt.states, states); diff != "" {
				t.Errorf("states (-want +got):\n%s", diff)
			}
			if tt.pings != nil {
				if diff := cmp.Diff(tt.pings, f.pings); diff != "" {
					t.Errorf("pings (-want +got):\n%s", diff)
				}
			}
			if tt.resets != nil && !slices.Equal(tt.resets, f.resets) {
				t.Errorf("timer resets %v; want %v", f.resets, tt.resets)
			}
			for _, want := range tt.logs {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, logs.String())
				}
			}
			if tt.cancelled >= 0 && f.cancels != tt.cancelled {
				t.Errorf("%d confirmation probes cancelled; want %d", f.cancels, tt.cancelled)
			}
			if tt.args != nil {
				if diff := cmp.Diff(tt.args, f.args); diff != "" {
					t.Errorf("secondary_check_script argv (-want +got):\n%s", diff)
				}
			}
			if !f.closed {
				t.Error("the monitoring session was not closed")
			}
			if strings.Contains(logs.String(), "secret") {
				t.Error("the password reached the log")
			}
		})
	}
}

func TestMonitorInterval(t *testing.T) {
	withDefault := &config.Config{Default: config.Params{PingInterval: 2 * time.Second}}
	for _, tt := range []struct {
		name   string
		master time.Duration
		cfg    *config.Config
		want   time.Duration
	}{
		{"the server's own", time.Second, withDefault, time.Second},
		{"[server default]", 0, withDefault, 2 * time.Second},
		{"MHA's default", 0, &config.Config{}, DefaultPingInterval},
		{"no configuration", 0, nil, DefaultPingInterval},
	} {
		m := &Monitor{Config: tt.cfg, Master: config.Server{Params: config.Params{PingInterval: tt.master}}}
		if got := m.interval(); got != tt.want {
			t.Errorf("%s: interval = %s; want %s", tt.name, got, tt.want)
		}
	}
}
