package statefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// lastFailoverLayout is how MHA prints the last failover's time.
const lastFailoverLayout = "2006/01/02 15:04:05"

// CheckLastFailover is the failover's Phase 1 file check (MHA 0.58
// MasterFailover::check_settings), run before anything is changed:
//
//   - ignore (--ignore_last_failover) first deletes both files, which also
//     lifts the minutes window;
//   - an existing error file refuses with ErrLastFailoverFailed;
//   - a complete file younger than minutes (last_failover_minute, 480 by
//     default) refuses with ErrTooEarly; an older one is deleted.
//
// The refusals' messages are MHA's, word for word; the times are local,
// as MHA prints them. now is the current time (a parameter for tests).
func CheckLastFailover(workdir, app string, minutes int, ignore bool, now time.Time) error {
	errFile, complete := ErrorPath(workdir, app), CompletePath(workdir, app)
	if ignore {
		for _, f := range []string{errFile, complete} {
			if err := removeIf(f); err != nil {
				return err
			}
		}
	}
	if _, err := os.Stat(errFile); err == nil {
		return &refusal{kind: ErrLastFailoverFailed, msg: "Failover error flag file " + errFile +
			" exists. This means the last failover failed. Check error logs for detail, fix problems, remove " +
			errFile + ", and restart this script."}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("failover error flag: %w", err)
	}
	fi, err := os.Stat(complete)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("last failover file: %w", err)
	}
	// MHA compares whole seconds: time() - mtime < minutes * 60.
	last := fi.ModTime()
	if now.Unix()-last.Unix() < int64(minutes)*60 {
		return &refusal{kind: ErrTooEarly, msg: "Last failover was done at " +
			last.Local().Format(lastFailoverLayout) + ". Current time is too early to do failover again. " +
			"If you want to do failover, manually remove " + complete + " and run this script again."}
	}
	return removeIf(complete)
}

// MarkComplete creates (or refreshes the mtime of) the complete file: a
// failover got through replica recovery, exit 0 or 10. The next failover
// within last_failover_minute refuses to start.
func MarkComplete(workdir, app string) error {
	return touchFile(CompletePath(workdir, app))
}

// MarkError creates the error file: a failover failed, or was stopped by a
// signal, after it started changing servers (Phase 2). Every later failover
// refuses to start until it is removed.
func MarkError(workdir, app string) error {
	return touchFile(ErrorPath(workdir, app))
}

// touchFile creates path empty, or sets the mtime of an existing one to now.
func touchFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	now := time.Now()
	if err := os.Chtimes(path, now, now); err != nil {
		return fmt.Errorf("touch %s: %w", path, err)
	}
	return nil
}

// removeIf deletes path; a missing file is not an error.
func removeIf(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}
