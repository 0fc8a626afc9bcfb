package nodeinstall

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomha/gomha/manager/sshexec"
)

// fakeHost is a remote host whose files live in a map.
type fakeHost struct {
	files  map[string][]byte
	copies int
	runs   []string
	netErr error
}

func (f *fakeHost) String() string { return "root@fake:22" }

func (f *fakeHost) Run(_ context.Context, argv []string) (sshexec.Result, error) {
	f.runs = append(f.runs, strings.Join(argv, " "))
	if f.netErr != nil {
		return sshexec.Result{ExitCode: -1}, f.netErr
	}
	if argv[0] == "sha256sum" {
		b, ok := f.files[argv[len(argv)-1]]
		if !ok {
			return sshexec.Result{ExitCode: 1}, &sshexec.ExitError{Host: f.String(), Program: "sha256sum", Code: 1}
		}
		s := sha256.Sum256(b)
		return sshexec.Result{Stdout: []byte(hex.EncodeToString(s[:]) + "  " + argv[len(argv)-1] + "\n")}, nil
	}
	return sshexec.Result{}, nil
}

func (f *fakeHost) CopyFile(_ context.Context, local, remote string, _ os.FileMode) error {
	b, err := os.ReadFile(local)
	if err != nil {
		return err
	}
	f.files[remote] = b
	f.copies++
	return nil
}

func TestEnsure(t *testing.T) {
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "mha-node")
	if err := os.WriteFile(bin, []byte("v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	h := &fakeHost{files: map[string][]byte{}}
	steps := []struct {
		name     string
		content  string
		uploaded bool
	}{
		{"missing", "v1", true},
		{"same", "v1", false},
		{"changed", "v2", true},
		{"same again", "v2", false},
	}
	for _, s := range steps {
		if err := os.WriteFile(bin, []byte(s.content), 0o755); err != nil {
			t.Fatal(err)
		}
		p, up, err := ensure(ctx, h, bin, "/var/tmp/w d")
		if err != nil || p != "/var/tmp/w d/mha-node" || up != s.uploaded {
			t.Fatalf("%s: ensure = %q, %v, %v; want uploaded %v", s.name, p, up, err, s.uploaded)
		}
		if string(h.files[p]) != s.content {
			t.Fatalf("%s: remote holds %q", s.name, h.files[p])
		}
	}
	if h.copies != 2 {
		t.Fatalf("%d copies, want 2", h.copies)
	}
}

func TestEnsureErrors(t *testing.T) {
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "mha-node")
	if err := os.WriteFile(bin, []byte("v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	lost := errors.New("connection lost")
	if _, _, err := ensure(ctx, &fakeHost{files: map[string][]byte{}, netErr: lost}, bin, "/w"); !errors.Is(err, lost) {
		t.Fatalf("transport error: %v", err)
	}
	if _, _, err := ensure(ctx, &fakeHost{files: map[string][]byte{}}, bin, "relative"); err == nil {
		t.Fatal("relative workdir accepted")
	}
	if _, _, err := ensure(ctx, &fakeHost{files: map[string][]byte{}}, bin+".missing", "/w"); err == nil {
		t.Fatal("missing local binary accepted")
	}
}
