package detect

import "github.com/gomha/gomha/manager/mysqlx"

// IOThread is the replica IO thread state, now mysqlx.IOThread.
//
// Deprecated: use mysqlx.IOThread; kept for integration/ until it moves.
type IOThread = mysqlx.IOThread

// IO thread states, now mysqlx's.
//
// Deprecated: use mysqlx.IOConnected, mysqlx.IOConnecting, mysqlx.IOStopped
// and mysqlx.IOUnknown; kept for integration/ until it moves.
const (
	IOUnknown    = mysqlx.IOUnknown
	IORunning    = mysqlx.IOConnected
	IOConnecting = mysqlx.IOConnecting
	IOStopped    = mysqlx.IOStopped
)
