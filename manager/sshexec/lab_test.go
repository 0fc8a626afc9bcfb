package sshexec_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/integration/lab"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/google/go-cmp/cmp"
)

// labHostile are argument values that must reach a real remote shell intact.
var labHostile = []string{
	"", " ", "it's", `"dq"`, `\`, "$(touch /tmp/gomha-pwned)", "`id`", "${HOME}", "a;b", "a && b",
	"*", "~", "a=b", "line1\nline2", "tab\there", "é ☃ 日本語", "\xff\xfe", "!bang", "%s",
}

// labTarget is how the manager reaches h, with the lab's ssh_options.
func labTarget(t *testing.T, l *lab.Lab, h *lab.Host, extra string) sshexec.Target {
	t.Helper()
	opts, err := sshexec.ParseOptions(l.SSHOptions() + " " + extra)
	if err != nil {
		t.Fatal(err)
	}
	return sshexec.Target{Host: h.IP, Port: h.SSHPort, User: "root", Options: opts, ConnectTimeout: 5 * time.Second}
}

// splitNUL splits printf '%s\000' output.
func splitNUL(out []byte) []string {
	return strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
}

func TestLabSSH(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 2, NoReplication: true})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	clients := map[string]*sshexec.Client{}
	for _, h := range l.Hosts {
		c, err := sshexec.Dial(ctx, labTarget(t, l, h, ""))
		if err != nil {
			t.Fatalf("dial %s: %v", h.Name, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		clients[h.Name] = c
	}

	for _, h := range l.Hosts {
		c := clients[h.Name]
		t.Run(h.Name+"/hostile argv", func(t *testing.T) {
			res, err := c.Run(ctx, append([]string{"printf", `%s\000`}, labHostile...))
			if err != nil {
				t.Fatalf("Run: %v (stderr %q)", err, res.Stderr)
			}
			if diff := cmp.Diff(labHostile, splitNUL(res.Stdout)); diff != "" {
				t.Errorf("arguments changed (-want +got):\n%s", diff)
			}
			if _, err := os.Stat("/tmp/gomha-pwned"); err == nil {
				t.Errorf("a hostile argument was executed")
			}
		})

		t.Run(h.Name+"/exit status", func(t *testing.T) {
			res, err := c.Run(ctx, []string{"sh", "-c", "echo out; echo err >&2; exit 7"})
			var ee *sshexec.ExitError
			if !errors.As(err, &ee) || ee.Code != 7 || string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" {
				t.Errorf("Run = %+v, %v", res, err)
			}
		})

		t.Run(h.Name+"/stream", func(t *testing.T) {
			data := make([]byte, 1<<20)
			_, _ = rand.Read(data)
			var out bytes.Buffer
			if err := c.Stream(ctx, []string{"cat"}, bytes.NewReader(data), &out, nil); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), data) {
				t.Errorf("cat returned %d bytes, want %d identical", out.Len(), len(data))
			}
		})

		t.Run(h.Name+"/copy and fetch", func(t *testing.T) {
			dir := t.TempDir()
			data := make([]byte, 3<<20+5)
			_, _ = rand.Read(data)
			local := filepath.Join(dir, "in.bin")
			if err := os.WriteFile(local, data, 0o600); err != nil {
				t.Fatal(err)
			}
			remote := filepath.Join(h.RemoteWorkdir, "gomha copy 'test'.bin")
			if err := c.CopyFile(ctx, local, remote, 0o640); err != nil {
				t.Fatalf("CopyFile: %v", err)
			}
			back := filepath.Join(dir, "back.bin")
			if err := c.FetchFile(ctx, remote, back, 0o600); err != nil {
				t.Fatalf("FetchFile: %v", err)
			}
			if got, _ := os.ReadFile(back); !bytes.Equal(got, data) {
				t.Errorf("round trip through %s changed the data", h.Name)
			}
			res, err := c.Run(ctx, []string{"stat", "-c", "%a", remote})
			if err != nil || strings.TrimSpace(string(res.Stdout)) != "640" {
				t.Errorf("remote mode = %q, %v", res.Stdout, err)
			}
			_, _ = c.Run(ctx, []string{"rm", "-f", remote})
		})

		t.Run(h.Name+"/cancel kills the remote command", func(t *testing.T) {
			marker := fmt.Sprintf("%d.%03d", 300+time.Now().Nanosecond()%1000, os.Getpid()%1000)
			// running reports whether "sleep <marker>" runs on h.
			running := func() bool {
				_, err := c.Run(ctx, []string{"pgrep", "-f", "^sleep " + strings.ReplaceAll(marker, ".", "[.]") + "$"})
				var ee *sshexec.ExitError
				switch {
				case err == nil:
					return true
				case errors.As(err, &ee) && ee.Code == 1:
					return false
				}
				t.Fatalf("pgrep: %v", err)
				return false
			}
			waitFor := func(want bool) bool {
				for i := 0; i < 40; i++ {
					if running() == want {
						return true
					}
					time.Sleep(50 * time.Millisecond)
				}
				return false
			}
			cctx, ccancel := context.WithCancel(ctx)
			defer ccancel()
			done := make(chan error, 1)
			go func() {
				_, err := c.Run(cctx, []string{"sleep", marker})
				done <- err
			}()
			if !waitFor(true) {
				t.Fatalf("sleep %s never showed up on %s", marker, h.Name)
			}
			start := time.Now()
			ccancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Run = %v, want context.Canceled", err)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("Run did not return after cancellation")
			}
			if time.Since(start) > time.Second {
				t.Errorf("Run returned %v after cancellation", time.Since(start))
			}
			if !waitFor(false) {
				t.Errorf("remote sleep %s still running on %s after cancellation", marker, h.Name)
				_, _ = c.Run(ctx, []string{"pkill", "-f", "^sleep " + marker + "$"})
			}
		})
	}

	t.Run("host-to-host hop", func(t *testing.T) {
		for _, src := range l.Hosts {
			for _, dst := range l.Hosts {
				if src == dst {
					continue
				}
				argv := sshexec.HopArgv(labTarget(t, l, dst, ""), "exit", "0")
				if res, err := clients[src.Name].Run(ctx, argv); err != nil {
					t.Errorf("%s -> %s: %v (stderr %q)", src.Name, dst.Name, err, res.Stderr)
				}
				argv = sshexec.HopArgv(labTarget(t, l, dst, ""), append([]string{"printf", `%s\000`}, labHostile...)...)
				res, err := clients[src.Name].Run(ctx, argv)
				if err != nil {
					t.Fatalf("%s -> %s printf: %v (stderr %q)", src.Name, dst.Name, err, res.Stderr)
				}
				if diff := cmp.Diff(labHostile, splitNUL(res.Stdout)); diff != "" {
					t.Errorf("%s -> %s: arguments changed over two hops (-want +got):\n%s", src.Name, dst.Name, diff)
				}
			}
		}
	})

	h := l.Hosts[0]
	dir := t.TempDir()

	t.Run("wrong key", func(t *testing.T) {
		key := filepath.Join(dir, "id_wrong")
		if out, err := runLocal(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
		tgt := labTarget(t, l, h, "")
		tgt.Options.IdentityFiles = []string{key}
		tgt.Options.IdentitiesOnly = true
		_, err := sshexec.Dial(ctx, tgt)
		if !errors.Is(err, sshexec.ErrAuth) || !strings.Contains(err.Error(), key) {
			t.Errorf("Dial = %v, want ErrAuth naming %s", err, key)
		}
	})

	t.Run("host key mismatch", func(t *testing.T) {
		kh := filepath.Join(dir, "known_hosts_wrong")
		other := l.Hosts[1]
		data, err := os.ReadFile(l.KnownHosts)
		if err != nil {
			t.Fatal(err)
		}
		// Claim that h has the other host's key.
		var lines []string
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if f := strings.Fields(line); len(f) >= 3 && f[0] == other.IP {
				lines = append(lines, h.IP+" "+f[1]+" "+f[2])
			}
		}
		if err := os.WriteFile(kh, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		tgt := labTarget(t, l, h, "")
		tgt.Options.KnownHostsFiles = []string{kh}
		_, err = sshexec.Dial(ctx, tgt)
		if !errors.Is(err, sshexec.ErrHostKey) || errors.Is(err, sshexec.ErrUnknownHost) || !strings.Contains(err.Error(), kh) {
			t.Errorf("Dial = %v, want a host key mismatch naming %s", err, kh)
		}
	})

	t.Run("accept-new", func(t *testing.T) {
		kh := filepath.Join(dir, "known_hosts_new")
		tgt := labTarget(t, l, h, "")
		tgt.Options.KnownHostsFiles = []string{kh}
		tgt.Options.GlobalKnownHostsFiles = []string{}
		if _, err := sshexec.Dial(ctx, tgt); !errors.Is(err, sshexec.ErrUnknownHost) {
			t.Fatalf("strict Dial of unknown host = %v, want ErrUnknownHost", err)
		}
		tgt.Options.HostKeyPolicy = sshexec.HostKeyAcceptNew
		c, err := sshexec.Dial(ctx, tgt)
		if err != nil {
			t.Fatalf("accept-new Dial: %v", err)
		}
		_ = c.Close()
		tgt.Options.HostKeyPolicy = sshexec.HostKeyVerify
		c, err = sshexec.Dial(ctx, tgt)
		if err != nil {
			t.Fatalf("strict Dial after accept-new: %v", err)
		}
		_ = c.Close()
		// The recorded key is the one OpenSSH's ssh accepts too.
		if out, err := runLocal(ctx, "ssh", "-i", l.SSHKey, "-o", "UserKnownHostsFile="+kh, "-o", "GlobalKnownHostsFile=/dev/null",
			"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-p", fmt.Sprint(h.SSHPort), "root@"+h.IP, "true"); err != nil {
			t.Errorf("ssh with the recorded known_hosts: %v: %s", err, out)
		}
	})

	t.Run("connection refused", func(t *testing.T) {
		tgt := labTarget(t, l, h, "")
		tgt.Port = 2 // nothing listens there
		_, err := sshexec.Dial(ctx, tgt)
		if !errors.Is(err, sshexec.ErrConnect) || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("Dial = %v, want connection refused", err)
		}
	})

	t.Run("RunOnce", func(t *testing.T) {
		res, err := sshexec.RunOnce(ctx, labTarget(t, l, h, ""), []string{"hostname"})
		if err != nil || len(res.Stdout) == 0 {
			t.Errorf("RunOnce = %q, %v", res.Stdout, err)
		}
	})
}

// runLocal runs a program on this machine and returns its combined output.
func runLocal(ctx context.Context, name string, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, name, args...).CombinedOutput()
}
