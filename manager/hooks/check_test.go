package hooks

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gomha/gomha/manager/config"
)

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "failover")
	notExec := filepath.Join(dir, "report")
	for path, mode := range map[string]os.FileMode{good: 0o755, notExec: 0o644} {
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	def := config.Params{
		MasterIPFailoverScript: good + " --vip='10.0.0.9/24'",
		ReportScript:           notExec,
		ShutdownScript:         "power_manager | logger",
		SecondaryCheckScript:   "sh -c 'exit 0'", // found in PATH
	}
	srv2 := def
	srv2.MasterIPOnlineChangeScript = filepath.Join(dir, "missing") + " --x"
	srv3 := srv2
	srv3.ReportScript = "gomha-no-such-report-script"
	cfg := &config.Config{
		File:    "/etc/mha/app1.cnf",
		Default: def,
		Servers: []config.Server{
			{Block: "server1", Line: 4, Params: def},
			{Block: "server2", Line: 9, Params: srv2},
			{Block: "server3", Line: 15, Params: srv3},
		},
	}
	errs := CheckConfig(cfg)
	var msgs []string
	for _, err := range errs {
		msgs = append(msgs, err.Error())
	}
	t.Logf("errors:\n%s", strings.Join(msgs, "\n"))
	want := []struct {
		sentinel error
		parts    []string
	}{
		{ErrNeedsShell, []string{"/etc/mha/app1.cnf: [server default] shutdown_script:", `"power_manager | logger"`, "| (pipe)", "script"}},
		{ErrProgram, []string{"/etc/mha/app1.cnf:9: [server2] master_ip_online_change_script:", filepath.Join(dir, "missing"), "no such file"}},
	}
	if len(errs) != len(want) {
		t.Fatalf("%d errors, want %d (one per distinct parameter and value)", len(errs), len(want))
	}
	for i, w := range want {
		if !errors.Is(errs[i], w.sentinel) {
			t.Errorf("error %d %q is not %v", i, errs[i], w.sentinel)
		}
		for _, p := range w.parts {
			if !strings.Contains(msgs[i], p) {
				t.Errorf("error %d %q lacks %q", i, msgs[i], p)
			}
		}
		var ce *ConfigError
		if !errors.As(errs[i], &ce) || ce.Value == "" {
			t.Errorf("error %d is not a *ConfigError with its value", i)
		}
	}
	// A report_script that cannot run does not block the start (MHA logs
	// an error when it sends the report); it is returned for a warning.
	var missing []string
	for _, err := range MissingReportScript(cfg) {
		missing = append(missing, err.Error())
	}
	wantMissing := []string{
		"/etc/mha/app1.cnf: [server default] report_script: hook program not runnable: program \"" + notExec + "\" of \"" + notExec + "\": permission denied",
		"/etc/mha/app1.cnf:15: [server3] report_script: hook program not runnable: program \"gomha-no-such-report-script\" of \"gomha-no-such-report-script\": not found in PATH",
	}
	if diff := cmp.Diff(wantMissing, missing); diff != "" {
		t.Errorf("MissingReportScript (-want +got):\n%s", diff)
	}
	if errs := CheckConfig(&config.Config{File: "x", Default: config.Params{ReportScript: good}}); errs != nil {
		t.Errorf("a runnable configuration gave %v", errs)
	}
}
