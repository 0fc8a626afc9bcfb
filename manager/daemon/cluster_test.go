package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/detect"
	"github.com/gomha/gomha/manager/failover"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/manager/statefile"
	"github.com/gomha/gomha/manager/topology"
)

// fakeCycle plays a scripted manager life: each call takes the next entry
// of its list and is recorded in calls. An exhausted list ends the run the
// way a terminate signal does: ctx is cancelled and the call returns its
// error.
type fakeCycle struct {
	cancel    context.CancelFunc
	startups  []fakeStartup
	monitors  []fakeMonitor
	failovers []fakeFailover
	dropErr   error
	calls     []string
}

type fakeStartup struct {
	master config.Server
	err    error
}

type fakeMonitor struct {
	v   detect.Verdict
	err error
}

type fakeFailover struct {
	code int
	res  *failover.Result
	err  error
}

func (f *fakeCycle) startup(ctx context.Context) (config.Server, []config.Server, error) {
	if len(f.startups) == 0 {
		f.calls = append(f.calls, "startup (signal)")
		f.cancel()
		return config.Server{}, nil, ctx.Err()
	}
	s := f.startups[0]
	f.startups = f.startups[1:]
	f.calls = append(f.calls, "startup "+s.master.Hostname)
	return s.master, []config.Server{srv("db9")}, s.err
}

func (f *fakeCycle) keepWarm(_ context.Context, servers []config.Server, interval time.Duration) {
	var names []string
	for _, s := range servers {
		names = append(names, s.Hostname)
	}
	f.calls = append(f.calls, fmt.Sprintf("warm %s every %s", strings.Join(names, ","), interval))
}

func (f *fakeCycle) monitor(ctx context.Context, master config.Server, replicas []config.Server) (detect.Verdict, error) {
	f.calls = append(f.calls, "monitor "+master.Hostname)
	if len(f.monitors) == 0 {
		f.cancel()
		return detect.Verdict{}, fmt.Errorf("detect: monitoring %s: %w", master.Hostname, ctx.Err())
	}
	m := f.monitors[0]
	f.monitors = f.monitors[1:]
	return m.v, m.err
}

func (f *fakeCycle) failover(ctx context.Context, dead deadMaster) (int, *failover.Result, error) {
	f.calls = append(f.calls, fmt.Sprintf("failover %s ssh=%d", dead.srv.Hostname, dead.sshReachable.MHA()))
	if ctx.Done() != nil {
		f.calls = append(f.calls, "failover ctx can be cancelled")
	}
	o := f.failovers[0]
	f.failovers = f.failovers[1:]
	return o.code, o.res, o.err
}

func (f *fakeCycle) watchOld(_ context.Context, old config.Server, _ *failover.Result) {
	f.calls = append(f.calls, "watch "+old.Hostname)
}

func (f *fakeCycle) failedOver(dead config.Server) error {
	f.calls = append(f.calls, "drop "+dead.Hostname)
	return f.dropErr
}

func (f *fakeCycle) pause(_ context.Context, d time.Duration) {
	f.calls = append(f.calls, "pause "+d.String())
}

func srv(name string) config.Server {
	return config.Server{Params: config.Params{Hostname: name, IP: "10.0.0." + name[2:], Port: 3306, PingInterval: time.Second, PingType: "SELECT"}}
}

func dies(name string) fakeMonitor {
	return fakeMonitor{v: detect.Verdict{Master: srv(name), SSHReachable: 1, Evidence: []string{"db9: refused"}}}
}

var activated = &failover.Result{MasterActivatedAt: time.Unix(1, 0)}

