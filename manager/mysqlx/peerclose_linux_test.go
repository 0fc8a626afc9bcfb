package mysqlx

import (
	"io"
	"net"
	"testing"
	"time"
)

// pair returns a watched client connection to a loopback listener and the
// server's side of it.
func pair(t *testing.T, notify func()) (client net.Conn, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	client = watchPeerClose(nc, notify)
	if _, ok := client.(*watchedConn); !ok {
		t.Fatalf("watchPeerClose returned %T, want a watched connection", client)
	}
	return client, server
}

func TestWatchPeerCloseSeesServerClose(t *testing.T) {
	got := make(chan struct{}, 2)
	client, server := pair(t, func() { got <- struct{}{} })
	defer client.Close()
	// Data from the peer is not a close, and the watcher never takes it.
	if _, err := server.Write([]byte("greeting")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
		t.Fatal("notified on data, want only on a close")
	case <-time.After(200 * time.Millisecond):
	}
	buf := make([]byte, 8)
	if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "greeting" {
		t.Fatalf("client read %q, %v; want the peer's bytes intact", buf, err)
	}
	server.Close()
	select {
	case <-got:
	case <-time.After(2 * time.Second):
		t.Fatal("no notification within 2s of the peer's close")
	}
}

func TestWatchPeerCloseQuietOnLocalClose(t *testing.T) {
	got := make(chan struct{}, 2)
	client, server := pair(t, func() { got <- struct{}{} })
	start := time.Now()
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Close took %s; the watcher must not hold it up", d)
	}
	// Our close reaches the peer at once (the watcher's duplicate of the
	// socket is gone too).
	_ = server.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := server.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("server read after the client's close: %v, want EOF", err)
	}
	server.Close()
	select {
	case <-got:
		t.Fatal("notified after a close on this side")
	case <-time.After(200 * time.Millisecond):
	}
}
