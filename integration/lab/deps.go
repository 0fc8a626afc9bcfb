package lab

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// requiredBins are the programs the lab (and the integration tests built on
// it) run. A missing one makes Start install the Debian packages. arping is
// not among them: the VIP hook sends gratuitous ARP with `mha-node arp`,
// and runs arping (iputils' or Thomas Habets', whichever is installed) only
// when mha-node is not on the new master.
var requiredBins = []string{
	"mariadbd", "mariadb", "mariadb-binlog", "mariadb-install-db",
	"sshd", "ssh", "ssh-keygen", "keepalived", "ip",
}

// debianPackages provide requiredBins on Debian 12. (install-deps.sh also
// installs iputils-arping when no arping package is installed; that needs
// dpkg's answer, so this fallback leaves it out.)
var debianPackages = []string{
	"mariadb-server", "mariadb-client", "openssh-server", "openssh-client",
	"keepalived", "iproute2",
}

// binDirs are searched after $PATH: sshd and mariadbd live in sbin, which a
// test's environment does not always have in $PATH.
var binDirs = []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin"}

// lookBin returns the absolute path of a program, or "" when not found.
func lookBin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	for _, d := range binDirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// bin returns the absolute path of a program, or its bare name when not
// found (so the error names it).
func bin(name string) string {
	if p := lookBin(name); p != "" {
		return p
	}
	return name
}

// depsMu serialises installs within one process; depsLock (a file lock)
// across processes, since apt-get cannot run twice at once.
var depsMu sync.Mutex

// missingBins lists the required programs that are not installed.
func missingBins() []string {
	var missing []string
	for _, b := range requiredBins {
		if lookBin(b) == "" {
			missing = append(missing, b)
		}
	}
	return missing
}

// EnsureDeps installs the lab's Debian packages when a required program is
// missing, by running integration/install-deps.sh (found next to this
// package's source) or, when the source tree is not at hand, the same
// apt-get commands. It does nothing when everything is installed.
func EnsureDeps(ctx context.Context, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	if len(missingBins()) == 0 {
		return nil
	}
	depsMu.Lock()
	defer depsMu.Unlock()
	unlock, err := lockFile(ctx, filepath.Join(runDir, "deps.lock"))
	if err != nil {
		return fmt.Errorf("lab: install dependencies: %w", err)
	}
	defer unlock()
	missing := missingBins()
	if len(missing) == 0 {
		return nil
	}
	fmt.Fprintf(log, "lab: missing %s: installing Debian packages\n", strings.Join(missing, ", "))

	var cmd *exec.Cmd
	if script := installScript(); script != "" {
		cmd = exec.CommandContext(ctx, "bash", script)
	} else {
		sh := "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-remove " + strings.Join(debianPackages, " ")
		cmd = exec.CommandContext(ctx, "sh", "-c", sh)
	}
	var out strings.Builder
	cmd.Stdout = io.MultiWriter(&out, log)
	cmd.Stderr = cmd.Stdout
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("lab: install dependencies (%s): %w\n%s", strings.Join(cmd.Args, " "), err, lastLines(out.String(), 20))
	}
	if missing := missingBins(); len(missing) > 0 {
		return fmt.Errorf("lab: install dependencies: still missing %s", strings.Join(missing, ", "))
	}
	return nil
}

// installScript locates integration/install-deps.sh from this file's
// compile-time path; "" when the source tree is not there.
func installScript() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	p := filepath.Join(filepath.Dir(file), "..", "install-deps.sh")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Require returns the absolute path of every named program, in order. When
// the lab is switched off (GOMHA_LAB unset) it skips the test; once it is
// on, a missing program fails the test: an integration test never skips
// silently because a tool is absent (run `make lab-deps`).
func Require(t testing.TB, names ...string) []string {
	t.Helper()
	if !Enabled() {
		t.Skip("integration lab disabled: set GOMHA_LAB=1")
	}
	var paths, missing []string
	for _, n := range names {
		p := lookBin(n)
		if p == "" {
			missing = append(missing, n)
		}
		paths = append(paths, p)
	}
	if len(missing) > 0 {
		t.Fatalf("GOMHA_LAB=1 but %s not installed (make lab-deps installs the lab's tools)", strings.Join(missing, ", "))
	}
	return paths
}