// TestManagerLoop plays whole manager lives through the loop.
func TestManagerLoop(t *testing.T) {
	tooEarly := fmt.Errorf("Last failover was done at 2026/12/03 14:00:00. Current time is too early: %w", statefile.ErrTooEarly)
	alive := fmt.Errorf("%w: db1(10.0.0.1:3306) answered: stop failover", failover.ErrMasterAlive)
	flagged := fmt.Errorf("failover.error exists: %w", statefile.ErrLastFailoverFailed)
	tests := []struct {
		name        string
		cycle       fakeCycle
		pending     *deadMaster
		exitAfter   bool
		monitorOnly bool
		want        []string
		wantCode    int    // 0: run returns nil
		wantErr     string // in the returned error
		refusal     string // the reason check-status shows; "" none
		health      string // last health state; "" not checked
	}{
		{
			name: "the master answers the double check: monitoring resumes at once",
			cycle: fakeCycle{startups: []fakeStartup{{master: srv("db1")}}, monitors: []fakeMonitor{dies("db1")},
				failovers: []fakeFailover{{code: 1, err: alive}}},
			want:     []string{"startup db1", "warm db1,db9 every 1s", "monitor db1", "failover db1 ssh=1", "monitor db1"},
			wantCode: 1, wantErr: "context canceled",
			refusal: "the master is reachable via MySQL: db1(10.0.0.1:3306) answered: stop failover",
		},
		{
			name: "the last failover is too recent: the dead master is asked again after a pause",
			cycle: fakeCycle{startups: []fakeStartup{{master: srv("db1")}}, monitors: []fakeMonitor{dies("db1"), dies("db1")},
				failovers: []fakeFailover{{code: 1, err: tooEarly}, {code: 1, err: tooEarly}}},
			want: []string{"startup db1", "warm db1,db9 every 1s", "monitor db1", "failover db1 ssh=1", "pause 10s",
				"monitor db1", "failover db1 ssh=1", "pause 10s", "monitor db1"},
			wantCode: 1, wantErr: "context canceled",
			refusal: "Last failover was done at 2026/12/03 14:00:00. Current time is too early: last failover is too recent",
			health:  "PING_FAILED",
		},
		{
			name: "the last failover failed: refused, monitoring goes on",
			cycle: fakeCycle{startups: []fakeStartup{{master: srv("db1")}}, monitors: []fakeMonitor{dies("db1")},
				failovers: []fakeFailover{{code: 1, err: flagged}}},
			want:     []string{"startup db1", "warm db1,db9 every 1s", "monitor db1", "failover db1 ssh=1", "pause 10s", "monitor db1"},
			wantCode: 1, wantErr: "context canceled",
			refusal: "failover.error exists: last failover failed",
		},
		{
			name: "masterha_manager exits 1 on a refusal, as MHA",
			cycle: fakeCycle{startups: []fakeStartup{{master: srv("db1")}}, monitors: []fakeMonitor{dies("db1")},
				failovers: []fakeFailover{{code: 1, err: tooEarly}}},
			exitAfter: true,
			want:      []string{"startup db1", "warm db1,db9 every 1s", "monitor db1", "failover db1 ssh=1"},
			wantCode:  1, wantErr: "too early",
		},
		{
			name: "a master that dies is failed over, then the new topology is monitored",
			cycle: fakeCycle{startups: []fakeStartup{{master: srv("db1")}, {master: srv("db2")}}, monitors: []fakeMonitor{dies("db1")},
				failovers: []fakeFailover{{code: 0, res: activated}}},
			want: []string{"startup db1", "warm db1,db9 every 1s", "monitor db1", "failover db1 ssh=1", "watch db1", "drop db1",
				"startup db2", "monitor db2"},
			wantCode: 1, wantErr: "context canceled",
		},
		{
			name: "a partial failover (10) also goes on monitoring",
			cycle: fakeCycle{startups: []fakeStartup{{master: srv("db1")}}, monitors: []fakeMonitor{dies("db1")},
				failovers: []fakeFailover{{code: 10, res: activated, err: errors.New("db3: CHANGE MASTER failed")}}},
			want:     []string{"startup db1", "warm db1,db9 every 1s", "monitor db1", "failover db1 ssh=1", "watch db1", "drop db1", "startup (signal)"},
			wantCode: 1, wantErr: "context canceled",
		},
		{
			name: "masterha_manager exits after one failover and watches nothing",
			cycle: fakeCycle{startups: []fakeStartup{{master: srv("db1")}}, monitors: []fakeMonitor{dies("db1")},
				failovers: []fakeFailover{{code: 0, res: activated}}},
			exitAfter: true,
			want:      []string{"startup db1", "warm db1,db9 every 1s", "monitor db1", "failover db1 ssh=1"},
		},
		{
			name: "a failover that fails before opening the new master: exit 1, no watch",
			cycle: fakeCycle{startups: []fakeStartup{{master: srv("db1")}}, monitors: []fakeMonitor{dies("db1")},
				failovers: []fakeFailover{{code: 1, res: &failover.Result{}, err: errors.New("no candidate")}}},
			want:     []string{"startup db1", "warm db1,db9 every 1s", "monitor db1", "failover db1 ssh=1"},
			wantCode: 1, wantErr: "no candidate",
		},
		{
			name:        "--monitor_only exits 20 when the master dies",
			cycle:       fakeCycle{startups: []fakeStartup{{master: srv("db1")}}, monitors: []fakeMonitor{dies("db1")}},
			monitorOnly: true,
			want:        []string{"startup db1", "warm db1,db9 every 1s", "monitor db1"},
			wantCode:    20,
		},
		{
			name:     "a start-up check that fails is a configuration error",
			cycle:    fakeCycle{startups: []fakeStartup{{master: srv("db1"), err: errors.New("db2: log_bin is off")}}},
			want:     []string{"startup db1", "fail"}, // no warm-up before the checks passed
			wantCode: 31, wantErr: "log_bin is off",
		},
		{
			name: "a monitoring error (lock held) is a configuration error",
			cycle: fakeCycle{startups: []fakeStartup{{master: srv("db1")}},
				monitors: []fakeMonitor{{err: detect.ErrLockHeld}}},
			want:     []string{"startup db1", "warm db1,db9 every 1s", "monitor db1", "fail"},
			wantCode: 31, wantErr: "monitor lock held",
		},
		{
			name:     "a terminate signal during the start-up checks",
			cycle:    fakeCycle{},
			want:     []string{"startup (signal)"},
			wantCode: 1, wantErr: "context canceled",
		},
		{
			name: "a resumed failover runs before monitoring",
			cycle: fakeCycle{startups: []fakeStartup{{master: srv("db2")}},
				failovers: []fakeFailover{{code: 0, res: activated}}},
			pending:  &deadMaster{srv: srv("db1"), sshReachable: sshexec.Unreachable},
			want:     []string{"failover db1 ssh=0", "watch db1", "drop db1", "startup db2", "warm db2,db9 every 1s", "monitor db2"},
			wantCode: 1, wantErr: "context canceled",
		},
		{
			name: "the configuration cannot be read again after a failover",
			cycle: fakeCycle{startups: []fakeStartup{{master: srv("db1")}}, monitors: []fakeMonitor{dies("db1")},
				failovers: []fakeFailover{{code: 0, res: activated}}, dropErr: errors.New("app1.cnf: line 3: bad")},
			want:     []string{"startup db1", "warm db1,db9 every 1s", "monitor db1", "failover db1 ssh=1", "watch db1", "drop db1", "fail"},
			wantCode: 31, wantErr: "line 3",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			fc := tt.cycle
			fc.cancel = cancel
			dir := t.TempDir()
			health := statefile.OpenHealth(dir, "app1")
			var out, logs bytes.Buffer
			l := &managerLoop{c: &fc, health: health, workdir: dir, app: "app1", board: newStatusBoard("app1", "app1.cnf", nil),
				log: slog.New(slog.NewTextHandler(&logs, nil)), out: &out,
				exitAfterFailover: tt.exitAfter, monitorOnly: tt.monitorOnly,
				fail: func(err error) error {
					fc.calls = append(fc.calls, "fail")
					return &ExitError{Code: 31, Err: err}
				}}
			err := l.run(ctx, tt.pending)
			if diff := cmp.Diff(tt.want, fc.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s\nlog:\n%s", diff, logs.String())
			}
			var ee *ExitError
			switch {
			case tt.wantCode == 0:
				if err != nil {
					t.Errorf("run = %v; want nil", err)
				}
			case !errors.As(err, &ee) || ee.Code != tt.wantCode:
				t.Errorf("run = %v; want exit %d", err, tt.wantCode)
			case tt.wantErr != "" && (ee.Err == nil || !strings.Contains(ee.Err.Error(), tt.wantErr)):
				t.Errorf("run = %v; want it to say %q", err, tt.wantErr)
			}
			r, rerr := statefile.ReadRefusal(dir, "app1")
			if rerr != nil {
				t.Fatal(rerr)
			}
			switch {
			case tt.refusal == "" && r != nil:
				t.Errorf("refusal recorded: %+v", r)
			case tt.refusal != "" && (r == nil || r.Reason != tt.refusal || r.Master != "db1"):
				t.Errorf("refusal = %+v; want master db1, reason %q", r, tt.refusal)
			}
			if tt.health != "" {
				_, st, master, _, herr := statefile.ReadHealth(health.Path())
				if herr != nil || st.Name != tt.health || master != "db1" {
					t.Errorf("health = %v %s (%v); want %s db1", st, master, herr, tt.health)
				}
			}
			if tt.monitorOnly && !strings.Contains(out.String(), "Master db1 is dead!\nIP Address: 10.0.0.1 Port: 3306") {
				t.Errorf("--monitor_only output %q", out.String())
			}
			// MHA's monitor ends with these lines once the death is confirmed.
			if dead := strings.Contains(logs.String(), "is dead!"); dead != strings.Contains(logs.String(), `msg="Master is down!"`) {
				t.Errorf("\"Master is down!\" not logged with the death:\n%s", logs.String())
			}
		})
	}
}

