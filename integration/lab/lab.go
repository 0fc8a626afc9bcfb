// Package lab builds a throw-away replication lab of real servers for the
// integration tests and the README's sandbox.
//
// Each database host is a network namespace joined by a veth to one bridge
// in the root namespace, on a /24 inside 198.18.0.0/15 that exists only in
// the lab (198.18.N.0/24, N handed out per lab through lock files under
// /run/gomha-lab, so labs of concurrent test processes do not collide). The
// root namespace has .1 on the bridge and reaches every host directly; an
// optional manager namespace has .2; database hosts have .11, .12, ....
// Namespaces have no default route: nothing in the lab can reach any other
// address.
//
// Every host namespace runs a real mariadbd (Debian's mariadb-server, its
// datadir copied from a template initialised once per version under
// /var/cache/gomha-lab) and a real OpenSSH sshd with its own host key and
// the lab's client key authorised for root. db1 is the master; the others
// replicate from it, set up as a DBA would: a replication account, an admin
// account for the manager, CHANGE MASTER, START SLAVE.
//
// Faults are real: KillMariaDB is kill -9, SuspendMariaDB is SIGSTOP (hung,
// port open), LinkDown pulls the host's cable (its bridge-side veth goes
// down), CutFrom and CutFromRoot cut one host's link to one other (the
// manager's namespace, the root namespace), ConnectionStorm fills
// max_connections, StopSQLThread makes a replica lag, StopSSH stops sshd.
// Probers (StartProbers) write to every host every 20 ms as an application
// would and tell afterwards which acknowledged writes were lost and whether
// two hosts ever took writes at once.
//
// Tests run only when GOMHA_LAB=1 (New skips otherwise) and as root. Start
// removes what crashed labs left behind; Close removes everything the lab
// created, and a watchdog process does the same if the test process dies
// without calling it. GOMHA_LAB_KEEP=1 keeps the lab directory (logs,
// datadirs, configs) after Close for debugging.
//
// A typical test:
//
//	func TestKillMaster(t *testing.T) {
//		l := lab.New(t, lab.Options{}) // skips unless GOMHA_LAB=1
//		ctx := t.Context()
//		conf := filepath.Join(l.Dir, "app1.cnf")
//		if err := l.WriteAppConf(conf, "[server2] candidate_master=1"); err != nil {
//			t.Fatal(err)
//		}
//		if _, err := l.Master().SQL(ctx, "CREATE DATABASE t"); err != nil {
//			t.Fatal(err)
//		}
//		if err := l.Master().KillMariaDB(); err != nil {
//			t.Fatal(err)
//		}
//		// run the manager against conf, then inspect l.Hosts[1]...
//	}
package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options shape a lab. The zero value is a three-host ROW-format lab with
// file-and-position replication.
type Options struct {
	// Hosts is the number of database hosts; 0 means 3. db1 is the master,
	// the others replicate from it.
	Hosts int
	// BinlogFormat is "ROW" (the default), "STATEMENT" or "MIXED".
	BinlogFormat string
	// BinlogChecksum is binlog_checksum on every host: "" keeps the
	// server's default (CRC32), "NONE" writes binary logs without event
	// checksums.
	BinlogChecksum string
	// GTID makes the replicas use MASTER_USE_GTID=slave_pos.
	GTID bool
	// GTIDStrictMode turns gtid_strict_mode on on every host.
	GTIDStrictMode bool
	// ManagerNS also creates the manager namespace "mgr" (.2) on the bridge,
	// to run a manager with Manager.Exec / Manager.StartProcess and cut its
	// link alone.
	ManagerNS bool
	// NoReplication starts the servers and creates the accounts on every
	// host (with sql_log_bin=0, so the binary logs stay empty) but runs no
	// CHANGE MASTER.
	NoReplication bool
	// ExtraMyCnf are extra lines for every host's [mysqld] section, after
	// the lab's own (a repeated option overrides). Options fixed when a
	// datadir is created (innodb_page_size...) cannot be changed here.
	ExtraMyCnf []string
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Lab is a running lab. Its fields are read-only.
type Lab struct {
	// Name is unique per run ("gl-3f9a0c"); namespaces, bridge and veths
	// are named after it.
	Name string
	// Dir holds everything on disk: keys, configs, each host's directory.
	Dir string
	// Subnet is the lab's network, e.g. "198.18.7.0/24".
	Subnet string
	// BridgeIP is the root namespace's address on the bridge (.1).
	BridgeIP string
	// Hosts are the database hosts, db1 first.
	Hosts []*Host
	// Manager is the manager namespace (NS, IP, Veth only), nil unless
	// Options.ManagerNS.
	Manager *Host
	// SSHKey is the lab client's private key (ed25519, no passphrase),
	// authorised for root on every host; SSHKey+".pub" is its public key.
	SSHKey string
	// KnownHosts lists every host's key by IP.
	KnownHosts string
	// AdminUser and AdminPassword are the manager's MySQL account (ALL
	// PRIVILEGES WITH GRANT OPTION, host '%'). The password holds shell and
	// SQL metacharacters but no quotes.
	AdminUser, AdminPassword string
	// ReplUser and ReplPassword are the replication account (REPLICATION
	// SLAVE, REPLICATION CLIENT, host '%').
	ReplUser, ReplPassword string
	// ManagerWorkdir is a directory for the manager (manager_workdir).
	ManagerWorkdir string

	opts           Options
	bridge         string
	authorizedKeys string
	st             *state
	lock           *os.File
	watchdog       *exec.Cmd
	watchdogW      *os.File
	start          time.Time

	closeOnce sync.Once
	closeErr  error
}

// Host is one namespace of the lab: a database host (with mariadbd and
// sshd) or the manager namespace (NS, IP and Veth only).
type Host struct {
	// Name is "db1", "db2", ... or "mgr".
	Name string
	// NS is the network namespace (ip netns exec NS ...).
	NS string
	// IP is the host's address on the lab bridge.
	IP string
	// Port is MariaDB's TCP port (3306); SSHPort is sshd's (22).
	Port, SSHPort int
	// ServerID is MariaDB's server_id: the host's index, 1 for db1.
	ServerID int
	// Dir is the host's directory in the lab directory; DataDir its datadir
	// (which also holds the binary and relay logs); Socket its unix socket.
	Dir, DataDir, Socket string
	// MyCnf is the server's option file; ErrorLog its error log.
	MyCnf, ErrorLog string
	// SSHDConfig, HostKey and SSHLog are sshd's config, private host key
	// and log file.
	SSHDConfig, HostKey, SSHLog string
	// RemoteWorkdir is the host's remote_workdir (hosts share one file
	// system, so each has its own).
	RemoteWorkdir string
	// Veth is the bridge-side end of the host's cable (in the root
	// namespace); inside the namespace the other end is eth0.
	Veth string

	lab     *Lab
	mu      sync.Mutex
	mariadb *Process
	sshd    *Process
	procs   []*Process
}

// Enabled reports whether the integration lab is switched on
// (GOMHA_LAB=1).
func Enabled() bool { return os.Getenv("GOMHA_LAB") == "1" }

// keepDir reports whether GOMHA_LAB_KEEP=1 asks to keep the lab directory.
func keepDir() bool { return os.Getenv("GOMHA_LAB_KEEP") == "1" }

// New starts a lab for a test and closes it in t.Cleanup. It skips the test
// unless Enabled; once enabled, anything that prevents the lab from
// starting (not root, a server that does not start) fails the test. Start
// is bounded by three minutes. Progress goes to t.Log unless opts.Log is
// set.
func New(t testing.TB, opts Options) *Lab {
	t.Helper()
	if !Enabled() {
		t.Skip("integration lab disabled: set GOMHA_LAB=1")
	}
	if opts.Log == nil {
		opts.Log = tbWriter{t}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	l, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("%v", err)
		}
	})
	return l
}

