// Package metrics holds the manager's Prometheus metrics: a Recorder the
// daemon feeds with what its monitors and failovers see, served on /metrics
// from a private registry (never the global one, so tests and several
// managers in one process do not collide).
//
// Every series carries the cluster's app label. Label values are bounded
// by construction: failure kinds, results, roles and detection states are
// typed values from fixed sets (an unknown value is counted as "other" or
// "unknown", never passed through), phase names are capped per operation,
// and replica series exist only for the replicas the daemon reports and
// are deleted when a replica leaves. No error text and never a password
// becomes a label.
//
// Metric families (all prefixed gomha_):
//
//	ping_duration_seconds{app}                      histogram of successful health-check pings
//	probe_failures_total{app,kind}                  failed health checks by kind
//	detection_state{app,state}                      1 for the current detection state, 0 for the others
//	failovers_total{app,result}                     dead-master failovers by result
//	switches_total{app,result}                      online switches by result
//	failover_phase_duration_seconds{app,phase}      duration of each failover phase
//	switch_phase_duration_seconds{app,phase}        duration of each switch phase
//	replica_lag_seconds{app,replica}                Seconds_Behind_Master per replica (host:port)
//	switch_write_block_duration_seconds{app}        how long a switch kept writes blocked
//	cluster_up{app}                                 1 while the cluster's monitor runs
//	cluster_role{app,role}                          1 for this manager's role (active or standby)
//
// plus the Go runtime (go_*) and process (process_*) collectors.
package metrics

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gomha/gomha/manager/mysqlx"
)

// Namespace prefixes every metric name.
const Namespace = "gomha"

// ProbeKind is why a health check failed.
type ProbeKind string

// Probe failure kinds.
const (
	// ProbeTimeout: no answer within the deadline (host down, partition,
	// packets dropped).
	ProbeTimeout ProbeKind = "timeout"
	// ProbeRefused: the port refused the connection (mysqld down, host up).
	ProbeRefused ProbeKind = "refused"
	// ProbeHung: the port accepted but mysqld sent no greeting.
	ProbeHung ProbeKind = "hung"
	// ProbeAuth: the server rejected the monitoring user (MySQL 1045).
	ProbeAuth ProbeKind = "auth"
	// ProbeOther: any other failure.
	ProbeOther ProbeKind = "other"
)

// probeKinds lists every probe failure kind.
var probeKinds = []ProbeKind{ProbeTimeout, ProbeRefused, ProbeHung, ProbeAuth, ProbeOther}

// ProbeKindOf maps mysqlx's connect classification to a probe kind.
func ProbeKindOf(f mysqlx.ConnectFailure) ProbeKind {
	switch f {
	case mysqlx.FailureTimeout:
		return ProbeTimeout
	case mysqlx.FailureRefused:
		return ProbeRefused
	case mysqlx.FailureAccessDenied:
		return ProbeAuth
	}
	return ProbeOther
}

// Result is how a failover or switch ended.
type Result string

// Results.
const (
	// ResultSuccess: every step done, every replica recovered.
	ResultSuccess Result = "success"
	// ResultPartial: the new master is up but some replicas were not
	// recovered (MHA's exit code 10).
	ResultPartial Result = "partial"
	// ResultRefused: a pre-flight check refused to start (nothing changed).
	ResultRefused Result = "refused"
	// ResultFailed: the operation started and failed.
	ResultFailed Result = "failed"
)

// results lists every result.
var results = []Result{ResultSuccess, ResultPartial, ResultRefused, ResultFailed}

// Role is this manager's role for a cluster.
type Role string

// Roles.
const (
	// RoleActive: this manager holds the cluster's lock (or runs without
	// one) and acts.
	RoleActive Role = "active"
	// RoleStandby: another manager holds the lock; this one only watches.
	RoleStandby Role = "standby"
)

// roles lists every role.
var roles = []Role{RoleActive, RoleStandby}

// detectionStates are the detection states exported, MHA's health-file
// names (detect.State's String). Any other name is exported as
// StateUnknown.
var detectionStates = []string{"PING_OK", "PING_FAILING", "PING_FAILED"}

// StateUnknown is the detection state series set before the first state
// and for a name other than PING_OK, PING_FAILING and PING_FAILED.
const StateUnknown = "unknown"

// MaxPhases bounds the distinct phase names per operation (failover,
// switch); later names are recorded as phase "other".
const MaxPhases = 32

// Operation names a phase histogram's operation.
type Operation string

// Operations.
const (
	OpFailover Operation = "failover"
	OpSwitch   Operation = "switch"
)

// Histogram buckets, in seconds.
var (
	// pingBuckets: a local ping takes well under a millisecond, a slow
	// one up to the ping deadline.
	pingBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	// phaseBuckets: phases range from milliseconds (checks) to minutes
	// (applying a large relay-log difference).
	phaseBuckets = []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
	// writeBlockBuckets: a switch aims at blocking writes for well under
	// a second.
	writeBlockBuckets = []float64{.01, .025, .05, .1, .25, .5, 1, 2, 5, 10, 30}
)

