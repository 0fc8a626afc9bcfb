package binlog

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the reader's output")

// fixtureName matches captured binlog and relay-log files (not listings).
var fixtureName = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[0-9]+$`)

// fixtures returns the captured binlog files under testdata, sorted.
func fixtures(t testing.TB) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir("testdata", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && fixtureName.MatchString(d.Name()) {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no fixtures under testdata; run integration/fixtures/capture-binlogs.sh")
	}
	return out
}

// describe renders one event as a golden line, decoding the types the
// package decodes.
func describe(ev Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s server_id=%d end_log_pos=%d size=%d checksum=%s", ev.Offset, ev.Type, ev.ServerID, ev.LogPos, ev.EventSize, ev.Checksum)
	if ev.Flags != 0 {
		fmt.Fprintf(&b, " flags=0x%x", ev.Flags)
	}
	var detail any
	var err error
	switch ev.Type {
	case FormatDescriptionEvent:
		detail, err = ev.FormatDescription()
	case RotateEvent:
		detail, err = ev.Rotate()
	case QueryEvent:
		detail, err = ev.Query()
	case XidEvent:
		detail, err = ev.Xid()
	case MariaGTIDEvent:
		var g MariaGTID
		g, err = ev.MariaGTID()
		detail = fmt.Sprintf("%s flags=0x%x", g, g.Flags)
	case MariaGTIDListEvent:
		detail, err = ev.GTIDList()
	case BinlogCheckpointEvent:
		detail, err = ev.BinlogCheckpoint()
	case AnnotateRowsEvent:
		var s string
		s, err = ev.AnnotateRows()
		detail = strconv.Quote(clip(s, 60))
	case GTIDEvent, AnonymousGTIDEvent:
		detail, err = ev.MySQLGTID()
	case PreviousGTIDsEvent:
		detail, err = ev.PreviousGTIDs()
	}
	if err != nil {
		fmt.Fprintf(&b, " DECODE ERROR: %v", err)
	} else if detail != nil {
		fmt.Fprintf(&b, " %v", detail)
	}
	return b.String()
}

// listing reads a whole file and returns the golden lines, ending with an
// "error" line if reading stopped on an error other than io.EOF.
func listing(t testing.TB, r *Reader) []string {
	t.Helper()
	var lines []string
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return lines
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error is not *Error: %v", err)
			}
			return append(lines, fmt.Sprintf("error at offset %d (%s): %v", e.Offset, e.Event, e.Err))
		}
		lines = append(lines, describe(ev))
	}
}

func openFixture(t testing.TB, path string) *Reader {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestGolden compares the reader's view of every fixture with
// testdata/**/FILE.golden (go test -run TestGolden -update rewrites them).
func TestGolden(t *testing.T) {
	for _, path := range fixtures(t) {
		t.Run(path, func(t *testing.T) {
			got := strings.Join(listing(t, openFixture(t, path)), "\n") + "\n"
			golden := path + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// mariadbWords maps the first word of mariadb-binlog's event description to
// the event type it prints it for (MariaDB 10.11).
var mariadbWords = map[string]EventType{
	"Start":             FormatDescriptionEvent,
	"Rotate":            RotateEvent,
	"Stop":              StopEvent,
	"Query":             QueryEvent,
	"Xid":               XidEvent,
	"Intvar":            IntvarEvent,
	"User_var":          UserVarEvent,
	"Rand":              RandEvent,
	"Table_map":         TableMapEvent,
	"Write_rows":        WriteRowsEventV1,
	"Update_rows":       UpdateRowsEventV1,
	"Delete_rows":       DeleteRowsEventV1,
	"Annotate_rows":     AnnotateRowsEvent,
	"Binlog_checkpoint": BinlogCheckpointEvent,
	"GTID":              MariaGTIDEvent,
	"Gtid_list":         MariaGTIDListEvent,
}

// ref is one event as another tool sees it.
type ref struct {
	Offset, ServerID, LogPos uint64
	Type                     EventType
}

// readerRefs lists the events the reader returns before io.EOF or an error.
func readerRefs(t testing.TB, path string) ([]ref, error) {
	r := openFixture(t, path)
	var out []ref
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, ref{ev.Offset, uint64(ev.ServerID), uint64(ev.LogPos), ev.Type})
	}
}

// parseListing reads the "OFFSET SERVER_ID END_LOG_POS WORD" lines written
// by the capture script (and by mariadbListing).
func parseListing(t testing.TB, text string) []ref {
	t.Helper()
	var out []ref
	for i, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			t.Fatalf("listing line %d: %q", i+1, line)
		}
		var r ref
		var err1, err2, err3 error
		r.Offset, err1 = strconv.ParseUint(f[0], 10, 64)
		r.ServerID, err2 = strconv.ParseUint(f[1], 10, 32)
		r.LogPos, err3 = strconv.ParseUint(f[2], 10, 32)
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatalf("listing line %d: %v", i+1, err)
		}
		typ, ok := mariadbWords[f[3]]
		if !ok {
			t.Fatalf("listing line %d: unknown mariadb-binlog event word %q", i+1, f[3])
		}
		r.Type = typ
		out = append(out, r)
	}
	return out
}

// checkAgainst compares the reader's events with another tool's listing.
// On a truncated fixture the reader must stop with ErrTruncated right after
// the last event the other tool printed.
func checkAgainst(t *testing.T, path string, want []ref) {
	t.Helper()
	got, err := readerRefs(t, path)
	if err != nil && !errors.Is(err, ErrTruncated) {
		t.Fatalf("reader: %v", err)
	}
	// mariadb-binlog (MariaDB 10.11) holds an annotate rows event back and
	// prints it with the table map that follows, under that event's
	// "# at"; its own offset cannot be read from the listing. The reader's
	// offsets are contiguous by construction, so compare the rest.
	for _, refs := range [][]ref{want, got} {
		for i := range refs {
			if refs[i].Type == AnnotateRowsEvent {
				refs[i].Offset = 0
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: reader vs mariadb-binlog (-mariadb-binlog +reader):\n%s", path, diff)
	}
	fi, statErr := os.Stat(path)
	if statErr != nil {
		t.Fatal(statErr)
	}
	if err == nil && len(got) > 0 {
		last := got[len(got)-1]
		r := openFixture(t, path)
		if serr := r.Seek(last.Offset); serr != nil {
			t.Fatal(serr)
		}
		ev, nerr := r.Next()
		if nerr != nil || ev.End() != uint64(fi.Size()) {
			t.Errorf("last event does not end at the file size %d: %v %v", fi.Size(), ev.End(), nerr)
		}
	}
}

// TestMariadbBinlogListing compares the reader with the event listing the
// capture script saved from mariadb-binlog next to every fixture.
func TestMariadbBinlogListing(t *testing.T) {
	for _, path := range fixtures(t) {
		t.Run(path, func(t *testing.T) {
			text, err := os.ReadFile(path + ".mariadb-binlog")
			if err != nil {
				t.Fatal(err)
			}
			checkAgainst(t, path, parseListing(t, string(text)))
		})
	}
}

var (
	mbAt     = regexp.MustCompile(`^# at ([0-9]+)$`)
	mbHeader = regexp.MustCompile(`^#[0-9]{6} +[0-9:]+ server id ([0-9]+) +end_log_pos ([0-9]+) .*?\t([A-Za-z_]+)[ :]*([A-Za-z]*)`)
)

