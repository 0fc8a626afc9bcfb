package binlog

import "testing"

func TestCompare(t *testing.T) {
	tests := []struct {
		name string
		a, b Pos
		want int
	}{
		{"same", Pos{"mysql-bin.000001", 4}, Pos{"mysql-bin.000001", 4}, 0},
		{"offset", Pos{"mysql-bin.000001", 4}, Pos{"mysql-bin.000001", 120}, -1},
		{"file wins over offset", Pos{"mysql-bin.000002", 4}, Pos{"mysql-bin.000001", 99999}, 1},
		{"numeric not string", Pos{"mysql-bin.999999", 4}, Pos{"mysql-bin.1000000", 4}, -1},
		{"directory ignored", Pos{"/var/lib/mysql/mysql-bin.000010", 4}, Pos{"mysql-bin.000009", 4}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Compare(tt.a, tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Compare(%v, %v) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestCompareErrors(t *testing.T) {
	for _, tt := range []struct{ a, b Pos }{
		{Pos{"mysql-bin", 4}, Pos{"mysql-bin.000001", 4}},
		{Pos{"mysql-bin.000001", 4}, Pos{"other-bin.000001", 4}},
		{Pos{"mysql-bin.00a1", 4}, Pos{"mysql-bin.000001", 4}},
	} {
		if _, err := Compare(tt.a, tt.b); err == nil {
			t.Errorf("Compare(%v, %v): want error", tt.a, tt.b)
		}
	}
}

func TestNextFile(t *testing.T) {
	for in, want := range map[string]string{
		"mysql-bin.000009":      "mysql-bin.000010",
		"mysql-bin.999999":      "mysql-bin.1000000",
		"/var/log/relay.000001": "/var/log/relay.000002",
	} {
		got, err := NextFile(in)
		if err != nil || got != want {
			t.Errorf("NextFile(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
