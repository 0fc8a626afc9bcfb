package lease

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gomha/gomha/node/watchdog"
)

func TestExpiredAt(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		lease, want time.Duration
	}{
		// lease + tick (lease/4) + probe (tick/2, 0.2-2 s) + demote budget 5 s + lease/100
		{10 * time.Second, 10*time.Second + 2500*time.Millisecond + 1250*time.Millisecond + 5*time.Second + 100*time.Millisecond},
		{2 * time.Second, 2*time.Second + 500*time.Millisecond + 250*time.Millisecond + 5*time.Second + 20*time.Millisecond},
		{60 * time.Second, 60*time.Second + 15*time.Second + 2*time.Second + 5*time.Second + 600*time.Millisecond},
	}
	for _, tt := range tests {
		if got := ExpiredAt(t0, tt.lease).Sub(t0); got != tt.want {
			t.Errorf("ExpiredAt(t0, %v) = t0+%v, want t0+%v", tt.lease, got, tt.want)
		}
	}
}

func TestWait(t *testing.T) {
	if err := Wait(t.Context(), time.Now().Add(-time.Hour), time.Second); err != nil {
		t.Errorf("Wait for a lease long over: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := Wait(ctx, time.Now(), time.Second)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("Wait with a cancelled context: %v after %v", err, time.Since(start))
	}
	// Past the lease but within the margin: still waits.
	ctx2, cancel2 := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel2()
	if err := Wait(ctx2, time.Now().Add(-1100*time.Millisecond), time.Second); err == nil {
		t.Error("Wait returned within the margin")
	}
}

func TestStripPort(t *testing.T) {
	for in, want := range map[string]string{
		"198.18.0.1:41234": "198.18.0.1",
		"[fd00::1]:41234":  "fd00::1",
		"localhost":        "localhost",
		"mgr.example:5":    "mgr.example",
	} {
		if got := stripPort(in); got != want {
			t.Errorf("stripPort(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVIPFromHook(t *testing.T) {
	tests := []struct {
		script, vip, dev string
	}{
		{"/usr/bin/mha hook vip --vip=198.18.0.100/24 --ssh_options='-i k' --interface=eth0", "198.18.0.100/24", "eth0"},
		{"mha hook vip --vip 192.0.2.10/24 --interface bond0", "192.0.2.10/24", "bond0"},
		{"mha hook consul --service=db", "", ""},
		{"/usr/local/bin/master_ip_failover --vip=192.0.2.10/24 --interface=eth0", "", ""},
		{"mha hook vip --interface=eth0", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		vip, dev := VIPFromHook(tt.script)
		if vip != tt.vip || dev != tt.dev {
			t.Errorf("VIPFromHook(%q) = %q, %q; want %q, %q", tt.script, vip, dev, tt.vip, tt.dev)
		}
	}
}

func TestStatusTerms(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	yes, no := true, false
	tests := []struct {
		name   string
		st     *watchdog.State
		lease  time.Duration
		expire time.Duration // ExpiredAt - t0
		errIs  error
		msg    string
	}{
		{"a watchdog that reported a 3 s budget: the margin counts 3 s",
			&watchdog.State{LeaseMS: 10000, DemoteBudgetMS: 3000, CanKill: &yes}, 10 * time.Second,
			10*time.Second + 2500*time.Millisecond + 1250*time.Millisecond + 3*time.Second + 100*time.Millisecond, nil, ""},
		{"a watchdog that reported an 8 s budget: the margin counts 8 s",
			&watchdog.State{LeaseMS: 10000, DemoteBudgetMS: 8000, CanKill: &yes}, 10 * time.Second,
			10*time.Second + 2500*time.Millisecond + 1250*time.Millisecond + 8*time.Second + 100*time.Millisecond, nil, ""},
		{"no budget reported (an older watchdog): the compiled one",
			&watchdog.State{LeaseMS: 10000}, 10 * time.Second,
			10*time.Second + 2500*time.Millisecond + 1250*time.Millisecond + watchdog.DemoteBudget + 100*time.Millisecond, nil, ""},
		{"no state at all: the compiled one", nil, 10 * time.Second,
			10*time.Second + 2500*time.Millisecond + 1250*time.Millisecond + watchdog.DemoteBudget + 100*time.Millisecond, nil, ""},
		{"a watchdog running with a longer lease than configured: its lease",
			&watchdog.State{LeaseMS: 20000, DemoteBudgetMS: 5000, CanKill: &yes}, 10 * time.Second,
			20*time.Second + 5*time.Second + 2*time.Second + 5*time.Second + 200*time.Millisecond, nil, ""},
		{"a watchdog that cannot stop its mysqld: not counted on",
			&watchdog.State{LeaseMS: 10000, DemoteBudgetMS: 5000, CanKill: &no, KillCheck: "uid 1000 cannot stop mariadb.service (systemctl stop needs root)"},
			10 * time.Second, 10*time.Second + 2500*time.Millisecond + 1250*time.Millisecond + 5*time.Second + 100*time.Millisecond,
			ErrCannotDemote, "lease: watchdog on db1: watchdog cannot demote: it cannot stop its mysqld (uid 1000 cannot stop mariadb.service (systemctl stop needs root)): a server that does not answer SQL would stay writable; the lease is not counted on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &Status{Host: "db1", Health: watchdog.Health{OK: true, Phase: "holding", State: tt.st}, Lease: tt.lease}
			if got := st.Terms().ExpiredAt(t0).Sub(t0); got != tt.expire {
				t.Errorf("ExpiredAt = t0+%v, want t0+%v", got, tt.expire)
			}
			err := st.Check()
			if !errors.Is(err, tt.errIs) || (tt.errIs == nil) != (err == nil) {
				t.Fatalf("Check = %v, want %v", err, tt.errIs)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("Check error\n %q\nwant\n %q", err, tt.msg)
			}
		})
	}
	// Unhealthy wins: a demoted watchdog is not counted on either.
	st := &Status{Host: "db1", Health: watchdog.Health{Phase: "demoted", Message: "demoted since ..."}}
	if err := st.Check(); !errors.Is(err, ErrUnhealthy) {
		t.Errorf("Check of a demoted watchdog = %v", err)
	}
	// The compiled terms match the package functions.
	if TermsFor(10*time.Second).Margin() != Margin(10*time.Second) || !ExpiredAt(t0, time.Second).Equal(TermsFor(time.Second).ExpiredAt(t0)) {
		t.Error("TermsFor differs from Margin/ExpiredAt")
	}
}
