package binlog

import (
	"bytes"
	"io"
	"os"
	"testing"
)

// The fuzz tests check that nothing panics and that the reader's
// invariants hold on any input. They are seeded with the captured fixtures
// (whole files, and the bodies of every event type found in them) and the
// synthetic MySQL binlogs.

// seedFiles returns the contents of every fixture plus synthetic binlogs.
func seedFiles(f testing.TB) [][]byte {
	f.Helper()
	var out [][]byte
	for _, p := range fixtures(f) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, data)
	}
	return append(out, mysqlBinlog(true), mysqlBinlog(false))
}

// seedBodies adds the body of every event of type t in the seed files, with
// the post-header length the governing format description gives it.
func seedBodies(f *testing.F, t EventType) {
	f.Helper()
	seen := map[string]bool{}
	for _, data := range seedFiles(f) {
		r := NewReader(bytes.NewReader(data), "seed")
		for {
			ev, err := r.Next()
			if err != nil {
				break
			}
			if ev.Type != t {
				continue
			}
			body, err := ev.Body()
			if err != nil {
				f.Fatal(err)
			}
			if seen[string(body)] {
				continue
			}
			seen[string(body)] = true
			f.Add(bytes.Clone(body), uint8(r.Format().PostHeaderLen(t)))
		}
	}
	if len(seen) == 0 {
		f.Add([]byte{}, uint8(defaultPostHeaderLens[t]))
	}
}

// fuzzFormat returns a format description announcing phl as the
// post-header length of every type.
func fuzzFormat(phl uint8) *FormatDescription {
	return &FormatDescription{BinlogVersion: 4, HeaderLen: HeaderLen, PostHeaderLens: bytes.Repeat([]byte{phl}, 255)}
}

// FuzzReader reads arbitrary bytes as a binlog with and without checksum
// verification and with a tiny buffer, decoding every event, and checks
// that events are contiguous and complete.
//
// Seeds are the fixtures cut at the last event boundary within
// maxReaderSeed bytes, and inputs over maxReaderInput bytes are skipped:
// whole fixtures (up to 440 kB) made each execution so slow that the fuzzer
// managed about 45 executions in 20 s, while the paths worth finding are
// all in the first events of a file.
func FuzzReader(f *testing.F) {
	seen := map[string]bool{}
	for _, data := range seedFiles(f) {
		s := smallSeed(data, maxReaderSeed)
		if !seen[string(s)] {
			seen[string(s)] = true
			f.Add(s)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxReaderInput {
			return
		}
		// Two passes rather than every combination: each execution is also
		// what minimizing a new input costs, many times over.
		for _, pass := range []struct {
			verify bool
			size   int
		}{{true, 4 << 10}, {false, 64}} {
			{
				r := newReaderSize(bytes.NewReader(data), "fuzz", pass.size)
				r.SetVerifyChecksums(pass.verify)
				next := uint64(len(Magic))
				var offsets []uint64
				for i := 0; i < 100000; i++ {
					ev, err := r.Next()
					if err != nil {
						if err != io.EOF {
							_ = err.Error()
						}
						break
					}
					if ev.Offset != next || ev.End() > uint64(len(data)) {
						t.Fatalf("event at %d (size %d), expected at %d in %d bytes", ev.Offset, ev.EventSize, next, len(data))
					}
					next = ev.End()
					offsets = append(offsets, ev.Offset)
					raw, err := ev.Raw()
					if err == nil && !bytes.Equal(raw, data[ev.Offset:ev.End()]) {
						t.Fatalf("Raw at %d differs from the input", ev.Offset)
					}
					_ = describe(ev)
				}
				// Seeking back to any boundary must not panic either.
				for _, off := range offsets {
					if r.Seek(off) == nil {
						if ev, err := r.Next(); err == nil {
							_ = describe(ev)
						}
					}
				}
			}
		}
	})
}

// FuzzReader's sizes: seeds of at most maxReaderSeed bytes, inputs of at
// most maxReaderInput bytes.
const (
	maxReaderSeed  = 512
	maxReaderInput = 4 << 10
)

// smallSeed returns data cut after its last complete event that ends
// within max bytes (the magic number and format description at least), or
// data itself when it is that small.
func smallSeed(data []byte, max int) []byte {
	if len(data) <= max {
		return data
	}
	r := NewReader(bytes.NewReader(data), "seed")
	end := uint64(0)
	for {
		ev, err := r.Next()
		if err != nil || ev.End() > uint64(max) {
			break
		}
		end = ev.End()
	}
	if end == 0 {
		end = uint64(max)
	}
	return bytes.Clone(data[:end])
}