// mariadbListing runs mariadb-binlog on path and renders its view in the
// listing format of the capture script.
func mariadbListing(t *testing.T, bin, path string) string {
	t.Helper()
	out, _ := exec.Command(bin, "--no-defaults", "--base64-output=decode-rows", path).Output() // non-zero on a truncated tail
	var b strings.Builder
	at := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if m := mbAt.FindStringSubmatch(line); m != nil {
			at = m[1]
			continue
		}
		if m := mbHeader.FindStringSubmatch(line); m != nil {
			word := m[3]
			if word == "Gtid" || word == "Binlog" {
				word += "_" + m[4]
			}
			fmt.Fprintf(&b, "%s %s %s %s\n", at, m[1], m[2], word)
		}
	}
	return b.String()
}

// TestMariadbBinlogLive runs the installed mariadb-binlog over every fixture
// and compares positions, server ids and types with the reader. It is
// skipped when the binary is missing, except in the lab (GOMHA_LAB=1),
// where that is a failure.
func TestMariadbBinlogLive(t *testing.T) {
	bin, err := exec.LookPath("mariadb-binlog")
	if err != nil {
		if os.Getenv("GOMHA_LAB") == "1" {
			t.Fatalf("GOMHA_LAB=1 but mariadb-binlog is not installed: %v", err)
		}
		t.Skip("mariadb-binlog not installed")
	}
	for _, path := range fixtures(t) {
		t.Run(path, func(t *testing.T) {
			want := parseListing(t, mariadbListing(t, bin, path))
			if len(want) == 0 {
				t.Fatal("mariadb-binlog printed no events")
			}
			checkAgainst(t, path, want)
		})
	}
}

