package savebinlog

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomha/gomha/node/binlog"
)

const testdata = "../binlog/testdata"

// event is what the tests compare of an event: its type, origin and the
// end position its header announces (unique across the source files).
type event struct {
	Type   binlog.EventType
	Server uint32
	LogPos uint32
}

// scan lists the complete events of path from offset from (0: all).
func scan(t *testing.T, path string, from uint64) []event {
	t.Helper()
	r, err := binlog.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []event
	for {
		ev, err := r.Next()
		if err == io.EOF || errors.Is(err, binlog.ErrTruncated) {
			return out
		}
		if err != nil {
			t.Fatalf("scan %s: %v", path, err)
		}
		if ev.Offset >= from || ev.Type == binlog.FormatDescriptionEvent && ev.Offset == 4 {
			out = append(out, event{ev.Type, ev.ServerID, ev.LogPos})
		}
	}
}

// mariadbBinlog checks that mariadb-binlog reads path without error and
// returns its output.
func mariadbBinlog(t *testing.T, path string) string {
	t.Helper()
	bin, err := exec.LookPath("mariadb-binlog")
	if err != nil {
		t.Skip("mariadb-binlog not installed")
	}
	cmd := exec.Command(bin, "--verbose", path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || strings.Contains(stderr.String(), "ERROR") {
		t.Fatalf("mariadb-binlog %s: %v\n%s", path, err, stderr.String())
	}
	return string(out)
}

func TestSave(t *testing.T) {
	tests := []struct {
		name      string
		dir       string
		opts      Options
		files     []string
		from      uint64 // offset in files[0] where copying starts
		truncated bool
	}{
		{name: "none across five files", dir: "none", opts: Options{StartFile: "mariadb-bin.000001", StartPos: 649},
			files: []string{"mariadb-bin.000001", "mariadb-bin.000002", "mariadb-bin.000003", "mariadb-bin.000004", "mariadb-bin.000005"}, from: 649},
		{name: "from header", dir: "none", opts: Options{StartFile: "mariadb-bin.000004", StartPos: 4},
			files: []string{"mariadb-bin.000004", "mariadb-bin.000005"}, from: 0},
		{name: "crc32", dir: "crc32", opts: Options{StartFile: "mariadb-bin.000001", StartPos: 256},
			files: []string{"mariadb-bin.000001", "mariadb-bin.000002"}, from: 256},
		{name: "truncated tail", dir: "truncated", opts: Options{StartFile: "mariadb-bin.000001", StartPos: 4},
			files: []string{"mariadb-bin.000001"}, truncated: true},
		{name: "gtid", dir: "none", opts: Options{Prefix: "mariadb-bin", GTIDPos: "0-101-2"},
			files: []string{"mariadb-bin.000001", "mariadb-bin.000002", "mariadb-bin.000003", "mariadb-bin.000004", "mariadb-bin.000005"}, from: 649},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(testdata, tc.dir)
			tc.opts.Dirs = []string{t.TempDir(), dir}
			out := filepath.Join(t.TempDir(), "saved.binlog")
			if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := SaveFile(context.Background(), tc.opts, out)
			if err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("saved file mode %v (%v), want 0600", fi.Mode(), err)
			}
			if res.Dir != dir || strings.Join(res.Files, ",") != strings.Join(tc.files, ",") {
				t.Errorf("read %s %v, want %s %v", res.Dir, res.Files, dir, tc.files)
			}
			if (len(res.Truncated) > 0) != tc.truncated {
				t.Errorf("Truncated = %v, want %v", res.Truncated, tc.truncated)
			}
			var want []event
			for i, f := range tc.files {
				evs := scan(t, filepath.Join(dir, f), map[bool]uint64{true: tc.from}[i == 0])
				if i > 0 {
					// Later format descriptions, GTID lists and
					// checkpoints are skipped.
					evs = slices.DeleteFunc(evs[1:], func(e event) bool {
						return e.Type == binlog.MariaGTIDListEvent || e.Type == binlog.BinlogCheckpointEvent
					})
				}
				want = append(want, evs...)
			}
			got := scan(t, out, 0)
			if len(got) != len(want) {
				t.Fatalf("output has %d events, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("event %d = %+v, want %+v", i, got[i], want[i])
				}
			}
			if st, _ := os.Stat(out); st.Size() != res.Bytes {
				t.Errorf("Bytes = %d, file has %d", res.Bytes, st.Size())
			}
			if res.Events == 0 {
				t.Error("no data events counted")
			}
			text := mariadbBinlog(t, out)
			if !strings.Contains(text, "COMMIT") && !strings.Contains(text, "Xid") {
				t.Errorf("mariadb-binlog output shows no transaction:\n%s", text)
			}
		})
	}
}

func TestSaveErrors(t *testing.T) {
	none := filepath.Join(testdata, "none")
	st, err := os.Stat(filepath.Join(none, "mariadb-bin.000005"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts Options
		want error
	}{
		{"at the end", Options{Dirs: []string{none}, StartFile: "mariadb-bin.000005", StartPos: uint64(st.Size())}, ErrNoEvents},
		{"only header events left", Options{Dirs: []string{none}, StartFile: "mariadb-bin.000005", StartPos: 1291}, ErrNoEvents},
		{"beyond the end", Options{Dirs: []string{none}, StartFile: "mariadb-bin.000005", StartPos: uint64(st.Size()) + 1}, ErrPosition},
		{"missing file", Options{Dirs: []string{none}, StartFile: "mariadb-bin.000099", StartPos: 4}, ErrNotFound},
		{"bad gtid", Options{Dirs: []string{none}, Prefix: "mariadb-bin", GTIDPos: "0-1"}, ErrBadGTID},
		{"inside an event", Options{Dirs: []string{none}, StartFile: "mariadb-bin.000005", StartPos: 1200}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SaveFile(context.Background(), tc.opts, filepath.Join(t.TempDir(), "out"))
			if err == nil {
				t.Fatal("no error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestLast(t *testing.T) {
	dir, file, err := Last([]string{"/nonexistent", filepath.Join(testdata, "none")}, "mariadb-bin")
	if err != nil || file != "mariadb-bin.000005" || dir != filepath.Join(testdata, "none") {
		t.Fatalf("Last = %s %s %v", dir, file, err)
	}
}
