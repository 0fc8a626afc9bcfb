package config

import "testing"

func TestServerLabel(t *testing.T) {
	for _, tc := range []struct {
		name, hostname, ip string
		port               int
		addr, label        string
	}{
		{"IPv4", "db1", "192.0.2.1", 3306, "192.0.2.1:3306", "db1(192.0.2.1:3306)"},
		{"name", "db1", "db1.example", 3307, "db1.example:3307", "db1(db1.example:3307)"},
		{"IPv6", "db1", "2001:db8::1", 3306, "[2001:db8::1]:3306", "db1([2001:db8::1]:3306)"},
		{"IPv6 loopback", "localhost", "::1", 3306, "[::1]:3306", "localhost([::1]:3306)"},
		{"IPv6 zone", "db1", "fe80::1%eth0", 3306, "[fe80::1%eth0]:3306", "db1([fe80::1%eth0]:3306)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Server{Params: Params{Hostname: tc.hostname, IP: tc.ip, Port: tc.port}}
			if got := s.Addr(); got != tc.addr {
				t.Errorf("Addr() = %q, want %q", got, tc.addr)
			}
			if got := HostPort(tc.ip, tc.port); got != tc.addr {
				t.Errorf("HostPort = %q, want %q", got, tc.addr)
			}
			if got := s.Label(); got != tc.label {
				t.Errorf("Label() = %q, want %q", got, tc.label)
			}
		})
	}
}
