package failover

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gomha/gomha/node/binlog"
)

// combine writes files, in order, as ONE binlog file at dst, so that one
// client session applies them: the boundary between a relay-log diff that
// ends inside a transaction and the dead master's tail that completes it
// must not end a session (the server would roll the first half back).
// The first file is copied whole; of each later file the magic is dropped,
// and so is its leading format description when it announces the same
// checksum algorithm and header length as the one in effect (a format
// description written at server start-up would make the server roll back
// an open transaction).
func combine(dst string, files ...string) (err error) {
	if len(files) == 0 {
		return errors.New("combine: no files")
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("combine: %w", err)
	}
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("combine: close %s: %w", dst, cerr)
		}
		if err != nil {
			os.Remove(dst)
		}
	}()
	first, err := os.Open(files[0])
	if err != nil {
		return fmt.Errorf("combine: %w", err)
	}
	_, err = io.Copy(out, first)
	first.Close()
	if err != nil {
		return fmt.Errorf("combine: copy %s: %w", files[0], err)
	}
	fd, err := lastFormat(files[0])
	if err != nil {
		return err
	}
	for _, f := range files[1:] {
		if fd, err = appendEvents(out, f, fd); err != nil {
			return err
		}
	}
	return nil
}

// lastFormat returns the format description in effect at the end of file.
func lastFormat(file string) (*binlog.FormatDescription, error) {
	r, err := binlog.Open(file)
	if err != nil {
		return nil, fmt.Errorf("combine: %w", err)
	}
	defer r.Close()
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("combine: read %s: %w", file, err)
		}
	}
	if r.Format() == nil {
		return nil, fmt.Errorf("combine: %s has no format description", file)
	}
	return r.Format(), nil
}

// appendEvents copies file's events to out, without its leading format
// description when it matches prev; it returns the format in effect at
// its end.
func appendEvents(out io.Writer, file string, prev *binlog.FormatDescription) (*binlog.FormatDescription, error) {
	r, err := binlog.Open(file)
	if err != nil {
		return nil, fmt.Errorf("combine: %w", err)
	}
	defer r.Close()
	firstEvent := true
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("combine: read %s: %w", file, err)
		}
		if firstEvent && ev.Type == binlog.FormatDescriptionEvent {
			firstEvent = false
			fd := r.Format()
			if fd != nil && prev != nil && fd.Checksum == prev.Checksum && fd.HeaderLen == prev.HeaderLen {
				continue
			}
		}
		firstEvent = false
		raw, err := ev.Raw()
		if err != nil {
			return nil, fmt.Errorf("combine: %s at %d: %w", file, ev.Offset, err)
		}
		if _, err := out.Write(raw); err != nil {
			return nil, fmt.Errorf("combine: write: %w", err)
		}
	}
	return r.Format(), nil
}
