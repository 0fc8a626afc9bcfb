package lab

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// genKey writes an ed25519 key pair without passphrase at path and path.pub
// and returns the public key line.
func genKey(ctx context.Context, path, comment string) (string, error) {
	if _, err := run(ctx, bin("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path); err != nil {
		return "", err
	}
	pub, err := os.ReadFile(path + ".pub")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(pub)), nil
}

// sshdConfig renders host h's sshd_config.
func (l *Lab) sshdConfig(h *Host) string {
	lines := []string{
		"# Written by the gomha integration lab (integration/lab) for " + h.Name + ".",
		"ListenAddress " + h.IP,
		"Port " + strconv.Itoa(h.SSHPort),
		"HostKey " + h.HostKey,
		"PidFile " + filepath.Join(h.Dir, "sshd.pid"),
		"AuthorizedKeysFile " + l.authorizedKeys,
		"PermitRootLogin prohibit-password",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"StrictModes no",
		"UseDNS no",
		"PrintMotd no",
		"PrintLastLog no",
		"MaxStartups 100",
		"MaxSessions 100",
		"LogLevel VERBOSE",
		"Subsystem sftp internal-sftp",
		// Debian's bash (built with SSH_SOURCE_BASHRC) sources ~/.bashrc
		// for a command run by sshd unless SHLVL is already 1 or more.
		// Root's rc files on a test machine can be slow (pyenv, conda:
		// a hundred processes per command) or noisy; SHLVL=1 keeps lab
		// sessions to the command alone.
		"SetEnv SHLVL=1",
	}
	return strings.Join(lines, "\n") + "\n"
}

// prepareSSH writes h's host key and sshd_config; it returns the host's
// known_hosts line.
func (l *Lab) prepareSSH(ctx context.Context, h *Host) (string, error) {
	pub, err := genKey(ctx, h.HostKey, "gomha-lab "+h.Name)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(h.SSHDConfig, []byte(l.sshdConfig(h)), 0o644); err != nil {
		return "", err
	}
	f := strings.Fields(pub)
	if len(f) < 2 {
		return "", fmt.Errorf("bad host key %s.pub", h.HostKey)
	}
	return h.IP + " " + f[0] + " " + f[1], nil
}

// StartSSH starts the host's sshd (in the foreground, -D, logging to
// sshd.log in the host directory) and waits until it sends its banner on
// port 22.
func (h *Host) StartSSH(ctx context.Context) error {
	if h.SSHDConfig == "" {
		return fmt.Errorf("lab: start sshd on %s: host has no sshd", h.Name)
	}
	// sshd refuses to start without its privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return fmt.Errorf("lab: start sshd on %s: %w", h.Name, err)
	}
	h.mu.Lock()
	if h.sshd != nil && !h.sshd.Exited() {
		h.mu.Unlock()
		return fmt.Errorf("lab: start sshd on %s: already running (pid %d)", h.Name, h.sshd.Pid)
	}
	// sshd must be run by its absolute path (it re-executes itself).
	p, err := startProcess("sshd on "+h.Name, h.NS, filepath.Join(h.Dir, "sshd.out"),
		bin("sshd"), "-D", "-f", h.SSHDConfig, "-E", h.SSHLog)
	if err == nil {
		h.sshd = p
	}
	h.mu.Unlock()
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	addr := net.JoinHostPort(h.IP, strconv.Itoa(h.SSHPort))
	for {
		if p.Exited() {
			return fmt.Errorf("lab: start sshd on %s: sshd %s\n%s%s", h.Name, p.exitDescription(),
				tail(p.Log, 10), tail(h.SSHLog, 10))
		}
		if sshBanner(addr) {
			return nil
		}
		select {
		case <-ctx.Done():
			_ = p.Kill()
			return fmt.Errorf("lab: start sshd on %s: wait for %s: %w\n%s", h.Name, addr, ctx.Err(), tail(h.SSHLog, 10))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// sshBanner reports whether an SSH server answers at addr.
func sshBanner(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "SSH-")
}

// StopSSH stops the host's sshd listener (SIGTERM) and waits until it has
// exited; new connections are refused afterwards. Sessions already open
// survive, as with `systemctl stop ssh`.
func (h *Host) StopSSH() error {
	h.mu.Lock()
	p := h.sshd
	h.mu.Unlock()
	if p == nil || p.Exited() {
		return nil
	}
	if err := syscall.Kill(p.Pid, syscall.SIGTERM); err != nil && err != syscall.ESRCH {
		return fmt.Errorf("lab: stop sshd on %s: %w", h.Name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Wait(ctx); err != nil {
		_ = p.Kill()
		return fmt.Errorf("lab: stop sshd on %s: %w", h.Name, err)
	}
	return nil
}

// SSHArgs are the ssh client arguments that log in to host h as root with
// the lab's key and known_hosts, non-interactively, followed by the command;
// run them with the system ssh, from the root namespace or (Exec) another
// host's.
func (l *Lab) SSHArgs(h *Host, command ...string) []string {
	args := []string{"-i", l.SSHKey, "-o", "UserKnownHostsFile=" + l.KnownHosts,
		"-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-p", strconv.Itoa(h.SSHPort), "root@" + h.IP}
	return append(args, command...)
}