// TestHealthOnState follows the health file through the monitor's states.
func TestHealthOnState(t *testing.T) {
	dir := t.TempDir()
	h := statefile.OpenHealth(dir, "app1")
	on := healthOnState(h, "db1")
	for _, step := range []struct {
		state  detect.State
		remove bool // remove the file first: a touch writes it again
		want   string
	}{
		{detect.StatePingOK, false, "0:PING_OK db1"},
		{detect.StatePingOK, true, "0:PING_OK db1"},
		{detect.StatePingFailing, false, "20:PING_FAILING db1"},
		{detect.StatePingOK, false, "0:PING_OK db1"},
		{detect.StatePingFailed, false, "21:PING_FAILED db1"},
	} {
		if step.remove {
			if err := h.Remove(); err != nil {
				t.Fatal(err)
			}
		}
		on(step.state)
		_, st, master, _, err := statefile.ReadHealth(h.Path())
		if err != nil {
			t.Fatalf("after %s: %v", step.state, err)
		}
		if got := st.String() + " " + master; got != step.want {
			t.Errorf("after %s: %s; want %s", step.state, got, step.want)
		}
	}
}

func TestRefusalPause(t *testing.T) {
	for _, tt := range []struct {
		interval time.Duration
		want     time.Duration
	}{
		{0, 30 * time.Second}, // 10 × the default 3 s
		{100 * time.Millisecond, 5 * time.Second},
		{3 * time.Second, 30 * time.Second},
		{time.Minute, time.Minute},
	} {
		if got := refusalPause(config.Server{Params: config.Params{PingInterval: tt.interval}}); got != tt.want {
			t.Errorf("refusalPause(ping_interval=%s) = %s; want %s", tt.interval, got, tt.want)
		}
	}
}

