package gtid

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	u1 = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	u2 = "4f22ab58-82db-22f2-af44-d91bba530673"
)

func TestParseSet(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            error
	}{
		{name: "empty", in: "", want: ""},
		{name: "blank", in: " \n ", want: ""},
		{name: "single", in: u1 + ":5", want: u1 + ":5"},
		{name: "range", in: u1 + ":1-5", want: u1 + ":1-5"},
		{name: "upper case and no dashes", in: "3E11FA4771CA11E19E33C80AA9429562:1-5", want: u1 + ":1-5"},
		{name: "gtid_executed with newlines", in: u2 + ":1-3,\n" + u1 + ":1-5:7-9", want: u1 + ":1-5:7-9," + u2 + ":1-3"},
		{name: "adjacent intervals merge", in: u1 + ":1-3:4-6:8", want: u1 + ":1-6:8"},
		{name: "overlap and repeat merge", in: u1 + ":5-9," + u1 + ":1-6:2", want: u1 + ":1-9"},
		{name: "unsorted intervals", in: u1 + ":20:1-3:10-12", want: u1 + ":1-3:10-12:20"},
		{name: "trailing comma", in: u1 + ":1,", want: u1 + ":1"},
		{name: "tags (MySQL 8.3+)", in: u1 + ":1-2:Blue:3-4:blue:5", want: u1 + ":1-2:blue:3-5"},
		{name: "max gno", in: u1 + ":9223372036854775807", want: u1 + ":9223372036854775807"},
		{name: "no intervals", in: u1, err: ErrSyntax},
		{name: "bad uuid", in: "3e11fa47-71ca-11e1-9e33:1", err: ErrSyntax},
		{name: "bad uuid dash", in: "3e11fa47x71ca-11e1-9e33-c80aa9429562:1", err: ErrSyntax},
		{name: "zero gno", in: u1 + ":0-3", err: ErrRange},
		{name: "gno too big", in: u1 + ":9223372036854775808", err: ErrRange},
		{name: "reversed", in: u1 + ":5-3", err: ErrRange},
		{name: "empty interval", in: u1 + "::1", err: ErrSyntax},
		{name: "signed", in: u1 + ":1-+3", err: ErrSyntax},
		{name: "tag without numbers", in: u1 + ":1:blue", err: ErrSyntax},
		{name: "two tags in a row", in: u1 + ":red:blue:1", err: ErrSyntax},
		{name: "tag starting with digit is a number", in: u1 + ":1abc", err: ErrSyntax},
		{name: "tag too long", in: u1 + ":" + "abcdefghijabcdefghijabcdefghijabc:1", err: ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSet(tt.in)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("ParseSet(%q) error = %v, want %v", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSet(%q): %v", tt.in, err)
			}
			if got := s.String(); got != tt.want {
				t.Errorf("ParseSet(%q).String() = %q, want %q", tt.in, got, tt.want)
			}
			again, err := ParseSet(s.String())
			if err != nil || !again.Equal(s) {
				t.Errorf("round trip of %q: %v, %v", s, again, err)
			}
		})
	}
}

func mustSet(t *testing.T, s string) Set {
	t.Helper()
	set, err := ParseSet(s)
	if err != nil {
		t.Fatalf("ParseSet(%q): %v", s, err)
	}
	return set
}

func TestSetAlgebra(t *testing.T) {
	tests := []struct {
		name, a, b          string
		minus, union        string
		aHasB, bHasA, equal bool
	}{
		{name: "both empty", aHasB: true, bHasA: true, equal: true},
		{name: "equal", a: u1 + ":1-10", b: u1 + ":1-10", aHasB: true, bHasA: true, equal: true, union: u1 + ":1-10"},
		{name: "replica behind", a: u1 + ":1-5", b: u1 + ":1-10", bHasA: true, union: u1 + ":1-10"},
		{name: "replica with errant uuid", a: u1 + ":1-10," + u2 + ":1-2", b: u1 + ":1-10", minus: u2 + ":1-2", aHasB: true, union: u1 + ":1-10," + u2 + ":1-2"},
		{name: "hole in the middle", a: u1 + ":1-10", b: u1 + ":1-3:6-10", minus: u1 + ":4-5", aHasB: true, union: u1 + ":1-10"},
		{name: "several holes", a: u1 + ":1-20", b: u1 + ":2-3:5:9-18", minus: u1 + ":1:4:6-8:19-20", aHasB: true, union: u1 + ":1-20"},
		{name: "disjoint", a: u1 + ":1-3", b: u1 + ":5-7", minus: u1 + ":1-3", union: u1 + ":1-3:5-7"},
		{name: "tag differs", a: u1 + ":1-3:t:1", b: u1 + ":1-3", minus: u1 + ":t:1", aHasB: true, union: u1 + ":1-3:t:1"},
		{name: "subtract from empty", a: "", b: u1 + ":1", bHasA: true, union: u1 + ":1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := mustSet(t, tt.a), mustSet(t, tt.b)
			if got := a.Subtract(b).String(); got != tt.minus {
				t.Errorf("a-b = %q, want %q", got, tt.minus)
			}
			if got := a.Union(b).String(); got != tt.union {
				t.Errorf("a+b = %q, want %q", got, tt.union)
			}
			if got := a.Contains(b); got != tt.aHasB {
				t.Errorf("a.Contains(b) = %v", got)
			}
			if got := b.Contains(a); got != tt.bHasA {
				t.Errorf("b.Contains(a) = %v", got)
			}
			if got := a.Equal(b); got != tt.equal {
				t.Errorf("a.Equal(b) = %v", got)
			}
		})
	}
}

