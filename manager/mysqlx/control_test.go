package mysqlx

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/gomha/gomha/node/binlog"
)

func TestBuildChangeSource(t *testing.T) {
	pos := binlog.Pos{File: "mysql-bin.000042", Offset: 1234}
	tests := []struct {
		name    string
		version string
		opts    ChangeSourceOptions
		nbe     bool
		want    string
	}{
		{"MariaDB position", "10.11.19-MariaDB",
			ChangeSourceOptions{Host: "198.18.0.12", Port: 3306, User: "repl", Password: "s3cret", Pos: pos}, false,
			"CHANGE MASTER TO MASTER_HOST = '198.18.0.12', MASTER_PORT = 3306, MASTER_USER = 'repl', MASTER_PASSWORD = 's3cret', " +
				"MASTER_LOG_FILE = 'mysql-bin.000042', MASTER_LOG_POS = 1234, MASTER_USE_GTID = no"},
		{"MariaDB slave_pos keeps credentials", "10.11.19-MariaDB",
			ChangeSourceOptions{Host: "db1", Port: 3307, UseGTID: "slave_pos"}, false,
			"CHANGE MASTER TO MASTER_HOST = 'db1', MASTER_PORT = 3307, MASTER_USE_GTID = slave_pos"},
		{"MariaDB current_pos", "10.6.16-MariaDB",
			ChangeSourceOptions{Host: "db1", Port: 3306, UseGTID: "Current_Pos"}, false,
			"CHANGE MASTER TO MASTER_HOST = 'db1', MASTER_PORT = 3306, MASTER_USE_GTID = current_pos"},
		{"MariaDB 5.5 has no GTID", "5.5.68-MariaDB",
			ChangeSourceOptions{Host: "db1", Port: 3306, Pos: pos}, false,
			"CHANGE MASTER TO MASTER_HOST = 'db1', MASTER_PORT = 3306, MASTER_LOG_FILE = 'mysql-bin.000042', MASTER_LOG_POS = 1234"},
		{"MySQL 5.7 position", "5.7.44",
			ChangeSourceOptions{Host: "db1", Port: 3306, Pos: pos}, false,
			"CHANGE MASTER TO MASTER_HOST = 'db1', MASTER_PORT = 3306, MASTER_LOG_FILE = 'mysql-bin.000042', MASTER_LOG_POS = 1234, MASTER_AUTO_POSITION = 0"},
		{"MySQL 8.0.22 auto-position", "8.0.22",
			ChangeSourceOptions{Host: "db1", Port: 3306, AutoPosition: true}, false,
			"CHANGE MASTER TO MASTER_HOST = 'db1', MASTER_PORT = 3306, MASTER_AUTO_POSITION = 1"},
		{"MySQL 8.0.23 renamed", "8.0.23",
			ChangeSourceOptions{Host: "db1", Port: 3306, User: "repl", Password: "pw", AutoPosition: true}, false,
			"CHANGE REPLICATION SOURCE TO SOURCE_HOST = 'db1', SOURCE_PORT = 3306, SOURCE_USER = 'repl', SOURCE_PASSWORD = 'pw', SOURCE_AUTO_POSITION = 1"},
		{"MySQL 8.4 position", "8.4.3",
			ChangeSourceOptions{Host: "2001:db8::11", Port: 3306, Pos: pos}, false,
			"CHANGE REPLICATION SOURCE TO SOURCE_HOST = '2001:db8::11', SOURCE_PORT = 3306, SOURCE_LOG_FILE = 'mysql-bin.000042', SOURCE_LOG_POS = 1234, SOURCE_AUTO_POSITION = 0"},
		{"hostile values", "10.11.19-MariaDB",
			ChangeSourceOptions{Host: "h'x", Port: 3306, User: `u\'`, Password: "p'; DROP TABLE t; --\n", UseGTID: "slave_pos"}, false,
			`CHANGE MASTER TO MASTER_HOST = 'h''x', MASTER_PORT = 3306, MASTER_USER = 'u\\''', MASTER_PASSWORD = 'p''; DROP TABLE t; --\n', MASTER_USE_GTID = slave_pos`},
		{"hostile values, NO_BACKSLASH_ESCAPES", "10.11.19-MariaDB",
			ChangeSourceOptions{Host: "h'x", Port: 3306, User: `u\'`, UseGTID: "slave_pos"}, true,
			`CHANGE MASTER TO MASTER_HOST = 'h''x', MASTER_PORT = 3306, MASTER_USER = 'u\''', MASTER_USE_GTID = slave_pos`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := buildChangeSource(mustVersion(t, tt.version), tt.opts, tt.nbe)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestBuildChangeSourceErrors(t *testing.T) {
	pos := binlog.Pos{File: "mysql-bin.000042", Offset: 4}
	tests := []struct {
		name        string
		version     string
		opts        ChangeSourceOptions
		unsupported bool
	}{
		{"no host", "10.11.1-MariaDB", ChangeSourceOptions{Port: 3306, Pos: pos}, false},
		{"no port", "10.11.1-MariaDB", ChangeSourceOptions{Host: "db1", Pos: pos}, false},
		{"port too big", "10.11.1-MariaDB", ChangeSourceOptions{Host: "db1", Port: 70000, Pos: pos}, false},
		{"no start", "10.11.1-MariaDB", ChangeSourceOptions{Host: "db1", Port: 3306}, false},
		{"two starts", "10.11.1-MariaDB", ChangeSourceOptions{Host: "db1", Port: 3306, Pos: pos, UseGTID: "slave_pos"}, false},
		{"offset without file", "10.11.1-MariaDB", ChangeSourceOptions{Host: "db1", Port: 3306, Pos: binlog.Pos{Offset: 4}}, false},
		{"bad gtid mode", "10.11.1-MariaDB", ChangeSourceOptions{Host: "db1", Port: 3306, UseGTID: "no"}, false},
		{"NUL in password", "10.11.1-MariaDB", ChangeSourceOptions{Host: "db1", Port: 3306, Password: "a\x00b", Pos: pos}, false},
		{"auto-position on MariaDB", "10.11.1-MariaDB", ChangeSourceOptions{Host: "db1", Port: 3306, AutoPosition: true}, true},
		{"MASTER_USE_GTID on MySQL", "8.0.36", ChangeSourceOptions{Host: "db1", Port: 3306, UseGTID: "slave_pos"}, true},
		{"auto-position on MySQL 5.5", "5.5.62", ChangeSourceOptions{Host: "db1", Port: 3306, AutoPosition: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := buildChangeSource(mustVersion(t, tt.version), tt.opts, false)
			if err == nil {
				t.Fatalf("got %q, want an error", got)
			}
			if errors.Is(err, ErrUnsupported) != tt.unsupported {
				t.Errorf("ErrUnsupported = %v, want %v (%v)", errors.Is(err, ErrUnsupported), tt.unsupported, err)
			}
			if strings.Contains(err.Error(), "a\x00b") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestRedactPassword(t *testing.T) {
	const pw = `pa'ss\word`
	parse := &mysql.MySQLError{Number: 1064, Message: `You have an error in your SQL syntax; ... near 'pa''ss\\wo' at line 1`}
	err := redactPassword(errorfFor("db1:3306", parse), pw)
	if ErrorNumber(err) != 1064 || strings.Contains(err.Error(), "pa''ss") || !strings.Contains(err.Error(), "db1:3306") {
		t.Errorf("parse error not redacted: %v", err)
	}
	quoted := &mysql.MySQLError{Number: 1234, Message: "value " + pw + " rejected"}
	if err := redactPassword(errorfFor("db1:3306", quoted), pw); strings.Contains(err.Error(), pw) {
		t.Errorf("quoted password not redacted: %v", err)
	}
	harmless := &mysql.MySQLError{Number: 1198, Message: "This operation cannot be performed as you have a running slave ''; run STOP SLAVE '' first"}
	if err := redactPassword(errorfFor("db1:3306", harmless), pw); !strings.Contains(err.Error(), "STOP SLAVE") {
		t.Errorf("harmless message changed: %v", err)
	}
	if redactPassword(nil, pw) != nil {
		t.Error("nil error changed")
	}
}

func errorfFor(addr string, err error) error {
	c := &Conn{target: Target{Addr: addr}}
	return c.errorf("CHANGE MASTER TO", err)
}