// TestStartRefusalsAsBefore pins that the start-up refusal list from
// check.StartBlockers is the one `mha manager` built by hand before the
// gate table: every error finding, minus the replication-health codes
// without --check_repl_health, then the SSH failures, then a master that is
// not alive. Every finding code is tried alone, all of them together, and
// an unknown error code.
func TestStartRefusalsAsBefore(t *testing.T) {
	healthOnly := []topology.Code{
		topology.CodeReplicaIOStopped, topology.CodeReplicaSQLStopped,
		topology.CodeReplicaLagUnknown, topology.CodeReplicaLagging,
	}
	before := func(res check.ReplResult, checkReplHealth bool) []string {
		var fatal []string
		for _, fd := range res.Report.Errors() {
			if !checkReplHealth && slices.Contains(healthOnly, fd.Code) {
				continue
			}
			fatal = append(fatal, fd.String())
		}
		if res.SSH != nil && !res.SSH.OK() {
			for _, r := range res.SSH.Failures() {
				fatal = append(fatal, r.String())
			}
		}
		if t := res.Topology; t.Master == nil || !t.Master.Alive() {
			fatal = append(fatal, "the master is not alive at start")
		}
		return fatal
	}
	finding := func(c topology.Code, sev topology.Severity) topology.Finding {
		return topology.Finding{Code: c, Severity: sev, Host: "db2(10.0.0.2:3306)", Message: "m " + string(c)}
	}
	var reports []topology.Report
	var all topology.Report
	for _, ci := range topology.Codes() {
		f := finding(ci.Code, ci.Severity)
		reports = append(reports, topology.Report{Findings: []topology.Finding{f}})
		all.Findings = append(all.Findings, f)
	}
	reports = append(reports, all, topology.Report{Findings: []topology.Finding{finding("NoSuchCode", topology.SeverityError)}})
	alive := &topology.Topology{Master: &topology.Node{Server: srv("db1"), State: &mysqlx.State{}}}
	dead := &topology.Topology{Master: &topology.Node{Server: srv("db1")}}
	sshDown := &check.SSHReport{Results: []check.SSHResult{{From: "db2", To: "db3", Err: errors.New("refused")}}}
	blocked := 0
	for _, rep := range reports {
		for _, topo := range []*topology.Topology{alive, dead, {}} {
			for _, ssh := range []*check.SSHReport{nil, sshDown} {
				for _, health := range []bool{false, true} {
					res := check.ReplResult{Topology: topo, Report: rep, SSH: ssh}
					want := before(res, health)
					got := check.StartBlockers(res, health)
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("findings %v, health=%t (-before +StartBlockers):\n%s", rep.Findings, health, diff)
					}
					if topo == alive && ssh == nil && len(got) > 0 {
						blocked++
					}
				}
			}
		}
	}
	// Not vacuous: error findings do block an alive master's start.
	if blocked == 0 {
		t.Fatal("no report blocked the start")
	}
}

