//go:build unix

package statefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckWorkdirFacts(t *testing.T) {
	dir := os.ModeDir
	tests := []struct {
		name string
		f    WorkdirFacts
		bad  string // part of the error; "" for accepted
	}{
		{"own 0700", WorkdirFacts{Mode: dir | 0o700, Owner: 1000, Me: 1000}, ""},
		{"own 0755", WorkdirFacts{Mode: dir | 0o755, Owner: 1000, Me: 1000}, ""},
		{"root-owned 0750", WorkdirFacts{Mode: dir | 0o750, Owner: 0, Me: 1000}, ""},
		{"group writable", WorkdirFacts{Mode: dir | 0o770, Owner: 1000, Me: 1000}, "writable by group or others (mode 0770"},
		{"sticky /var/tmp", WorkdirFacts{Mode: dir | os.ModeSticky | 0o777, Owner: 0, Me: 0}, "writable by group or others"},
		{"other owner", WorkdirFacts{Mode: dir | 0o700, Owner: 1001, Me: 1000}, "owned by uid 1001"},
		{"file", WorkdirFacts{Mode: 0o600, Owner: 1000, Me: 1000}, "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckWorkdirFacts("/srv/mha", tt.f)
			if tt.bad == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrUnsafeWorkdir) || !strings.Contains(err.Error(), tt.bad) || !strings.Contains(err.Error(), "/srv/mha") {
				t.Fatalf("err = %v; want %q and the path", err, tt.bad)
			}
		})
	}
}

func TestCheckWorkdir(t *testing.T) {
	d := t.TempDir()
	if err := CheckWorkdir(d); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(d, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := CheckWorkdir(open); !errors.Is(err, ErrUnsafeWorkdir) {
		t.Fatalf("0777 workdir: %v", err)
	}
}
