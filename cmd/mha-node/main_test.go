package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomha/gomha/node/purge"
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

func TestPurgeDefaultsFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "my.cnf")
	if err := os.WriteFile(p, []byte("[client]\nuser=mha\npassword=fromfile\nport=3310\nsocket=/run/m.sock\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		changed []string
		want    purge.Options
	}{
		{"file fills everything", nil, purge.Options{User: "mha", Password: "fromfile", Host: "127.0.0.1", Port: 3310, Socket: "/run/m.sock"}},
		{"flags win", []string{"user", "password_stdin", "port"}, purge.Options{User: "root", Host: "127.0.0.1", Port: 3306}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := purge.Options{User: "root", Host: "127.0.0.1", Port: 3306}
			err := applyDefaultsFile(&o, p, func(n string) bool { return slices.Contains(tt.changed, n) })
			if err != nil {
				t.Fatal(err)
			}
			if o.User != tt.want.User || o.Password != tt.want.Password || o.Host != tt.want.Host || o.Port != tt.want.Port || o.Socket != tt.want.Socket {
				t.Errorf("options = %+v; want %+v", o, tt.want)
			}
		})
	}
	if err := applyDefaultsFile(&purge.Options{}, p+".missing", func(string) bool { return false }); err == nil {
		t.Error("missing file accepted")
	}
}
