//go:build linux

package watchdog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeProc is a /proc tree in a temporary directory, with the signals and
// systemctl calls the stopper makes recorded in one list.
type fakeProc struct {
	t    *testing.T
	root string
	mu   sync.Mutex
	// calls are "systemctl stop --no-block -- mariadb.service", "kill -9 42"...
	calls []string
	// unitMain is what systemctl show -p MainPID answers.
	unitMain int
	// undying pids survive SIGKILL (a process in D state); zombies turn
	// into a zombie (not reaped by their parent).
	undying, zombies map[int]bool
	// sigErr fails signal 0.
	sigErr error
}

func newFakeProc(t *testing.T) *fakeProc {
	f := &fakeProc{t: t, root: t.TempDir(), undying: map[int]bool{}, zombies: map[int]bool{}}
	f.netns("self", "net:[4026531840]")
	f.write("net/tcp", "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
	f.write("net/tcp6", "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
	f.write("net/unix", "Num       RefCount Protocol Flags    Type St Inode Path\n")
	f.proc(1, "systemd", 0, 0, "0::/init.scope\n")
	return f
}

func (f *fakeProc) write(rel, s string) {
	p := filepath.Join(f.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeProc) append(rel, s string) {
	b, _ := os.ReadFile(filepath.Join(f.root, rel))
	f.write(rel, string(b)+s)
}

func (f *fakeProc) netns(pid, ns string) {
	dir := filepath.Join(f.root, pid, "ns")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Symlink(ns, filepath.Join(dir, "net")); err != nil {
		f.t.Fatal(err)
	}
}

// proc adds a process of this host's network namespace.
func (f *fakeProc) proc(pid int, comm string, ppid, uid int, cgroup string) {
	p := strconv.Itoa(pid)
	f.write(p+"/comm", comm+"\n")
	f.write(p+"/stat", fmt.Sprintf("%d (%s) S %d %d 0 0", pid, comm, ppid, pid))
	f.write(p+"/status", fmt.Sprintf("Name:\t%s\nUid:\t%d\t%d\t%d\t%d\n", comm, uid, uid, uid, uid))
	f.write(p+"/cgroup", cgroup)
	f.netns(p, "net:[4026531840]")
}

// listen makes pid hold a TCP listener on port (and a unix socket when
// sock is set).
func (f *fakeProc) listen(pid, port int, sock string) {
	inode := strconv.Itoa(90000 + pid)
	f.append("net/tcp", fmt.Sprintf("   0: 00000000:%04X 00000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 %s 1 0000000000000000 100 0 0 10 0\n", port, inode))
	if sock != "" {
		f.append("net/unix", fmt.Sprintf("0000000000000000: 00000002 00000000 00010000 0001 01 %s %s\n", inode+"1", sock))
		f.fd(pid, 22, "socket:["+inode+"1]")
	}
	f.fd(pid, 21, "socket:["+inode+"]")
}

func (f *fakeProc) fd(pid, fd int, target string) {
	dir := filepath.Join(f.root, strconv.Itoa(pid), "fd")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, strconv.Itoa(fd))); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeProc) record(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *fakeProc) stopper(euid int) stopper {
	return stopper{
		fs: procFS{root: f.root},
		signal: func(pid int, sig syscall.Signal) error {
			if sig == 0 {
				return f.sigErr
			}
			f.record(fmt.Sprintf("kill -%d %d", int(sig), pid))
			switch {
			case f.zombies[pid]:
				f.write(strconv.Itoa(pid)+"/stat", fmt.Sprintf("%d (x) Z 1 %d 0 0", pid, pid))
			case !f.undying[pid]:
				os.RemoveAll(filepath.Join(f.root, strconv.Itoa(pid)))
			}
			return nil
		},
		systemctl: func(_ context.Context, args ...string) (string, error) {
			if args[0] == "show" {
				return strconv.Itoa(f.unitMain) + "\n", nil
			}
			f.record("systemctl " + strings.Join(args, " "))
			return "", nil
		},
		euid: euid,
		poll: time.Millisecond,
	}
}

func TestStopperStop(t *testing.T) {
	const maria = "0::/system.slice/mariadb.service\n"
	tests := []struct {
		name   string
		setup  func(f *fakeProc) where
		calls  []string
		ok     bool
		detail string
	}{
		{"under systemd: the stop job, then SIGKILL",
			func(f *fakeProc) where {
				f.proc(42, "mariadbd", 1, 106, maria)
				f.listen(42, 3306, "")
				f.unitMain = 42
				return where{port: 3306}
			},
			[]string{"systemctl stop --no-block -- mariadb.service", "kill -9 42"}, true,
			"systemctl stop --no-block mariadb.service; SIGKILL to mariadbd (PID 42); gone"},
		{"under mysqld_safe: the guard first",
			func(f *fakeProc) where {
				f.proc(30, "mysqld_safe", 1, 0, "0::/user.slice/user-0.slice/session-2.scope\n")
				f.proc(42, "mysqld", 30, 106, "0::/user.slice/user-0.slice/session-2.scope\n")
				f.listen(42, 3306, "")
				return where{port: 3306}
			},
			[]string{"kill -9 30", "kill -9 42"}, true, "SIGKILL to mysqld_safe (PID 30); SIGKILL to mysqld (PID 42); gone"},
		{"found by its socket",
			func(f *fakeProc) where {
				f.proc(42, "mariadbd", 1, 106, "0::/\n")
				f.listen(42, 3306, "/run/mysqld/mysqld.sock")
				return where{socket: "/run/mysqld/mysqld.sock"}
			},
			[]string{"kill -9 42"}, true, "gone"},
		{"the pid is read at kill time: a restarted mysqld's new pid file",
			func(f *fakeProc) where {
				// The mysqld seen at start (PID 42) is gone; the one the
				// service manager started since is 77, not listening yet.
				f.proc(77, "mariadbd", 1, 106, "0::/\n")
				pidFile := filepath.Join(f.root, "mysqld.pid")
				if err := os.WriteFile(pidFile, []byte("77\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return where{pidFile: pidFile, port: 3306}
			},
			[]string{"kill -9 77"}, true, "SIGKILL to mariadbd (PID 77)"},
		{"another host's mysqld on our port number (shared pid namespace): not ours",
			func(f *fakeProc) where {
				f.proc(42, "mariadbd", 1, 106, "0::/\n")
				os.Remove(filepath.Join(f.root, "42/ns/net"))
				f.netns("42", "net:[4026532000]")
				pidFile := filepath.Join(f.root, "mysqld.pid")
				os.WriteFile(pidFile, []byte("42\n"), 0o644)
				return where{pidFile: pidFile, port: 3306}
			},
			nil, true, "mysqld is not running"},
		{"killed, a zombie not reaped yet: gone",
			func(f *fakeProc) where {
				f.proc(42, "mariadbd", 1, 106, "0::/\n")
				f.listen(42, 3306, "")
				f.zombies[42] = true
				return where{port: 3306}
			},
			[]string{"kill -9 42"}, true, "gone"},
		{"SIGKILL does not take: not OK once ctx ends",
			func(f *fakeProc) where {
				f.proc(42, "mariadbd", 1, 106, "0::/\n")
				f.listen(42, 3306, "")
				f.undying[42] = true
				return where{port: 3306}
			},
			[]string{"kill -9 42"}, false, "still there"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeProc(t)
			w := tt.setup(f)
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			st := f.stopper(0).stop(ctx, w)
			if st.OK != tt.ok || !strings.Contains(st.Detail+st.Err, tt.detail) {
				t.Errorf("stop = %+v; want OK %v with %q", st, tt.ok, tt.detail)
			}
			if !slices.Equal(f.calls, tt.calls) {
				t.Errorf("calls %q, want %q", f.calls, tt.calls)
			}
		})
	}
}

func TestStopperCheck(t *testing.T) {
	f := newFakeProc(t)
	f.proc(42, "mariadbd", 1, 106, "0::/system.slice/mariadb.service\n")
	f.listen(42, 3306, "")
	f.unitMain = 42
	w := where{port: 3306}
	if ok, why := f.stopper(0).check(t.Context(), w); !ok || !strings.Contains(why, "root can stop systemctl stop --no-block mariadb.service") {
		t.Errorf("root: %v %q", ok, why)
	}
	if ok, why := f.stopper(106).check(t.Context(), w); ok || !strings.Contains(why, "systemctl stop needs root") {
		t.Errorf("mysqld's uid under systemd: %v %q", ok, why)
	}
	f.sigErr = syscall.EPERM
	if ok, why := f.stopper(0).check(t.Context(), w); ok || !strings.Contains(why, "signal 0 to mariadbd (PID 42)") {
		t.Errorf("signal 0 refused: %v %q", ok, why)
	}
	if len(f.calls) != 0 {
		t.Errorf("check changed something: %q", f.calls)
	}
	empty := newFakeProc(t)
	if ok, why := empty.stopper(0).check(t.Context(), where{port: 3306, pidFile: "/nonexistent/mysqld.pid"}); ok || !strings.Contains(why, "not found (pid_file, port and socket) (pid_file /nonexistent/mysqld.pid, port 3306)") {
		t.Errorf("no mysqld: %v %q", ok, why)
	}
}
