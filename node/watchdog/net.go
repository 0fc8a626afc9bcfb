package watchdog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
)

// ProbeGreeting connects to a MySQL server at addr and reads the first
// packet it sends: a handshake (protocol 10) or an error packet (too many
// connections, host blocked), either of which proves the host answers. It
// is bounded by ctx.
func ProbeGreeting(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	var hdr [5]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return fmt.Errorf("read greeting from %s: %w", addr, err)
	}
	n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
	if n == 0 || (hdr[4] != 10 && hdr[4] != 0xff) {
		return fmt.Errorf("%s: not a MySQL greeting", addr)
	}
	return nil
}

// ipBinary finds ip(8); a daemon started over SSH may lack /sbin in PATH.
func ipBinary() string {
	if p, err := exec.LookPath("ip"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "ip"
}

// vipPresent reports whether addr is on dev (ip -o addr show dev DEV).
func vipPresent(ctx context.Context, addr netip.Addr, dev string) (bool, error) {
	out, err := exec.CommandContext(ctx, ipBinary(), "-o", "addr", "show", "dev", dev).CombinedOutput()
	if err != nil {
		return false, fmt.Errorf("ip addr show dev %s: %w: %s", dev, err, strings.TrimSpace(string(out)))
	}
	for _, f := range strings.Fields(string(out)) {
		if p, err := netip.ParsePrefix(f); err == nil && p.Addr() == addr {
			return true, nil
		}
	}
	return false, nil
}

// RemoveVIP deletes vip (ADDR/PREFIX) from dev with ip addr del and checks
// that it is gone. A VIP already absent is a success.
func RemoveVIP(ctx context.Context, vip, dev string) Step {
	st := Step{Name: "remove VIP"}
	p, err := netip.ParsePrefix(vip)
	if err != nil {
		st.Err = fmt.Sprintf("VIP %q: %v", vip, err)
		return st
	}
	present, err := vipPresent(ctx, p.Addr(), dev)
	if err != nil {
		st.Err = err.Error()
		return st
	}
	if present {
		out, err := exec.CommandContext(ctx, ipBinary(), "addr", "del", vip, "dev", dev).CombinedOutput()
		if err != nil {
			st.Err = fmt.Sprintf("ip addr del %s dev %s: %v: %s", vip, dev, err, strings.TrimSpace(string(out)))
		}
		if present, err = vipPresent(ctx, p.Addr(), dev); err != nil {
			st.Err = errors.Join(errors.New(st.Err), err).Error()
			return st
		}
		if present {
			if st.Err == "" {
				st.Err = fmt.Sprintf("%s still on %s after ip addr del", vip, dev)
			}
			return st
		}
		st.OK, st.Err, st.Detail = true, "", fmt.Sprintf("deleted %s from %s", vip, dev)
		return st
	}
	st.OK, st.Detail = true, fmt.Sprintf("%s was not on %s", vip, dev)
	return st
}