// TestFixtureContents checks the facts the fixtures were captured for.
func TestFixtureContents(t *testing.T) {
	type facts struct {
		fdes, rotates, stops, relayFDEs int
		algs                            map[ChecksumAlg]int
		domains                         map[uint32]bool
		types                           map[EventType]int
		maxSize                         uint64
	}
	scan := func(t *testing.T, glob string) facts {
		paths, _ := filepath.Glob(glob)
		if len(paths) == 0 {
			t.Fatalf("no files match %s", glob)
		}
		f := facts{algs: map[ChecksumAlg]int{}, domains: map[uint32]bool{}, types: map[EventType]int{}}
		for _, p := range paths {
			if !fixtureName.MatchString(filepath.Base(p)) {
				continue
			}
			r := openFixture(t, p)
			for {
				ev, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				f.types[ev.Type]++
				f.algs[ev.Checksum]++
				switch ev.Type {
				case FormatDescriptionEvent:
					f.fdes++
					if ev.Flags&FlagRelayLog != 0 {
						f.relayFDEs++
					}
				case RotateEvent:
					f.rotates++
				case StopEvent:
					f.stops++
				case MariaGTIDEvent:
					g, err := ev.MariaGTID()
					if err != nil {
						t.Fatal(err)
					}
					f.domains[g.Domain] = true
				}
			}
			if fi, err := os.Stat(p); err == nil && uint64(fi.Size()) > f.maxSize {
				f.maxSize = uint64(fi.Size())
			}
		}
		return f
	}
	wantTypes := []EventType{QueryEvent, XidEvent, TableMapEvent, WriteRowsEventV1, UpdateRowsEventV1, DeleteRowsEventV1, IntvarEvent, UserVarEvent, RandEvent, AnnotateRowsEvent, BinlogCheckpointEvent, MariaGTIDListEvent, RotateEvent}
	for dir, alg := range map[string]ChecksumAlg{"none": ChecksumOff, "crc32": ChecksumCRC32} {
		t.Run(dir, func(t *testing.T) {
			f := scan(t, "testdata/"+dir+"/*")
			if len(f.algs) != 1 || f.algs[alg] == 0 {
				t.Errorf("checksums: %v, want only %s", f.algs, alg)
			}
			if !f.domains[0] || !f.domains[2] {
				t.Errorf("GTID domains %v, want 0 and 2", f.domains)
			}
			for _, typ := range wantTypes {
				if f.types[typ] == 0 {
					t.Errorf("no %s event", typ)
				}
			}
			if dir == "none" {
				if f.maxSize <= 4096 {
					t.Errorf("no binlog grew past max_binlog_size=4096 (largest %d)", f.maxSize)
				}
				if f.stops == 0 {
					t.Error("no stop event from the source restart")
				}
			}
		})
	}
	for _, dir := range []string{"relay-src1", "relay-src2"} {
		t.Run(dir, func(t *testing.T) {
			f := scan(t, "testdata/"+dir+"/*")
			paths, _ := filepath.Glob("testdata/" + dir + "/relay-bin.??????")
			if f.relayFDEs != len(paths) || f.fdes <= f.relayFDEs {
				t.Errorf("%d files, %d FDEs, %d of the replica", len(paths), f.fdes, f.relayFDEs)
			}
			if f.stops == 0 {
				t.Error("no stop event from the replica restart")
			}
			if f.algs[ChecksumOff] == 0 || f.algs[ChecksumCRC32] == 0 {
				t.Errorf("want both checksum algorithms (replica vs source): %v", f.algs)
			}
		})
	}
}

