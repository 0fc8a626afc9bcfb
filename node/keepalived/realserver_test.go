package keepalived

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func lagging(host string, lag int64) Channel {
	c := runningTo(host)
	c.Lag = &lag
	return c
}

func TestCheckRealServer(t *testing.T) {
	static := RealServerOptions{MaxLag: 10 * time.Second}
	dynamic := RealServerOptions{MaxLag: 10 * time.Second, Dynamic: true, Weight: 100}
	tests := []struct {
		name   string
		srv    *Server
		err    string
		opts   RealServerOptions
		codes  []string
		exit   int
		weight int
	}{
		{"in sync", &Server{Channels: []Channel{lagging("db1", 0)}}, "", static, nil, 0, 0},
		{"at the bound", &Server{Channels: []Channel{lagging("db1", 10)}}, "", static, nil, 0, 0},
		{"past the bound", &Server{Channels: []Channel{lagging("db1", 11)}}, "", static, []string{CodeLag}, 1, 0},
		{"lag unknown", &Server{Channels: []Channel{{SourceHost: "db1", IO: "Yes", SQL: "Yes"}}}, "", static, []string{CodeLag}, 1, 0},
		{"IO thread connecting", &Server{Channels: []Channel{{SourceHost: "db1", IO: "Connecting", SQL: "Yes", Lag: ptr(int64(0))}}}, "", static, []string{CodeThreads}, 1, 0},
		{"SQL thread stopped", &Server{Channels: []Channel{{SourceHost: "db1", IO: "Yes", SQL: "No", LastSQLError: "Duplicate entry"}}}, "", static, []string{CodeThreads}, 1, 0},
		{"the master", &Server{}, "", static, []string{CodeNotReplica}, 1, 0},
		{"only a channel without a source", &Server{Channels: []Channel{{IO: "No", SQL: "No"}}}, "", static, []string{CodeNotReplica}, 1, 0},
		{"unreachable", nil, "connection refused", static, []string{CodeUnreachable}, 1, 0},
		{"unreachable in dynamic mode is still 1", nil, "", dynamic, []string{CodeUnreachable}, 1, 0},
		{"multi-source: one channel lags", &Server{Channels: []Channel{lagging("db1", 0), lagging("db4", 30)}}, "", static, []string{CodeLag}, 1, 0},
		{"multi-source: one stopped, one lags", &Server{Channels: []Channel{stoppedTo("db1"), lagging("db4", 30)}}, "", static, []string{CodeThreads, CodeLag}, 1, 0},
		{"max_lag 0 wants no lag", &Server{Channels: []Channel{lagging("db1", 1)}}, "", RealServerOptions{}, []string{CodeLag}, 1, 0},
		{"dynamic: no lag is the full weight", &Server{Channels: []Channel{lagging("db1", 0)}}, "", dynamic, nil, 102, 100},
		{"dynamic: half the bound", &Server{Channels: []Channel{lagging("db1", 5)}}, "", dynamic, nil, 2 + 50, 50},
		{"dynamic: at the bound is weight 1", &Server{Channels: []Channel{lagging("db1", 10)}}, "", dynamic, nil, 3, 1},
		{"dynamic: the worst channel counts", &Server{Channels: []Channel{lagging("db1", 0), lagging("db4", 10)}}, "", dynamic, nil, 3, 1},
		{"dynamic: past the bound", &Server{Channels: []Channel{lagging("db1", 11)}}, "", dynamic, []string{CodeLag}, 1, 0},
		{"dynamic: largest weight is exit 255", &Server{Channels: []Channel{lagging("db1", 0)}}, "", RealServerOptions{MaxLag: time.Second, Dynamic: true, Weight: MaxWeight}, nil, 255, 253},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := CheckRealServer(tc.srv, tc.err, tc.opts)
			var codes []string
			for _, r := range v.Reasons {
				codes = append(codes, r.Code)
				if strings.ContainsAny(r.String(), "\n\r") {
					t.Errorf("reason %q spans lines", r.String())
				}
			}
			if diff := cmp.Diff(tc.codes, codes); diff != "" {
				t.Errorf("reason codes (-want +got):\n%s\nreasons: %v", diff, v.Reasons)
			}
			if v.ExitCode != tc.exit || v.Weight != tc.weight || v.Healthy != (len(tc.codes) == 0) {
				t.Errorf("exit %d weight %d healthy %v, want exit %d weight %d", v.ExitCode, v.Weight, v.Healthy, tc.exit, tc.weight)
			}
		})
	}
}

func TestLagWeight(t *testing.T) {
	tests := []struct {
		lag    int64
		maxLag time.Duration
		full   int
		want   int
	}{
		{0, 10 * time.Second, 100, 100},
		{1, 10 * time.Second, 100, 90},
		{9, 10 * time.Second, 100, 11},
		{10, 10 * time.Second, 100, 1},
		{50, 10 * time.Second, 100, 1},
		{0, 0, 100, 100},
		{3, 10 * time.Second, 1, 1},
		{0, 10 * time.Second, 999, MaxWeight},
		{-1, 10 * time.Second, 100, 100},
	}
	for _, tc := range tests {
		if got := LagWeight(tc.lag, tc.maxLag, tc.full); got != tc.want {
			t.Errorf("LagWeight(%d, %s, %d) = %d, want %d", tc.lag, tc.maxLag, tc.full, got, tc.want)
		}
	}
	// Monotonic: more lag never weighs more.
	for lag := int64(1); lag <= 60; lag++ {
		if LagWeight(lag, time.Minute, 200) > LagWeight(lag-1, time.Minute, 200) {
			t.Fatalf("LagWeight rises between %d and %d s", lag-1, lag)
		}
	}
}

func TestRealServerOptionsValidate(t *testing.T) {
	tests := []struct {
		o    RealServerOptions
		want []string
	}{
		{RealServerOptions{MaxLag: time.Second}, nil},
		{RealServerOptions{Dynamic: true, Weight: 253}, nil},
		{RealServerOptions{Weight: 0}, nil},
		{RealServerOptions{MaxLag: -time.Second, Dynamic: true, Weight: 254}, []string{"negative", "weight 254: want 1..253"}},
		{RealServerOptions{Dynamic: true}, []string{"weight 0"}},
	}
	for _, tc := range tests {
		err := tc.o.Validate()
		if (err == nil) != (tc.want == nil) {
			t.Errorf("%+v: error %v, want one containing %q", tc.o, err, tc.want)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: error %q lacks %q", tc.o, err, w)
			}
		}
	}
}
