package daemon

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gomha/gomha/manager/detect"
	"github.com/gomha/gomha/manager/failover"
	"github.com/gomha/gomha/manager/journal"
	"github.com/gomha/gomha/manager/metrics"
	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/statefile"
	"github.com/gomha/gomha/manager/topology"
)

// ClusterStatus is what the daemon knows of one cluster, for the HTTP
// status API and the metrics. It is a copy: built from what the monitor
// already learnt (the start-up checks, the pings, the confirmation probes,
// the last failover), never from a new network call. It holds no password.
type ClusterStatus struct {
	// App is the application name (the configuration file's base name).
	App string `json:"app"`
	// Conf is the configuration file.
	Conf string `json:"conf"`
	// Master is the monitored master as host:port; "" before the start-up
	// checks found it.
	Master string `json:"master,omitempty"`
	// Replicas are the alive replicas as the start-up checks saw them,
	// refreshed by the probes of a confirmation.
	Replicas []ReplicaStatus `json:"replicas"`
	// State is the detection state, the health file's name for it
	// (INITIALIZING_MONITOR, PING_OK, PING_FAILING, PING_FAILED,
	// FAILOVER_RUNNING, FAILOVER_ERROR, CONFIG_ERROR), or StateStopped when
	// this cluster's manager is not running.
	State string `json:"state"`
	// StateSince is when State was entered.
	StateSince time.Time `json:"state_since"`
	// LastPingOK is the time of the last successful ping of the master.
	LastPingOK time.Time `json:"last_ping_ok,omitzero"`
	// Running is true while this cluster's manager runs.
	Running bool `json:"running"`
	// Error is why this cluster's manager last ended; "" when it did not.
	Error string `json:"error,omitempty"`
	// LastFailover is the last failover this daemon ran (or refused) for
	// the cluster; nil when none.
	LastFailover *Operation `json:"last_failover,omitempty"`
	// LastSwitch is the last online switch, as its journal in the workdir
	// recorded it when the cluster's manager started; nil when none.
	LastSwitch *Operation `json:"last_switch,omitempty"`
	// Role is RoleActive, or RoleStandby when another manager holds the
	// cluster's lock (the Consul lock sets it; without it, active).
	Role string `json:"role"`
	// ActiveManager names the manager that holds the cluster's lock, as a
	// standby sees it; "" for the holder itself or without a lock.
	ActiveManager string `json:"active_manager,omitempty"`
}

// StateStopped is ClusterStatus.State of a cluster whose manager does not
// run (not started yet, ended, or removed by a reload).
const StateStopped = "STOPPED"

// StateStandby is ClusterStatus.State of a cluster another manager acts
// for (the standby managers' lock): this one does not monitor it.
const StateStandby = "STANDBY"

// Roles of ClusterStatus.Role.
const (
	// RoleActive monitors and acts.
	RoleActive = "active"
	// RoleStandby monitors passively while another manager is active.
	RoleStandby = "standby"
)

// ReplicaStatus is one replica as last seen.
type ReplicaStatus struct {
	// Host and Port are the replica's address in the configuration.
	Host string `json:"host"`
	Port int    `json:"port"`
	// IORunning and SQLRunning are the replication threads' states.
	IORunning  bool `json:"io_running"`
	SQLRunning bool `json:"sql_running"`
	// SecondsBehind is Seconds_Behind_Master; nil when the server said
	// NULL or was not asked.
	SecondsBehind *int64 `json:"seconds_behind,omitempty"`
	// Error is why the replica could not be read; "" when it was.
	Error string `json:"error,omitempty"`
	// SeenAt is when these values were read.
	SeenAt time.Time `json:"seen_at"`
}

// Operation summarises a failover or an online switch.
type Operation struct {
	// Kind is "failover" or "switch".
	Kind string `json:"kind"`
	// Result is "ok", "partial", "error", "refused" or "unfinished".
	Result string `json:"result"`
	// Code is the exit code (0, 10, 1); -1 when unknown.
	Code int `json:"code"`
	// Started and Ended bound it (Ended zero: unknown or not ended).
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
	// Phases are the per-phase durations, in order.
	Phases []PhaseDuration `json:"phases,omitempty"`
	// OldMaster is the dead (or switched-from) master, host:port.
	OldMaster string `json:"old_master,omitempty"`
	// NewMaster is the promoted server, host:port; "" when none was.
	NewMaster string `json:"new_master,omitempty"`
	// EndPoint is where every survivor converged (binlog file:pos of the
	// dead master).
	EndPoint string `json:"end_point,omitempty"`
	// Lost says what the survivors could not recover; "" nothing.
	Lost string `json:"lost,omitempty"`
	// Error is why it failed or was refused.
	Error string `json:"error,omitempty"`
}