// TestRelayLogFormats checks that in a relay log the replica's format
// description governs until the source's takes over.
func TestRelayLogFormats(t *testing.T) {
	r := openFixture(t, "testdata/relay-src2/relay-bin.000002")
	var got []string
	for i := 0; i < 4; i++ {
		ev, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s/%d/%s/%s", ev.Type, ev.ServerID, ev.Checksum, r.Format().Checksum))
	}
	want := []string{
		"Format_desc/301/NONE/NONE",   // the replica (binlog_checksum=NONE)
		"Rotate/201/NONE/NONE",        // the source's artificial rotate
		"Format_desc/201/CRC32/CRC32", // the source (CRC32)
		"Gtid_list/201/CRC32/CRC32",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// readAll reads every event of data through a Reader of the given buffer
// size and returns the listing and the raw bytes of all events.
func readAll(t testing.TB, src io.Reader, name string, size int) ([]string, []byte) {
	t.Helper()
	return readAllVerify(t, src, name, size, true)
}

// readAllVerify is readAll with checksum verification on or off.
func readAllVerify(t testing.TB, src io.Reader, name string, size int, verify bool) ([]string, []byte) {
	t.Helper()
	r := newReaderSize(src, name, size)
	r.SetVerifyChecksums(verify)
	var lines []string
	var raw bytes.Buffer
	raw.WriteString(Magic)
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			lines = append(lines, "error: "+err.Error())
			break
		}
		lines = append(lines, describe(ev))
		b, err := ev.Raw()
		if err != nil {
			t.Fatalf("Raw at %d: %v", ev.Offset, err)
		}
		raw.Write(b)
	}
	return lines, raw.Bytes()
}

// onlyReader hides every interface but io.Reader (no Seeker, no ReaderAt).
type onlyReader struct{ io.Reader }

// TestSmallBuffers reads every fixture with buffers smaller than its events
// (the streaming path), over a file and over a plain io.Reader, and checks
// that listings and raw bytes match the default reader's.
func TestSmallBuffers(t *testing.T) {
	for _, path := range fixtures(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		wantLines, wantRaw := readAll(t, bytes.NewReader(data), path, DefaultBufferSize)
		for _, size := range []int{16, 64, 300, 4096} {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			lines, raw := readAll(t, f, path, size)
			f.Close()
			if diff := cmp.Diff(wantLines, lines); diff != "" {
				t.Errorf("%s buffer %d (file): (-want +got):\n%s", path, size, diff)
			}
			if !bytes.Equal(raw, wantRaw) {
				t.Errorf("%s buffer %d (file): raw bytes differ", path, size)
			}
			lines, raw = readAll(t, onlyReader{bytes.NewReader(data)}, path, size)
			if diff := cmp.Diff(wantLines, lines); diff != "" {
				t.Errorf("%s buffer %d (stream): (-want +got):\n%s", path, size, diff)
			}
			if !bytes.Equal(raw, wantRaw) {
				t.Errorf("%s buffer %d (stream): raw bytes differ", path, size)
			}
			// Verification off: large events are seeked past, then re-read.
			lines, raw = readAllVerify(t, bytes.NewReader(data), path, size, false)
			if diff := cmp.Diff(wantLines, lines); diff != "" {
				t.Errorf("%s buffer %d (no verify): (-want +got):\n%s", path, size, diff)
			}
			if !bytes.Equal(raw, wantRaw) {
				t.Errorf("%s buffer %d (no verify): raw bytes differ", path, size)
			}
		}
		if !strings.HasPrefix(path, filepath.Join("testdata", "truncated")) && !bytes.Equal(wantRaw, data) {
			t.Errorf("%s: concatenated Raw() differs from the file", path)
		}
	}
}

