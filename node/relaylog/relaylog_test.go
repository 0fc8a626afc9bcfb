package relaylog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomha/gomha/node/binlog"
)

func relayFiles(t *testing.T, dir string, from, to int) []string {
	t.Helper()
	var files []string
	for i := from; i <= to; i++ {
		files = append(files, filepath.Join("..", "binlog", "testdata", dir, fmt.Sprintf("relay-bin.%06d", i)))
	}
	return files
}

func TestFindOffset(t *testing.T) {
	tests := []struct {
		name     string
		dir      string
		from, to int
		target   binlog.Pos
		file     string // base name; "" means ErrNotFound
		offset   uint64
	}{
		{"start of source binlog", "relay-src1", 1, 13, binlog.Pos{File: "mariadb-bin.000001", Offset: 4}, "relay-bin.000002", 305},
		{"after an Xid", "relay-src1", 1, 13, binlog.Pos{File: "mariadb-bin.000001", Offset: 1400}, "relay-bin.000002", 1623},
		{"end of a relay file", "relay-src1", 1, 13, binlog.Pos{File: "mariadb-bin.000001", Offset: 3385}, "relay-bin.000002", 3422},
		{"after reconnect", "relay-src1", 1, 13, binlog.Pos{File: "mariadb-bin.000001", Offset: 3423}, "relay-bin.000004", 595},
		{"source rotate ends the binlog", "relay-src1", 1, 13, binlog.Pos{File: "mariadb-bin.000002", Offset: 397}, "relay-bin.000007", 301},
		{"relay file without a source rotate", "relay-src1", 1, 13, binlog.Pos{File: "mariadb-bin.000003", Offset: 390}, "relay-bin.000009", 546},
		{"first file starts mid-binlog", "relay-src1", 9, 13, binlog.Pos{File: "mariadb-bin.000003", Offset: 390}, "relay-bin.000009", 546},
		{"last event", "relay-src1", 1, 13, binlog.Pos{File: "mariadb-bin.000005", Offset: 1291}, "relay-bin.000013", 1324},
		{"CRC32 source", "relay-src2", 1, 13, binlog.Pos{File: "mariadb-bin.000001", Offset: 1468}, "relay-bin.000002", 1683},
		{"not an event boundary", "relay-src1", 1, 13, binlog.Pos{File: "mariadb-bin.000001", Offset: 1401}, "", 0},
		{"purged", "relay-src1", 9, 13, binlog.Pos{File: "mariadb-bin.000001", Offset: 1400}, "", 0},
		{"future file", "relay-src1", 1, 13, binlog.Pos{File: "mariadb-bin.000009", Offset: 4}, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			loc, err := FindOffset(relayFiles(t, tc.dir, tc.from, tc.to), tc.target)
			if tc.file == "" {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("FindOffset(%s) = %+v, %v; want ErrNotFound", tc.target, loc, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("FindOffset(%s): %v", tc.target, err)
			}
			if filepath.Base(loc.File) != tc.file || loc.Offset != tc.offset || loc.Source != tc.target {
				t.Errorf("FindOffset(%s) = %s:%d (%s); want %s:%d", tc.target, filepath.Base(loc.File), loc.Offset, loc.Source, tc.file, tc.offset)
			}
		})
	}
}

func TestFindGTIDOffset(t *testing.T) {
	tests := []struct {
		name     string
		from, to int
		gtid     binlog.MariaGTID
		file     string
		offset   uint64
	}{
		{"next group in same file", 1, 13, binlog.MariaGTID{Domain: 0, ServerID: 101, Seq: 5}, "relay-bin.000002", 1453},
		{"next group in a later file", 1, 13, binlog.MariaGTID{Domain: 0, ServerID: 101, Seq: 17}, "relay-bin.000009", 508},
		{"other domain", 1, 13, binlog.MariaGTID{Domain: 2, ServerID: 101, Seq: 0}, "relay-bin.000004", 1112},
		{"nothing after", 1, 13, binlog.MariaGTID{Domain: 0, ServerID: 101, Seq: 22}, "", 0},
		{"purged", 9, 13, binlog.MariaGTID{Domain: 0, ServerID: 101, Seq: 5}, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			loc, err := FindGTIDOffset(relayFiles(t, "relay-src1", tc.from, tc.to), tc.gtid)
			if tc.file == "" {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("FindGTIDOffset(%s) = %+v, %v; want ErrNotFound", tc.gtid, loc, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("FindGTIDOffset(%s): %v", tc.gtid, err)
			}
			if filepath.Base(loc.File) != tc.file || loc.Offset != tc.offset {
				t.Errorf("FindGTIDOffset(%s) = %s:%d; want %s:%d", tc.gtid, filepath.Base(loc.File), loc.Offset, tc.file, tc.offset)
			}
		})
	}
}

func TestReadIndex(t *testing.T) {
	dir := t.TempDir()
	idx := filepath.Join(dir, "relay-bin.index")
	if err := os.WriteFile(idx, []byte("./relay-bin.000001\n/abs/relay-bin.000002\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := DirFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "relay-bin.000001"), "/abs/relay-bin.000002"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("DirFiles = %v; want %v", got, want)
	}
	if _, err := DirFiles(t.TempDir()); !errors.Is(err, ErrNoFiles) {
		t.Errorf("DirFiles(empty dir) err = %v; want ErrNoFiles", err)
	}
}