// PhaseDuration is one phase's duration in milliseconds.
type PhaseDuration struct {
	Name string `json:"name"`
	MS   int64  `json:"ms"`
}

// Operation kinds and results.
const (
	KindFailover = "failover"
	KindSwitch   = "switch"

	ResultOK         = "ok"
	ResultPartial    = "partial"
	ResultError      = "error"
	ResultRefused    = "refused"
	ResultUnfinished = "unfinished"
)

// statusBoard is one cluster's ClusterStatus, written by its manager's
// goroutines and copied out under the lock.
type statusBoard struct {
	mu sync.Mutex
	st ClusterStatus
	// now is the clock (tests may set it); nil is time.Now.
	now func() time.Time
	// rec gets the same facts as metrics (nil: metrics off).
	rec *metrics.Recorder
}

func newStatusBoard(app, conf string, rec *metrics.Recorder) *statusBoard {
	rec.AddCluster(app)
	rec.SetRole(app, metrics.RoleActive)
	return &statusBoard{st: ClusterStatus{App: app, Conf: conf, State: StateStopped, Role: RoleActive}, rec: rec}
}

func (b *statusBoard) clock() time.Time {
	if b.now != nil {
		return b.now()
	}
	return time.Now()
}

// snapshot returns a deep copy.
func (b *statusBoard) snapshot() ClusterStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.st
	s.Replicas = slices.Clone(s.Replicas)
	for i, r := range s.Replicas {
		if r.SecondsBehind != nil {
			v := *r.SecondsBehind
			s.Replicas[i].SecondsBehind = &v
		}
	}
	s.LastFailover = s.LastFailover.clone()
	s.LastSwitch = s.LastSwitch.clone()
	return s
}

func (o *Operation) clone() *Operation {
	if o == nil {
		return nil
	}
	c := *o
	c.Phases = slices.Clone(o.Phases)
	return &c
}

// setState records a health state. The health file's master (a host name)
// is not taken: Master stays the host:port the start-up checks found.
func (b *statusBoard) setState(st statefile.Status, _ string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.st.State != st.Name {
		b.st.State, b.st.StateSince = st.Name, b.clock()
	}
	b.rec.SetDetectionState(b.st.App, st.Name)
	if st == statefile.PingOK {
		b.st.LastPingOK = b.clock()
	}
}

// pinged records a successful ping.
func (b *statusBoard) pinged() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.st.LastPingOK = b.clock()
}

// running records the start and the end of the cluster's manager.
func (b *statusBoard) running(on bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.st.Running = on
	b.st.Error = ""
	b.rec.SetUp(b.st.App, on)
	if on {
		return
	}
	b.st.State, b.st.StateSince = StateStopped, b.clock()
	b.rec.SetDetectionState(b.st.App, metrics.StateUnknown)
	if err != nil {
		b.st.Error = err.Error()
	}
}

// setConf records the configuration file (a reload may move nothing but
// keeps it current).
func (b *statusBoard) setConf(conf string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.st.Conf = conf
}

// setActiveManager records who holds the cluster's lock, seen from a
// standby ("" when this manager does, or nobody).
func (b *statusBoard) setActiveManager(h string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.st.ActiveManager = h
}

// setRole records the manager's role for the cluster.
func (b *statusBoard) setRole(role string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.st.Role = role
	if role == RoleStandby {
		b.rec.SetRole(b.st.App, metrics.RoleStandby)
	} else {
		b.rec.SetRole(b.st.App, metrics.RoleActive)
	}
}