// TestTruncated checks the half-written tail: ErrTruncated at the offset of
// the incomplete event, all complete events before it, and retry once the
// rest of the event arrives.
func TestTruncated(t *testing.T) {
	paths, _ := filepath.Glob("testdata/truncated/*.[0-9]*")
	var path string
	for _, p := range paths {
		if fixtureName.MatchString(filepath.Base(p)) {
			path = p
		}
	}
	if path == "" {
		t.Fatal("no truncated fixture")
	}
	full, err := os.ReadFile(filepath.Join("testdata", "live", filepath.Base(path)))
	if err != nil {
		t.Fatal(err)
	}
	cut, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(full, cut) || len(cut) >= len(full) {
		t.Fatal("truncated fixture is not a prefix of the live one")
	}
	for _, verify := range []bool{true, false} {
		// A reader over a growing input: first the cut, then the rest.
		g := &growing{data: cut}
		r := NewReader(g, "growing")
		r.SetVerifyChecksums(verify)
		var last Event
		var nerr error
		for {
			var ev Event
			ev, nerr = r.Next()
			if nerr != nil {
				break
			}
			last = ev
		}
		var e *Error
		if !errors.Is(nerr, ErrTruncated) || !errors.As(nerr, &e) {
			t.Fatalf("verify=%v: got %v, want ErrTruncated", verify, nerr)
		}
		if e.Offset != last.End() || e.Offset >= uint64(len(cut)) {
			t.Errorf("verify=%v: truncated at %d, last complete event ends at %d", verify, e.Offset, last.End())
		}
		if e.File != "growing" || e.Event == UnknownEvent {
			t.Errorf("error lacks file or event: %v", e)
		}
		g.data = full
		ev, err := r.Next()
		if err != nil || ev.Offset != e.Offset || ev.End() != uint64(len(full)) {
			t.Errorf("verify=%v: after the tail arrived: %v %v", verify, describe(ev), err)
		}
		if _, err := r.Next(); err != io.EOF {
			t.Errorf("verify=%v: want io.EOF at the end, got %v", verify, err)
		}
	}
}

// growing is an input whose data can be extended between reads.
type growing struct {
	data []byte
	off  int
}

func (g *growing) Read(p []byte) (int, error) {
	if g.off >= len(g.data) {
		return 0, io.EOF
	}
	n := copy(p, g.data[g.off:])
	g.off += n
	return n, nil
}

// TestInUseFlag checks that the live copy (FDE flagged in use) verifies.
func TestInUseFlag(t *testing.T) {
	paths, _ := filepath.Glob("testdata/live/*.[0-9]*")
	for _, p := range paths {
		if !fixtureName.MatchString(filepath.Base(p)) {
			continue
		}
		r := openFixture(t, p)
		ev, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Flags&FlagBinlogInUse == 0 || ev.Checksum != ChecksumCRC32 {
			t.Errorf("%s: want an in-use CRC32 format description, got %s", p, describe(ev))
		}
	}
}

