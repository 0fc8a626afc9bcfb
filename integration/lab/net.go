package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runDir holds the lab's lock files: alloc.lock (held while choosing a
// subnet or reclaiming stale labs), deps.lock (held while installing
// packages) and net-<N>.lock, one per running lab, owning 198.18.N.0/24.
const runDir = "/run/gomha-lab"

// Subnets 198.18.N.0/24 with N in [firstNet, lastNet] are handed out; the
// range is part of 198.18.0.0/15, reserved for benchmarking (RFC 2544) and
// never routed.
const (
	firstNet = 1
	lastNet  = 254
)

// namePrefix starts every namespace, bridge and veth the lab creates; a lab
// name is namePrefix plus six hex digits.
const namePrefix = "gl-"

// labNameRE matches a lab-created interface or namespace name and captures
// the lab name.
var labNameRE = regexp.MustCompile(`^(gl-[0-9a-f]{6})(-[a-z0-9]+)?$`)

// state is what a lab records in its lock file before it creates anything,
// so that CleanupStale can remove a crashed lab's leftovers.
type state struct {
	Pid        int      `json:"pid"`
	Name       string   `json:"name"`
	Net        int      `json:"net"`
	Dir        string   `json:"dir"`
	Keep       bool     `json:"keep"`
	Bridge     string   `json:"bridge"`
	Links      []string `json:"links"`
	Namespaces []string `json:"namespaces"`
}

