package sshexec

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestHopArgv(t *testing.T) {
	opts, err := ParseOptions("-i /root/.ssh/id_mha -o ConnectTimeout 9 -F /etc/mha/ssh_config")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dst  Target
		cmd  []string
		want []string
	}{
		{
			name: "masterha_check_ssh pair",
			dst:  Target{Host: "10.0.0.2", Port: 2222, User: "mha", Options: opts, ConnectTimeout: 3 * time.Second},
			cmd:  []string{"exit", "0"},
			want: []string{"ssh", "-o", "BatchMode=yes", "-o", "PasswordAuthentication=no", "-o", "ConnectTimeout=3",
				"-o", "IdentityFile=/root/.ssh/id_mha", "-o", "ConnectTimeout=9", "-F", "/etc/mha/ssh_config",
				"-p", "2222", "-l", "mha", "--", "10.0.0.2", "exit 0"},
		},
		{
			name: "defaults, hostile command, IPv6",
			dst:  Target{Host: "[fd00::2]"},
			cmd:  []string{"echo", "a b", "$(id)"},
			want: []string{"ssh", "-o", "BatchMode=yes", "-o", "PasswordAuthentication=no", "-o", "ConnectTimeout=5",
				"--", "fd00::2", `echo 'a b' '$(id)'`},
		},
		{
			name: "timeout from options, rounded up",
			dst:  Target{Host: "db3", Options: Options{ConnectTimeout: 1500 * time.Millisecond}},
			want: []string{"ssh", "-o", "BatchMode=yes", "-o", "PasswordAuthentication=no", "-o", "ConnectTimeout=2",
				"--", "db3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, HopArgv(tt.dst, tt.cmd...)); diff != "" {
				t.Errorf("HopArgv mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// The hop argv runs the real OpenSSH client on the "source" host (here the
// test server, i.e. this machine), which connects to the destination (the
// test server again) and runs a hostile command there.
func TestHopWithOpenSSHClient(t *testing.T) {
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("no ssh binary")
	}
	e := newEnv(t)
	src := dialOK(t, e.target(t, ""))
	dst := e.target(t, "-o LogLevel=ERROR")

	res, err := src.Run(context.Background(), HopArgv(dst, "exit", "0"))
	if err != nil {
		t.Fatalf("hop exit 0: %v (stderr %q)", err, res.Stderr)
	}

	args := []string{"it's", "$(touch /tmp/gomha-pwned)", "a\nb", "", "*", "é"}
	res, err = src.Run(context.Background(), HopArgv(dst, append([]string{"printf", `%s\000`}, args...)...))
	if err != nil {
		t.Fatalf("hop printf: %v (stderr %q)", err, res.Stderr)
	}
	got := strings.Split(strings.TrimSuffix(string(res.Stdout), "\x00"), "\x00")
	if diff := cmp.Diff(args, got); diff != "" {
		t.Errorf("arguments changed over two hops (-want +got):\n%s", diff)
	}

	// A destination that refuses the key fails with ssh's exit status 255.
	bad := dst
	bad.Options.Args = append([]string{"-o", "IdentityFile=/nonexistent", "-o", "IdentitiesOnly=yes"}, bad.Options.Args[2:]...)
	res, err = src.Run(context.Background(), HopArgv(bad, "exit", "0"))
	if res.ExitCode != 255 || err == nil {
		t.Errorf("hop with wrong key = %d, %v; want exit 255", res.ExitCode, err)
	}
}
