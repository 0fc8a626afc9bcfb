package binlog

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// The Decode* functions take an event body: the event bytes after the
// common header, without the trailing checksum (Event.Body returns exactly
// that). The FormatDescription supplies post-header lengths; nil means the
// usual v4 lengths. They never panic; malformed input gives an error that
// wraps ErrCorrupt. Decoded values own their memory (nothing aliases body).

// Rotate is the body of a rotate event (type 4): the binlog continues in
// NextFile at Position. In a relay log, a rotate written by the source
// (server_id of the source) names the source's binlog; one written by the
// replica names the next relay file.
type Rotate struct {
	NextFile string
	Position uint64
}

// String renders "file:position".
func (r Rotate) String() string { return r.NextFile + ":" + strconv.FormatUint(r.Position, 10) }

// DecodeRotate decodes a rotate event body.
func DecodeRotate(body []byte, fd *FormatDescription) (Rotate, error) {
	phl := fd.PostHeaderLen(RotateEvent)
	if phl < 8 || len(body) < phl {
		return Rotate{}, corruptf("rotate body is %d bytes, post-header %d", len(body), phl)
	}
	return Rotate{Position: binary.LittleEndian.Uint64(body), NextFile: string(body[phl:])}, nil
}

// Query is the body of a query event (type 2): a statement, or BEGIN /
// COMMIT around statement-format and non-transactional changes.
type Query struct {
	ThreadID  uint32
	ExecTime  uint32
	ErrorCode uint16
	// StatusVars is the raw status-variable block (sql_mode, charset, ...).
	StatusVars []byte
	// Schema is the default database of the statement ("" for none).
	Schema string
	SQL    string
}

// String renders a short summary for listings.
func (q Query) String() string {
	return fmt.Sprintf("thread=%d schema=%q sql=%q", q.ThreadID, q.Schema, clip(q.SQL, 60))
}

// DecodeQuery decodes a query event body. Post-headers of 13 bytes (v4)
// and 11 bytes (no status variables) are understood; longer ones are
// skipped as the format allows.
func DecodeQuery(body []byte, fd *FormatDescription) (Query, error) {
	phl := fd.PostHeaderLen(QueryEvent)
	if phl < 11 || len(body) < phl {
		return Query{}, corruptf("query body is %d bytes, post-header %d", len(body), phl)
	}
	q := Query{
		ThreadID:  binary.LittleEndian.Uint32(body[0:]),
		ExecTime:  binary.LittleEndian.Uint32(body[4:]),
		ErrorCode: binary.LittleEndian.Uint16(body[9:]),
	}
	schemaLen := int(body[8])
	statusLen := 0
	if phl >= 13 {
		statusLen = int(binary.LittleEndian.Uint16(body[11:]))
	}
	rest := body[phl:]
	if len(rest) < statusLen+schemaLen+1 {
		return Query{}, corruptf("query variable part is %d bytes, need %d status + %d schema + 1", len(rest), statusLen, schemaLen)
	}
	q.StatusVars = append([]byte(nil), rest[:statusLen]...)
	rest = rest[statusLen:]
	q.Schema = string(rest[:schemaLen])
	if rest[schemaLen] != 0 {
		return Query{}, corruptf("query schema name is not NUL-terminated")
	}
	q.SQL = string(rest[schemaLen+1:])
	return q, nil
}

// DecodeXid decodes an Xid event body (type 16): the XA transaction id of
// the commit of an InnoDB transaction.
func DecodeXid(body []byte, fd *FormatDescription) (uint64, error) {
	phl := fd.PostHeaderLen(XidEvent)
	if len(body) < phl+8 {
		return 0, corruptf("xid body is %d bytes, need %d", len(body), phl+8)
	}
	return binary.LittleEndian.Uint64(body[phl:]), nil
}

// MariaDB GTID event flags (MariaDB 10.0+; XA flags 10.5+).
const (
	MariaFlagStandalone    uint8 = 0x01 // an event group without BEGIN (DDL)
	MariaFlagGroupCommitID uint8 = 0x02 // a commit id follows
	MariaFlagTransactional uint8 = 0x04
	MariaFlagAllowParallel uint8 = 0x08
	MariaFlagWaited        uint8 = 0x10
	MariaFlagDDL           uint8 = 0x20
	MariaFlagPreparedXA    uint8 = 0x40
	MariaFlagCompletedXA   uint8 = 0x80
)

// MariaGTID is a MariaDB global transaction id, domain-server-sequence.
// As the body of a MariaDB GTID event (type 162) it also carries the flags
// and the group-commit id; the server id comes from the event header.
type MariaGTID struct {
	Domain   uint32
	ServerID uint32
	Seq      uint64
	// Flags are the MariaFlag* bits (GTID events only).
	Flags uint8
	// CommitID is the group-commit id, valid when Flags has
	// MariaFlagGroupCommitID (GTID events only).
	CommitID uint64
}

