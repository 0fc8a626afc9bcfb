package statefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStatusStrings(t *testing.T) {
	want := map[int]string{0: "0:PING_OK", 2: "2:NOT_RUNNING", 3: "3:PARTIALLY_RUNNING",
		10: "10:INITIALIZING_MONITOR", 20: "20:PING_FAILING", 21: "21:PING_FAILED",
		30: "30:RETRYING_MONITOR", 31: "31:CONFIG_ERROR", 32: "32:TIMESTAMP_OLD",
		50: "50:FAILOVER_RUNNING", 51: "51:FAILOVER_ERROR"}
	if len(Statuses) != len(want) {
		t.Fatalf("%d statuses, want %d", len(Statuses), len(want))
	}
	for _, st := range Statuses {
		if st.String() != want[st.Code] {
			t.Errorf("code %d: %q, want %q", st.Code, st, want[st.Code])
		}
		got, err := ParseStatus(st.String())
		if err != nil || got != st {
			t.Errorf("ParseStatus(%q) = %v, %v", st, got, err)
		}
	}
	for _, bad := range []string{"", "0:PING_ok", "1:PING_OK", "PING_OK", "0:PING_OK ", "99:FOO"} {
		if _, err := ParseStatus(bad); !errors.Is(err, ErrUnknownStatus) {
			t.Errorf("ParseStatus(%q): %v, want ErrUnknownStatus", bad, err)
		}
	}
}

func TestPaths(t *testing.T) {
	for got, want := range map[string]string{
		HealthPath("/var/tmp", "app1"):   "/var/tmp/app1.master_status.health",
		CompletePath("/var/tmp", "app1"): "/var/tmp/app1.failover.complete",
		ErrorPath("/var/tmp/", "app1"):   "/var/tmp/app1.failover.error",
	} {
		if got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		line    string
		pid     int
		st      Status
		master  string
		wantErr error
	}{
		{line: "13291\t0:PING_OK\tmaster:127.0.0.1", pid: 13291, st: PingOK, master: "127.0.0.1"},
		{line: "7\t10:INITIALIZING_MONITOR", pid: 7, st: InitializingMonitor},
		{line: "7\t50:FAILOVER_RUNNING\tmaster:db1\n", pid: 7, st: FailoverRunning, master: "db1"},
		{line: "7\t99:WHAT\tmaster:db1", pid: 7, master: "db1", wantErr: ErrUnknownStatus},
		{line: "7", pid: 7, wantErr: ErrMalformed},
		{line: "", wantErr: ErrMalformed},
		{line: "abc\t0:PING_OK", wantErr: ErrMalformed},
		{line: "0\t0:PING_OK", wantErr: ErrMalformed},
		{line: "-5\t0:PING_OK", wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.line), func(t *testing.T) {
			pid, st, master, err := parseLine(tt.line)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if pid != tt.pid || st != tt.st || master != tt.master {
				t.Errorf("got %d %v %q, want %d %v %q", pid, st, master, tt.pid, tt.st, tt.master)
			}
		})
	}
}

