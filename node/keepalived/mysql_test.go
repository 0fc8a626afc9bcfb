package keepalived

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// row builds a result row; "NULL" is SQL NULL.
func row(vals ...string) []sql.NullString {
	r := make([]sql.NullString, len(vals))
	for i, v := range vals {
		if v != "NULL" {
			r[i] = sql.NullString{String: v, Valid: true}
		}
	}
	return r
}

// compare checks a parser's result: an error containing wantErr when set,
// else no error and got equal to want.
func compare[T any](t *testing.T, want, got T, err error, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error %v, want one containing %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestReplicaStatusStatement(t *testing.T) {
	tests := map[string]string{
		"10.11.19-MariaDB-0+deb12u1-log": "SHOW ALL SLAVES STATUS",
		"5.5.5-10.3.39-MariaDB":          "SHOW ALL SLAVES STATUS",
		"11.4.2-MariaDB":                 "SHOW ALL SLAVES STATUS",
		"5.7.44-log":                     "SHOW SLAVE STATUS",
		"8.0.21":                         "SHOW SLAVE STATUS",
		"8.0.22":                         "SHOW REPLICA STATUS",
		"8.0.36-28":                      "SHOW REPLICA STATUS",
		"8.4.3":                          "SHOW REPLICA STATUS",
		"9.1.0":                          "SHOW REPLICA STATUS",
		"":                               "SHOW SLAVE STATUS",
	}
	for version, want := range tests {
		if got := ReplicaStatusStatement(version); got != want {
			t.Errorf("ReplicaStatusStatement(%q) = %q, want %q", version, got, want)
		}
	}
}

func TestParseVariables(t *testing.T) {
	cols := []string{"Variable_name", "Value"}
	tests := []struct {
		name string
		rows [][]sql.NullString
		want *Server
		err  string
	}{
		{"MariaDB", [][]sql.NullString{row("read_only", "OFF"), row("version", "10.11.19-MariaDB-log")},
			&Server{Version: "10.11.19-MariaDB-log"}, ""},
		{"MySQL 8 read-only replica", [][]sql.NullString{row("read_only", "ON"), row("super_read_only", "ON"), row("version", "8.0.36")},
			&Server{Version: "8.0.36", ReadOnly: true, SuperReadOnly: ptr(true)}, ""},
		{"MySQL 8 master", [][]sql.NullString{row("read_only", "OFF"), row("super_read_only", "OFF"), row("version", "8.4.3")},
			&Server{Version: "8.4.3", SuperReadOnly: ptr(false)}, ""},
		{"no read_only", [][]sql.NullString{row("version", "8.4.3")}, nil, "no read_only"},
		{"odd value", [][]sql.NullString{row("read_only", "MAYBE")}, nil, "not a boolean"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseVariables(cols, tc.rows)
			compare(t, tc.want, got, err, tc.err)
		})
	}
}

// The columns the servers send, trimmed to the ones that matter plus a few
// neighbours, in their order: MariaDB 10.11's SHOW ALL SLAVES STATUS
// (captured from a private mariadbd), MySQL 8.0.22+'s SHOW REPLICA STATUS
// and MySQL 5.7's SHOW SLAVE STATUS.
var (
	mariaDBCols = []string{"Connection_name", "Slave_SQL_State", "Slave_IO_State", "Master_Host", "Master_User", "Master_Port",
		"Slave_IO_Running", "Slave_SQL_Running", "Last_Errno", "Seconds_Behind_Master", "Last_IO_Errno", "Last_IO_Error",
		"Last_SQL_Errno", "Last_SQL_Error", "Using_Gtid"}
	mysql8Cols = []string{"Replica_IO_State", "Source_Host", "Source_User", "Source_Port", "Replica_IO_Running",
		"Replica_SQL_Running", "Seconds_Behind_Source", "Last_IO_Error", "Last_SQL_Error", "Channel_Name"}
	mysql57Cols = []string{"Slave_IO_State", "Master_Host", "Master_User", "Master_Port", "Slave_IO_Running",
		"Slave_SQL_Running", "Seconds_Behind_Master", "Last_IO_Error", "Last_SQL_Error", "Channel_Name"}
)

func TestParseChannels(t *testing.T) {
	tests := []struct {
		name string
		cols []string
		rows [][]sql.NullString
		want []Channel
		err  string
	}{
		{"not a replica", mariaDBCols, nil, nil, ""},
		{"MariaDB multi-source", mariaDBCols, [][]sql.NullString{
			row("", "Slave has read all relay log", "Waiting for master to send event", "198.18.0.11", "repl", "3306", "Yes", "Yes", "0", "3", "0", "", "0", "", "Slave_Pos"),
			row("ch2", "", "Connecting to master", "db9", "repl", "3306", "Connecting", "Yes", "0", "NULL", "2003", "error connecting to master", "0", "", "No"),
		}, []Channel{
			{SourceHost: "198.18.0.11", SourcePort: 3306, IO: "Yes", SQL: "Yes", Lag: ptr(int64(3))},
			{Name: "ch2", SourceHost: "db9", SourcePort: 3306, IO: "Connecting", SQL: "Yes", LastIOError: "error connecting to master"},
		}, ""},
		{"MySQL 8 SHOW REPLICA STATUS", mysql8Cols, [][]sql.NullString{
			row("Waiting for source to send event", "198.18.0.11", "repl", "3306", "Yes", "No", "NULL", "", "Error 'Duplicate entry'", ""),
		}, []Channel{{SourceHost: "198.18.0.11", SourcePort: 3306, IO: "Yes", SQL: "No", LastSQLError: "Error 'Duplicate entry'"}}, ""},
		{"MySQL 5.7, host reset by MHA on 5.1 style", mysql57Cols, [][]sql.NullString{
			row("", "", "", "3306", "No", "No", "NULL", "", "", ""),
		}, []Channel{{SourcePort: 3306, IO: "No", SQL: "No"}}, ""},
		{"missing a column", []string{"Master_Host", "Slave_IO_Running"}, [][]sql.NullString{row("db1", "Yes")}, nil, "no column Slave_SQL_Running/Replica_SQL_Running"},
		{"bad lag", mysql57Cols, [][]sql.NullString{row("", "db1", "repl", "3306", "Yes", "Yes", "soon", "", "", "")}, nil, "not a number"},
		{"short row", mysql57Cols, [][]sql.NullString{row("", "db1")}, []Channel{{SourceHost: "db1"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseChannels(tc.cols, tc.rows)
			compare(t, tc.want, got, err, tc.err)
		})
	}
}

// FuzzParseChannels: no result a server (or a broken one) sends makes the
// parser panic.
func FuzzParseChannels(f *testing.F) {
	f.Add(strings.Join(mariaDBCols, ","), "ch2,x,y,db9,repl,3306,Connecting,Yes,0,NULL,2003,err,0,,No")
	f.Add(strings.Join(mysql8Cols, ","), "w,db1,repl,3306,Yes,Yes,0,,,")
	f.Fuzz(func(t *testing.T, cols, vals string) {
		_, _ = parseChannels(strings.Split(cols, ","), [][]sql.NullString{row(strings.Split(vals, ",")...)})
		_, _ = parseVariables(strings.Split(cols, ","), [][]sql.NullString{row(strings.Split(vals, ",")...)})
	})
}
