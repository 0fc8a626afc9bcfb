package mysqlx

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gomha/gomha/node/binlog"
)

func exprs(vars []stateVar) []string {
	var out []string
	for _, v := range vars {
		out = append(out, v.expr)
	}
	return out
}

// TestStateVarsPerFlavor: selecting a variable the server lacks fails the
// whole SELECT, so each flavor and version gets only its own.
func TestStateVarsPerFlavor(t *testing.T) {
	tests := []struct {
		version      string
		want, forbid []string
	}{
		{"10.11.19-MariaDB-0+deb12u1-log",
			[]string{"@@global.gtid_current_pos", "@@global.gtid_slave_pos", "@@global.gtid_binlog_pos", "@@global.gtid_strict_mode",
				"@@global.log_slave_updates", "@@global.slave_net_timeout", "@@global.relay_log_basename"},
			[]string{"@@global.super_read_only", "@@global.gtid_mode", "@@global.gtid_executed", "@@global.log_replica_updates"}},
		{"10.3.39-MariaDB",
			[]string{"@@global.gtid_current_pos", "@@global.relay_log"},
			[]string{"@@global.super_read_only", "@@global.gtid_mode", "@@global.relay_log_basename"}},
		{"5.5.68-MariaDB",
			[]string{"@@global.server_id"},
			[]string{"@@global.super_read_only", "@@global.gtid_mode", "@@global.gtid_current_pos", "@@global.gtid_strict_mode"}},
		{"5.6.51-log",
			[]string{"@@global.gtid_mode", "@@global.gtid_executed", "@@global.relay_log_basename"},
			[]string{"@@global.super_read_only", "@@global.gtid_current_pos"}},
		{"5.7.7",
			[]string{"@@global.gtid_mode"},
			[]string{"@@global.super_read_only"}},
		{"5.7.44",
			[]string{"@@global.super_read_only", "@@global.gtid_mode", "@@global.log_slave_updates", "@@global.slave_net_timeout"},
			[]string{"@@global.gtid_slave_pos", "@@global.log_replica_updates"}},
		{"8.4.3",
			[]string{"@@global.super_read_only", "@@global.log_replica_updates", "@@global.replica_net_timeout"},
			[]string{"@@global.log_slave_updates", "@@global.slave_net_timeout", "@@global.gtid_current_pos"}},
	}
	for _, tt := range tests {
		got := exprs(stateVars(mustVersion(t, tt.version)))
		for _, w := range tt.want {
			if !slices.Contains(got, w) {
				t.Errorf("%s: missing %s in %v", tt.version, w, got)
			}
		}
		for _, f := range tt.forbid {
			if slices.Contains(got, f) {
				t.Errorf("%s: must not select %s", tt.version, f)
			}
		}
		q := stateQuery(stateVars(mustVersion(t, tt.version)))
		if !strings.HasPrefix(q, "SELECT @@global.server_id, ") {
			t.Errorf("%s: query %q", tt.version, q)
		}
	}
}

