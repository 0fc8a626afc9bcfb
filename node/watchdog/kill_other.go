//go:build !linux

package watchdog

import (
	"context"
	"time"
)

const pidRefresh = 5 * time.Second

// stopper is not available outside Linux.
type stopper struct{}

func newStopper() stopper { return stopper{} }

func (m *MySQL) refreshPID(context.Context) {}

// Kill is not available outside Linux.
func (m *MySQL) Kill(context.Context) Step {
	return Step{Err: "stopping mysqld is only implemented on Linux"}
}

// CanKill reports false outside Linux.
func (m *MySQL) CanKill(context.Context) (bool, string) {
	return false, "stopping mysqld is only implemented on Linux"
}
