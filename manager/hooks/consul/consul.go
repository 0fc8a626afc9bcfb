// Package consul points a Consul catalog entry at the current master: the
// logic behind `mha hook consul`, gomha's built-in
// master_ip_failover_script and master_ip_online_change_script for sites
// whose clients find the master through Consul DNS (master.node.consul) or
// the service catalog instead of a virtual IP.
//
// What each MHA command (mha-compat §4.1, §4.5) does:
//
//   - start: register the catalog node (default "master") with the new
//     master's address, and on it the service (default "mysql-master", port
//     = the new master's port, tag "gomha") with a TCP check definition on
//     ip:port. Then read the node back and check its address. Registering
//     again with the same values changes nothing, so start is idempotent.
//   - stop, stopssh: deregister the node, which removes its service and
//     check too: clients get NXDOMAIN instead of the old master. A node that
//     is already absent is fine; a node that points at another host than
//     the orig master is left alone (with a warning): it is not the entry
//     this command is meant to withdraw.
//   - status: the agent answers (it knows a leader), and where the node
//     points.
//
// The node is an external node (it runs no Consul agent): its check is
// registered with status passing and carries a TCP definition, which
// consul-esm runs when it is deployed (node meta external-node and
// external-probe are set for it). Without consul-esm nothing updates that
// check; DNS node lookups do not depend on it.
//
// The agent's address comes from the caller; CONSUL_HTTP_TOKEN and the other
// CONSUL_* variables of the official client are honoured.
package consul

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/consul/api"
)

// Commands MHA passes with --command.
const (
	CommandStatus  = "status"
	CommandStop    = "stop"
	CommandStopSSH = "stopssh"
	CommandStart   = "start"
)

// Defaults for Config.
const (
	DefaultAddr    = "http://127.0.0.1:8500"
	DefaultNode    = "master"
	DefaultService = "mysql-master"
	// Tag marks the services this package registers.
	Tag = "gomha"
)

// Sentinel errors.
var (
	// ErrRequest reports a request that cannot be carried out as given.
	ErrRequest = errors.New("consul: invalid request")
	// ErrNotRegistered reports that the catalog does not show the node as
	// registered after start.
	ErrNotRegistered = errors.New("consul: node not registered as expected")
)

// Host is one side of the change (MHA's orig or new master).
type Host struct {
	// Name is the host name as MHA passes it.
	Name string
	// IP is the address registered for it.
	IP string
	// Port is MySQL's port on it.
	Port int
}

// String names the host for messages: "db1 (198.18.7.11:3306)".
func (h Host) String() string {
	return h.Name + " (" + net.JoinHostPort(h.IP, strconv.Itoa(h.Port)) + ")"
}

// Config says which agent and which names to use.
type Config struct {
	// Addr is the agent's HTTP API ("http://127.0.0.1:8500" or
	// "127.0.0.1:8500"); "" means DefaultAddr.
	Addr string
	// Node is the catalog node name; "" means DefaultNode.
	Node string
	// Service is the service name; "" means DefaultService.
	Service string
	// Timeout bounds each API call; 0 means 10 seconds.
	Timeout time.Duration
}

// Request is one hook invocation.
type Request struct {
	// Command is status, stop, stopssh or start.
	Command string
	// Orig is the current (or dead) master; nil when MHA did not pass one.
	Orig *Host
	// New is the new master; required for start.
	New *Host
}

// Outcome is what a request did, for the hook's output.
type Outcome struct {
	// Lines describe each step, in order.
	Lines []string
	// Warned is set when the request succeeded with a caveat (MHA's exit
	// code 10).
	Warned bool
}

func (o *Outcome) note(format string, args ...any) {
	o.Lines = append(o.Lines, fmt.Sprintf(format, args...))
}

