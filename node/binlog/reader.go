package binlog

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
)

// Magic is the four bytes every binlog and relay log file starts with.
const Magic = "\xfebin"

// DefaultBufferSize is the read buffer of a Reader. Events up to this size
// are handed out without copying; larger ones are streamed (see Event.Raw).
const DefaultBufferSize = 512 << 10

// Reader reads the events of one binlog or relay-log file (format v4)
// sequentially. It reads the format description first and lets it decide
// the header length and whether events end with a CRC32 checksum; each
// later format description (a relay log holds the replica's, then the
// source's) takes over for the events after it.
//
// Next returns only the header and offsets of each event without copying
// or allocating; the body is there on request (Event.Raw, Event.Body and the
// typed decoders) until the next call to Next or Seek. With checksum
// verification on (the default), Next checks every event's CRC32 before
// returning it. Every event is complete when Next returns it: a half-written
// tail is reported as ErrTruncated, never as an event.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	name     string
	src      io.Reader
	closer   io.Closer
	seeker   io.Seeker
	readerAt io.ReaderAt
	br       *bufio.Reader
	bufSize  int
	verify   bool

	off        uint64 // file offset of the next byte br returns
	pending    int    // bytes of the current event still buffered in br
	started    bool   // the magic has been consumed
	headerDone bool   // an event other than the leading header events was read
	encrypted  bool   // a start-encryption event was read at encOff
	encOff     uint64
	err        error // sticky error; Seek clears it

	fd   *FormatDescription // the governing format description
	hlen int                // common header length announced by fd

	fileServerID uint32 // server_id of the FDE at offset 4
	relayLog     bool   // the FDE at offset 4 has FlagRelayLog

	seq uint64 // generation of the current event
	raw []byte // bytes of the current event when in memory, else nil
	big []byte // reusable copy buffer for events larger than the read buffer
}

// Open opens a binlog or relay-log file for reading. Close the Reader when
// done.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := NewReader(f, path)
	r.closer = f
	return r, nil
}

// NewReader returns a Reader over src, which must be positioned at the
// start of a binlog file (its magic). name is used in errors. If src is an
// io.Seeker, Seek jumps without reading; if it is an io.ReaderAt (as
// *os.File is), bodies of events larger than the read buffer are re-read on
// request instead of being copied while scanning.
func NewReader(src io.Reader, name string) *Reader {
	return newReaderSize(src, name, DefaultBufferSize)
}

// newReaderSize is NewReader with a chosen buffer size (tests use tiny ones
// to exercise the large-event path).
func newReaderSize(src io.Reader, name string, size int) *Reader {
	r := &Reader{name: name, src: src, verify: true, hlen: HeaderLen}
	r.br = bufio.NewReaderSize(src, max(size, 2*HeaderLen)) // a header must fit
	r.bufSize = r.br.Size()
	r.seeker, _ = src.(io.Seeker)
	r.readerAt, _ = src.(io.ReaderAt)
	return r
}

// Reset makes r read src, named name, from its start, keeping the read
// buffer and the verification setting (scanning many relay files with one
// Reader allocates nothing per file). A file opened by Open is closed first;
// the error of that close is returned.
func (r *Reader) Reset(src io.Reader, name string) error {
	err := r.Close()
	br, verify := r.br, r.verify
	*r = Reader{name: name, src: src, verify: verify, hlen: HeaderLen, br: br, bufSize: br.Size(), big: r.big[:0]}
	r.br.Reset(src)
	r.seeker, _ = src.(io.Seeker)
	r.readerAt, _ = src.(io.ReaderAt)
	return err
}

// SetVerifyChecksums turns CRC32 verification of each event on (the
// default) or off. Off, a header-only scan touches only event headers
// (the buffered reader still reads every byte from the file).
func (r *Reader) SetVerifyChecksums(on bool) { r.verify = on }

// Name returns the file name given to Open or NewReader.
func (r *Reader) Name() string { return r.name }

// Offset returns the file offset of the next event Next will read (after
// Seek, the offset sought); 0 before the first call to Next or Seek.
func (r *Reader) Offset() uint64 { return r.off + uint64(r.pending) }

