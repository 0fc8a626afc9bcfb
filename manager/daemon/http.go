package daemon

import (
	"errors"
	"net"
	"strconv"

	"github.com/gomha/gomha/manager/httpapi"
)

// HTTPSource is the daemon as manager/httpapi's Source (and Readiness):
// the status board, converted to the API's types.
func (d *Daemon) HTTPSource() httpapi.Source { return httpSource{d} }

type httpSource struct{ d *Daemon }

func (s httpSource) Clusters() []httpapi.ClusterStatus {
	var out []httpapi.ClusterStatus
	for _, c := range s.d.Clusters() {
		out = append(out, apiStatus(c))
	}
	return out
}

func (s httpSource) Cluster(app string) (httpapi.ClusterStatus, bool) {
	c, ok := s.d.Cluster(app)
	if !ok {
		return httpapi.ClusterStatus{}, false
	}
	return apiStatus(c), true
}

// Ready: at least one cluster's manager runs.
func (s httpSource) Ready() error {
	for _, c := range s.d.Clusters() {
		if c.Running {
			return nil
		}
	}
	return errors.New("no cluster is monitored")
}

// apiStatus converts one cluster's status.
func apiStatus(c ClusterStatus) httpapi.ClusterStatus {
	a := httpapi.ClusterStatus{App: c.App, Conf: c.Conf, Role: c.Role, ActiveManager: c.ActiveManager,
		Detection: httpapi.Detection{State: c.State, Since: c.StateSince, LastError: c.Error}}
	if host, port, err := net.SplitHostPort(c.Master); err == nil {
		a.Master.Host = host
		a.Master.Port, _ = strconv.Atoi(port)
		a.Master.Alive = c.Running && c.State == "PING_OK"
	}
	for _, r := range c.Replicas {
		a.Replicas = append(a.Replicas, httpapi.Replica{Host: r.Host, Port: r.Port, IORunning: r.IORunning, SQLRunning: r.SQLRunning,
			SecondsBehind: r.SecondsBehind, Error: r.Error})
	}
	last := c.LastFailover
	kind := httpapi.EventFailover
	if c.LastSwitch != nil && (last == nil || c.LastSwitch.Started.After(last.Started)) {
		last, kind = c.LastSwitch, httpapi.EventSwitch
	}
	if last != nil {
		e := &httpapi.Event{Kind: kind, Result: apiResult(last.Result), StartedAt: last.Started, FinishedAt: last.Ended,
			NewMaster: last.NewMaster, EndPoint: last.EndPoint, Lost: last.Lost}
		for _, p := range last.Phases {
			e.Phases = append(e.Phases, httpapi.PhaseTiming{Name: p.Name, MS: p.MS})
		}
		a.LastEvent = e
	}
	return a
}

func apiResult(r string) string {
	switch r {
	case ResultOK:
		return httpapi.ResultSuccess
	case ResultPartial:
		return httpapi.ResultPartial
	case ResultRefused:
		return httpapi.ResultRefused
	}
	return httpapi.ResultFailed
}

// Secrets are the passwords of every configuration the daemon read, for
// httpapi.Config.Secrets.
func (d *Daemon) Secrets() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, s := range d.secrets {
		out = append(out, s...)
	}
	return out
}
