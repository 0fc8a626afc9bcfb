package integration

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/integration/lab"
)

// nodeRun runs mha-node inside h's namespace with args (the hosts share
// one file system), feeding stdin, and returns its exit code and output.
func nodeRun(t *testing.T, ctx context.Context, h *lab.Host, stdin string, args ...string) result {
	t.Helper()
	cmd := h.Command(ctx, bins.mhaNode, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	if err != nil {
		r.code = cmd.ProcessState.ExitCode()
		if r.code < 0 {
			t.Fatalf("mha-node on %s: %v", h.Name, err)
		}
	}
	t.Logf("%s$ mha-node %s\n%s", h.Name, strings.Join(args, " "), r)
	return r
}

// waitSQLCaughtUp waits until h's SQL thread has executed everything its IO
// thread read, then stops the replica and returns its slave status.
func waitSQLCaughtUp(t *testing.T, ctx context.Context, h *lab.Host) map[string]string {
	t.Helper()
	for {
		st, err := h.Row(ctx, "SHOW SLAVE STATUS")
		if err != nil {
			t.Fatal(err)
		}
		if st["Relay_Master_Log_File"] == st["Master_Log_File"] && st["Exec_Master_Log_Pos"] == st["Read_Master_Log_Pos"] {
			if _, err := h.SQL(ctx, "STOP SLAVE"); err != nil {
				t.Fatal(err)
			}
			return st
		}
		if ctx.Err() != nil {
			t.Fatalf("%s SQL thread did not catch up with its relay log: %v", h.Name, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checksumsEqual fails the test unless every table of schema has the same
// CHECKSUM TABLE on all hosts.
func checksumsEqual(t *testing.T, ctx context.Context, schema string, hosts ...*lab.Host) {
	t.Helper()
	tables, err := hosts[0].SQL(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = '"+schema+"' ORDER BY table_name")
	if err != nil {
		t.Fatal(err)
	}
	if len(strings.Fields(tables)) == 0 {
		t.Fatalf("no tables in %s on %s", schema, hosts[0].Name)
	}
	for _, tb := range strings.Fields(tables) {
		q := "CHECKSUM TABLE " + schema + "." + tb
		want, err := hosts[0].SQL(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hosts[1:] {
			got, err := h.SQL(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s: %s %q, %s %q", q, hosts[0].Name, want, h.Name, got)
			}
		}
	}
}

// TestDiffTailRunbook follows MHA's dead-master recovery when no replica
// received everything: db3 stopped receiving before db2, db2 before the
// master's last writes; the master's mariadbd stops but its host and files
// stay reachable. db2's relay diff from db3's Read position and the master's
// binlog tail from db2's Read position are cut with mha-node, applied with
// mha-node (db3: diff then tail; db2: tail), and all three servers end up
// with the same rows.
func TestDiffTailRunbook(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 3})
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	db1, db2, db3 := l.Hosts[0], l.Hosts[1], l.Hosts[2]
	sql := sqlOn(t, ctx)
	sql(db1, `CREATE DATABASE dtail;
		CREATE TABLE dtail.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(200), b LONGBLOB) ENGINE=InnoDB;
		CREATE TABLE dtail.m (id INT PRIMARY KEY, v INT) ENGINE=InnoDB;
		INSERT INTO dtail.t (v) VALUES ('before-1'), ('before-2');`)
	for _, h := range l.Replicas() {
		if err := l.WaitReplicaCaughtUp(ctx, h); err != nil {
			t.Fatal(err)
		}
	}

	// db3 stops receiving first, db2 later; the master keeps writing.
	sql(db3, "STOP SLAVE IO_THREAD")
	for i := 0; i < 20; i++ {
		sql(db1, fmt.Sprintf("INSERT INTO dtail.t (v) VALUES ('relay-%d'); INSERT INTO dtail.m VALUES (%d, %d)", i, i, i*i))
		if i == 10 {
			sql(db1, "FLUSH BINARY LOGS")
		}
	}
	if err := l.WaitReplicaCaughtUp(ctx, db2); err != nil {
		t.Fatal(err)
	}
	sql(db2, "STOP SLAVE IO_THREAD")
	for i := 20; i < 40; i++ {
		sql(db1, fmt.Sprintf("INSERT INTO dtail.t (v) VALUES ('tail-%d'); INSERT INTO dtail.m VALUES (%d, %d)", i, i, i*i))
		if i == 30 {
			sql(db1, "FLUSH BINARY LOGS")
		}
	}
	sql(db1, `UPDATE dtail.t SET v = CONCAT(v, '-u') WHERE id % 3 = 0;
		DELETE FROM dtail.m WHERE id % 4 = 1;
		INSERT INTO dtail.t (v, b) VALUES ('big', REPEAT('y', 600000));`)

	// The master's mariadbd stops; its files stay readable.
	if err := db1.StopMariaDB(ctx); err != nil {
		t.Fatal(err)
	}
	st2, st3 := waitSQLCaughtUp(t, ctx, db2), waitSQLCaughtUp(t, ctx, db3)
	read2, read3 := st2["Read_Master_Log_Pos"], st3["Read_Master_Log_Pos"]
	t.Logf("db2 read up to %s:%s, db3 up to %s:%s", st2["Master_Log_File"], read2, st3["Master_Log_File"], read3)
	if st2["Master_Log_File"] == st3["Master_Log_File"] && read2 == read3 {
		t.Fatal("db2 and db3 stopped at the same position")
	}

	positions := []string{"--latest_mlf=" + st2["Master_Log_File"], "--latest_rmlp=" + read2,
		"--target_mlf=" + st3["Master_Log_File"], "--target_rmlp=" + read3}
	relayDiff := filepath.Join(db2.RemoteWorkdir, "relay_from_read_to_latest_db3.binlog")
	tail := filepath.Join(db1.RemoteWorkdir, "saved_master_binlog_from_db1.binlog")

	// On db3: the test command probes the relay logs and the account.
	r0 := nodeRun(t, ctx, db3, l.AdminPassword+"\n", "apply_diff_relay_logs", "--command=test", "--relay_dir="+db3.DataDir,
		"--slave_user="+l.AdminUser, "--slave_pass_stdin", "--slave_ip="+db3.IP, "--workdir="+db3.RemoteWorkdir, "--target_version=10.11")
	expect(t, r0, 0, "Relay logs found at")

	// On db2: find db3's position in db2's relay logs, cut the diff.
	r := nodeRun(t, ctx, db2, "", append([]string{"apply_diff_relay_logs", "--command=find", "--relay_dir=" + db2.DataDir,
		"--workdir=" + db2.RemoteWorkdir, "--server_id=" + strconv.Itoa(db2.ServerID)}, positions...)...)
	expect(t, r, 0, "Target relay log FOUND!")
	r = nodeRun(t, ctx, db2, "", append([]string{"apply_diff_relay_logs", "--command=generate_and_send", "--relay_dir=" + db2.DataDir,
		"--workdir=" + db2.RemoteWorkdir, "--diff_file_readtolatest=" + relayDiff}, positions...)...)
	expect(t, r, 0, "Generating diff relay log succeeded")

	// On db1: save the binlog tail from db2's Read position.
	r = nodeRun(t, ctx, db1, "", "save_binary_logs", "--command=save", "--start_file="+st2["Master_Log_File"], "--start_pos="+read2,
		"--binlog_dir="+db1.DataDir, "--output_file="+tail, "--handle_raw_binlog=1")
	expect(t, r, 0, "Concat succeeded.")
	if t.Failed() {
		t.FailNow()
	}

	// Apply: db3 gets the relay diff then the tail, db2 the tail.
	apply := func(h *lab.Host, files ...string) {
		t.Helper()
		r := nodeRun(t, ctx, h, l.AdminPassword+"\n", "apply_diff_relay_logs", "--command=apply", "--slave_user="+l.AdminUser,
			"--slave_pass_stdin", "--slave_host="+h.Name, "--slave_ip="+h.IP, "--slave_port="+strconv.Itoa(h.Port),
			"--apply_files="+strings.Join(files, ","), "--workdir="+h.RemoteWorkdir, "--disable_log_bin=1", "--target_version=10.11")
		expect(t, r, 0, "Applying log files succeeded.")
		if strings.Contains(r.stdout+r.stderr, l.AdminPassword) {
			t.Errorf("mha-node output on %s shows the password", h.Name)
		}
	}
	apply(db3, relayDiff, tail)
	apply(db2, tail)

	// A second apply of the tail is refused.
	r = nodeRun(t, ctx, db2, l.AdminPassword+"\n", "apply_diff_relay_logs", "--command=apply", "--slave_user="+l.AdminUser,
		"--slave_pass_stdin", "--slave_ip="+db2.IP, "--apply_files="+tail, "--workdir="+db2.RemoteWorkdir)
	expect(t, r, 1)

	// db1 comes back to be compared.
	if err := db1.StartMariaDB(ctx); err != nil {
		t.Fatal(err)
	}
	checksumsEqual(t, ctx, "dtail", db1, db2, db3)
	for _, h := range []*lab.Host{db1, db2, db3} {
		if got := sql(h, "SELECT COUNT(*) FROM dtail.t WHERE v = 'big'"); got != "1" {
			t.Errorf("%s has %s rows 'big'; want 1", h.Name, got)
		}
	}
}

// TestDiffTailGTID saves a stopped master's binlog tail after a GTID
// replica's IO position (save_binary_logs --gtid_pos) and applies it to the
// replicas with apply_diff_relay_logs; all servers end up with the same rows.
func TestDiffTailGTID(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 3, GTID: true})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	db1, db2, db3 := l.Hosts[0], l.Hosts[1], l.Hosts[2]
	sql := sqlOn(t, ctx)
	sql(db1, `CREATE DATABASE gtail;
		CREATE TABLE gtail.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB;
		INSERT INTO gtail.t (v) VALUES ('before-1'), ('before-2');`)
	for _, h := range l.Replicas() {
		if err := l.WaitReplicaCaughtUp(ctx, h); err != nil {
			t.Fatal(err)
		}
		sql(h, "STOP SLAVE IO_THREAD")
	}
	ms, err := db1.Row(ctx, "SHOW MASTER STATUS")
	if err != nil || ms == nil {
		t.Fatalf("SHOW MASTER STATUS on db1: %v", err)
	}
	prefix := strings.TrimSuffix(ms["File"], filepath.Ext(ms["File"]))
	for i := 0; i < 20; i++ {
		sql(db1, fmt.Sprintf("INSERT INTO gtail.t (v) VALUES ('tail-%d')", i))
		if i == 10 {
			sql(db1, "FLUSH BINARY LOGS")
		}
	}
	sql(db1, "UPDATE gtail.t SET v = CONCAT(v, '-u') WHERE id % 3 = 0")
	if err := db1.StopMariaDB(ctx); err != nil {
		t.Fatal(err)
	}
	st := waitSQLCaughtUp(t, ctx, db2)
	waitSQLCaughtUp(t, ctx, db3)
	gtidPos := st["Gtid_IO_Pos"]
	if gtidPos == "" {
		t.Fatalf("db2 has no Gtid_IO_Pos: %v", st)
	}
	t.Logf("db2 received up to GTID %s", gtidPos)

	tail := filepath.Join(db1.RemoteWorkdir, "saved_master_binlog_gtid.binlog")
	r := nodeRun(t, ctx, db1, "", "save_binary_logs", "--command=save", "--gtid_pos="+gtidPos, "--binlog_prefix="+prefix,
		"--binlog_dir="+db1.DataDir, "--output_file="+tail)
	expect(t, r, 0, "Concat succeeded.")
	if t.Failed() {
		t.FailNow()
	}
	for _, h := range []*lab.Host{db2, db3} {
		r := nodeRun(t, ctx, h, l.AdminPassword+"\n", "apply_diff_relay_logs", "--command=apply", "--slave_user="+l.AdminUser,
			"--slave_pass_stdin", "--slave_ip="+h.IP, "--slave_port="+strconv.Itoa(h.Port), "--apply_files="+tail,
			"--workdir="+h.RemoteWorkdir, "--disable_log_bin=1")
		expect(t, r, 0, "Applying log files succeeded.")
	}
	if err := db1.StartMariaDB(ctx); err != nil {
		t.Fatal(err)
	}
	checksumsEqual(t, ctx, "gtail", db1, db2, db3)
	if got := sql(db2, "SELECT COUNT(*) FROM gtail.t"); got != "22" {
		t.Errorf("db2 has %s rows in gtail.t; want 22", got)
	}
}
