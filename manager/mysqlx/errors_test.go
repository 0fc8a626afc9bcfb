package mysqlx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

func TestIsAliveError(t *testing.T) {
	for _, n := range []uint16{1040, 1042, 1043, 1044, 1045, 1129, 1130, 1203, 1226, 1251, 1275} {
		err := fmt.Errorf("mysqlx: connect: %w", &mysql.MySQLError{Number: n})
		if !IsAliveError(err) || !IsAliveErrno(n) {
			t.Errorf("%d: want alive", n)
		}
	}
	for _, err := range []error{nil, errors.New("Error 1045"), &mysql.MySQLError{Number: 2013}, &mysql.MySQLError{Number: 1146}, context.DeadlineExceeded} {
		if IsAliveError(err) {
			t.Errorf("%v: want not alive", err)
		}
	}
	for _, n := range []uint16{0, 1041, 1046, 2003, 2013} {
		if IsAliveErrno(n) {
			t.Errorf("%d: want not alive", n)
		}
	}
}

func dialError(errno syscall.Errno) error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassifyConnect(t *testing.T) {
	tests := []struct {
		err  error
		want ConnectFailure
	}{
		{&mysql.MySQLError{Number: 1045, Message: "Access denied for user 'x'@'y' (using password: YES)"}, FailureAccessDenied},
		{&mysql.MySQLError{Number: 1040, Message: "Too many connections"}, FailureRejected},
		{&mysql.MySQLError{Number: 1129}, FailureRejected},
		{&mysql.MySQLError{Number: 1146}, FailureOther},
		{dialError(syscall.ECONNREFUSED), FailureRefused},
		{dialError(syscall.EHOSTUNREACH), FailureNoRoute},
		{dialError(syscall.ENETUNREACH), FailureNoRoute},
		{&net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}, FailureTimeout},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), FailureTimeout},
		{context.Canceled, FailureCanceled},
		{&net.DNSError{Err: "no such host", Name: "db9", IsNotFound: true}, FailureUnresolved},
		{mysql.ErrInvalidConn, FailureOther},
		{nil, FailureOther},
	}
	for _, tt := range tests {
		if got := ClassifyConnect(tt.err); got != tt.want {
			t.Errorf("ClassifyConnect(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestConnectErrorMessages(t *testing.T) {
	const addr = "198.18.0.12:3306"
	tests := []struct {
		err  error
		want []string
	}{
		{&mysql.MySQLError{Number: 1045, Message: "Access denied for user 'mha'@'198.18.0.1' (using password: YES)"},
			[]string{"access denied for user mha at 198.18.0.12:3306 (check user/password in app1.cnf [server2])", "Error 1045"}},
		{&mysql.MySQLError{Number: 1040, Message: "Too many connections"},
			[]string{addr, "MySQL error 1040", "Too many connections"}},
		{dialError(syscall.ECONNREFUSED), []string{"connection refused by " + addr, "is mysqld running?"}},
		{dialError(syscall.EHOSTUNREACH), []string{"no route to " + addr}},
		{context.DeadlineExceeded, []string{"no answer from " + addr + " within 4s"}},
		{errors.New("strange"), []string{addr, "mha", "strange"}},
	}
	for _, tt := range tests {
		e := &ConnectError{Addr: addr, User: "mha", Where: "app1.cnf [server2]", Timeout: 4 * time.Second,
			Failure: ClassifyConnect(tt.err), Err: tt.err}
		msg := e.Error()
		if !strings.HasPrefix(msg, "mysqlx: connect: ") {
			t.Errorf("%q: want the package prefix", msg)
		}
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%q: want %q in it", msg, w)
			}
		}
		if !errors.Is(e, tt.err) {
			t.Errorf("%q: does not unwrap to the cause", msg)
		}
	}
	if msg := (&ConnectError{Addr: addr}).Error(); !strings.Contains(msg, addr) {
		t.Errorf("nil cause: %q", msg)
	}
}

func TestTargetPrintsNoPassword(t *testing.T) {
	tg := Target{Addr: "[fd00::12]:3306", User: "mha", Password: "Sup3r-S3cret", Timeout: time.Second}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		if out := fmt.Sprintf(format, tg); strings.Contains(out, "Sup3r") || strings.Contains(out, fmt.Sprintf("%x", "Sup3r")) {
			t.Errorf("%s prints the password: %s", format, out)
		}
	}
	if got := tg.String(); got != "mha@[fd00::12]:3306" {
		t.Errorf("String() = %q", got)
	}
}

func TestTargetValidate(t *testing.T) {
	good := []string{"127.0.0.1:3306", "[::1]:3306", "[fd00::12]:33061", "db1.example.com:3306"}
	bad := []string{"", "127.0.0.1", "::1:3306", "db1:", ":3306", "db1:0", "db1:65536", "db1:x"}
	for _, a := range good {
		if err := (Target{Addr: a, User: "u"}).validate(); err != nil {
			t.Errorf("%q: %v", a, err)
		}
	}
	for _, a := range bad {
		if err := (Target{Addr: a, User: "u"}).validate(); err == nil {
			t.Errorf("%q: want an error", a)
		}
	}
	if err := (Target{Addr: "db1:3306"}).validate(); err == nil {
		t.Error("no user: want an error")
	}
	if got := JoinAddr("fd00::12", 3306); got != "[fd00::12]:3306" {
		t.Errorf("JoinAddr = %q", got)
	}
}

// TestOpenUnreachable needs no server: a refused loopback port and a
// blackholed address (TEST-NET-1 has no route here, or drops packets) must
// fail within the timeout with a classified error.
func TestOpenUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // now nothing listens there
	start := time.Now()
	_, err = Open(t.Context(), Target{Addr: addr, User: "mha", Password: "pw", Timeout: 2 * time.Second})
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Failure != FailureRefused {
		t.Fatalf("closed port: got %v, want a refused ConnectError", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("refused took %s", time.Since(start))
	}
	if !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "pw") {
		t.Errorf("message: %v", err)
	}

	// A listener that accepts but never speaks: the handshake times out.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start = time.Now()
	_, err = Open(t.Context(), Target{Addr: silent.Addr().String(), User: "mha", Timeout: 500 * time.Millisecond})
	if !errors.As(err, &ce) || ce.Failure != FailureTimeout {
		t.Fatalf("silent server: got %v, want a timeout ConnectError", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("silent server: took %s, want about 500ms", d)
	}

	// The context's deadline bounds connecting too.
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = Open(ctx, Target{Addr: silent.Addr().String(), User: "mha", Timeout: 10 * time.Second})
	if !errors.As(err, &ce) || ce.Failure != FailureTimeout {
		t.Fatalf("ctx deadline: got %v, want a timeout ConnectError", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("ctx deadline: took %s, want about 300ms", d)
	}
}
