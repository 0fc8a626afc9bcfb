package failpoint

import "testing"

func TestEnabledAndHit(t *testing.T) {
	for _, tc := range []struct {
		env, name string
		want      bool
	}{
		{"", "failover/fence/before", false},
		{"failover/fence/before", "failover/fence/before", true},
		{"failover/fence/after", "failover/fence/before", false},
		{"x, failover/*/before", "failover/apply-missing-events/before", true},
		{"failover/*/before", "failover/apply-missing-events/after", false},
		{"[", "failover/fence/before", false}, // a bad pattern matches nothing
	} {
		t.Run(tc.env+"|"+tc.name, func(t *testing.T) {
			t.Setenv(Env, tc.env)
			if got := Enabled(tc.name); got != tc.want {
				t.Fatalf("Enabled(%q) with %s=%q = %v, want %v", tc.name, Env, tc.env, got, tc.want)
			}
			var fired string
			old := kill
			kill = func(n string) { fired = n }
			defer func() { kill = old }()
			Hit(tc.name)
			if (fired != "") != tc.want {
				t.Fatalf("Hit fired %q, want fired=%v", fired, tc.want)
			}
		})
	}
}

func TestName(t *testing.T) {
	if got := Name("failover", "Apply missing events", "before"); got != "failover/apply-missing-events/before" {
		t.Fatalf("Name = %q", got)
	}
	if got := Name("failover", "master_ip_failover_script stop", "after"); got != "failover/master_ip_failover_script-stop/after" {
		t.Fatalf("Name = %q", got)
	}
}
