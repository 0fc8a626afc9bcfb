package config

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		text        string
		kind        lineKind
		name, value string
	}{
		{"", lineBlank, "", ""},
		{" \t ", lineBlank, "", ""},
		{"# comment", lineComment, "", ""},
		{"  ; comment", lineComment, "", ""},
		{"#[server1]", lineComment, "", ""},
		{"[server1]", lineSection, "server1", ""},
		{"  [  server default  ]  ", lineSection, "server default", ""},
		{"[server1] ; primary", lineSection, "server1", ""},
		{"[server1] # not a comment", lineSyntax, "", ""},
		{"[a]b]", lineSection, "a]b", ""},
		{"[ ]", lineSection, " ", ""},
		{"[]", lineSyntax, "", ""},
		{"[=]", lineSection, "=", ""},
		{"key=value", lineKey, "key", "value"},
		{"  key  =  value  ", lineKey, "key", "value"},
		{"key=", lineKey, "key", ""},
		{"key = a = b", lineKey, "key", "a = b"},
		{"password = pw # x", lineKey, "password", "pw # x"},
		{"password = pw ; x", lineKey, "password", "pw"},
		{"password = pw\t;\tx", lineKey, "password", "pw"},
		{"password = pw;x", lineKey, "password", "pw;x"},
		{"password = pw ;x", lineKey, "password", "pw ;x"},
		{"password = pw ; ", lineKey, "password", "pw ;"},
		{"password = a ; b ; c", lineKey, "password", "a"},
		{"ping interval = 3", lineKey, "ping interval", "3"},
		{"= value", lineSyntax, "", ""},
		{"hostname db1", lineSyntax, "", ""},
	}
	for _, tt := range tests {
		got := classify(1, tt.text, "\n")
		if got.kind != tt.kind || got.name != tt.name || got.value != tt.value {
			t.Errorf("classify(%q) = kind %d name %q value %q; want kind %d name %q value %q",
				tt.text, got.kind, got.name, got.value, tt.kind, tt.name, tt.value)
		}
	}
}

func TestScanLineEndings(t *testing.T) {
	in := "a\nb\r\nc\r\r\nd\re\r\rf"
	lines := scanLines(in)
	var texts, eols []string
	for i, l := range lines {
		if l.num != i+1 {
			t.Errorf("line %d numbered %d", i+1, l.num)
		}
		texts = append(texts, l.text)
		eols = append(eols, l.eol)
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "d", "e", "", "f"}, texts); diff != "" {
		t.Errorf("texts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"\n", "\r\n", "\r\r\n", "\r", "\r", "\r", ""}, eols); diff != "" {
		t.Errorf("eols (-want +got):\n%s", diff)
	}
	if got := render(lines); got != in {
		t.Errorf("render = %q, want %q", got, in)
	}
}

func TestParseDocumentMergesAndOrders(t *testing.T) {
	d := parseDocument("f.cnf", "k=0\n[b]\nx=1\n[a]\ny=2\n[b]\nx=3\nz=4\n")
	var names []string
	for _, s := range d.sections {
		names = append(names, s.name)
	}
	if diff := cmp.Diff([]string{"", "b", "a"}, names); diff != "" {
		t.Errorf("sections (-want +got):\n%s", diff)
	}
	b := d.lookup("b")
	if b.line != 2 || b.entries["x"] != (entry{value: "3", line: 7}) || len(b.keys) != 2 {
		t.Errorf("section b = %+v", b)
	}
	if len(d.warnings) != 2 {
		t.Errorf("warnings = %v", d.warnings)
	}
}

// FuzzScan checks the scanner alone, fast: no panic, every byte given
// back, and removing any block leaves a file that still scans.
func FuzzScan(f *testing.F) {
	for _, data := range fuzzSeeds(f) {
		f.Add(data)
	}
	f.Add("\xef\xbb\xbf[\r\r]\r\n= ; \n[ \t]")
	f.Fuzz(func(t *testing.T, data string) {
		if len(data) > maxFuzzConfig {
			return
		}
		lines := scanLines(data)
		if got := render(lines); got != strings.TrimPrefix(data, utf8BOM) {
			t.Fatalf("render(scanLines(%q)) = %q", data, got)
		}
		d := parseDocument("fuzz.cnf", data)
		for _, s := range d.sections {
			if s.name == "" && s.line != 0 || s.name != "" && s.line == 0 {
				t.Fatalf("section %q at line %d", s.name, s.line)
			}
		}
		for i, l := range sectionsToRemove(lines) {
			out := removeBlockAt(lines, i)
			if len(out) >= len(lines) {
				t.Fatalf("removing the block at line %d removed nothing", l)
			}
			scanLines(render(out))
		}
	})
}

