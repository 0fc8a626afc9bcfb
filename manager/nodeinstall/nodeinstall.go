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
	"errors"
	"fmt"
	"io"
	"os"
	"path"
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
// of the local file localBinary named BinaryName, and returns its path. It
// compares the SHA-256 of the local file with `sha256sum` of the remote one
// and uploads (with a verified copy) only when the remote file is missing or
// different; the remote workdir is created when missing.
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
		return path.Join(remoteWorkdir, BinaryName), nil
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

// ensure is Ensure over the remote interface; uploaded reports whether the
// binary was copied.
func ensure(ctx context.Context, c remote, localBinary, remoteWorkdir string) (remotePath string, uploaded bool, err error) {
	if remoteWorkdir == "" || !path.IsAbs(remoteWorkdir) {
		return "", false, fmt.Errorf("nodeinstall: remote workdir %q must be an absolute path", remoteWorkdir)
	}
	remotePath = path.Join(remoteWorkdir, BinaryName)
	sum, err := localSum(localBinary)
	if err != nil {
		return "", false, fmt.Errorf("nodeinstall: hash %s: %w", localBinary, err)
	}
	res, err := c.Run(ctx, []string{"sha256sum", "--", remotePath})
	var ee *sshexec.ExitError
	switch {
	case err == nil:
		if f := strings.Fields(string(res.Stdout)); len(f) > 0 && f[0] == sum {
			// Same bytes; make sure it stays executable.
			if _, err := c.Run(ctx, []string{"chmod", "0755", "--", remotePath}); err != nil {
				return "", false, fmt.Errorf("nodeinstall: chmod %s on %s: %w", remotePath, c, err)
			}
			return remotePath, false, nil
		}
	case errors.As(err, &ee):
		// Missing or unreadable: upload.
	default:
		return "", false, fmt.Errorf("nodeinstall: sha256sum %s on %s: %w", remotePath, c, err)
	}
	if _, err := c.Run(ctx, []string{"mkdir", "-p", "--", remoteWorkdir}); err != nil {
		return "", false, fmt.Errorf("nodeinstall: create %s on %s: %w", remoteWorkdir, c, err)
	}
	if err := c.CopyFile(ctx, localBinary, remotePath, 0o755); err != nil {
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
