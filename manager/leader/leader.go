// Package leader makes one manager per cluster the active one and the
// others standbys, through a lock on Consul: a session (TTL,
// behavior=release, LockDelay) and a KV key per cluster,
// "<prefix>/<app>/leader", whose value names the holder.
//
// The holder monitors and acts; standbys monitor passively and report who
// is active (Holder). The failover calls Check before each irreversible
// step: it passes only while this manager's local lease runs, its session
// is valid and the key is still held by it (consistent reads).
//
// # Why the session TTL alone is too slow
//
// Consul refuses session TTLs under session_ttl_min (10 s by default), and
// its leader invalidates a session only 2×TTL after the last renewal
// (structs.SessionTTLMultiplier): a manager killed with -9 keeps the lock
// for 20 s, then lock-delay (15 s by default) holds the key for nobody:
// 35 s, against the 10 s takeover target. So the holder proves it is alive
// by a heartbeat instead: every Beat it renews its session and rewrites the
// key's value in a transaction that checks the key is still locked by its
// session (it never takes a free key back that way), which changes the
// key's ModifyIndex. A standby that sees the ModifyIndex stand still for
// Evict unlocks the key for the holder in a transaction guarded by that
// ModifyIndex (a beat that lands first makes it fail) and then acquires
// it. The holder's next beat fails: it is deposed, keeps its session and
// stands by. The session TTL and lock-delay stay as Consul's backstop for
// a holder nobody evicts (TTL expiry, a destroyed session).
//
// # Why two managers never act at once
//
// A manager P acts only while now < s + Lease, where s is the start of its
// last beat (or acquisition) that Consul confirmed; its callback fires at
// that instant and Check refuses from then on. A manager Q that acquires the
// key acts only from r + Lease + Grace, where r is when its acquisition's
// answer arrived, and only while its own beats keep confirming. P's beats
// are confirmed only while its session holds the key, so P's last confirmed
// beat was applied by Consul at some a ≥ s before Q's acquisition was
// applied at some b ≤ r, and
//
//	P stops at s + Lease ≤ a + Lease < b + Lease ≤ r + Lease = Q starts − Grace.
//
// A lease that ran out is not revived by a late answer: P acquires again,
// as a new tenure that waits too. This holds however P lost the key:
// unlocked by a standby, TTL expiry, a session destroyed by an operator,
// the key deleted, or Consul restarted without its state (a -dev agent):
// P's beat was applied by the agent that died, Q's acquisition by the one
// that replaced it. It assumes only that the two managers' monotonic clocks
// run at the same rate to within Grace/Lease (33 % with the defaults;
// crystals differ by far less than 0.01 %), and it leaves Grace for a step
// that passed Check just before P's deadline (Check cannot stop a step
// already running: MySQL takes no fencing token). It does not depend on
// lock-delay, which Consul applies only when a session is invalidated and
// which a restarted agent forgets.
//
// # Takeover time after kill -9 of the active manager
//
// With the defaults (Beat 1 s, Lease 3 s, Evict 3 s, Grace 1 s): the
// standby last saw the key change at o, within milliseconds of the
// holder's last beat, so at most one beat before the kill. It unlocks the
// key at o + Evict (+ Consul's blocking-query jitter, up to Evict/16 ≈
// 0.2 s), acquires it within milliseconds and acts Lease + Grace = 4 s
// later: at most about 7.2 s after o, so at most 7.2 s after the kill, and
// at least 6.2 s after it. The tests against a real agent log the measured
// figures.
//
// A holder cut off from Consul is deposed Lease after its last confirmed
// beat (its beats fail or hang); a standby acts Evict + Lease + Grace
// after it saw the last beat (an unlock guarded by an older ModifyIndex
// fails, and the wait starts again), so at least Evict + Grace = 4 s after
// the holder stopped. After Consul lost its state, every manager
// finds its session gone, creates a new one and races for the key; the
// winner acts Lease + Grace after acquiring. Without a standby that
// evicts, Consul frees the key 2×TTL + LockDelay after the last renewal
// (21 s with the defaults).
//
// # Consul permissions
//
// With ACLs on, the token (CONSUL_HTTP_TOKEN) needs key_prefix
// "<prefix>/" write (the lock, and the standbys' guarded unlock) and
// session write on the agent's node: for example
//
//	key_prefix "gomha/" { policy = "write" }
//	session_prefix "" { policy = "write" }
package leader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
)

