package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/integration/lab"
	"github.com/gomha/gomha/node/binlog"
	"github.com/gomha/gomha/node/diff"
	"github.com/gomha/gomha/node/relaylog"
)

// TestDiffRelayLogRunbook follows the non-GTID recovery of a lagging replica
// after the master died (MHA phase 3.4/3.5): db3 stopped receiving while
// db2 kept up; the master is killed; the events db3 lacks are cut out of
// db2's relay logs from db3's Read position, applied to db3, and both end
// up with the same data. Applying the same diff again is refused.
func TestDiffRelayLogRunbook(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 3})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	master, db2, db3 := l.Master(), l.Hosts[1], l.Hosts[2]
	sql := sqlOn(t, ctx)

	// A schema both replicas have.
	sql(master, `CREATE DATABASE difft;
		CREATE TABLE difft.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(200), b LONGBLOB) ENGINE=InnoDB;
		CREATE TABLE difft.m (id INT PRIMARY KEY, v INT) ENGINE=InnoDB;
		INSERT INTO difft.t (v) VALUES ('before-1'), ('before-2');`)
	for _, h := range l.Replicas() {
		if err := l.WaitReplicaCaughtUp(ctx, h); err != nil {
			t.Fatal(err)
		}
	}

	// db3 stops receiving; the master keeps writing, across a binlog
	// rotation and with a row larger than the relay read buffer.
	sql(db3, "STOP SLAVE IO_THREAD")
	for i := 0; i < 30; i++ {
		sql(master, fmt.Sprintf("INSERT INTO difft.t (v) VALUES ('after-%d'); INSERT INTO difft.m VALUES (%d, %d)", i, i, i*i))
		if i == 15 {
			sql(master, "FLUSH BINARY LOGS")
		}
	}
	sql(master, `UPDATE difft.t SET v = CONCAT(v, '-u') WHERE id % 3 = 0;
		DELETE FROM difft.m WHERE id % 4 = 1;
		INSERT INTO difft.t (v, b) VALUES ('big', REPEAT('x', 700000));
		BEGIN; INSERT INTO difft.m VALUES (1000, 1); UPDATE difft.m SET v = v + 1; COMMIT;`)
	if err := l.WaitReplicaCaughtUp(ctx, db2); err != nil {
		t.Fatal(err)
	}

	// The master dies.
	if err := master.KillMariaDB(); err != nil {
		t.Fatal(err)
	}
	sql(db2, "STOP SLAVE")

	// db3 applies what it received, then stops; its Read position is
	// where the diff starts.
	var st map[string]string
	for {
		var err error
		if st, err = db3.Row(ctx, "SHOW SLAVE STATUS"); err != nil {
			t.Fatal(err)
		}
		if st["Relay_Master_Log_File"] == st["Master_Log_File"] && st["Exec_Master_Log_Pos"] == st["Read_Master_Log_Pos"] {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("db3 SQL thread did not catch up with its relay log: %v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	sql(db3, "STOP SLAVE")
	readPos, err := strconv.ParseUint(st["Read_Master_Log_Pos"], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	from := binlog.Pos{File: st["Master_Log_File"], Offset: readPos}
	t.Logf("db3 received up to %s", from)

	// Generate the diff from db2's relay logs.
	files, err := relaylog.DirFiles(db2.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := relaylog.FindOffset(files, from)
	if err != nil {
		t.Fatal(err)
	}
	diffPath := filepath.Join(t.TempDir(), "relay_from_read_to_latest_db3.binlog")
	f, err := os.Create(diffPath)
	if err != nil {
		t.Fatal(err)
	}
	res, err := diff.Generate(ctx, files, loc, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("diff from %s:%d: %d events, %d bytes, source %s..%s", filepath.Base(loc.File), loc.Offset, res.Events, res.Bytes, res.Start, res.End)
	if res.Events == 0 {
		t.Fatal("diff holds no events although db3 was behind")
	}

	// Apply it to db3 over TCP with the manager's account.
	opts := diff.ApplyOptions{
		File: diffPath, Host: db3.IP, Port: db3.Port,
		User: l.AdminUser, Password: l.AdminPassword,
		DisableLogBin: true,
	}
	packet := sql(db3, "SELECT @@global.max_allowed_packet")

	// An apply that fails before any event is sent (this account may not
	// SET GLOBAL: MariaDB 10.11 requires SUPER for it) records nothing, so the real apply is not refused as
	// "partially applied".
	sql(db3, `SET SESSION sql_log_bin = 0;
		CREATE USER 'limited'@'%' IDENTIFIED BY 'limited-pw';
		GRANT ALL PRIVILEGES ON *.* TO 'limited'@'%';
		REVOKE SUPER ON *.* FROM 'limited'@'%'`)
	limited := opts
	limited.User, limited.Password = "limited", "limited-pw"
	if err := diff.Apply(ctx, limited); err == nil || !strings.Contains(err.Error(), "raise max_allowed_packet") {
		t.Fatalf("apply as an account without SET GLOBAL: err = %v; want a failure to raise max_allowed_packet", err)
	}
	if n := sql(db3, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'gomha'"); n != "0" {
		if rows := sql(db3, "SELECT COUNT(*) FROM "+diff.MarkerTable); rows != "0" {
			t.Fatalf("a failed preparation left %s marker row(s) on db3", rows)
		}
	}

	if err := diff.Apply(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if got := sql(db3, "SELECT @@global.max_allowed_packet"); got != packet {
		t.Errorf("max_allowed_packet on db3 = %s after apply; want %s restored", got, packet)
	}

	// db2 and db3 hold the same rows.
	tables := strings.Fields(sql(db2, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'difft' ORDER BY table_name"))
	if len(tables) != 2 {
		t.Fatalf("tables on db2: %v", tables)
	}
	for _, tb := range tables {
		q := "CHECKSUM TABLE difft." + tb
		if a, b := sql(db2, q), sql(db3, q); a != b {
			t.Errorf("%s: db2 %q, db3 %q", q, a, b)
		}
	}
	if got := sql(db3, "SELECT COUNT(*) FROM difft.t WHERE v = 'big'"); got != "1" {
		t.Errorf("db3 has %s rows 'big'; want 1", got)
	}

	// The same diff again is refused and changes nothing.
	err = diff.Apply(ctx, opts)
	if !errors.Is(err, diff.ErrAlreadyApplied) {
		t.Fatalf("second apply: err = %v; want ErrAlreadyApplied", err)
	}
	if strings.Contains(err.Error(), l.AdminPassword) {
		t.Error("error shows the password")
	}
	for _, tb := range tables {
		q := "CHECKSUM TABLE difft." + tb
		if a, b := sql(db2, q), sql(db3, q); a != b {
			t.Errorf("after second apply: %s: db2 %q, db3 %q", q, a, b)
		}
	}
}