func TestHealthLifecycle(t *testing.T) {
	dir := t.TempDir()
	h := OpenHealth(dir, "app1")
	if h.Path() != filepath.Join(dir, "app1.master_status.health") {
		t.Fatalf("path %s", h.Path())
	}
	warn, err := h.Init()
	if err != nil || warn != "" {
		t.Fatalf("Init on a clean workdir: %q, %v", warn, err)
	}
	pid := os.Getpid()
	assertFile(t, h.Path(), strconv.Itoa(pid)+"\t10:INITIALIZING_MONITOR")

	if err := h.Set(PingOK, "db1"); err != nil {
		t.Fatal(err)
	}
	assertFile(t, h.Path(), strconv.Itoa(pid)+"\t0:PING_OK\tmaster:db1")
	gotPID, st, master, _, err := ReadHealth(h.Path())
	if err != nil || gotPID != pid || st != PingOK || master != "db1" {
		t.Fatalf("ReadHealth: %d %v %q %v", gotPID, st, master, err)
	}

	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(h.Path(), old, old); err != nil {
		t.Fatal(err)
	}
	if err := h.Touch(); err != nil {
		t.Fatal(err)
	}
	if _, _, _, mtime, _ := ReadHealth(h.Path()); time.Since(mtime) > time.Minute {
		t.Errorf("Touch left mtime at %s", mtime)
	}
	assertFile(t, h.Path(), strconv.Itoa(pid)+"\t0:PING_OK\tmaster:db1")

	// A health file removed behind the manager's back comes back on Touch.
	if err := os.Remove(h.Path()); err != nil {
		t.Fatal(err)
	}
	if err := h.Touch(); err != nil {
		t.Fatal(err)
	}
	assertFile(t, h.Path(), strconv.Itoa(pid)+"\t0:PING_OK\tmaster:db1")

	if err := h.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := h.Remove(); err != nil {
		t.Errorf("second Remove: %v", err)
	}
	if _, _, _, _, err := ReadHealth(h.Path()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadHealth of a removed file: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

func TestHealthInitWarnsAboutStaleFile(t *testing.T) {
	dir := t.TempDir()
	path := HealthPath(dir, "app1")
	if err := os.WriteFile(path, []byte("1\t0:PING_OK\tmaster:db1"), 0o644); err != nil {
		t.Fatal(err)
	}
	warn, err := OpenHealth(dir, "app1").Init()
	if err != nil {
		t.Fatal(err)
	}
	want := path + " already exists. You might have killed manager with SIGKILL(-9), may run two or more " +
		"monitoring process for the same application, or use the same working directory. Check for " +
		"details, and consider setting --workdir separately."
	if warn != want {
		t.Errorf("warning\n%q\nwant\n%q", warn, want)
	}
	assertFile(t, path, strconv.Itoa(os.Getpid())+"\t10:INITIALIZING_MONITOR")
}

// TestHealthReadersNeverSeePartialLines reads while another goroutine
// rewrites the file: every read is one whole line.
func TestHealthReadersNeverSeePartialLines(t *testing.T) {
	h := OpenHealth(t.TempDir(), "app1")
	if err := h.Set(PingOK, "db1"); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		states := []Status{PingFailing, PingOK, FailoverRunning, PingFailed}
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			if err := h.Set(states[i%len(states)], strings.Repeat("h", i%50)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for range 500 {
		if _, _, _, _, err := ReadHealth(h.Path()); err != nil {
			t.Error(err)
			break
		}
	}
	close(done)
	wg.Wait()
}

func TestCheckLastFailover(t *testing.T) {
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.Local)
	tests := []struct {
		name          string
		complete      time.Duration // age of the complete file; 0 = none
		errFile       bool
		ignore        bool
		wantErr       error
		wantMsg       string
		completeAfter bool
		errAfter      bool
	}{
		{name: "no files"},
		{name: "recent complete", complete: 2 * time.Hour, wantErr: ErrTooEarly, completeAfter: true,
			wantMsg: "Last failover was done at 2025/03/04 03:06:07. Current time is too early to do failover again. If you want to do failover, manually remove {complete} and run this script again."},
		{name: "one second inside the window", complete: 480*time.Minute - time.Second, wantErr: ErrTooEarly, completeAfter: true},
		{name: "exactly the window", complete: 480 * time.Minute},
		{name: "old complete is deleted", complete: 9 * time.Hour},
		{name: "error file", errFile: true, wantErr: ErrLastFailoverFailed, errAfter: true,
			wantMsg: "Failover error flag file {error} exists. This means the last failover failed. Check error logs for detail, fix problems, remove {error}, and restart this script."},
		{name: "error file wins over recent complete", errFile: true, complete: time.Minute, wantErr: ErrLastFailoverFailed, errAfter: true, completeAfter: true},
		{name: "ignore deletes both", errFile: true, complete: time.Minute, ignore: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			complete, errFile := CompletePath(dir, "app1"), ErrorPath(dir, "app1")
			if tt.complete != 0 {
				if err := os.WriteFile(complete, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				at := now.Add(-tt.complete)
				if err := os.Chtimes(complete, at, at); err != nil {
					t.Fatal(err)
				}
			}
			if tt.errFile {
				if err := os.WriteFile(errFile, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := CheckLastFailover(dir, "app1", 480, tt.ignore, now)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if tt.wantMsg != "" {
				want := strings.NewReplacer("{complete}", complete, "{error}", errFile).Replace(tt.wantMsg)
				if err.Error() != want {
					t.Errorf("message\n%s\nwant\n%s", err, want)
				}
			}
			if exists(complete) != tt.completeAfter {
				t.Errorf("complete file exists: %v, want %v", exists(complete), tt.completeAfter)
			}
			if exists(errFile) != tt.errAfter {
				t.Errorf("error file exists: %v, want %v", exists(errFile), tt.errAfter)
			}
		})
	}
}

func TestMarkCompleteAndError(t *testing.T) {
	dir := t.TempDir()
	if err := MarkError(dir, "app1"); err != nil {
		t.Fatal(err)
	}
	assertFile(t, ErrorPath(dir, "app1"), "")
	complete := CompletePath(dir, "app1")
	if err := os.WriteFile(complete, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-24 * time.Hour)
	if err := os.Chtimes(complete, old, old); err != nil {
		t.Fatal(err)
	}
	if err := MarkComplete(dir, "app1"); err != nil {
		t.Fatal(err)
	}
	assertFile(t, complete, "")
	if err := CheckLastFailover(dir, "app1", 480, true, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := MarkComplete(dir, "app1"); err != nil {
		t.Fatal(err)
	}
	if err := CheckLastFailover(dir, "app1", 480, false, time.Now()); !errors.Is(err, ErrTooEarly) {
		t.Errorf("right after MarkComplete: %v, want ErrTooEarly", err)
	}
	if err := MarkComplete(filepath.Join(dir, "missing"), "app1"); err == nil {
		t.Error("MarkComplete in a missing directory succeeded")
	}
}

func assertFile(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s holds %q, want %q", path, got, want)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestRefusalRecord(t *testing.T) {
	dir := t.TempDir()
	if r, err := ReadRefusal(dir, "app1"); r != nil || err != nil {
		t.Fatalf("no record: %v, %v", r, err)
	}
	at := time.Date(2026, 12, 3, 8, 10, 1, 0, time.UTC)
	in := Refusal{At: at, Master: "db1", Reason: "Last failover was done at X.\nCurrent time is too early"}
	if err := RecordRefusal(dir, "app1", in); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRefusal(dir, "app1")
	if err != nil {
		t.Fatal(err)
	}
	if !got.At.Equal(at) || got.Master != "db1" || got.Reason != "Last failover was done at X. Current time is too early" {
		t.Errorf("read back %+v", got)
	}
	if want := "last failover refused at " + at.Local().Format("2006/01/02 15:04:05") + ": Last failover"; !strings.HasPrefix(got.String(), want) {
		t.Errorf("String %q, want prefix %q", got.String(), want)
	}
	if err := os.WriteFile(RefusedPath(dir, "app1"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRefusal(dir, "app1"); !errors.Is(err, ErrMalformed) {
		t.Errorf("garbage: %v, want ErrMalformed", err)
	}
	if err := ClearRefusal(dir, "app1"); err != nil {
		t.Fatal(err)
	}
	if err := ClearRefusal(dir, "app1"); err != nil {
		t.Errorf("second clear: %v", err)
	}
	if r, _ := ReadRefusal(dir, "app1"); r != nil {
		t.Errorf("after clear: %+v", r)
	}
}
