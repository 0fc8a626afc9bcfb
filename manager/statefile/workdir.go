//go:build unix

package statefile

import (
	"fmt"
	"os"
	"syscall"
)

// WorkdirFacts are what CheckWorkdirFacts judges: the directory's mode,
// its owner, and the user the manager runs as.
type WorkdirFacts struct {
	Mode      os.FileMode
	Owner, Me uint32
}

// CheckWorkdirFacts refuses a manager workdir that another local user could
// write: not a directory, owned by someone other than the manager's user
// or root, or writable by group or others (a sticky /var/tmp included: a
// local user could create <app>.failover.error there before the manager
// does). The error wraps ErrUnsafeWorkdir and names the path.
func CheckWorkdirFacts(path string, f WorkdirFacts) error {
	switch {
	case !f.Mode.IsDir():
		return fmt.Errorf("%w: %s is not a directory", ErrUnsafeWorkdir, path)
	case f.Owner != f.Me && f.Owner != 0:
		return fmt.Errorf("%w: %s is owned by uid %d, not by this user (uid %d) or root; another user could plant or remove the failover flags: chown it, or set manager_workdir to a directory of your own",
			ErrUnsafeWorkdir, path, f.Owner, f.Me)
	case f.Mode.Perm()&0o022 != 0:
		return fmt.Errorf("%w: %s is writable by group or others (mode %04o, %v); another user could plant or remove <app>.failover.error: chmod go-w it, or set manager_workdir to a directory of your own (mode 0700 or 0750)",
			ErrUnsafeWorkdir, path, f.Mode.Perm(), f.Mode)
	}
	return nil
}

// CheckWorkdir stats path and applies CheckWorkdirFacts.
func CheckWorkdir(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("manager workdir: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	return CheckWorkdirFacts(path, WorkdirFacts{Mode: fi.Mode(), Owner: st.Uid, Me: uint32(os.Geteuid())})
}
