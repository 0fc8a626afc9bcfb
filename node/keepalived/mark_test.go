package keepalived

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMarkFile(t *testing.T) {
	dir := t.TempDir()
	path := MarkPath(dir, 3307)
	if filepath.Base(path) != "mha-keepalived-3307.mark" {
		t.Fatalf("MarkPath = %s", path)
	}
	if m, err := ReadMark(path); m != nil || err != nil {
		t.Fatalf("missing mark: %v, %v", m, err)
	}
	at := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	if err := WriteMark(path, Mark{Kind: MarkFenced, Reason: "switch to db2", At: at}); err != nil {
		t.Fatal(err)
	}
	m, err := ReadMark(path)
	if err != nil || m.Kind != MarkFenced || m.Reason != "switch to db2" || !m.At.Equal(at) {
		t.Fatalf("read back %+v, %v", m, err)
	}
	if err := WriteMark(path, Mark{Kind: MarkPromoted, At: at}); err != nil {
		t.Fatal(err)
	}
	if m, _ := ReadMark(path); m == nil || m.Kind != MarkPromoted {
		t.Fatalf("replaced mark: %+v", m)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}
	if err := WriteMark(path, Mark{Kind: "bogus"}); err == nil {
		t.Error("WriteMark accepted an unknown kind")
	}
	if err := RemoveMark(path); err != nil {
		t.Fatal(err)
	}
	if err := RemoveMark(path); err != nil {
		t.Fatalf("removing a missing mark: %v", err)
	}

	// A planted symlink at the temporary name is replaced, not written
	// through.
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, path+".tmp"); err != nil {
		t.Fatal(err)
	}
	if err := WriteMark(path, Mark{Kind: MarkFenced}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("written through a planted symlink: %q", b)
	}
}

func TestReadMarkFailsClosed(t *testing.T) {
	dir := t.TempDir()
	tests := map[string]string{
		"not json":     "fenced\n",
		"unknown kind": `{"mark":"maybe"}`,
		"empty":        "",
		"too large":    `{"mark":"fenced","reason":"` + strings.Repeat("x", maxMarkSize) + `"}`,
	}
	for name, content := range tests {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := ReadMark(path)
		if err == nil {
			t.Errorf("%s: read as %+v", name, m)
			continue
		}
		v := CheckMaster(MasterFacts{Server: writable, Watchdog: noWatchdog, Mark: m, MarkErr: err}, MasterOptions{})
		if v.OK {
			t.Errorf("%s: the check passed with an unreadable mark", name)
		}
	}
	// A directory where the file should be cannot be read either.
	if _, err := ReadMark(dir); err == nil {
		t.Error("a directory read as a mark")
	}
}
