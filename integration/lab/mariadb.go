package lab

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gomha/gomha/node/binlog"
)

// cacheDir holds one initialised template datadir per MariaDB version and
// InnoDB layout; hosts get a copy instead of running mariadb-install-db.
const cacheDir = "/var/cache/gomha-lab"

// innodbLayout are the settings fixed when a datadir is created (or costly
// to change at start-up); the template is built with them and every host
// runs with them.
var innodbLayout = []string{
	"innodb_buffer_pool_size=32M",
	"innodb_log_file_size=8M",
	"innodb_log_buffer_size=2M",
}

// myCnf renders host h's server configuration.
func (l *Lab) myCnf(h *Host) string {
	var b strings.Builder
	w := func(s string) { b.WriteString(s + "\n") }
	w("# Written by the gomha integration lab (integration/lab) for " + h.Name + ".")
	w("[mysqld]")
	w("user=root")
	w("datadir=" + h.DataDir)
	w("tmpdir=" + filepath.Join(h.Dir, "tmp"))
	w("socket=" + h.Socket)
	w("pid-file=" + filepath.Join(h.Dir, "mariadbd.pid"))
	w("log_error=" + h.ErrorLog)
	w("bind-address=" + h.IP)
	w("port=" + strconv.Itoa(h.Port))
	w("report_host=" + h.IP)
	w("skip-name-resolve")
	w("server_id=" + strconv.Itoa(h.ServerID))
	w("log_bin=mysql-bin")
	w("log_slave_updates=ON")
	w("relay_log=relay-bin")
	w("relay_log_purge=0")
	w("binlog_format=" + l.opts.BinlogFormat)
	if l.opts.BinlogChecksum != "" {
		w("binlog_checksum=" + l.opts.BinlogChecksum)
	}
	if l.opts.GTIDStrictMode {
		w("gtid_strict_mode=ON")
	}
	if h != l.Hosts[0] {
		w("read_only=ON")
	}
	for _, s := range innodbLayout {
		w(s)
	}
	w("performance_schema=OFF")
	w("key_buffer_size=4M")
	w("aria_pagecache_buffer_size=8M")
	w("query_cache_size=0")
	w("max_connections=100")
	w("thread_cache_size=8")
	for _, s := range l.opts.ExtraMyCnf {
		w(s)
	}
	return b.String()
}

