package failover

import (
	"context"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/sshexec"
)

// Fencer makes the old master unable to take writes before anything is
// promoted. It bounds its own work (a lease may take a while to run out):
// the failover gives it no step deadline.
type Fencer interface {
	Fence(ctx context.Context, old config.Server, ssh sshexec.Reach) (FenceResult, error)
}

// FenceResult is how the old master was fenced.
type FenceResult struct {
	// Fenced is true when the old master is verifiably unable to take
	// writes.
	Fenced bool
	// Method is how, e.g. "read_only over MySQL", "mysqld stopped over
	// SSH", "powered off by shutdown_script", "lease expired".
	Method string
	// Proof is what was checked.
	Proof string
}
