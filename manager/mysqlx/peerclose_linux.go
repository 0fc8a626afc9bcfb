package mysqlx

import (
	"errors"
	"net"
	"sync"

	"golang.org/x/sys/unix"
)

// watchedConn is a connection whose peer is watched; closing it stops the
// watcher first.
type watchedConn struct {
	net.Conn
	once sync.Once
	stop func()
}

func (w *watchedConn) Close() error {
	w.once.Do(w.stop)
	return w.Conn.Close()
}

// watchPeerClose returns nc wrapped so that notify is called when the peer
// shuts its side down or resets the connection. A goroutine polls a
// duplicate of the socket for POLLRDHUP (with the always reported POLLHUP
// and POLLERR), which never consumes a byte: the driver reads the socket as
// if nothing watched it. Closing the returned connection stops the watcher
// through a pipe, at once. Anything that cannot be set up leaves nc
// unwatched.
func watchPeerClose(nc net.Conn, notify func()) net.Conn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nc
	}
	dup, derr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) { dup, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil || derr != nil {
		return nc
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		_ = unix.Close(dup)
		return nc
	}
	// mu guards the pipe's write end against reuse of its number: the
	// watcher closes it when it ends, stop writes to it only before that.
	var (
		mu   sync.Mutex
		done bool
	)
	go func() {
		defer func() {
			mu.Lock()
			done = true
			_ = unix.Close(dup)
			_ = unix.Close(p[0])
			_ = unix.Close(p[1])
			mu.Unlock()
		}()
		fds := []unix.PollFd{{Fd: int32(dup), Events: unix.POLLRDHUP}, {Fd: int32(p[0]), Events: unix.POLLIN}}
		for {
			_, err := unix.Poll(fds, -1)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil || fds[1].Revents != 0 {
				return
			}
			if fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0 {
				notify()
				return
			}
		}
	}()
	stop := func() {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			_, _ = unix.Write(p[1], []byte{0})
		}
	}
	return &watchedConn{Conn: nc, stop: stop}
}
