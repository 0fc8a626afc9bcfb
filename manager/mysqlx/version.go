package mysqlx

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrBadVersion reports a version string that does not start with at least
// two numeric groups ("10.11", "8.0.36").
var ErrBadVersion = errors.New("unrecognized server version")

// mariaDBReplicationPrefix is what MariaDB 10.x before 11.0 puts in front of
// its version in the handshake (and so in what some tools report as the
// version), so that old MySQL replicas accept it as a source.
const mariaDBReplicationPrefix = "5.5.5-"

// ParseVersion parses a server version string such as
// "10.11.19-MariaDB-0+deb12u1-log", "5.7.21-0ubuntu0.16.04.1-log" or
// "8.0.36". Only the first three numeric groups count (a missing third group
// is 0); whatever follows is kept in Raw only. MHA 0.58 dies on strings with
// more than three groups; this never does. The flavor is MariaDB when the
// string mentions MariaDB, and MariaDB's "5.5.5-" replication prefix
// ("5.5.5-10.3.39-MariaDB") is skipped.
func ParseVersion(s string) (Version, error) {
	v := Version{Raw: s, Flavor: MySQL}
	t := strings.TrimSpace(s)
	if strings.Contains(strings.ToLower(t), "mariadb") {
		v.Flavor = MariaDB
		if rest, ok := strings.CutPrefix(t, mariaDBReplicationPrefix); ok && rest != "" && isDigit(rest[0]) {
			t = rest
		}
	}
	var groups [3]int
	n := 0
	for n < len(groups) {
		end := 0
		for end < len(t) && isDigit(t[end]) {
			end++
		}
		if end == 0 || end > 9 {
			break
		}
		g, err := strconv.Atoi(t[:end])
		if err != nil {
			break
		}
		groups[n] = g
		n++
		t = t[end:]
		if len(t) < 2 || t[0] != '.' || !isDigit(t[1]) {
			break
		}
		t = t[1:]
	}
	if n < 2 {
		return Version{Raw: s}, fmt.Errorf("%w: %q", ErrBadVersion, s)
	}
	v.Major, v.Minor, v.Patch = groups[0], groups[1], groups[2]
	return v, nil
}

// parseServerVersion parses @@version and takes the flavor also from
// @@version_comment, which says "mariadb.org binary distribution" on builds
// whose version string was patched not to mention MariaDB.
func parseServerVersion(version, comment string) (Version, error) {
	v, err := ParseVersion(version)
	if err != nil {
		return v, err
	}
	if strings.Contains(strings.ToLower(comment), "mariadb") {
		v.Flavor = MariaDB
	}
	return v, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// AtLeast reports whether v is major.minor.patch or newer. It does not look
// at the flavor: compare only versions of the same family.
func (v Version) AtLeast(major, minor, patch int) bool {
	if v.Major != major {
		return v.Major > major
	}
	if v.Minor != minor {
		return v.Minor > minor
	}
	return v.Patch >= patch
}

// String renders the version as "10.11.19 (MariaDB)".
func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d (%s)", v.Major, v.Minor, v.Patch, v.Flavor)
}

// isMySQL reports whether v is MySQL at least major.minor.patch.
func (v Version) isMySQL(major, minor, patch int) bool {
	return v.Flavor == MySQL && v.AtLeast(major, minor, patch)
}

// isMariaDB reports whether v is MariaDB at least major.minor.patch.
func (v Version) isMariaDB(major, minor, patch int) bool {
	return v.Flavor == MariaDB && v.AtLeast(major, minor, patch)
}
