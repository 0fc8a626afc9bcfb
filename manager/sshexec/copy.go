package sshexec

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// cleanupTimeout bounds the removal of a temporary file after a failed or
// cancelled copy.
const cleanupTimeout = 10 * time.Second

// Remote scripts. Paths are passed as positional parameters, never pasted
// into the script. The checksum is printed as "<hex>  -"; sha256sum is
// preferred, md5sum (what MHA used) is the fallback.
const (
	hashScript = `if command -v sha256sum >/dev/null 2>&1; then sha256sum < "$1"; else md5sum < "$1"; fi`
	// $1 = temporary file. Writes stdin to it, then prints its checksum.
	uploadScript = `umask 077 && set -C && cat > "$1" && { ` + hashScript + `; }`
	// $1 = temporary file, $2 = mode, $3 = destination.
	installScript = `chmod "$2" "$1" && mv -f "$1" "$3"`
	// $1 = file.
	catScript = `exec cat -- "$1"`
)

// hashes computes SHA-256 and MD5 of the same bytes.
type hashes struct {
	sha, md hash.Hash
}

func newHashes() *hashes { return &hashes{sha: sha256.New(), md: md5.New()} }

func (h *hashes) Write(p []byte) (int, error) {
	h.sha.Write(p)
	h.md.Write(p)
	return len(p), nil
}

// verify compares the output of hashScript with the local checksums.
func (h *hashes) verify(remoteOut []byte) (local, remote string, err error) {
	fields := strings.Fields(string(remoteOut))
	if len(fields) == 0 {
		return "", "", fmt.Errorf("no checksum printed by the remote sha256sum/md5sum")
	}
	remote = strings.ToLower(fields[0])
	switch len(remote) {
	case 64:
		local = hex.EncodeToString(h.sha.Sum(nil))
	case 32:
		local = hex.EncodeToString(h.md.Sum(nil))
	default:
		return "", remote, fmt.Errorf("unexpected checksum output %q", lastLine(remoteOut))
	}
	if local != remote {
		return local, remote, ErrChecksum
	}
	return local, remote, nil
}

// CopyFile copies the local file localPath to remotePath on the server and
// gives it mode's permission bits. The data goes to a temporary file next to
// remotePath; its checksum on the server (sha256sum, else md5sum) is compared
// with the checksum of the bytes sent, and only then is it renamed to
// remotePath, so remotePath is either the complete, verified copy or
// untouched. The remote directory must exist. On failure or cancellation the
// temporary file is removed (best effort). A checksum difference returns an
// error wrapping [ErrChecksum].
func (c *Client) CopyFile(ctx context.Context, localPath, remotePath string, mode os.FileMode) error {
	fail := func(err error) error {
		return fmt.Errorf("sshexec: copy %s to %s:%s: %w", localPath, c.name, remotePath, err)
	}
	if remotePath == "" || strings.HasSuffix(remotePath, "/") {
		return fail(errors.New("remote path must name a file"))
	}
	f, err := os.Open(localPath)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return fail(err)
	} else if !st.Mode().IsRegular() {
		return fail(errors.New("local path is not a regular file"))
	}
	tmp, err := tempName(remotePath)
	if err != nil {
		return fail(err)
	}

	h := newHashes()
	var out, errOut bytes.Buffer
	step := "write " + tmp
	err = c.exec(ctx, []string{"sh", "-c", uploadScript, "sh", tmp}, io.TeeReader(f, h), &out, &errOut)
	if err == nil {
		step = "verify " + tmp
		var local, remote string
		local, remote, err = h.verify(out.Bytes())
		if errors.Is(err, ErrChecksum) {
			err = fmt.Errorf("%w: local %s, remote %s", ErrChecksum, local, remote)
		}
	}
	if err == nil {
		step = "install " + tmp
		err = c.exec(ctx, []string{"sh", "-c", installScript, "sh", tmp, fmt.Sprintf("%04o", mode.Perm()), remotePath},
			nil, io.Discard, &errOut)
	}
	if err != nil {
		c.removeQuietly(ctx, tmp)
		return fail(withStderr(step, err, errOut.Bytes()))
	}
	return nil
}

