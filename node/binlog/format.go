package binlog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// ChecksumAlg is the checksum algorithm announced by a format description
// event (MySQL 5.6.1+, MariaDB 5.3+).
type ChecksumAlg uint8

// Checksum algorithms. Older servers write no algorithm byte; their format
// descriptions decode as ChecksumUndef, which, like ChecksumOff, means the
// events carry no checksum.
const (
	ChecksumOff   ChecksumAlg = 0
	ChecksumCRC32 ChecksumAlg = 1
	ChecksumUndef ChecksumAlg = 255
)

// String names the algorithm as binlog_checksum does ("NONE", "CRC32").
func (a ChecksumAlg) String() string {
	switch a {
	case ChecksumOff:
		return "NONE"
	case ChecksumCRC32:
		return "CRC32"
	case ChecksumUndef:
		return "UNDEF"
	}
	return fmt.Sprintf("ALG(%d)", uint8(a))
}

// Size returns the number of checksum bytes at the end of each event: 4 for
// CRC32, else 0.
func (a ChecksumAlg) Size() int {
	if a == ChecksumCRC32 {
		return 4
	}
	return 0
}

// FormatDescription is the body of a format description event (type 15),
// the first event of every binlog v4 file. It decides how the events that
// follow it are laid out: the common header length, each type's post-header
// length, and whether each event ends with a checksum. A relay log holds at
// least two: the replica's own at offset 4, then the source's after the
// source's rotate event, and another one from the source after each of the
// source's binlog rotations or reconnections.
type FormatDescription struct {
	// BinlogVersion is the binlog format version; always 4 here.
	BinlogVersion uint16
	// ServerVersion is the version string of the server that wrote it,
	// such as "10.11.19-MariaDB-0+deb12u1-log".
	ServerVersion string
	// CreateTimestamp is the creation time of the binlog (0 when the event
	// was written at a rotation rather than at server start-up).
	CreateTimestamp uint32
	// HeaderLen is the length of the common header of every event (19).
	HeaderLen uint8
	// PostHeaderLens holds the post-header length of event type t at index
	// t-1.
	PostHeaderLens []byte
	// Checksum is the checksum algorithm of the events this description
	// governs (ChecksumUndef for servers too old to announce one).
	Checksum ChecksumAlg
}

// fdeFixedLen is the length of the fixed part of a format description body:
// binlog version, server version, create timestamp, header length.
const fdeFixedLen = 2 + 50 + 4 + 1

// DecodeFormatDescription decodes the body of a format description event:
// the event bytes after the 19-byte common header, INCLUDING the trailing
// checksum-algorithm byte and 4-byte checksum when the server version has
// them (unlike the other decoders, whose input excludes the checksum,
// because only this event itself tells whether it has one). A binlog
// version other than 4 is reported as ErrUnsupported.
func DecodeFormatDescription(body []byte) (*FormatDescription, error) {
	if len(body) < 2 {
		return nil, corruptf("format description body is %d bytes", len(body))
	}
	fd := &FormatDescription{BinlogVersion: binary.LittleEndian.Uint16(body)}
	if fd.BinlogVersion != 4 {
		return nil, fmt.Errorf("%w: binlog version %d", ErrUnsupported, fd.BinlogVersion)
	}
	if len(body) < fdeFixedLen {
		return nil, corruptf("format description body is %d bytes, need at least %d", len(body), fdeFixedLen)
	}
	ver := body[2:52]
	if i := bytes.IndexByte(ver, 0); i >= 0 {
		ver = ver[:i]
	}
	fd.ServerVersion = string(ver)
	if v := parseVersion(fd.ServerVersion); v[0] < 5 {
		// Binlog v4 appeared in MySQL 5.0; an older or unparsable version
		// means a damaged event, which would also hide the checksum byte.
		return nil, corruptf("server version %q cannot write binlog v4", fd.ServerVersion)
	}
	fd.CreateTimestamp = binary.LittleEndian.Uint32(body[52:])
	fd.HeaderLen = body[56]
	if fd.HeaderLen < HeaderLen {
		return nil, corruptf("format description announces a %d-byte event header (min %d)", fd.HeaderLen, HeaderLen)
	}
	rest := body[fdeFixedLen:]
	fd.Checksum = ChecksumUndef
	if hasChecksumAlg(fd.ServerVersion) {
		if len(rest) < 5 {
			return nil, corruptf("format description of %q lacks the checksum algorithm", fd.ServerVersion)
		}
		fd.Checksum = ChecksumAlg(rest[len(rest)-5])
		rest = rest[:len(rest)-5]
		switch fd.Checksum {
		case ChecksumOff, ChecksumCRC32, ChecksumUndef:
		default:
			return nil, fmt.Errorf("%w: checksum algorithm %d", ErrUnsupported, uint8(fd.Checksum))
		}
	}
	fd.PostHeaderLens = bytes.Clone(rest)
	return fd, nil
}

