package binlog

import (
	"encoding/binary"
	"strconv"
)

// EventType is the type code in byte 4 of an event header.
type EventType uint8

// Event type codes of MySQL (0–42) and MariaDB (160–171). Types the reader
// does not decode are still returned by Reader.Next with their header.
const (
	UnknownEvent                EventType = 0
	StartEventV3                EventType = 1 // binlog v1/v3 only; not supported
	QueryEvent                  EventType = 2
	StopEvent                   EventType = 3
	RotateEvent                 EventType = 4
	IntvarEvent                 EventType = 5
	LoadEvent                   EventType = 6
	SlaveEvent                  EventType = 7
	CreateFileEvent             EventType = 8
	AppendBlockEvent            EventType = 9
	ExecLoadEvent               EventType = 10
	DeleteFileEvent             EventType = 11
	NewLoadEvent                EventType = 12
	RandEvent                   EventType = 13
	UserVarEvent                EventType = 14
	FormatDescriptionEvent      EventType = 15
	XidEvent                    EventType = 16
	BeginLoadQueryEvent         EventType = 17
	ExecuteLoadQueryEvent       EventType = 18
	TableMapEvent               EventType = 19
	PreGAWriteRowsEvent         EventType = 20
	PreGAUpdateRowsEvent        EventType = 21
	PreGADeleteRowsEvent        EventType = 22
	WriteRowsEventV1            EventType = 23
	UpdateRowsEventV1           EventType = 24
	DeleteRowsEventV1           EventType = 25
	IncidentEvent               EventType = 26
	HeartbeatEvent              EventType = 27
	IgnorableEvent              EventType = 28
	RowsQueryEvent              EventType = 29
	WriteRowsEventV2            EventType = 30
	UpdateRowsEventV2           EventType = 31
	DeleteRowsEventV2           EventType = 32
	GTIDEvent                   EventType = 33 // MySQL 5.6+
	AnonymousGTIDEvent          EventType = 34 // MySQL 5.6+
	PreviousGTIDsEvent          EventType = 35 // MySQL 5.6+
	TransactionContextEvent     EventType = 36
	ViewChangeEvent             EventType = 37
	XAPrepareEvent              EventType = 38
	PartialUpdateRowsEvent      EventType = 39
	TransactionPayloadEvent     EventType = 40
	HeartbeatV2Event            EventType = 41
	GTIDTaggedEvent             EventType = 42  // MySQL 8.3+; not decoded
	AnnotateRowsEvent           EventType = 160 // MariaDB 5.3+
	BinlogCheckpointEvent       EventType = 161 // MariaDB 10.0+
	MariaGTIDEvent              EventType = 162 // MariaDB 10.0+
	MariaGTIDListEvent          EventType = 163 // MariaDB 10.0+
	StartEncryptionEvent        EventType = 164 // MariaDB 10.1.7+
	QueryCompressedEvent        EventType = 165 // MariaDB 10.2+
	WriteRowsCompressedEventV1  EventType = 166
	UpdateRowsCompressedEventV1 EventType = 167
	DeleteRowsCompressedEventV1 EventType = 168
	WriteRowsCompressedEvent    EventType = 169
	UpdateRowsCompressedEvent   EventType = 170
	DeleteRowsCompressedEvent   EventType = 171
)

var eventNames = [...]string{
	UnknownEvent:                "Unknown",
	StartEventV3:                "Start_v3",
	QueryEvent:                  "Query",
	StopEvent:                   "Stop",
	RotateEvent:                 "Rotate",
	IntvarEvent:                 "Intvar",
	LoadEvent:                   "Load",
	SlaveEvent:                  "Slave",
	CreateFileEvent:             "Create_file",
	AppendBlockEvent:            "Append_block",
	ExecLoadEvent:               "Exec_load",
	DeleteFileEvent:             "Delete_file",
	NewLoadEvent:                "New_load",
	RandEvent:                   "RAND",
	UserVarEvent:                "User_var",
	FormatDescriptionEvent:      "Format_desc",
	XidEvent:                    "Xid",
	BeginLoadQueryEvent:         "Begin_load_query",
	ExecuteLoadQueryEvent:       "Execute_load_query",
	TableMapEvent:               "Table_map",
	PreGAWriteRowsEvent:         "Write_rows_pre_ga",
	PreGAUpdateRowsEvent:        "Update_rows_pre_ga",
	PreGADeleteRowsEvent:        "Delete_rows_pre_ga",
	WriteRowsEventV1:            "Write_rows_v1",
	UpdateRowsEventV1:           "Update_rows_v1",
	DeleteRowsEventV1:           "Delete_rows_v1",
	IncidentEvent:               "Incident",
	HeartbeatEvent:              "Heartbeat",
	IgnorableEvent:              "Ignorable",
	RowsQueryEvent:              "Rows_query",
	WriteRowsEventV2:            "Write_rows",
	UpdateRowsEventV2:           "Update_rows",
	DeleteRowsEventV2:           "Delete_rows",
	GTIDEvent:                   "Gtid",
	AnonymousGTIDEvent:          "Anonymous_Gtid",
	PreviousGTIDsEvent:          "Previous_gtids",
	TransactionContextEvent:     "Transaction_context",
	ViewChangeEvent:             "View_change",
	XAPrepareEvent:              "XA_prepare",
	PartialUpdateRowsEvent:      "Update_rows_partial",
	TransactionPayloadEvent:     "Transaction_payload",
	HeartbeatV2Event:            "Heartbeat_v2",
	GTIDTaggedEvent:             "Gtid_tagged",
	AnnotateRowsEvent:           "Annotate_rows",
	BinlogCheckpointEvent:       "Binlog_checkpoint",
	MariaGTIDEvent:              "MariaDB_gtid",
	MariaGTIDListEvent:          "Gtid_list",
	StartEncryptionEvent:        "Start_encryption",
	QueryCompressedEvent:        "Query_compressed",
	WriteRowsCompressedEventV1:  "Write_rows_compressed_v1",
	UpdateRowsCompressedEventV1: "Update_rows_compressed_v1",
	DeleteRowsCompressedEventV1: "Delete_rows_compressed_v1",
	WriteRowsCompressedEvent:    "Write_rows_compressed",
	UpdateRowsCompressedEvent:   "Update_rows_compressed",
	DeleteRowsCompressedEvent:   "Delete_rows_compressed",
}

