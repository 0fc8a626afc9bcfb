package gtid

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MariaDB is one MariaDB GTID, "domain-server_id-seq_no" (MariaDB 10.0+).
type MariaDB struct {
	Domain   uint32
	ServerID uint32
	Seq      uint64
}

// String renders g as "0-1-100".
func (g MariaDB) String() string {
	return strconv.FormatUint(uint64(g.Domain), 10) + "-" +
		strconv.FormatUint(uint64(g.ServerID), 10) + "-" +
		strconv.FormatUint(g.Seq, 10)
}

// ParseMariaDB parses one MariaDB GTID "domain-server_id-seq_no".
func ParseMariaDB(s string) (MariaDB, error) {
	f := strings.Split(strings.TrimSpace(s), "-")
	if len(f) != 3 {
		return MariaDB{}, fmt.Errorf("%w: MariaDB GTID %q is not domain-server_id-seq_no", ErrSyntax, s)
	}
	var n [3]uint64
	bits := [3]int{32, 32, 64}
	for i := range f {
		if f[i] == "" || strings.TrimLeft(f[i], "0123456789") != "" {
			return MariaDB{}, fmt.Errorf("%w: MariaDB GTID %q", ErrSyntax, s)
		}
		v, err := strconv.ParseUint(f[i], 10, bits[i])
		if err != nil {
			return MariaDB{}, fmt.Errorf("%w: MariaDB GTID %q", ErrRange, s)
		}
		n[i] = v
	}
	return MariaDB{Domain: uint32(n[0]), ServerID: uint32(n[1]), Seq: n[2]}, nil
}

// MariaDBList is a list of MariaDB GTIDs as held by @@gtid_current_pos,
// @@gtid_slave_pos and @@gtid_binlog_pos (one GTID per domain: the last one
// applied or logged) or @@gtid_binlog_state (one per domain and server_id).
// A parsed list is sorted by domain then server_id and holds at most one
// GTID per (domain, server_id), the highest.
type MariaDBList []MariaDB

// ParseMariaDBList parses a comma-separated MariaDB GTID list; spaces and
// newlines around entries are ignored and "" is the empty list.
func ParseMariaDBList(s string) (MariaDBList, error) {
	var out MariaDBList
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		g, err := ParseMariaDB(part)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b MariaDB) int {
		switch {
		case a.Domain != b.Domain:
			return cmpU(uint64(a.Domain), uint64(b.Domain))
		case a.ServerID != b.ServerID:
			return cmpU(uint64(a.ServerID), uint64(b.ServerID))
		}
		return -cmpU(a.Seq, b.Seq) // highest first, so Compact keeps it
	})
	return slices.CompactFunc(out, func(a, b MariaDB) bool {
		return a.Domain == b.Domain && a.ServerID == b.ServerID
	}), nil
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// String renders l as "0-1-100,1-2-7".
func (l MariaDBList) String() string {
	parts := make([]string, len(l))
	for i, g := range l {
		parts[i] = g.String()
	}
	return strings.Join(parts, ",")
}

// Last returns the GTID with the highest seq_no in domain d: the domain's
// position. ok is false when l has nothing in d.
func (l MariaDBList) Last(d uint32) (g MariaDB, ok bool) {
	for _, x := range l {
		if x.Domain == d && (!ok || x.Seq > g.Seq) {
			g, ok = x, true
		}
	}
	return g, ok
}

// find returns the GTID of (domain, server_id) in l.
func (l MariaDBList) find(d, sid uint32) (MariaDB, bool) {
	for _, x := range l {
		if x.Domain == d && x.ServerID == sid {
			return x, true
		}
	}
	return MariaDB{}, false
}

// Beyond returns the GTIDs of l that other has not reached: for a replica's
// list l and its master's list other, the replica's errant transactions. A
// GTID d-s-n of l is beyond other when
//   - other has nothing in domain d (the master never wrote to that domain);
//   - other has a GTID from the same (d, s) with a lower seq_no; or
//   - other has no GTID from (d, s) and other's last seq_no in d is below n,
//     or equal to n but from another server_id (the same seq_no was used
//     twice: the histories diverged).
//
// When other's last seq_no in d is above n and other has no GTID from (d, s),
// a position (one GTID per domain) cannot tell whether other ever held d-s-n;
// Beyond then assumes it did. Comparing @@gtid_binlog_state lists, which keep
// one GTID per (domain, server_id), removes that blind spot.
func (l MariaDBList) Beyond(other MariaDBList) []MariaDB {
	var out []MariaDB
	for _, g := range l {
		last, ok := other.Last(g.Domain)
		if !ok {
			out = append(out, g)
			continue
		}
		if same, ok := other.find(g.Domain, g.ServerID); ok {
			if same.Seq < g.Seq {
				out = append(out, g)
			}
			continue
		}
		if g.Seq >= last.Seq {
			out = append(out, g)
		}
	}
	return out
}
