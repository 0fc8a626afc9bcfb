package config

import (
	"fmt"
	"net/netip"
	"strconv"
)

// Validate checks a resolved configuration as a whole and returns an *Error
// listing every problem, or nil. Load calls it; it is exported for
// configurations built or changed in code. It checks that there is at least
// one server block, that every server and binlog block has a hostname and
// values in range, and that no two servers share an ip:port (as MHA 0.58
// does after parsing). Problems are located at each block's header line.
func (c *Config) Validate() error {
	var probs problemList
	if len(c.Servers) == 0 {
		probs.add(Problem{File: c.File, Msg: "no server block: define at least one [server...] section with a hostname",
			Err: ErrNoServers})
	}
	check := func(s Server, wantServer bool) {
		at := func(key, msg string, err error) {
			probs.add(Problem{File: c.File, Line: s.Line, Section: s.Block, Key: key, Msg: msg, Err: err})
		}
		if wantServer && !isServerBlock(s.Block) || !wantServer && !isBinlogBlock(s.Block) {
			at("", "invalid block name", ErrInvalidBlock)
		}
		if s.Hostname == "" {
			at("hostname", "missing (every server and binlog block needs one)", ErrNoHostname)
		}
		if s.Port < 1 || s.Port > 65535 {
			at("port", fmt.Sprintf("%d is out of range 1-65535", s.Port), ErrInvalidValue)
		}
		if s.SSHPort < 1 || s.SSHPort > 65535 {
			at("ssh_port", fmt.Sprintf("%d is out of range 1-65535", s.SSHPort), ErrInvalidValue)
		}
		if s.PingInterval <= 0 {
			at("ping_interval", fmt.Sprintf("%v is not positive", s.PingInterval), ErrInvalidValue)
		}
		if s.SSHConnectionTimeout <= 0 {
			at("ssh_connection_timeout", fmt.Sprintf("%v is not positive", s.SSHConnectionTimeout), ErrInvalidValue)
		}
		switch s.PingType {
		case PingConnect, PingSelect, PingInsert:
		default:
			at("ping_type", fmt.Sprintf("%q is not CONNECT, SELECT or INSERT", s.PingType), ErrInvalidValue)
		}
		if s.FenceLease > 0 {
			// The watchdog sees the manager through its pinging session's
			// idle time, which grows to ping_interval between pings: a
			// shorter lease would demote a master the manager still pings
			// whenever the replicas are away. CONNECT pings leave no
			// session to see.
			if s.FenceLease < 2*s.PingInterval {
				at("fence_lease", fmt.Sprintf("%v is shorter than twice ping_interval (%v)", s.FenceLease, s.PingInterval), ErrInvalidValue)
			}
			if s.PingType == PingConnect {
				at("fence_lease", "needs ping_type SELECT or INSERT: the watchdog cannot see CONNECT pings (each session ends at once)", ErrInvalidValue)
			}
		}
		if logLevels[s.LogLevel] != s.LogLevel {
			at("log_level", fmt.Sprintf("%q is not a log level", s.LogLevel), ErrInvalidValue)
		}
	}
	for _, s := range c.Servers {
		check(s, true)
	}
	for _, s := range c.Binlogs {
		check(s, false)
	}
	// One pass with a map: comparing every pair made a file of thousands
	// of blocks take seconds to load.
	first := make(map[string]int, len(c.Servers)) // ipKey:port -> index of the first server there
	for j, b := range c.Servers {
		if b.IP == "" {
			continue
		}
		k := ipKey(b.IP) + "|" + strconv.Itoa(b.Port)
		i, seen := first[k]
		if !seen {
			first[k] = j
			continue
		}
		a := c.Servers[i]
		probs.add(Problem{File: c.File, Line: b.Line, Section: b.Block,
			Msg: fmt.Sprintf("%s (hostname %s) and %s (hostname %s) have the same ip:port %s",
				a.Block, a.Hostname, b.Block, b.Hostname, a.Addr()),
			Err: ErrDuplicateAddress})
	}
	if len(probs.items) == 0 {
		return nil
	}
	return &Error{Problems: sortProblems(probs.items, c.File)}
}

// ipKey is the address as Validate compares it: by value when it parses
// ("2001:db8::1" and "2001:0db8:0::1" are the same, and so are 192.0.2.1
// and ::ffff:192.0.2.1), else as text.
func ipKey(s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return "addr:" + a.Unmap().String()
	}
	return "text:" + s
}
