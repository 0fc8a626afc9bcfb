//go:build !linux

package watchdog

import (
	"errors"
	"time"
)

// errLinuxOnly is returned where the watchdog's Linux facilities are missing.
var errLinuxOnly = errors.New("the watchdog runs on Linux only")

// ErrRunning reports a pid file locked by a running watchdog.
var ErrRunning = errors.New("a watchdog is running")

// BootClock reads the boot-time clock; outside Linux it is Go's monotonic
// clock since the process started.
type BootClock struct{}

var processStart = time.Now()

// Now returns a monotonic reading.
func (BootClock) Now() time.Duration { return time.Since(processStart) }

// BootID returns "" outside Linux.
func BootID() string { return "" }

// PidLock is not available outside Linux.
type PidLock struct{}

// LockPid fails outside Linux.
func LockPid(string, bool, time.Duration) (*PidLock, error) { return nil, errLinuxOnly }

// Release does nothing.
func (*PidLock) Release() {}

// Running reports false outside Linux.
func Running(string) (bool, int) { return false, 0 }

// StopRunning fails outside Linux.
func StopRunning(string, time.Duration) (bool, error) { return false, errLinuxOnly }
