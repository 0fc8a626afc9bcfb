package mysqlx

import (
	"strings"
	"testing"
)

func TestGTIDStatePositions(t *testing.T) {
	for _, tc := range []struct {
		name            string
		g               GTIDState
		binlog, current string
	}{
		{"none", GTIDState{}, "", ""},
		{"MySQL", GTIDState{Mode: "ON", Executed: "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5"},
			"3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5", "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5"},
		{"MariaDB master", GTIDState{CurrentPos: "0-1-100", BinlogPos: "0-1-100"}, "0-1-100", "0-1-100"},
		{"MariaDB replica", GTIDState{CurrentPos: "0-1-100", SlavePos: "0-1-100", BinlogPos: "0-1-90"}, "0-1-90", "0-1-100"},
		{"MariaDB replica without binlog", GTIDState{CurrentPos: "0-1-100", SlavePos: "0-1-100"}, "", "0-1-100"},
		{"MariaDB empty current pos", GTIDState{BinlogPos: "0-2-7"}, "0-2-7", "0-2-7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.g.Binlog(); got != tc.binlog {
				t.Errorf("Binlog() = %q, want %q", got, tc.binlog)
			}
			if got := tc.g.Current(); got != tc.current {
				t.Errorf("Current() = %q, want %q", got, tc.current)
			}
		})
	}
}

func TestBinlogGTIDQuery(t *testing.T) {
	for _, tc := range []struct {
		v    Version
		want string
	}{
		{Version{Major: 10, Minor: 11, Patch: 19, Flavor: MariaDB}, "SELECT @@global.gtid_binlog_pos"},
		{Version{Major: 10, Minor: 0, Patch: 3, Flavor: MariaDB}, "SELECT @@global.gtid_binlog_pos"},
		{Version{Major: 10, Minor: 0, Patch: 2, Flavor: MariaDB}, ""},
		{Version{Major: 5, Minor: 5, Patch: 60, Flavor: MariaDB}, ""},
		{Version{Major: 8, Minor: 0, Patch: 36, Flavor: MySQL}, "SELECT @@global.gtid_executed"},
		{Version{Major: 5, Minor: 6, Patch: 5, Flavor: MySQL}, "SELECT @@global.gtid_executed"},
		{Version{Major: 5, Minor: 6, Patch: 4, Flavor: MySQL}, ""},
	} {
		t.Run(tc.v.Flavor.String()+" "+tc.v.String(), func(t *testing.T) {
			got := BinlogGTIDQuery(tc.v)
			if got != tc.want {
				t.Fatalf("BinlogGTIDQuery = %q, want %q", got, tc.want)
			}
			// State reads the same variable for the same server: the two
			// must never disagree on which servers have it.
			inState := strings.Contains(stateQuery(stateVars(tc.v)), strings.TrimPrefix(got, "SELECT "))
			if got != "" && !inState {
				t.Errorf("State does not select %s for this version", got)
			}
			if got == "" && (strings.Contains(stateQuery(stateVars(tc.v)), "gtid_binlog_pos") || strings.Contains(stateQuery(stateVars(tc.v)), "gtid_executed")) {
				t.Errorf("State selects a GTID variable that BinlogGTIDQuery says the server lacks")
			}
		})
	}
}
