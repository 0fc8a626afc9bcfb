package vip

import (
	"net/netip"
	"sync"
	"time"
)

// MemMemo is a Memo kept in this process's memory. gomha runs its built-in
// hooks inside the manager (hooks.Runner.InProcess), so the stop and the
// start of one failover share it; a hook run as a child process starts
// with an empty one and simply dials again. Nothing on disk can be planted
// or left stale for a later failover. The zero value is ready to use.
type MemMemo struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu sync.Mutex
	at map[memoKey]time.Time
}

type memoKey struct {
	name, ip string
	vip      netip.Prefix
}

func (m *MemMemo) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Unreachable implements Memo.
func (m *MemMemo) Unreachable(orig Host, vip netip.Prefix) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.at == nil {
		m.at = map[memoKey]time.Time{}
	}
	m.at[memoKey{orig.Name, orig.IP, vip}] = m.now()
}

// WasUnreachable implements Memo.
func (m *MemMemo) WasUnreachable(orig Host, vip netip.Prefix) (bool, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := memoKey{orig.Name, orig.IP, vip}
	at, ok := m.at[k]
	delete(m.at, k)
	if !ok {
		return false, 0
	}
	ago := m.now().Sub(at)
	if ago < 0 || ago > MemoFor {
		return false, 0
	}
	return true, ago
}
