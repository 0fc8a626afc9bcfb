// Package savebinlog copies the tail of a server's binary logs, from a
// position to the end of the newest binlog, into one file that
// mariadb-binlog (or mysqlbinlog) reads as a single binlog. It is what MHA's
// save_binary_logs does in raw mode (handle_raw_binlog=1) on a dead master:
// the manager later applies that file on the new master.
//
// The output is the binlog magic, the first file's format description event
// and then every complete event from the start position onward, file after
// file in numbering order. The format descriptions at the start of the later
// files are left out unless they change the checksum algorithm or the
// common header length (then they are kept, so the reader switches format at
// the same point). Rotate and stop events are kept; the GTID-list and
// binlog-checkpoint events of the later files are dropped, because they
// restate the GTID state and mariadb-binlog (MariaDB 10.8+) rejects a GTID
// list that does not match the events before it. A
// half-written event at the end of a file (a crashed or still-running
// writer, binlog.ErrTruncated) ends that file's contribution cleanly.
//
// Unlike MHA, a start position equal to the size of its file is not "no
// events" when newer files exist: their events are saved.
package savebinlog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gomha/gomha/node/binlog"
)

// Sentinel errors of the package, matched with errors.Is.
var (
	// ErrNotFound reports a start file that is in none of the binlog
	// directories.
	ErrNotFound = errors.New("binlog file not found")

	// ErrNoEvents reports that there is no data event after the start
	// position (MHA's "Event not exists.", exit code 10). The output file
	// is still written, holding only header events.
	ErrNoEvents = errors.New("no events after the start position")

	// ErrPosition reports a start position beyond the end of its file or
	// not on an event boundary.
	ErrPosition = errors.New("start position is not an event boundary of the file")

	// ErrBadGTID reports an unparsable MariaDB GTID position.
	ErrBadGTID = errors.New("bad MariaDB GTID position")
)

// Options say what to save.
type Options struct {
	// Dirs are the directories searched for StartFile, in order; the first
	// one holding it is used (MHA's comma-separated --binlog_dir). Later
	// files are taken from the same directory.
	Dirs []string
	// StartFile is the base name of the first binlog to copy from, e.g.
	// "mysql-bin.000012". With GTIDPos set it may be empty: the oldest
	// binlog with Prefix in the first directory that has one is used.
	StartFile string
	// StartPos is the offset in StartFile of the first event to copy.
	// Values below the end of the file's format description mean "from
	// the first event after the header". Ignored when GTIDPos is set.
	StartPos uint64
	// GTIDPos is a MariaDB GTID position ("0-1-100,1-2-7", as
	// gtid_slave_pos prints it). When set, copying starts at the first
	// MariaDB GTID event not covered by it: of a domain it does not list,
	// or with a sequence number above the listed one. Events of other
	// domains after that point are copied too.
	GTIDPos string
	// Prefix is the binlog base name ("mysql-bin") used to find the oldest
	// file when StartFile is empty.
	Prefix string
}

// Result describes a saved tail.
type Result struct {
	// Dir is the directory the binlogs were read from.
	Dir string
	// Files are the base names of the files read, oldest first.
	Files []string
	// Start is where copying started; End is the end of the last complete
	// event read (in the last file).
	Start, End binlog.Pos
	// Events is the number of data events copied (header events such as
	// format descriptions, rotates, GTID lists and binlog checkpoints are
	// not counted); Bytes is the size of the output.
	Events int
	Bytes  int64
	// Truncated lists the files whose tail held a half-written event,
	// which was left out.
	Truncated []binlog.Pos
}

// Locate finds startFile in the first of dirs that holds it and returns
// that directory and the files to read: startFile and every later binlog
// with the same base name in that directory, in numeric order. A gap in the
// numbering ends the list (MariaDB never skips a number).
func Locate(dirs []string, startFile string) (dir string, files []string, err error) {
	base, num, err := binlog.SplitName(startFile)
	if err != nil {
		return "", nil, fmt.Errorf("savebinlog: start file %q: %w", startFile, err)
	}
	for _, d := range dirs {
		if st, err := os.Stat(filepath.Join(d, startFile)); err == nil && st.Mode().IsRegular() {
			dir = d
			break
		}
	}
	if dir == "" {
		return "", nil, fmt.Errorf("savebinlog: %s in %s: %w", startFile, strings.Join(dirs, ","), ErrNotFound)
	}
	nums, err := listNumbers(dir, base)
	if err != nil {
		return "", nil, err
	}
	byNum := make(map[uint64]string, len(nums))
	for _, n := range nums {
		byNum[n.num] = n.name
	}
	files = []string{startFile}
	for n := num + 1; ; n++ {
		name, ok := byNum[n]
		if !ok {
			break
		}
		files = append(files, name)
	}
	return dir, files, nil
}

type numbered struct {
	name string
	num  uint64
}

