// Package failpoint stops the process at named points, so that crash
// tests can kill the manager exactly at a step boundary (etcd's gofail
// habit, without code generation: the points are ordinary calls).
//
// A point is inert unless the environment variable GOMHA_FAILPOINTS names
// it. The variable holds a comma-separated list of patterns (path.Match
// syntax, so "failover/*/before" matches every step's "before" point). A
// point that matches kills the process with SIGKILL: nothing is flushed,
// no deferred function runs, exactly as a crash or `kill -9` would leave
// things.
package failpoint

import (
	"os"
	"path"
	"strings"
	"syscall"
)

// Env is the environment variable that enables failpoints.
const Env = "GOMHA_FAILPOINTS"

// Enabled reports whether the point called name is enabled by Env.
func Enabled(name string) bool {
	v := os.Getenv(Env)
	if v == "" {
		return false
	}
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if ok, err := path.Match(p, name); err == nil && ok {
			return true
		}
	}
	return false
}

// kill ends the process; a variable so that tests can observe it.
var kill = func(name string) {
	// A line on stderr tells the crash test which point fired; it is
	// written unbuffered before the signal.
	_, _ = os.Stderr.WriteString("failpoint: " + name + ": killing the process\n")
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // SIGKILL cannot be caught; never returns
}

// Hit kills the process when the point called name is enabled, and does
// nothing otherwise.
func Hit(name string) {
	if Enabled(name) {
		kill(name)
	}
}

// Name builds a point's name from its parts, each lower-cased with spaces
// and slashes turned into dashes: Name("failover", "apply missing events",
// "before") is "failover/apply-missing-events/before".
func Name(parts ...string) string {
	out := make([]string, len(parts))
	for i, p := range parts {
		p = strings.ToLower(strings.TrimSpace(p))
		p = strings.NewReplacer(" ", "-", "/", "-").Replace(p)
		out[i] = p
	}
	return strings.Join(out, "/")
}
