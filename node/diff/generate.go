// Package diff writes the events a replica lacks as a binlog file ("diff")
// and applies such a file to a server, as MHA's apply_diff_relay_logs and
// save_binary_logs do during a dead-master failover.
//
// Generate copies source events verbatim from a replica's relay logs,
// starting at a relaylog.Location, into one valid binlog file: the magic,
// the source's format description, then the source's events. The replica's
// own events (its format descriptions, relay rotates, stop events) and the
// source's rotates, repeated format descriptions, GTID lists and binlog
// checkpoints (headers of each source binlog, not data) are left out; a source
// format description is kept only where the source's checksum algorithm
// changes, so every event is read with the checksum setting it was written
// with. mariadb-binlog and mysqlbinlog read the result.
//
// Apply pipes a diff through mariadb-binlog (or mysqlbinlog) into the
// mariadb (or mysql) client on the target, with max_allowed_packet raised to
// 1 GiB around it, and guards against applying a diff twice with a marker
// row on the target (see Apply).
//
// The package never logs; errors name the file, offset, host and step.
package diff

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/gomha/gomha/node/binlog"
	"github.com/gomha/gomha/node/relaylog"
)

// Sentinel errors of the package; match them with errors.Is.
var (
	// ErrNoFormat reports relay logs in which no source format description
	// precedes the first event to copy, so the diff's header is unknown.
	ErrNoFormat = errors.New("no source format description before the events")

	// ErrNotInList reports a start location whose file is not among the
	// relay files given.
	ErrNotInList = errors.New("start file is not among the relay files")

	// ErrNotBoundary reports a start offset inside an event.
	ErrNotBoundary = errors.New("start offset is not an event boundary")

	// ErrNotDiff reports a file that Apply cannot use: not a binlog, or
	// without a format description.
	ErrNotDiff = errors.New("not a diff file")

	// ErrAlreadyApplied reports a diff whose marker on the target says it
	// was applied completely before.
	ErrAlreadyApplied = errors.New("diff was already applied on this server")

	// ErrPartiallyApplied reports a diff whose marker on the target says an
	// earlier apply started and did not finish: some of its transactions
	// may be committed, so applying it again could apply them twice.
	// Recovery is manual.
	ErrPartiallyApplied = errors.New("an earlier apply of this diff did not finish; manual recovery needed")
)

// Result describes a generated diff.
type Result struct {
	// Events is the number of source events copied (format descriptions
	// not counted).
	Events int
	// Bytes is the size of the file written, header included.
	Bytes int64
	// Start is the source position the diff starts at; End the source
	// position after its last event (equal to Start when empty).
	Start, End binlog.Pos
	// Digest is the hex SHA-256 of the event bytes after the header, the
	// identity Apply records on the target.
	Digest string
}

// Generate writes to w a binlog file holding every source event of the relay
// files (in relay-log order) from from (as returned by relaylog.FindOffset or
// relaylog.FindGTIDOffset) to the end of the last file. A half-written event
// at the end of the last file is left out. The diff may hold no events (the
// replica was not behind); it is still a valid binlog file then, and
// Result.Events is 0.
func Generate(ctx context.Context, files []string, from relaylog.Location, w io.Writer) (Result, error) {
	res := Result{Start: from.Source, End: from.Source}
	start := -1
	for i, f := range files {
		if f == from.File || filepath.Clean(f) == filepath.Clean(from.File) {
			start = i
			break
		}
	}
	if start < 0 {
		return res, fmt.Errorf("diff: generate from %s:%d: %w", from.File, from.Offset, ErrNotInList)
	}
	g := &generator{bw: bufio.NewWriterSize(w, 1<<20), digest: sha256.New(), cur: from.Source}
	r := binlog.NewReader(eofReader{}, "")
	defer r.Close()
	for i := start; i < len(files); i++ {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("diff: generate: %w", err)
		}
		skipTo := uint64(0)
		if i == start {
			skipTo = from.Offset
		}
		if err := g.copyFile(ctx, r, files[i], skipTo, i == len(files)-1); err != nil {
			return res, err
		}
	}
	if !g.headerDone {
		if g.fde == nil {
			return res, fmt.Errorf("diff: generate from %s:%d: %w", from.File, from.Offset, ErrNoFormat)
		}
		if err := g.writeHeader(); err != nil {
			return res, err
		}
	}
	if err := g.bw.Flush(); err != nil {
		return res, fmt.Errorf("diff: generate: write: %w", err)
	}
	res.Events, res.Bytes, res.End = g.events, g.n, g.cur
	res.Digest = hex.EncodeToString(g.digest.Sum(nil))
	return res, nil
}

