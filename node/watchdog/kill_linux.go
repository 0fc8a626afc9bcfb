package watchdog

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pidRefresh is how often ManagerIdle's caller refreshes the cached mysqld
// PID (a restarted mysqld has a new one).
const pidRefresh = 5 * time.Second

// refreshPID reads the server's pid_file (the path from @@pid_file, then
// the number in it) when the cached PID is older than pidRefresh. Errors
// leave the cache as it was: Kill then reports that it has no PID.
func (m *MySQL) refreshPID(ctx context.Context) {
	if time.Since(m.pidAt) < pidRefresh {
		return
	}
	var path string
	if err := m.db.QueryRowContext(ctx, queryTag+"SELECT @@global.pid_file").Scan(&path); err != nil {
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return
	}
	m.pid, m.pidAt = pid, time.Now()
}

// mysqldComm reports whether pid runs mysqld or mariadbd (/proc/PID/comm),
// so that a PID reused by another program is never killed.
func mysqldComm(pid int) (string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return "", false
	}
	c := strings.TrimSpace(string(b))
	return c, c == "mysqld" || c == "mariadbd"
}

// Kill implements Killer: SIGKILL to the mysqld whose PID the last ticks
// read from its pid_file, then wait until the process is gone (or ctx
// ends). A process that is not mysqld or mariadbd is left alone.
func (m *MySQL) Kill(ctx context.Context) Step {
	st := Step{}
	pid := m.pid
	if pid == 0 {
		st.Err = "mysqld's PID is unknown (its pid_file could not be read)"
		return st
	}
	comm, ok := mysqldComm(pid)
	if !ok {
		if comm == "" {
			st.OK, st.Detail = true, fmt.Sprintf("mysqld (PID %d) is not running", pid)
			return st
		}
		st.Err = fmt.Sprintf("PID %d runs %q, not mysqld: not killed", pid, comm)
		return st
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		st.Err = fmt.Sprintf("kill -9 %d: %v", pid, err)
		return st
	}
	for {
		if _, ok := mysqldComm(pid); !ok {
			st.OK, st.Detail = true, fmt.Sprintf("sent SIGKILL to %s (PID %d); it is gone", comm, pid)
			return st
		}
		select {
		case <-ctx.Done():
			st.Err = fmt.Sprintf("sent SIGKILL to %s (PID %d), still there: %v", comm, pid, ctx.Err())
			return st
		case <-time.After(20 * time.Millisecond):
		}
	}
}
