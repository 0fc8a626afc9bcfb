package httpapi

import (
	"slices"
	"strings"
	"time"

	"github.com/gomha/gomha/manager/config"
)

// Source is where the API reads the clusters' state; the daemon implements
// it from its monitors. Its methods are called from the HTTP server's
// goroutines and must be safe for concurrent use; they should answer from
// memory (no SQL, no SSH).
//
// A Source may also implement Readiness; /healthz then answers 503 while it
// is not ready.
type Source interface {
	// Clusters returns every cluster's status, in any order.
	Clusters() []ClusterStatus
	// Cluster returns one cluster's status, false when no cluster has that
	// app name.
	Cluster(app string) (ClusterStatus, bool)
}

// Readiness is an optional interface of a Source.
type Readiness interface {
	// Ready returns nil when the manager is ready, else why not (e.g. "no
	// cluster monitored yet"). The reason is served to unauthenticated
	// clients on /healthz: it must not carry configuration values.
	Ready() error
}

// ClusterStatus is one cluster's state as the API serves it. It has no
// field for a password, a user name or any other configuration secret; the
// free-text fields (errors, what was lost) are also scrubbed of the
// configured passwords before they are served (see Config.Secrets).
type ClusterStatus struct {
	// App is the cluster's name (its configuration file's base name).
	App string `json:"app"`
	// Conf is the application configuration file's path.
	Conf string `json:"conf"`
	// Role is this manager's role: RoleActive, RoleStandby, or "" when it
	// runs without a lock.
	Role string `json:"role"`
	// ActiveManager names the manager that acts for the cluster when
	// managers share a lock (a standby reports who is active; the lock
	// holder's own name when Role is active), "" without a lock.
	ActiveManager string `json:"active_manager"`
	// Master is the current master.
	Master Master `json:"master"`
	// Replicas are the master's replicas.
	Replicas []Replica `json:"replicas"`
	// Detection is the health check's state.
	Detection Detection `json:"detection"`
	// LastEvent is the last failover or switch, nil when there was none
	// since the manager started.
	LastEvent *Event `json:"last_event"`
}

// Roles of a manager for a cluster.
const (
	RoleActive  = "active"
	RoleStandby = "standby"
)

// Master is a cluster's master.
type Master struct {
	Host string `json:"host"`
	Port int    `json:"port"`
	// Alive is true when the last health check of the master succeeded.
	Alive bool `json:"alive"`
}

// Replica is one replica and its replication threads.
type Replica struct {
	Host       string `json:"host"`
	Port       int    `json:"port"`
	IORunning  bool   `json:"io_running"`
	SQLRunning bool   `json:"sql_running"`
	// SecondsBehind is Seconds_Behind_Master, nil when the server reports
	// NULL (SQL thread stopped, IO thread not connected) or it is unknown.
	SecondsBehind *int64 `json:"seconds_behind"`
	// Error is the replica's last IO or SQL error, or why it could not be
	// read; "" when none.
	Error string `json:"error"`
}

// Detection is the health check's state for a cluster.
type Detection struct {
	// State is MHA's name for it: PING_OK, PING_FAILING or PING_FAILED.
	State string `json:"state"`
	// Since is when the state was entered (omitted when unknown).
	Since time.Time `json:"since,omitzero"`
	// LastError is the last failed check's description, "" when none.
	LastError string `json:"last_error"`
}

// Event kinds.
const (
	EventFailover = "failover"
	EventSwitch   = "switch"
)

// Event results; the metrics package counts the same four final ones.
const (
	ResultRunning = "running"
	ResultSuccess = "success"
	ResultPartial = "partial"
	ResultRefused = "refused"
	ResultFailed  = "failed"
)

// Event is a failover or a switch.
type Event struct {
	// Kind is EventFailover or EventSwitch.
	Kind string `json:"kind"`
	// Result is one of the Result constants (ResultRunning until it ends).
	Result     string    `json:"result"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// Phases are the phases' timings, in order.
	Phases []PhaseTiming `json:"phases"`
	// NewMaster is the new master's host:port, "" until chosen.
	NewMaster string `json:"new_master"`
	// EndPoint is where every survivor converged (binlog file:position,
	// or a GTID set).
	EndPoint string `json:"end_point"`
	// Lost describes what the survivors could not recover, "" when nothing
	// was lost.
	Lost string `json:"lost"`
}

// PhaseTiming is one phase's duration.
type PhaseTiming struct {
	Name string `json:"name"`
	MS   int64  `json:"ms"`
}

// Phase returns a PhaseTiming for a duration, rounded to milliseconds.
func Phase(name string, d time.Duration) PhaseTiming {
	return PhaseTiming{Name: name, MS: d.Round(time.Millisecond).Milliseconds()}
}

// SecretsOf returns the passwords a configuration holds (password and
// repl_password of [server default] and of every block), deduplicated,
// longest first, for Config.Secrets.
func SecretsOf(cfgs ...*config.Config) []string {
	var out []string
	add := func(p config.Params) {
		for _, s := range []string{p.Password, p.ReplPassword} {
			if s != "" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	for _, c := range cfgs {
		if c == nil {
			continue
		}
		add(c.Default)
		for _, s := range c.Servers {
			add(s.Params)
		}
		for _, s := range c.Binlogs {
			add(s.Params)
		}
	}
	sortLongestFirst(out)
	return out
}

func sortLongestFirst(s []string) {
	slices.SortStableFunc(s, func(a, b string) int { return len(b) - len(a) })
}

// Redacted replaces every secret's occurrences in a free-text field.
const Redacted = "[redacted]"

// scrub returns a copy of st ready to serve: secrets removed from every
// free-text field and nil lists made empty (JSON [] rather than null).
func scrub(st ClusterStatus, secrets []string) ClusterStatus {
	secrets = slices.Clone(secrets)
	sortLongestFirst(secrets)
	clean := func(s string) string { return redact(s, secrets) }
	st.Replicas = slices.Clone(st.Replicas)
	if st.Replicas == nil {
		st.Replicas = []Replica{}
	}
	for i := range st.Replicas {
		st.Replicas[i].Error = clean(st.Replicas[i].Error)
	}
	st.Detection.LastError = clean(st.Detection.LastError)
	if st.LastEvent != nil {
		ev := *st.LastEvent
		ev.Phases = slices.Clone(ev.Phases)
		if ev.Phases == nil {
			ev.Phases = []PhaseTiming{}
		}
		ev.Lost = clean(ev.Lost)
		ev.EndPoint = clean(ev.EndPoint)
		st.LastEvent = &ev
	}
	return st
}

// redact replaces each secret in s by Redacted, secrets taken longest first
// ("pass" inside "password" must not leave "word" behind).
func redact(s string, secretsLongestFirst []string) string {
	for _, sec := range secretsLongestFirst {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	return s
}
