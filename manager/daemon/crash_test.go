package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/gomha/gomha/manager/journal"
	"github.com/gomha/gomha/manager/statefile"
)

// TestCrashGuard runs the start-up guard on the files a killed manager
// leaves: the journal, the health file, the error flag.
func TestCrashGuard(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	deadPid := func(t *testing.T) int {
		// A pid that is surely not running: far above pid_max defaults.
		return 1<<22 + 12345
	}
	unfinished := func(t *testing.T, dir string, steps ...string) {
		j, err := journal.Create(dir, "app1", map[string]string{"dead_master": "db1(10.0.0.1:3306)", "ssh_reachable": "1"})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range steps {
			must(t, j.Intent(s, "db2(10.0.0.2:3306)", nil))
			must(t, j.Done(s, "db2(10.0.0.2:3306)", nil))
		}
		must(t, j.Close())
	}
	staleHealth := func(t *testing.T, dir string) string {
		p := statefile.HealthPath(dir, "app1")
		content := fmt.Sprintf("%d\t50:FAILOVER_RUNNING\tmaster:db1", deadPid(t))
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return content
	}
	exitCode := func(err error) int {
		var ee *ExitError
		if errors.As(err, &ee) {
			return ee.Code
		}
		return -1
	}

	t.Run("clean workdir", func(t *testing.T) {
		p, err := crashGuard(t.TempDir(), "app1", false, log, io.Discard)
		if p != nil || err != nil {
			t.Fatalf("%v %v", p, err)
		}
	})
	t.Run("unfinished, no --resume", func(t *testing.T) {
		dir := t.TempDir()
		unfinished(t, dir, "stop IO thread")
		health := staleHealth(t, dir)
		var out bytes.Buffer
		p, err := crashGuard(dir, "app1", false, log, &out)
		if p != nil || exitCode(err) != 1 || !errors.Is(err, journal.ErrUnfinished) {
			t.Fatalf("plan %v err %v", p, err)
		}
		for _, w := range []string{"previous manager (pid", "50:FAILOVER_RUNNING", `last step done: "stop IO thread"`, "With --resume: only repeatable steps"} {
			if !strings.Contains(out.String(), w) {
				t.Errorf("output lacks %q:\n%s", w, out.String())
			}
		}
		if _, err := os.Stat(statefile.ErrorPath(dir, "app1")); err != nil {
			t.Errorf("no error flag: %v", err)
		}
		if b, _ := os.ReadFile(statefile.HealthPath(dir, "app1")); string(b) != health {
			t.Errorf("health file changed to %q", b)
		}
	})
	t.Run("unfinished, --resume, rerun", func(t *testing.T) {
		dir := t.TempDir()
		unfinished(t, dir, "stop IO thread")
		p, err := crashGuard(dir, "app1", true, log, io.Discard)
		if err != nil || p == nil || p.Action != resumeRerun || p.SSHReachable != 1 {
			t.Fatalf("plan %+v err %v", p, err)
		}
		clearForResume(dir, "app1", log)
		if _, err := os.Stat(statefile.ErrorPath(dir, "app1")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("error flag left after clearForResume: %v", err)
		}
	})
	t.Run("unfinished, --resume refused", func(t *testing.T) {
		dir := t.TempDir()
		unfinished(t, dir, "stop IO thread", "apply missing events")
		var out bytes.Buffer
		p, err := crashGuard(dir, "app1", true, log, &out)
		if p != nil || exitCode(err) != 1 {
			t.Fatalf("plan %v err %v", p, err)
		}
		if !strings.Contains(err.Error(), "Cannot resume it") || !strings.Contains(err.Error(), `"apply missing events"`) {
			t.Errorf("err %v", err)
		}
	})
	t.Run("a failover in progress is not a crash", func(t *testing.T) {
		dir := t.TempDir()
		unfinished(t, dir, "stop IO thread")
		content := fmt.Sprintf("%d\t50:FAILOVER_RUNNING\tmaster:db1", os.Getpid())
		if err := os.WriteFile(statefile.HealthPath(dir, "app1"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := crashGuard(dir, "app1", true, log, io.Discard)
		if exitCode(err) != 1 || !strings.Contains(err.Error(), "A failover is running") {
			t.Fatalf("err %v", err)
		}
		if _, err := os.Stat(statefile.ErrorPath(dir, "app1")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("error flag created during a live failover: %v", err)
		}
	})
	t.Run("stale FAILOVER_RUNNING without a journal", func(t *testing.T) {
		dir := t.TempDir()
		staleHealth(t, dir)
		_, err := crashGuard(dir, "app1", true, log, io.Discard)
		if exitCode(err) != 1 || !strings.Contains(err.Error(), "no failover journal") {
			t.Fatalf("err %v", err)
		}
		if _, err := os.Stat(statefile.ErrorPath(dir, "app1")); err != nil {
			t.Errorf("no error flag: %v", err)
		}
	})
	t.Run("stale FAILOVER_RUNNING, journal ended", func(t *testing.T) {
		dir := t.TempDir()
		j, err := journal.Create(dir, "app1", nil)
		if err != nil {
			t.Fatal(err)
		}
		must(t, j.End("0"))
		staleHealth(t, dir)
		var out bytes.Buffer
		if p, err := crashGuard(dir, "app1", false, log, &out); p != nil || err != nil {
			t.Fatalf("%v %v", p, err)
		}
		if !strings.Contains(out.String(), "ended with outcome 0") {
			t.Errorf("output %q", out.String())
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
