package gtid

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MaxGNO is the largest MySQL transaction number (GNO): 2^63-1.
const MaxGNO = 1<<63 - 1

// Interval is a closed range [Start, End] of MySQL transaction numbers.
type Interval struct {
	Start, End uint64
}

// String renders the interval as MySQL does: "5" or "1-5".
func (iv Interval) String() string {
	if iv.Start == iv.End {
		return strconv.FormatUint(iv.Start, 10)
	}
	return strconv.FormatUint(iv.Start, 10) + "-" + strconv.FormatUint(iv.End, 10)
}

// SID names the origin of MySQL transactions: a server UUID and, from
// MySQL 8.3 on, an optional tag ("uuid:tag:1-5"). UUID is lower case with
// dashes; Tag is lower case and "" for untagged transactions.
type SID struct {
	UUID string
	Tag  string
}

func (s SID) less(o SID) bool {
	if s.UUID != o.UUID {
		return s.UUID < o.UUID
	}
	return s.Tag < o.Tag
}

// Set is a MySQL GTID set such as
// "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7,4f...:1". The zero value is
// the empty set. A Set is immutable: every operation returns a new one.
type Set struct {
	// m maps each SID to its sorted, merged, non-empty intervals.
	m map[SID][]Interval
}

// ParseSet parses MySQL's text form of a GTID set, as printed by
// @@gtid_executed, SHOW MASTER STATUS or SHOW REPLICA STATUS: entries
// separated by commas (newlines and spaces around them are ignored), each a
// UUID (with or without dashes, any case) followed by colon-separated
// intervals "n" or "n-m"; MySQL 8.3+ tags ("uuid:1-3:mytag:1-2") are
// accepted. The empty string is the empty set. Overlapping and repeated
// entries are merged.
func ParseSet(s string) (Set, error) {
	var out Set
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		fields := strings.Split(part, ":")
		uuid, err := normUUID(strings.TrimSpace(fields[0]))
		if err != nil {
			return Set{}, err
		}
		if len(fields) < 2 {
			return Set{}, fmt.Errorf("%w: %q has no transaction numbers", ErrSyntax, part)
		}
		sid := SID{UUID: uuid}
		pending := false // a tag was read and still needs an interval
		for _, f := range fields[1:] {
			f = strings.TrimSpace(f)
			if f != "" && f[0] >= '0' && f[0] <= '9' {
				iv, err := parseInterval(f)
				if err != nil {
					return Set{}, err
				}
				out.add(sid, iv)
				pending = false
				continue
			}
			if pending {
				return Set{}, fmt.Errorf("%w: tag %q in %q has no transaction numbers", ErrSyntax, sid.Tag, part)
			}
			tag, err := normTag(f)
			if err != nil {
				return Set{}, err
			}
			sid.Tag = tag
			pending = true
		}
		if pending {
			return Set{}, fmt.Errorf("%w: tag %q in %q has no transaction numbers", ErrSyntax, sid.Tag, part)
		}
	}
	return out, nil
}

func parseInterval(f string) (Interval, error) {
	lo, hi, ok := strings.Cut(f, "-")
	a, err := parseGNO(lo)
	if err != nil {
		return Interval{}, err
	}
	b := a
	if ok {
		if b, err = parseGNO(hi); err != nil {
			return Interval{}, err
		}
	}
	if b < a {
		return Interval{}, fmt.Errorf("%w: interval %q ends before it starts", ErrRange, f)
	}
	return Interval{a, b}, nil
}

