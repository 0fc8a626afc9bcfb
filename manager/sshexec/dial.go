package sshexec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Target names one SSH server and how to log in to it.
type Target struct {
	// Host is the address to connect to: MHA's ssh_ip (an IP address or a
	// host name). It is also the name looked up in known_hosts.
	Host string
	// Port is the SSH port; 0 means [DefaultPort]. A Port in Options
	// overrides it.
	Port int
	// User is the login name; "" means the manager's OS user. A User in
	// Options overrides it.
	User string
	// Options are the parsed ssh_options.
	Options Options
	// ConnectTimeout bounds the TCP connection and the SSH handshake (MHA's
	// ssh_connection_timeout). 0 means Options.ConnectTimeout, then
	// [DefaultConnectTimeout].
	ConnectTimeout time.Duration
}

// settings are a Target with every default filled in.
type settings struct {
	host     string
	port     int
	addr     string // host:port for net.Dial and known_hosts
	user     string
	timeout  time.Duration
	attempts int
	alive    time.Duration // <= 0: off
	aliveMax int
	home     string
	opts     Options
}

// resolve fills in the defaults of t.
func resolve(t Target) (settings, error) {
	s := settings{host: t.Host, opts: t.Options}
	if strings.HasPrefix(s.host, "[") && strings.HasSuffix(s.host, "]") {
		s.host = s.host[1 : len(s.host)-1]
	}
	if s.host == "" {
		return s, errors.New("no host given")
	}
	s.port = t.Options.Port
	if s.port == 0 {
		s.port = t.Port
	}
	if s.port == 0 {
		s.port = DefaultPort
	}
	if s.port < 1 || s.port > 65535 {
		return s, fmt.Errorf("invalid port %d", s.port)
	}
	s.addr = net.JoinHostPort(s.host, strconv.Itoa(s.port))
	s.user = t.Options.User
	if s.user == "" {
		s.user = t.User
	}
	if s.user == "" {
		s.user = currentUser()
	}
	if s.user == "" {
		return s, errors.New("no user given and the current OS user is unknown")
	}
	s.timeout = t.ConnectTimeout
	if s.timeout <= 0 {
		s.timeout = t.Options.ConnectTimeout
	}
	if s.timeout <= 0 {
		s.timeout = DefaultConnectTimeout
	}
	s.attempts = max(t.Options.ConnectionAttempts, 1)
	s.alive = t.Options.ServerAliveInterval
	if s.alive == 0 {
		s.alive = DefaultServerAliveInterval
	}
	s.aliveMax = t.Options.ServerAliveCountMax
	if s.aliveMax <= 0 {
		s.aliveMax = DefaultServerAliveCountMax
	}
	s.home = homeDir()
	return s, nil
}

// currentUser returns the login name of the process's user.
func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if v := os.Getenv("USER"); v != "" {
		return v
	}
	return os.Getenv("LOGNAME")
}

// homeDir returns $HOME, else the home directory of the OS user.
func homeDir() string {
	if h, err := os.UserHomeDir(); err == nil && h != "" {
		return h
	}
	if u, err := user.Current(); err == nil {
		return u.HomeDir
	}
	return ""
}

// expandHome replaces a leading "~" or "~/" in p by home.
func expandHome(p, home string) string {
	if home == "" {
		return p
	}
	if p == "~" {
		return home
	}
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(home, p[2:])
	}
	return p
}

// Client is a connection to one SSH server. Its methods may be called from
// several goroutines at once; each call uses its own SSH session.
type Client struct {
	conn *ssh.Client
	name string // user@host:port, for messages

	mu     sync.Mutex
	closed bool
	done   chan struct{}
	wg     sync.WaitGroup
	// shared is set on a pool's view of a warm connection: Close then
	// leaves the connection to the pool. base is the pool's own client.
	shared bool
	base   *Client
	// views and dropped are the pool client's: how many views are open,
	// and whether the pool gave up on it (closed when its last view is).
	views   int
	dropped bool
}

// String returns "user@host:port".
func (c *Client) String() string { return c.name }

// Close closes the connection and waits for the client's goroutines. Running
// commands fail with [ErrConnectionLost]. Close may be called more than once.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	c.mu.Unlock()
	if c.shared {
		// The pool owns the connection; this view's goroutines end with
		// their commands, or when the pool closes a connection that died.
		if b := c.base; b != nil {
			b.mu.Lock()
			b.views--
			last := b.dropped && b.views == 0
			b.mu.Unlock()
			if last {
				return b.Close()
			}
		}
		return nil
	}
	err := c.conn.Close()
	c.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("sshexec: close %s: %w", c.name, err)
	}
	return nil
}

// spawn runs fn in a goroutine that Close waits for. It reports false, and
// does not run fn, when the client is closed.
func (c *Client) spawn(fn func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
	return true
}

