package diff

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gomha/gomha/node/binlog"
)

// MarkerTable is the table on the target in which Apply records every diff
// it applies, keyed by the diff's digest. It is written with sql_log_bin=0,
// so it stays on the target and never replicates.
const MarkerTable = "gomha.applied_diff"

// ApplyOptions tells Apply what to apply where.
type ApplyOptions struct {
	// File is the diff file (from Generate).
	File string
	// Host and Port address the target over TCP; Socket, when set, is used
	// instead.
	Host   string
	Port   int
	Socket string
	// User and Password are the target account (SUPER or BINLOG ADMIN,
	// and write privileges). The password reaches the clients through the
	// MYSQL_PWD environment variable, never argv, and is never in errors.
	User, Password string
	// ClientBindir is where the clients live ("" for PATH). Apply uses
	// mariadb-binlog and mariadb when present there, else mysqlbinlog and
	// mysql.
	ClientBindir string
	// DisableLogBin passes --disable-log-bin to the binlog tool, so the
	// target does not write the applied events to its own binlog.
	DisableLogBin bool
}

func (o ApplyOptions) target() string {
	if o.Socket != "" {
		return o.Socket
	}
	return net.JoinHostPort(o.Host, strconv.Itoa(o.Port))
}

// Summary describes a diff file as Apply reads it.
type Summary struct {
	// Events is the number of events after the header.
	Events int
	// Digest is the hex SHA-256 of the bytes after the header (as in
	// Result.Digest).
	Digest string
	// FirstGTID and LastGTID are the first and last MariaDB GTIDs in the
	// diff (zero when none).
	FirstGTID, LastGTID binlog.MariaGTID
}

// Inspect reads a diff file completely (checking every event and checksum)
// and summarises it.
func Inspect(path string) (Summary, error) {
	var s Summary
	r, err := binlog.Open(path)
	if err != nil {
		return s, fmt.Errorf("diff: inspect: %w", err)
	}
	defer r.Close()
	h := sha256.New()
	first := true
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return s, fmt.Errorf("diff: inspect: %w", err)
		}
		if first {
			first = false
			if ev.Type != binlog.FormatDescriptionEvent {
				return s, fmt.Errorf("diff: inspect %s: first event is %s: %w", path, ev.Type, ErrNotDiff)
			}
			continue
		}
		raw, err := ev.Raw()
		if err != nil {
			return s, fmt.Errorf("diff: inspect: %w", err)
		}
		h.Write(raw)
		if ev.Type == binlog.FormatDescriptionEvent {
			continue
		}
		s.Events++
		if ev.Type == binlog.MariaGTIDEvent {
			g, err := ev.MariaGTID()
			if err != nil {
				return s, fmt.Errorf("diff: inspect: %w", err)
			}
			if s.FirstGTID == (binlog.MariaGTID{}) {
				s.FirstGTID = g
			}
			s.LastGTID = g
		}
	}
	if first {
		return s, fmt.Errorf("diff: inspect %s: no format description: %w", path, ErrNotDiff)
	}
	s.Digest = hex.EncodeToString(h.Sum(nil))
	return s, nil
}

// clients returns the binlog tool and the SQL client to use.
func clients(bindir string) (binlogTool, client string, err error) {
	look := func(name string) (string, bool) {
		if bindir == "" {
			p, err := exec.LookPath(name)
			return p, err == nil
		}
		p := filepath.Join(bindir, name)
		st, err := os.Stat(p)
		return p, err == nil && !st.IsDir() && st.Mode()&0o111 != 0
	}
	for _, pair := range [][2]string{{"mariadb-binlog", "mariadb"}, {"mysqlbinlog", "mysql"}} {
		b, ok1 := look(pair[0])
		c, ok2 := look(pair[1])
		if ok1 && ok2 {
			return b, c, nil
		}
	}
	return "", "", fmt.Errorf("no mariadb-binlog+mariadb or mysqlbinlog+mysql in %q", bindir)
}