// listNumbers lists the files "<base>.<digits>" of dir in numeric order.
func listNumbers(dir, base string) ([]numbered, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("savebinlog: list %s: %w", dir, err)
	}
	var out []numbered
	for _, e := range ents {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, base+".")
		if !ok || rest == "" || strings.Trim(rest, "0123456789") != "" || !e.Type().IsRegular() {
			continue
		}
		n, err := strconv.ParseUint(rest, 10, 64)
		if err != nil {
			continue
		}
		out = append(out, numbered{name, n})
	}
	slices.SortFunc(out, func(a, b numbered) int {
		switch {
		case a.num < b.num:
			return -1
		case a.num > b.num:
			return 1
		}
		return 0
	})
	return out, nil
}

// Last returns the directory and base name of the newest binlog with base
// name prefix in the first of dirs that has one (MHA's "Binlog found at
// <dir>, up to <file>").
func Last(dirs []string, prefix string) (dir, file string, err error) {
	d, files, err := all(dirs, prefix)
	if err != nil {
		return "", "", err
	}
	return d, files[len(files)-1], nil
}

// all lists the binlogs with base name prefix in the first of dirs that has
// any.
func all(dirs []string, prefix string) (string, []string, error) {
	for _, d := range dirs {
		nums, err := listNumbers(d, prefix)
		if err != nil {
			continue
		}
		if len(nums) > 0 {
			names := make([]string, len(nums))
			for i, n := range nums {
				names[i] = n.name
			}
			return d, names, nil
		}
	}
	return "", nil, fmt.Errorf("savebinlog: %s.* in %s: %w", prefix, strings.Join(dirs, ","), ErrNotFound)
}

// ParseGTIDPos parses a MariaDB GTID position "domain-server-seq,..." into
// the highest sequence number per domain.
func ParseGTIDPos(s string) (map[uint32]uint64, error) {
	pos := map[uint32]uint64{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f := strings.Split(part, "-")
		if len(f) != 3 {
			return nil, fmt.Errorf("savebinlog: %q: %w", part, ErrBadGTID)
		}
		d, err1 := strconv.ParseUint(f[0], 10, 32)
		_, err2 := strconv.ParseUint(f[1], 10, 32)
		n, err3 := strconv.ParseUint(f[2], 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("savebinlog: %q: %w", part, ErrBadGTID)
		}
		if n > pos[uint32(d)] {
			pos[uint32(d)] = n
		}
	}
	return pos, nil
}

