package repoint

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/topology"
	"github.com/gomha/gomha/node/binlog"
)

func TestOptions(t *testing.T) {
	src := Source{Host: "db2", Port: 3306, User: "repl", Password: "p"}
	pos := binlog.Pos{File: "mysql-bin.000002", Offset: 1234}
	base := mysqlx.ChangeSourceOptions{Host: "db2", Port: 3306, User: "repl", Password: "p"}
	tests := []struct {
		name    string
		how     How
		want    func(o mysqlx.ChangeSourceOptions) mysqlx.ChangeSourceOptions
		wantErr bool
	}{
		{"file/position", How{Mode: topology.GTIDOff, Pos: pos}, func(o mysqlx.ChangeSourceOptions) mysqlx.ChangeSourceOptions { o.Pos = pos; return o }, false},
		{"MySQL GTID without auto-position uses the position", How{Mode: topology.GTIDMySQLNoAutoPos, Pos: pos}, func(o mysqlx.ChangeSourceOptions) mysqlx.ChangeSourceOptions { o.Pos = pos; return o }, false},
		{"MariaDB GTID stays on slave_pos", How{Mode: topology.GTIDMariaDB, Pos: pos}, func(o mysqlx.ChangeSourceOptions) mysqlx.ChangeSourceOptions { o.UseGTID = "slave_pos"; return o }, false},
		{"MySQL GTID auto-position", How{Mode: topology.GTIDMySQL}, func(o mysqlx.ChangeSourceOptions) mysqlx.ChangeSourceOptions { o.AutoPosition = true; return o }, false},
		{"file/position without a position", How{Mode: topology.GTIDOff}, nil, true},
		{"position before the magic", How{Mode: topology.GTIDOff, Pos: binlog.Pos{File: "mysql-bin.000001", Offset: 3}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Options(src, tt.how)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Options = %+v; want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want(base), got); diff != "" {
				t.Errorf("Options (-want +got):\n%s", diff)
			}
		})
	}
}