// template returns the cached template datadir for the installed mariadbd,
// building it with mariadb-install-db the first time (under a file lock, so
// concurrent labs build it once).
func (l *Lab) template(ctx context.Context) (string, error) {
	out, err := run(ctx, bin("mariadbd"), "--version")
	if err != nil {
		return "", err
	}
	installArgs := []string{"--user=root", "--skip-test-db", "--skip-name-resolve", "--auth-root-authentication-method=socket"}
	sum := sha256.Sum256([]byte(strings.TrimSpace(string(out)) + "\n" + strings.Join(innodbLayout, "\n") + "\n" + strings.Join(installArgs, " ")))
	ver := "unknown"
	if m := regexp.MustCompile(`Ver (\S+)`).FindSubmatch(out); m != nil {
		ver = string(m[1])
	}
	dir := filepath.Join(cacheDir, "mariadb-"+ver+"-"+hex.EncodeToString(sum[:4]))
	ok := filepath.Join(dir, ".gomha-template-ok")
	if _, err := os.Stat(ok); err == nil {
		return dir, nil
	}
	unlock, err := lockFile(ctx, filepath.Join(cacheDir, "template.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(ok); err == nil {
		return dir, nil
	}
	start := time.Now()
	os.RemoveAll(dir)
	tmp, err := os.MkdirTemp(cacheDir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cnf := filepath.Join(tmp, "my.cnf")
	data := filepath.Join(tmp, "data")
	if err := os.WriteFile(cnf, []byte("[mysqld]\n"+strings.Join(innodbLayout, "\n")+"\n"), 0o644); err != nil {
		return "", err
	}
	args := append([]string{"--defaults-file=" + cnf, "--datadir=" + data}, installArgs...)
	if _, err := run(ctx, bin("mariadb-install-db"), args...); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(data, ".gomha-template-ok"), []byte(strings.TrimSpace(string(out))+"\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(data, dir); err != nil {
		return "", err
	}
	l.logf("built template datadir %s in %v", dir, time.Since(start).Round(time.Millisecond))
	return dir, nil
}

// prepareMariaDB gives h its configuration and a copy of the template
// datadir.
func (l *Lab) prepareMariaDB(ctx context.Context, h *Host, tmpl string) error {
	if err := os.MkdirAll(filepath.Join(h.Dir, "tmp"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(h.MyCnf, []byte(l.myCnf(h)), 0o644); err != nil {
		return err
	}
	if _, err := run(ctx, "cp", "-a", "--reflink=auto", tmpl, h.DataDir); err != nil {
		return err
	}
	return os.Remove(filepath.Join(h.DataDir, ".gomha-template-ok"))
}

// StartMariaDB starts mariadbd in the host's namespace with its datadir
// (also after a kill or a stop) and waits until it accepts connections on
// its unix socket.
func (h *Host) StartMariaDB(ctx context.Context) error {
	if h.MyCnf == "" {
		return fmt.Errorf("lab: start mariadbd on %s: host has no MariaDB", h.Name)
	}
	h.mu.Lock()
	if h.mariadb != nil && !h.mariadb.Exited() {
		h.mu.Unlock()
		return fmt.Errorf("lab: start mariadbd on %s: already running (pid %d)", h.Name, h.mariadb.Pid)
	}
	p, err := startProcess("mariadbd on "+h.Name, h.NS, filepath.Join(h.Dir, "mariadbd.out"),
		bin("mariadbd"), "--defaults-file="+h.MyCnf)
	if err == nil {
		h.mariadb = p
	}
	h.mu.Unlock()
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := h.waitMariaDB(ctx, p); err != nil {
		_ = p.Kill()
		return fmt.Errorf("lab: start mariadbd on %s: %w (log %s)\n%s", h.Name, err, h.ErrorLog, errorLines(h.ErrorLog))
	}
	return nil
}

// errorLines returns the [ERROR] lines of a MariaDB error log, or its last
// lines when there are none, for error messages.
func errorLines(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var errs []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "[ERROR]") {
			errs = append(errs, line)
		}
	}
	if len(errs) == 0 {
		return lastLines(string(b), 10)
	}
	return lastLines(strings.Join(errs, "\n"), 10)
}

// waitMariaDB polls the unix socket until the server sends its handshake.
func (h *Host) waitMariaDB(ctx context.Context, p *Process) error {
	for {
		if p.Exited() {
			return fmt.Errorf("mariadbd %s", p.exitDescription())
		}
		if handshake(h.Socket) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", h.Socket, ctx.Err())
		case <-p.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// handshake reports whether a MariaDB server answers on the unix socket:
// a server that accepts connections sends its handshake packet at once.
func handshake(socket string) bool {
	c, err := net.DialTimeout("unix", socket, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	var hdr [5]byte
	n, err := c.Read(hdr[:])
	// The packet's first payload byte is the protocol version (10); an
	// error packet (0xff) means the server refuses connections for now.
	return err == nil && n == 5 && hdr[4] == 10
}

// KillMariaDB kills mariadbd with SIGKILL (a crash: no clean shutdown, the
// binlog and InnoDB are left as they were) and waits until it is gone.
func (h *Host) KillMariaDB() error {
	h.mu.Lock()
	p := h.mariadb
	h.mu.Unlock()
	if p == nil {
		return nil
	}
	if err := p.Kill(); err != nil {
		return fmt.Errorf("lab: kill mariadbd on %s: %w", h.Name, err)
	}
	return nil
}

// StopMariaDB shuts mariadbd down cleanly (SIGTERM) and waits until it has
// exited; when ctx ends first it kills it and returns ctx's error.
func (h *Host) StopMariaDB(ctx context.Context) error {
	h.mu.Lock()
	p := h.mariadb
	h.mu.Unlock()
	if p == nil || p.Exited() {
		return nil
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("lab: stop mariadbd on %s: %w", h.Name, err)
	}
	if err := p.Wait(ctx); err != nil {
		_ = p.Kill()
		return fmt.Errorf("lab: stop mariadbd on %s: %w", h.Name, err)
	}
	return nil
}

// MariaDBRunning reports whether the lab's mariadbd on h is running.
func (h *Host) MariaDBRunning() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.mariadb != nil && !h.mariadb.Exited()
}

// MariaDBPid is the running mariadbd's pid, or 0.
func (h *Host) MariaDBPid() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.mariadb == nil || h.mariadb.Exited() {
		return 0
	}
	return h.mariadb.Pid
}

// SQL runs query (one or more statements) with the mariadb client as root
// over the host's unix socket, in batch mode without column names (-N -B),
// and returns stdout without the trailing newline. Values in the output are
// tab-separated, one row per line, escaped the way -B escapes them.
func (h *Host) SQL(ctx context.Context, query string) (string, error) {
	out, err := h.mariadbClient(ctx, query, "-N")
	return strings.TrimSuffix(out, "\n"), err
}

// Rows runs query like SQL but keeps the column names and returns one map per
// row, column name to value, with -B's escapes undone ("NULL" stays the
// string NULL). SHOW SLAVE STATUS and similar read well this way.
func (h *Host) Rows(ctx context.Context, query string) ([]map[string]string, error) {
	out, err := h.mariadbClient(ctx, query)
	if err != nil {
		return nil, err
	}
	var rows []map[string]string
	var cols []string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if cols == nil {
			cols = fields
			continue
		}
		row := make(map[string]string, len(cols))
		for i, c := range cols {
			if i < len(fields) {
				row[c] = unescapeBatch(fields[i])
			}
		}
		rows = append(rows, row)
	}
	return rows, sc.Err()
}

// Row is Rows for a query returning at most one row; nil when none.
func (h *Host) Row(ctx context.Context, query string) (map[string]string, error) {
	rows, err := h.Rows(ctx, query)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return rows[0], nil
}

func (h *Host) mariadbClient(ctx context.Context, query string, extra ...string) (string, error) {
	if h.Socket == "" {
		return "", fmt.Errorf("lab: sql on %s: host has no MariaDB", h.Name)
	}
	args := append([]string{"--no-defaults", "--socket=" + h.Socket, "--user=root", "--batch", "--connect-timeout=10"}, extra...)
	args = append(args, "--execute="+query)
	cmd := exec.CommandContext(ctx, bin("mariadb"), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("lab: sql on %s: %q: %w: %s", h.Name, shorten(query), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// shorten trims a query for error messages.
func shorten(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 200 {
		return q[:200] + "..."
	}
	return q
}

// unescapeBatch undoes the mariadb client's --batch escaping of \t, \n, \\
// and \0.
func unescapeBatch(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case '0':
			b.WriteByte(0)
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// QuoteSQL renders s as a MariaDB string literal (default sql_mode, i.e.
// backslash escapes on), for statements such as CHANGE MASTER that take no
// placeholders.
func QuoteSQL(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			b.WriteString(`\'`)
		case '\\':
			b.WriteString(`\\`)
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case 0x1a:
			b.WriteString(`\Z`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// createUsers creates the manager's admin account and the replication
// account on h.
func (l *Lab) createUsers(ctx context.Context, h *Host, logBin bool) error {
	q := ""
	if !logBin {
		q = "SET SESSION sql_log_bin=0;\n"
	}
	q += fmt.Sprintf(`CREATE USER %s@'%%' IDENTIFIED BY %s;
GRANT ALL PRIVILEGES ON *.* TO %s@'%%' WITH GRANT OPTION;
CREATE USER %s@'%%' IDENTIFIED BY %s;
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO %s@'%%';`,
		QuoteSQL(l.AdminUser), QuoteSQL(l.AdminPassword), QuoteSQL(l.AdminUser),
		QuoteSQL(l.ReplUser), QuoteSQL(l.ReplPassword), QuoteSQL(l.ReplUser))
	if _, err := h.SQL(ctx, q); err != nil {
		return fmt.Errorf("create users: %w", err)
	}
	return nil
}

// ChangeMaster points replica r at source src with the lab's replication
// account and starts replication: with GTID (MASTER_USE_GTID=slave_pos) when
// gtid is true, else from src's first binary log, position 4 (everything src
// ever logged). MASTER_CONNECT_RETRY is 1 second (the default, 60, would
// make a replica wait a minute to reconnect after a pulled cable), and
// MASTER_HEARTBEAT_PERIOD is 2 seconds, as a DBA tunes replicas for a manager
// pinging every second: a replica then notices a silent master within a few
// seconds (the default, slave_net_timeout/2 = 30 s, makes check-repl warn).
// It does not wait; see WaitReplicating.
func (l *Lab) ChangeMaster(ctx context.Context, r, src *Host, gtid bool) error {
	q := fmt.Sprintf("CHANGE MASTER TO MASTER_HOST=%s, MASTER_PORT=%d, MASTER_USER=%s, MASTER_PASSWORD=%s, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=2",
		QuoteSQL(src.IP), src.Port, QuoteSQL(l.ReplUser), QuoteSQL(l.ReplPassword))
	if gtid {
		q += ", MASTER_USE_GTID=slave_pos"
	} else {
		first, err := src.SQL(ctx, "SHOW BINARY LOGS")
		if err != nil {
			return fmt.Errorf("lab: change master on %s: %w", r.Name, err)
		}
		file, _, _ := strings.Cut(strings.SplitN(first, "\n", 2)[0], "\t")
		if file == "" {
			return fmt.Errorf("lab: change master on %s: %s has no binary logs", r.Name, src.Name)
		}
		q += fmt.Sprintf(", MASTER_LOG_FILE=%s, MASTER_LOG_POS=4", QuoteSQL(file))
	}
	if _, err := r.SQL(ctx, q+";\nSTART SLAVE;"); err != nil {
		return fmt.Errorf("lab: change master on %s: %w", r.Name, err)
	}
	return nil
}

// WaitReplicating waits until h's replica IO and SQL threads both run.
func (h *Host) WaitReplicating(ctx context.Context) error {
	var last map[string]string
	for {
		st, err := h.Row(ctx, "SHOW SLAVE STATUS")
		if err != nil {
			return fmt.Errorf("lab: wait for replication on %s: %w", h.Name, err)
		}
		if st == nil {
			return fmt.Errorf("lab: wait for replication on %s: not a replica", h.Name)
		}
		last = st
		if st["Slave_IO_Running"] == "Yes" && st["Slave_SQL_Running"] == "Yes" {
			return nil
		}
		if st["Slave_SQL_Running"] == "No" && st["Last_SQL_Errno"] != "0" {
			return fmt.Errorf("lab: wait for replication on %s: SQL thread stopped: %s", h.Name, st["Last_SQL_Error"])
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lab: wait for replication on %s: %w (IO %s %q, SQL %s %q)", h.Name, ctx.Err(),
				last["Slave_IO_Running"], last["Last_IO_Error"], last["Slave_SQL_Running"], last["Last_SQL_Error"])
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitReplicaCaughtUp waits until replica h has executed everything its
// source (the lab host at its Master_Host) has written to its binary log:
// it reads the source's SHOW MASTER STATUS once, then polls h's
// Relay_Master_Log_File/Exec_Master_Log_Pos until they reach it. The
// coordinates are the source's in both file-and-position and GTID
// replication. It fails at once when h's SQL thread stops with an error.
func (l *Lab) WaitReplicaCaughtUp(ctx context.Context, h *Host) error {
	fail := func(err error) error { return fmt.Errorf("lab: wait for %s to catch up: %w", h.Name, err) }
	st, err := h.Row(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return fail(err)
	}
	if st == nil {
		return fail(errors.New("not a replica"))
	}
	src := l.HostByIP(st["Master_Host"])
	if src == nil {
		return fail(fmt.Errorf("source %s is not a lab host", st["Master_Host"]))
	}
	ms, err := src.Row(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return fail(err)
	}
	if ms == nil {
		return fail(fmt.Errorf("source %s has binary logging off", src.Name))
	}
	off, err := strconv.ParseUint(ms["Position"], 10, 64)
	if err != nil {
		return fail(fmt.Errorf("source %s: bad Position %q", src.Name, ms["Position"]))
	}
	want := binlog.Pos{File: ms["File"], Offset: off}
	for {
		execPos, _ := strconv.ParseUint(st["Exec_Master_Log_Pos"], 10, 64)
		got := binlog.Pos{File: st["Relay_Master_Log_File"], Offset: execPos}
		if got.File != "" {
			c, err := binlog.Compare(got, want)
			if err != nil {
				return fail(err)
			}
			if c >= 0 {
				return nil
			}
		}
		if st["Slave_SQL_Running"] == "No" && st["Last_SQL_Errno"] != "0" {
			return fail(fmt.Errorf("SQL thread stopped at %s: %s", got, st["Last_SQL_Error"]))
		}
		select {
		case <-ctx.Done():
			return fail(fmt.Errorf("%w: at %s of %s's %s (IO %s %q, SQL %s)", ctx.Err(), got, src.Name, want,
				st["Slave_IO_Running"], st["Last_IO_Error"], st["Slave_SQL_Running"]))
		case <-time.After(20 * time.Millisecond):
		}
		if st, err = h.Row(ctx, "SHOW SLAVE STATUS"); err != nil {
			return fail(err)
		}
		if st == nil {
			return fail(errors.New("replication was reset"))
		}
	}
}