// Format returns the format description in effect (the last one read), or
// nil before the first. The caller must not modify it.
func (r *Reader) Format() *FormatDescription { return r.fd }

// FileServerID returns the server_id of the format description at offset
// 4: the server that wrote the file (for a relay log, the replica itself,
// whose own events a relay-log scan skips). It is 0 until that event has
// been read.
func (r *Reader) FileServerID() uint32 { return r.fileServerID }

// IsRelayLog reports whether the format description at offset 4 carries
// FlagRelayLog, i.e. the file is a relay log written by a replica's I/O
// thread (MySQL 5.0+, MariaDB). It is false until that event has been read.
func (r *Reader) IsRelayLog() bool { return r.relayLog }

// Close closes the file if the Reader was made by Open.
func (r *Reader) Close() error {
	if r.closer == nil {
		return nil
	}
	err := r.closer.Close()
	r.closer = nil
	return err
}

// Next reads the next event. At the end of the input it returns io.EOF
// (unwrapped; calling Next again reads on if the file has grown). Other
// errors are *Error values naming the file, offset and event type, wrapping
// ErrTruncated, ErrChecksum, ErrCorrupt, ErrUnsupported, ErrEncrypted, or an
// I/O error. After ErrTruncated of an event that fits the read buffer the
// Reader stays at the start of the incomplete event, so Next can be retried
// once the writer has appended to the file; other errors stick until Seek.
func (r *Reader) Next() (Event, error) {
	if r.err != nil {
		return Event{}, r.err
	}
	r.seq++
	r.raw = nil
	if r.pending > 0 {
		n, _ := r.br.Discard(r.pending) // already buffered: cannot fail
		r.off += uint64(n)
		r.pending = 0
	}
	if !r.started {
		if err := r.readMagic(); err != nil {
			return Event{}, err
		}
	}
	start := r.off
	if r.encrypted {
		return Event{}, r.fail(start, UnknownEvent, fmt.Errorf("%w: events after the start-encryption event at offset %d", ErrEncrypted, r.encOff))
	}
	hb, err := r.br.Peek(HeaderLen)
	if len(hb) < HeaderLen {
		if len(hb) == 0 && err == io.EOF {
			return Event{}, io.EOF
		}
		t := UnknownEvent
		if len(hb) > 4 {
			t = EventType(hb[4])
		}
		return Event{}, r.readErr(start, t, err, false)
	}
	h := parseHeader(hb)
	ev := Event{Header: h, Offset: start, r: r, seq: r.seq, hlen: uint8(r.hlen)}
	if h.Type == FormatDescriptionEvent {
		ev.hlen = HeaderLen
	}
	if h.EventSize < uint32(ev.hlen) {
		return Event{}, r.fail(start, h.Type, corruptf("event size %d is smaller than the %d-byte header", h.EventSize, ev.hlen))
	}
	if r.fd == nil && h.Type != FormatDescriptionEvent {
		if h.Type == StartEventV3 {
			return Event{}, r.fail(start, h.Type, fmt.Errorf("%w: file starts with a v1/v3 start event", ErrUnsupported))
		}
		return Event{}, r.fail(start, h.Type, corruptf("first event is %s, not a format description", h.Type))
	}
	alg := ChecksumUndef
	if r.fd != nil {
		alg = r.fd.Checksum
	}
	fakeRotate := h.Type == RotateEvent && (h.Flags&FlagArtificial != 0 || h.LogPos == 0)
	var raw []byte
	if uint64(h.EventSize) <= uint64(r.bufSize) {
		size := int(h.EventSize)
		raw, err = r.br.Peek(size)
		if len(raw) < size {
			return Event{}, r.readErr(start, h.Type, err, false)
		}
		r.pending = size
	} else {
		// Larger than the buffer: stream it. Keep a copy when the reader
		// itself needs the body, or when it cannot be re-read later.
		keep := r.readerAt == nil || h.Type == FormatDescriptionEvent || fakeRotate
		raw, err = r.consumeLarge(ev, keep, !keep && r.verify && alg == ChecksumCRC32)
		if err != nil {
			return Event{}, err
		}
	}
	if raw != nil {
		size := len(raw)
		switch {
		case h.Type == FormatDescriptionEvent:
			fd, err := DecodeFormatDescription(raw[HeaderLen:])
			if err != nil {
				return Event{}, r.fail(start, h.Type, err)
			}
			// The FDE's checksum is computed with the in-use flag clear
			// (MySQL 5.6+, MariaDB 5.3+). With the algorithm off the stored
			// value is not maintained (a source re-sending its FDE with end
			// position 0 does not recompute it), so it is not checked.
			alg = fd.Checksum
			if r.verify && alg == ChecksumCRC32 {
				if got, want := fdeChecksum(raw), binary.LittleEndian.Uint32(raw[size-4:]); got != want {
					return Event{}, r.fail(start, h.Type, fmt.Errorf("%w: stored 0x%08x, computed 0x%08x", ErrChecksum, want, got))
				}
			}
			r.fd, r.hlen = fd, int(fd.HeaderLen)
			if start == uint64(len(Magic)) {
				r.fileServerID, r.relayLog = h.ServerID, h.Flags&FlagRelayLog != 0
			}
		case fakeRotate:
			// A source's artificial rotate in a relay log sits between the
			// replica's format description and the source's, and its
			// checksum follows whichever server wrote it: MariaDB 10.x
			// re-checksums it with the relay log's algorithm, MySQL keeps
			// the source's. Decide by the checksum itself.
			alg = ChecksumOff
			if size >= int(ev.hlen)+8+4 && crc32.ChecksumIEEE(raw[:size-4]) == binary.LittleEndian.Uint32(raw[size-4:]) {
				alg = ChecksumCRC32
			}
		case r.verify && alg == ChecksumCRC32 && size >= int(ev.hlen)+4:
			if got, want := crc32.ChecksumIEEE(raw[:size-4]), binary.LittleEndian.Uint32(raw[size-4:]); got != want {
				return Event{}, r.fail(start, h.Type, fmt.Errorf("%w: stored 0x%08x, computed 0x%08x", ErrChecksum, want, got))
			}
		}
		r.raw = raw
	}
	ev.Checksum = alg
	if alg.Size() > 0 && h.EventSize < uint32(ev.hlen)+uint32(alg.Size()) {
		return Event{}, r.fail(start, h.Type, corruptf("event size %d has no room for the checksum", h.EventSize))
	}
	switch h.Type {
	case StartEncryptionEvent:
		r.encrypted, r.encOff = true, start
	case FormatDescriptionEvent, RotateEvent, PreviousGTIDsEvent, MariaGTIDListEvent, BinlogCheckpointEvent:
	default:
		r.headerDone = true
	}
	return ev, nil
}

