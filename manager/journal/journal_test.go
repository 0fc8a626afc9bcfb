package journal

import (
	"os"
	"strings"
	"sync"
	"testing"
)

func TestJournalLifecycle(t *testing.T) {
	dir := t.TempDir()
	if s, err := Read(dir, "app1"); s != nil || err != nil {
		t.Fatalf("Read of a missing journal = %v, %v; want nil, nil", s, err)
	}
	j, err := Create(dir, "app1", map[string]string{"dead_master": "db1(10.0.0.1:3306)"})
	if err != nil {
		t.Fatal(err)
	}
	must(t, j.Intent("master_ip_failover_script stop", "manager", nil))
	must(t, j.Done("master_ip_failover_script stop", "manager", nil))
	must(t, j.Intent("apply missing events", "db2", map[string]string{"file": "x.binlog"}))

	s, err := Read(dir, "app1")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Unfinished() {
		t.Fatal("journal without end should be unfinished")
	}
	r, done, ok := s.LastIntent()
	if !ok || done || r.Step != "apply missing events" || r.Host != "db2" || r.Detail["file"] != "x.binlog" {
		t.Fatalf("LastIntent = %+v done=%v ok=%v", r, done, ok)
	}
	sum := s.Summary()
	for _, want := range []string{"dead master db1(10.0.0.1:3306)", `NOT confirmed done: "apply missing events" on db2`, "possibly half done"} {
		if !strings.Contains(sum, want) {
			t.Errorf("Summary %q lacks %q", sum, want)
		}
	}
	must(t, j.Done("apply missing events", "db2", nil))
	must(t, j.End("0"))
	s, err = Read(dir, "app1")
	if err != nil {
		t.Fatal(err)
	}
	if s.Unfinished() || s.Outcome != "0" || len(s.Pending()) != 0 {
		t.Fatalf("ended journal: unfinished=%v outcome=%q pending=%v", s.Unfinished(), s.Outcome, s.Pending())
	}
	if err := j.Intent("x", "y", nil); err == nil {
		t.Fatal("write after End should fail")
	}

	// A new failover keeps the previous journal as .prev.
	j2, err := Create(dir, "app1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	if _, err := os.Stat(Path(dir, "app1") + ".prev"); err != nil {
		t.Fatalf("previous journal not kept: %v", err)
	}
}

func TestTornLastLineIgnored(t *testing.T) {
	dir := t.TempDir()
	p := Path(dir, "app")
	body := `{"at":"2026-12-03T08:00:00Z","kind":"begin"}
{"at":"2026-12-03T08:00:01Z","kind":"intent","step":"fence","host":"db1"}
{"at":"2026-12-03T08:00:02Z","kind":"do`
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Read(dir, "app")
	if err != nil {
		t.Fatal(err)
	}
	if r, done, ok := s.LastIntent(); !ok || done || r.Step != "fence" {
		t.Fatalf("LastIntent = %+v %v %v", r, done, ok)
	}
}

func TestDamagedJournalRefused(t *testing.T) {
	for name, body := range map[string]string{
		"garbage in the middle": "{\"kind\":\"begin\"}\nnot json\n{\"kind\":\"end\"}\n",
		"no begin":              "{\"kind\":\"intent\",\"step\":\"x\"}\n",
		"empty":                 "\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(Path(dir, "app"), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Read(dir, "app"); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

func TestConcurrentWrites(t *testing.T) {
	dir := t.TempDir()
	j, err := Create(dir, "app", nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			host := string(rune('a' + i))
			if err := j.Intent("change master", host, nil); err != nil {
				t.Error(err)
			}
			if err := j.Done("change master", host, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	must(t, j.End("0"))
	s, err := Read(dir, "app")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Records) != 17 || len(s.Pending()) != 0 {
		t.Fatalf("records %d pending %d", len(s.Records), len(s.Pending()))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpenAppends: a resumed failover appends to the journal it finishes,
// and the end it writes makes the journal finished.
func TestOpenAppends(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir, "app1"); err == nil {
		t.Fatal("Open of a missing journal succeeded")
	}
	j, err := Create(dir, "app1", map[string]string{"dead_master": "db1(10.0.0.1:3306)"})
	if err != nil {
		t.Fatal(err)
	}
	must(t, j.Intent("set read_only=0", "db2", nil))
	must(t, j.Done("set read_only=0", "db2", nil))
	must(t, j.Close())

	j, err = Open(dir, "app1")
	if err != nil {
		t.Fatal(err)
	}
	must(t, j.Intent("change master", "db3", nil))
	must(t, j.Done("change master", "db3", nil))
	must(t, j.End("0"))
	s, err := Read(dir, "app1")
	if err != nil {
		t.Fatal(err)
	}
	if s.Unfinished() || s.Outcome != "0" || len(s.Records) != 5 || s.Begin.Detail["dead_master"] != "db1(10.0.0.1:3306)" {
		t.Fatalf("after Open and End: %+v", s)
	}
}

// A switch journal is its own file beside the failover journal: written,
// read and summed up as a switch, never seen by Read (the failover's).
func TestSwitchJournal(t *testing.T) {
	dir := t.TempDir()
	if got, want := PathOf(OpSwitch, dir, "app1"), dir+"/app1.switch.journal"; got != want {
		t.Fatalf("PathOf(OpSwitch) = %q, want %q", got, want)
	}
	if got, want := PathOf(OpFailover, dir, "app1"), Path(dir, "app1"); got != want {
		t.Fatalf("PathOf(OpFailover) = %q, Path = %q", got, want)
	}
	fj, err := Create(dir, "app1", map[string]string{"dead_master": "db9(10.0.0.9:3306)"})
	if err != nil {
		t.Fatal(err)
	}
	must(t, fj.End("0"))
	j, err := CreateOf(OpSwitch, dir, "app1", map[string]string{"new_master": "db2"})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	must(t, j.Intent("set read_only on old master", "db1(10.0.0.1:3306)", nil))
	must(t, j.Done("set read_only on old master", "db1(10.0.0.1:3306)", nil))
	must(t, j.Intent("promote new master", "db2(10.0.0.2:3306)", nil))

	s, err := ReadOf(OpSwitch, dir, "app1")
	if err != nil {
		t.Fatal(err)
	}
	if s.Op != OpSwitch || !s.Unfinished() {
		t.Fatalf("switch journal: op %q unfinished %t", s.Op, s.Unfinished())
	}
	r, ok := s.LastDone()
	if !ok || r.Step != "set read_only on old master" || r.Host != "db1(10.0.0.1:3306)" {
		t.Errorf("LastDone = %+v, %t", r, ok)
	}
	sum := s.Summary()
	for _, want := range []string{"switch journal " + PathOf(OpSwitch, dir, "app1"), "(new master db2)", `NOT confirmed done: "promote new master"`} {
		if !strings.Contains(sum, want) {
			t.Errorf("Summary %q lacks %q", sum, want)
		}
	}
	f, err := Read(dir, "app1")
	if err != nil || f.Unfinished() || f.Op != OpFailover || f.Begin.Detail["dead_master"] != "db9(10.0.0.9:3306)" {
		t.Fatalf("the failover journal was touched by the switch's: %+v, %v", f, err)
	}
	if !strings.HasPrefix(f.Summary(), "failover journal ") {
		t.Errorf("failover Summary %q", f.Summary())
	}
	empty := &State{}
	if _, ok := empty.LastDone(); ok {
		t.Error("LastDone of a journal without records is ok")
	}
}
