//go:build !linux

package mysqlx

import "net"

// watchPeerClose leaves nc unwatched outside Linux: OnPeerClose is never
// called there and a monitor finds a closed session at its next ping.
func watchPeerClose(nc net.Conn, _ func()) net.Conn { return nc }
