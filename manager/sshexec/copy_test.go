package sshexec

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// randomFile writes n random bytes to a new file in dir.
func randomFile(t *testing.T, dir, name string, n int) (string, []byte) {
	t.Helper()
	data := make([]byte, n)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, data
}

// leftovers lists the gomha temporary files in dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, ".*.gomha-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCopyFile(t *testing.T) {
	e := newEnv(t)
	c := dialOK(t, e.target(t, ""))
	remoteDir := filepath.Join(e.dir, "remote dir with 'quotes' and $(x)")
	if err := os.Mkdir(remoteDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{0, 1, 5<<20 + 3} {
		local, data := randomFile(t, e.dir, "local.bin", size)
		remote := filepath.Join(remoteDir, "copy; rm -rf x.bin")
		if err := c.CopyFile(context.Background(), local, remote, 0o640); err != nil {
			t.Fatalf("CopyFile(%d bytes): %v", size, err)
		}
		got, err := os.ReadFile(remote)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%d bytes: remote copy differs (%d bytes)", size, len(got))
		}
		if st, _ := os.Stat(remote); st.Mode().Perm() != 0o640 {
			t.Errorf("mode = %v, want 0640", st.Mode().Perm())
		}
	}
	if l := leftovers(t, remoteDir); len(l) > 0 {
		t.Errorf("temporary files left: %q", l)
	}
}

func TestCopyFileErrors(t *testing.T) {
	e := newEnv(t)
	c := dialOK(t, e.target(t, ""))
	local, _ := randomFile(t, e.dir, "local.bin", 1000)

	err := c.CopyFile(context.Background(), local, filepath.Join(e.dir, "no-such-dir", "f"), 0o644)
	var ee *ExitError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "no-such-dir") || strings.Contains(err.Error(), "run sh") {
		t.Errorf("CopyFile to missing dir = %v, want an ExitError with the shell's message", err)
	}
	if err := c.CopyFile(context.Background(), filepath.Join(e.dir, "missing"), filepath.Join(e.dir, "x"), 0o644); err == nil ||
		!errors.Is(err, os.ErrNotExist) {
		t.Errorf("CopyFile from missing local file = %v", err)
	}
	if err := c.CopyFile(context.Background(), e.dir, filepath.Join(e.dir, "x"), 0o644); err == nil {
		t.Errorf("CopyFile of a directory succeeded")
	}
	if err := c.CopyFile(context.Background(), local, e.dir+"/", 0o644); err == nil {
		t.Errorf("CopyFile to a path ending in / succeeded")
	}
}

// fakeTools returns a PATH where sha256sum prints a wrong checksum.
func fakeSHA256(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "fakebin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\ncat >/dev/null\necho 0000000000000000000000000000000000000000000000000000000000000000  -\n"
	if err := os.WriteFile(filepath.Join(bin, "sha256sum"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return "PATH=" + bin + ":" + os.Getenv("PATH")
}

func TestCopyFileChecksumMismatch(t *testing.T) {
	e := newEnv(t)
	e.srv.env = []string{fakeSHA256(t, e.dir)}
	c := dialOK(t, e.target(t, ""))
	local, _ := randomFile(t, e.dir, "local.bin", 4096)
	remote := filepath.Join(e.dir, "dest")
	if err := os.WriteFile(remote, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := c.CopyFile(context.Background(), local, remote, 0o644)
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("CopyFile = %v, want ErrChecksum", err)
	}
	if got, _ := os.ReadFile(remote); string(got) != "old" {
		t.Errorf("destination was replaced by an unverified copy")
	}
	if l := leftovers(t, e.dir); len(l) > 0 {
		t.Errorf("temporary files left: %q", l)
	}
}

// Without sha256sum on the server, md5sum is used (as MHA did).
func TestCopyFileMD5Fallback(t *testing.T) {
	e := newEnv(t)
	bin := filepath.Join(e.dir, "md5bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"sh", "cat", "chmod", "mv", "rm", "md5sum"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("%s not found", tool)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	e.srv.env = []string{"PATH=" + bin}
	c := dialOK(t, e.target(t, ""))
	local, data := randomFile(t, e.dir, "local.bin", 10000)
	remote := filepath.Join(e.dir, "dest")
	if err := c.CopyFile(context.Background(), local, remote, 0o600); err != nil {
		t.Fatalf("CopyFile: %v", err)
	}
	if got, _ := os.ReadFile(remote); !bytes.Equal(got, data) {
		t.Error("copy differs")
	}
	var buf bytes.Buffer
	if err := c.Fetch(context.Background(), remote, &buf); err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Errorf("Fetch: %v", err)
	}
}

func TestCopyFileCancel(t *testing.T) {
	e := newEnv(t)
	// sha256sum hangs on the server, so the copy is still running when the
	// deadline passes, with the temporary file already written.
	bin := filepath.Join(e.dir, "slowbin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "sha256sum"), []byte("#!/bin/sh\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.srv.env = []string{"PATH=" + bin + ":" + os.Getenv("PATH")}
	c := dialOK(t, e.target(t, ""))
	local, _ := randomFile(t, e.dir, "local.bin", 1000)
	remote := filepath.Join(e.dir, "dest")

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.CopyFile(ctx, local, remote, 0o644)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Fatalf("CopyFile = %v after %v, want DeadlineExceeded promptly", err, time.Since(start))
	}
	if l := leftovers(t, e.dir); len(l) > 0 {
		t.Errorf("temporary files left after cancellation: %q", l)
	}
	if _, err := os.Stat(remote); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("destination created by a cancelled copy")
	}
}

func TestFetch(t *testing.T) {
	e := newEnv(t)
	c := dialOK(t, e.target(t, ""))
	remote, data := randomFile(t, e.dir, "remote file 'x'.bin", 2<<20+17)

	var buf bytes.Buffer
	if err := c.Fetch(context.Background(), remote, &buf); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if !bytes.Equal(buf.Bytes(), data) {
		t.Errorf("Fetch got %d bytes, want %d identical", buf.Len(), len(data))
	}

	local := filepath.Join(e.dir, "fetched.bin")
	if err := c.FetchFile(context.Background(), remote, local, 0o600); err != nil {
		t.Fatalf("FetchFile: %v", err)
	}
	if got, _ := os.ReadFile(local); !bytes.Equal(got, data) {
		t.Error("FetchFile copy differs")
	}
	if st, _ := os.Stat(local); st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v", st.Mode().Perm())
	}

	missing := filepath.Join(e.dir, "missing")
	err := c.FetchFile(context.Background(), missing, filepath.Join(e.dir, "never"), 0o600)
	var ee *ExitError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "No such file") {
		t.Errorf("FetchFile of missing file = %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "never")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("FetchFile created the destination after a failure")
	}
	if l := leftovers(t, e.dir); len(l) > 0 {
		t.Errorf("local temporary files left: %q", l)
	}
}

func TestFetchChecksumMismatch(t *testing.T) {
	e := newEnv(t)
	e.srv.env = []string{fakeSHA256(t, e.dir)}
	c := dialOK(t, e.target(t, ""))
	remote, _ := randomFile(t, e.dir, "remote.bin", 100)
	local := filepath.Join(e.dir, "fetched")
	if err := c.FetchFile(context.Background(), remote, local, 0o600); !errors.Is(err, ErrChecksum) {
		t.Fatalf("FetchFile = %v, want ErrChecksum", err)
	}
	if _, err := os.Stat(local); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unverified copy was installed")
	}
}