// sawTopology records the master and the replicas of the start-up checks.
func (b *statusBoard) sawTopology(t *topology.Topology) {
	at := b.clock()
	var master string
	var reps []ReplicaStatus
	for _, n := range t.Nodes {
		if t.Master != nil && n == t.Master {
			master = hostPort(n.Server.Hostname, n.Server.Port)
			continue
		}
		r := ReplicaStatus{Host: n.Server.Hostname, Port: n.Server.Port, SeenAt: at}
		switch {
		case n.State == nil:
			r.Error = "not reachable at start"
			if n.Err != nil {
				r.Error = n.Err.Error()
			}
		case n.Replica() == nil:
			r.Error = "not a replica"
		default:
			rs := n.Replica()
			r.IORunning = rs.IORunning == mysqlx.IOConnected
			r.SQLRunning = rs.SQLRunning
			if rs.SecondsBehind != nil {
				v := *rs.SecondsBehind
				r.SecondsBehind = &v
			}
		}
		reps = append(reps, r)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.st.Master, b.st.Replicas = master, reps
	var keep []string
	for _, r := range reps {
		hp := hostPort(r.Host, r.Port)
		keep = append(keep, hp)
		if r.SecondsBehind != nil {
			b.rec.SetReplicaLag(b.st.App, hp, float64(*r.SecondsBehind))
		} else {
			b.rec.ClearReplicaLag(b.st.App, hp)
		}
	}
	b.rec.KeepReplicas(b.st.App, keep)
}

// sawProbes refreshes the replicas' IO thread from a confirmation's probes
// (their SQL thread and lag are not sampled there).
func (b *statusBoard) sawProbes(probes []detect.ReplicaProbe) {
	at := b.clock()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range probes {
		for i, r := range b.st.Replicas {
			if !labelIs(p.Name, r.Host, r.Port) {
				continue
			}
			r.SeenAt, r.Error = at, p.SQLErr
			if p.SQLErr == "" {
				r.IORunning = p.IO == mysqlx.IOConnected
			}
			b.st.Replicas[i] = r
		}
	}
}

// labelIs says whether a "name(ip:port)" label is host:port.
func labelIs(label, host string, port int) bool {
	name, p := parseHostLabel(label)
	return name == host && p == port
}

// failedOver records a failover's outcome (res nil: it did not start).
func (b *statusBoard) failedOver(dead string, started time.Time, code int, res *failover.Result, err error) {
	op := &Operation{Kind: KindFailover, Code: code, Started: started, Ended: b.clock(), OldMaster: dead}
	switch {
	case refusedFailover(err):
		op.Result = ResultRefused
	case code == failover.ExitOK:
		op.Result = ResultOK
	case code == failover.ExitPartial:
		op.Result = ResultPartial
	default:
		op.Result = ResultError
	}
	if err != nil {
		op.Error = err.Error()
	}
	if res != nil {
		for _, p := range res.Phases {
			op.Phases = append(op.Phases, PhaseDuration{Name: p.Name, MS: p.Duration.Milliseconds()})
		}
		if !res.MasterActivatedAt.IsZero() {
			op.NewMaster = hostPort(res.NewMaster.Hostname, res.NewMaster.Port)
		}
		if res.EndPoint.File != "" {
			op.EndPoint = fmt.Sprintf("%s:%d", res.EndPoint.File, res.EndPoint.Offset)
		}
		op.Lost = res.Lost
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.st.LastFailover = op
	b.rec.Failover(b.st.App, metricsResult(op.Result))
	for _, p := range op.Phases {
		b.rec.ObservePhase(b.st.App, metrics.OpFailover, p.Name, time.Duration(p.MS)*time.Millisecond)
	}
}

// metricsResult maps an Operation's result to the metrics' label.
func metricsResult(r string) metrics.Result {
	switch r {
	case ResultOK:
		return metrics.ResultSuccess
	case ResultPartial:
		return metrics.ResultPartial
	case ResultRefused:
		return metrics.ResultRefused
	}
	return metrics.ResultFailed
}

// lastSwitch reads the online switch's journal in workdir, if any.
func (b *statusBoard) lastSwitch(workdir, app string) {
	st, err := journal.ReadOf(journal.OpSwitch, workdir, app)
	if err != nil || st == nil {
		return
	}
	op := &Operation{Kind: KindSwitch, Code: -1, Started: st.Begin.At, NewMaster: st.Begin.Detail["new_master"]}
	switch {
	case !st.Ended:
		op.Result = ResultUnfinished
	case st.Outcome == "0":
		op.Result, op.Code = ResultOK, 0
	case st.Outcome == "10":
		op.Result, op.Code = ResultPartial, 10
	default:
		op.Result = ResultError
		if n, err := strconv.Atoi(st.Outcome); err == nil {
			op.Code = n
		}
	}
	if n := len(st.Records); n > 0 {
		op.Ended = st.Records[n-1].At
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.st.LastSwitch = op
}

func hostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// healthFile is the cluster's health file as the loop and the failover
// write it (statefile.Health; boardHealth mirrors it on the status board).
type healthFile interface {
	Set(st statefile.Status, master string) error
	Touch() error
}

// boardHealth writes the health file and keeps the status board in step.
type boardHealth struct {
	file  *statefile.Health
	board *statusBoard
}

func (h *boardHealth) Set(st statefile.Status, master string) error {
	h.board.setState(st, master)
	return h.file.Set(st, master)
}

func (h *boardHealth) Touch() error {
	h.board.pinged()
	return h.file.Touch()
}