// Dial connects and authenticates to t. It gives up when ctx ends or after
// the connect timeout (per attempt), whichever comes first. The returned
// error is a [*DialError] that says what failed in words a DBA can act on.
//
// Once EnablePool has been called, Dial returns a view of the process's
// warm connection to t (dialled on first use, checked before each use),
// whose Close leaves the connection open for the next caller.
func Dial(ctx context.Context, t Target) (*Client, error) {
	if p := sharedPool.Load(); p != nil {
		return p.get(ctx, t)
	}
	return dial(ctx, t)
}

// dial makes a new connection to t.
func dial(ctx context.Context, t Target) (*Client, error) {
	s, err := resolve(t)
	if err != nil {
		addr := net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
		return nil, &DialError{Addr: addr, User: t.User, Kind: ErrConnect, Reason: "invalid target", Err: err}
	}
	keys, err := loadKeys(s)
	if err != nil {
		return nil, err
	}
	defer keys.close()
	hk, err := newHostKeyChecker(s)
	if err != nil {
		return nil, err
	}

	var conn *ssh.Client
	for attempt := 1; ; attempt++ {
		conn, err = dialOnce(ctx, s, keys, hk)
		if err == nil || attempt >= s.attempts || ctx.Err() != nil ||
			!(errors.Is(err, ErrConnect) || errors.Is(err, ErrTimeout)) {
			break
		}
		// OpenSSH waits one second between ConnectionAttempts.
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	if err != nil {
		return nil, err
	}
	c := &Client{conn: conn, name: s.user + "@" + s.addr, done: make(chan struct{})}
	if s.alive > 0 {
		c.spawn(func() { c.keepAlive(s.alive, s.aliveMax) })
	}
	return c, nil
}

// dialOnce makes one connection attempt.
func dialOnce(ctx context.Context, s settings, keys *keySet, hk *hostKeyChecker) (*ssh.Client, error) {
	fail := func(kind error, reason string, err error) *DialError {
		return &DialError{Addr: s.addr, User: s.user, Kind: kind, Reason: reason, Err: err}
	}
	dctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	d := net.Dialer{KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(dctx, "tcp", s.addr)
	if err != nil {
		if cerr := ctxError(ctx, fail); cerr != nil {
			return nil, cerr
		}
		return nil, classifyNetError(s, err, fail, false)
	}

	// The handshake is bounded by the same deadline; cancelling ctx wakes it.
	deadline, _ := dctx.Deadline()
	_ = nc.SetDeadline(deadline)
	stop := context.AfterFunc(dctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })

	state := &handshakeState{}
	cfg := &ssh.ClientConfig{
		User:              s.user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeysCallback(keys.signersFunc(state))},
		HostKeyCallback:   hk.callback(state),
		HostKeyAlgorithms: hk.algorithms,
	}
	sc, chans, reqs, err := ssh.NewClientConn(nc, s.addr, cfg)
	if !stop() {
		// The deadline or ctx fired while the handshake finished: treat the
		// attempt as failed so the connection's deadline is never raced.
		if err == nil {
			_ = sc.Close()
			err = context.DeadlineExceeded
		}
	}
	if err != nil {
		_ = nc.Close()
		if cerr := ctxError(ctx, fail); cerr != nil {
			return nil, cerr
		}
		return nil, classifyHandshakeError(s, err, state, keys, hk, fail)
	}
	_ = nc.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// ctxError returns a DialError for a done ctx, or nil.
func ctxError(ctx context.Context, fail func(error, string, error) *DialError) error {
	err := ctx.Err()
	if dl, ok := ctx.Deadline(); ok && err == nil && !time.Now().Before(dl) {
		// The connection's deadline (the same instant) fired before the
		// context's own timer.
		err = context.DeadlineExceeded
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return fail(ErrTimeout, "deadline of the operation reached while connecting", err)
	default:
		return fail(nil, "cancelled while connecting", err)
	}
}

// classifyNetError explains a failure of the TCP connection or of the
// handshake's transport.
func classifyNetError(s settings, err error, fail func(error, string, error) *DialError, connected bool) error {
	var ne net.Error
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		if connected {
			return fail(ErrTimeout, fmt.Sprintf("no SSH handshake within %v after the TCP connection was made "+
				"(sshd overloaded or at MaxStartups, or not an SSH server on port %d?)", s.timeout, s.port), err)
		}
		return fail(ErrTimeout, fmt.Sprintf("no TCP connection to port %d within %v "+
			"(host down, wrong ssh_ip, or a firewall dropping packets?)", s.port, s.timeout), err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fail(ErrConnect, fmt.Sprintf("connection refused: nothing listens on port %d "+
			"(sshd not running, or wrong ssh_port?)", s.port), err)
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return fail(ErrConnect, "host unreachable (host down or no route to it?)", err)
	case errors.As(err, &dnsErr):
		return fail(ErrConnect, fmt.Sprintf("cannot resolve host name %q", s.host), err)
	case connected && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF)):
		return fail(ErrConnect, "connection closed by the server during the SSH handshake "+
			"(sshd MaxStartups, TCP wrappers or firewall, or not an SSH server?)", err)
	}
	return fail(ErrConnect, "cannot connect", err)
}

