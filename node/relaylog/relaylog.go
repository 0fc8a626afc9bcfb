// Package relaylog maps a source (master) binlog position, or a MariaDB GTID,
// to the place in a replica's relay logs where the events after it begin.
//
// A relay log interleaves two servers' events: the replica's own (its format
// description at offset 4, rotates to the next relay file, stop events, all
// carrying the replica's server_id) and the source's (an artificial rotate
// naming the source's binlog file, the source's format description, then the
// source's events, whose header LogPos is their end position in the source's
// binlog). FindOffset walks the relay files in order, skips the replica's own
// events, follows the source's rotates to know the current source file and
// computes each source event's end position from LogPos (widened past 4 GiB
// with binlog.WidenLogPos). Relay files that begin without a source rotate
// (MariaDB after FLUSH RELAY LOGS or max_relay_log_size) inherit the source
// file from the file before; when the first file given is such a file, the
// source file is inferred from the first source rotate found later (as MHA
// 0.58 does: a real rotate names the next file, an artificial rotate at
// position 4 the next file, at a later position the same file).
//
// The package does no I/O other than reading the files and never logs.
package relaylog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomha/gomha/node/binlog"
)

// Sentinel errors of the package; match them with errors.Is.
var (
	// ErrNotFound reports that no source event ends at the requested
	// position (or no event group follows the requested GTID) in the relay
	// logs given: they were purged, the replica never received that
	// position, or it is not an event boundary.
	ErrNotFound = errors.New("position not found in relay logs")

	// ErrNoFiles reports an empty list of relay files or an empty index.
	ErrNoFiles = errors.New("no relay log files")
)

// Location is a place in the relay logs: a relay file and a byte offset in
// it (an event boundary), plus the source position it corresponds to.
type Location struct {
	// File is the relay log file (path as given).
	File string
	// Offset is where the first event after the requested position starts
	// in File; it may equal the file's size when File holds nothing more.
	Offset uint64
	// Source is the source binlog position at Offset (the requested one for
	// FindOffset).
	Source binlog.Pos
}

// ReadIndex reads a relay-log index file (such as relay-bin.index) and
// returns the relay files it lists, in order. Relative names are resolved
// against the directory of the index; MariaDB writes "./relay-bin.000001".
func ReadIndex(indexPath string) ([]string, error) {
	f, err := os.Open(indexPath)
	if err != nil {
		return nil, fmt.Errorf("relaylog: read index: %w", err)
	}
	defer f.Close()
	dir := filepath.Dir(indexPath)
	var files []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if !filepath.IsAbs(line) {
			line = filepath.Join(dir, line)
		}
		files = append(files, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("relaylog: read index %s: %w", indexPath, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("relaylog: index %s: %w", indexPath, ErrNoFiles)
	}
	return files, nil
}

// DirFiles returns the relay files of dir listed by its index file
// relay-bin.index (the name MHA and the lab use with relay_log=relay-bin), or,
// when absent, by the only *relay-bin.index file in dir.
func DirFiles(dir string) ([]string, error) {
	idx := filepath.Join(dir, "relay-bin.index")
	if _, err := os.Stat(idx); err != nil {
		m, _ := filepath.Glob(filepath.Join(dir, "*relay-bin.index"))
		if len(m) != 1 {
			return nil, fmt.Errorf("relaylog: %s: no single relay-bin.index (found %d): %w", dir, len(m), ErrNoFiles)
		}
		idx = m[0]
	}
	return ReadIndex(idx)
}

// scanner walks relay files in order and tracks the source position.
type scanner struct {
	files []string
	cur   binlog.Pos // source file and running end position; File "" = unknown
}

// visit is called for every source event that is not a format description
// or rotate, with the source position just before (start) and after (end) it.
// Returning stop=true ends the scan.
type visitFunc func(file string, ev binlog.Event, r *binlog.Reader, start, end binlog.Pos) (stop bool, err error)

// boundaryFunc is called at every point where the source position is known
// to be exactly pos and the next event of file starts at off (after a rotate).
type boundaryFunc func(file string, off uint64, pos binlog.Pos) (stop bool)

func (s *scanner) run(visit visitFunc, boundary boundaryFunc) error {
	if len(s.files) == 0 {
		return ErrNoFiles
	}
	r := binlog.NewReader(strings.NewReader(""), "")
	defer r.Close()
	for i, name := range s.files {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("relaylog: open relay file: %w", err)
		}
		if err := r.Reset(f, name); err != nil {
			f.Close()
			return err
		}
		stop, err := s.scanFile(r, name, i == len(s.files)-1, visit, boundary)
		f.Close()
		if err != nil || stop {
			return err
		}
	}
	return nil
}

func (s *scanner) scanFile(r *binlog.Reader, name string, last bool, visit visitFunc, boundary boundaryFunc) (bool, error) {
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			if last && errors.Is(err, binlog.ErrTruncated) {
				// The half-written tail of the relay log being written
				// when the replica stopped: the usable data ends here.
				return false, nil
			}
			return false, fmt.Errorf("relaylog: scan: %w", err)
		}
		if ev.ServerID == r.FileServerID() {
			continue // the replica's own event
		}
		switch ev.Type {
		case binlog.FormatDescriptionEvent:
			continue
		case binlog.RotateEvent:
			rot, err := ev.Rotate()
			if err != nil {
				return false, fmt.Errorf("relaylog: %w", err)
			}
			if ev.LogPos != 0 && s.cur.File != "" {
				// A real rotate at the end of the source's binlog: it
				// ends at LogPos in the current file.
				end := binlog.Pos{File: s.cur.File, Offset: binlog.WidenLogPos(ev.LogPos, s.cur.Offset)}
				if boundary(name, ev.End(), end) {
					return true, nil
				}
			}
			s.cur = binlog.Pos{File: rot.NextFile, Offset: rot.Position}
			if boundary(name, ev.End(), s.cur) {
				return true, nil
			}
			continue
		}
		if ev.LogPos == 0 {
			continue // artificial event without a source position
		}
		start := s.cur
		end := s.cur
		end.Offset = binlog.WidenLogPos(ev.LogPos, s.cur.Offset)
		s.cur.Offset = end.Offset
		if end.File == "" {
			continue
		}
		stop, err := visit(name, ev, r, start, end)
		if err != nil || stop {
			return stop, err
		}
	}
}