// consumeLarge reads the event that starts at ev.Offset and is larger than
// the read buffer. With keep it returns a copy of its bytes; with verify it
// checks the CRC32 while streaming.
func (r *Reader) consumeLarge(ev Event, keep, verify bool) ([]byte, error) {
	if !keep && !verify && r.seeker != nil && r.readerAt != nil {
		// Header-only scan of a file: jump over the body once its last
		// byte is known to exist.
		end := ev.End()
		var last [1]byte
		if end > math.MaxInt64 {
			return nil, r.fail(ev.Offset, ev.Type, corruptf("event ends beyond the largest file offset"))
		}
		if n, err := r.readerAt.ReadAt(last[:], int64(end-1)); n < 1 {
			return nil, r.readErr(ev.Offset, ev.Type, err, false)
		}
		if _, err := r.seeker.Seek(int64(end), io.SeekStart); err != nil {
			return nil, r.fail(ev.Offset, ev.Type, err)
		}
		r.br.Reset(r.src)
		r.off = end
		return nil, nil
	}
	// Counted in uint64 so that 32-bit platforms handle 4 GiB events too.
	total := uint64(ev.EventSize)
	crcEnd := total - 4 // total > buffer size >= 38
	var crc uint32
	var stored [4]byte
	if keep {
		r.big = r.big[:0]
	}
	for done := uint64(0); done < total; {
		want := int(min(total-done, uint64(r.bufSize)))
		chunk, err := r.br.Peek(want)
		if keep {
			r.big = append(r.big, chunk...)
		}
		if verify {
			if done < crcEnd {
				crc = crc32.Update(crc, crc32.IEEETable, chunk[:min(uint64(len(chunk)), crcEnd-done)])
			}
			for i := uint64(len(chunk)); i > 0 && done+i-1 >= crcEnd; i-- {
				stored[done+i-1-crcEnd] = chunk[i-1]
			}
		}
		n, _ := r.br.Discard(len(chunk))
		r.off += uint64(n)
		done += uint64(n)
		if len(chunk) < want {
			// Part of the event is consumed: the error sticks.
			return nil, r.readErr(ev.Offset, ev.Type, err, true)
		}
	}
	if verify && crc != binary.LittleEndian.Uint32(stored[:]) {
		return nil, r.fail(ev.Offset, ev.Type, fmt.Errorf("%w: stored 0x%08x, computed 0x%08x", ErrChecksum, binary.LittleEndian.Uint32(stored[:]), crc))
	}
	if keep {
		return r.big, nil
	}
	return nil, nil
}

