package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomha/gomha/node/diff"
)

// relayFixture copies the relay-src1 fixture into a directory with a
// relay-bin.index listing it, as a replica's datadir has.
func relayFixture(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "..", "node", "binlog", "testdata", "relay-src1")
	dir := t.TempDir()
	var index strings.Builder
	for i := 1; i <= 13; i++ {
		name := fmt.Sprintf("relay-bin.%06d", i)
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&index, "./%s\n", name)
	}
	if err := os.WriteFile(filepath.Join(dir, "relay-bin.index"), []byte(index.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestApplyDiffRelayLogs(t *testing.T) {
	dir := relayFixture(t)
	work := t.TempDir()
	out := filepath.Join(work, "sub", "diff.binlog")
	pos := []string{"--latest_mlf=mariadb-bin.000002", "--latest_rmlp=397", "--target_mlf=mariadb-bin.000001", "--target_rmlp=1400"}
	tests := []struct {
		name   string
		argv0  string
		args   []string
		code   int
		stdout string
	}{
		{"version", "/usr/local/bin/apply_diff_relay_logs", []string{"--version"}, 0, "apply_diff_relay_logs version 0.58.\n"},
		{"unknown option", "apply_diff_relay_logs", []string{"--command=find", "--bogus"}, 1, ""},
		{"bad command", "apply_diff_relay_logs", []string{"--command=nope", "--workdir=" + work}, 1, ""},
		{"find", "apply_diff_relay_logs", append([]string{"--command=find", "--relay_dir=" + dir, "--workdir=" + work}, pos...), 0,
			"Target relay log FOUND! relay-bin.000002:1623\n"},
		{"find missing positions", "apply_diff_relay_logs", []string{"--command=find", "--relay_dir=" + dir, "--target_rmlp=0", "--workdir=" + work}, 1, ""},
		{"find not there", "mha-node", []string{"apply-diff-relay-logs", "--command=find", "--relay_dir=" + dir, "--workdir=" + work,
			"--latest_mlf=mariadb-bin.000002", "--latest_rmlp=397", "--target_mlf=mariadb-bin.000001", "--target_rmlp=1401"}, 1, ""},
		{"current relay log unknown", "apply_diff_relay_logs", append([]string{"--command=find", "--relay_dir=" + dir, "--current_relay_log=relay-bin.000099", "--workdir=" + work}, pos...), 1, ""},
		{"up to date", "apply_diff_relay_logs", []string{"--command=generate_and_send", "--relay_dir=" + dir, "--workdir=" + work,
			"--latest_mlf=mariadb-bin.000001", "--latest_rmlp=1400", "--target_mlf=mariadb-bin.000001", "--target_rmlp=1400"}, 0, "Target slave has received all relay logs.\n"},
		{"apply needs files", "apply_diff_relay_logs", []string{"--command=apply", "--workdir=" + work}, 1, ""},
		{"text mode refused", "apply_diff_relay_logs", append([]string{"--command=find", "--relay_dir=" + dir, "--handle_raw_binlog=0", "--workdir=" + work}, pos...), 1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, errOut := runArgs(tc.argv0, tc.args...)
			if code != tc.code || (tc.stdout != "" && stdout != tc.stdout) {
				t.Fatalf("exit %d, stdout %q, want %d, %q\nstderr: %s", code, stdout, tc.code, tc.stdout, errOut)
			}
		})
	}

	t.Run("generate and no_apply", func(t *testing.T) {
		code, stdout, errOut := runArgs("apply_diff_relay_logs", append([]string{"--command=generate_and_send", "--relay_dir=" + dir,
			"--workdir=" + work, "--diff_file_readtolatest=" + out, "--json"}, pos...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s%s", code, stdout, errOut)
		}
		var res applyDiffResult
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("JSON %q: %v", stdout, err)
		}
		if res.Start != "mariadb-bin.000001:1400" || res.Events == 0 || res.DiffFile != out {
			t.Fatalf("result %+v", res)
		}
		sum, err := diff.Inspect(out)
		if err != nil || sum.Events == 0 {
			t.Fatalf("Inspect %s: %+v %v", out, sum, err)
		}
		code, stdout, errOut = runArgs("apply_diff_relay_logs", "--command=apply", "--apply_files="+out, "--no_apply", "--workdir="+work)
		if code != 0 || !strings.Contains(stdout, "nothing applied") {
			t.Fatalf("no_apply: exit %d %q %s", code, stdout, errOut)
		}
	})

	t.Run("password never in output", func(t *testing.T) {
		code, stdout, errOut := runArgs("apply_diff_relay_logs", "--command=test", "--relay_dir="+dir, "--slave_host=127.0.0.1",
			"--slave_port=1", "--slave_pass=s3cr3t-pw", "--workdir="+work)
		if code != 1 || strings.Contains(stdout+errOut, "s3cr3t-pw") {
			t.Fatalf("exit %d, output %q %q", code, stdout, errOut)
		}
	})
}