// Role is this manager's part for one cluster.
type Role int

// Roles.
const (
	// Unknown: Consul did not answer lately (or not yet) and this manager
	// does not hold a running lease. Do not act.
	Unknown Role = iota
	// Standby: another manager holds the lock, or this one acquired it and
	// waits out Lease + Grace. Monitor, do not act.
	Standby
	// Active: this manager holds the lock and its lease runs. Act, calling
	// Check before each irreversible step.
	Active
)

func (r Role) String() string {
	switch r {
	case Active:
		return "active"
	case Standby:
		return "standby"
	default:
		return "unknown"
	}
}

// Defaults for Config; the package comment explains how they combine.
const (
	DefaultPrefix    = "gomha"
	DefaultTTL       = 10 * time.Second
	DefaultLockDelay = 1 * time.Second // Consul's own default is 15 s
	DefaultBeat      = 1 * time.Second
	DefaultLease     = 3 * time.Second
	DefaultEvict     = 3 * time.Second
	DefaultGrace     = 1 * time.Second
	DefaultRetry     = 500 * time.Millisecond
	DefaultTimeout   = 2 * time.Second
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrConfig reports an invalid Config.
	ErrConfig = errors.New("leader: invalid configuration")
	// ErrNotActive reports that this manager's own view does not make it
	// the active one: it holds no lock, waits after acquiring it, or its
	// lease ran out.
	ErrNotActive = errors.New("leader: not the active manager")
	// ErrSessionInvalid reports that Consul no longer knows this manager's
	// session.
	ErrSessionInvalid = errors.New("leader: session no longer valid")
	// ErrNotHolder reports that the key is not held by this manager's
	// session.
	ErrNotHolder = errors.New("leader: lock not held by this manager")
	// ErrNoHolder reports that nobody holds the lock.
	ErrNoHolder = errors.New("leader: nobody holds the lock")
)

// Config says which agent, which key and which timings to use. The zero
// value of each field means its default.
type Config struct {
	// Addr is the agent's HTTP API ("http://127.0.0.1:8500" or
	// "127.0.0.1:8500"); "" keeps CONSUL_HTTP_ADDR or the client's default.
	// The token, TLS and other CONSUL_* variables of the official client
	// are honoured, as by the consul hook (see ClientConfig).
	Addr string
	// App is the cluster's name; the key is Prefix/App/leader. Required.
	App string
	// Prefix is the KV prefix, DefaultPrefix when empty.
	Prefix string
	// Name names this manager in the key's value; the host name when empty.
	Name string
	// Version is this manager's version, shown to standbys.
	Version string

	// TTL is the session's TTL (Consul's own backstop; at least its
	// session_ttl_min, 10 s by default).
	TTL time.Duration
	// LockDelay is the session's lock-delay (Consul accepts at most 60 s).
	LockDelay time.Duration
	// Beat is how often the holder proves it holds the key.
	Beat time.Duration
	// Lease is how long after its last confirmed beat the holder still
	// acts, and how long a new holder waits before acting (plus Grace).
	Lease time.Duration
	// Evict is how long a standby waits for the key to change before it
	// evicts the holder's session.
	Evict time.Duration
	// Grace is what a new holder waits beyond Lease.
	Grace time.Duration
	// Retry is the pause after a failed request or a refused acquisition.
	Retry time.Duration
	// Timeout bounds each request to Consul (blocking reads get their wait
	// on top).
	Timeout time.Duration

	// Logger receives role changes and Consul errors; slog.Default() when
	// nil.
	Logger *slog.Logger
}