// String returns the event type's name, close to the names SHOW BINLOG
// EVENTS prints ("Query", "Rotate", "Format_desc", "Gtid_list"), with
// "MariaDB_gtid" for MariaDB's GTID event to tell it from MySQL's "Gtid".
// Codes without a name render as "Unknown(N)".
func (t EventType) String() string {
	if int(t) < len(eventNames) && eventNames[t] != "" {
		return eventNames[t]
	}
	return "Unknown(" + strconv.Itoa(int(t)) + ")"
}

// Flags of the event header (the 2-byte field at offset 17).
const (
	// FlagBinlogInUse is set in the format description event of a binlog
	// while the server has it open; the server clears it on a clean close.
	// The FDE's checksum is computed as if the flag were clear.
	FlagBinlogInUse uint16 = 0x0001
	// FlagThreadSpecific marks a query that depends on the thread (temporary
	// tables).
	FlagThreadSpecific uint16 = 0x0004
	// FlagSuppressUse tells mysqlbinlog not to print a USE statement.
	FlagSuppressUse uint16 = 0x0008
	// FlagArtificial marks an event that was not written by the origin
	// server's SQL layer, such as the "fake" rotate a source sends at the
	// start of a replication stream (end position 0).
	FlagArtificial uint16 = 0x0020
	// FlagRelayLog marks an event created by the replica's I/O thread, such
	// as the replica's own format description at the start of a relay log.
	FlagRelayLog uint16 = 0x0040
	// FlagIgnorable marks an event a server may skip if it does not know
	// the type (MySQL 5.6+).
	FlagIgnorable uint16 = 0x0080
	// FlagSkipReplication is MariaDB's @@skip_replication marker.
	FlagSkipReplication uint16 = 0x8000
)

// HeaderLen is the length of the common event header in binlog format v4.
// A format description may announce a longer header; the extra bytes are
// skipped.
const HeaderLen = 19

// Header is the common header every event starts with (binlog format v4).
type Header struct {
	// Timestamp is the statement start time, seconds since the Unix epoch.
	Timestamp uint32
	// Type is the event type code.
	Type EventType
	// ServerID is the server_id of the server where the event originated.
	// In a relay log, events of the replica itself (its format description,
	// rotates to the next relay file, stop events) carry the replica's id.
	ServerID uint32
	// EventSize is the length of the whole event including this header and
	// the checksum, if any.
	EventSize uint32
	// LogPos is the end position of the event in the origin server's binlog
	// as written by that server (so in a relay log it refers to the source's
	// binlog, not to the relay file; artificial events have 0). It is 32
	// bits wide and wraps in binlogs larger than 4 GiB; see WidenLogPos.
	LogPos uint32
	// Flags are the header flags (Flag* constants).
	Flags uint16
}

// ParseHeader decodes the first HeaderLen bytes of b as an event header. It
// checks only that b is long enough; whether EventSize makes sense is up to
// the caller.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, corruptf("event header needs %d bytes, have %d", HeaderLen, len(b))
	}
	return parseHeader(b), nil
}

// parseHeader decodes a header from b, which must hold HeaderLen bytes.
func parseHeader(b []byte) Header {
	_ = b[HeaderLen-1]
	return Header{
		Timestamp: binary.LittleEndian.Uint32(b[0:]),
		Type:      EventType(b[4]),
		ServerID:  binary.LittleEndian.Uint32(b[5:]),
		EventSize: binary.LittleEndian.Uint32(b[9:]),
		LogPos:    binary.LittleEndian.Uint32(b[13:]),
		Flags:     binary.LittleEndian.Uint16(b[17:]),
	}
}

// WidenLogPos returns the 64-bit binlog position whose low 32 bits are
// logPos and which is nearest to near (within 2 GiB either way). MySQL and
// MariaDB store end positions in 32 bits, so in a binlog larger than 4 GiB
// they wrap; a caller that knows roughly where it is (the event's file
// offset in a binlog, or a running source position in a relay log) recovers
// the full position with it.
func WidenLogPos(logPos uint32, near uint64) uint64 {
	const span = 1 << 32
	base := near &^ (span - 1)
	v := base | uint64(logPos)
	switch {
	case v > near && v-near > span/2 && v >= span:
		v -= span
	case v < near && near-v > span/2 && v <= ^uint64(0)-span:
		v += span
	}
	return v
}
