// Package statefile reads and writes the files MHA 0.58 keeps in
// manager_workdir (mha-compat §5.4), so that gomha and MHA's own tools
// (masterha_check_status, monitoring scripts that cat the health file)
// understand each other:
//
//   - <app>.master_status.health: one line, no trailing newline,
//     "<manager pid>\t<code>:<NAME>" plus "\tmaster:<host>" once the master
//     is known. Its mtime is refreshed at every successful ping.
//   - <app>.failover.complete: empty, created when a failover got through
//     replica recovery; a failover younger than last_failover_minute refuses
//     to start (anti ping-pong).
//   - <app>.failover.error: empty, created when a failover failed after it
//     started changing servers; every later failover refuses to start until
//     an operator removes it.
//
// Where gomha differs from MHA 0.58 on purpose:
//   - Health.Set writes a temporary file and renames it over the health
//     file while holding an exclusive flock on the old one, so a reader never
//     sees a truncated or half-written line (MHA truncates in place).
//   - MarkComplete always moves the complete file's mtime to now; MHA leaves
//     an existing file untouched.
package statefile

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Status is one of MHA's manager states: the number masterha_check_status
// exits with and the name written after it in the health file.
type Status struct {
	Code int
	Name string
}

// String returns the status as written in the health file ("0:PING_OK").
func (s Status) String() string { return strconv.Itoa(s.Code) + ":" + s.Name }

// MHA's states (MHA::ManagerConst).
var (
	// PingOK: the manager pings the master successfully.
	PingOK = Status{0, "PING_OK"}
	// NotRunning: no health file, or its manager process is gone. Never
	// written to the file.
	NotRunning = Status{2, "NOT_RUNNING"}
	// PartiallyRunning: the manager process is gone but processes it started
	// are left. Never written to the file.
	PartiallyRunning = Status{3, "PARTIALLY_RUNNING"}
	// InitializingMonitor: start-up checks are in progress.
	InitializingMonitor = Status{10, "INITIALIZING_MONITOR"}
	// PingFailing: pings to the master fail; not yet confirmed dead.
	PingFailing = Status{20, "PING_FAILING"}
	// PingFailed: the master is confirmed unreachable; failover is next.
	PingFailed = Status{21, "PING_FAILED"}
	// RetryingMonitor: waiting --wait_on_monitor_error before monitoring
	// again.
	RetryingMonitor = Status{30, "RETRYING_MONITOR"}
	// ConfigError: monitoring failed (start-up checks, configuration).
	ConfigError = Status{31, "CONFIG_ERROR"}
	// TimestampOld: the file says PING_OK but was not refreshed within
	// masterha_check_status's --ping_limit. Never written to the file.
	TimestampOld = Status{32, "TIMESTAMP_OLD"}
	// FailoverRunning: a failover is in progress; the master field names
	// the dead master.
	FailoverRunning = Status{50, "FAILOVER_RUNNING"}
	// FailoverError: the failover failed (kept --wait_on_failover_error
	// seconds).
	FailoverError = Status{51, "FAILOVER_ERROR"}
)

// Statuses lists every state in code order.
var Statuses = []Status{PingOK, NotRunning, PartiallyRunning, InitializingMonitor, PingFailing,
	PingFailed, RetryingMonitor, ConfigError, TimestampOld, FailoverRunning, FailoverError}

// ParseStatus parses a state as written in the health file ("0:PING_OK").
// Like MHA it accepts only the exact strings of Statuses; anything else is
// an error wrapping ErrUnknownStatus.
func ParseStatus(s string) (Status, error) {
	for _, st := range Statuses {
		if st.String() == s {
			return st, nil
		}
	}
	return Status{}, fmt.Errorf("%w: %q", ErrUnknownStatus, s)
}

// HealthPath is the health file of app in workdir.
func HealthPath(workdir, app string) string {
	return filepath.Join(workdir, app+".master_status.health")
}

// CompletePath is the file that records the last completed failover.
func CompletePath(workdir, app string) string {
	return filepath.Join(workdir, app+".failover.complete")
}

// ErrorPath is the file that records a failed failover.
func ErrorPath(workdir, app string) string {
	return filepath.Join(workdir, app+".failover.error")
}

// formatLine is the health file's content for a state.
func formatLine(pid int, st Status, master string) string {
	line := strconv.Itoa(pid) + "\t" + st.String()
	if master != "" {
		line += "\tmaster:" + master
	}
	return line
}

// parseLine reads formatLine's output. An unknown state is reported with
// ErrUnknownStatus after pid and master were filled in.
func parseLine(line string) (pid int, st Status, master string, err error) {
	fields := strings.Split(strings.TrimRight(line, "\r\n"), "\t")
	pid, err = strconv.Atoi(strings.TrimSpace(fields[0]))
	if err != nil || pid <= 0 {
		return 0, Status{}, "", fmt.Errorf("%w: no process id in %q", ErrMalformed, line)
	}
	if len(fields) > 2 {
		master = strings.TrimPrefix(fields[2], "master:")
	}
	if len(fields) < 2 {
		return pid, Status{}, master, fmt.Errorf("%w: no state in %q", ErrMalformed, line)
	}
	st, err = ParseStatus(fields[1])
	return pid, st, master, err
}