// lockFile takes an exclusive flock on path (created if needed), waiting
// until ctx is done. The returned function releases it.
func lockFile(ctx context.Context, path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// randomName returns a fresh lab name such as "gl-3f9a0c".
func randomName() (string, error) {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return namePrefix + hex.EncodeToString(b[:]), nil
}

// netLockPath is the lock file that owns subnet 198.18.n.0/24.
func netLockPath(n int) string { return filepath.Join(runDir, fmt.Sprintf("net-%d.lock", n)) }

// allocate reclaims stale labs, then claims a free subnet for st: it creates
// the subnet's lock file with O_EXCL, holds a flock on it for the lab's
// life (the kernel drops it when the process dies, which is how a stale lab
// is recognised) and writes st into it. The returned file must stay open.
func allocate(ctx context.Context, st *state) (*os.File, error) {
	unlock, err := lockFile(ctx, filepath.Join(runDir, "alloc.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := cleanupStaleLocked(ctx); err != nil {
		return nil, err
	}
	used, err := usedNets(ctx)
	if err != nil {
		return nil, err
	}
	for n := firstNet; n <= lastNet; n++ {
		if used[n] {
			continue
		}
		f, err := os.OpenFile(netLockPath(n), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			os.Remove(netLockPath(n))
			return nil, fmt.Errorf("flock %s: %w", netLockPath(n), err)
		}
		st.Net = n
		if err := writeState(f, st); err != nil {
			f.Close()
			os.Remove(netLockPath(n))
			return nil, err
		}
		return f, nil
	}
	return nil, errors.New("no free 198.18.N.0/24 subnet (all lock files under " + runDir + " in use)")
}

// usedNets reports which 198.18.N.0/24 subnets already have an address in
// the root namespace (someone else's, or a lab's leftover bridge).
func usedNets(ctx context.Context) (map[int]bool, error) {
	out, err := run(ctx, bin("ip"), "-o", "-4", "addr", "show")
	if err != nil {
		return nil, err
	}
	used := map[int]bool{}
	for _, f := range strings.Fields(string(out)) {
		if !strings.HasPrefix(f, "198.18.") {
			continue
		}
		parts := strings.Split(strings.SplitN(f, "/", 2)[0], ".")
		if len(parts) == 4 {
			if n, err := strconv.Atoi(parts[2]); err == nil {
				used[n] = true
			}
		}
	}
	return used, nil
}

// writeState replaces the lock file's content with st.
func writeState(f *os.File, st *state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(append(b, '\n'), 0); err != nil {
		return err
	}
	return nil
}

// CleanupStale removes what crashed labs left behind: for every lock file
// under /run/gomha-lab whose flock nobody holds any more (the owning process
// and its watchdog both died), it kills the processes in the lab's namespaces and deletes
// the namespaces, veths, bridge, lab directory (unless the lab ran with
// GOMHA_LAB_KEEP=1) and lock file. Namespaces and links that carry the lab
// naming scheme but belong to no lock file at all are removed too. Labs of
// live processes are never touched. Start calls it.
func CleanupStale(ctx context.Context) error {
	unlock, err := lockFile(ctx, filepath.Join(runDir, "alloc.lock"))
	if err != nil {
		return fmt.Errorf("lab: cleanup stale: %w", err)
	}
	defer unlock()
	return cleanupStaleLocked(ctx)
}

// cleanupStaleLocked is CleanupStale with alloc.lock held.
func cleanupStaleLocked(ctx context.Context) error {
	paths, err := filepath.Glob(filepath.Join(runDir, "net-*.lock"))
	if err != nil {
		return err
	}
	live := map[string]bool{}
	var errs []error
	for _, p := range paths {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		var st state
		b, _ := os.ReadFile(p)
		_ = json.Unmarshal(b, &st)
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			if st.Name != "" {
				live[st.Name] = true
			}
			continue
		}
		if err == nil {
			if err := destroy(ctx, &st); err != nil {
				errs = append(errs, fmt.Errorf("stale lab %s (pid %d): %w", st.Name, st.Pid, err))
			} else {
				os.Remove(p)
			}
		}
		f.Close()
	}
	// Orphans: lab-named namespaces and links without any lock file.
	if out, err := run(ctx, bin("ip"), "netns", "list"); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			if m := labNameRE.FindStringSubmatch(f[0]); m != nil && !live[m[1]] {
				if err := killNamespace(f[0], 5*time.Second); err != nil {
					errs = append(errs, err)
				}
				if _, err := run(ctx, bin("ip"), "netns", "del", f[0]); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	links, err := labLinks(ctx)
	if err == nil {
		for _, l := range links {
			if m := labNameRE.FindStringSubmatch(l); m != nil && !live[m[1]] {
				if err := delLink(ctx, l); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// labLinks lists the root namespace's interfaces named like a lab's.
func labLinks(ctx context.Context) ([]string, error) {
	out, err := run(ctx, bin("ip"), "-o", "link", "show")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name := strings.TrimSuffix(f[1], ":")
		if i := strings.IndexByte(name, '@'); i >= 0 {
			name = name[:i]
		}
		if strings.HasPrefix(name, namePrefix) {
			names = append(names, name)
		}
	}
	return names, nil
}

// delLink deletes an interface; one that is already gone is not an error
// (deleting a veth's peer or a namespace removes it).
func delLink(ctx context.Context, name string) error {
	if _, err := os.Stat("/sys/class/net/" + name); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if _, err := run(ctx, bin("ip"), "link", "del", name); err != nil {
		if _, statErr := os.Stat("/sys/class/net/" + name); errors.Is(statErr, os.ErrNotExist) {
			return nil
		}
		return err
	}
	return nil
}

// destroy kills every process in st's namespaces and deletes its links,
// namespaces, bridge and (unless st.Keep) directory. What is already gone is
// skipped, so it can run on a half-built lab and twice.
func destroy(ctx context.Context, st *state) error {
	var errs []error
	for _, ns := range st.Namespaces {
		if err := killNamespace(ns, 10*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	for _, l := range st.Links {
		if err := delLink(ctx, l); err != nil {
			errs = append(errs, err)
		}
	}
	for _, ns := range st.Namespaces {
		if _, err := os.Stat("/run/netns/" + ns); err != nil {
			continue
		}
		if _, err := run(ctx, bin("ip"), "netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	if st.Bridge != "" {
		if err := delLink(ctx, st.Bridge); err != nil {
			errs = append(errs, err)
		}
	}
	if !st.Keep && st.Dir != "" && strings.Contains(filepath.Base(st.Dir), namePrefix) {
		if err := os.RemoveAll(st.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ipBatch runs iproute2 commands through one `ip [-n ns] -batch -` process
// (ns "" is the root namespace).
func ipBatch(ctx context.Context, ns string, cmds []string) error {
	args := []string{"-batch", "-"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	cmd := exec.CommandContext(ctx, bin("ip"), args...)
	cmd.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// buildNetwork creates the bridge with the root namespace's address, and for
// every host (and the manager) a namespace with loopback up and a veth pair:
// eth0 inside with the host's address, the other end enslaved to the bridge.
// No default route: a host reaches only the lab subnet.
func (l *Lab) buildNetwork(ctx context.Context) error {
	cmds := []string{
		"link add " + l.bridge + " type bridge",
		"addr add " + l.BridgeIP + "/24 dev " + l.bridge,
		"link set " + l.bridge + " up",
	}
	all := l.allHosts()
	for _, h := range all {
		cmds = append(cmds,
			"netns add "+h.NS,
			"link add "+h.Veth+" type veth peer name eth0 netns "+h.NS,
			"link set "+h.Veth+" master "+l.bridge+" up",
		)
	}
	if err := ipBatch(ctx, "", cmds); err != nil {
		return fmt.Errorf("bridge, namespaces and veths: %w", err)
	}
	// IPv6 would only add router solicitations and DAD chatter.
	for _, name := range append([]string{l.bridge}, l.links()...) {
		_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0o644)
	}
	for _, h := range all {
		err := ipBatch(ctx, h.NS, []string{
			"link set lo up",
			"addr add " + h.IP + "/24 dev eth0",
			"link set eth0 up",
		})
		if err != nil {
			return fmt.Errorf("configure %s: %w", h.Name, err)
		}
	}
	return nil
}
