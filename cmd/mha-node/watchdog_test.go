package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/node/watchdog"
)

func TestWatchdogStatusAndClear(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := runArgs("mha-node", "watchdog", "--status", "--workdir="+dir, "--port=3307")
	if code != 1 || !strings.Contains(errOut, "never ran") {
		t.Fatalf("--status without state: exit %d, stderr %q", code, errOut)
	}
	paths := watchdog.PathsFor(dir, 3307)
	st := &watchdog.State{Phase: "demoted", Why: "isolated", DemotedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := watchdog.WriteState(paths.State, st, true); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runArgs("mha-node", "watchdog", "--status", "--workdir="+dir, "--port=3307")
	if code != 2 || !strings.Contains(errOut, "demoted since 2026-01-02T03:04:05Z: isolated") {
		t.Fatalf("--status demoted: exit %d, stderr %q", code, errOut)
	}
	code, out, _ := runArgs("mha-node", "watchdog", "--status", "--json", "--workdir="+dir, "--port=3307")
	if code != 2 || !strings.Contains(out, `"exit_code":2`) || !strings.Contains(out, `"phase":"demoted"`) {
		t.Fatalf("--status --json: exit %d, %q", code, out)
	}
	code, out, errOut = runArgs("mha-node", "watchdog", "--clear", "--workdir="+dir, "--port=3307")
	if code != 0 || !strings.Contains(out, "watchdog state cleared") {
		t.Fatalf("--clear: exit %d %q %q", code, out, errOut)
	}
	if _, err := os.Stat(paths.State); !os.IsNotExist(err) {
		t.Errorf("state file still there after --clear: %v", err)
	}
	if m, _ := filepath.Glob(paths.State + ".cleared-*"); len(m) != 1 {
		t.Errorf("cleared state not kept aside: %v", m)
	}
}

func TestWatchdogFlags(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--status", "--stop"}, "exclude each other"},
		{[]string{"--lease=0", "--manager_user=u", "--manager_host=h"}, "--lease=SECONDS must be positive"},
		{[]string{"--lease=5"}, "--manager_user is required"},
		{[]string{"--lease=5", "--manager_user=u", "--manager_host=h", "--peer=nohost"}, "--peer=nohost: want ip:port"},
		{[]string{"--lease=5", "--manager_user=u", "--manager_host=h", "--vip=10.0.0.1"}, "want ADDRESS/PREFIX"},
		{[]string{"--lease=5", "--manager_user=u", "--manager_host=h", "--vip=10.0.0.1/24"}, "--vip needs --vip_dev"},
		{[]string{"--lease=5", "--manager_user=u", "--manager_host=h", "--daemon"}, "credentials"},
	}
	for _, tt := range tests {
		code, _, errOut := runArgs("mha-node", append([]string{"watchdog", "--workdir=" + dir}, tt.args...)...)
		if code != 1 || !strings.Contains(errOut, tt.want) {
			t.Errorf("watchdog %v: exit %d, stderr %q; want 1, %q", tt.args, code, errOut, tt.want)
		}
	}
}

func TestWatchdogRunArgs(t *testing.T) {
	f := watchdogFlags{workdir: "/w", port: 3307, defaultsFile: "/w/c.cnf", lease: 2.5, managerUser: "mha",
		managerHosts: []string{"198.18.0.1"}, peers: []string{"198.18.0.12:3306", "198.18.0.13:3306"},
		vip: "198.18.0.100/24", vipDev: "eth0", fresh: true, daemon: true, jsonOut: true}
	want := []string{"watchdog", "--workdir=/w", "--port=3307", "--defaults_file=/w/c.cnf", "--lease=2.5", "--manager_user=mha",
		"--manager_host=198.18.0.1", "--peer=198.18.0.12:3306", "--peer=198.18.0.13:3306", "--vip=198.18.0.100/24", "--vip_dev=eth0", "--fresh"}
	if got := f.runArgs(); !slices.Equal(got, want) {
		t.Errorf("runArgs = %q\nwant %q", got, want)
	}
}