// TestChecksumMismatch flips every byte of a CRC32 binlog in turn and
// checks that the reader never returns the damaged event as good: each flip
// yields ErrChecksum, ErrCorrupt or ErrTruncated, or (for the format
// description's stale fields) a different listing.
func TestChecksumMismatch(t *testing.T) {
	paths, _ := filepath.Glob("testdata/live/*.[0-9]*")
	if len(paths) == 0 {
		t.Fatal("no live fixture")
	}
	data, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	good, _ := readAll(t, bytes.NewReader(data), "good", DefaultBufferSize)
	for i := len(Magic); i < len(data); i++ {
		bad := bytes.Clone(data)
		bad[i] ^= 0x10
		lines, _ := readAll(t, bytes.NewReader(bad), "bad", DefaultBufferSize)
		last := lines[len(lines)-1]
		switch {
		case strings.Contains(last, ErrChecksum.Error()):
			if !strings.Contains(last, "bad at offset") {
				t.Errorf("byte %d: error lacks file/offset: %s", i, last)
			}
		case strings.Contains(last, ErrCorrupt.Error()), strings.Contains(last, ErrTruncated.Error()),
			strings.Contains(last, ErrUnsupported.Error()):
		default:
			t.Errorf("byte %d flipped, read without error: %s", i, cmp.Diff(good, lines))
		}
	}
	// With verification off the flip of a body byte goes unnoticed.
	bad := bytes.Clone(data)
	bad[len(bad)-10] ^= 0x10
	r := NewReader(bytes.NewReader(bad), "bad")
	r.SetVerifyChecksums(false)
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("verification off: %v", err)
		}
	}
}

// TestSeek checks that seeking to every event boundary (forwards and
// backwards, file and stream) continues exactly like a sequential read.
func TestSeek(t *testing.T) {
	for _, path := range fixtures(t) {
		if strings.Contains(path, "truncated") {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var evs []string
		var offs []uint64
		r := NewReader(bytes.NewReader(data), path)
		for {
			ev, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, describe(ev))
			offs = append(offs, ev.Offset)
		}
		if len(offs) > 40 {
			offs = append(offs[:20], offs[len(offs)-20:]...)
			evs = append(evs[:20], evs[len(evs)-20:]...)
		}
		seekable := NewReader(bytes.NewReader(data), path)
		for i := len(offs) - 1; i >= 0; i-- { // backwards, on one reader
			if err := seekable.Seek(offs[i]); err != nil {
				t.Fatal(err)
			}
			ev, err := seekable.Next()
			if err != nil || describe(ev) != evs[i] {
				t.Fatalf("%s: seek %d: %v, want %s", path, offs[i], err, evs[i])
			}
		}
		for i, off := range offs { // fresh stream readers, forwards only
			s := NewReader(onlyReader{bytes.NewReader(data)}, path)
			if err := s.Seek(off); err != nil {
				t.Fatal(err)
			}
			ev, err := s.Next()
			if err != nil || describe(ev) != evs[i] {
				t.Fatalf("%s: stream seek %d: %v %q, want %s", path, off, err, describe(ev), evs[i])
			}
		}
		s := NewReader(onlyReader{bytes.NewReader(data)}, path)
		if err := s.Seek(offs[len(offs)-1]); err != nil {
			t.Fatal(err)
		}
		if err := s.Seek(4); err == nil {
			t.Errorf("%s: seeking back on a stream succeeded", path)
		}
	}
}

// TestSeekRelayUsesSourceFormat checks that Seek past the header of a relay
// log applies the source's format description, not the replica's.
func TestSeekRelayUsesSourceFormat(t *testing.T) {
	for path, want := range map[string]ChecksumAlg{
		"testdata/relay-src1/relay-bin.000002": ChecksumOff,
		"testdata/relay-src2/relay-bin.000002": ChecksumCRC32,
	} {
		seq, _ := readerRefs(t, path)
		target := seq[len(seq)/2]
		r := openFixture(t, path)
		if err := r.Seek(target.Offset); err != nil {
			t.Fatal(err)
		}
		ev, err := r.Next()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if ev.Checksum != want || ev.LogPos != uint32(target.LogPos) {
			t.Errorf("%s: after seek: %s, want checksum %s", path, describe(ev), want)
		}
	}
}

