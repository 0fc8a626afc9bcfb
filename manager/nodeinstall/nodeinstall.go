// Package nodeinstall puts the mha-node binary on a database host over SSH,
// where the manager runs it for the node steps of a failover (saving the
// dead master's binlog, relay-log diffs, purging). MHA required its node
// package to be installed on every host by hand; gomha uploads its own
// node binary into the host's remote workdir, once per binary version.
package nodeinstall

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomha/gomha/manager/sshexec"
)

// BinaryName is the file name of the node binary in the remote workdir.
const BinaryName = "mha-node"

// remote is the part of *sshexec.Client that Ensure uses.
type remote interface {
	Run(ctx context.Context, argv []string) (sshexec.Result, error)
	CopyFile(ctx context.Context, localPath, remotePath string, mode os.FileMode) error
	String() string
}

// Ensure makes sure remoteWorkdir on client's host holds an executable copy
// of the local file localBinary at RemotePath (in the private directory
// PrivateDir, 0700, of the SSH user), and returns its path. It refuses a
// workdir, private directory or binary another user could write or swap
// (see judge), compares the SHA-256 of the local file with `sha256sum` of
// the remote one and uploads (with a verified copy) only when the remote
// file is missing or different; the directories are created when missing.
//
// A host verified within VerifiedFor (by this process, for the same local
// binary) is not asked again: the manager verifies every host at start
// (and its monitor again when that runs out), so a failover finds the
// binary in place without a round trip.
func Ensure(ctx context.Context, client *sshexec.Client, localBinary, remoteWorkdir string) (remotePath string, err error) {
	sum, err := localSum(localBinary)
	if err != nil {
		return "", fmt.Errorf("nodeinstall: hash %s: %w", localBinary, err)
	}
	key := client.String() + "|" + path.Clean(remoteWorkdir) + "|" + sum
	if at, ok := verified.Load(key); ok && time.Since(at.(time.Time)) < VerifiedFor {
		return RemotePath(remoteWorkdir), nil
	}
	p, _, err := ensure(ctx, client, localBinary, remoteWorkdir)
	if err == nil {
		verified.Store(key, time.Now())
	}
	return p, err
}

// VerifiedFor is how long a host whose node binary Ensure verified (or
// uploaded) is trusted to still hold it.
const VerifiedFor = 10 * time.Minute

// verified maps "user@host:port|workdir|sha256" to when Ensure last
// verified it.
var verified sync.Map

// Forget drops every verification, so that the next Ensure asks each host
// again (after an operator changed a host, or in tests).
func Forget() { verified.Clear() }

// sums caches the local binary's SHA-256 by path, size and modification
// time, so that a changed binary is hashed (and shipped) again.
var sums sync.Map // "path|size|mtime" -> hex sum

func localSum(p string) (string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	key := fmt.Sprintf("%s|%d|%d", p, fi.Size(), fi.ModTime().UnixNano())
	if s, ok := sums.Load(key); ok {
		return s.(string), nil
	}
	s, err := fileSHA256(p)
	if err != nil {
		return "", err
	}
	sums.Store(key, s)
	return s, nil
}

// PrivateDir is the directory under remote_workdir that holds the node
// binary: created 0700, owned by the SSH user, so that no other local user
// can replace the binary between its check and its run (remote_workdir
// itself is often a shared /var/tmp).
const PrivateDir = ".gomha"

// RemotePath returns where Ensure puts the node binary under remoteWorkdir.
func RemotePath(remoteWorkdir string) string {
	return path.Join(remoteWorkdir, PrivateDir, BinaryName)
}

// probeScript creates remote_workdir (when missing, 0700) and its private
// directory (0700), and prints the facts judge needs: the SSH user's uid,
// then "uid mode type" of the workdir, of the private directory and, when
// present, of the binary, then the binary's sha256sum. Nothing follows
// symbolic links (stat without -L), so a planted link is seen as one.
const probeScript = `w=$1; p=$1/` + PrivateDir + `; b=$p/` + BinaryName + `
[ -e "$w" ] || mkdir -p -m 0700 -- "$w" || exit 1
[ -e "$p" ] || [ -L "$p" ] || mkdir -m 0700 -- "$p" || exit 1
id -u || exit 1
stat -c '%u %a %F' -- "$w" "$p" || exit 1
if [ -e "$b" ] || [ -L "$b" ]; then stat -c '%u %a %F' -- "$b" && sha256sum -- "$b"; fi
exit 0`

// pathFacts is one "uid mode type" line of probeScript.
type pathFacts struct {
	uid  int
	mode uint32
	kind string
}

// hostFacts are probeScript's findings.
type hostFacts struct {
	uid                int
	workdir, priv, bin pathFacts
	hasBin             bool
	binSum             string
}