// String renders "domain-server-seq", as MariaDB prints GTIDs.
func (g MariaGTID) String() string {
	return fmt.Sprintf("%d-%d-%d", g.Domain, g.ServerID, g.Seq)
}

// DecodeMariaGTID decodes a MariaDB GTID event body. ServerID is left zero:
// it is the server_id of the event header (Event.MariaGTID fills it in).
func DecodeMariaGTID(body []byte, fd *FormatDescription) (MariaGTID, error) {
	phl := fd.PostHeaderLen(MariaGTIDEvent)
	if phl < 13 || len(body) < phl || len(body) < 13 {
		return MariaGTID{}, corruptf("MariaDB GTID body is %d bytes, post-header %d", len(body), phl)
	}
	g := MariaGTID{
		Seq:    binary.LittleEndian.Uint64(body[0:]),
		Domain: binary.LittleEndian.Uint32(body[8:]),
		Flags:  body[12],
	}
	if g.Flags&MariaFlagGroupCommitID != 0 {
		if len(body) < 21 {
			return MariaGTID{}, corruptf("MariaDB GTID with commit id is %d bytes, need 21", len(body))
		}
		g.CommitID = binary.LittleEndian.Uint64(body[13:])
	}
	return g, nil
}

// GTIDList is the body of a MariaDB GTID list event (type 163), written at
// the start of every binlog: the last GTID of each (domain, server) pair in
// the binlogs before this one.
type GTIDList struct {
	// Flags are the top four bits of the count field (MariaDB internal).
	Flags uint8
	List  []MariaGTID
}

// String renders "[0-1-5,2-1-9]" in file order.
func (l GTIDList) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, g := range l.List {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(g.String())
	}
	b.WriteByte(']')
	return b.String()
}

// DecodeGTIDList decodes a MariaDB GTID list event body.
func DecodeGTIDList(body []byte, fd *FormatDescription) (GTIDList, error) {
	phl := fd.PostHeaderLen(MariaGTIDListEvent)
	if phl < 4 || len(body) < phl {
		return GTIDList{}, corruptf("GTID list body is %d bytes, post-header %d", len(body), phl)
	}
	v := binary.LittleEndian.Uint32(body)
	n := int(v & 0x0fffffff)
	rest := body[phl:]
	if n > len(rest)/16 {
		return GTIDList{}, corruptf("GTID list of %d entries in %d bytes", n, len(rest))
	}
	l := GTIDList{Flags: uint8(v >> 28), List: make([]MariaGTID, n)}
	for i := range l.List {
		e := rest[16*i:]
		l.List[i] = MariaGTID{
			Domain:   binary.LittleEndian.Uint32(e[0:]),
			ServerID: binary.LittleEndian.Uint32(e[4:]),
			Seq:      binary.LittleEndian.Uint64(e[8:]),
		}
	}
	return l, nil
}

// DecodeBinlogCheckpoint decodes a MariaDB binlog checkpoint event body
// (type 161) and returns the binlog file name it names: the oldest binlog
// that crash recovery may still need.
func DecodeBinlogCheckpoint(body []byte, fd *FormatDescription) (string, error) {
	phl := fd.PostHeaderLen(BinlogCheckpointEvent)
	if phl < 4 || len(body) < phl {
		return "", corruptf("binlog checkpoint body is %d bytes, post-header %d", len(body), phl)
	}
	n := binary.LittleEndian.Uint32(body)
	rest := body[phl:]
	if uint64(n) > uint64(len(rest)) {
		return "", corruptf("binlog checkpoint name of %d bytes in %d", n, len(rest))
	}
	return string(rest[:n]), nil
}

// DecodeAnnotateRows decodes a MariaDB annotate rows event body (type 160)
// and returns the statement that produced the row events after it.
func DecodeAnnotateRows(body []byte, fd *FormatDescription) (string, error) {
	phl := fd.PostHeaderLen(AnnotateRowsEvent)
	if len(body) < phl {
		return "", corruptf("annotate rows body is %d bytes, post-header %d", len(body), phl)
	}
	return string(body[phl:]), nil
}

// SID is a MySQL server UUID, the source part of a MySQL GTID.
type SID [16]byte

// String renders the UUID in its canonical 8-4-4-4-12 form.
func (s SID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], s[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], s[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], s[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], s[8:10])
	b[23] = '-'
	hex.Encode(b[24:], s[10:16])
	return string(b[:])
}