// classifyHandshakeError explains a failed SSH handshake.
func classifyHandshakeError(s settings, err error, st *handshakeState, keys *keySet, hk *hostKeyChecker,
	fail func(error, string, error) *DialError) error {
	if st.hostKeyErr != nil {
		return hk.explain(s, st, fail)
	}
	if st.hostKeyOK {
		msg := strings.ToLower(err.Error())
		if strings.Contains(msg, "unable to authenticate") || strings.Contains(msg, "authentication") {
			if !st.keysOffered {
				return fail(ErrAuth, fmt.Sprintf("the server does not accept public key authentication for user %s "+
					"(PubkeyAuthentication in sshd_config?)", s.user), err)
			}
			return fail(ErrAuth, keys.explainFailure(s), err)
		}
	}
	return classifyNetError(s, err, fail, true)
}

// handshakeState records what happened during one handshake.
type handshakeState struct {
	serverKey    ssh.PublicKey
	hostKeyOK    bool
	hostKeyErr   error
	keysOffered  bool
	recordFailed error
}

// keySet holds the client keys for one Dial.
type keySet struct {
	signers  []ssh.Signer
	descs    []string // one per signer
	problems []string // keys that could not be used, and why
	agent    net.Conn
}

// close releases the agent connection.
func (k *keySet) close() {
	if k.agent != nil {
		_ = k.agent.Close()
	}
}

// signersFunc returns the signers, noting that they were asked for.
func (k *keySet) signersFunc(st *handshakeState) func() ([]ssh.Signer, error) {
	return func() ([]ssh.Signer, error) {
		st.keysOffered = true
		return k.signers, nil
	}
}

// explainFailure describes the keys that the server refused.
func (k *keySet) explainFailure(s settings) string {
	var b strings.Builder
	fmt.Fprintf(&b, "authentication failed for user %s with key", s.user)
	if len(k.descs) > 1 {
		b.WriteString("s")
	}
	b.WriteString(" ")
	b.WriteString(strings.Join(k.descs, ", "))
	if len(k.problems) > 0 {
		fmt.Fprintf(&b, " (not usable: %s)", strings.Join(k.problems, "; "))
	}
	fmt.Fprintf(&b, "; is the public key in ~%s/.ssh/authorized_keys on %s?", s.user, s.host)
	return b.String()
}

// loadKeys reads the identity files (or the default ones) and connects to
// the SSH agent.
func loadKeys(s settings) (*keySet, error) {
	k := &keySet{}
	files := s.opts.IdentityFiles
	explicit := len(files) > 0
	if !explicit {
		for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			p := filepath.Join(s.home, ".ssh", name)
			if _, err := os.Stat(p); err == nil {
				files = append(files, p)
			}
		}
	}
	for _, f := range files {
		p := expandHome(f, s.home)
		signer, err := readKey(p)
		if err != nil {
			k.problems = append(k.problems, err.Error())
			continue
		}
		k.signers = append(k.signers, signer)
		k.descs = append(k.descs, p+" ("+describeKey(signer.PublicKey())+")")
	}
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" && !s.opts.IdentitiesOnly {
		if conn, err := net.DialTimeout("unix", sock, s.timeout); err == nil {
			ag := agent.NewClient(conn)
			if signers, err := ag.Signers(); err == nil && len(signers) > 0 {
				k.agent = conn
				for _, sg := range signers {
					k.signers = append(k.signers, sg)
					k.descs = append(k.descs, "agent key ("+describeKey(sg.PublicKey())+")")
				}
			} else {
				_ = conn.Close()
			}
		}
	}
	if len(k.signers) == 0 {
		reason := "no usable private key"
		if !explicit {
			reason += fmt.Sprintf(" (looked for id_ed25519, id_ecdsa and id_rsa in %s, "+
				"and no SSH agent; set -i in ssh_options)", filepath.Join(s.home, ".ssh"))
		}
		if len(k.problems) > 0 {
			reason += ": " + strings.Join(k.problems, "; ")
		}
		k.close()
		return nil, &DialError{Addr: s.addr, User: s.user, Kind: ErrAuth, Reason: reason}
	}
	return k, nil
}

// readKey loads an unencrypted private key file.
func readKey(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file", path)
		}
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		var pm *ssh.PassphraseMissingError
		if errors.As(err, &pm) {
			return nil, fmt.Errorf("%s: protected by a passphrase (load it into an SSH agent instead)", path)
		}
		return nil, fmt.Errorf("%s: not a private key: %v", path, err)
	}
	return signer, nil
}

// describeKey returns "TYPE SHA256:fingerprint", as ssh-keygen -l shows it.
func describeKey(k ssh.PublicKey) string {
	return k.Type() + " " + ssh.FingerprintSHA256(k)
}
