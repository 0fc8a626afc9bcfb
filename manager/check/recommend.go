package check

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gomha/gomha/manager/topology"
)

// Detection are the replica settings that decide how soon the replicas
// notice that their master is gone, which the confirmation of a failure
// rests on:
//   - slave_net_timeout: a replica whose master vanished without closing
//     the connection (pulled cable, power loss) keeps Slave_IO_Running=Yes
//     until that many seconds pass without data;
//   - MASTER_HEARTBEAT_PERIOD: an idle master sends a heartbeat this often,
//     so a short slave_net_timeout does not cut healthy idle connections;
//     it must stay below slave_net_timeout;
//   - MASTER_CONNECT_RETRY: a replica that lost its master tries again this
//     often (60 s by default), so a master that came back, or a replica
//     repointed during a failover, is seen connected again only after it.
type Detection struct {
	SlaveNetTimeout time.Duration
	HeartbeatPeriod time.Duration
	ConnectRetry    time.Duration
}

// RecommendedDetection returns the settings that make detection fast for
// a ping interval p: the heartbeat every p (at least 1 s), slave_net_timeout
// four heartbeats (at least 4 s, whole seconds), connect retry p rounded
// up to whole seconds. With ping_interval=1 that is slave_net_timeout=4,
// MASTER_HEARTBEAT_PERIOD=1, MASTER_CONNECT_RETRY=1; with MHA's default of
// 3 s, 12, 3 and 3.
func RecommendedDetection(p time.Duration) Detection {
	if p <= 0 {
		p = topology.DefaultPingInterval
	}
	hb := max(p, time.Second)
	secs := func(d time.Duration) time.Duration {
		return time.Duration(math.Ceil(d.Seconds())) * time.Second
	}
	return Detection{SlaveNetTimeout: max(secs(4*hb), 4*time.Second), HeartbeatPeriod: hb, ConnectRetry: secs(p)}
}

// DetectionFacts are one replica's current detection settings; a zero
// ConnectRetry is not known (the manager does not read it yet).
type DetectionFacts struct {
	Host            string
	SlaveNetTimeout time.Duration
	HeartbeatPeriod time.Duration // 0: off or not readable
	ConnectRetry    time.Duration
}

// Recommendation is check-repl's advice for one replica whose settings
// make detection slower than the ping interval allows.
type Recommendation struct {
	Host string
	// Changes are "slave_net_timeout 60 s -> 4 s" and the like, one per
	// setting to change.
	Changes []string
	// SQL is what the DBA runs on the replica (and puts slave_net_timeout
	// in my.cnf too).
	SQL string
}

// String is the recommendation line check-repl prints under the
// HeartbeatSlow and SlaveNetTimeoutHigh findings.
func (r Recommendation) String() string {
	return fmt.Sprintf("Recommended on %s for fast failure detection: %s. Run: %s (and slave_net_timeout in my.cnf); gomha keeps these settings when it repoints the replica.",
		r.Host, strings.Join(r.Changes, ", "), r.SQL)
}

// RecommendFor compares one replica's settings with want; ok is false
// when nothing needs to change. A connect retry that is not known is
// recommended with the rest when anything else changes.
func RecommendFor(f DetectionFacts, want Detection) (Recommendation, bool) {
	r := Recommendation{Host: f.Host}
	var set []string
	num := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
	netSlow := f.SlaveNetTimeout <= 0 || f.SlaveNetTimeout > want.SlaveNetTimeout
	if netSlow {
		r.Changes = append(r.Changes, fmt.Sprintf("slave_net_timeout %s -> %s", orUnknown(f.SlaveNetTimeout), want.SlaveNetTimeout))
	}
	net := f.SlaveNetTimeout
	if netSlow {
		net = want.SlaveNetTimeout
	}
	// The heartbeat must stay below slave_net_timeout (a slave_net_timeout
	// already shorter than recommended is left alone).
	hb := min(want.HeartbeatPeriod, net/2)
	if f.HeartbeatPeriod <= 0 || f.HeartbeatPeriod > hb {
		was := "off"
		if f.HeartbeatPeriod > 0 {
			was = f.HeartbeatPeriod.String()
		}
		r.Changes = append(r.Changes, fmt.Sprintf("heartbeat %s -> %s", was, hb))
		set = append(set, "MASTER_HEARTBEAT_PERIOD="+num(hb))
	}
	retrySlow := f.ConnectRetry > want.ConnectRetry
	if retrySlow || (f.ConnectRetry == 0 && len(r.Changes) > 0) {
		r.Changes = append(r.Changes, fmt.Sprintf("master_connect_retry %s -> %s", orUnknown(f.ConnectRetry), want.ConnectRetry))
		set = append(set, "MASTER_CONNECT_RETRY="+num(want.ConnectRetry))
	}
	if len(r.Changes) == 0 {
		return r, false
	}
	var sql []string
	if netSlow {
		sql = append(sql, "SET GLOBAL slave_net_timeout="+num(want.SlaveNetTimeout))
	}
	if len(set) > 0 {
		sql = append(sql, "STOP SLAVE", "CHANGE MASTER TO "+strings.Join(set, ", "), "START SLAVE")
	}
	r.SQL = strings.Join(sql, "; ")
	return r, true
}

func orUnknown(d time.Duration) string {
	if d <= 0 {
		return "(unknown)"
	}
	return d.String()
}

// RecommendDetection returns the recommendations for every alive replica
// of t whose settings make detection slower than ping interval p allows;
// p <= 0 takes the master's ping_interval (MHA's default without one).
// Each Recommendation.Host is the Host of the replica's HeartbeatSlow or
// SlaveNetTimeoutHigh finding, if it has one.
func RecommendDetection(t *topology.Topology, p time.Duration) []Recommendation {
	if p <= 0 && t.Master != nil {
		p = t.Master.Server.PingInterval
	}
	want := RecommendedDetection(p)
	var out []Recommendation
	for _, n := range t.Replicas() {
		if n.State == nil {
			continue
		}
		f := DetectionFacts{
			Host:            n.Host(),
			SlaveNetTimeout: time.Duration(n.State.SlaveNetTimeout) * time.Second,
			HeartbeatPeriod: time.Duration(n.State.HeartbeatPeriod * float64(time.Second)),
		}
		if r, ok := RecommendFor(f, want); ok {
			out = append(out, r)
		}
	}
	return out
}