func TestErrors(t *testing.T) {
	fde := func() []byte {
		data, err := os.ReadFile("testdata/none/mariadb-bin.000001")
		if err != nil {
			t.Fatal(err)
		}
		return data[:256]
	}()
	tests := []struct {
		name   string
		data   []byte
		want   error
		offset uint64
	}{
		{"empty", nil, ErrTruncated, 0},
		{"short magic", []byte("\xfebi"), ErrTruncated, 0},
		{"bad magic", []byte("\xfebix"), ErrBadMagic, 0},
		{"not a binlog", []byte("hello world"), ErrBadMagic, 0},
		{"half header", fde[:10], ErrTruncated, 4},
		{"half fde", fde[:100], ErrTruncated, 4},
		{"no fde", append([]byte(Magic), 0, 0, 0, 0, 2, 1, 0, 0, 0, 19, 0, 0, 0, 0, 0, 0, 0, 0, 0), ErrCorrupt, 4},
		{"v3", append([]byte(Magic), 0, 0, 0, 0, 1, 1, 0, 0, 0, 19, 0, 0, 0, 0, 0, 0, 0, 0, 0), ErrUnsupported, 4},
		{"tiny event", append(bytes.Clone(fde), 0, 0, 0, 0, 2, 1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0), ErrCorrupt, 256},
		{"huge event", append(bytes.Clone(fde), 0, 0, 0, 0, 2, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0), ErrTruncated, 256},
		{"encrypted", append(append(bytes.Clone(fde), 0, 0, 0, 0, 164, 1, 0, 0, 0, 19, 0, 0, 0, 0, 0, 0, 0, 0, 0), 1, 2, 3), ErrEncrypted, 275},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{DefaultBufferSize, 16} {
				r := newReaderSize(bytes.NewReader(tt.data), "x.000001", size)
				var err error
				for err == nil {
					_, err = r.Next()
				}
				var e *Error
				if !errors.Is(err, tt.want) || !errors.As(err, &e) {
					t.Fatalf("buffer %d: got %v, want %v", size, err, tt.want)
				}
				if e.Offset != tt.offset || e.File != "x.000001" {
					t.Errorf("buffer %d: error %v, want offset %d", size, e, tt.offset)
				}
			}
		})
	}
}

func TestStaleEvent(t *testing.T) {
	r := openFixture(t, "testdata/crc32/mariadb-bin.000001")
	first, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Raw(); !errors.Is(err, ErrStale) {
		t.Errorf("Raw of a previous event: %v, want ErrStale", err)
	}
	if _, err := first.FormatDescription(); !errors.Is(err, ErrStale) {
		t.Errorf("decode of a previous event: %v, want ErrStale", err)
	}
	ev, _ := r.Next()
	if _, err := ev.Rotate(); !errors.Is(err, ErrEventType) {
		t.Errorf("Rotate on %s: %v, want ErrEventType", ev.Type, err)
	}
	if _, err := (Event{}).Raw(); !errors.Is(err, ErrStale) {
		t.Errorf("zero Event: %v", err)
	}
}

func TestWidenLogPos(t *testing.T) {
	const G4 = 1 << 32
	tests := []struct {
		pos  uint32
		near uint64
		want uint64
	}{
		{120, 100, 120},
		{120, 0, 120},
		{0xffffff00, 0, 0xffffff00},
		{0x100, G4 - 0x200, G4 + 0x100},
		{0xffffff00, G4 + 0x100, 0xffffff00},
		{500, 3*G4 + 400, 3*G4 + 500},
		{10, ^uint64(0) - 5, ^uint64(0)&^(G4-1) | 10},
	}
	for _, tt := range tests {
		if got := WidenLogPos(tt.pos, tt.near); got != tt.want {
			t.Errorf("WidenLogPos(%#x, %#x) = %#x, want %#x", tt.pos, tt.near, got, tt.want)
		}
	}
}

