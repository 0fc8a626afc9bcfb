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
func Ensure(ctx context.Context, client *sshexec.Client, localBinary, remoteWorkdir string) (remotePath string, err error) {
	p, _, err := ensure(ctx, client, localBinary, remoteWorkdir)
	return p, err
}

// ensure is Ensure over the remote interface; uploaded reports whether the
// binary was copied.
func ensure(ctx context.Context, c remote, localBinary, remoteWorkdir string) (remotePath string, uploaded bool, err error) {
	if remoteWorkdir == "" || !path.IsAbs(remoteWorkdir) {
		return "", false, fmt.Errorf("nodeinstall: remote workdir %q must be an absolute path", remoteWorkdir)
	}
	remotePath = path.Join(remoteWorkdir, BinaryName)
	sum, err := fileSHA256(localBinary)
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