// Recorder records the manager's metrics into its own registry. Its
// methods are safe for concurrent use by every cluster's goroutines, and
// do nothing on a nil *Recorder (metrics off: the daemon need not check).
type Recorder struct {
	reg *prometheus.Registry

	ping          *prometheus.HistogramVec
	probeFailures *prometheus.CounterVec
	detection     *prometheus.GaugeVec
	failovers     *prometheus.CounterVec
	switches      *prometheus.CounterVec
	phases        map[Operation]*prometheus.HistogramVec
	lag           *prometheus.GaugeVec
	writeBlock    *prometheus.HistogramVec
	up            *prometheus.GaugeVec
	role          *prometheus.GaugeVec

	mu         sync.Mutex
	phaseNames map[Operation]map[string]bool
	replicas   map[string]map[string]bool // app -> replicas with a lag series
}

// New returns a Recorder with a fresh registry holding the gomha metrics
// and the Go runtime and process collectors.
func New() *Recorder {
	r := &Recorder{
		reg: prometheus.NewRegistry(),
		ping: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "ping_duration_seconds",
			Help:    "Duration of successful health-check pings of the master.",
			Buckets: pingBuckets,
		}, []string{"app"}),
		probeFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "probe_failures_total",
			Help: "Failed health checks of the master, by kind (timeout, refused, hung, auth, other).",
		}, []string{"app", "kind"}),
		detection: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "detection_state",
			Help: "1 for the master's current detection state (PING_OK, PING_FAILING, PING_FAILED), 0 for the others.",
		}, []string{"app", "state"}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "failovers_total",
			Help: "Dead-master failovers, by result (success, partial, refused, failed).",
		}, []string{"app", "result"}),
		switches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "switches_total",
			Help: "Online master switches, by result (success, partial, refused, failed).",
		}, []string{"app", "result"}),
		phases: map[Operation]*prometheus.HistogramVec{
			OpFailover: prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Namespace: Namespace, Name: "failover_phase_duration_seconds",
				Help:    "Duration of each failover phase.",
				Buckets: phaseBuckets,
			}, []string{"app", "phase"}),
			OpSwitch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Namespace: Namespace, Name: "switch_phase_duration_seconds",
				Help:    "Duration of each online switch phase.",
				Buckets: phaseBuckets,
			}, []string{"app", "phase"}),
		},
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "replica_lag_seconds",
			Help: "Seconds_Behind_Master of each replica (host:port); absent while unknown (SQL thread stopped).",
		}, []string{"app", "replica"}),
		writeBlock: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "switch_write_block_duration_seconds",
			Help:    "How long an online switch kept writes blocked (old master read-only until the new master was writable).",
			Buckets: writeBlockBuckets,
		}, []string{"app"}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "cluster_up",
			Help: "1 while this manager's monitor for the cluster runs, 0 when it stopped.",
		}, []string{"app"}),
		role: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "cluster_role",
			Help: "1 for this manager's role for the cluster (active or standby), 0 for the other.",
		}, []string{"app", "role"}),
		phaseNames: map[Operation]map[string]bool{OpFailover: {}, OpSwitch: {}},
		replicas:   map[string]map[string]bool{},
	}
	r.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		r.ping, r.probeFailures, r.detection, r.failovers, r.switches,
		r.phases[OpFailover], r.phases[OpSwitch],
		r.lag, r.writeBlock, r.up, r.role,
	)
	return r
}

// Registry returns the Recorder's registry (for a custom handler or a
// test's Gather).
func (r *Recorder) Registry() *prometheus.Registry { return r.reg }