func parseGNO(s string) (uint64, error) {
	if s == "" {
		return 0, fmt.Errorf("%w: empty transaction number", ErrSyntax)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: transaction number %q", ErrSyntax, s)
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 || n > MaxGNO {
		return 0, fmt.Errorf("%w: transaction number %q must be 1..%d", ErrRange, s, uint64(MaxGNO))
	}
	return n, nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// normUUID accepts "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" or 32 hex digits
// and returns the lower-case dashed form.
func normUUID(s string) (string, error) {
	var hex []byte
	switch len(s) {
	case 36:
		for i := 0; i < len(s); i++ {
			c := s[i]
			if i == 8 || i == 13 || i == 18 || i == 23 {
				if c != '-' {
					return "", fmt.Errorf("%w: bad UUID %q", ErrSyntax, s)
				}
				continue
			}
			if !isHex(c) {
				return "", fmt.Errorf("%w: bad UUID %q", ErrSyntax, s)
			}
			hex = append(hex, c)
		}
	case 32:
		for i := 0; i < len(s); i++ {
			if !isHex(s[i]) {
				return "", fmt.Errorf("%w: bad UUID %q", ErrSyntax, s)
			}
		}
		hex = []byte(s)
	default:
		return "", fmt.Errorf("%w: bad UUID %q", ErrSyntax, s)
	}
	h := strings.ToLower(string(hex))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], nil
}

// normTag checks a MySQL 8.3 GTID tag: a letter or underscore, then up to 31
// letters, digits or underscores; case-insensitive.
func normTag(s string) (string, error) {
	if s == "" || len(s) > 32 {
		return "", fmt.Errorf("%w: bad GTID tag %q", ErrSyntax, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9'
		if !ok {
			return "", fmt.Errorf("%w: bad GTID tag %q", ErrSyntax, s)
		}
	}
	return strings.ToLower(s), nil
}

// add inserts iv into s in place (only used while building a new Set).
func (s *Set) add(sid SID, iv Interval) {
	if s.m == nil {
		s.m = make(map[SID][]Interval)
	}
	s.m[sid] = merge(append(slices.Clone(s.m[sid]), iv))
}

// merge sorts intervals and joins overlapping or adjacent ones.
func merge(ivs []Interval) []Interval {
	slices.SortFunc(ivs, func(a, b Interval) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
	out := ivs[:0]
	for _, iv := range ivs {
		if n := len(out); n > 0 && (iv.Start <= out[n-1].End || iv.Start-1 == out[n-1].End) {
			if iv.End > out[n-1].End {
				out[n-1].End = iv.End
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// IsEmpty reports whether s holds no transaction.
func (s Set) IsEmpty() bool { return len(s.m) == 0 }

// SIDs returns the origins present in s, sorted by UUID then tag.
func (s Set) SIDs() []SID {
	out := make([]SID, 0, len(s.m))
	for sid := range s.m {
		out = append(out, sid)
	}
	slices.SortFunc(out, func(a, b SID) int {
		if a.less(b) {
			return -1
		}
		if b.less(a) {
			return 1
		}
		return 0
	})
	return out
}

// Intervals returns a copy of the intervals of sid in s, sorted and merged.
func (s Set) Intervals(sid SID) []Interval { return slices.Clone(s.m[sid]) }

// Count returns the number of transactions in s, saturating at the maximum
// uint64.
func (s Set) Count() uint64 {
	var n uint64
	for _, ivs := range s.m {
		for _, iv := range ivs {
			d := iv.End - iv.Start + 1
			if n+d < n {
				return ^uint64(0)
			}
			n += d
		}
	}
	return n
}

// String renders s canonically: UUIDs in order, untagged intervals first,
// then each tag in order with its intervals, entries joined by ",":
// "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7:blue:1-2".
func (s Set) String() string {
	var b strings.Builder
	lastUUID := ""
	for _, sid := range s.SIDs() {
		if sid.UUID != lastUUID {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(sid.UUID)
			lastUUID = sid.UUID
		}
		if sid.Tag != "" {
			b.WriteByte(':')
			b.WriteString(sid.Tag)
		}
		for _, iv := range s.m[sid] {
			b.WriteByte(':')
			b.WriteString(iv.String())
		}
	}
	return b.String()
}

// Equal reports whether s and o hold the same transactions.
func (s Set) Equal(o Set) bool {
	if len(s.m) != len(o.m) {
		return false
	}
	for sid, a := range s.m {
		if !slices.Equal(a, o.m[sid]) {
			return false
		}
	}
	return true
}

// Union returns the transactions in s or o.
func (s Set) Union(o Set) Set {
	var out Set
	for _, src := range []Set{s, o} {
		for sid, ivs := range src.m {
			for _, iv := range ivs {
				out.add(sid, iv)
			}
		}
	}
	return out
}

// Subtract returns the transactions in s that are not in o: for a replica's
// gtid_executed minus its master's, the replica's errant transactions.
func (s Set) Subtract(o Set) Set {
	var out Set
	for sid, ivs := range s.m {
		rest := subtractIntervals(ivs, o.m[sid])
		if len(rest) > 0 {
			if out.m == nil {
				out.m = make(map[SID][]Interval)
			}
			out.m[sid] = rest
		}
	}
	return out
}

// Contains reports whether every transaction of o is in s.
func (s Set) Contains(o Set) bool { return o.Subtract(s).IsEmpty() }

// subtractIntervals removes b from a; both sorted and merged.
func subtractIntervals(a, b []Interval) []Interval {
	var out []Interval
	j := 0
	for _, iv := range a {
		cur := iv
		for j < len(b) && b[j].End < cur.Start {
			j++
		}
		k := j
		keep := true
		for k < len(b) && b[k].Start <= cur.End {
			if b[k].Start > cur.Start {
				out = append(out, Interval{cur.Start, b[k].Start - 1})
			}
			if b[k].End >= cur.End {
				keep = false
				break
			}
			cur.Start = b[k].End + 1
			k++
		}
		if keep {
			out = append(out, cur)
		}
	}
	return out
}