// Apply applies the diff opts.File to the target:
//
//  1. reads the diff (Inspect) and records it in MarkerTable on the target
//     as "applying" (sql_log_bin=0). If the table already holds the
//     diff's digest, Apply refuses: ErrAlreadyApplied when that apply
//     finished, ErrPartiallyApplied when it did not (some transactions
//     may be committed; applying again could repeat them);
//  2. saves @@global.max_allowed_packet and sets it to 1 GiB (the client
//     session started next inherits it);
//  3. runs `mariadb-binlog [--disable-log-bin] FILE | mariadb --binary-mode`
//     with the password in MYSQL_PWD;
//  4. restores max_allowed_packet (also when 3 failed or ctx ended) and,
//     when 3 succeeded, marks the diff "applied".
//
// It never reads or sets super_read_only (MariaDB has none; MySQL 5.7+
// targets with super_read_only=ON must be switched by the caller).
// The diff's identity is the SHA-256 of its events, so a diff generated
// again from the same relay logs, or from another replica's relay logs
// holding the same source events, is recognised too.
func Apply(ctx context.Context, opts ApplyOptions) error {
	tgt := opts.target()
	fail := func(step string, err error) error {
		return fmt.Errorf("diff: apply %s on %s: %s: %w", filepath.Base(opts.File), tgt, step, err)
	}
	sum, err := Inspect(opts.File)
	if err != nil {
		return fail("read diff", err)
	}
	binlogTool, client, err := clients(opts.ClientBindir)
	if err != nil {
		return fail("find clients", err)
	}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = opts.User, opts.Password
	if opts.Socket != "" {
		cfg.Net, cfg.Addr = "unix", opts.Socket
	} else {
		cfg.Net, cfg.Addr = "tcp", tgt
	}
	cfg.Timeout = 10 * time.Second
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return fail("connect", err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fail("connect", err)
	}
	defer conn.Close()

	// The marker is written only once nothing can fail before the events
	// are piped: a row left in state "applying" must mean that some events
	// may have reached the target, never that a step before them failed.
	var oldPacket int64
	if err := conn.QueryRowContext(ctx, "SELECT /* gomha diff */ @@global.max_allowed_packet").Scan(&oldPacket); err != nil {
		return fail("read max_allowed_packet", err)
	}
	if _, err := conn.ExecContext(ctx, "SET GLOBAL max_allowed_packet = 1073741824"); err != nil {
		return fail("raise max_allowed_packet", err)
	}
	// Cleanup runs even when ctx has ended, each step with its own bound.
	cleanup := func(stmt string, args ...any) error {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, err := conn.ExecContext(cctx, stmt, args...)
		return err
	}
	restore := func() error {
		if err := cleanup("SET GLOBAL max_allowed_packet = ?", oldPacket); err != nil {
			return fmt.Errorf("restore max_allowed_packet=%d: %w", oldPacket, err)
		}
		return nil
	}
	if err := mark(ctx, conn, sum); err != nil {
		return fail("record diff in "+MarkerTable, errors.Join(err, restore()))
	}
	runErr := run(ctx, opts, binlogTool, client)
	if err := restore(); err != nil {
		if runErr != nil {
			return fail("apply events", errors.Join(runErr, err))
		}
		return fail("restore max_allowed_packet", err)
	}
	if runErr != nil {
		return fail("apply events", runErr)
	}
	if err := cleanup("UPDATE "+MarkerTable+" SET state = 'applied', finished_at = NOW(6) WHERE digest = ?", sum.Digest); err != nil {
		return fail("mark diff applied", err)
	}
	return nil
}