// parseFacts reads probeScript's output.
func parseFacts(out string) (hostFacts, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var f hostFacts
	bad := func() (hostFacts, error) { return hostFacts{}, fmt.Errorf("unexpected probe output %q", out) }
	if len(lines) != 3 && len(lines) != 5 {
		return bad()
	}
	uid, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil {
		return bad()
	}
	f.uid = uid
	parse := func(l string) (pathFacts, bool) {
		fs := strings.SplitN(strings.TrimSpace(l), " ", 3)
		if len(fs) != 3 {
			return pathFacts{}, false
		}
		u, err1 := strconv.Atoi(fs[0])
		m, err2 := strconv.ParseUint(fs[1], 8, 32)
		return pathFacts{uid: u, mode: uint32(m), kind: fs[2]}, err1 == nil && err2 == nil
	}
	var ok1, ok2, ok3 bool
	f.workdir, ok1 = parse(lines[1])
	f.priv, ok2 = parse(lines[2])
	ok3 = true
	if len(lines) == 5 {
		f.hasBin = true
		f.bin, ok3 = parse(lines[3])
		if sum := strings.Fields(lines[4]); len(sum) > 0 {
			f.binSum = sum[0]
		}
	}
	if !ok1 || !ok2 || !ok3 {
		return bad()
	}
	return f, nil
}

// judge refuses a remote workdir, private directory or binary another
// local user could write or swap. remote_workdir may be world-writable only
// with the sticky bit (/var/tmp): others cannot rename the private
// directory away there. The private directory and the binary must belong
// to the SSH user and be writable by nobody else; the workdir may also
// belong to root.
func judge(f hostFacts, workdir string) error {
	w, p, b := f.workdir, f.priv, f.bin
	const sticky = 0o1000
	switch {
	case w.kind != "directory":
		return fmt.Errorf("remote workdir %s is a %s, not a directory", workdir, w.kind)
	case w.uid != f.uid && w.uid != 0:
		return fmt.Errorf("remote workdir %s belongs to uid %d, not to the SSH user (uid %d) or root", workdir, w.uid, f.uid)
	case w.mode&0o022 != 0 && w.mode&sticky == 0:
		return fmt.Errorf("remote workdir %s is writable by other users (mode %04o) without the sticky bit: chmod go-w it or set remote_workdir to a private directory", workdir, w.mode)
	case p.kind != "directory":
		return fmt.Errorf("%s/%s is a %s, not a directory (planted?)", workdir, PrivateDir, p.kind)
	case p.uid != f.uid:
		return fmt.Errorf("%s/%s belongs to uid %d, not to the SSH user (uid %d): another user created it; remove it", workdir, PrivateDir, p.uid, f.uid)
	case p.mode&0o022 != 0:
		return fmt.Errorf("%s/%s is writable by other users (mode %04o)", workdir, PrivateDir, p.mode)
	case f.hasBin && (b.kind != "regular file" || b.uid != f.uid || b.mode&0o022 != 0):
		return fmt.Errorf("%s is not a regular file of the SSH user writable by nobody else (uid %d, mode %04o, %s)", RemotePath(workdir), b.uid, b.mode, b.kind)
	}
	return nil
}

// ensure is Ensure over the remote interface; uploaded reports whether the
// binary was copied. The binary is only ever run from the private directory
// judge accepted, so it cannot be swapped between the check and its use.
func ensure(ctx context.Context, c remote, localBinary, remoteWorkdir string) (remotePath string, uploaded bool, err error) {
	if remoteWorkdir == "" || !path.IsAbs(remoteWorkdir) {
		return "", false, fmt.Errorf("nodeinstall: remote workdir %q must be an absolute path", remoteWorkdir)
	}
	remoteWorkdir = path.Clean(remoteWorkdir)
	remotePath = RemotePath(remoteWorkdir)
	sum, err := localSum(localBinary)
	if err != nil {
		return "", false, fmt.Errorf("nodeinstall: hash %s: %w", localBinary, err)
	}
	res, err := c.Run(ctx, []string{"sh", "-c", probeScript, "sh", remoteWorkdir})
	if err != nil {
		return "", false, fmt.Errorf("nodeinstall: check %s on %s: %w: %s", remoteWorkdir, c, err, strings.TrimSpace(string(res.Stderr)))
	}
	facts, err := parseFacts(string(res.Stdout))
	if err != nil {
		return "", false, fmt.Errorf("nodeinstall: check %s on %s: %w", remoteWorkdir, c, err)
	}
	if err := judge(facts, remoteWorkdir); err != nil {
		return "", false, fmt.Errorf("nodeinstall: %s: %w", c, err)
	}
	if facts.hasBin && facts.binSum == sum {
		return remotePath, false, nil
	}
	if err := c.CopyFile(ctx, localBinary, remotePath, 0o700); err != nil {
		return "", false, fmt.Errorf("nodeinstall: upload: %w", err)
	}
	return remotePath, true, nil
}

// fileSHA256 returns the hex SHA-256 of a file.
func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
