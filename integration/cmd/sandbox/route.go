package main

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gomha/gomha/integration/lab"
)

// router is how the sandbox's application finds the master: the
// keepalived VIP (the default) or the Consul name master.node.consul.
type router struct {
	what  string
	addrs func() []string
	// master says which host the application's route leads to now.
	master func(ctx context.Context) (*lab.Host, error)
	// show prints where the route leads, after the failover.
	show func(ctx context.Context)
}

// keepalivedRoute starts keepalived on every host (the write VIP, with
// `mha-node keepalived-check` as its check) and returns the route through
// the VIP and the configuration lines of the keepalived hook.
func keepalivedRoute(ctx context.Context, l *lab.Lab, bin, node string) (*router, []string, error) {
	step("keepalived on every host owns the write VIP; its check (mha-node keepalived-check) passes only on the host gomha made the writable master")
	k, err := l.StartKeepalivedVIP(ctx, node)
	if err != nil {
		return nil, nil, err
	}
	vip := k.VIP.Addr().String()
	fmt.Printf("    write VIP %s is on %s\n", vip, l.Master().Name)
	addr := net.JoinHostPort(vip, "3306")
	r := &router{
		what:  "the keepalived VIP " + vip,
		addrs: func() []string { return []string{addr} },
		master: func(ctx context.Context) (*lab.Host, error) {
			return answering(ctx, l, addr)
		},
		show: func(ctx context.Context) {
			holders, err := l.VIPHolders(ctx, vip)
			fmt.Printf("    keepalived moved the VIP: %s is on %v (%v)\n", vip, holders, errOrOK(err))
		},
	}
	// fence_lease: a master cut off from everything demotes itself, so its
	// keepalived does not take the VIP back when its link returns (the
	// manager refuses the keepalived hook without it or a shutdown_script).
	return r, append(k.Conf(bin), "fence_lease=4"), nil
}

// consulRoute starts a Consul agent (built the first time), registers the
// master as catalog node "master" and returns the route through the
// agent's DNS and the configuration lines of the consul hook.
func consulRoute(ctx context.Context, l *lab.Lab, bin string) (*router, []string, error) {
	step("A Consul agent (dev mode) on the lab bridge; master.node.consul names the master (building the agent the first time takes minutes)")
	c, err := l.StartConsul(ctx)
	if err != nil {
		return nil, nil, err
	}
	m := l.Master()
	hook := bin + " hook consul --consul_addr=" + c.URL()
	reg := exec.CommandContext(ctx, bin, "hook", "consul", "--consul_addr="+c.URL(), "--command=start",
		"--new_master_host="+m.Name, "--new_master_ip="+m.IP, "--new_master_port="+strconv.Itoa(m.Port))
	if out, err := reg.CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("register the master in Consul: %v\n%s", err, out)
	}
	res := c.Resolver()
	lookup := func(ctx context.Context) ([]string, error) {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return res.LookupHost(ctx, "master.node.consul.")
	}
	ips, err := lookup(ctx)
	fmt.Printf("    master.node.consul -> %v (%v), through the agent's DNS at %s\n", ips, errOrOK(err), c.DNSAddr)
	r := &router{
		what: "master.node.consul (resolved through the Consul agent's DNS at every connect)",
		addrs: func() []string {
			ips, err := lookup(context.Background())
			if err != nil || len(ips) == 0 {
				return nil
			}
			return []string{net.JoinHostPort(ips[0], "3306")}
		},
		master: func(ctx context.Context) (*lab.Host, error) {
			ips, err := lookup(ctx)
			if err != nil || len(ips) == 0 {
				return nil, fmt.Errorf("master.node.consul: %v (%v)", ips, err)
			}
			if h := l.HostByIP(ips[0]); h != nil {
				return h, nil
			}
			return nil, fmt.Errorf("master.node.consul is %s, not a lab host", ips[0])
		},
		show: func(ctx context.Context) {
			ips, err := lookup(ctx)
			fmt.Printf("    the consul hook moved the catalog entry: master.node.consul -> %v (%v)\n", ips, errOrOK(err))
		},
	}
	return r, []string{"master_ip_failover_script=" + hook, "master_ip_online_change_script=" + hook}, nil
}

// answering returns the lab host whose server answers at addr.
func answering(ctx context.Context, l *lab.Lab, addr string) (*lab.Host, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = l.AdminUser, l.AdminPassword, "tcp", addr
	cfg.Timeout, cfg.ReadTimeout = 3*time.Second, 3*time.Second
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var id int
	if err := db.QueryRowContext(ctx, "SELECT @@server_id").Scan(&id); err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	for _, h := range l.Hosts {
		if h.ServerID == id {
			return h, nil
		}
	}
	return nil, fmt.Errorf("%s answers as server_id %d, not a lab host", addr, id)
}

func errOrOK(err error) string {
	if err != nil {
		return err.Error()
	}
	return "ok"
}