// Handler serves the registry in the Prometheus exposition formats; nil
// for a nil *Recorder (httpapi then answers /metrics with 404).
func (r *Recorder) Handler() http.Handler {
	if r == nil {
		return nil
	}
	return promhttp.InstrumentMetricHandler(r.reg, promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		Registry:            r.reg,
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
}

// AddCluster creates a cluster's series at their zero values (every probe
// kind, result and detection state), so dashboards and rate() see a
// cluster before its first event. The detection state starts unknown.
func (r *Recorder) AddCluster(app string) {
	if r == nil {
		return
	}
	for _, k := range probeKinds {
		r.probeFailures.WithLabelValues(app, string(k))
	}
	for _, res := range results {
		r.failovers.WithLabelValues(app, string(res))
		r.switches.WithLabelValues(app, string(res))
	}
	r.SetDetectionState(app, StateUnknown)
	r.ping.WithLabelValues(app)
	r.writeBlock.WithLabelValues(app)
}

// RemoveCluster deletes every series of a cluster (it left the
// configuration on a reload). Call it after the cluster's monitor stopped:
// a later update would create the series again.
func (r *Recorder) RemoveCluster(app string) {
	if r == nil {
		return
	}
	l := prometheus.Labels{"app": app}
	r.ping.DeletePartialMatch(l)
	r.probeFailures.DeletePartialMatch(l)
	r.detection.DeletePartialMatch(l)
	r.failovers.DeletePartialMatch(l)
	r.switches.DeletePartialMatch(l)
	for _, h := range r.phases {
		h.DeletePartialMatch(l)
	}
	r.mu.Lock()
	r.lag.DeletePartialMatch(l)
	delete(r.replicas, app)
	r.mu.Unlock()
	r.writeBlock.DeletePartialMatch(l)
	r.up.DeletePartialMatch(l)
	r.role.DeletePartialMatch(l)
}

// ObservePing records a successful ping's round trip.
func (r *Recorder) ObservePing(app string, d time.Duration) {
	if r == nil {
		return
	}
	r.ping.WithLabelValues(app).Observe(d.Seconds())
}

// ProbeFailure counts a failed health check; an unknown kind counts as
// ProbeOther.
func (r *Recorder) ProbeFailure(app string, kind ProbeKind) {
	if r == nil {
		return
	}
	switch kind {
	case ProbeTimeout, ProbeRefused, ProbeHung, ProbeAuth:
	default:
		kind = ProbeOther
	}
	r.probeFailures.WithLabelValues(app, string(kind)).Inc()
}

// SetDetectionState sets the current detection state's series to 1 and
// the others to 0. state is a detect.State's String (PING_OK...); any other
// name sets StateUnknown.
func (r *Recorder) SetDetectionState(app, state string) {
	if r == nil {
		return
	}
	known := false
	for _, s := range detectionStates {
		if s == state {
			known = true
		}
	}
	if !known {
		state = StateUnknown
	}
	for _, s := range detectionStates {
		r.detection.WithLabelValues(app, s).Set(b2f(s == state))
	}
	r.detection.WithLabelValues(app, StateUnknown).Set(b2f(state == StateUnknown))
}

// Failover counts a finished failover; an unknown result counts as
// ResultFailed.
func (r *Recorder) Failover(app string, res Result) {
	if r == nil {
		return
	}
	r.failovers.WithLabelValues(app, string(knownResult(res))).Inc()
}

// Switch counts a finished online switch; an unknown result counts as
// ResultFailed.
func (r *Recorder) Switch(app string, res Result) {
	if r == nil {
		return
	}
	r.switches.WithLabelValues(app, string(knownResult(res))).Inc()
}

// ObservePhase records one phase's duration of a failover or a switch.
// phase is a fixed name from the failover or switchover package (never
// text carrying values); past MaxPhases distinct names per operation, a
// new name is recorded as "other". An unknown op is ignored.
func (r *Recorder) ObservePhase(app string, op Operation, phase string, d time.Duration) {
	if r == nil {
		return
	}
	h, ok := r.phases[op]
	if !ok {
		return
	}
	phase = strings.TrimSpace(phase)
	if phase == "" {
		phase = "other"
	}
	r.mu.Lock()
	names := r.phaseNames[op]
	if !names[phase] {
		if len(names) >= MaxPhases {
			phase = "other"
		} else {
			names[phase] = true
		}
	}
	r.mu.Unlock()
	h.WithLabelValues(app, phase).Observe(d.Seconds())
}

// SetReplicaLag sets a replica's lag in seconds (Seconds_Behind_Master).
// replica is its host:port.
func (r *Recorder) SetReplicaLag(app, replica string, seconds float64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.replicas[app]
	if set == nil {
		set = map[string]bool{}
		r.replicas[app] = set
	}
	set[replica] = true
	r.lag.WithLabelValues(app, replica).Set(seconds)
}

// ClearReplicaLag deletes a replica's lag series: its lag is unknown (SQL
// thread stopped, NULL Seconds_Behind_Master) or it left the cluster.
func (r *Recorder) ClearReplicaLag(app, replica string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.replicas[app], replica)
	r.lag.DeleteLabelValues(app, replica)
}

// KeepReplicas deletes the lag series of every replica of app not in
// replicas (host:port), after a failover or a reload changed the set.
func (r *Recorder) KeepReplicas(app string, replicas []string) {
	if r == nil {
		return
	}
	keep := map[string]bool{}
	for _, s := range replicas {
		keep[s] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.replicas[app] {
		if !keep[s] {
			delete(r.replicas[app], s)
			r.lag.DeleteLabelValues(app, s)
		}
	}
}

// ObserveWriteBlock records how long a switch kept writes blocked.
func (r *Recorder) ObserveWriteBlock(app string, d time.Duration) {
	if r == nil {
		return
	}
	r.writeBlock.WithLabelValues(app).Observe(d.Seconds())
}

// SetUp sets whether this manager's monitor for the cluster runs.
func (r *Recorder) SetUp(app string, up bool) {
	if r == nil {
		return
	}
	r.up.WithLabelValues(app).Set(b2f(up))
}

// SetRole sets this manager's role for the cluster; an unknown role sets
// both series to 0.
func (r *Recorder) SetRole(app string, role Role) {
	if r == nil {
		return
	}
	for _, ro := range roles {
		r.role.WithLabelValues(app, string(ro)).Set(b2f(ro == role))
	}
}

func knownResult(res Result) Result {
	switch res {
	case ResultSuccess, ResultPartial, ResultRefused, ResultFailed:
		return res
	}
	return ResultFailed
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
