// Package keepalived holds the node-side checks that keepalived runs on the
// database hosts, so that keepalived follows gomha's decisions and never
// makes its own:
//
//   - CheckMaster, behind `mha-node keepalived-check`, for a vrrp_script /
//     track_script: it passes only on the host gomha made the writable
//     master (the local mysqld answers, read_only is off, it replicates from
//     nobody, neither the fencing watchdog nor the manager's hook fenced it).
//     keepalived then moves the write VIP, with its own VRRP advertisements
//     and gratuitous ARP, exactly when gomha promotes a host.
//   - CheckRealServer, behind `mha-node lvs-check`, for an LVS
//     virtual_server's MISC_CHECK: a replica is a healthy read real server
//     while both replication threads run and it lags at most a bound.
//
// The decisions are pure functions fed with facts (Server, the watchdog's
// state file, the hook's mark file) and tested as tables; ReadServer and
// ReadMark are the thin I/O that gathers them.
package keepalived

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Server is what one look at the local mysqld found.
type Server struct {
	// Version is @@version as the server reports it.
	Version string `json:"version"`
	// ReadOnly is @@global.read_only.
	ReadOnly bool `json:"read_only"`
	// SuperReadOnly is @@global.super_read_only; nil where the server has
	// none (MariaDB, every version; MySQL before 5.7.8).
	SuperReadOnly *bool `json:"super_read_only,omitempty"`
	// Channels are the replication channels (connections in MariaDB's
	// words), one per row of the replica status; none on a server that
	// never replicated or went through RESET SLAVE ALL.
	Channels []Channel `json:"channels,omitempty"`
}

// Channel is one row of the replica status, mapped from the MariaDB and
// MySQL column names (Master_* / Slave_*, or MySQL 8.0.22's Source_* /
// Replica_*) in parseChannels.
type Channel struct {
	// Name is the channel (MySQL's Channel_Name, MariaDB's
	// Connection_name); "" for the default one.
	Name string `json:"name,omitempty"`
	// SourceHost and SourcePort are where it replicates from; an empty
	// SourceHost is a channel with no source (MHA on MySQL 5.1 resets a
	// new master with CHANGE MASTER TO MASTER_HOST='').
	SourceHost string `json:"source_host"`
	SourcePort int    `json:"source_port,omitempty"`
	// IO and SQL are the threads' states as the server spells them: Yes,
	// No, Connecting (IO only), or a state a later version may add.
	IO  string `json:"io_running"`
	SQL string `json:"sql_running"`
	// Lag is Seconds_Behind_Master; nil when the server reports NULL (a
	// thread is not running, or the IO thread has not connected yet).
	Lag *int64 `json:"seconds_behind,omitempty"`
	// LastIOError and LastSQLError are the threads' last errors, "" for none.
	LastIOError  string `json:"last_io_error,omitempty"`
	LastSQLError string `json:"last_sql_error,omitempty"`
}

// HasSource reports whether the channel names a source.
func (c Channel) HasSource() bool { return c.SourceHost != "" }

// IORunning reports whether the IO thread runs and is connected ("Yes").
func (c Channel) IORunning() bool { return strings.EqualFold(strings.TrimSpace(c.IO), "Yes") }

// SQLRunning reports whether the SQL thread runs ("Yes").
func (c Channel) SQLRunning() bool { return strings.EqualFold(strings.TrimSpace(c.SQL), "Yes") }

// Stopped reports whether both threads are stopped ("No"): not merely
// disconnected ("Connecting") nor in a state this package does not know.
func (c Channel) Stopped() bool {
	return strings.EqualFold(strings.TrimSpace(c.IO), "No") && strings.EqualFold(strings.TrimSpace(c.SQL), "No")
}

// Source renders the source as host:port.
func (c Channel) Source() string {
	if c.SourcePort == 0 {
		return c.SourceHost
	}
	return formatHostPort(c.SourceHost, c.SourcePort)
}

// label names the channel in a reason: "replication from db2:3306" or
// "replication channel 'ch1' from db2:3306".
func (c Channel) label() string {
	if c.Name == "" {
		return "replication from " + c.Source()
	}
	return fmt.Sprintf("replication channel '%s' from %s", c.Name, c.Source())
}

func formatHostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}

// SourceMatcher is one --allow_source value: a host (a name, compared
// without case, or an IP address, compared by value) and optionally a port.
type SourceMatcher struct {
	Host string
	Port int
}

// ParseSource reads HOST, HOST:PORT, IPv6, or [IPv6]:PORT.
func ParseSource(s string) (SourceMatcher, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return SourceMatcher{}, fmt.Errorf("empty source")
	}
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return SourceMatcher{}, fmt.Errorf("source %q: missing ]", s)
		}
		m := SourceMatcher{Host: s[1:end]}
		rest := s[end+1:]
		if rest == "" {
			return m, nil
		}
		p, err := parsePort(strings.TrimPrefix(rest, ":"))
		if err != nil || !strings.HasPrefix(rest, ":") {
			return SourceMatcher{}, fmt.Errorf("source %q: bad port", s)
		}
		m.Port = p
		return m, nil
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return SourceMatcher{Host: s}, nil // a bare IPv6 address has colons
	}
	host, port, found := strings.Cut(s, ":")
	if !found {
		return SourceMatcher{Host: s}, nil
	}
	p, err := parsePort(port)
	if err != nil || host == "" {
		return SourceMatcher{}, fmt.Errorf("source %q: want HOST or HOST:PORT", s)
	}
	return SourceMatcher{Host: host, Port: p}, nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("bad port %q", s)
	}
	return p, nil
}

// Match reports whether the channel's source is m.
func (m SourceMatcher) Match(c Channel) bool {
	if m.Port != 0 && c.SourcePort != m.Port {
		return false
	}
	a, aerr := netip.ParseAddr(c.SourceHost)
	b, berr := netip.ParseAddr(m.Host)
	if aerr == nil && berr == nil {
		return a.Unmap() == b.Unmap()
	}
	return strings.EqualFold(c.SourceHost, m.Host)
}

// String renders m as ParseSource reads it.
func (m SourceMatcher) String() string {
	if m.Port == 0 {
		return m.Host
	}
	return formatHostPort(m.Host, m.Port)
}

// Reason is one cause of a failed check: a stable code for programs and a
// line for people.
type Reason struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// String renders the reason as one line.
func (r Reason) String() string { return r.Code + ": " + r.Detail }

// Reason codes.
const (
	// CodeUnreachable: the local mysqld did not answer in time, or the
	// check's own setup (credentials) failed.
	CodeUnreachable = "unreachable"
	// CodeReadOnly: read_only (or super_read_only) is on.
	CodeReadOnly = "read_only"
	// CodeReplica: the server replicates from a source (keepalived-check),
	// or does not (lvs-check).
	CodeReplica = "replica"
	// CodeNotReplica: lvs-check on a server that replicates from nobody.
	CodeNotReplica = "not_replica"
	// CodeThreads: a replication thread is not running (lvs-check).
	CodeThreads = "replication_stopped"
	// CodeLag: the replica lags more than allowed, or its lag is unknown.
	CodeLag = "lag"
	// CodeWatchdog: the fencing watchdog demoted the server, is demoting
	// it, or runs without holding its lease.
	CodeWatchdog = "watchdog"
	// CodeFenced: the manager's hook fenced the host (its mark file).
	CodeFenced = "fenced"
)
