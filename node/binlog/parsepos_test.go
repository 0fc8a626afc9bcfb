package binlog

import "testing"

func TestParsePos(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Pos
		ok   bool
	}{
		{"mysql-bin.000042:1234", Pos{File: "mysql-bin.000042", Offset: 1234}, true},
		{"/var/lib/mysql/mysql-bin.000001:4", Pos{File: "/var/lib/mysql/mysql-bin.000001", Offset: 4}, true},
		{"mysql-bin.000001:5000000000", Pos{File: "mysql-bin.000001", Offset: 5000000000}, true},
		{"mysql-bin.000001", Pos{}, false},
		{":12", Pos{}, false},
		{"f:-1", Pos{}, false},
		{"", Pos{}, false},
	} {
		got, err := ParsePos(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParsePos(%q) = %v, %v; want %v, ok=%t", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok && got.String() != tt.in {
			t.Errorf("ParsePos(%q).String() = %q", tt.in, got.String())
		}
	}
}
