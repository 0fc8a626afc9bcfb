package detect

import (
	"errors"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/gomha/gomha/manager/sshexec"
)

// runLocal runs a probe argv on this host and shapes the outcome like
// sshexec.Client.Run does.
func runLocal(t *testing.T, argv []string) (sshexec.Result, error) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	var res sshexec.Result
	out, err := cmd.Output()
	res.Stdout = out
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.Stderr, res.ExitCode = ee.Stderr, ee.ExitCode()
		return res, &sshexec.ExitError{Host: "local", Program: argv[0], Code: ee.ExitCode(), Stderr: ee.Stderr}
	}
	return res, err
}

func TestTCPProbe(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := ln.Addr().(*net.TCPAddr).Port
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	defer ln.Close()

	tests := []struct {
		name string
		argv []string
		want Reach
	}{
		{"listening", TCPProbeArgv("127.0.0.1", open, time.Second), ReachYes},
		{"refused", TCPProbeArgv("127.0.0.1", closedPort, time.Second), ReachNo},
		{"hostile host name stays one argument", TCPProbeArgv("127.0.0.1/'; exit 0; '", open, time.Second), ReachNo},
		{"missing program", []string{"/nonexistent/timeout"}, ReachUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := runLocal(t, tt.argv)
			if err != nil && !errors.As(err, new(*sshexec.ExitError)) {
				// exec could not start the program: what sshexec reports
				// as exit 127 from the remote shell.
				err = &sshexec.ExitError{Program: tt.argv[0], Code: 127}
			}
			got, detail := TCPProbeReach(res, err)
			if got != tt.want {
				t.Errorf("reach = %v (%s), want %v; argv %q", got, detail, tt.want, tt.argv)
			}
		})
	}
	if got := TCPProbeArgv("h", 1, 1500*time.Millisecond)[1]; got != strconv.Itoa(2) {
		t.Errorf("timeout rounds up to %s, want 2", got)
	}
}