func (o *Outcome) warn(format string, args ...any) {
	o.Warned = true
	o.Lines = append(o.Lines, "warning: "+fmt.Sprintf(format, args...))
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Node == "" {
		c.Node = DefaultNode
	}
	if c.Service == "" {
		c.Service = DefaultService
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	return c
}

// Validate checks a request before anything runs.
func (r Request) Validate() error {
	switch r.Command {
	case CommandStatus, CommandStop, CommandStopSSH:
	case CommandStart:
		if r.New == nil || r.New.IP == "" {
			return fmt.Errorf("%w: --command=start needs --new_master_ip", ErrRequest)
		}
		if r.New.Port <= 0 || r.New.Port > 65535 {
			return fmt.Errorf("%w: --command=start needs --new_master_port (got %d)", ErrRequest, r.New.Port)
		}
	case "":
		return fmt.Errorf("%w: --command=status|stop|stopssh|start is required", ErrRequest)
	default:
		return fmt.Errorf("%w: unknown --command=%s (want status, stop, stopssh or start)", ErrRequest, r.Command)
	}
	return nil
}

// Do carries out the request against the agent at cfg.Addr. The error
// names the agent and the step.
func Do(ctx context.Context, cfg Config, r Request) (Outcome, error) {
	var o Outcome
	if err := r.Validate(); err != nil {
		return o, err
	}
	cfg = cfg.withDefaults()
	acfg := api.DefaultConfig()
	acfg.Address = cfg.Addr
	client, err := api.NewClient(acfg)
	if err != nil {
		return o, fmt.Errorf("consul %s: agent %s: %w", r.Command, cfg.Addr, err)
	}
	d := &doer{cfg: cfg, c: client, o: &o}
	switch r.Command {
	case CommandStatus:
		err = d.status(ctx, r)
	case CommandStop, CommandStopSSH:
		err = d.stop(ctx, r)
	case CommandStart:
		err = d.start(ctx, r)
	}
	if err != nil {
		return o, fmt.Errorf("consul %s: agent %s: %w", r.Command, cfg.Addr, err)
	}
	return o, nil
}

type doer struct {
	cfg Config
	c   *api.Client
	o   *Outcome
}

func (d *doer) query(ctx context.Context) (*api.QueryOptions, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	return (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx), cancel
}

func (d *doer) write(ctx context.Context) (*api.WriteOptions, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	return (&api.WriteOptions{}).WithContext(ctx), cancel
}

// node returns the node's address, "" when it is not registered.
func (d *doer) node(ctx context.Context) (string, error) {
	q, cancel := d.query(ctx)
	defer cancel()
	n, _, err := d.c.Catalog().Node(d.cfg.Node, q)
	if err != nil {
		return "", fmt.Errorf("read node %s: %w", d.cfg.Node, err)
	}
	if n == nil || n.Node == nil {
		return "", nil
	}
	return n.Node.Address, nil
}

func (d *doer) status(ctx context.Context, r Request) error {
	q, cancel := d.query(ctx)
	defer cancel()
	leader, err := d.c.Status().LeaderWithQueryOptions(q)
	if err != nil {
		return fmt.Errorf("ask for the leader: %w", err)
	}
	if leader == "" {
		return errors.New("ask for the leader: the agent knows no leader")
	}
	addr, err := d.node(ctx)
	if err != nil {
		return err
	}
	switch {
	case addr == "":
		d.o.note("agent %s is up (leader %s); node %s is not registered", d.cfg.Addr, leader, d.cfg.Node)
	case r.Orig != nil && addr != r.Orig.IP:
		d.o.note("agent %s is up (leader %s); node %s points at %s, not at orig master %s", d.cfg.Addr, leader, d.cfg.Node, addr, *r.Orig)
	default:
		d.o.note("agent %s is up (leader %s); node %s points at %s", d.cfg.Addr, leader, d.cfg.Node, addr)
	}
	return nil
}

func (d *doer) stop(ctx context.Context, r Request) error {
	addr, err := d.node(ctx)
	if err != nil {
		return err
	}
	if addr == "" {
		d.o.note("node %s is not registered", d.cfg.Node)
		return nil
	}
	if r.Orig != nil && r.Orig.IP != "" && addr != r.Orig.IP {
		d.o.warn("node %s points at %s, not at orig master %s: left as it is", d.cfg.Node, addr, *r.Orig)
		return nil
	}
	w, cancel := d.write(ctx)
	defer cancel()
	if _, err := d.c.Catalog().Deregister(&api.CatalogDeregistration{Node: d.cfg.Node}, w); err != nil {
		return fmt.Errorf("deregister node %s (%s): %w", d.cfg.Node, addr, err)
	}
	d.o.note("deregistered node %s (%s)", d.cfg.Node, addr)
	return nil
}

func (d *doer) start(ctx context.Context, r Request) error {
	nm := *r.New
	hostPort := net.JoinHostPort(nm.IP, strconv.Itoa(nm.Port))
	reg := &api.CatalogRegistration{
		Node:    d.cfg.Node,
		Address: nm.IP,
		// consul-esm runs the checks of nodes marked like this.
		NodeMeta: map[string]string{"external-node": "true", "external-probe": "true", "gomha-host": nm.Name},
		Service: &api.AgentService{
			ID:      d.cfg.Service,
			Service: d.cfg.Service,
			Address: nm.IP,
			Port:    nm.Port,
			Tags:    []string{Tag},
			Meta:    map[string]string{"host": nm.Name},
		},
		Check: &api.AgentCheck{
			Node:      d.cfg.Node,
			CheckID:   "service:" + d.cfg.Service,
			Name:      "MySQL TCP on " + hostPort,
			Status:    api.HealthPassing,
			ServiceID: d.cfg.Service,
			Definition: api.HealthCheckDefinition{
				TCP:              hostPort,
				IntervalDuration: 10 * time.Second,
				TimeoutDuration:  5 * time.Second,
			},
		},
	}
	w, cancel := d.write(ctx)
	defer cancel()
	if _, err := d.c.Catalog().Register(reg, w); err != nil {
		return fmt.Errorf("register node %s at new master %s: %w", d.cfg.Node, nm, err)
	}
	addr, err := d.node(ctx)
	if err != nil {
		return err
	}
	if addr != nm.IP {
		return fmt.Errorf("%w: node %s points at %q after registering new master %s", ErrNotRegistered, d.cfg.Node, addr, nm)
	}
	d.o.note("registered node %s at %s and service %s on port %d (new master %s)", d.cfg.Node, nm.IP, d.cfg.Service, nm.Port, nm.Name)
	return nil
}
