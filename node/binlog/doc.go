// Package binlog reads MySQL and MariaDB binary logs and relay logs (binlog
// format v4), and models binlog coordinates (Pos).
//
// # Reading events
//
// A Reader streams one file through a large buffered reader. It checks the
// magic, reads the format description event at offset 4 and lets it decide
// the common header length, the post-header lengths and the checksum
// algorithm; every later format description takes over for the events after
// it. A relay log holds at least two: the replica's own (flag FlagRelayLog,
// the replica's server_id) and then, after the source's artificial rotate,
// the source's; MariaDB repeats the source's after every source rotation and
// reconnection. Artificial rotates are the one event whose checksum can
// follow either server, so the Reader decides by the checksum itself.
//
//	r, err := binlog.Open("/var/lib/mysql/relay-bin.000012")
//	...
//	defer r.Close()
//	for {
//		ev, err := r.Next()
//		if err == io.EOF {
//			break
//		}
//		if errors.Is(err, binlog.ErrTruncated) {
//			break // half-written tail of a live or crashed binlog
//		}
//		if err != nil {
//			return err
//		}
//		if ev.Type == binlog.RotateEvent {
//			rot, err := ev.Rotate()
//			...
//		}
//	}
//
// Next parses only the 19-byte header and hands out the event's bytes
// without copying or allocating; bodies are decoded only when asked for
// (Event.Raw, Event.Body, Event.Rotate, Event.Query, ...) and only until the
// next Next or Seek. Every event is complete and, with verification on (the
// default; SetVerifyChecksums), has a valid CRC32 before Next returns it.
// Event.Offset is the 64-bit file offset, which keeps counting beyond 4 GiB
// where the 32-bit Header.LogPos wraps (WidenLogPos recovers full values).
// Unknown event types are returned with their header and never are errors.
//
// Seek jumps to an event boundary after reading the leading header events
// (so both format descriptions of a relay log are known); Reset reuses a
// Reader, and its buffer, for the next file. FileServerID and IsRelayLog
// tell a relay log and the replica's own server_id (whose events a relay
// scan skips) from the format description at offset 4. Events larger than
// DefaultBufferSize are streamed past (or, with verification off, seeked
// past) and re-read on request when the source is a file; only a source
// that cannot be re-read (a pipe) makes the Reader keep a copy of them.
//
// Errors are *Error values naming the file, the offset and the event type,
// wrapping one of ErrBadMagic, ErrTruncated, ErrChecksum, ErrCorrupt,
// ErrUnsupported, ErrEncrypted or an I/O error. Nothing in the package
// panics on any input; every decoder is fuzzed.
//
// The typed decoders cover the events a failover needs: format
// description, rotate, stop (no body), query, Xid, MySQL GTID / anonymous
// GTID / previous GTIDs, MariaDB GTID, GTID list, binlog checkpoint and
// annotate rows. Row events, table maps, user variables and the like are
// not decoded: a failover copies them verbatim (Event.Raw, or byte ranges
// between Event offsets).
//
// Limitations: binlog formats before v4 (MySQL < 5.0) and encrypted MariaDB
// binlogs are refused (ErrUnsupported, ErrEncrypted); MySQL 8.3+ tagged
// GTID events are returned undecoded and tagged GTID sets in previous-GTIDs
// events give ErrUnsupported; the checksum of an artificial rotate is
// detected, so a damaged one reads as "no checksum" rather than
// ErrChecksum; Seek assumes the checksum algorithm of the leading format
// descriptions holds at the target offset.
package binlog
