package keepalived

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The mark file is how the manager's keepalived hook speaks to the check on
// a host, without touching keepalived's configuration: one small JSON file
// per mysqld in the server's remote_workdir (MarkPath), written over SSH
// with `mha-node keepalived-check --mark=...`.
//
//   - MarkFenced (the hook's stop/stopssh on the old master): the check fails
//     whatever the server says, so keepalived takes the host out of the
//     election even while its mysqld is still writable.
//   - MarkPromoted (the hook's start on the new master): the host is the
//     one gomha promoted, so a replication channel whose threads are both
//     stopped (the new master's old channel to the dead master, which
//     gomha's RESET SLAVE ALL removes only at the end of the failover, or
//     never with skip_reset_slave) does not count as replicating. A running
//     channel still does, and read_only must still be off.
//
// Without a mark file the check relies on the server and the watchdog alone.
// A mark file that cannot be read or parsed counts as fenced: the check
// fails closed.

// Mark kinds.
const (
	MarkFenced   = "fenced"
	MarkPromoted = "promoted"
)

// Mark is the mark file's content.
type Mark struct {
	Kind   string    `json:"mark"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// MarkPath returns the mark file of the mysqld on port in dir (the server's
// remote_workdir), beside the watchdog's files: mha-keepalived-PORT.mark.
func MarkPath(dir string, port int) string {
	return filepath.Join(dir, "mha-keepalived-"+strconv.Itoa(port)+".mark")
}

// maxMarkSize bounds what ReadMark reads: a mark is a few hundred bytes.
const maxMarkSize = 64 << 10

// ReadMark reads a mark file. A missing file is nil, nil; any other problem
// (unreadable, too large, not JSON, an unknown kind) is an error, which
// CheckMaster treats as fenced.
func ReadMark(path string) (*Mark, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMarkSize+1))
	if err != nil {
		return nil, fmt.Errorf("mark file %s: %w", path, err)
	}
	if len(b) > maxMarkSize {
		return nil, fmt.Errorf("mark file %s: larger than %d bytes", path, maxMarkSize)
	}
	return ParseMark(b)
}

// ParseMark decodes a mark file's content.
func ParseMark(b []byte) (*Mark, error) {
	var m Mark
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("mark file: %w", err)
	}
	if m.Kind != MarkFenced && m.Kind != MarkPromoted {
		return nil, fmt.Errorf("mark file: unknown mark %q", m.Kind)
	}
	return &m, nil
}

// WriteMark replaces the mark file atomically: a fresh temporary file
// (O_EXCL, so that a file or symlink planted in a shared directory such as
// /var/tmp is never written through), synced, renamed over path.
func WriteMark(path string, m Mark) error {
	if m.Kind != MarkFenced && m.Kind != MarkPromoted {
		return fmt.Errorf("write mark %s: unknown mark %q", path, m.Kind)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write mark %s: %w", path, err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write mark %s: %w", path, err)
	}
	return nil
}

// RemoveMark deletes the mark file; a missing one is not an error.
func RemoveMark(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove mark %s: %w", path, err)
	}
	return nil
}

// at is the mark's time; zero for a nil mark.
func (m *Mark) at() time.Time {
	if m == nil {
		return time.Time{}
	}
	return m.At
}

// describe renders the mark for a reason line.
func (m Mark) describe() string {
	s := "marked " + m.Kind
	if !m.At.IsZero() {
		s += " at " + m.At.UTC().Format(time.RFC3339)
	}
	if r := strings.TrimSpace(m.Reason); r != "" {
		s += ": " + oneLine(r)
	}
	return s
}

// oneLine keeps a reason on one line (and short), whatever a file held.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
