package mysqlx

import (
	"errors"
	"testing"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in                  string
		major, minor, patch int
		flavor              Flavor
	}{
		// MHA 0.58 dies on these two (more than three digit groups).
		{"10.11.19-MariaDB-0+deb12u1-log", 10, 11, 19, MariaDB},
		{"5.7.21-0ubuntu0.16.04.1-log", 5, 7, 21, MySQL},
		{"10.11.19-MariaDB-0+deb12u1", 10, 11, 19, MariaDB},
		{"8.0.36", 8, 0, 36, MySQL},
		{"8.4.3-commercial", 8, 4, 3, MySQL},
		{"8.0.35-27", 8, 0, 35, MySQL},       // Percona Server
		{"5.7.44-48-log", 5, 7, 44, MySQL},   // Percona Server
		{"5.6.51-91.0-log", 5, 6, 51, MySQL}, // Percona Server
		{"5.5.62", 5, 5, 62, MySQL},
		// MariaDB 10.x before 11.0 sends this prefix in the handshake.
		{"5.5.5-10.3.39-MariaDB-0+deb10u1", 10, 3, 39, MariaDB},
		{"5.5.5-10.6.16-MariaDB-cll-lve", 10, 6, 16, MariaDB},
		{"11.4.2-MariaDB-ubu2404", 11, 4, 2, MariaDB},
		{"10.6.12-MariaDB-log", 10, 6, 12, MariaDB},
		{"10.5.23-mariadb", 10, 5, 23, MariaDB},
		{"5.5.68-MariaDB", 5, 5, 68, MariaDB},
		{"10.11", 10, 11, 0, MySQL},
		{" 8.0.36 ", 8, 0, 36, MySQL},
		{"8.0.36.", 8, 0, 36, MySQL},
		{"8.0.36.1.2.3", 8, 0, 36, MySQL},
		{"8.0-rc", 8, 0, 0, MySQL},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			v, err := ParseVersion(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if v.Major != tt.major || v.Minor != tt.minor || v.Patch != tt.patch || v.Flavor != tt.flavor || v.Raw != tt.in {
				t.Errorf("got %+v, want %d.%d.%d %s", v, tt.major, tt.minor, tt.patch, tt.flavor)
			}
		})
	}
}

func TestParseVersionErrors(t *testing.T) {
	for _, in := range []string{"", "MariaDB", "8", "8.", ".8.0", "v8.0.36", "-1.2.3", "99999999999.1.1"} {
		if v, err := ParseVersion(in); !errors.Is(err, ErrBadVersion) {
			t.Errorf("ParseVersion(%q) = %+v, %v; want ErrBadVersion", in, v, err)
		}
	}
}

func TestParseServerVersionComment(t *testing.T) {
	v, err := parseServerVersion("10.11.19-log", "mariadb.org binary distribution")
	if err != nil || v.Flavor != MariaDB {
		t.Errorf("got %+v, %v; want MariaDB from the comment", v, err)
	}
	v, err = parseServerVersion("8.0.36", "MySQL Community Server - GPL")
	if err != nil || v.Flavor != MySQL {
		t.Errorf("got %+v, %v; want MySQL", v, err)
	}
}

func TestVersionAtLeast(t *testing.T) {
	v := Version{Major: 8, Minor: 0, Patch: 22}
	for _, tt := range []struct {
		a, b, c int
		want    bool
	}{
		{8, 0, 22, true}, {8, 0, 21, true}, {8, 0, 23, false}, {5, 7, 99, true},
		{8, 1, 0, false}, {9, 0, 0, false}, {7, 99, 99, true},
	} {
		if got := v.AtLeast(tt.a, tt.b, tt.c); got != tt.want {
			t.Errorf("8.0.22.AtLeast(%d.%d.%d) = %v", tt.a, tt.b, tt.c, got)
		}
	}
}

func TestDialect(t *testing.T) {
	tests := []struct {
		version                     string
		status, binlog, stop, reset string
		change                      bool // CHANGE REPLICATION SOURCE TO
		posWait                     string
	}{
		{"10.11.19-MariaDB", "SHOW SLAVE STATUS", "SHOW MASTER STATUS", "STOP SLAVE", "RESET SLAVE ALL", false, "MASTER_POS_WAIT"},
		{"11.4.2-MariaDB", "SHOW SLAVE STATUS", "SHOW MASTER STATUS", "STOP SLAVE", "RESET SLAVE ALL", false, "MASTER_POS_WAIT"},
		{"5.7.44", "SHOW SLAVE STATUS", "SHOW MASTER STATUS", "STOP SLAVE", "RESET SLAVE ALL", false, "MASTER_POS_WAIT"},
		{"8.0.21", "SHOW SLAVE STATUS", "SHOW MASTER STATUS", "STOP SLAVE", "RESET SLAVE ALL", false, "MASTER_POS_WAIT"},
		{"8.0.22", "SHOW REPLICA STATUS", "SHOW MASTER STATUS", "STOP REPLICA", "RESET REPLICA ALL", false, "MASTER_POS_WAIT"},
		{"8.0.23", "SHOW REPLICA STATUS", "SHOW MASTER STATUS", "STOP REPLICA", "RESET REPLICA ALL", true, "MASTER_POS_WAIT"},
		{"8.0.26", "SHOW REPLICA STATUS", "SHOW MASTER STATUS", "STOP REPLICA", "RESET REPLICA ALL", true, "SOURCE_POS_WAIT"},
		{"8.2.0", "SHOW REPLICA STATUS", "SHOW BINARY LOG STATUS", "STOP REPLICA", "RESET REPLICA ALL", true, "SOURCE_POS_WAIT"},
		{"8.4.3", "SHOW REPLICA STATUS", "SHOW BINARY LOG STATUS", "STOP REPLICA", "RESET REPLICA ALL", true, "SOURCE_POS_WAIT"},
		{"9.1.0", "SHOW REPLICA STATUS", "SHOW BINARY LOG STATUS", "STOP REPLICA", "RESET REPLICA ALL", true, "SOURCE_POS_WAIT"},
	}
	for _, tt := range tests {
		v := mustVersion(t, tt.version)
		if got := v.replicaStatusStmt(); got != tt.status {
			t.Errorf("%s: replica status %q, want %q", tt.version, got, tt.status)
		}
		if got := v.binlogStatusStmt(); got != tt.binlog {
			t.Errorf("%s: binlog status %q, want %q", tt.version, got, tt.binlog)
		}
		if got := v.replicaStmt("STOP", ""); got != tt.stop {
			t.Errorf("%s: stop %q, want %q", tt.version, got, tt.stop)
		}
		if got := v.replicaStmt("RESET", "ALL"); got != tt.reset {
			t.Errorf("%s: reset %q, want %q", tt.version, got, tt.reset)
		}
		if got := v.usesSourceKeyword(); got != tt.change {
			t.Errorf("%s: CHANGE REPLICATION SOURCE %v, want %v", tt.version, got, tt.change)
		}
		if got := v.posWaitFunc(); got != tt.posWait {
			t.Errorf("%s: pos wait %q, want %q", tt.version, got, tt.posWait)
		}
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"10.11.19-MariaDB-0+deb12u1-log", "5.7.21-0ubuntu0.16.04.1-log", "5.5.5-10.3.39-MariaDB", "8.0.36", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err == nil && (v.Major < 0 || v.Minor < 0 || v.Patch < 0 || v.Raw != s) {
			t.Errorf("ParseVersion(%q) = %+v", s, v)
		}
	})
}
