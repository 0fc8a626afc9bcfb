package keepalived

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// keepalived's MISC_CHECK reads its script's exit status (check_misc.c,
// keepalived 2.x):
//
//   - 0: healthy; the real server keeps its configured weight.
//   - 1: unhealthy; the real server leaves the pool.
//   - 2..255: with misc_dynamic, healthy with weight status-2 (0..253; weight
//     0 quiesces it: no new connections); without misc_dynamic, unhealthy
//     like 1.
//
// lvs-check exits 0 or 1, and with --dynamic (for misc_dynamic only) 2+weight
// or 1.
const (
	// MiscHealthy is MISC_CHECK's "healthy, weight unchanged".
	MiscHealthy = 0
	// MiscUnhealthy is MISC_CHECK's "failed".
	MiscUnhealthy = 1
	// MiscWeightOffset is what misc_dynamic subtracts from an exit status
	// of 2..255 to get the weight.
	MiscWeightOffset = 2
	// MaxWeight is the largest weight an exit status can carry (255-2).
	MaxWeight = 255 - MiscWeightOffset
)

// RealServerOptions tune CheckRealServer.
type RealServerOptions struct {
	// MaxLag is the largest Seconds_Behind_Master a healthy replica may
	// show (whole seconds; the server reports no finer).
	MaxLag time.Duration
	// Dynamic maps the lag to a weight for misc_dynamic: Weight at no lag,
	// falling linearly to 1 at MaxLag.
	Dynamic bool
	// Weight is the weight of a replica with no lag (1..MaxWeight); only
	// with Dynamic.
	Weight int
}

// Validate reports every problem with o.
func (o RealServerOptions) Validate() error {
	var errs []error
	if o.MaxLag < 0 {
		errs = append(errs, errors.New("the maximum lag must not be negative"))
	}
	if o.Dynamic && (o.Weight < 1 || o.Weight > MaxWeight) {
		errs = append(errs, fmt.Errorf("weight %d: want 1..%d (misc_dynamic sets the weight to the exit status minus 2, at most 255)", o.Weight, MaxWeight))
	}
	return errors.Join(errs...)
}

// RealServerVerdict is CheckRealServer's answer.
type RealServerVerdict struct {
	// Healthy is true when the replica may serve reads.
	Healthy bool `json:"healthy"`
	// Lag is the largest lag among the channels, when every one reported
	// one.
	Lag *int64 `json:"seconds_behind,omitempty"`
	// Weight is the weight that the exit status carries with Dynamic; 0
	// otherwise.
	Weight int `json:"weight,omitempty"`
	// ExitCode is the exit status for MISC_CHECK.
	ExitCode int `json:"exit_code"`
	// Reasons lists why it is unhealthy; empty when healthy.
	Reasons []Reason `json:"reasons,omitempty"`
}

// CheckRealServer decides whether a replica is a healthy read real server:
// it answered, it has at least one channel with a source, and on every such
// channel both threads run ("Yes"; an IO thread still "Connecting" is not
// running) and Seconds_Behind_Master is known and at most MaxLag. A server
// that replicates from nobody (the master) is not a read real server.
func CheckRealServer(s *Server, serverErr string, o RealServerOptions) RealServerVerdict {
	var v RealServerVerdict
	fail := func(code, format string, args ...any) {
		v.Reasons = append(v.Reasons, Reason{Code: code, Detail: fmt.Sprintf(format, args...)})
	}
	if s == nil {
		if serverErr == "" {
			serverErr = "no answer"
		}
		fail(CodeUnreachable, "local mysqld: %s", serverErr)
		return v.finish(o)
	}
	var (
		maxLag  int64
		known   = true
		sources int
	)
	for _, c := range s.Channels {
		if !c.HasSource() {
			continue
		}
		sources++
		if !c.IORunning() || !c.SQLRunning() {
			fail(CodeThreads, "%s: IO thread %s, SQL thread %s%s", c.label(), orUnknown(c.IO), orUnknown(c.SQL), lastErrors(c))
			known = false
			continue
		}
		if c.Lag == nil {
			fail(CodeLag, "%s: Seconds_Behind_Master is NULL", c.label())
			known = false
			continue
		}
		if lag := *c.Lag; time.Duration(lag)*time.Second > o.MaxLag {
			fail(CodeLag, "%s: %d s behind, more than the allowed %s", c.label(), lag, o.MaxLag)
		}
		maxLag = max(maxLag, *c.Lag)
	}
	if sources == 0 {
		fail(CodeNotReplica, "the server replicates from nobody (a master is not a read real server)")
		known = false
	}
	if known {
		v.Lag = &maxLag
	}
	return v.finish(o)
}

func (v RealServerVerdict) finish(o RealServerOptions) RealServerVerdict {
	v.Healthy = len(v.Reasons) == 0
	switch {
	case !v.Healthy:
		v.ExitCode = MiscUnhealthy
	case o.Dynamic:
		v.Weight = LagWeight(*v.Lag, o.MaxLag, o.Weight)
		v.ExitCode = MiscWeightOffset + v.Weight
	default:
		v.ExitCode = MiscHealthy
	}
	return v
}

// LagWeight maps a healthy replica's lag (seconds, at most maxLag) to a
// weight: full at no lag, falling linearly to 1 at maxLag, never below 1
// (weight 0 would quiesce a replica that is healthy) nor above full.
func LagWeight(lag int64, maxLag time.Duration, full int) int {
	full = min(max(full, 1), MaxWeight)
	maxSec := int64(maxLag / time.Second)
	if lag <= 0 || maxSec <= 0 {
		return full
	}
	if lag >= maxSec {
		return 1
	}
	// Rounded to the nearest: full - (full-1)*lag/maxSec.
	w := int64(full) - (int64(full-1)*lag*2+maxSec)/(2*maxSec)
	return int(max(w, 1))
}

func lastErrors(c Channel) string {
	var parts []string
	if e := strings.TrimSpace(c.LastIOError); e != "" {
		parts = append(parts, "last IO error: "+oneLine(e))
	}
	if e := strings.TrimSpace(c.LastSQLError); e != "" {
		parts = append(parts, "last SQL error: "+oneLine(e))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, "; ")
}
