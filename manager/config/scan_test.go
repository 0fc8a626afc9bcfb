package config

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	for _, dir := range []string{"testdata/good", "testdata/bad", "testdata/global", "../../configs"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.cnf"))
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(string(data))
		}
	}
	f.Add("\xef\xbb\xbf[\r\r]\r\n= ; \n[ \t]")
	f.Fuzz(func(t *testing.T, data string) {
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
		for i, l := range lines {
			if l.kind != lineSection {
				continue
			}
			out := removeBlockAt(lines, i)
			if len(out) >= len(lines) {
				t.Fatalf("removing the block at line %d removed nothing", l.num)
			}
			scanLines(render(out))
		}
	})
}

// FuzzLoad feeds arbitrary bytes to the scanner and to Load: neither may
// panic, and the scanner must give every byte back.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"testdata/good", "testdata/bad", "testdata/global", "../../configs"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.cnf"))
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(string(data))
		}
	}
	f.Add("[server1]\nhostname=db1\nport=\xff\n")
	f.Add("\xef\xbb\xbf[\r\r]\r\n= ; \n[ \t]")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data string) {
		lines := scanLines(data)
		if got := render(lines); got != strings.TrimPrefix(data, utf8BOM) {
			t.Fatalf("render(scanLines(%q)) = %q", data, got)
		}
		parseDocument("fuzz.cnf", data)
		for i, l := range lines {
			if l.kind == lineSection {
				removeBlockAt(lines, i)
			}
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
