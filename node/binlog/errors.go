package binlog

import (
	"errors"
	"fmt"
)

// Sentinel errors of the event reader. They are wrapped in an *Error that
// names the file, the offset and the event; match them with errors.Is.
var (
	// ErrBadMagic reports a file that does not start with the binlog magic
	// bytes 0xfe 'b' 'i' 'n'.
	ErrBadMagic = errors.New("not a binlog file (bad magic)")

	// ErrTruncated reports an input that ends inside the magic, an event
	// header or an event body: the half-written tail of a binlog that is
	// still being written or whose server crashed. Callers scanning a live or
	// crashed binlog can treat it as the end of the usable data; the Offset
	// of the *Error is where the incomplete event starts.
	ErrTruncated = errors.New("truncated event")

	// ErrChecksum reports an event whose CRC32 checksum does not match its
	// bytes.
	ErrChecksum = errors.New("checksum mismatch")

	// ErrCorrupt reports bytes that cannot be a valid event: an impossible
	// length, a missing format description, or a body too short for its
	// fields.
	ErrCorrupt = errors.New("corrupt event")

	// ErrUnsupported reports a binlog in a format older than version 4
	// (MySQL 3.23 to 4.x), which the reader does not handle.
	ErrUnsupported = errors.New("unsupported binlog format version")

	// ErrEncrypted reports the events after a MariaDB start-encryption
	// event (MariaDB 10.1.7+ with encrypt_binlog=ON): their bytes are
	// encrypted and cannot be read.
	ErrEncrypted = errors.New("binlog is encrypted")

	// ErrStale reports an Event whose body was asked for after the Reader
	// had moved on to another event (Next or Seek was called since).
	ErrStale = errors.New("event is no longer current")

	// ErrEventType reports a typed decoder called on an event of another
	// type, such as Event.Rotate on a query event.
	ErrEventType = errors.New("wrong event type for decoder")
)

// Error is the error returned by the Reader and by Event decoders. It names
// the file, the byte offset where the event starts, and the event type when
// the header could be read (UnknownEvent otherwise).
type Error struct {
	File   string
	Offset uint64
	Event  EventType
	Err    error
}

// Error renders "binlog FILE at offset N (TYPE event): ERR".
func (e *Error) Error() string {
	if e.Event == UnknownEvent {
		return fmt.Sprintf("binlog %s at offset %d: %v", e.File, e.Offset, e.Err)
	}
	return fmt.Sprintf("binlog %s at offset %d (%s event): %v", e.File, e.Offset, e.Event, e.Err)
}

// Unwrap returns the underlying error, usually one of the sentinel errors.
func (e *Error) Unwrap() error { return e.Err }

// corruptf returns an error wrapping ErrCorrupt with a detail message.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}
