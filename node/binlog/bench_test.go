package binlog

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"testing"
)

// largestFixture returns the biggest captured file.
func largestFixture(b *testing.B) (string, []byte) {
	b.Helper()
	var name string
	var data []byte
	for _, p := range fixtures(b) {
		d, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		if len(d) > len(data) {
			name, data = p, d
		}
	}
	return name, data
}

// BenchmarkScanHeaders measures the position-finding scan (headers only,
// every event complete, no body decoding) over the largest fixture, from
// memory, with and without CRC32 verification. The file-based variant reads
// through the OS page cache like a scan of a relay log would. One Reader is
// reused (Reset), as a scan over many relay files would.
func BenchmarkScanHeaders(b *testing.B) {
	name, data := largestFixture(b)
	for _, verify := range []bool{false, true} {
		label := "verify=off"
		if verify {
			label = "verify=on"
		}
		b.Run("memory/"+label, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			br := bytes.NewReader(data)
			r := NewReader(br, name)
			r.SetVerifyChecksums(verify)
			for b.Loop() {
				br.Reset(data)
				r.Reset(br, name)
				scanAll(b, r)
			}
		})
		b.Run("file/"+label, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			r := NewReader(bytes.NewReader(nil), name)
			r.SetVerifyChecksums(verify)
			for b.Loop() {
				f, err := os.Open(name)
				if err != nil {
					b.Fatal(err)
				}
				r.Reset(f, name)
				scanAll(b, r)
				f.Close()
			}
		})
	}
}

// scanAll reads every event header and the fields a position finder uses.
func scanAll(b *testing.B, r *Reader) {
	var sum uint64
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		sum += uint64(ev.LogPos) + uint64(ev.ServerID)
	}
	if sum == 0 {
		b.Fatal("no events")
	}
}

// BenchmarkScanFile is BenchmarkScanHeaders over any binlog or relay log
// named by GOMHA_BINLOG_BENCH_FILE (the lab's 200 MB relay log, to compare
// with `mariadb-binlog FILE > /dev/null`); skipped when unset.
func BenchmarkScanFile(b *testing.B) {
	name := os.Getenv("GOMHA_BINLOG_BENCH_FILE")
	if name == "" {
		b.Skip("GOMHA_BINLOG_BENCH_FILE not set")
	}
	fi, err := os.Stat(name)
	if err != nil {
		b.Fatal(err)
	}
	for _, verify := range []bool{false, true} {
		b.Run(fmt.Sprintf("verify=%v", verify), func(b *testing.B) {
			b.SetBytes(fi.Size())
			r := NewReader(bytes.NewReader(nil), name)
			r.SetVerifyChecksums(verify)
			for b.Loop() {
				f, err := os.Open(name)
				if err != nil {
					b.Fatal(err)
				}
				r.Reset(f, name)
				scanAll(b, r)
				f.Close()
			}
		})
	}
}