// FuzzParseHeader checks ParseHeader on arbitrary bytes.
func FuzzParseHeader(f *testing.F) {
	for _, data := range seedFiles(f) {
		if len(data) >= 4+HeaderLen {
			f.Add(data[4 : 4+HeaderLen])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if (err == nil) != (len(b) >= HeaderLen) {
			t.Fatalf("len %d: err %v", len(b), err)
		}
		if err == nil && h.EventSize != uint32(b[9])|uint32(b[10])<<8|uint32(b[11])<<16|uint32(b[12])<<24 {
			t.Fatal("EventSize mismatch")
		}
	})
}

// FuzzDecodeFormatDescription checks the format description decoder.
func FuzzDecodeFormatDescription(f *testing.F) {
	seedBodies(f, FormatDescriptionEvent)
	f.Fuzz(func(t *testing.T, body []byte, _ uint8) {
		fd, err := DecodeFormatDescription(body)
		if err == nil {
			_ = fd.String()
			_ = fd.PostHeaderLen(QueryEvent)
			fd.Version()
		}
	})
}

// FuzzDecodeRotate checks the rotate decoder.
func FuzzDecodeRotate(f *testing.F) {
	seedBodies(f, RotateEvent)
	f.Fuzz(func(t *testing.T, body []byte, phl uint8) {
		for _, fd := range []*FormatDescription{nil, fuzzFormat(phl)} {
			if v, err := DecodeRotate(body, fd); err == nil {
				_ = v.String()
			}
		}
	})
}

// FuzzDecodeQuery checks the query decoder.
func FuzzDecodeQuery(f *testing.F) {
	seedBodies(f, QueryEvent)
	f.Fuzz(func(t *testing.T, body []byte, phl uint8) {
		for _, fd := range []*FormatDescription{nil, fuzzFormat(phl)} {
			if v, err := DecodeQuery(body, fd); err == nil {
				_ = v.String()
			}
		}
	})
}

// FuzzDecodeXid checks the Xid decoder.
func FuzzDecodeXid(f *testing.F) {
	seedBodies(f, XidEvent)
	f.Fuzz(func(t *testing.T, body []byte, phl uint8) {
		for _, fd := range []*FormatDescription{nil, fuzzFormat(phl)} {
			_, _ = DecodeXid(body, fd)
		}
	})
}

// FuzzDecodeMariaGTID checks the MariaDB GTID decoder.
func FuzzDecodeMariaGTID(f *testing.F) {
	seedBodies(f, MariaGTIDEvent)
	f.Fuzz(func(t *testing.T, body []byte, phl uint8) {
		for _, fd := range []*FormatDescription{nil, fuzzFormat(phl)} {
			if v, err := DecodeMariaGTID(body, fd); err == nil {
				_ = v.String()
			}
		}
	})
}

// FuzzDecodeGTIDList checks the MariaDB GTID list decoder.
func FuzzDecodeGTIDList(f *testing.F) {
	seedBodies(f, MariaGTIDListEvent)
	f.Fuzz(func(t *testing.T, body []byte, phl uint8) {
		for _, fd := range []*FormatDescription{nil, fuzzFormat(phl)} {
			if v, err := DecodeGTIDList(body, fd); err == nil {
				_ = v.String()
			}
		}
	})
}

// FuzzDecodeBinlogCheckpoint checks the MariaDB binlog checkpoint decoder.
func FuzzDecodeBinlogCheckpoint(f *testing.F) {
	seedBodies(f, BinlogCheckpointEvent)
	f.Fuzz(func(t *testing.T, body []byte, phl uint8) {
		for _, fd := range []*FormatDescription{nil, fuzzFormat(phl)} {
			_, _ = DecodeBinlogCheckpoint(body, fd)
		}
	})
}

// FuzzDecodeAnnotateRows checks the MariaDB annotate rows decoder.
func FuzzDecodeAnnotateRows(f *testing.F) {
	seedBodies(f, AnnotateRowsEvent)
	f.Fuzz(func(t *testing.T, body []byte, phl uint8) {
		for _, fd := range []*FormatDescription{nil, fuzzFormat(phl)} {
			_, _ = DecodeAnnotateRows(body, fd)
		}
	})
}

// FuzzDecodeMySQLGTID checks the MySQL GTID / anonymous GTID decoder.
func FuzzDecodeMySQLGTID(f *testing.F) {
	seedBodies(f, GTIDEvent)
	seedBodies(f, AnonymousGTIDEvent)
	f.Fuzz(func(t *testing.T, body []byte, _ uint8) {
		for _, typ := range []EventType{GTIDEvent, AnonymousGTIDEvent} {
			if v, err := DecodeMySQLGTID(typ, body); err == nil {
				_ = v.String()
			}
		}
	})
}

// FuzzDecodePreviousGTIDs checks the MySQL previous GTIDs decoder.
func FuzzDecodePreviousGTIDs(f *testing.F) {
	seedBodies(f, PreviousGTIDsEvent)
	f.Fuzz(func(t *testing.T, body []byte, _ uint8) {
		if v, err := DecodePreviousGTIDs(body); err == nil {
			_ = v.String()
		}
	})
}
