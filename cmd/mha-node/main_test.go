package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func runArgs(argv0 string, args ...string) (int, string, string) {
	var out, errOut strings.Builder
	code := run(newRoot(), argv0, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestSaveBinaryLogs(t *testing.T) {
	dir := filepath.Join("..", "..", "node", "binlog", "testdata", "none")
	outFile := filepath.Join(t.TempDir(), "sub", "saved.binlog")
	tests := []struct {
		name   string
		argv0  string
		args   []string
		code   int
		stdout string
	}{
		{"version", "/usr/bin/save_binary_logs", []string{"--version"}, 0, "save_binary_logs version 0.58.\n"},
		{"unknown option", "/usr/bin/save_binary_logs", []string{"--command=save", "--bogus=1"}, 1, ""},
		{"test", "save_binary_logs", []string{"--command=test", "--start_file=mariadb-bin.000001", "--binlog_dir=" + dir, "--output_file=" + outFile}, 0,
			"Binlog found at " + dir + ", up to mariadb-bin.000005\n"},
		{"save", "save_binary_logs", []string{"--command=save", "--start_file=mariadb-bin.000003", "--start_pos=352", "--binlog_dir=/nonexistent," + dir, "--output_file=" + outFile, "--handle_raw_binlog=1", "--debug"}, 0, "Concat succeeded.\n"},
		{"nothing to save", "mha-node", []string{"save-binary-logs", "--command=save", "--start_file=mariadb-bin.000005", "--start_pos=1310", "--binlog_dir=" + dir, "--output_file=" + outFile}, 10, "Event not exists.\n"},
		{"missing file", "mha-node", []string{"save-binary-logs", "--command=save", "--start_file=mariadb-bin.000009", "--binlog_dir=" + dir, "--output_file=" + outFile}, 1, ""},
		{"prefix option", "save_binary_logs", []string{"--comm=save", "--start_f=mariadb-bin.000003", "--start_p=352", "--binlog_d=" + dir, "--output=" + outFile}, 0, "Concat succeeded.\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runArgs(tc.argv0, tc.args...)
			if code != tc.code || out != tc.stdout {
				t.Fatalf("exit %d, stdout %q, want %d, %q\nstderr: %s", code, out, tc.code, tc.stdout, errOut)
			}
		})
	}
}

func TestSaveJSON(t *testing.T) {
	dir := filepath.Join("..", "..", "node", "binlog", "testdata", "none")
	outFile := filepath.Join(t.TempDir(), "saved.binlog")
	code, out, errOut := runArgs("mha-node", "save-binary-logs", "--command=save", "--start_file=mariadb-bin.000001", "--start_pos=649",
		"--binlog_dir="+dir, "--output_file="+outFile, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res saveResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("not one JSON line: %q: %v", out, err)
	}
	if res.Start != "mariadb-bin.000001:649" || res.End != "mariadb-bin.000005:1310" || len(res.Files) != 5 || res.Events == 0 {
		t.Fatalf("result %+v", res)
	}
}

func TestPurgeStrict(t *testing.T) {
	code, _, errOut := runArgs("purge_relay_logs", "--no_such_option")
	if code != 1 || !strings.Contains(errOut, "Usage:") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	code, out, _ := runArgs("purge_relay_logs", "--version")
	if code != 0 || out != "purge_relay_logs version 0.58.\n" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
}
