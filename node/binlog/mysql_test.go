package binlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// No MySQL server is available to capture from, so MySQL-only events
// (GTID, anonymous GTID, previous GTIDs) are built here from the layout in
// the MySQL 5.7/8.0 source documentation.

// binlogBuilder assembles a synthetic binlog.
type binlogBuilder struct {
	buf      bytes.Buffer
	serverID uint32
	crc      bool
}

func newBinlog(version string, crc bool) *binlogBuilder {
	b := &binlogBuilder{serverID: 7, crc: crc}
	b.buf.WriteString(Magic)
	body := make([]byte, 2+50+4+1)
	binary.LittleEndian.PutUint16(body, 4)
	copy(body[2:52], version)
	body[56] = HeaderLen
	phl := make([]byte, 41) // MySQL 8.0 knows 41 types
	phl[QueryEvent-1] = 13
	phl[RotateEvent-1] = 8
	phl[GTIDEvent-1] = 42
	phl[AnonymousGTIDEvent-1] = 42
	body = append(body, phl...)
	alg := byte(ChecksumOff)
	if crc {
		alg = byte(ChecksumCRC32)
	}
	body = append(body, alg)
	b.add(FormatDescriptionEvent, 0, append(body, 0, 0, 0, 0), true)
	return b
}

// add appends an event; fde says the body already ends with room for the
// checksum (format descriptions always carry one).
func (b *binlogBuilder) add(t EventType, flags uint16, body []byte, fde bool) {
	size := HeaderLen + len(body)
	if b.crc && !fde {
		size += 4
	}
	ev := make([]byte, HeaderLen, size)
	ev[4] = byte(t)
	binary.LittleEndian.PutUint32(ev[5:], b.serverID)
	binary.LittleEndian.PutUint32(ev[9:], uint32(size))
	binary.LittleEndian.PutUint32(ev[13:], uint32(b.buf.Len()+size))
	binary.LittleEndian.PutUint16(ev[17:], flags)
	ev = append(ev, body...)
	switch {
	case fde:
		binary.LittleEndian.PutUint32(ev[len(ev)-4:], fdeChecksum(ev))
	case b.crc:
		ev = binary.LittleEndian.AppendUint32(ev, crc32.ChecksumIEEE(ev))
	}
	b.buf.Write(ev)
}

var testSID = SID{0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x63}

func gtidBody(gno int64, logical bool) []byte {
	b := []byte{1}
	b = append(b, testSID[:]...)
	b = binary.LittleEndian.AppendUint64(b, uint64(gno))
	if logical {
		b = append(b, 2)
		b = binary.LittleEndian.AppendUint64(b, 10)
		b = binary.LittleEndian.AppendUint64(b, 11)
	}
	return b
}