// fdeChecksum computes the CRC32 of a format description event as the
// server does: over everything but the stored checksum, with the in-use
// flag cleared.
func fdeChecksum(raw []byte) uint32 {
	var fl [2]byte
	binary.LittleEndian.PutUint16(fl[:], binary.LittleEndian.Uint16(raw[17:])&^FlagBinlogInUse)
	c := crc32.ChecksumIEEE(raw[:17])
	c = crc32.Update(c, crc32.IEEETable, fl[:])
	return crc32.Update(c, crc32.IEEETable, raw[HeaderLen:len(raw)-4])
}

// readMagic consumes and checks the four magic bytes.
func (r *Reader) readMagic() error {
	b, err := r.br.Peek(len(Magic))
	if len(b) < len(Magic) {
		if err == io.EOF && bytes.HasPrefix([]byte(Magic), b) {
			return &Error{File: r.name, Offset: 0, Err: fmt.Errorf("%w: %d of 4 magic bytes", ErrTruncated, len(b))}
		}
		if err == io.EOF {
			return r.fail(0, UnknownEvent, ErrBadMagic)
		}
		return r.fail(0, UnknownEvent, err)
	}
	if string(b) != Magic {
		return r.fail(0, UnknownEvent, fmt.Errorf("%w: % x", ErrBadMagic, b))
	}
	n, _ := r.br.Discard(len(Magic))
	r.off = uint64(n)
	r.started = true
	return nil
}

// fail records a sticky error for the event at offset.
func (r *Reader) fail(offset uint64, t EventType, err error) error {
	r.err = &Error{File: r.name, Offset: offset, Event: t, Err: err}
	return r.err
}

// readErr turns a short read at offset into ErrTruncated (input ended) or
// the I/O error. Truncation sticks only when bytes were consumed.
func (r *Reader) readErr(offset uint64, t EventType, err error, consumed bool) error {
	if err == nil || err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		e := &Error{File: r.name, Offset: offset, Event: t, Err: ErrTruncated}
		if consumed {
			r.err = e
		}
		return e
	}
	return r.fail(offset, t, err)
}

// Seek positions the Reader so that Next reads the event starting at
// offset, which must be an event boundary (an Event's Offset or End, or a
// source position the caller mapped to one). It first reads the leading
// header events (format descriptions, rotates, GTID lists, checkpoints) up
// to offset so that the format descriptions in effect are known — in a
// relay log both the replica's and the source's. Events further into the
// file are not read: if a later format description changed the checksum
// algorithm (a source whose binlog_checksum changed while the relay log was
// written), scan with Next instead. Seek clears a sticky error, so it is
// also the way to retry after one.
//
// Sources that are io.Seekers (files) jump; others are read forward, and
// seeking backwards on them fails.
func (r *Reader) Seek(offset uint64) error {
	r.err = nil
	r.seq++
	r.raw = nil
	if offset < uint64(len(Magic)) {
		return &Error{File: r.name, Offset: offset, Err: fmt.Errorf("cannot seek to offset %d: the first event starts at 4", offset)}
	}
	for !r.headerDone && r.Offset() < offset {
		if _, err := r.Next(); err != nil {
			if err == io.EOF {
				break
			}
			return err
		}
	}
	if r.encrypted && offset <= r.encOff {
		r.encrypted = false
	}
	r.seq++
	r.raw = nil
	return r.reposition(offset)
}

