package lab

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// SuspendMariaDB stops host h's mariadbd with SIGSTOP: the process hangs
// with its port open and its connections established, so the kernel still
// accepts TCP connections on its behalf but nothing answers. ResumeMariaDB
// (SIGCONT) lets it go on where it stopped. (Named apart from the
// FreezeMariaDB/ThawMariaDB another change may add; both do the same.)
func (h *Host) SuspendMariaDB() error {
	return h.signalMariaDB(syscall.SIGSTOP, "suspend")
}

// ResumeMariaDB sends SIGCONT to a mariadbd SuspendMariaDB stopped.
func (h *Host) ResumeMariaDB() error {
	return h.signalMariaDB(syscall.SIGCONT, "resume")
}

func (h *Host) signalMariaDB(sig syscall.Signal, what string) error {
	h.mu.Lock()
	p := h.mariadb
	h.mu.Unlock()
	if p == nil || p.Exited() {
		return fmt.Errorf("lab: %s mariadbd on %s: not running", what, h.Name)
	}
	if err := p.Signal(sig); err != nil {
		return fmt.Errorf("lab: %s mariadbd on %s: %w", what, h.Name, err)
	}
	return nil
}

// ConnectionStorm fills host h's max_connections with idle sessions of the
// application account (LoadUser, no SUPER) until the server answers "Too
// many connections" (1040): new clients are refused from then on, while
// the sessions already open (a prober's, the manager's) go on, and an
// account with SUPER still gets the one extra slot MariaDB keeps for it.
// It returns how many sessions it opened and a release function that
// closes them all. Call PrepareLoad first (it creates the account).
func (l *Lab) ConnectionStorm(ctx context.Context, h *Host) (release func(), opened int, err error) {
	quietDriver.Do(func() { _ = mysql.SetLogger(log.New(io.Discard, "", 0)) })
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr = LoadUser, LoadPassword, "tcp", h.Addr()
	c.Timeout = 2 * time.Second
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, 0, fmt.Errorf("lab: connection storm on %s: %w", h.Name, err)
	}
	var held []driver.Conn
	release = func() {
		for _, c := range held {
			_ = c.Close()
		}
		held = nil
	}
	// max_connections is at most a few hundred in the lab; the bound only
	// stops a runaway loop.
	for range 5000 {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		dc, err := conn.Connect(cctx)
		cancel()
		var me *mysql.MySQLError
		if errors.As(err, &me) && me.Number == 1040 {
			return release, len(held), nil
		}
		if err != nil {
			release()
			return nil, 0, fmt.Errorf("lab: connection storm on %s after %d sessions: %w", h.Name, len(held), err)
		}
		held = append(held, dc)
	}
	release()
	return nil, 0, fmt.Errorf("lab: connection storm on %s: still accepting after 5000 sessions", h.Name)
}

// StopSQLThread stops replica h's SQL thread (STOP SLAVE SQL_THREAD): its IO
// thread goes on filling the relay log, so h falls behind in what it has
// applied, not in what it has received. StartSQLThread starts it again.
func (h *Host) StopSQLThread(ctx context.Context) error {
	if _, err := h.SQL(ctx, "STOP SLAVE SQL_THREAD"); err != nil {
		return fmt.Errorf("lab: stop the SQL thread on %s: %w", h.Name, err)
	}
	return nil
}

// StartSQLThread starts replica h's SQL thread again.
func (h *Host) StartSQLThread(ctx context.Context) error {
	if _, err := h.SQL(ctx, "START SLAVE SQL_THREAD"); err != nil {
		return fmt.Errorf("lab: start the SQL thread on %s: %w", h.Name, err)
	}
	return nil
}

// CutFrom cuts the link between hosts h and other only: h drops every
// packet it would send to other's address (a blackhole route in h's
// namespace), so no TCP connection between the two completes in either
// direction, while both keep reaching every other host. With the manager
// namespace (Options.ManagerNS) as other, only the manager loses the
// master. HealFrom undoes it.
func (h *Host) CutFrom(ctx context.Context, other *Host) error {
	if _, err := run(ctx, bin("ip"), "-n", h.NS, "route", "add", "blackhole", other.IP+"/32"); err != nil {
		return fmt.Errorf("lab: cut %s from %s: %w", h.Name, other.Name, err)
	}
	return nil
}

// HealFrom removes the route CutFrom added.
func (h *Host) HealFrom(ctx context.Context, other *Host) error {
	if _, err := run(ctx, bin("ip"), "-n", h.NS, "route", "del", "blackhole", other.IP+"/32"); err != nil {
		return fmt.Errorf("lab: heal the link between %s and %s: %w", h.Name, other.Name, err)
	}
	return nil
}

// AdminSession opens one idle session of the manager's admin account (which
// has SUPER) on host h and returns a function that closes it. After
// ConnectionStorm it takes the one extra slot MariaDB keeps for SUPER, so
// that every new connection, the manager's included, gets error 1040.
func (l *Lab) AdminSession(ctx context.Context, h *Host) (release func(), err error) {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr = l.AdminUser, l.AdminPassword, "tcp", h.Addr()
	c.Timeout = 2 * time.Second
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, fmt.Errorf("lab: admin session on %s: %w", h.Name, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	dc, err := conn.Connect(cctx)
	if err != nil {
		return nil, fmt.Errorf("lab: admin session on %s: %w", h.Name, err)
	}
	return func() { _ = dc.Close() }, nil
}
