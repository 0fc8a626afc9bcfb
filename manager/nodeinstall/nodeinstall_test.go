package nodeinstall

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomha/gomha/manager/sshexec"
)

// fakeHost is a remote host whose files live in a map; stats gives the
// "uid mode type" line of each path probeScript stats (the workdir and
// the private directory default to the SSH user's, 0700).
type fakeHost struct {
	files  map[string][]byte
	stats  map[string]string
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
	if len(argv) != 5 || argv[0] != "sh" || argv[2] != probeScript {
		return sshexec.Result{ExitCode: 127}, &sshexec.ExitError{Host: f.String(), Program: argv[0], Code: 127}
	}
	w := argv[4]
	stat := func(p, def string) string {
		if s, ok := f.stats[p]; ok {
			return s
		}
		return def
	}
	out := "1000\n" + stat(w, "1000 700 directory") + "\n" + stat(w+"/"+PrivateDir, "1000 700 directory") + "\n"
	bin := RemotePath(w)
	if b, ok := f.files[bin]; ok {
		s := sha256.Sum256(b)
		out += stat(bin, "1000 700 regular file") + "\n" + hex.EncodeToString(s[:]) + "  " + bin + "\n"
	}
	return sshexec.Result{Stdout: []byte(out)}, nil
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
		if err != nil || p != "/var/tmp/w d/.gomha/mha-node" || up != s.uploaded {
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

// TestEnsureRefusesUnsafe: a workdir, private directory or binary another
// user could write or swap is refused, and nothing is uploaded.
func TestEnsureRefusesUnsafe(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "mha-node")
	if err := os.WriteFile(bin, []byte("v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	const w = "/var/tmp"
	priv, rbin := w+"/"+PrivateDir, RemotePath(w)
	tests := []struct {
		name   string
		stats  map[string]string
		binary bool
		refuse string // "" accepted
	}{
		{"sticky /var/tmp, own private dir", map[string]string{w: "0 1777 directory"}, false, ""},
		{"root-owned 0755 workdir", map[string]string{w: "0 755 directory"}, true, ""},
		{"world-writable without sticky", map[string]string{w: "0 777 directory"}, false, "without the sticky bit"},
		{"workdir of another user", map[string]string{w: "1001 700 directory"}, false, "belongs to uid 1001"},
		{"private dir planted by another user", map[string]string{w: "0 1777 directory", priv: "1001 700 directory"}, false, "another user created it"},
		{"private dir is a symlink", map[string]string{priv: "1000 777 symbolic link"}, false, "not a directory"},
		{"private dir group-writable", map[string]string{priv: "1000 770 directory"}, false, "writable by other users"},
		{"binary writable by others", map[string]string{rbin: "1000 777 regular file"}, true, "not a regular file of the SSH user"},
		{"binary of another user", map[string]string{rbin: "1001 755 regular file"}, true, "not a regular file of the SSH user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &fakeHost{files: map[string][]byte{}, stats: tt.stats}
			if tt.binary {
				h.files[rbin] = []byte("other")
			}
			p, _, err := ensure(context.Background(), h, bin, w)
			if tt.refuse == "" {
				if err != nil || p != rbin {
					t.Fatalf("ensure = %q, %v", p, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.refuse) {
				t.Fatalf("err = %v; want %q", err, tt.refuse)
			}
			if h.copies != 0 {
				t.Fatal("uploaded into an unsafe place")
			}
		})
	}
}

func TestParseFactsRejectsGarbage(t *testing.T) {
	for _, out := range []string{"", "x\n1 2 directory\n1 2 directory", "1000\n1000 700 directory"} {
		if _, err := parseFacts(out); err == nil {
			t.Errorf("parseFacts(%q) accepted", out)
		}
	}
}

// TestProbeScriptLocally runs probeScript with the local sh and stat (the
// same tools as on a database host) and judges its output.
func TestProbeScriptLocally(t *testing.T) {
	w := filepath.Join(t.TempDir(), "work")
	run := func() hostFacts {
		out, err := exec.Command("sh", "-c", probeScript, "sh", w).CombinedOutput()
		if err != nil {
			t.Fatalf("probe: %v: %s", err, out)
		}
		f, err := parseFacts(string(out))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	f := run()
	if err := judge(f, w); err != nil || f.hasBin {
		t.Fatalf("fresh workdir: %v, binary %v", err, f.hasBin)
	}
	if fi, err := os.Stat(filepath.Join(w, PrivateDir)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("private dir: %v %v", fi, err)
	}
	if err := os.WriteFile(RemotePath(w), []byte("v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if f := run(); judge(f, w) != nil || !f.hasBin || f.binSum == "" {
		t.Fatalf("with binary: %+v %v", f, judge(f, w))
	}
	if err := os.Chmod(RemotePath(w), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := judge(run(), w); err == nil {
		t.Fatal("world-writable binary accepted")
	}
}