// reposition moves the read position to offset: by discarding buffered or
// streamed bytes when moving forward within reach, else by seeking.
func (r *Reader) reposition(offset uint64) error {
	cur := r.off // the current event's pending bytes are still in br
	if offset >= cur && (offset-cur <= uint64(r.br.Buffered()) || r.seeker == nil) {
		r.pending = 0
		for gap := offset - cur; gap > 0; {
			step := int(min(gap, 1<<30))
			n, err := r.br.Discard(step)
			r.off += uint64(n)
			gap -= uint64(n)
			if err != nil {
				return r.readErr(r.off, UnknownEvent, err, true)
			}
		}
		return nil
	}
	if r.seeker == nil {
		return &Error{File: r.name, Offset: offset, Err: fmt.Errorf("cannot seek back from offset %d: input is not seekable", cur)}
	}
	if offset > math.MaxInt64 {
		return &Error{File: r.name, Offset: offset, Err: fmt.Errorf("offset %d out of range", offset)}
	}
	if _, err := r.seeker.Seek(int64(offset), io.SeekStart); err != nil {
		return r.fail(offset, UnknownEvent, err)
	}
	r.br.Reset(r.src)
	r.off, r.pending, r.started = offset, 0, true
	return nil
}

// Event is one event as returned by Reader.Next: its header and where it
// sits in the file. Its body is available through Raw, Body and the typed
// decoders only until the next call to Next or Seek on its Reader
// (afterwards they return ErrStale); copy what you need to keep. The header
// fields and offsets stay valid forever.
type Event struct {
	Header
	// Offset is the file offset where the event starts. Unlike the 32-bit
	// Header.LogPos it keeps counting beyond 4 GiB.
	Offset uint64
	// Checksum is the checksum algorithm this event was written with (from
	// the format description governing it).
	Checksum ChecksumAlg

	hlen uint8 // common header length for this event
	r    *Reader
	seq  uint64
}

// End returns the file offset just past the event.
func (e Event) End() uint64 { return e.Offset + uint64(e.EventSize) }

// Raw returns the whole event, header and checksum included, exactly as
// stored in the file (for copying events verbatim into another binlog).
// The slice belongs to the Reader and is valid until its next Next or Seek.
// Events larger than the read buffer are re-read from the file when the
// source is an io.ReaderAt.
func (e Event) Raw() ([]byte, error) {
	if e.r == nil || e.seq != e.r.seq {
		return nil, e.errorf(ErrStale)
	}
	if e.r.raw != nil {
		return e.r.raw, nil
	}
	if e.r.readerAt == nil || e.Offset > math.MaxInt64 {
		return nil, e.errorf(errors.New("event body not available"))
	}
	buf := make([]byte, e.EventSize)
	if n, err := e.r.readerAt.ReadAt(buf, int64(e.Offset)); n < len(buf) {
		if err == nil || err == io.EOF {
			err = ErrTruncated // the file shrank since Next read it
		}
		return nil, e.errorf(err)
	}
	e.r.raw = buf
	return buf, nil
}

// Body returns the event bytes after the common header without the
// checksum: the input of the Decode* functions. For a format description
// it is everything after the header, algorithm byte and checksum included,
// which is what DecodeFormatDescription takes. Same lifetime as Raw.
func (e Event) Body() ([]byte, error) {
	raw, err := e.Raw()
	if err != nil {
		return nil, err
	}
	if e.Type == FormatDescriptionEvent {
		return raw[HeaderLen:], nil
	}
	end := len(raw) - e.Checksum.Size()
	if end < int(e.hlen) {
		return nil, e.errorf(corruptf("event of %d bytes has no body", len(raw)))
	}
	return raw[e.hlen:end], nil
}

// errorf wraps err with the event's file, offset and type.
func (e Event) errorf(err error) error {
	name := ""
	if e.r != nil {
		name = e.r.name
	}
	return &Error{File: name, Offset: e.Offset, Event: e.Type, Err: err}
}

