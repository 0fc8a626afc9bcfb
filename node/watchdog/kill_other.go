//go:build !linux

package watchdog

import (
	"context"
	"time"
)

const pidRefresh = 5 * time.Second

func (m *MySQL) refreshPID(context.Context) {}

// Kill is not available outside Linux.
func (m *MySQL) Kill(context.Context) Step {
	return Step{Err: "stopping mysqld is only implemented on Linux"}
}