// FuzzLoad feeds arbitrary bytes to the scanner and to Load: neither may
// panic, and the scanner must give every byte back.
func FuzzLoad(f *testing.F) {
	for _, data := range fuzzSeeds(f) {
		f.Add(data)
	}
	f.Add("[server1]\nhostname=db1\nport=\xff\n")
	f.Add("\xef\xbb\xbf[\r\r]\r\n= ; \n[ \t]")
	// Many server blocks at distinct addresses made Validate compare every
	// pair; TestLoadManyServersLinear keeps that linear at sizes no fuzz
	// input reaches. A small one stays as a seed.
	f.Add(manyServers(20))
	dir := memDir(f)
	f.Fuzz(func(t *testing.T, data string) {
		if len(data) > maxFuzzConfig {
			return
		}
		lines := scanLines(data)
		if got := render(lines); got != strings.TrimPrefix(data, utf8BOM) {
			t.Fatalf("render(scanLines(%q)) = %q", data, got)
		}
		parseDocument("fuzz.cnf", data)
		for i := range sectionsToRemove(lines) {
			removeBlockAt(lines, i)
		}

		app := filepath.Join(dir, "app.cnf")
		if err := os.WriteFile(app, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(context.Background(), LoadOptions{
			AppFile:    app,
			GlobalFile: filepath.Join(dir, "none.cnf"),
			Resolver:   testResolver(),
			OSUser:     testOSUser,
			// Never run commands from fuzz input.
			RunScript: func(context.Context, string) ([]byte, error) { return []byte(data), nil },
		})
		if err == nil && len(cfg.Servers) == 0 {
			t.Fatalf("Load succeeded without servers on %q", data)
		}
	})
}

// maxFuzzConfig caps the fuzz inputs. Go minimizes every input that finds
// new coverage, with a pass quadratic in its length (up to a minute per
// input by default): with seeds and inputs of several kilobytes the
// fuzzer spent its whole run minimizing and reported a few thousand
// executions. Configuration syntax needs no more than this.
const maxFuzzConfig = 2 << 10

// memDir is a temporary directory in memory (/dev/shm) when there is one:
// FuzzLoad writes its input to a file for every execution, and on a busy
// disk that write, not Load, set the pace.
func memDir(f *testing.F) string {
	f.Helper()
	d, err := os.MkdirTemp("/dev/shm", "fuzzload-")
	if err != nil {
		return f.TempDir()
	}
	f.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// fuzzSeeds are the fixture and sample configurations, those over
// maxFuzzConfig without their comment and blank lines (what is left of the
// samples is their keys and sections).
func fuzzSeeds(f *testing.F) []string {
	f.Helper()
	var out []string
	for _, dir := range []string{"testdata/good", "testdata/bad", "testdata/global", "../../configs"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.cnf"))
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			s := string(data)
			if len(s) > maxFuzzConfig {
				var b strings.Builder
				for _, l := range scanLines(s) {
					if l.kind != lineComment && l.kind != lineBlank {
						b.WriteString(l.text + l.eol)
					}
				}
				s = b.String()
			}
			if len(s) <= maxFuzzConfig {
				out = append(out, s)
			}
		}
	}
	return out
}

// sectionsToRemove maps the index of the first few section headers of
// lines to their line numbers: removing one block copies the file, so
// trying every header of a file with thousands of blocks would make each
// fuzz execution quadratic in the harness itself.
func sectionsToRemove(lines []rawLine) map[int]int {
	out := map[int]int{}
	for i, l := range lines {
		if l.kind == lineSection {
			out[i] = l.num
			if len(out) == 16 {
				break
			}
		}
	}
	return out
}

// manyServers is a configuration with n server blocks, each at its own
// address.
func manyServers(n int) string {
	var b strings.Builder
	b.WriteString("[server default]\nuser=mha\n")
	for i := range n {
		fmt.Fprintf(&b, "[server%d]\nhostname=10.%d.%d.%d\n", i+1, i>>16&255, i>>8&255, i&255)
	}
	return b.String()
}

// TestLoadManyServersLinear: loading grows linearly with the number of
// blocks (the duplicate ip:port check once compared every pair, and 4000
// blocks took about a second). Eight times the blocks must not take more
// than 25 times as long (linear is eight, quadratic 64); the best of three
// runs keeps a busy machine from deciding.
func TestLoadManyServersLinear(t *testing.T) {
	dir := t.TempDir()
	load := func(n int) time.Duration {
		app := filepath.Join(dir, fmt.Sprintf("app%d.cnf", n))
		if err := os.WriteFile(app, []byte(manyServers(n)), 0o600); err != nil {
			t.Fatal(err)
		}
		best := time.Duration(1<<63 - 1)
		for range 3 {
			start := time.Now()
			cfg, err := Load(context.Background(), LoadOptions{AppFile: app, GlobalFile: filepath.Join(dir, "none.cnf"),
				Resolver: testResolver(), OSUser: testOSUser})
			best = min(best, time.Since(start))
			if err != nil || len(cfg.Servers) != n {
				t.Fatalf("Load of %d servers: %v", n, err)
			}
		}
		return best
	}
	small, large := load(500), load(4000)
	t.Logf("500 servers: %s, 4000 servers: %s", small, large)
	if large > 25*small {
		t.Errorf("4000 servers took %s, %.1f times 500 servers' %s: loading is not linear", large, float64(large)/float64(small), small)
	}
}