// TestBeyond4GiB reads a synthetic file whose second event starts beyond
// 4 GiB (a sparse file), checking 64-bit offsets and Seek.
func TestBeyond4GiB(t *testing.T) {
	fde, err := os.ReadFile("testdata/none/mariadb-bin.000001")
	if err != nil {
		t.Fatal(err)
	}
	fde = fde[:256]
	// One huge "unknown" event (type 200) fills the file up to 4 GiB + 100.
	const huge = 1<<32 - 256 + 100 - 1 // EventSize is 32 bits: stay below 4 GiB
	hdr := []byte{0, 0, 0, 0, 200, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	putU32(hdr[9:], huge)
	rot := rotateEvent(t, "mariadb-bin.000002", 4, 256+huge)
	path := filepath.Join(t.TempDir(), "mariadb-bin.000001")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(append(bytes.Clone(fde), hdr...)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(rot, 256+huge); err != nil {
		t.Skipf("cannot write a sparse 4 GiB file here: %v", err)
	}
	f.Close()
	r := openFixture(t, path)
	r.SetVerifyChecksums(false)
	var got []string
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s %d", ev.Offset, ev.Type, WidenLogPos(ev.LogPos, ev.Offset)))
	}
	want := []string{"4 Format_desc 256", "256 Unknown(200) 0", fmt.Sprintf("%d Rotate %d", int64(256+huge), int64(256+huge)+int64(len(rot)))}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if err := r.Seek(256 + huge); err != nil {
		t.Fatal(err)
	}
	ev, err := r.Next()
	if err != nil || ev.Offset != 256+huge {
		t.Fatalf("seek beyond 4 GiB: %v %v", ev.Offset, err)
	}
	rt, err := ev.Rotate()
	if err != nil || rt.NextFile != "mariadb-bin.000002" || rt.Position != 4 {
		t.Errorf("rotate beyond 4 GiB: %v %v", rt, err)
	}
}

func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// rotateEvent builds a rotate event (no checksum) whose end position is the
// low 32 bits of end.
func rotateEvent(t testing.TB, name string, pos uint64, end int64) []byte {
	t.Helper()
	ev := make([]byte, HeaderLen+8+len(name))
	ev[4] = byte(RotateEvent)
	ev[5] = 1
	putU32(ev[9:], uint32(len(ev)))
	putU32(ev[13:], uint32(end+int64(len(ev))))
	for i := 0; i < 8; i++ {
		ev[HeaderLen+i] = byte(pos >> (8 * i))
	}
	copy(ev[HeaderLen+8:], name)
	return ev
}

// TestReset reads all fixtures through one Reader and checks that each
// listing equals a fresh Reader's, and the relay-log identification.
func TestReset(t *testing.T) {
	r := NewReader(bytes.NewReader(nil), "none")
	for _, path := range fixtures(t) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Reset(f, path); err != nil {
			t.Fatal(err)
		}
		got := listing(t, r)
		f.Close()
		fresh := openFixture(t, path)
		if diff := cmp.Diff(listing(t, fresh), got); diff != "" {
			t.Errorf("%s: after Reset (-fresh +reset):\n%s", path, diff)
		}
		relay := strings.Contains(path, "relay-")
		if r.IsRelayLog() != relay || fresh.IsRelayLog() != relay {
			t.Errorf("%s: IsRelayLog = %v", path, r.IsRelayLog())
		}
		want := map[string]uint32{"none": 101, "crc32": 201, "live": 201, "truncated": 201}[filepath.Base(filepath.Dir(path))]
		if relay {
			want = 301
		}
		if r.FileServerID() != want {
			t.Errorf("%s: FileServerID = %d, want %d", path, r.FileServerID(), want)
		}
	}
}