func previousGTIDsBody() []byte {
	b := binary.LittleEndian.AppendUint64(nil, 1)
	b = append(b, testSID[:]...)
	b = binary.LittleEndian.AppendUint64(b, 2)
	for _, v := range []uint64{1, 6, 7, 8} { // [1,6) and [7,8)
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

func queryBody(schema, sql string) []byte {
	b := make([]byte, 13)
	binary.LittleEndian.PutUint32(b, 42)
	binary.LittleEndian.PutUint32(b[4:], 3)
	b[8] = byte(len(schema))
	binary.LittleEndian.PutUint16(b[11:], 2)
	b = append(b, 0xaa, 0xbb) // status vars
	b = append(b, schema...)
	b = append(b, 0)
	return append(b, sql...)
}

// mysqlBinlog returns a synthetic MySQL 8.0 binlog with every MySQL event
// the package decodes.
func mysqlBinlog(crc bool) []byte {
	b := newBinlog("8.0.36-log", crc)
	b.add(PreviousGTIDsEvent, 0, previousGTIDsBody(), false)
	b.add(GTIDEvent, 0, gtidBody(8, true), false)
	b.add(QueryEvent, 0, queryBody("db", "BEGIN"), false)
	b.add(XidEvent, 0, binary.LittleEndian.AppendUint64(nil, 99), false)
	b.add(AnonymousGTIDEvent, 0, gtidBody(0, false), false)
	b.add(GTIDTaggedEvent, 0, []byte{1, 2, 3}, false) // not decoded: skipped
	b.add(StopEvent, 0, nil, false)
	b.add(RotateEvent, 0, append(binary.LittleEndian.AppendUint64(nil, 4), "binlog.000002"...), false)
	return b.buf.Bytes()
}

func TestMySQLBinlog(t *testing.T) {
	for _, crc := range []bool{true, false} {
		r := NewReader(bytes.NewReader(mysqlBinlog(crc)), "binlog.000001")
		var got []string
		for {
			ev, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, describe(ev))
		}
		alg := "NONE"
		if crc {
			alg = "CRC32"
		}
		r0 := "checksum=" + alg
		if len(got) != 9 || got[0] != "4 Format_desc server_id=7 end_log_pos=126 size=122 "+r0+" v4 server=8.0.36-log header=19 checksum="+alg {
			t.Fatalf("crc=%v: %d events:\n%v", crc, len(got), got)
		}
		details := []string{
			"Previous_gtids", "3e11fa47-71ca-11e1-9e33-c80aa9429563:1-5:7",
			"Gtid", "3e11fa47-71ca-11e1-9e33-c80aa9429563:8",
			"Query", `thread=42 schema="db" sql="BEGIN"`,
			"Xid", " 99",
			"Anonymous_Gtid", "ANONYMOUS",
			"Gtid_tagged", r0,
			"Stop", r0,
			"Rotate", "binlog.000002:4",
		}
		for i := 0; i < len(details); i += 2 {
			line := got[1+i/2]
			if !bytes.Contains([]byte(line), []byte(details[i]+" ")) || !bytes.HasSuffix([]byte(line), []byte(details[i+1])) {
				t.Errorf("crc=%v: event %d: %q, want %s ... %s", crc, 1+i/2, line, details[i], details[i+1])
			}
		}
	}
}

func TestDecodeMySQLGTID(t *testing.T) {
	g, err := DecodeMySQLGTID(GTIDEvent, gtidBody(8, true))
	if err != nil {
		t.Fatal(err)
	}
	want := MySQLGTID{Flags: 1, SID: testSID, GNO: 8, HasLogicalClock: true, LastCommitted: 10, SequenceNumber: 11}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := DecodeMySQLGTID(GTIDEvent, gtidBody(8, true)[:24]); !errors.Is(err, ErrCorrupt) {
		t.Errorf("short GTID: %v", err)
	}
}

func TestDecodePreviousGTIDs(t *testing.T) {
	set, err := DecodePreviousGTIDs(previousGTIDsBody())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := set.String(), "3e11fa47-71ca-11e1-9e33-c80aa9429563:1-5:7"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	empty, err := DecodePreviousGTIDs(make([]byte, 8))
	if err != nil || empty.String() != "" {
		t.Errorf("empty set: %q %v", empty, err)
	}
	for _, bad := range [][]byte{
		nil,
		{1, 0, 0, 0, 0, 0, 0, 0}, // one SID, no bytes
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0}, // absurd count
		previousGTIDsBody()[:50],
		append(previousGTIDsBody(), 0), // trailing byte
	} {
		if _, err := DecodePreviousGTIDs(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("DecodePreviousGTIDs(% x): %v, want ErrCorrupt", bad, err)
		}
	}
	tagged := previousGTIDsBody()
	tagged[7] = 1
	if _, err := DecodePreviousGTIDs(tagged); !errors.Is(err, ErrUnsupported) {
		t.Errorf("tagged set: %v, want ErrUnsupported", err)
	}
}

func TestDecodeQueryErrors(t *testing.T) {
	good := queryBody("db", "SELECT 1")
	if q, err := DecodeQuery(good, nil); err != nil || q.SQL != "SELECT 1" || q.Schema != "db" || !bytes.Equal(q.StatusVars, []byte{0xaa, 0xbb}) || q.ThreadID != 42 || q.ExecTime != 3 {
		t.Errorf("DecodeQuery: %+v %v", q, err)
	}
	noNUL := bytes.Clone(good)
	noNUL[13+2+2] = 'x'
	for name, body := range map[string][]byte{
		"short post-header": good[:12],
		"short status":      good[:14],
		"schema past end":   good[:16],
		"schema not NUL":    noNUL,
	} {
		if _, err := DecodeQuery(body, nil); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

func TestVersionRules(t *testing.T) {
	tests := []struct {
		version string
		alg     bool
	}{
		{"5.6.0-log", false},
		{"5.6.1", true},
		{"5.5.62-MariaDB", true},
		{"5.2.14-MariaDB", false},
		{"8.0.36", true},
		{"10.11.19-MariaDB-0+deb12u1-log", true},
		{"5.5.62-log", false},
	}
	for _, tt := range tests {
		if got := hasChecksumAlg(tt.version); got != tt.alg {
			t.Errorf("hasChecksumAlg(%q) = %v", tt.version, got)
		}
	}
	fd := &FormatDescription{ServerVersion: "10.11.19-MariaDB-0+deb12u1-log"}
	if a, b, c := fd.Version(); a != 10 || b != 11 || c != 19 || !fd.IsMariaDB() {
		t.Errorf("Version() = %d.%d.%d, MariaDB %v", a, b, c, fd.IsMariaDB())
	}
}
