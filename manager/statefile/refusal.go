package statefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Refusal is the last failover a monitoring manager refused to start (the
// master answered the double check, the last failover is too recent, the
// error flag exists) before it went back to monitoring. It is kept in
// <app>.failover.refused, a gomha file MHA does not have, so that
// check-status can say why the manager is monitoring a dead master.
type Refusal struct {
	At     time.Time
	Master string
	Reason string
}

// RefusedPath is the file that records the last refused failover.
func RefusedPath(workdir, app string) string {
	return filepath.Join(workdir, app+".failover.refused")
}

// RecordRefusal replaces the refusal record with r: one line,
// "<RFC 3339 time>\t<master>\t<reason>", the reason on one line.
func RecordRefusal(workdir, app string, r Refusal) error {
	reason := strings.Join(strings.Fields(r.Reason), " ")
	master := strings.Join(strings.Fields(r.Master), " ")
	line := r.At.UTC().Format(time.RFC3339) + "\t" + master + "\t" + reason + "\n"
	if err := writeAtomic(RefusedPath(workdir, app), line); err != nil {
		return fmt.Errorf("refusal record: %w", err)
	}
	return nil
}

// ReadRefusal reads the refusal record; nil and no error when there is none.
func ReadRefusal(workdir, app string) (*Refusal, error) {
	b, err := os.ReadFile(RefusedPath(workdir, app))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("refusal record: %w", err)
	}
	f := strings.SplitN(strings.TrimRight(string(b), "\r\n"), "\t", 3)
	if len(f) != 3 {
		return nil, fmt.Errorf("refusal record %s: %w", RefusedPath(workdir, app), ErrMalformed)
	}
	at, err := time.Parse(time.RFC3339, f[0])
	if err != nil {
		return nil, fmt.Errorf("refusal record %s: %w: %v", RefusedPath(workdir, app), ErrMalformed, err)
	}
	return &Refusal{At: at, Master: f[1], Reason: f[2]}, nil
}

// ClearRefusal deletes the refusal record (a manager starts afresh, or a
// failover completed). A missing record is not an error.
func ClearRefusal(workdir, app string) error {
	return removeIf(RefusedPath(workdir, app))
}

// String is the refusal as check-status prints it: "last failover refused
// at <local time>: <reason>".
func (r Refusal) String() string {
	return "last failover refused at " + r.At.Local().Format(lastFailoverLayout) + ": " + r.Reason
}
