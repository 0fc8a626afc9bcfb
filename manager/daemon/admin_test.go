package daemon

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomha/gomha/manager/statefile"
)

// TestReadManagerState reads what check-status reports from the health
// file and the process table.
func TestReadManagerState(t *testing.T) {
	dir := t.TempDir()
	if h, err := ReadManagerState(dir, "app1", 10, time.Now()); err != nil || h.Status != statefile.NotRunning {
		t.Fatalf("no health file: %+v, %v", h, err)
	}
	// This process as the manager.
	hf := statefile.OpenHealth(dir, "app1")
	must(t, hf.Set(statefile.PingOK, "db1"))
	h, err := ReadManagerState(dir, "app1", 10, time.Now())
	if err != nil || h.Status != statefile.PingOK || h.PID != os.Getpid() || h.Master != "db1" {
		t.Errorf("running: %+v, %v", h, err)
	}
	h, err = ReadManagerState(dir, "app1", 10, time.Now().Add(20*time.Second))
	if err != nil || h.Status != statefile.TimestampOld || h.Behind < 19*time.Second || h.Written != statefile.PingOK {
		t.Errorf("not touched for 20 s: %+v, %v", h, err)
	}
	// A manager that died in its failover.
	dead := exec.Command("/bin/true")
	if err := dead.Run(); err != nil {
		t.Skipf("no /bin/true: %v", err)
	}
	line := fmt.Sprintf("%d\t%s\tmaster:db1", dead.Process.Pid, statefile.FailoverRunning)
	must(t, os.WriteFile(statefile.HealthPath(dir, "app1"), []byte(line), 0o600))
	h, err = ReadManagerState(dir, "app1", 10, time.Now())
	if err != nil || h.Status != statefile.NotRunning || h.Written != statefile.FailoverRunning || h.Master != "db1" {
		t.Errorf("dead in a failover: %+v, %v", h, err)
	}
}

// TestStopManager: a stopped manager is fine, one in a failover is left
// alone without --abort, a running one gets SIGTERM to its process group
// and is waited for.
func TestStopManager(t *testing.T) {
	dir := t.TempDir()
	var out, errw bytes.Buffer
	if code := StopManager(&out, &errw, "app1", dir, "app1", ManagerState{Status: statefile.NotRunning}, false, time.Second); code != 0 ||
		!strings.Contains(out.String(), "MHA Manager is not running on app1(2:NOT_RUNNING).") {
		t.Errorf("not running: %d %q", code, out.String())
	}
	out.Reset()
	if code := StopManager(&out, &errw, "app1", dir, "app1", ManagerState{Status: statefile.FailoverRunning, PID: os.Getpid()}, false, time.Second); code != 1 ||
		!strings.Contains(out.String(), "Currently Failover is running on app1. Should not stop.") {
		t.Errorf("failover running: %d %q", code, out.String())
	}

	// A "manager" leading its own process group.
	mgr := exec.Command("sleep", "30")
	mgr.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := mgr.Start(); err != nil {
		t.Skipf("no sleep: %v", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- mgr.Wait() }()
	out.Reset()
	code := StopManager(&out, &errw, "app1", dir, "app1", ManagerState{Status: statefile.PingOK, PID: mgr.Process.Pid}, false, 5*time.Second)
	if code != 0 || !strings.Contains(out.String(), "Stopped app1 successfully.") {
		t.Errorf("stop: %d %q %q", code, out.String(), errw.String())
	}
	select {
	case err := <-waited:
		if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
			t.Errorf("manager ended by %v; want SIGTERM", err)
		}
	case <-time.After(5 * time.Second):
		_ = mgr.Process.Kill()
		t.Fatal("the manager was not stopped")
	}
}