// withDefaults fills in the zero fields.
func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.TTL, DefaultTTL)
	def(&c.LockDelay, DefaultLockDelay)
	def(&c.Beat, DefaultBeat)
	def(&c.Lease, DefaultLease)
	def(&c.Evict, DefaultEvict)
	def(&c.Grace, DefaultGrace)
	def(&c.Retry, DefaultRetry)
	def(&c.Timeout, DefaultTimeout)
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Name == "" {
		c.Name, _ = os.Hostname()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports every problem of c (after defaults) at once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if c.App == "" || strings.ContainsAny(c.App, "/ \t\r\n") {
		bad("app %q: want a non-empty name without '/' or spaces", c.App)
	}
	if strings.HasPrefix(c.Prefix, "/") || strings.HasSuffix(c.Prefix, "/") {
		bad("prefix %q: no leading or trailing '/'", c.Prefix)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ttl", c.TTL}, {"lock_delay", c.LockDelay}, {"beat", c.Beat}, {"lease", c.Lease}, {"evict", c.Evict}, {"grace", c.Grace}, {"retry", c.Retry}, {"timeout", c.Timeout}} {
		if d.v < 0 {
			bad("%s %v is negative", d.name, d.v)
		}
	}
	if c.LockDelay > 60*time.Second {
		bad("lock_delay %v: Consul caps it at 60s", c.LockDelay)
	}
	if c.Beat >= c.Lease {
		bad("beat %v must be shorter than lease %v", c.Beat, c.Lease)
	}
	if c.Evict < 2*c.Beat {
		bad("evict %v must be at least two beats (%v)", c.Evict, 2*c.Beat)
	}
	if c.TTL < 2*c.Lease {
		bad("ttl %v must be at least twice the lease %v", c.TTL, c.Lease)
	}
	return errors.Join(errs...)
}

// Key is the KV key for c: Prefix/App/leader.
func (c Config) Key() string { return c.withDefaults().Prefix + "/" + c.App + "/leader" }

// ClientConfig returns the official client's configuration for the agent at
// addr, with CONSUL_HTTP_TOKEN, CONSUL_HTTP_SSL, CONSUL_CACERT and the other
// CONSUL_* variables honoured; addr "" keeps CONSUL_HTTP_ADDR (or
// 127.0.0.1:8500). It is the option handling of the consul hook
// (manager/hooks/consul.Do), which can adopt it.
func ClientConfig(addr string) *api.Config {
	cfg := api.DefaultConfig()
	if addr != "" {
		cfg.Address = addr
	}
	return cfg
}

// HolderInfo is the key's value: who holds the lock.
type HolderInfo struct {
	Name    string    `json:"name"`
	PID     int       `json:"pid"`
	Version string    `json:"version,omitempty"`
	Since   time.Time `json:"since"`
	// Beat counts the holder's beats in this tenure; every beat changes
	// the key's ModifyIndex.
	Beat uint64 `json:"beat"`
}

// String names the holder for status output: "mgr1 (pid 42, version v1,
// since 2026-01-02T03:04:05Z)".
func (h HolderInfo) String() string {
	var b strings.Builder
	b.WriteString(h.Name)
	b.WriteString(" (pid ")
	b.WriteString(strconv.Itoa(h.PID))
	if h.Version != "" {
		b.WriteString(", version ")
		b.WriteString(h.Version)
	}
	b.WriteString(", since ")
	b.WriteString(h.Since.UTC().Format(time.RFC3339))
	b.WriteString(")")
	return b.String()
}

// Elector runs the lock for one cluster. Run drives it; Check, Holder and
// Role may be called from other goroutines meanwhile.
type Elector struct {
	cfg   Config
	store store

	mu   sync.Mutex
	view view
}

// New returns an Elector for cfg, talking to the agent at cfg.Addr through
// its own client. Nothing is sent before Run.
func New(cfg Config) (*Elector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s, err := newConsulStore(cfg)
	if err != nil {
		return nil, err
	}
	return newElector(cfg, s), nil
}