// SaveFile runs Save into path, which is created or replaced with mode
// 0600: a binlog holds every row the master wrote.
// On errors other than ErrNoEvents the partial file is removed.
func SaveFile(ctx context.Context, opts Options, path string) (Result, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return Result{}, fmt.Errorf("savebinlog: create output: %w", err)
	}
	if err := f.Chmod(0o600); err != nil { // a file replaced keeps its mode
		f.Close()
		return Result{}, fmt.Errorf("savebinlog: chmod %s: %w", path, err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	res, err := Save(ctx, opts, bw)
	if ferr := bw.Flush(); ferr != nil && (err == nil || errors.Is(err, ErrNoEvents)) {
		err = fmt.Errorf("savebinlog: write %s: %w", path, ferr)
	}
	if cerr := f.Close(); cerr != nil && (err == nil || errors.Is(err, ErrNoEvents)) {
		err = fmt.Errorf("savebinlog: close %s: %w", path, cerr)
	}
	if err != nil && !errors.Is(err, ErrNoEvents) {
		os.Remove(path)
	}
	return res, err
}

// Save writes the binlog tail described by opts to w (see the package
// documentation for the format). It returns ErrNoEvents, with a complete
// Result, when no data event follows the start position.
func Save(ctx context.Context, opts Options, w io.Writer) (Result, error) {
	var gtidPos map[uint32]uint64
	var (
		dir   string
		files []string
		err   error
	)
	if opts.GTIDPos != "" {
		if gtidPos, err = ParseGTIDPos(opts.GTIDPos); err != nil {
			return Result{}, err
		}
	}
	switch {
	case opts.StartFile != "":
		dir, files, err = Locate(opts.Dirs, opts.StartFile)
	case gtidPos != nil && opts.Prefix != "":
		dir, files, err = all(opts.Dirs, opts.Prefix)
	default:
		err = errors.New("savebinlog: no start file given")
	}
	if err != nil {
		return Result{}, err
	}
	s := &saver{ctx: ctx, w: w, gtid: gtidPos, copying: gtidPos == nil}
	s.res.Dir = dir
	for i, name := range files {
		start := uint64(0)
		if i == 0 && gtidPos == nil {
			start = opts.StartPos
			s.res.Start = binlog.Pos{File: name, Offset: start}
		}
		if err := s.file(filepath.Join(dir, name), name, start); err != nil {
			return s.res, err
		}
		s.res.Files = append(s.res.Files, name)
	}
	if s.res.Events == 0 {
		return s.res, fmt.Errorf("savebinlog: from %s in %s: %w", s.res.Start, dir, ErrNoEvents)
	}
	return s.res, nil
}

// saver carries the state of one Save across files.
type saver struct {
	ctx     context.Context
	w       io.Writer
	res     Result
	fd      *binlog.FormatDescription // the one in effect in the output
	gtid    map[uint32]uint64
	copying bool // past the start point
}

func (s *saver) write(b []byte) error {
	n, err := s.w.Write(b)
	s.res.Bytes += int64(n)
	return err
}

// isHeader reports event types that carry no data of their own.
func isHeader(t binlog.EventType) bool {
	switch t {
	case binlog.FormatDescriptionEvent, binlog.RotateEvent, binlog.StopEvent,
		binlog.PreviousGTIDsEvent, binlog.MariaGTIDListEvent, binlog.BinlogCheckpointEvent:
		return true
	}
	return false
}

// file copies one binlog from start (0: from its first event after the
// format description).
func (s *saver) file(path, name string, start uint64) error {
	r, err := binlog.Open(path)
	if err != nil {
		return fmt.Errorf("savebinlog: open %s: %w", path, err)
	}
	defer r.Close()
	first := s.fd == nil
	later := !first
	// The format description at offset 4.
	ev, err := r.Next()
	if err != nil {
		return fmt.Errorf("savebinlog: read format description: %w", err)
	}
	if ev.Type != binlog.FormatDescriptionEvent {
		return fmt.Errorf("savebinlog: %s:4: first event is %s, not a format description: %w", path, ev.Type, binlog.ErrCorrupt)
	}
	fd, err := ev.FormatDescription()
	if err != nil {
		return fmt.Errorf("savebinlog: %w", err)
	}
	if first || fd.Checksum != s.fd.Checksum || fd.HeaderLen != s.fd.HeaderLen {
		raw, err := ev.Raw()
		if err != nil {
			return fmt.Errorf("savebinlog: %w", err)
		}
		if first {
			if err := s.write([]byte(binlog.Magic)); err != nil {
				return fmt.Errorf("savebinlog: write output: %w", err)
			}
		}
		if err := s.write(raw); err != nil {
			return fmt.Errorf("savebinlog: write output: %w", err)
		}
		s.fd = fd
	}
	end := ev.End()
	if start > end {
		st, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("savebinlog: %w", err)
		}
		if start > uint64(st.Size()) {
			return fmt.Errorf("savebinlog: %s:%d: file has %d bytes: %w", path, start, st.Size(), ErrPosition)
		}
		if err := r.Seek(start); err != nil {
			return fmt.Errorf("savebinlog: seek %s:%d: %w", path, start, err)
		}
		end = start
	}
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := s.ctx.Err(); err != nil {
				return fmt.Errorf("savebinlog: %s:%d: %w", path, end, err)
			}
		}
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, binlog.ErrTruncated) {
			s.res.Truncated = append(s.res.Truncated, binlog.Pos{File: name, Offset: r.Offset()})
			break
		}
		if err != nil {
			if start > 0 && n == 0 && errors.Is(err, binlog.ErrCorrupt) {
				return fmt.Errorf("savebinlog: %s:%d: %w: %w", path, start, ErrPosition, err)
			}
			return fmt.Errorf("savebinlog: %w", err)
		}
		end = ev.End()
		if ev.Type == binlog.FormatDescriptionEvent {
			// A later format description inside a file (not written by
			// binlogs, but harmless): keep it so the format stays right.
			fd2, err := ev.FormatDescription()
			if err != nil {
				return fmt.Errorf("savebinlog: %w", err)
			}
			s.fd = fd2
		}
		if !s.copying {
			if ev.Type != binlog.MariaGTIDEvent {
				continue
			}
			g, err := ev.MariaGTID()
			if err != nil {
				return fmt.Errorf("savebinlog: %w", err)
			}
			if seq, ok := s.gtid[g.Domain]; ok && g.Seq <= seq {
				continue
			}
			s.copying = true
			s.res.Start = binlog.Pos{File: name, Offset: ev.Offset}
		}
		if later && (ev.Type == binlog.MariaGTIDListEvent || ev.Type == binlog.BinlogCheckpointEvent) {
			// mariadb-binlog 10.11 checks every GTID list against the
			// GTIDs it has seen and fails on the restated state at the
			// start of each later file.
			continue
		}
		raw, err := ev.Raw()
		if err != nil {
			return fmt.Errorf("savebinlog: %w", err)
		}
		if err := s.write(raw); err != nil {
			return fmt.Errorf("savebinlog: write output: %w", err)
		}
		if !isHeader(ev.Type) {
			s.res.Events++
		}
	}
	s.res.End = binlog.Pos{File: name, Offset: end}
	return nil
}