// TestFinalizeOnError: a partial failover (10) shows 51:FAILOVER_ERROR as
// an error (1) does, as MHA's finalize_on_error; a success leaves the state.
func TestFinalizeOnError(t *testing.T) {
	for _, tt := range []struct {
		code int
		want statefile.Status
	}{
		{failover.ExitOK, statefile.FailoverRunning},
		{failover.ExitPartial, statefile.FailoverError},
		{failover.ExitError, statefile.FailoverError},
	} {
		dir := t.TempDir()
		h := statefile.OpenHealth(dir, "app1")
		if err := h.Set(statefile.FailoverRunning, "db1"); err != nil {
			t.Fatal(err)
		}
		var dead config.Server
		dead.Hostname = "db1"
		fr := &failoverRun{health: h, dead: dead}
		fr.finalizeOnError(context.Background(), tt.code)
		_, st, _, _, err := statefile.ReadHealth(h.Path())
		if err != nil || st != tt.want {
			t.Errorf("code %d: status %v, %v; want %v", tt.code, st, err, tt.want)
		}
	}
}

// TestOpenLogFormat: manager_log gets MHA's format by default, stderr slog
// text; --log_format chooses.
func TestOpenLogFormat(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{App: "app1"}
	tests := []struct {
		name, path, format, want string
	}{
		{"file default mha", filepath.Join(dir, "a.log"), "", "- [warning] Master is down! cluster=app1 n=1\n"},
		{"file text", filepath.Join(dir, "b.log"), "text", `level=WARN msg="Master is down!" cluster=app1 n=1`},
		{"stderr default text", "", "", `level=WARN msg="Master is down!" cluster=app1 n=1`},
		{"stderr mha", "", "mha", "- [warning] Master is down! cluster=app1 n=1\n"},
		{"stderr json", "", "json", `"level":"WARN","msg":"Master is down!","cluster":"app1","n":1}`},
		{"file json", filepath.Join(dir, "c.log"), "json", `"level":"WARN","msg":"Master is down!","cluster":"app1","n":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			f := FailoverOptions{LogOutput: tt.path, LogFormat: tt.format}
			log, _, closeLog, err := f.OpenLog(cfg, &stderr)
			if err != nil {
				t.Fatal(err)
			}
			log.Warn("Master is down!", "n", 1)
			closeLog()
			got := stderr.String()
			if tt.path != "" {
				b, err := os.ReadFile(tt.path)
				if err != nil {
					t.Fatal(err)
				}
				got = string(b)
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("log %q lacks %q", got, tt.want)
			}
		})
	}
	if _, _, _, err := (&FailoverOptions{LogFormat: "yaml"}).OpenLog(cfg, io.Discard); err == nil {
		t.Error("--log_format=yaml accepted")
	}
}
