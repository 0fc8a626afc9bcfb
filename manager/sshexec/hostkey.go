package sshexec

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeyChecker verifies host keys for one Dial according to the
// StrictHostKeyChecking policy.
type hostKeyChecker struct {
	policy     HostKeyPolicy
	files      []string // known_hosts files that exist and were read
	missing    []string // configured files that do not exist
	recordFile string   // where accept-new records keys ("" for none)
	check      ssh.HostKeyCallback
	algorithms []string // host key algorithms to ask for; nil for the default
}

// knownHostsMu serialises appends to known_hosts files by this process.
var knownHostsMu sync.Mutex

// newHostKeyChecker reads the known_hosts files of s.
func newHostKeyChecker(s settings) (*hostKeyChecker, error) {
	hk := &hostKeyChecker{policy: s.opts.HostKeyPolicy}
	if hk.policy == HostKeyAcceptAny {
		return hk, nil
	}
	userFiles := s.opts.KnownHostsFiles
	if userFiles == nil {
		userFiles = []string{"~/.ssh/known_hosts", "~/.ssh/known_hosts2"}
	}
	globalFiles := s.opts.GlobalKnownHostsFiles
	if globalFiles == nil {
		globalFiles = []string{"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"}
	}
	if len(userFiles) > 0 {
		hk.recordFile = expandHome(userFiles[0], s.home)
	}
	for _, f := range append(append([]string{}, userFiles...), globalFiles...) {
		p := expandHome(f, s.home)
		if _, err := os.Stat(p); err != nil {
			hk.missing = append(hk.missing, p)
			continue
		}
		hk.files = append(hk.files, p)
	}
	cb, err := knownhosts.New(hk.files...)
	if err != nil {
		return nil, &DialError{Addr: s.addr, User: s.user, Kind: ErrHostKey,
			Reason: "cannot read known_hosts", Err: err}
	}
	hk.check = cb
	hk.algorithms = knownAlgorithms(cb, s.addr)
	return hk, nil
}

// probeKey is a public key that matches no known_hosts entry; checking it
// makes the known_hosts database list the keys it holds for a host.
type probeKey struct{}

func (probeKey) Type() string                        { return "gomha-probe" }
func (probeKey) Marshal() []byte                     { return []byte("\x00\x00\x00\x0bgomha-probe") }
func (probeKey) Verify([]byte, *ssh.Signature) error { return errors.New("probe key") }

// knownAlgorithms returns the host key algorithms of the keys known for
// addr, so that the server is asked for a key type we can verify (a server
// with an RSA and an Ed25519 key, known only by its RSA key, must not be
// allowed to pick Ed25519). nil means no key is known: use the defaults.
func knownAlgorithms(cb ssh.HostKeyCallback, addr string) []string {
	remote := &net.TCPAddr{IP: net.IPv4zero}
	err := cb(addr, remote, probeKey{})
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) || len(ke.Want) == 0 {
		return nil
	}
	var algos []string
	add := func(a ...string) {
		for _, x := range a {
			if !contains(algos, x) {
				algos = append(algos, x)
			}
		}
	}
	for _, k := range ke.Want {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		case ssh.CertAlgoRSAv01:
			add(ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSAv01)
		default:
			add(t)
		}
	}
	return algos
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// callback returns the ssh.HostKeyCallback for one handshake; it records
// its findings in st.
func (hk *hostKeyChecker) callback(st *handshakeState) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		st.serverKey = key
		if hk.policy == HostKeyAcceptAny {
			st.hostKeyOK = true
			return nil
		}
		err := hk.check(hostname, remote, key)
		if err == nil {
			st.hostKeyOK = true
			return nil
		}
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) && len(ke.Want) == 0 && hk.policy == HostKeyAcceptNew && hk.recordFile != "" {
			if rerr := appendKnownHost(hk.recordFile, hostname, key); rerr != nil {
				st.recordFailed = rerr
				st.hostKeyErr = err
				return err
			}
			st.hostKeyOK = true
			return nil
		}
		st.hostKeyErr = err
		return err
	}
}

// appendKnownHost records key for hostname (host:port) in file, creating the
// file (mode 0600) and its directory (mode 0700) when missing.
func appendKnownHost(file, hostname string, key ssh.PublicKey) error {
	line := knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key) + "\n"
	knownHostsMu.Lock()
	defer knownHostsMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(line); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// explain turns the host key failure recorded in st into a DialError.
func (hk *hostKeyChecker) explain(s settings, st *handshakeState, fail func(error, string, error) *DialError) error {
	offered := "(none)"
	if st.serverKey != nil {
		offered = describeKey(st.serverKey)
	}
	name := knownhosts.Normalize(s.addr)
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case errors.As(st.hostKeyErr, &re):
		return fail(ErrHostKey, fmt.Sprintf("host key %s of %s is marked @revoked in %s:%d",
			offered, name, re.Revoked.Filename, re.Revoked.Line), st.hostKeyErr)
	case errors.As(st.hostKeyErr, &ke) && len(ke.Want) > 0:
		var want []string
		for _, k := range ke.Want {
			want = append(want, fmt.Sprintf("%s:%d has %s", k.Filename, k.Line, describeKey(k.Key)))
		}
		return fail(ErrHostKey, fmt.Sprintf("HOST KEY MISMATCH for %s: the server offered %s but %s "+
			"(host reinstalled, address reused, or a man-in-the-middle? if the change is expected, "+
			"remove the old entry with: ssh-keygen -R '%s' -f <file>)",
			name, offered, strings.Join(want, "; "), name), st.hostKeyErr)
	case errors.As(st.hostKeyErr, &ke):
		var where []string
		if len(hk.files) > 0 {
			where = append(where, "checked "+strings.Join(hk.files, ", "))
		}
		if len(hk.missing) > 0 {
			where = append(where, "not found: "+strings.Join(hk.missing, ", "))
		}
		files := strings.Join(where, "; ")
		reason := fmt.Sprintf("host %s is not in known_hosts (%s); the server offered %s "+
			"(add it with ssh-keyscan, or put StrictHostKeyChecking=accept-new in ssh_options)",
			name, files, offered)
		if st.recordFailed != nil {
			reason = fmt.Sprintf("host %s is not in known_hosts and its key %s could not be recorded in %s: %v",
				name, offered, hk.recordFile, st.recordFailed)
		}
		return &DialError{Addr: s.addr, User: s.user, Kind: errors.Join(ErrHostKey, ErrUnknownHost),
			Reason: reason, Err: st.hostKeyErr}
	}
	return fail(ErrHostKey, "host key of "+name+" rejected", st.hostKeyErr)
}
