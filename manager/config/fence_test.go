package config

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestFenceLease(t *testing.T) {
	tests := []struct {
		name, conf string
		want       time.Duration // of server1
		errs       []string      // substrings of the error, in order
	}{
		{"off by default", "[server1]\nhostname=db1\n", 0, nil},
		{"inherited", "[server default]\nfence_lease=10\n[server1]\nhostname=db1\n", 10 * time.Second, nil},
		{"zero is off", "[server default]\nfence_lease=0\nping_type=CONNECT\n[server1]\nhostname=db1\n", 0, nil},
		{"per server", "[server default]\nfence_lease=10\n[server1]\nhostname=db1\nfence_lease=20\n", 20 * time.Second, nil},
		{"not a number", "[server1]\nhostname=db1\nfence_lease=10s\n", 0,
			[]string{`:3: [server1] fence_lease: "10s" is not a whole number of seconds (0 for off)`}},
		{"shorter than twice ping_interval", "[server default]\nping_interval=3\n[server1]\nhostname=db1\nfence_lease=5\n", 0,
			[]string{":3: [server1] fence_lease: 5s is shorter than twice ping_interval (3s)"}},
		{"CONNECT pings", "[server default]\nfence_lease=10\nping_type=connect\n[server1]\nhostname=db1\n", 0,
			[]string{":4: [server1] fence_lease: needs ping_type SELECT or INSERT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, "app.cnf", tt.conf)
			cfg, err := Load(context.Background(), opts(t, p))
			if len(tt.errs) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if got := cfg.Servers[0].FenceLease; got != tt.want {
					t.Errorf("FenceLease = %v, want %v", got, tt.want)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("err = %v, want ErrInvalidValue", err)
			}
			for _, w := range tt.errs {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
