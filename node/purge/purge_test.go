package purge

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestRelayFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"relay-bin.000001", "relay-bin.000002", "relay-bin.index", "relay-bin.000003.tmp", "other.000001"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := relayFiles(dir, "relay-bin")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"relay-bin.000001", "relay-bin.000002"}; !slices.Equal(got, want) {
		t.Fatalf("relayFiles = %v, want %v", got, want)
	}
}

func TestOpenAddress(t *testing.T) {
	for _, o := range []Options{{}, {Host: "::1", Port: 3307}, {Socket: "/run/mysqld/mysqld.sock"}} {
		db, err := Open(o)
		if err != nil {
			t.Fatalf("Open(%+v): %v", o, err)
		}
		db.Close()
	}
}
