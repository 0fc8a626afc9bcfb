package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// editBase is an application file with comments in every position.
const editBase = `# app1: three servers
; header comment

[server default]
user=mha   
# password below
password=pw

# --- server1: the master ---
[server1]
hostname=db1
# a comment inside server1
port=3306
# commented_out=1

# server2 is a candidate
[server2]
hostname=db2
candidate_master=1
# server3 is attached to its header
[server3]
hostname=db3
port=3307

# trailing comment, detached
`

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRemoveServerBlock(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		block string
		want  string
	}{
		{
			name:  "middle block with its comments",
			in:    editBase,
			block: "server1",
			want: `# app1: three servers
; header comment

[server default]
user=mha   
# password below
password=pw

# server2 is a candidate
[server2]
hostname=db2
candidate_master=1
# server3 is attached to its header
[server3]
hostname=db3
port=3307

# trailing comment, detached
`,
		},
		{
			name:  "block followed by an attached comment",
			in:    editBase,
			block: "2", // masterha_conf_host --block=2 means server2
			want: `# app1: three servers
; header comment

[server default]
user=mha   
# password below
password=pw

# --- server1: the master ---
[server1]
hostname=db1
# a comment inside server1
port=3306
# commented_out=1

# server3 is attached to its header
[server3]
hostname=db3
port=3307

# trailing comment, detached
`,
		},
		{
			name:  "last block before a detached comment",
			in:    editBase,
			block: "server3",
			want: `# app1: three servers
; header comment

[server default]
user=mha   
# password below
password=pw

# --- server1: the master ---
[server1]
hostname=db1
# a comment inside server1
port=3306
# commented_out=1

# server2 is a candidate
[server2]
hostname=db2
candidate_master=1

# trailing comment, detached
`,
		},
		{
			name:  "first block of the file",
			in:    "[server1]\nhostname=db1\n\n[server2]\nhostname=db2\n",
			block: "server1",
			want:  "[server2]\nhostname=db2\n",
		},
		{
			name:  "last block at end of file",
			in:    "[server1]\nhostname=db1\n\n# two\n[server2]\nhostname=db2\n# end\n\n",
			block: "server2",
			want:  "[server1]\nhostname=db1\n",
		},
		{
			name:  "repeated header",
			in:    "[server1]\nhostname=db1\n\n[server2]\nhostname=db2\n\n[server1]\nport=3307\n",
			block: "server1",
			want:  "[server2]\nhostname=db2\n",
		},
		{
			name:  "CRLF and no final newline",
			in:    "[server1]\r\nhostname=db1\r\n\r\n[server2]\r\nhostname=db2",
			block: "server2",
			want:  "[server1]\r\nhostname=db1\r\n",
		},
		{
			name:  "byte order mark kept",
			in:    "\xef\xbb\xbf# x\n[server1]\nhostname=db1\n[server2]\nhostname=db2\n",
			block: "server2",
			want:  "\xef\xbb\xbf# x\n[server1]\nhostname=db1\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, "app1.cnf", tt.in)
			found, err := RemoveServerBlock(p, tt.block)
			if err != nil || !found {
				t.Fatalf("RemoveServerBlock = %v, %v", found, err)
			}
			if diff := cmp.Diff(tt.want, readFile(t, p)); diff != "" {
				t.Errorf("file (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRemoveServerBlockNotFound(t *testing.T) {
	p := writeFile(t, "app1.cnf", editBase)
	before, _ := os.Stat(p)
	found, err := RemoveServerBlock(p, "server9")
	if err != nil || found {
		t.Fatalf("RemoveServerBlock = %v, %v; want false, nil", found, err)
	}
	if got := readFile(t, p); got != editBase {
		t.Errorf("file changed:\n%s", got)
	}
	after, _ := os.Stat(p)
	if !after.ModTime().Equal(before.ModTime()) {
		t.Error("file rewritten although nothing was removed")
	}
	if _, err := RemoveServerBlock(filepath.Join(t.TempDir(), "none.cnf"), "server1"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestAddServerBlock(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		block  string
		params []KV
		want   string
	}{
		{
			name:   "numeric block name, comments kept",
			in:     editBase,
			block:  "100",
			params: []KV{{"no_master", "1"}, {"hostname", "db100"}, {"ignore_fail", "1"}},
			want:   editBase + "\n[server100]\nhostname=db100\nno_master=1\nignore_fail=1\n",
		},
		{
			name:   "block name from the hostname",
			in:     "[server1]\nhostname=db1\n",
			params: []KV{{"hostname", "db101"}},
			want:   "[server1]\nhostname=db1\n\n[server_db101]\nhostname=db101\n",
		},
		{
			name:   "no final newline, CRLF",
			in:     "[server1]\r\nhostname=db1",
			block:  "server2",
			params: []KV{{"hostname", "db2"}, {"port", "3307"}, {"port", "3308"}},
			want:   "[server1]\r\nhostname=db1\r\n\r\n[server2]\r\nhostname=db2\r\nport=3308\r\n",
		},
		{
			name:   "file ending in a blank line",
			in:     "[server1]\nhostname=db1\n\n",
			block:  "server2",
			params: []KV{{"hostname", "db2"}, {"password", "a#b c"}},
			want:   "[server1]\nhostname=db1\n\n[server2]\nhostname=db2\npassword=a#b c\n",
		},
		{
			name:   "empty file",
			in:     "",
			block:  "server1",
			params: []KV{{"hostname", "db1"}},
			want:   "[server1]\nhostname=db1\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, "app1.cnf", tt.in)
			if err := AddServerBlock(p, tt.block, tt.params); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, readFile(t, p)); diff != "" {
				t.Errorf("file (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAddServerBlockErrors(t *testing.T) {
	tests := []struct {
		name   string
		block  string
		params []KV
		want   error
		text   string
	}{
		{"block exists", "server2", []KV{{"hostname", "dbx"}}, ErrBlockExists, `line 17: block already exists`},
		{"block exists by rule", "2", []KV{{"hostname", "dbx"}}, ErrBlockExists, ""},
		{"unknown parameters", "server9", []KV{{"hostname", "db9"}, {"pnig_interval", "3"}, {"candidate", "1"}}, ErrUnknownParameter,
			"pnig_interval: unknown parameter; did you mean ping_interval?\n"},
		{"no hostname", "server9", []KV{{"port", "3306"}}, ErrNoHostname, ""},
		{"newline in value", "server9", []KV{{"hostname", "db9\n[server1]"}}, ErrInvalidValue, ""},
		{"inline comment in value", "server9", []KV{{"hostname", "db9"}, {"password", "a ; b"}}, ErrInvalidValue, ""},
		{"blanks around value", "server9", []KV{{"hostname", " db9"}}, ErrInvalidValue, ""},
		{"blank in block name", "server 9", []KV{{"hostname", "db9"}}, ErrInvalidBlock, ""},
		{"bracket in block name", "server9]\n[x", []KV{{"hostname", "db9"}}, ErrInvalidBlock, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, "app1.cnf", editBase)
			err := AddServerBlock(p, tt.block, tt.params)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q does not contain %q", err, tt.text)
			}
			if got := readFile(t, p); got != editBase {
				t.Errorf("file changed:\n%s", got)
			}
		})
	}
}

func TestEditKeepsModeAndSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.cnf")
	if err := os.WriteFile(real, []byte(editBase), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(real, 0o640); err != nil { // regardless of umask
		t.Fatal(err)
	}
	link := filepath.Join(dir, "app1.cnf")
	if err := os.Symlink("real.cnf", link); err != nil {
		t.Fatal(err)
	}
	if err := AddServerBlock(link, "9", []KV{{"hostname", "db9"}}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(link)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("link replaced: %v %v", fi.Mode(), err)
	}
	fi, err = os.Stat(real)
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, %v; want 0640", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("temporary file left behind: %v", entries)
	}
	if found, err := RemoveServerBlock(link, "server9"); err != nil || !found {
		t.Fatalf("RemoveServerBlock = %v, %v", found, err)
	}
	if got := readFile(t, real); got != editBase {
		t.Errorf("add then remove did not give the file back:\n%s", got)
	}
}

func TestRemoveServer(t *testing.T) {
	const in = `[server default]
port=3307
[server1]
hostname=db1
[server2]
hostname="db2"
port=3306
[server3]
hostname=db1
port=3310
[server4]
hostname=gone.example.com
`
	tests := []struct {
		hostname  string
		port      int
		wantBlock string
		wantErr   error
	}{
		{"db1", 3307, "server1", nil}, // port from [server default]
		{"db2", 3306, "server2", nil}, // quotes stripped as Load does
		{"db1", 3310, "server3", nil},
		{"gone.example.com", 0, "server4", nil}, // no DNS needed
		{"db1", 0, "", ErrAmbiguousServer},
		{"db1", 3306, "", ErrServerNotFound},
		{"db9", 3307, "", ErrServerNotFound},
	}
	for _, tt := range tests {
		p := writeFile(t, "app1.cnf", in)
		block, err := RemoveServer(p, tt.hostname, tt.port)
		if !errors.Is(err, tt.wantErr) || block != tt.wantBlock {
			t.Errorf("RemoveServer(%s, %d) = %q, %v; want %q, %v", tt.hostname, tt.port, block, err, tt.wantBlock, tt.wantErr)
			continue
		}
		doc := parseDocument(p, readFile(t, p))
		if tt.wantErr != nil {
			if readFile(t, p) != in {
				t.Errorf("RemoveServer(%s, %d) changed the file", tt.hostname, tt.port)
			}
			continue
		}
		if doc.lookup(tt.wantBlock) != nil || len(doc.sections) != 4 {
			t.Errorf("RemoveServer(%s, %d): sections left %d", tt.hostname, tt.port, len(doc.sections))
		}
	}
}

func TestEditedFileLoads(t *testing.T) {
	p := writeFile(t, "app1.cnf", "# keep me\n[server1]\nhostname=db1\n")
	if err := AddServerBlock(p, "2", ParseParams("hostname=db2;candidate_master=1;;port=3307=junk")); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(context.Background(), opts(t, p))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Servers[1]
	if s.Block != "server2" || s.Hostname != "db2" || !s.CandidateMaster || s.Port != 3307 {
		t.Errorf("added server = %+v", s)
	}
}

func TestParseParams(t *testing.T) {
	got := ParseParams("no_master=1;ignore_fail=1;;password=a=b;flag;x=")
	want := []KV{{"no_master", "1"}, {"ignore_fail", "1"}, {"password", "a"}, {"flag", ""}, {"x", ""}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseParams (-want +got):\n%s", diff)
	}
}

func TestBlockName(t *testing.T) {
	tests := []struct{ block, host, want string }{
		{"100", "", "server100"},
		{"server100", "db", "server100"},
		{"_db1", "", "server_db1"},
		{"", "db101", "server_db101"},
		{"", "", ""},
	}
	for _, tt := range tests {
		if got := BlockName(tt.block, tt.host); got != tt.want {
			t.Errorf("BlockName(%q, %q) = %q, want %q", tt.block, tt.host, got, tt.want)
		}
	}
}