func newConsulStore(cfg Config) (*consulStore, error) {
	client, err := api.NewClient(ClientConfig(cfg.Addr))
	if err != nil {
		return nil, fmt.Errorf("leader: consul agent %s: %w", cfg.Addr, err)
	}
	return &consulStore{c: client, key: cfg.Key(), ttl: cfg.TTL, lockDelay: cfg.LockDelay}, nil
}

func newElector(cfg Config, s store) *Elector {
	return &Elector{cfg: cfg.withDefaults(), store: s}
}

// view is what Check and Role read of the Run loop's state.
type view struct {
	session string
	holding bool
	// activeFrom and deadline bound the time this manager may act.
	activeFrom, deadline time.Time
	// role is the role Run last reported.
	role Role
}

func (v view) active(now time.Time) bool {
	return v.holding && !now.Before(v.activeFrom) && now.Before(v.deadline)
}

func (e *Elector) snapshot() view {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.view
}

// Role is this manager's role now, by its own view (no request).
func (e *Elector) Role() Role {
	v := e.snapshot()
	switch {
	case v.active(time.Now()):
		return Active
	case v.role == Active:
		// The lease ran out and Run has not said so yet.
		return Standby
	default:
		return v.role
	}
}

// Check returns nil only if this manager may take an irreversible step
// now: its local lease runs (before and after the reads), Consul still
// knows its session, and the key is held by it (both read consistently).
// Any error means: do not act.
func (e *Elector) Check(ctx context.Context) error {
	v := e.snapshot()
	now := time.Now()
	if !v.active(now) {
		return fmt.Errorf("check lock %s: %w (%s)", e.cfg.Key(), ErrNotActive, v.why(now))
	}
	// The reads cannot outlast the lease.
	ctx, cancel := context.WithDeadline(ctx, v.deadline)
	defer cancel()
	ok, err := e.store.sessionValid(ctx, v.session, e.cfg.Timeout)
	if err != nil {
		return fmt.Errorf("check lock %s: read session %s: %w", e.cfg.Key(), v.session, err)
	}
	if !ok {
		return fmt.Errorf("check lock %s: %w: %s", e.cfg.Key(), ErrSessionInvalid, v.session)
	}
	k, err := e.store.read(ctx, readOpts{consistent: true, timeout: e.cfg.Timeout})
	if err != nil {
		return fmt.Errorf("check lock %s: read key: %w", e.cfg.Key(), err)
	}
	if k.Session != v.session {
		return fmt.Errorf("check lock %s: %w (held by session %q, ours %s)", e.cfg.Key(), ErrNotHolder, k.Session, v.session)
	}
	v = e.snapshot()
	if now := time.Now(); !v.active(now) {
		return fmt.Errorf("check lock %s: %w (%s)", e.cfg.Key(), ErrNotActive, v.why(now))
	}
	return nil
}

func (v view) why(now time.Time) string {
	switch {
	case !v.holding:
		return "the lock is not ours"
	case now.Before(v.activeFrom):
		return fmt.Sprintf("acquired, acting in %v", v.activeFrom.Sub(now).Round(time.Millisecond))
	default:
		return fmt.Sprintf("lease ran out %v ago", now.Sub(v.deadline).Round(time.Millisecond))
	}
}

// Holder returns who holds the lock, as the key's value names it (see
// HolderInfo.String); ErrNoHolder when nobody does.
func (e *Elector) Holder(ctx context.Context) (string, error) {
	k, err := e.store.read(ctx, readOpts{consistent: true, timeout: e.cfg.Timeout})
	if err != nil {
		return "", fmt.Errorf("leader: read key %s: %w", e.cfg.Key(), err)
	}
	if !k.Exists || k.Session == "" {
		return "", fmt.Errorf("%w (key %s)", ErrNoHolder, e.cfg.Key())
	}
	var h HolderInfo
	if err := json.Unmarshal(k.Value, &h); err != nil || h.Name == "" {
		return fmt.Sprintf("%q (session %s)", k.Value, k.Session), nil
	}
	return h.String(), nil
}