func TestSetCount(t *testing.T) {
	s := mustSet(t, u1+":1-10:20,"+u2+":5")
	if got := s.Count(); got != 12 {
		t.Errorf("Count = %d, want 12", got)
	}
	if got := (Set{}).Count(); got != 0 {
		t.Errorf("empty Count = %d", got)
	}
	sids := s.SIDs()
	want := []SID{{UUID: u1}, {UUID: u2}}
	if diff := cmp.Diff(want, sids); diff != "" {
		t.Errorf("SIDs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Interval{{1, 10}, {20, 20}}, s.Intervals(SID{UUID: u1})); diff != "" {
		t.Errorf("Intervals (-want +got):\n%s", diff)
	}
}

func TestParseMariaDBList(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            error
	}{
		{name: "empty", in: "", want: ""},
		{name: "one", in: "0-1-100", want: "0-1-100"},
		{name: "sorted by domain", in: "2-3-4, 0-1-100,\n1-2-7", want: "0-1-100,1-2-7,2-3-4"},
		{name: "binlog state", in: "0-2-5,0-1-100", want: "0-1-100,0-2-5"},
		{name: "duplicate keeps highest", in: "0-1-5,0-1-9,0-1-7", want: "0-1-9"},
		{name: "max values", in: "4294967295-4294967295-18446744073709551615", want: "4294967295-4294967295-18446744073709551615"},
		{name: "two fields", in: "0-1", err: ErrSyntax},
		{name: "four fields", in: "0-1-2-3", err: ErrSyntax},
		{name: "letters", in: "0-x-2", err: ErrSyntax},
		{name: "sign", in: "0-+1-2", err: ErrSyntax},
		{name: "empty field", in: "0--2", err: ErrSyntax},
		{name: "domain overflow", in: "4294967296-1-2", err: ErrRange},
		{name: "seq overflow", in: "0-1-18446744073709551616", err: ErrRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ParseMariaDBList(tt.in)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("ParseMariaDBList(%q) error = %v, want %v", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseMariaDBList(%q): %v", tt.in, err)
			}
			if got := l.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMariaDBBeyond(t *testing.T) {
	tests := []struct {
		name, replica, master, want string
	}{
		{name: "in sync", replica: "0-1-100", master: "0-1-100"},
		{name: "replica behind", replica: "0-1-90", master: "0-1-100"},
		{name: "replica ahead, same server", replica: "0-1-101", master: "0-1-100", want: "0-1-101"},
		{name: "local write ahead of master", replica: "0-2-101", master: "0-1-100", want: "0-2-101"},
		{name: "same seq_no from another server: diverged", replica: "0-2-100", master: "0-1-100", want: "0-2-100"},
		{name: "old local write hidden behind master position", replica: "0-2-50", master: "0-1-100"},
		{name: "domain the master never wrote", replica: "0-1-100,7-2-3", master: "0-1-100", want: "7-2-3"},
		{name: "master has more domains", replica: "0-1-100", master: "0-1-100,1-1-5"},
		{name: "empty replica", replica: "", master: "0-1-100"},
		{name: "empty master", replica: "0-1-1", master: "", want: "0-1-1"},
		{name: "binlog state: server seen, replica further", replica: "0-1-100,0-2-5", master: "0-1-120,0-2-3", want: "0-2-5"},
		{name: "binlog state: server seen, master further", replica: "0-1-100,0-2-3", master: "0-1-120,0-2-3"},
		{name: "after a failover both carry the old master", replica: "0-1-50,0-3-80", master: "0-1-50,0-3-90"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseMariaDBList(tt.replica)
			if err != nil {
				t.Fatal(err)
			}
			m, err := ParseMariaDBList(tt.master)
			if err != nil {
				t.Fatal(err)
			}
			if got := MariaDBList(r.Beyond(m)).String(); got != tt.want {
				t.Errorf("Beyond = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMariaDBLast(t *testing.T) {
	l, err := ParseMariaDBList("0-1-100,0-2-120,1-3-4")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		domain uint32
		want   MariaDB
		ok     bool
	}{
		{0, MariaDB{0, 2, 120}, true},
		{1, MariaDB{1, 3, 4}, true},
		{2, MariaDB{}, false},
	}
	for _, tt := range tests {
		got, ok := l.Last(tt.domain)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Last(%d) = %v, %v; want %v, %v", tt.domain, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseSet(f *testing.F) {
	for _, s := range []string{"", u1 + ":1-5", u1 + ":1-3:t:4,\n" + u2 + ":7", u1 + ":0", "x:1", u1 + "::", u1 + ":t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSet(in)
		if err != nil {
			return
		}
		again, err := ParseSet(s.String())
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", s, in, err)
		}
		if !again.Equal(s) {
			t.Fatalf("round trip of %q changed it: %q", s, again)
		}
		if !s.Subtract(s).IsEmpty() || !s.Contains(s) {
			t.Fatalf("s-s not empty for %q", s)
		}
	})
}

func FuzzParseMariaDBList(f *testing.F) {
	for _, s := range []string{"", "0-1-100", "0-1-100,1-2-3", "0-1", "a-b-c", "4294967296-1-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		l, err := ParseMariaDBList(in)
		if err != nil {
			return
		}
		again, err := ParseMariaDBList(l.String())
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", l, in, err)
		}
		if diff := cmp.Diff(l, again); diff != "" {
			t.Fatalf("round trip of %q (-first +second):\n%s", l, diff)
		}
		if len(l.Beyond(l)) != 0 {
			t.Fatalf("%q is beyond itself", l)
		}
	})
}