// eofReader is an empty source for a Reader that is Reset before use.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

type generator struct {
	bw         *bufio.Writer
	digest     hash.Hash
	n          int64
	events     int
	fde        []byte // the source format description in effect (raw)
	fdeAlg     binlog.ChecksumAlg
	headerDone bool
	writtenAlg binlog.ChecksumAlg
	cur        binlog.Pos
}

func (g *generator) write(b []byte, data bool) error {
	n, err := g.bw.Write(b)
	g.n += int64(n)
	if err != nil {
		return fmt.Errorf("diff: generate: write: %w", err)
	}
	if data {
		g.digest.Write(b)
	}
	return nil
}

func (g *generator) writeHeader() error {
	if err := g.write([]byte(binlog.Magic), false); err != nil {
		return err
	}
	g.headerDone, g.writtenAlg = true, g.fdeAlg
	return g.write(g.fde, false)
}

func (g *generator) copyFile(ctx context.Context, r *binlog.Reader, name string, skipTo uint64, last bool) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("diff: generate: %w", err)
	}
	defer f.Close()
	if err := r.Reset(f, name); err != nil {
		return fmt.Errorf("diff: generate: %w", err)
	}
	for k := 0; ; k++ {
		if k%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("diff: generate: %s: %w", name, err)
			}
		}
		ev, err := r.Next()
		if err == io.EOF {
			if skipTo > r.Offset() {
				return fmt.Errorf("diff: generate: %s:%d is past the end of the file (%d): %w", name, skipTo, r.Offset(), ErrNotBoundary)
			}
			return nil
		}
		if err != nil {
			if last && errors.Is(err, binlog.ErrTruncated) {
				return nil // half-written tail of the last relay log
			}
			return fmt.Errorf("diff: generate: %w", err)
		}
		if ev.ServerID == r.FileServerID() {
			continue // the replica's own event
		}
		if ev.Type == binlog.FormatDescriptionEvent {
			raw, err := ev.Raw()
			if err != nil {
				return fmt.Errorf("diff: generate: %w", err)
			}
			g.fde, g.fdeAlg = append(g.fde[:0:0], raw...), ev.Checksum
			if fd := r.Format(); fd != nil {
				g.fdeAlg = fd.Checksum
			}
			if ev.Offset >= skipTo && g.headerDone && g.fdeAlg != g.writtenAlg {
				// The source changed binlog_checksum: keep its format
				// description so the events after it are read right.
				g.writtenAlg = g.fdeAlg
				if err := g.write(g.fde, true); err != nil {
					return err
				}
			}
			continue
		}
		if ev.Offset < skipTo {
			if ev.End() > skipTo {
				return fmt.Errorf("diff: generate: %s:%d is inside the %s event at %d: %w", name, skipTo, ev.Type, ev.Offset, ErrNotBoundary)
			}
			continue
		}
		if ev.Type == binlog.MariaGTIDListEvent || ev.Type == binlog.BinlogCheckpointEvent {
			// Headers of each source binlog, not data. A GTID list in
			// the middle of the diff makes mariadb-binlog (10.11)
			// report missing GTID data and exit 1.
			continue
		}
		if ev.Type == binlog.RotateEvent {
			if rot, err := ev.Rotate(); err == nil {
				g.cur = binlog.Pos{File: rot.NextFile, Offset: rot.Position}
			}
			continue
		}
		if !g.headerDone {
			if g.fde == nil {
				return fmt.Errorf("diff: generate: %s:%d: %w", name, ev.Offset, ErrNoFormat)
			}
			if err := g.writeHeader(); err != nil {
				return err
			}
		}
		raw, err := ev.Raw()
		if err != nil {
			return fmt.Errorf("diff: generate: %w", err)
		}
		if err := g.write(raw, true); err != nil {
			return err
		}
		g.events++
		if ev.LogPos != 0 {
			g.cur.Offset = binlog.WidenLogPos(ev.LogPos, g.cur.Offset)
		}
	}
}