// body checks the event type and returns the body and governing format.
func (e Event) body(types ...EventType) ([]byte, *FormatDescription, error) {
	ok := false
	for _, t := range types {
		ok = ok || e.Type == t
	}
	if !ok {
		return nil, nil, e.errorf(fmt.Errorf("%w: want %s", ErrEventType, types[0]))
	}
	b, err := e.Body()
	if err != nil {
		return nil, nil, err
	}
	return b, e.r.fd, nil
}

// FormatDescription decodes a format description event.
func (e Event) FormatDescription() (*FormatDescription, error) {
	b, _, err := e.body(FormatDescriptionEvent)
	if err != nil {
		return nil, err
	}
	fd, err := DecodeFormatDescription(b)
	if err != nil {
		return nil, e.errorf(err)
	}
	return fd, nil
}

// Rotate decodes a rotate event.
func (e Event) Rotate() (Rotate, error) {
	b, fd, err := e.body(RotateEvent)
	if err != nil {
		return Rotate{}, err
	}
	v, err := DecodeRotate(b, fd)
	if err != nil {
		return Rotate{}, e.errorf(err)
	}
	return v, nil
}

// Query decodes a query event.
func (e Event) Query() (Query, error) {
	b, fd, err := e.body(QueryEvent)
	if err != nil {
		return Query{}, err
	}
	v, err := DecodeQuery(b, fd)
	if err != nil {
		return Query{}, e.errorf(err)
	}
	return v, nil
}

// Xid decodes an Xid event and returns the transaction id.
func (e Event) Xid() (uint64, error) {
	b, fd, err := e.body(XidEvent)
	if err != nil {
		return 0, err
	}
	v, err := DecodeXid(b, fd)
	if err != nil {
		return 0, e.errorf(err)
	}
	return v, nil
}

// MariaGTID decodes a MariaDB GTID event; ServerID comes from the header.
func (e Event) MariaGTID() (MariaGTID, error) {
	b, fd, err := e.body(MariaGTIDEvent)
	if err != nil {
		return MariaGTID{}, err
	}
	v, err := DecodeMariaGTID(b, fd)
	if err != nil {
		return MariaGTID{}, e.errorf(err)
	}
	v.ServerID = e.ServerID
	return v, nil
}

// GTIDList decodes a MariaDB GTID list event.
func (e Event) GTIDList() (GTIDList, error) {
	b, fd, err := e.body(MariaGTIDListEvent)
	if err != nil {
		return GTIDList{}, err
	}
	v, err := DecodeGTIDList(b, fd)
	if err != nil {
		return GTIDList{}, e.errorf(err)
	}
	return v, nil
}

// BinlogCheckpoint decodes a MariaDB binlog checkpoint event and returns
// the binlog file name it names.
func (e Event) BinlogCheckpoint() (string, error) {
	b, fd, err := e.body(BinlogCheckpointEvent)
	if err != nil {
		return "", err
	}
	v, err := DecodeBinlogCheckpoint(b, fd)
	if err != nil {
		return "", e.errorf(err)
	}
	return v, nil
}

// AnnotateRows decodes a MariaDB annotate rows event and returns the
// statement text.
func (e Event) AnnotateRows() (string, error) {
	b, fd, err := e.body(AnnotateRowsEvent)
	if err != nil {
		return "", err
	}
	v, err := DecodeAnnotateRows(b, fd)
	if err != nil {
		return "", e.errorf(err)
	}
	return v, nil
}

// MySQLGTID decodes a MySQL GTID or anonymous GTID event.
func (e Event) MySQLGTID() (MySQLGTID, error) {
	b, _, err := e.body(GTIDEvent, AnonymousGTIDEvent)
	if err != nil {
		return MySQLGTID{}, err
	}
	v, err := DecodeMySQLGTID(e.Type, b)
	if err != nil {
		return MySQLGTID{}, e.errorf(err)
	}
	return v, nil
}

// PreviousGTIDs decodes a MySQL previous GTIDs event.
func (e Event) PreviousGTIDs() (GTIDSet, error) {
	b, _, err := e.body(PreviousGTIDsEvent)
	if err != nil {
		return nil, err
	}
	v, err := DecodePreviousGTIDs(b)
	if err != nil {
		return nil, e.errorf(err)
	}
	return v, nil
}
