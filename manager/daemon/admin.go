package daemon

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/gomha/gomha/manager/statefile"
)

// ManagerState is what a cluster's health file and the process table say
// about its manager (MHA::ManagerAdmin::check_status_file_pid), for
// check-status and stop.
type ManagerState struct {
	// Status is the manager's state: the health file's, or NOT_RUNNING,
	// PARTIALLY_RUNNING, TIMESTAMP_OLD from the process table and clock.
	Status statefile.Status
	// PID is the manager's process; Master the master the file names.
	PID    int
	Master string
	// Children are the processes left by a dead manager
	// (PARTIALLY_RUNNING).
	Children []int
	// Behind is how far the health file's mtime is behind (TIMESTAMP_OLD).
	Behind time.Duration
	// Written is the state the health file holds, whatever Status became
	// (a dead manager's file may still say FAILOVER_RUNNING).
	Written statefile.Status
	// Refused is the last failover the manager refused, "" when none (set
	// by the caller).
	Refused string
}

// ReadManagerState reads app's health file in dir and checks its process.
// pingLimit is --ping_limit (seconds): a PING_OK file older than that is
// TIMESTAMP_OLD.
func ReadManagerState(dir, app string, pingLimit int, now time.Time) (ManagerState, error) {
	pid, st, master, mtime, err := statefile.ReadHealth(statefile.HealthPath(dir, app))
	if errors.Is(err, os.ErrNotExist) {
		return ManagerState{Status: statefile.NotRunning}, nil
	}
	if err != nil && !errors.Is(err, statefile.ErrUnknownStatus) {
		return ManagerState{}, err
	}
	h := ManagerState{Status: st, PID: pid, Master: master, Written: st}
	if !ProcessAlive(pid) {
		h.Children = Leftovers(pid)
		if len(h.Children) == 0 {
			h.Status = statefile.NotRunning
		} else {
			h.Status = statefile.PartiallyRunning
		}
		return h, nil
	}
	if err != nil {
		return ManagerState{}, err
	}
	if st == statefile.PingOK && now.Unix() > mtime.Unix()+int64(pingLimit) {
		h.Status = statefile.TimestampOld
		h.Behind = time.Duration(now.Unix()-mtime.Unix()) * time.Second
	}
	return h, nil
}

// StopManager is MHA::ManagerAdmin::stop_manager for the manager of app
// (named name in messages, its files in dir): SIGTERM to the manager's
// process group, wait, and with abort SIGKILL. It returns the exit code.
// A manager of several clusters is one process: stopping it stops them
// all.
//
// Unlike MHA: a PARTIALLY_RUNNING manager's leftovers are signalled through
// its process group and waited for (MHA signals a group it cannot find and
// reports success at once), the group is signalled only when it is the
// manager's own (never this command's group), and a failover killed with
// SIGKILL leaves <app>.failover.error behind, as a failover stopped by a
// signal does, so the next failover does not start on half-changed servers
// unnoticed.
func StopManager(out, errw io.Writer, name, dir, app string, h ManagerState, abort bool, timeout time.Duration) int {
	switch {
	case h.Status == statefile.NotRunning:
		fmt.Fprintf(out, "MHA Manager is not running on %s(%s).\n", name, statefile.NotRunning)
		return 0
	case h.Status == statefile.FailoverRunning && !abort:
		fmt.Fprintf(out, "Currently Failover is running on %s. Should not stop.\n", name)
		return 1
	}
	// The manager leads its own process group (mha manager calls
	// setpgid(0, 0), as MHA calls setpgrp), so its hooks and ssh children
	// are stopped with it.
	target := -h.PID
	if pgid, err := syscall.Getpgid(h.PID); err == nil && pgid != h.PID {
		target = h.PID // not a group leader: signal the process alone
	}
	if -target == syscall.Getpgrp() {
		target = h.PID
	}
	gone := func() bool { return !ProcessAlive(h.PID) }
	if h.Status == statefile.PartiallyRunning {
		gone = func() bool { return len(Leftovers(h.PID)) == 0 }
	}
	if err := syscall.Kill(target, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			fmt.Fprintf(out, "Stopped %s successfully.\n", name)
			return 0
		}
		fmt.Fprintf(errw, "Sending SIGTERM to %d: %v\n", target, err)
		fmt.Fprintf(out, "Failed to stop %s.\n", name)
		return 1
	}
	for left := timeout; left > 0; left -= 100 * time.Millisecond {
		if gone() {
			fmt.Fprintf(out, "Stopped %s successfully.\n", name)
			return 0
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(out, "Manager process %d didn't stop in %d seconds.\n", h.PID, int(timeout.Seconds()))
	if abort {
		err := syscall.Kill(target, syscall.SIGKILL)
		if err == nil || errors.Is(err, syscall.ESRCH) {
			fmt.Fprintf(out, "Forced stopped %s.\n", name)
			if h.Status == statefile.FailoverRunning {
				if err := statefile.MarkError(dir, app); err != nil {
					fmt.Fprintf(errw, "The killed failover may have left the servers half changed, and %v\n", err)
				} else {
					fmt.Fprintf(out, "Created %s: the killed failover may have left the servers half changed. Check them, then remove the file.\n",
						statefile.ErrorPath(dir, app))
				}
			}
			return 0
		}
		fmt.Fprintf(errw, "Sending SIGKILL to %d: %v\n", target, err)
	}
	fmt.Fprintf(out, "Failed to stop %s.\n", name)
	return 1
}
