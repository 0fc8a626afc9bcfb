package statefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Health writes one application's health file for the running manager.
// Its methods are safe for concurrent use.
type Health struct {
	path string
	pid  int

	mu     sync.Mutex
	last   Status
	master string
	set    bool
}

// OpenHealth returns the writer of app's health file in workdir. Nothing is
// written until Init or Set; the process id written is this process's.
func OpenHealth(workdir, app string) *Health {
	return &Health{path: HealthPath(workdir, app), pid: os.Getpid()}
}

// Path is the health file's path.
func (h *Health) Path() string { return h.path }

// Init starts a manager's health file as MHA's monitor does: a health file
// left from before is removed and "10:INITIALIZING_MONITOR" is written. When
// there was one, warning is MHA's message about it for the caller to log:
// the previous manager was killed with SIGKILL, or another manager uses the
// same application name and working directory.
func (h *Health) Init() (warning string, err error) {
	if _, err := os.Lstat(h.path); err == nil {
		warning = h.path + " already exists. You might have killed manager with SIGKILL(-9), " +
			"may run two or more monitoring process for the same application, or use the same " +
			"working directory. Check for details, and consider setting --workdir separately."
		if err := removeIf(h.path); err != nil {
			return warning, fmt.Errorf("health file: stale: %w", err)
		}
	}
	return warning, h.Set(InitializingMonitor, "")
}

// Set writes "<pid>\t<code>:<NAME>" and, when master is not empty,
// "\tmaster:<master>", without a trailing newline. The new content replaces
// the file in one rename, made while holding an exclusive flock on the old
// file, which is the lock MHA's readers take.
func (h *Health) Set(st Status, master string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := writeAtomic(h.path, formatLine(h.pid, st, master)); err != nil {
		return fmt.Errorf("health file: set %s: %w", st, err)
	}
	h.last, h.master, h.set = st, master, true
	return nil
}

// Touch moves the health file's mtime to now, as the monitor does after
// every successful ping; masterha_check_status reports TIMESTAMP_OLD when it
// falls behind. Like MHA, a health file that disappeared is written again
// with the last state set.
func (h *Health) Touch() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	err := os.Chtimes(h.path, now, now)
	if errors.Is(err, fs.ErrNotExist) && h.set {
		err = writeAtomic(h.path, formatLine(h.pid, h.last, h.master))
	}
	if err != nil {
		return fmt.Errorf("health file: touch: %w", err)
	}
	return nil
}

// Remove deletes the health file, as a manager does when it stops or a
// failover ends. A missing file is not an error.
func (h *Health) Remove() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := removeIf(h.path); err != nil {
		return fmt.Errorf("health file: %w", err)
	}
	return nil
}

// ReadHealth reads a health file. A missing file is an error wrapping
// fs.ErrNotExist. When the state is unknown the error wraps
// ErrUnknownStatus and pid, master and mtime are still returned, because
// whether the process runs matters more than what it wrote.
func ReadHealth(path string) (pid int, st Status, master string, mtime time.Time, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, Status{}, "", time.Time{}, fmt.Errorf("health file: %w", err)
	}
	defer f.Close()
	unlock := lockShared(f)
	defer unlock()
	fi, err := f.Stat()
	if err != nil {
		return 0, Status{}, "", time.Time{}, fmt.Errorf("health file: %w", err)
	}
	b := make([]byte, 4096)
	n, err := f.Read(b)
	if err != nil && n == 0 {
		return 0, Status{}, "", fi.ModTime(), fmt.Errorf("health file %s: %w: empty", path, ErrMalformed)
	}
	pid, st, master, err = parseLine(string(b[:n]))
	if err != nil {
		err = fmt.Errorf("health file %s: %w", path, err)
	}
	return pid, st, master, fi.ModTime(), err
}

// writeAtomic replaces path with content: a temporary file in the same
// directory renamed over it, under an exclusive flock on the file replaced.
func writeAtomic(path, content string) error {
	if old, err := os.OpenFile(path, os.O_RDWR, 0); err == nil {
		defer old.Close()
		if err := lockExclusive(old); err != nil {
			return fmt.Errorf("lock %s: %w", path, err)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.WriteString(content)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
