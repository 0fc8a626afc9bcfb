//go:build linux

package watchdog

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// clockBoottime is Linux's CLOCK_BOOTTIME: monotonic, not stepped by
// settimeofday or NTP, and counting time the system spent suspended (a
// suspended master must not come back believing the lease still runs).
const clockBoottime = 7

// BootClock reads CLOCK_BOOTTIME. Its readings are system-wide, so a
// restarted watchdog can go on from the last contact its predecessor
// recorded (same boot id).
type BootClock struct{}

// Now returns the time since boot.
func (BootClock) Now() time.Duration {
	var ts syscall.Timespec
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockBoottime, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		panic(fmt.Sprintf("clock_gettime(CLOCK_BOOTTIME): %v", e))
	}
	return time.Duration(ts.Nano())
}

// BootID returns the kernel's id of the current boot.
func BootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// PidLock is the daemon's exclusive flock on its pid file, held while it
// runs: --status tells a live watchdog from a stale pid file by the lock.
type PidLock struct{ f *os.File }

// ErrRunning reports a pid file locked by a running watchdog.
var ErrRunning = errors.New("a watchdog is running")

// LockPid takes the pid file's lock and writes the pid into it. When
// another watchdog holds it and replace is set, that one is sent SIGTERM and
// waited for (SIGKILL after timeout); without replace, LockPid returns an
// error wrapping ErrRunning.
func LockPid(path string, replace bool, timeout time.Duration) (*PidLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		old := readPid(f)
		if !replace {
			f.Close()
			return nil, fmt.Errorf("%w (pid %d, %s)", ErrRunning, old, path)
		}
		if old > 0 {
			_ = syscall.Kill(old, syscall.SIGTERM)
		}
		deadline := time.Now().Add(timeout)
		for {
			if err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
				break
			}
			if time.Now().After(deadline) {
				if old > 0 {
					_ = syscall.Kill(old, syscall.SIGKILL)
				}
				if err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
					f.Close()
					return nil, err
				}
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, err
	}
	return &PidLock{f: f}, nil
}

// Release drops the lock.
func (l *PidLock) Release() { l.f.Close() }

// Running reports whether a watchdog holds the pid file's lock, and its pid.
func Running(path string) (bool, int) {
	f, err := os.Open(path)
	if err != nil {
		return false, 0
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return true, readPid(f)
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false, readPid(f)
}

// StopRunning sends SIGTERM to the watchdog holding the pid file's lock and
// waits until the lock is free (SIGKILL after timeout). It reports whether
// one was running.
func StopRunning(path string, timeout time.Duration) (bool, error) {
	l, err := LockPid(path, false, 0)
	if err == nil {
		l.Release()
		return false, nil
	}
	if !errors.Is(err, ErrRunning) {
		return false, err
	}
	l, err = LockPid(path, true, timeout)
	if err != nil {
		return true, err
	}
	l.Release()
	return true, nil
}

func readPid(f *os.File) int {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	p, _ := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	return p
}
