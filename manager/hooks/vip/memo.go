package vip

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FileMemo is a Memo kept as small files in Dir (one per orig master and
// address, holding the Unix time in nanoseconds), so that it survives from
// the hook's stop run to its start run. An empty Dir means os.TempDir().
type FileMemo struct {
	Dir string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (f FileMemo) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f FileMemo) path(orig Host, vip netip.Prefix) string {
	dir := f.Dir
	if dir == "" {
		dir = os.TempDir()
	}
	sum := sha256.Sum256([]byte(orig.Name + "|" + orig.IP + "|" + vip.String()))
	return filepath.Join(dir, "gomha-vip-unreachable-"+hex.EncodeToString(sum[:8]))
}

// Unreachable implements Memo. A file that cannot be written only costs
// start a dial.
func (f FileMemo) Unreachable(orig Host, vip netip.Prefix) {
	_ = os.WriteFile(f.path(orig, vip), []byte(strconv.FormatInt(f.now().UnixNano(), 10)), 0o600)
}

// WasUnreachable implements Memo.
func (f FileMemo) WasUnreachable(orig Host, vip netip.Prefix) (bool, time.Duration) {
	p := f.path(orig, vip)
	b, err := os.ReadFile(p)
	if err != nil {
		return false, 0
	}
	_ = os.Remove(p)
	ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return false, 0
	}
	ago := f.now().Sub(time.Unix(0, ns))
	if ago < 0 || ago > MemoFor {
		return false, 0
	}
	return true, ago
}
