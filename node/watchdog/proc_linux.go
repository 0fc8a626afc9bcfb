//go:build linux

package watchdog

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procFS reads the facts PlanStop needs from a /proc tree (root; tests
// build one in a temporary directory).
type procFS struct{ root string }

func (fs procFS) path(elem ...string) string {
	return filepath.Join(append([]string{fs.root}, elem...)...)
}

// comm returns /proc/PID/comm, "" when the process is gone.
func (fs procFS) comm(pid int) string {
	b, err := os.ReadFile(fs.path(strconv.Itoa(pid), "comm"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// netns returns the network namespace link of pid ("self" for the
// watchdog).
func (fs procFS) netns(pid string) string {
	l, _ := os.Readlink(fs.path(pid, "ns", "net"))
	return l
}

// state reads the process state letter from /proc/PID/stat (R, S, D, T,
// Z...), "" when the process is gone.
func (fs procFS) state(pid int) string {
	b, err := os.ReadFile(fs.path(strconv.Itoa(pid), "stat"))
	if err != nil {
		return ""
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ""
	}
	if f := strings.Fields(string(b[i+1:])); len(f) > 0 {
		return f[0]
	}
	return ""
}

// ppid reads the parent's pid from /proc/PID/stat (after the comm in
// parentheses, which may hold blanks: state, then ppid).
func (fs procFS) ppid(pid int) int {
	b, err := os.ReadFile(fs.path(strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// uid returns the effective uid of pid (/proc/PID/status, Uid: real
// effective saved fs), -1 when unknown.
func (fs procFS) uid(pid int) int {
	f, err := os.Open(fs.path(strconv.Itoa(pid), "status"))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Uid:"); ok {
			if v := strings.Fields(rest); len(v) >= 2 {
				if n, err := strconv.Atoi(v[1]); err == nil {
					return n
				}
			}
		}
	}
	return -1
}

// proc gathers one process's facts; false when it is gone.
func (fs procFS) proc(pid int) (Proc, bool) {
	comm := fs.comm(pid)
	if comm == "" {
		return Proc{}, false
	}
	p := Proc{PID: pid, Comm: comm, UID: fs.uid(pid), ParentUID: -1}
	if self := fs.netns("self"); self != "" {
		p.SameNetNS = fs.netns(strconv.Itoa(pid)) == self
	}
	if b, err := os.ReadFile(fs.path(strconv.Itoa(pid), "cgroup")); err == nil {
		p.Cgroup = string(b)
	}
	if p.PPID = fs.ppid(pid); p.PPID > 0 {
		p.ParentComm = fs.comm(p.PPID)
		p.ParentUID = fs.uid(p.PPID)
	}
	return p, true
}

// listenInodes returns the socket inodes listening on port (TCP, IPv4
// and IPv6, in the watchdog's own network namespace: /proc/net is the
// reader's) and bound to the unix socket path.
func (fs procFS) listenInodes(port int, socket string) map[string]bool {
	inodes := map[string]bool{}
	if port > 0 {
		for _, name := range []string{"tcp", "tcp6"} {
			b, err := os.ReadFile(fs.path("net", name))
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(b), "\n")[1:] {
				f := strings.Fields(line)
				// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
				if len(f) < 10 || f[3] != "0A" { // 0A: TCP_LISTEN
					continue
				}
				_, hexPort, ok := strings.Cut(f[1], ":")
				if p, err := strconv.ParseUint(hexPort, 16, 16); ok && err == nil && int(p) == port {
					inodes[f[9]] = true
				}
			}
		}
	}
	if socket != "" {
		if b, err := os.ReadFile(fs.path("net", "unix")); err == nil {
			for _, line := range strings.Split(string(b), "\n")[1:] {
				// Num RefCount Protocol Flags Type St Inode Path
				if f := strings.Fields(line); len(f) >= 8 && f[7] == socket {
					inodes[f[6]] = true
				}
			}
		}
	}
	return inodes
}

// mysqlds returns the pids whose comm is mysqld or mariadbd.
func (fs procFS) mysqlds() []int {
	ents, err := os.ReadDir(fs.root)
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if IsMySQLD(fs.comm(pid)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// holders returns the mysqld processes that hold one of the inodes (an
// fd that is socket:[inode]). Only mysqld processes are looked at: what
// else may hold the port is never a candidate anyway.
func (fs procFS) holders(inodes map[string]bool) []int {
	if len(inodes) == 0 {
		return nil
	}
	var out []int
	for _, pid := range fs.mysqlds() {
		dir := fs.path(strconv.Itoa(pid), "fd")
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			l, err := os.Readlink(filepath.Join(dir, e.Name()))
			if err != nil {
				continue
			}
			if in, ok := strings.CutPrefix(l, "socket:["); ok && inodes[strings.TrimSuffix(in, "]")] {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

// readPidFile returns the pid in a pid file, 0 when it cannot be read.
func readPidFile(path string) int {
	if path == "" {
		return 0
	}
	b, err := os.ReadFile(path)
	if err != nil || len(b) > 64 {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0
	}
	return pid
}