// initialSourceFile infers the source file of the source events that come
// before the first source rotate of files (MHA 0.58's rule).
func initialSourceFile(files []string) (string, error) {
	for _, name := range files {
		r, err := binlog.Open(name)
		if err != nil {
			return "", fmt.Errorf("relaylog: %w", err)
		}
		for {
			ev, err := r.Next()
			if err != nil {
				break
			}
			if ev.Type != binlog.RotateEvent || ev.ServerID == r.FileServerID() {
				continue
			}
			rot, err := ev.Rotate()
			if err != nil {
				break
			}
			r.Close()
			if ev.LogPos == 0 && rot.Position > 4 {
				return rot.NextFile, nil // reconnection in the same file
			}
			return prevFile(rot.NextFile)
		}
		r.Close()
	}
	return "", nil
}

// prevFile returns the binlog name before name, keeping its width.
func prevFile(name string) (string, error) {
	base, num, err := binlog.SplitName(name)
	if err != nil || num == 0 {
		return "", fmt.Errorf("relaylog: previous file of %q: %w", name, binlog.ErrBadFileName)
	}
	ext := name[strings.LastIndexByte(name, '.')+1:]
	return fmt.Sprintf("%s.%0*d", base, len(ext), num-1), nil
}

// FindOffset returns where, in the relay files (in relay-log order, oldest
// first), the events after source position target begin: the byte right
// after the source event that ends at target, or after the source rotate
// that starts the source binlog at target. ErrNotFound (wrapped with the
// position and the files searched) is returned when no source event ends
// exactly at target, e.g. because the relay logs holding it were purged.
func FindOffset(files []string, target binlog.Pos) (Location, error) {
	if len(files) == 0 {
		return Location{}, fmt.Errorf("relaylog: find %s: %w", target, ErrNoFiles)
	}
	first, err := initialSourceFile(files)
	if err != nil {
		return Location{}, err
	}
	s := &scanner{files: files, cur: binlog.Pos{File: first}}
	var loc Location
	found := false
	err = s.run(func(file string, ev binlog.Event, _ *binlog.Reader, _, end binlog.Pos) (bool, error) {
		if end == target {
			loc, found = Location{File: file, Offset: ev.End(), Source: end}, true
			return true, nil
		}
		return false, nil
	}, func(file string, off uint64, pos binlog.Pos) bool {
		if pos == target {
			loc, found = Location{File: file, Offset: off, Source: pos}, true
			return true
		}
		return false
	})
	if err != nil {
		return Location{}, fmt.Errorf("relaylog: find %s: %w", target, err)
	}
	if !found {
		return Location{}, fmt.Errorf("relaylog: find %s in %s..%s: %w", target,
			filepath.Base(files[0]), filepath.Base(files[len(files)-1]), ErrNotFound)
	}
	return loc, nil
}

// FindGTIDOffset returns where, in the relay files, the first event group
// after MariaDB GTID gtid begins: the offset of the first MariaDB GTID event
// of gtid's replication domain whose sequence number is greater than
// gtid.Seq (events of other domains are not considered). ErrNotFound is
// returned when the relay logs hold no such group, or when they reach
// back neither to gtid itself nor to its successor gtid.Seq+1 (so a gap
// cannot be ruled out).
func FindGTIDOffset(files []string, gtid binlog.MariaGTID) (Location, error) {
	if len(files) == 0 {
		return Location{}, fmt.Errorf("relaylog: find gtid %s: %w", gtid, ErrNoFiles)
	}
	first, err := initialSourceFile(files)
	if err != nil {
		return Location{}, err
	}
	s := &scanner{files: files, cur: binlog.Pos{File: first}}
	var loc Location
	// Sequence 0 means nothing of the domain was applied yet.
	found, seen := false, gtid.Seq == 0
	var scanErr error
	err = s.run(func(file string, ev binlog.Event, _ *binlog.Reader, start, _ binlog.Pos) (bool, error) {
		if ev.Type != binlog.MariaGTIDEvent {
			return false, nil
		}
		g, err := ev.MariaGTID()
		if err != nil {
			return false, fmt.Errorf("relaylog: %w", err)
		}
		if g.Domain != gtid.Domain {
			return false, nil
		}
		if g.Seq <= gtid.Seq {
			seen = true
			return false, nil
		}
		if !seen && g.Seq != gtid.Seq+1 {
			scanErr = fmt.Errorf("relaylog: find gtid %s: the relay logs start at %s, after it: %w", gtid, g, ErrNotFound)
			return true, nil
		}
		loc, found = Location{File: file, Offset: ev.Offset, Source: start}, true
		return true, nil
	}, func(string, uint64, binlog.Pos) bool { return false })
	if err != nil {
		return Location{}, fmt.Errorf("relaylog: find gtid %s: %w", gtid, err)
	}
	if scanErr != nil {
		return Location{}, scanErr
	}
	if !found {
		return Location{}, fmt.Errorf("relaylog: find gtid %s: no later event group in domain %d: %w", gtid, gtid.Domain, ErrNotFound)
	}
	return loc, nil
}
