package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gomha/gomha/manager/leader"
	"github.com/gomha/gomha/manager/statefile"
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
	c.gate = func(ctx context.Context, _ string) error { return gateCheck(ctx, el.Check) }
	// wake is a one-slot signal: the loop reads the elector's current
	// role when woken, so no change is ever lost behind a busy loop.
	wake := make(chan struct{}, 1)
	ectx, stopElector := context.WithCancel(ctx)
	var ewg sync.WaitGroup
	ewg.Add(1)
	go func() {
		defer ewg.Done()
		_ = el.Run(ectx, func(leader.Role) {
			select {
			case wake <- struct{}{}:
			default:
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
	c.status.setState(statefile.Status{Name: StateStandby}, "")
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
			r := el.Role()
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
				c.status.setState(statefile.Status{Name: StateStandby}, "")
			}
		case err := <-activeDone:
			// The cluster's manager ended by itself (masterha_manager's one
			// failover, a configuration error): give the lock up with it.
			cancelActive()
			cancelActive, activeDone = nil, nil
			return err
		case <-holder.C:
			if cancelActive == nil {
				hctx, cancel := context.WithTimeout(ctx, time.Second)
				h, err := el.Holder(hctx)
				cancel()
				switch {
				case errors.Is(err, leader.ErrNoHolder):
					h = ""
				case err != nil:
					h = "unknown: " + err.Error()
				}
				c.status.setActiveManager(h)
			}
		}
	}
}

// gateCheck is the failover's gate on the lock: only a definite answer
// (not the holder, session gone, or this manager's own lease ran out, which
// check reports as leader.ErrNotActive) stops a step. A read that failed
// (Consul electing a leader, a slow answer) is tried again: the lease
// bounds how long, since check reports ErrNotActive once it ran out.
func gateCheck(ctx context.Context, check func(context.Context) error) error {
	for {
		err := check(ctx)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, leader.ErrNotActive), errors.Is(err, leader.ErrNotHolder), errors.Is(err, leader.ErrSessionInvalid):
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last check: %v)", ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