func TestApplyStateVars(t *testing.T) {
	values := map[string]any{
		"@@global.server_id":           []byte("2"),
		"@@global.hostname":            []byte("db2"),
		"@@global.port":                []byte("3306"),
		"@@global.read_only":           []byte("1"),
		"@@global.log_bin":             []byte("1"),
		"@@global.binlog_format":       []byte("ROW"),
		"@@global.relay_log_purge":     []byte("0"),
		"@@global.datadir":             []byte("/var/lib/mysql/"),
		"@@global.relay_log":           []byte("relay-bin"),
		"@@global.log_slave_updates":   []byte("1"),
		"@@global.slave_net_timeout":   []byte("60"),
		"@@global.relay_log_basename":  []byte("/var/lib/mysql/relay-bin"),
		"@@global.gtid_current_pos":    []byte("0-1-100"),
		"@@global.gtid_slave_pos":      []byte("0-1-100"),
		"@@global.gtid_binlog_pos":     []byte("0-2-5"),
		"@@global.gtid_strict_mode":    []byte("1"),
		"@@global.super_read_only":     []byte("1"),
		"@@global.gtid_mode":           []byte("ON"),
		"@@global.gtid_executed":       []byte("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,\n4a6a4b83-71ca-11e1-9e33-c80aa9429562:1-2"),
		"@@global.log_replica_updates": []byte("1"),
		"@@global.replica_net_timeout": []byte("60"),
	}
	row := func(vars []stateVar) []any {
		var r []any
		for _, v := range vars {
			r = append(r, values[v.expr])
		}
		return r
	}
	common := State{
		ServerID: 2, Hostname: "db2", Port: 3306, ReadOnly: true, LogBin: true, LogSlaveUpdates: true,
		BinlogFormat: "ROW", RelayLogPurge: false, SlaveNetTimeout: 60, DataDir: "/var/lib/mysql/",
		RelayLogBase: "/var/lib/mysql/relay-bin",
	}
	maria := common
	maria.GTID = GTIDState{CurrentPos: "0-1-100", SlavePos: "0-1-100", BinlogPos: "0-2-5", StrictMode: true}
	mysql8 := common
	mysql8.SuperReadOnly = true
	mysql8.GTID = GTIDState{Mode: "ON", Executed: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,4a6a4b83-71ca-11e1-9e33-c80aa9429562:1-2"}
	for version, want := range map[string]State{"10.11.19-MariaDB": maria, "8.4.3": mysql8} {
		vars := stateVars(mustVersion(t, version))
		var got State
		if err := applyStateVars(&got, vars, row(vars)); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", version, diff)
		}
	}

	// A bad value names the variable.
	vars := stateVars(mustVersion(t, "10.11.19-MariaDB"))
	r := row(vars)
	r[0] = []byte("many")
	var st State
	if err := applyStateVars(&st, vars, r); err == nil || !strings.Contains(err.Error(), "@@global.server_id") {
		t.Errorf("bad server_id: got %v", err)
	}
	if err := applyStateVars(&st, vars, r[1:]); err == nil {
		t.Error("short row: want an error")
	}
}

func TestRelayLogBase(t *testing.T) {
	tests := []struct {
		basename, relayLog, dataDir, hostname, want string
	}{
		{"/data/relay-bin", "relay-bin", "/var/lib/mysql/", "db1", "/data/relay-bin"},
		{"", "relay-bin", "/var/lib/mysql/", "db1", "/var/lib/mysql/relay-bin"},
		{"", "/logs/relay-bin", "/var/lib/mysql/", "db1", "/logs/relay-bin"},
		{"", "/logs/relay.log", "/var/lib/mysql/", "db1", "/logs/relay"},
		{"", "", "/var/lib/mysql/", "db1.example.com", "/var/lib/mysql/db1.example.com-relay-bin"},
	}
	for _, tt := range tests {
		if got := relayLogBase(tt.basename, tt.relayLog, tt.dataDir, tt.hostname); got != tt.want {
			t.Errorf("relayLogBase(%q, %q, %q, %q) = %q, want %q", tt.basename, tt.relayLog, tt.dataDir, tt.hostname, got, tt.want)
		}
	}
}

func TestParseBinlogStatus(t *testing.T) {
	// Captured from MariaDB 10.11.19: SHOW MASTER STATUS.
	cols := []string{"File", "Position", "Binlog_Do_DB", "Binlog_Ignore_DB"}
	pos, f, err := parseBinlogStatus(cols, [][]any{{[]byte("mysql-bin.000001"), []byte("1422"), []byte(""), []byte("mysql,test")}})
	if err != nil {
		t.Fatal(err)
	}
	if pos != (binlog.Pos{File: "mysql-bin.000001", Offset: 1422}) || f != (Filters{BinlogIgnoreDB: "mysql,test"}) {
		t.Errorf("got %v %+v", pos, f)
	}
	// MySQL 8.4 SHOW BINARY LOG STATUS adds Executed_Gtid_Set.
	cols = append(cols, "Executed_Gtid_Set")
	pos, _, err = parseBinlogStatus(cols, [][]any{{[]byte("binlog.000009"), []byte("157"), []byte("app"), []byte(""), []byte("uuid:1-3")}})
	if err != nil || pos != (binlog.Pos{File: "binlog.000009", Offset: 157}) {
		t.Errorf("8.4: got %v, %v", pos, err)
	}
	// log_bin off: no row.
	pos, f, err = parseBinlogStatus(cols, nil)
	if err != nil || !pos.IsZero() || f != (Filters{}) {
		t.Errorf("no row: got %v %+v %v", pos, f, err)
	}
	if _, _, err := parseBinlogStatus([]string{"File"}, [][]any{{[]byte("x.1")}}); err == nil || !strings.Contains(err.Error(), "Position") {
		t.Errorf("missing Position: got %v", err)
	}
}
