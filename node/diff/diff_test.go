package diff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gomha/gomha/node/binlog"
	"github.com/gomha/gomha/node/relaylog"
)

func fixtureFiles(dir string, from, to int) []string {
	var files []string
	for i := from; i <= to; i++ {
		files = append(files, filepath.Join("..", "binlog", "testdata", dir, fmt.Sprintf("relay-bin.%06d", i)))
	}
	return files
}

func TestGenerate(t *testing.T) {
	tests := []struct {
		name   string
		dir    string
		target binlog.Pos
		events int
		end    binlog.Pos
	}{
		{"across relay files and source binlogs", "relay-src1", binlog.Pos{File: "mariadb-bin.000001", Offset: 1400}, -1, binlog.Pos{File: "mariadb-bin.000005", Offset: 1291}},
		{"CRC32 source", "relay-src2", binlog.Pos{File: "mariadb-bin.000001", Offset: 1468}, -1, binlog.Pos{}},
		{"nothing to copy", "relay-src1", binlog.Pos{File: "mariadb-bin.000005", Offset: 1291}, 0, binlog.Pos{File: "mariadb-bin.000005", Offset: 1291}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := fixtureFiles(tc.dir, 1, 13)
			loc, err := relaylog.FindOffset(files, tc.target)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "diff.binlog")
			var buf bytes.Buffer
			res, err := Generate(context.Background(), files, loc, &buf)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(out, buf.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			if res.Bytes != int64(buf.Len()) {
				t.Errorf("Bytes = %d; wrote %d", res.Bytes, buf.Len())
			}
			if tc.events >= 0 && res.Events != tc.events {
				t.Errorf("Events = %d; want %d", res.Events, tc.events)
			}
			if tc.events < 0 && res.Events == 0 {
				t.Errorf("Events = 0; want some")
			}
			if tc.end != (binlog.Pos{}) && res.End != tc.end {
				t.Errorf("End = %s; want %s", res.End, tc.end)
			}
			sum, err := Inspect(out)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Digest != res.Digest || sum.Events != res.Events {
				t.Errorf("Inspect = %+v; Generate = %+v", sum, res)
			}
			if p, err := exec.LookPath("mariadb-binlog"); err == nil {
				if b, err := exec.Command(p, "--no-defaults", out).CombinedOutput(); err != nil {
					t.Errorf("mariadb-binlog %s: %v\n%s", out, err, b)
				}
			}
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	files := fixtureFiles("relay-src1", 1, 13)
	var buf bytes.Buffer
	_, err := Generate(context.Background(), files, relaylog.Location{File: files[1], Offset: 1401}, &buf)
	if !errors.Is(err, ErrNotBoundary) {
		t.Errorf("inside an event: err = %v; want ErrNotBoundary", err)
	}
	_, err = Generate(context.Background(), files[2:], relaylog.Location{File: files[1], Offset: 1623}, &buf)
	if !errors.Is(err, ErrNotInList) {
		t.Errorf("file not listed: err = %v; want ErrNotInList", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err = Generate(ctx, files, relaylog.Location{File: files[1], Offset: 1623}, &buf); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v; want context.Canceled", err)
	}
}

func TestInspectRejects(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x")
	if err := os.WriteFile(p, []byte("not a binlog"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Inspect(p); err == nil {
		t.Error("Inspect(garbage) = nil error")
	}
}
