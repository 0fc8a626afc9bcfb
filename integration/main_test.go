// Package integration holds gomha's end-to-end tests: the real mha and
// mha-node binaries against real MariaDB servers and sshd daemons, each
// host in its own network namespace (see integration/lab). They read like
// the runbook a DBA would follow. They run only with GOMHA_LAB=1 (`make
// test` sets it); then a missing server is a failure, never a skip.
package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/integration/lab"
)

// bins holds the binaries built once for the whole package.
var bins struct {
	dir, mha, mhaNode string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gomha-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins.dir = dir
	bins.mha = filepath.Join(dir, "mha")
	bins.mhaNode = filepath.Join(dir, "mha-node")
	for out, pkg := range map[string]string{bins.mha: "github.com/gomha/gomha/cmd/mha", bins.mhaNode: "github.com/gomha/gomha/cmd/mha-node"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		if b, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, b)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of a gomha command.
type result struct {
	code    int
	stdout  string
	stderr  string
	elapsed time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d after %s\n--- stdout\n%s--- stderr\n%s", r.code, r.elapsed.Round(time.Millisecond), r.stdout, r.stderr)
}

// run runs a binary with args, bounded by timeout, and returns its exit
// code and output. It fails the test only when the binary cannot be run.
func run(t *testing.T, timeout time.Duration, bin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		t.Fatalf("%s %s did not finish within %s\n%s", filepath.Base(bin), strings.Join(args, " "), timeout, r)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("run %s: %v", bin, err)
	}
	t.Logf("$ %s %s\n%s", filepath.Base(bin), strings.Join(args, " "), r)
	return r
}

// mha runs the mha binary.
func mha(t *testing.T, timeout time.Duration, args ...string) result {
	t.Helper()
	return run(t, timeout, bins.mha, args...)
}

// sqlOn returns a function that runs SQL on a lab host as root, bounded by
// ctx, and fails the test (naming host and statement) when it errors.
func sqlOn(t *testing.T, ctx context.Context) func(h *lab.Host, q string) string {
	return func(h *lab.Host, q string) string {
		t.Helper()
		out, err := h.SQL(ctx, q)
		if err != nil {
			t.Fatalf("%s: %s: %v", h.Name, q, err)
		}
		return out
	}
}

// expect fails the test unless r exited with code and its output holds
// every wanted string.
func expect(t *testing.T, r result, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit code %d, want %d\n%s", r.code, code, r)
	}
	all := r.stdout + r.stderr
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("output lacks %q\n%s", w, r)
		}
	}
}
