package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/integration/lab"
	"github.com/gomha/gomha/manager/nodeinstall"
	"github.com/gomha/gomha/manager/sshexec"
)

// dialLab opens an SSH connection to a lab host as root with the lab key.
func dialLab(t *testing.T, ctx context.Context, l *lab.Lab, h *lab.Host) *sshexec.Client {
	t.Helper()
	opts, err := sshexec.ParseOptions(l.SSHOptions())
	if err != nil {
		t.Fatal(err)
	}
	c, err := sshexec.Dial(ctx, sshexec.Target{Host: h.IP, Port: h.SSHPort, User: "root", Options: opts})
	if err != nil {
		t.Fatalf("ssh to %s: %v", h.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestNodeTools follows the node side of a failover runbook: the manager
// installs mha-node on the master's host, saves the master's binlog tail
// from a known position with it, and purges a replica's relay logs without
// disturbing replication.
func TestNodeTools(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db1, db2 := l.Hosts[0], l.Hosts[1]
	c1 := dialLab(t, ctx, l, db1)

	var remoteNode string
	t.Run("install mha-node on db1 over SSH, once", func(t *testing.T) {
		p, err := nodeinstall.Ensure(ctx, c1, bins.mhaNode, db1.RemoteWorkdir)
		if err != nil {
			t.Fatal(err)
		}
		remoteNode = p
		inode := func() string {
			r, err := c1.Run(ctx, []string{"stat", "-c", "%i %a", p})
			if err != nil {
				t.Fatal(err)
			}
			return strings.TrimSpace(string(r.Stdout))
		}
		before := inode()
		// Private to the SSH user (nodeinstall: nobody else may write or
		// swap it between the check and the run).
		if !strings.HasSuffix(before, " 700") {
			t.Fatalf("remote binary mode: %s, want 700", before)
		}
		if _, err := nodeinstall.Ensure(ctx, c1, bins.mhaNode, db1.RemoteWorkdir); err != nil {
			t.Fatal(err)
		}
		if after := inode(); after != before {
			t.Fatalf("second Ensure re-uploaded (inode/mode %s -> %s)", before, after)
		}
		link := filepath.Join(db1.RemoteWorkdir, "save_binary_logs")
		if _, err := c1.Run(ctx, []string{"ln", "-sf", p, link}); err != nil {
			t.Fatal(err)
		}
		r, err := c1.Run(ctx, []string{link, "--version"})
		if err != nil || string(r.Stdout) != "save_binary_logs version 0.58.\n" {
			t.Fatalf("remote --version: %q %v", r.Stdout, err)
		}
	})
	if remoteNode == "" {
		t.FailNow()
	}

	t.Run("save db1's binlog tail from a position, across a rotation", func(t *testing.T) {
		st, err := db1.Row(ctx, "SHOW MASTER STATUS")
		if err != nil || st == nil {
			t.Fatalf("SHOW MASTER STATUS: %v", err)
		}
		file, pos := st["File"], st["Position"]
		if _, err := db1.SQL(ctx, `CREATE DATABASE IF NOT EXISTS nodet;
CREATE TABLE nodet.t (id INT PRIMARY KEY, v VARCHAR(64)) ENGINE=InnoDB;
INSERT INTO nodet.t VALUES (1, 'gomha-saved-row-one');
FLUSH BINARY LOGS;
INSERT INTO nodet.t VALUES (2, 'gomha-saved-row-two');`); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(db1.RemoteWorkdir, "saved_master_binlog_from_"+db1.IP+"_3306_test.binlog")
		r, err := c1.Run(ctx, []string{remoteNode, "save_binary_logs", "--command=save", "--start_file=" + file, "--start_pos=" + pos,
			"--binlog_dir=/nonexistent," + db1.DataDir, "--output_file=" + out, "--handle_raw_binlog=1", "--manager_version=0.58", "--json"})
		if err != nil {
			t.Fatalf("remote save_binary_logs: %v\n%s%s", err, r.Stdout, r.Stderr)
		}
		var res struct {
			ExitCode int      `json:"exit_code"`
			Files    []string `json:"files"`
			Events   int      `json:"events"`
			Start    string   `json:"start"`
		}
		if err := json.Unmarshal(r.Stdout, &res); err != nil {
			t.Fatalf("JSON result %q: %v", r.Stdout, err)
		}
		if res.ExitCode != 0 || len(res.Files) < 2 || res.Events == 0 || res.Start != file+":"+pos {
			t.Fatalf("result %s", r.Stdout)
		}
		// The hosts share the file system: read the saved file directly.
		cmd := exec.CommandContext(ctx, "mariadb-binlog", "--verbose", out)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		text, err := cmd.Output()
		if err != nil || strings.Contains(stderr.String(), "ERROR") {
			t.Fatalf("mariadb-binlog %s: %v\n%s", out, err, stderr.String())
		}
		for _, want := range []string{"gomha-saved-row-one", "gomha-saved-row-two", "CREATE TABLE nodet.t"} {
			if !strings.Contains(string(text), want) {
				t.Errorf("saved binlog lacks %q", want)
			}
		}

		// Nothing after the end: exit 10, as MHA.
		st, err = db1.Row(ctx, "SHOW MASTER STATUS")
		if err != nil {
			t.Fatal(err)
		}
		r, err = c1.Run(ctx, []string{remoteNode, "save_binary_logs", "--command=save", "--start_file=" + st["File"], "--start_pos=" + st["Position"],
			"--binlog_dir=" + db1.DataDir, "--output_file=" + out})
		if r.ExitCode != 10 || !strings.Contains(string(r.Stdout), "Event not exists.") {
			t.Fatalf("save at the end: exit %d (%v), stdout %q", r.ExitCode, err, r.Stdout)
		}
	})

	t.Run("purge db2's relay logs; replication keeps running", func(t *testing.T) {
		c2 := dialLab(t, ctx, l, db2)
		node2, err := nodeinstall.Ensure(ctx, c2, bins.mhaNode, db2.RemoteWorkdir)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := db2.SQL(ctx, "FLUSH RELAY LOGS"); err != nil {
				t.Fatal(err)
			}
		}
		var stdout, stderr bytes.Buffer
		err = c2.Stream(ctx, []string{node2, "purge_relay_logs", "--user=" + l.AdminUser, "--password_stdin", "--host=" + db2.IP,
			"--port=" + strconv.Itoa(db2.Port), "--workdir=" + db2.RemoteWorkdir, "--json"},
			strings.NewReader(l.AdminPassword+"\n"), &stdout, &stderr)
		if err != nil {
			t.Fatalf("remote purge_relay_logs: %v\n%s%s", err, stdout.String(), stderr.String())
		}
		var res struct {
			Skipped       bool
			Before, After []string
		}
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			t.Fatalf("JSON result %q: %v", stdout.String(), err)
		}
		if res.Skipped || len(res.After) >= len(res.Before) {
			t.Fatalf("relay logs not purged: %s", stdout.String())
		}
		if v, err := db2.SQL(ctx, "SELECT @@global.relay_log_purge"); err != nil || v != "0" {
			t.Fatalf("relay_log_purge = %q (%v), want 0", v, err)
		}
		if _, err := db1.SQL(ctx, "INSERT INTO nodet.t VALUES (3, 'after-purge')"); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			v, _ := db2.SQL(ctx, "SELECT v FROM nodet.t WHERE id=3")
			if v == "after-purge" {
				break
			}
			if time.Now().After(deadline) {
				ss, _ := db2.Row(ctx, "SHOW SLAVE STATUS")
				t.Fatalf("row did not replicate after purge; slave status %v", ss)
			}
			time.Sleep(200 * time.Millisecond)
		}
		ss, err := db2.Row(ctx, "SHOW SLAVE STATUS")
		if err != nil || ss["Slave_IO_Running"] != "Yes" || ss["Slave_SQL_Running"] != "Yes" {
			t.Fatalf("replication after purge: %v %v", ss, err)
		}
	})
}
