package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gomha/gomha/manager/leader"
)

// LockOptions turn on the standby managers' Consul lock (--consul_lock):
// per cluster one key, held by the manager that acts; the others stand by
// and report who is active.
type LockOptions struct {
	// Addr is the Consul agent's HTTP API ("" keeps CONSUL_HTTP_ADDR).
	Addr string
	// Prefix is the KV prefix ("" is leader.DefaultPrefix).
	Prefix string
	// Name names this manager in the key (the host name when empty);
	// Version is shown to standbys.
	Name, Version string
}

// runLocked runs the cluster's manager only while this manager holds the
// cluster's lock: Active starts it; Standby or Unknown stops its
// monitoring (a running failover is not cancelled, it stops by itself
// before its next irreversible step: failover.Options.Gate asks the
// lock). It returns when ctx ends, or with the manager's own end.
func (c *cluster) runLocked(ctx context.Context) error {
	cfg := c.cfg
	log := c.daemonLog()
	el, err := leader.New(leader.Config{Addr: c.lock.Addr, App: cfg.App, Prefix: c.lock.Prefix, Name: c.lock.Name, Version: c.lock.Version, Logger: log.With("cluster", cfg.App)})
	if err != nil {
		return &ExitError{Code: 1, Err: fmt.Errorf("--consul_lock for %s: %w", cfg.App, err)}
	}
	c.gate = func(ctx context.Context, _ string) error { return el.Check(ctx) }
	roles := make(chan leader.Role, 16)
	ectx, stopElector := context.WithCancel(ctx)
	var ewg sync.WaitGroup
	ewg.Add(1)
	go func() {
		defer ewg.Done()
		_ = el.Run(ectx, func(r leader.Role) {
			select {
			case roles <- r:
			default: // the loop below reads the latest role itself
			}
		})
	}()
	defer func() { stopElector(); ewg.Wait() }()

	var (
		cancelActive context.CancelFunc
		activeDone   chan error
	)
	stopActive := func() {
		if cancelActive != nil {
			cancelActive()
			<-activeDone
			cancelActive, activeDone = nil, nil
		}
	}
	defer stopActive()
	holder := time.NewTicker(2 * time.Second)
	defer holder.Stop()
	c.status.setRole(RoleStandby)
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-roles:
			switch {
			case r == leader.Active && cancelActive == nil:
				log.Info("this manager holds the cluster's lock: monitoring and acting", "cluster", cfg.App)
				c.status.setRole(RoleActive)
				c.status.setActiveManager("")
				actx, cancel := context.WithCancel(ctx)
				done := make(chan error, 1)
				cancelActive, activeDone = cancel, done
				go func() { done <- c.runActive(actx) }()
			case r != leader.Active && cancelActive != nil:
				log.Warn("this manager lost the cluster's lock: it stops acting", "cluster", cfg.App, "role", r.String())
				stopActive()
				c.status.setRole(RoleStandby)
			}
		case err := <-activeDone:
			// The cluster's manager ended by itself (masterha_manager's one
			// failover, a configuration error): give the lock up with it.
			cancelActive, activeDone = nil, nil
			return err
		case <-holder.C:
			if cancelActive == nil {
				hctx, cancel := context.WithTimeout(ctx, time.Second)
				h, err := el.Holder(hctx)
				cancel()
				if errors.Is(err, leader.ErrNoHolder) {
					h = ""
				}
				c.status.setActiveManager(h)
			}
		}
	}
}