// mark records the diff as being applied, or refuses a diff seen before.
func mark(ctx context.Context, conn *sql.Conn, sum Summary) error {
	stmts := []string{
		"SET SESSION sql_log_bin = 0",
		"CREATE DATABASE IF NOT EXISTS gomha",
		"CREATE TABLE IF NOT EXISTS " + MarkerTable + ` (
			digest CHAR(64) NOT NULL PRIMARY KEY,
			state VARCHAR(16) NOT NULL,
			events INT NOT NULL,
			first_gtid VARCHAR(64) NOT NULL,
			last_gtid VARCHAR(64) NOT NULL,
			started_at DATETIME(6) NOT NULL,
			finished_at DATETIME(6) NULL
		) ENGINE=InnoDB`,
	}
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	gtid := func(g binlog.MariaGTID) string {
		if g == (binlog.MariaGTID{}) {
			return ""
		}
		return g.String()
	}
	_, err := conn.ExecContext(ctx, "INSERT INTO "+MarkerTable+
		" (digest, state, events, first_gtid, last_gtid, started_at) VALUES (?, 'applying', ?, ?, ?, NOW(6))",
		sum.Digest, sum.Events, gtid(sum.FirstGTID), gtid(sum.LastGTID))
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1062 { // ER_DUP_ENTRY
		var state, started string
		if err := conn.QueryRowContext(ctx, "SELECT state, started_at FROM "+MarkerTable+" WHERE digest = ?", sum.Digest).Scan(&state, &started); err != nil {
			return err
		}
		if state == "applied" {
			return fmt.Errorf("digest %s (GTIDs %s..%s) recorded at %s: %w", sum.Digest[:12], gtid(sum.FirstGTID), gtid(sum.LastGTID), started, ErrAlreadyApplied)
		}
		return fmt.Errorf("digest %s (GTIDs %s..%s) started at %s: %w", sum.Digest[:12], gtid(sum.FirstGTID), gtid(sum.LastGTID), started, ErrPartiallyApplied)
	}
	return err
}

// run pipes the binlog tool's output into the SQL client.
func run(ctx context.Context, opts ApplyOptions, binlogTool, client string) error {
	bargs := []string{}
	if opts.DisableLogBin {
		bargs = append(bargs, "--disable-log-bin")
	}
	bargs = append(bargs, opts.File)
	cargs := []string{"--no-defaults", "--binary-mode", "--batch", "--user=" + opts.User}
	if opts.Socket != "" {
		cargs = append(cargs, "--protocol=socket", "--socket="+opts.Socket)
	} else {
		cargs = append(cargs, "--protocol=tcp", "--host="+opts.Host, "--port="+strconv.Itoa(opts.Port))
	}
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MYSQL_PWD=") {
			env = append(env, kv)
		}
	}
	env = append(env, "MYSQL_PWD="+opts.Password)

	bcmd := exec.CommandContext(ctx, binlogTool, append([]string{"--no-defaults"}, bargs...)...)
	ccmd := exec.CommandContext(ctx, client, cargs...)
	ccmd.Env = env
	var berr, cerr bytes.Buffer
	bcmd.Stderr, ccmd.Stderr, ccmd.Stdout = &limited{b: &berr}, &limited{b: &cerr}, io.Discard
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	bcmd.Stdout, ccmd.Stdin = pw, pr
	if err := ccmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return fmt.Errorf("start %s: %w", filepath.Base(client), err)
	}
	pr.Close()
	if err := bcmd.Start(); err != nil {
		pw.Close()
		ccmd.Wait()
		return fmt.Errorf("start %s: %w", filepath.Base(binlogTool), err)
	}
	pw.Close()
	bErr := bcmd.Wait()
	cErr := ccmd.Wait()
	if cErr != nil {
		return fmt.Errorf("%s: %w: %s", filepath.Base(client), cErr, strings.TrimSpace(cerr.String()))
	}
	if bErr != nil {
		return fmt.Errorf("%s: %w: %s", filepath.Base(binlogTool), bErr, strings.TrimSpace(berr.String()))
	}
	return nil
}

// limited keeps the first 64 KiB written to it.
type limited struct{ b *bytes.Buffer }

func (l *limited) Write(p []byte) (int, error) {
	if room := 64<<10 - l.b.Len(); room > 0 {
		if len(p) < room {
			room = len(p)
		}
		l.b.Write(p[:room])
	}
	return len(p), nil
}