// removeQuietly removes a remote temporary file, even when ctx is done.
func (c *Client) removeQuietly(ctx context.Context, p string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_ = c.exec(rctx, []string{"rm", "-f", "--", p}, nil, io.Discard, io.Discard)
}

// withStderr attaches captured standard error to an *ExitError and names
// the step that failed.
func withStderr(step string, err error, stderr []byte) error {
	var ee *ExitError
	if !errors.As(err, &ee) {
		return fmt.Errorf("%s: %w", step, err)
	}
	if ee.Stderr == nil {
		ee.Stderr = stderr
	}
	return &stepError{step: step, exit: ee}
}

// stepError reports a failed remote step of a copy without repeating the
// host and the internal sh command line.
type stepError struct {
	step string
	exit *ExitError
}

func (e *stepError) Error() string {
	msg := e.step + ": "
	if e.exit.Signal != "" {
		msg += "killed by signal " + e.exit.Signal
	} else {
		msg += fmt.Sprintf("exit status %d", e.exit.Code)
	}
	if last := lastLine(e.exit.Stderr); last != "" {
		msg += ": " + last
	}
	return msg
}

func (e *stepError) Unwrap() error { return e.exit }

// tempName returns a unique hidden file name in the directory of p.
func tempName(p string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return path.Join(path.Dir(p), "."+path.Base(p)+".gomha-"+hex.EncodeToString(b[:])+".tmp"), nil
}

// Fetch copies remotePath from the server to w and then compares the
// checksum of the bytes received with the file's checksum on the server
// (sha256sum, else md5sum), as MHA checked its scp copies. w has received
// the data even when the checksums differ; the error then wraps
// [ErrChecksum] (for instance because the file grew during the copy).
func (c *Client) Fetch(ctx context.Context, remotePath string, w io.Writer) error {
	fail := func(err error) error {
		return fmt.Errorf("sshexec: fetch %s:%s: %w", c.name, remotePath, err)
	}
	if remotePath == "" {
		return fail(errors.New("remote path is empty"))
	}
	h := newHashes()
	var errOut bytes.Buffer
	if err := c.exec(ctx, []string{"sh", "-c", catScript, "sh", remotePath}, nil, io.MultiWriter(w, h), &errOut); err != nil {
		return fail(withStderr("read", err, errOut.Bytes()))
	}
	var out bytes.Buffer
	errOut.Reset()
	if err := c.exec(ctx, []string{"sh", "-c", hashScript, "sh", remotePath}, nil, &out, &errOut); err != nil {
		return fail(withStderr("checksum", err, errOut.Bytes()))
	}
	local, remote, err := h.verify(out.Bytes())
	if errors.Is(err, ErrChecksum) {
		return fail(fmt.Errorf("%w: received %s, file on server now %s", ErrChecksum, local, remote))
	}
	if err != nil {
		return fail(err)
	}
	return nil
}

// FetchFile copies remotePath from the server to the local file localPath
// with mode's permission bits. It writes a temporary file next to localPath
// and renames it only after the checksum matched, so localPath is either the
// complete, verified copy or untouched.
func (c *Client) FetchFile(ctx context.Context, remotePath, localPath string, mode os.FileMode) error {
	dir, base := filepath.Split(localPath)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".gomha-*.tmp")
	if err != nil {
		return fmt.Errorf("sshexec: fetch %s:%s: %w", c.name, remotePath, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := c.Fetch(ctx, remotePath, f); err != nil {
		return err
	}
	step := func(err error) error {
		return fmt.Errorf("sshexec: fetch %s:%s to %s: %w", c.name, remotePath, localPath, err)
	}
	if err := f.Chmod(mode.Perm()); err != nil {
		return step(err)
	}
	if err := f.Sync(); err != nil {
		return step(err)
	}
	if err := f.Close(); err != nil {
		return step(err)
	}
	if err := os.Rename(tmp, localPath); err != nil {
		return step(err)
	}
	ok = true
	return nil
}