// tbWriter sends log lines to t.Log.
type tbWriter struct{ t testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Start builds and starts a lab: it installs missing Debian packages,
// removes stale labs, claims a subnet, creates the namespaces, bridge and
// veths, starts mariadbd and sshd on every host, creates the accounts and
// sets up replication, and returns once every replica replicates and has
// caught up with the master. On any error it tears down what it built.
func Start(ctx context.Context, opts Options) (_ *Lab, err error) {
	if opts.Hosts == 0 {
		opts.Hosts = 3
	}
	if opts.Hosts < 1 || opts.Hosts > 50 {
		return nil, fmt.Errorf("lab: Hosts=%d: want 1..50", opts.Hosts)
	}
	opts.BinlogFormat = strings.ToUpper(opts.BinlogFormat)
	switch opts.BinlogFormat {
	case "":
		opts.BinlogFormat = "ROW"
	case "ROW", "STATEMENT", "MIXED":
	default:
		return nil, fmt.Errorf("lab: BinlogFormat %q: want ROW, STATEMENT or MIXED", opts.BinlogFormat)
	}
	opts.BinlogChecksum = strings.ToUpper(opts.BinlogChecksum)
	switch opts.BinlogChecksum {
	case "", "NONE", "CRC32":
	default:
		return nil, fmt.Errorf("lab: BinlogChecksum %q: want NONE or CRC32", opts.BinlogChecksum)
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("lab: must run as root (network namespaces, mariadbd, sshd)")
	}
	if err := EnsureDeps(ctx, opts.Log); err != nil {
		return nil, err
	}

	name, err := randomName()
	if err != nil {
		return nil, fmt.Errorf("lab: name: %w", err)
	}
	dir := filepath.Join(os.TempDir(), "gomha-"+name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	l := &Lab{
		Name:           name,
		Dir:            dir,
		SSHKey:         filepath.Join(dir, "id_ed25519"),
		KnownHosts:     filepath.Join(dir, "known_hosts"),
		AdminUser:      "mha",
		AdminPassword:  "Adm$in pw;1",
		ReplUser:       "repl",
		ReplPassword:   "Re`pl pw|2",
		ManagerWorkdir: filepath.Join(dir, "manager"),
		opts:           opts,
		bridge:         name,
		authorizedKeys: filepath.Join(dir, "authorized_keys"),
		start:          time.Now(),
	}
	for i := 1; i <= opts.Hosts; i++ {
		hn := "db" + strconv.Itoa(i)
		hd := filepath.Join(dir, hn)
		l.Hosts = append(l.Hosts, &Host{
			Name: hn, NS: name + "-" + hn, Port: 3306, SSHPort: 22, ServerID: i,
			Dir: hd, DataDir: filepath.Join(hd, "data"), Socket: filepath.Join(hd, "mysqld.sock"),
			MyCnf: filepath.Join(hd, "my.cnf"), ErrorLog: filepath.Join(hd, "mariadbd.err"),
			SSHDConfig: filepath.Join(hd, "sshd_config"), HostKey: filepath.Join(hd, "ssh_host_ed25519_key"),
			SSHLog: filepath.Join(hd, "sshd.log"), RemoteWorkdir: filepath.Join(hd, "work"),
			Veth: name + "-" + strconv.Itoa(i), lab: l,
		})
	}
	if opts.ManagerNS {
		l.Manager = &Host{Name: "mgr", NS: name + "-mgr", Veth: name + "-m", lab: l}
	}
	l.st = &state{
		Pid: os.Getpid(), Name: name, Dir: dir, Keep: keepDir(), Bridge: l.bridge, Links: l.links(),
	}
	for _, h := range l.allHosts() {
		l.st.Namespaces = append(l.st.Namespaces, h.NS)
	}
	if len(l.Hosts[0].Socket) > 100 {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("lab: unix socket path %s too long: set TMPDIR to a shorter directory", l.Hosts[0].Socket)
	}

	l.lock, err = allocate(ctx, l.st)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("lab: claim a subnet: %w", err)
	}
	defer func() {
		if err != nil {
			if cerr := l.Close(); cerr != nil {
				err = errors.Join(err, cerr)
			}
			err = fmt.Errorf("%w (lab %s, dir %s)", err, l.Name, l.Dir)
		}
	}()
	base := "198.18." + strconv.Itoa(l.st.Net) + "."
	l.Subnet = base + "0/24"
	l.BridgeIP = base + "1"
	for i, h := range l.Hosts {
		h.IP = base + strconv.Itoa(11+i)
	}
	if l.Manager != nil {
		l.Manager.IP = base + "2"
	}
	l.logf("subnet %s, dir %s", l.Subnet, l.Dir)
	if err := l.startWatchdog(); err != nil {
		return nil, fmt.Errorf("lab: start watchdog: %w", err)
	}

	var tmpl string
	err = parallel(
		func() error {
			if err := l.buildNetwork(ctx); err != nil {
				return fmt.Errorf("lab: network: %w", err)
			}
			return nil
		},
		func() error {
			if err := l.prepareKeys(ctx); err != nil {
				return fmt.Errorf("lab: ssh keys: %w", err)
			}
			return nil
		},
		func() error {
			t, err := l.template(ctx)
			if err != nil {
				return fmt.Errorf("lab: template datadir: %w", err)
			}
			tmpl = t
			return nil
		},
	)
	if err != nil {
		return nil, err
	}
	l.logf("network, keys and template ready")

	var fns []func() error
	for _, h := range l.Hosts {
		fns = append(fns, func() error {
			if err := os.MkdirAll(h.RemoteWorkdir, 0o755); err != nil {
				return fmt.Errorf("lab: %s: %w", h.Name, err)
			}
			if err := l.prepareMariaDB(ctx, h, tmpl); err != nil {
				return fmt.Errorf("lab: prepare mariadbd on %s: %w", h.Name, err)
			}
			if err := h.StartMariaDB(ctx); err != nil {
				return err
			}
			return nil
		}, func() error {
			return h.StartSSH(ctx)
		})
	}
	if err := parallel(fns...); err != nil {
		return nil, err
	}
	l.logf("mariadbd and sshd running on %d hosts", len(l.Hosts))

	if err := l.setupReplication(ctx); err != nil {
		return nil, err
	}
	l.logf("ready in %v", time.Since(l.start).Round(time.Millisecond))
	return l, nil
}

// prepareKeys creates the client key, every host's host key and sshd
// config, authorized_keys and known_hosts.
func (l *Lab) prepareKeys(ctx context.Context) error {
	if err := os.MkdirAll(l.ManagerWorkdir, 0o755); err != nil {
		return err
	}
	for _, h := range l.Hosts {
		if err := os.MkdirAll(h.Dir, 0o755); err != nil {
			return err
		}
	}
	known := make([]string, len(l.Hosts))
	fns := []func() error{func() error {
		pub, err := genKey(ctx, l.SSHKey, "gomha-lab "+l.Name)
		if err != nil {
			return err
		}
		return os.WriteFile(l.authorizedKeys, []byte(pub+"\n"), 0o600)
	}}
	for i, h := range l.Hosts {
		fns = append(fns, func() error {
			line, err := l.prepareSSH(ctx, h)
			if err != nil {
				return fmt.Errorf("%s: %w", h.Name, err)
			}
			known[i] = line
			return nil
		})
	}
	if err := parallel(fns...); err != nil {
		return err
	}
	return os.WriteFile(l.KnownHosts, []byte(strings.Join(known, "\n")+"\n"), 0o644)
}

// setupReplication creates the accounts and points every replica at db1.
func (l *Lab) setupReplication(ctx context.Context) error {
	m := l.Master()
	if l.opts.NoReplication {
		var fns []func() error
		for _, h := range l.Hosts {
			fns = append(fns, func() error {
				if err := l.createUsers(ctx, h, false); err != nil {
					return fmt.Errorf("lab: %s: %w", h.Name, err)
				}
				return nil
			})
		}
		return parallel(fns...)
	}
	// Created on the master with binary logging on, the accounts replicate.
	if err := l.createUsers(ctx, m, true); err != nil {
		return fmt.Errorf("lab: %s: %w", m.Name, err)
	}
	var fns []func() error
	for _, r := range l.Hosts[1:] {
		fns = append(fns, func() error {
			if err := l.ChangeMaster(ctx, r, m, l.opts.GTID); err != nil {
				return err
			}
			if err := r.WaitReplicating(ctx); err != nil {
				return err
			}
			return l.WaitReplicaCaughtUp(ctx, r)
		})
	}
	if err := parallel(fns...); err != nil {
		return err
	}
	l.logf("%d replicas replicating from %s (%s)", len(l.Hosts)-1, m.Name, map[bool]string{true: "GTID", false: "file/position"}[l.opts.GTID])
	return nil
}

// parallel runs fns concurrently and joins their errors.
func parallel(fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (l *Lab) logf(format string, args ...any) {
	msg := fmt.Sprintf("lab %s: %s [%v]", l.Name, fmt.Sprintf(format, args...), time.Since(l.start).Round(time.Millisecond))
	if w, ok := l.opts.Log.(tbWriter); ok {
		w.t.Log(msg)
		return
	}
	fmt.Fprintln(l.opts.Log, msg)
}

// allHosts are the database hosts and, when present, the manager.
func (l *Lab) allHosts() []*Host {
	all := append([]*Host(nil), l.Hosts...)
	if l.Manager != nil {
		all = append(all, l.Manager)
	}
	return all
}

// links are the bridge-side veth names.
func (l *Lab) links() []string {
	var names []string
	for _, h := range l.allHosts() {
		names = append(names, h.Veth)
	}
	return names
}

// Master returns db1, the master the lab set up. After a failover it is
// still db1: ask the servers who the master is now.
func (l *Lab) Master() *Host { return l.Hosts[0] }

// Replicas returns the hosts the lab set up as replicas (db2...).
func (l *Lab) Replicas() []*Host { return l.Hosts[1:] }

// HostByIP returns the database host with address ip, or nil.
func (l *Lab) HostByIP(ip string) *Host {
	for _, h := range l.Hosts {
		if h.IP == ip {
			return h
		}
	}
	return nil
}

// Host returns the database host named name ("db2"), or nil.
func (l *Lab) Host(name string) *Host {
	for _, h := range l.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// SSHOptions is the value for ssh_options in mha.cnf: the lab key and
// known_hosts file ("-i <key> -o UserKnownHostsFile=<file>").
func (l *Lab) SSHOptions() string {
	return "-i " + l.SSHKey + " -o UserKnownHostsFile=" + l.KnownHosts
}

// Addr is the host's MariaDB address, "198.18.N.1x:3306".
func (h *Host) Addr() string { return h.IP + ":" + strconv.Itoa(h.Port) }

// Exec runs a command inside the host's network namespace (ip netns exec)
// and returns its combined output; the error includes the output.
func (h *Host) Exec(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin("ip"), append([]string{"netns", "exec", h.NS, name}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("lab: exec on %s: %s %s: %w: %s", h.Name, name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// Command returns an exec.Cmd that runs inside the host's network
// namespace, for callers that need stdin, streaming output or a background
// run. Close kills it if it still runs then.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, bin("ip"), append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// StartProcess starts a long-running program (keepalived, a manager...)
// inside the host's namespace in its own process group, with stdout and
// stderr appended to logFile (relative names are in the host's directory).
// It runs until killed; Close kills it.
func (h *Host) StartProcess(logFile string, argv ...string) (*Process, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("lab: start process on %s: empty command", h.Name)
	}
	if !filepath.IsAbs(logFile) {
		d := h.Dir
		if d == "" {
			d = h.lab.ManagerWorkdir
		}
		logFile = filepath.Join(d, logFile)
	}
	p, err := startProcess(filepath.Base(argv[0])+" on "+h.Name, h.NS, logFile, argv...)
	if err != nil {
		return nil, fmt.Errorf("lab: %s: %w", h.Name, err)
	}
	h.mu.Lock()
	h.procs = append(h.procs, p)
	h.mu.Unlock()
	return p, nil
}

// LinkDown pulls the host's cable: its bridge-side veth goes down, so the
// host loses carrier and reaches nothing, and nothing reaches it, while its
// own address and processes stay as they are.
func (h *Host) LinkDown() error {
	if _, err := run(context.Background(), bin("ip"), "link", "set", h.Veth, "down"); err != nil {
		return fmt.Errorf("lab: link down on %s: %w", h.Name, err)
	}
	return nil
}

// LinkUp plugs the host's cable back in.
func (h *Host) LinkUp() error {
	if _, err := run(context.Background(), bin("ip"), "link", "set", h.Veth, "up"); err != nil {
		return fmt.Errorf("lab: link up on %s: %w", h.Name, err)
	}
	return nil
}

// watchdogScript tears the lab down if the test process dies without
// calling Close: it blocks reading a pipe whose only writer is the test
// process; "close" means Close ran, EOF means the process is gone. It
// inherits the lock file's descriptor as fd 3 and so holds the lab's flock
// until it has cleaned up: no other lab reclaims the subnet meanwhile.
const watchdogScript = `read -r line || :
[ "$line" = close ] && exit 0
for ns in $GL_NS; do "$GL_IP" netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null; done
sleep 0.3
for l in $GL_LINKS; do "$GL_IP" link del "$l" 2>/dev/null; done
for ns in $GL_NS; do "$GL_IP" netns del "$ns" 2>/dev/null; done
"$GL_IP" link del "$GL_BRIDGE" 2>/dev/null
[ "$GL_KEEP" = 1 ] || rm -rf -- "$GL_DIR"
rm -f -- "$GL_LOCK"
exit 0
`

// startWatchdog starts the watchdog shell in the root namespace, in its own
// process group.
func (l *Lab) startWatchdog() error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", "-c", watchdogScript)
	cmd.Stdin = r
	keep := "0"
	if l.st.Keep {
		keep = "1"
	}
	cmd.Env = append(os.Environ(),
		"GL_IP="+bin("ip"), "GL_NS="+strings.Join(l.st.Namespaces, " "), "GL_LINKS="+strings.Join(l.st.Links, " "),
		"GL_BRIDGE="+l.st.Bridge, "GL_DIR="+l.st.Dir, "GL_KEEP="+keep, "GL_LOCK="+netLockPath(l.st.Net))
	cmd.ExtraFiles = []*os.File{l.lock}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		w.Close()
		return err
	}
	l.watchdog, l.watchdogW = cmd, w
	return nil
}

// stopWatchdog tells the watchdog that Close ran and waits for it.
func (l *Lab) stopWatchdog() {
	if l.watchdog == nil {
		return
	}
	_, _ = l.watchdogW.Write([]byte("close\n"))
	l.watchdogW.Close()
	done := make(chan struct{})
	go func() {
		_ = l.watchdog.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-l.watchdog.Process.Pid, syscall.SIGKILL)
		<-done
	}
	l.watchdog = nil
}

// Close tears the lab down: it kills mariadbd, sshd and every other process
// in the lab's namespaces, deletes the veths, namespaces and bridge, the lab
// directory (kept when GOMHA_LAB_KEEP=1) and the lock file. It is safe to
// call more than once and from a deferred function after a panic.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.close() })
	return l.closeErr
}

func (l *Lab) close() error {
	t0 := time.Now()
	var errs []error
	var procs []*Process
	for _, h := range l.allHosts() {
		h.mu.Lock()
		for _, p := range append([]*Process{h.mariadb, h.sshd}, h.procs...) {
			if p != nil {
				procs = append(procs, p)
			}
		}
		h.mu.Unlock()
	}
	for _, p := range procs {
		_ = p.Signal(syscall.SIGKILL)
	}
	for _, p := range procs {
		if err := p.Kill(); err != nil {
			errs = append(errs, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if l.st != nil {
		if err := destroy(ctx, l.st); err != nil {
			errs = append(errs, err)
		}
	}
	l.stopWatchdog()
	if l.lock != nil {
		// A failed teardown keeps the lock file: with the flock released it
		// is stale, and the next CleanupStale retries.
		if len(errs) == 0 {
			os.Remove(netLockPath(l.st.Net))
		}
		l.lock.Close()
	}
	if l.st != nil && l.st.Keep {
		l.logf("closed in %v; kept %s (GOMHA_LAB_KEEP=1)", time.Since(t0).Round(time.Millisecond), l.Dir)
	} else {
		l.logf("closed in %v", time.Since(t0).Round(time.Millisecond))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("lab %s: close: %w", l.Name, err)
	}
	return nil
}
