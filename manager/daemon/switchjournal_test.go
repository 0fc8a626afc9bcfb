package daemon

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gomha/gomha/manager/journal"
)

// switchJournal writes a switch journal in dir: begun by pid, then the
// steps (each done unless its name ends with "!"), ended when end is set.
func switchJournal(t *testing.T, dir string, pid int, end bool, steps ...string) {
	t.Helper()
	j, err := journal.CreateOf(journal.OpSwitch, dir, "app1", map[string]string{"pid": strconv.Itoa(pid), "new_master": "db2"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		name, half := strings.CutSuffix(s, "!")
		must(t, j.Intent(name, "db1(10.0.0.1:3306)", nil))
		if !half {
			must(t, j.Done(name, "db1(10.0.0.1:3306)", nil))
		}
	}
	if end {
		must(t, j.End("0"))
		return
	}
	must(t, j.Close())
}

// deadPID is a pid no process has: a child that already exited and was
// reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Skipf("no /bin/true: %v", err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	return p.Pid
}

// An unfinished switch journal is warned about with its last step done;
// an ended one, none at all or a failover journal are not; a switch still
// running is said to run; a damaged journal is warned about too.
func TestUnfinishedSwitch(t *testing.T) {
	dead := deadPID(t)
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  []string // "" alone: no warning
	}{
		{"none", func(*testing.T, string) {}, nil},
		{"ended", func(t *testing.T, dir string) { switchJournal(t, dir, dead, true, "set read_only=1") }, nil},
		{"failover journal only", func(t *testing.T, dir string) {
			j, err := journal.Create(dir, "app1", nil)
			if err != nil {
				t.Fatal(err)
			}
			must(t, j.Close())
		}, nil},
		{"killed after read_only", func(t *testing.T, dir string) {
			switchJournal(t, dir, dead, false, "set read_only=1", "flush tables with read lock", "read old master position!")
		}, []string{"An earlier master switch did not finish", `the last step done was "flush tables with read lock" on db1(10.0.0.1:3306)`,
			`NOT confirmed done: "read old master position"`, "(new master db2)", "read_only=1", "app1.switch.journal away"}},
		{"killed before any step", func(t *testing.T, dir string) { switchJournal(t, dir, dead, false) },
			[]string{"did not finish", "no irreversible step was started"}},
		{"killed in the first step", func(t *testing.T, dir string) { switchJournal(t, dir, dead, false, "set read_only=1!") },
			[]string{"did not finish", `NOT confirmed done: "set read_only=1"`, "no step was done"}},
		{"killed after a step", func(t *testing.T, dir string) { switchJournal(t, dir, dead, false, "set read_only=1") },
			[]string{"did not finish", `last step done: "set read_only=1" on db1(10.0.0.1:3306)`}},
		{"running", func(t *testing.T, dir string) { switchJournal(t, dir, os.Getppid(), false, "set read_only=1") },
			[]string{fmt.Sprintf("A master switch is running (pid %d)", os.Getppid())}},
		{"damaged", func(t *testing.T, dir string) {
			must(t, os.WriteFile(journal.PathOf(journal.OpSwitch, dir, "app1"), []byte(`{"kind":"intent"}`+"\n"), 0o600))
		}, []string{"cannot read the journal of an earlier master switch"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			got := UnfinishedSwitch(dir, "app1")
			if len(tt.want) == 0 && got != "" {
				t.Fatalf("warning %q; want none", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("warning %q lacks %q", got, w)
				}
			}
			var log, echo bytes.Buffer
			WarnUnfinishedSwitch(dir, "app1", slog.New(slog.NewTextHandler(&log, nil)), &echo)
			if (echo.String() == "") != (got == "") || (got != "" && (!strings.Contains(log.String(), "level=WARN") || echo.String() != got+"\n")) {
				t.Errorf("warnUnfinishedSwitch: log %q echo %q", log.String(), echo.String())
			}
		})
	}
}

// The journal's end records the switch's exit code.
func TestEndSwitchJournal(t *testing.T) {
	for _, tt := range []struct {
		outcome int
		want    string
	}{
		{0, "0"},
		{10, "10"},
		{1, "1"},
	} {
		dir := t.TempDir()
		j, err := journal.CreateOf(journal.OpSwitch, dir, "app1", nil)
		if err != nil {
			t.Fatal(err)
		}
		EndSwitchJournal(j, tt.outcome, slog.New(slog.DiscardHandler))
		st, err := journal.ReadOf(journal.OpSwitch, dir, "app1")
		if err != nil || st.Unfinished() || st.Outcome != tt.want {
			t.Errorf("outcome of %v: %+v, %v; want ended with %q", tt.outcome, st, err, tt.want)
		}
	}
}