// defaultPostHeaderLens are the v4 post-header lengths of the types the
// decoders need, used when a format description does not list the type or
// when a decoder is called without one.
var defaultPostHeaderLens = map[EventType]int{
	QueryEvent:            13,
	RotateEvent:           8,
	XidEvent:              0,
	AnnotateRowsEvent:     0,
	BinlogCheckpointEvent: 4,
	MariaGTIDEvent:        19,
	MariaGTIDListEvent:    4,
}

// PostHeaderLen returns the post-header length of event type t as announced
// by f, or the usual v4 value when f is nil or does not list t.
func (f *FormatDescription) PostHeaderLen(t EventType) int {
	if f != nil && t > 0 && int(t) <= len(f.PostHeaderLens) {
		return int(f.PostHeaderLens[t-1])
	}
	return defaultPostHeaderLens[t]
}

// IsMariaDB reports whether the server version names MariaDB.
func (f *FormatDescription) IsMariaDB() bool {
	return f != nil && strings.Contains(f.ServerVersion, "MariaDB")
}

// Version returns the first three numeric groups of the server version
// ("10.11.19-MariaDB-0+deb12u1-log" gives 10, 11, 19); missing groups are 0
// and everything after them is ignored.
func (f *FormatDescription) Version() (major, minor, patch int) {
	if f == nil {
		return 0, 0, 0
	}
	v := parseVersion(f.ServerVersion)
	return v[0], v[1], v[2]
}

// String summarises the description for listings and golden files.
func (f *FormatDescription) String() string {
	if f == nil {
		return "<nil>"
	}
	return fmt.Sprintf("v%d server=%s header=%d checksum=%s", f.BinlogVersion, f.ServerVersion, f.HeaderLen, f.Checksum)
}

// parseVersion reads up to three dot-separated numbers from the start of a
// version string. Groups are capped so that absurd digits cannot overflow.
func parseVersion(s string) [3]int {
	var v [3]int
	for i := 0; i < 3; i++ {
		n, digits := 0, 0
		for digits < len(s) && s[digits] >= '0' && s[digits] <= '9' {
			if n < 1_000_000 {
				n = n*10 + int(s[digits]-'0')
			}
			digits++
		}
		if digits == 0 {
			break
		}
		v[i] = n
		s = s[digits:]
		if len(s) == 0 || s[0] != '.' {
			break
		}
		s = s[1:]
	}
	return v
}

// hasChecksumAlg reports whether a server of this version writes the
// checksum-algorithm byte (and a 4-byte checksum) at the end of its format
// description: MySQL 5.6.1 and later, MariaDB 5.3 and later.
func hasChecksumAlg(version string) bool {
	v := parseVersion(version)
	min := [3]int{5, 6, 1}
	if strings.Contains(version, "MariaDB") {
		min = [3]int{5, 3, 0}
	}
	for i := range v {
		if v[i] != min[i] {
			return v[i] > min[i]
		}
	}
	return true
}