// MySQLGTID is the body of a MySQL GTID or anonymous GTID event (types 33
// and 34, MySQL 5.6+).
type MySQLGTID struct {
	// Anonymous is set for anonymous GTID events (gtid_mode=OFF).
	Anonymous bool
	// Flags is the first body byte (1: the transaction may commit in
	// parallel with others, MySQL 5.6 "commit flag").
	Flags uint8
	SID   SID
	GNO   int64
	// HasLogicalClock reports whether LastCommitted and SequenceNumber were
	// present (MySQL 5.7+).
	HasLogicalClock bool
	LastCommitted   int64
	SequenceNumber  int64
}

// String renders "uuid:gno", or "ANONYMOUS".
func (g MySQLGTID) String() string {
	if g.Anonymous {
		return "ANONYMOUS"
	}
	return g.SID.String() + ":" + strconv.FormatInt(g.GNO, 10)
}

// DecodeMySQLGTID decodes a MySQL GTID or anonymous GTID event body; t says
// which of the two it is.
func DecodeMySQLGTID(t EventType, body []byte) (MySQLGTID, error) {
	if len(body) < 25 {
		return MySQLGTID{}, corruptf("GTID body is %d bytes, need 25", len(body))
	}
	g := MySQLGTID{Anonymous: t == AnonymousGTIDEvent, Flags: body[0]}
	copy(g.SID[:], body[1:17])
	g.GNO = int64(binary.LittleEndian.Uint64(body[17:]))
	// MySQL 5.7+: logical timestamp type code 2, then two 8-byte counters.
	if len(body) >= 42 && body[25] == 2 {
		g.HasLogicalClock = true
		g.LastCommitted = int64(binary.LittleEndian.Uint64(body[26:]))
		g.SequenceNumber = int64(binary.LittleEndian.Uint64(body[34:]))
	}
	return g, nil
}

// GTIDInterval is a range of MySQL GTID numbers, Start to End inclusive.
type GTIDInterval struct{ Start, End int64 }

// GTIDSetEntry is one server UUID of a MySQL GTID set and its intervals.
type GTIDSetEntry struct {
	SID       SID
	Intervals []GTIDInterval
}

// GTIDSet is a MySQL GTID set as stored in a previous GTIDs event.
type GTIDSet []GTIDSetEntry

// String renders the set as MySQL does: "uuid:1-5:7,uuid2:3" (in stored
// order; single-number intervals without a dash).
func (s GTIDSet) String() string {
	var b strings.Builder
	for i, e := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(e.SID.String())
		for _, iv := range e.Intervals {
			b.WriteByte(':')
			b.WriteString(strconv.FormatInt(iv.Start, 10))
			if iv.End != iv.Start {
				b.WriteByte('-')
				b.WriteString(strconv.FormatInt(iv.End, 10))
			}
		}
	}
	return b.String()
}

// DecodePreviousGTIDs decodes a MySQL previous GTIDs event body (type 35):
// the GTID set of all binlogs before this one.
func DecodePreviousGTIDs(body []byte) (GTIDSet, error) {
	if len(body) < 8 {
		return nil, corruptf("previous GTIDs body is %d bytes, need 8", len(body))
	}
	// MySQL 8.3+ may store a tagged GTID set, marked by a format number in
	// the top byte of the count; that encoding is not decoded here.
	if body[7] != 0 {
		return nil, fmt.Errorf("%w: GTID set encoding format %d (MySQL 8.3+ tagged GTIDs)", ErrUnsupported, body[7])
	}
	n := binary.LittleEndian.Uint64(body)
	rest := body[8:]
	if n > uint64(len(rest)/24) {
		return nil, corruptf("previous GTIDs: %d server ids in %d bytes", n, len(rest))
	}
	set := make(GTIDSet, n)
	for i := range set {
		if len(rest) < 24 {
			return nil, corruptf("previous GTIDs: entry %d truncated", i)
		}
		copy(set[i].SID[:], rest[:16])
		m := binary.LittleEndian.Uint64(rest[16:])
		rest = rest[24:]
		if m > uint64(len(rest)/16) {
			return nil, corruptf("previous GTIDs: %d intervals in %d bytes", m, len(rest))
		}
		set[i].Intervals = make([]GTIDInterval, m)
		for j := range set[i].Intervals {
			// Stored as [start, end) with end exclusive.
			start := int64(binary.LittleEndian.Uint64(rest))
			end := int64(binary.LittleEndian.Uint64(rest[8:]))
			set[i].Intervals[j] = GTIDInterval{Start: start, End: end - 1}
			rest = rest[16:]
		}
	}
	if len(rest) != 0 {
		return nil, corruptf("previous GTIDs: %d trailing bytes", len(rest))
	}
	return set, nil
}

// clip shortens s to at most n bytes for summaries, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
