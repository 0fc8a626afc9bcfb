package failover

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/gomha/gomha/node/binlog"
)

// events lists the types of a binlog file's events, checksums verified.
func events(t *testing.T, file string) []binlog.EventType {
	t.Helper()
	r, err := binlog.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []binlog.EventType
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		out = append(out, ev.Type)
	}
}

func TestCombine(t *testing.T) {
	td := "../../node/binlog/testdata"
	a := filepath.Join(td, "crc32", "mariadb-bin.000001")
	b := filepath.Join(td, "crc32", "mariadb-bin.000002")
	n := filepath.Join(td, "none", "mariadb-bin.000001")
	for _, tc := range []struct {
		name      string
		files     []string
		droppedFD int // leading format descriptions left out
	}{
		{"same checksum: the second header is dropped", []string{a, b}, 1},
		{"checksum changes: the second header is kept", []string{a, n}, 0},
		{"three files", []string{a, b, b}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "combined.binlog")
			if err := combine(dst, tc.files...); err != nil {
				t.Fatal(err)
			}
			got := events(t, dst)
			want := 0
			for _, f := range tc.files {
				want += len(events(t, f))
			}
			want -= tc.droppedFD
			if len(got) != want {
				t.Fatalf("combined file has %d events; want %d", len(got), want)
			}
			if got[0] != binlog.FormatDescriptionEvent {
				t.Errorf("first event %s; want a format description", got[0])
			}
		})
	}
	if err := combine(filepath.Join(t.TempDir(), "x"), filepath.Join(td, "nonexistent")); err == nil {
		t.Error("combine of a missing file succeeded")
	}
}
