package mysqlx

import "strings"

// IOThread is a replica's replication IO (receiver) thread state: the
// Slave_IO_Running / Replica_IO_Running column of SHOW SLAVE STATUS, spelled
// as the server spells it. Compare it with the constants below, never with
// string literals.
type IOThread string

// IO thread states.
const (
	// IOUnknown: not read (no replica status, or the replica gave no SQL
	// answer).
	IOUnknown IOThread = ""
	// IOConnected: "Yes", connected to the source.
	IOConnected IOThread = "Yes"
	// IOConnecting: "Connecting", trying to (re)connect to the source.
	IOConnecting IOThread = "Connecting"
	// IOStopped: "No", the thread is not running.
	IOStopped IOThread = "No"
)

// ParseIOThread reads the Slave_IO_Running / Replica_IO_Running column. The
// three values every supported server uses are matched without regard to
// case and returned as the constants; any other non-empty value (a state a
// later server version may add) is kept as the server wrote it, and is
// neither Connected nor Stopped.
func ParseIOThread(s string) IOThread {
	s = strings.TrimSpace(s)
	for _, k := range []IOThread{IOConnected, IOConnecting, IOStopped} {
		if strings.EqualFold(s, string(k)) {
			return k
		}
	}
	return IOThread(s)
}

// Connected reports whether the thread is connected to its source ("Yes").
func (t IOThread) Connected() bool { return t == IOConnected }

// String spells the state as the server does; "unknown" when not read.
func (t IOThread) String() string {
	if t == IOUnknown {
		return "unknown"
	}
	return string(t)
}
