package sshexec

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Defaults applied by [Dial] when neither the [Target] nor the [Options] set
// a value.
const (
	// DefaultPort is the SSH port (MHA's ssh_port default).
	DefaultPort = 22
	// DefaultConnectTimeout bounds the TCP connection and the SSH handshake
	// (MHA's ssh_connection_timeout default).
	DefaultConnectTimeout = 5 * time.Second
	// DefaultServerAliveInterval is the keep-alive interval, as in MHA's
	// option set for long commands (ServerAliveInterval=60).
	DefaultServerAliveInterval = 60 * time.Second
	// DefaultServerAliveCountMax is how many keep-alives may go unanswered
	// before the connection is closed (MHA: ServerAliveCountMax=20).
	DefaultServerAliveCountMax = 20
)

// HostKeyPolicy says what to do with a host key that is not in known_hosts,
// as OpenSSH's StrictHostKeyChecking does.
type HostKeyPolicy int

const (
	// HostKeyVerify (the default; StrictHostKeyChecking=yes or ask) accepts
	// only host keys listed in known_hosts.
	HostKeyVerify HostKeyPolicy = iota
	// HostKeyAcceptNew (StrictHostKeyChecking=accept-new) accepts and
	// records the key of a host that is not in known_hosts yet, and refuses
	// a key that differs from a recorded one.
	HostKeyAcceptNew
	// HostKeyAcceptAny (StrictHostKeyChecking=no or off) accepts any host
	// key without looking at known_hosts. This is what MHA always did.
	HostKeyAcceptAny
)

// String returns the StrictHostKeyChecking value for p.
func (p HostKeyPolicy) String() string {
	switch p {
	case HostKeyVerify:
		return "yes"
	case HostKeyAcceptNew:
		return "accept-new"
	case HostKeyAcceptAny:
		return "no"
	}
	return fmt.Sprintf("HostKeyPolicy(%d)", int(p))
}

// Options is the parsed form of MHA's ssh_options string. The zero value
// means "no options": default keys, ~/.ssh/known_hosts, verified host keys.
//
// As with OpenSSH, the first value given for an option wins, except
// IdentityFile, which accumulates.
type Options struct {
	// Raw is the ssh_options string as configured.
	Raw string
	// Args is Raw split into ssh arguments and normalised (every -o option
	// in the form "-o", "Key=Value"), ready to be passed to a remote ssh
	// binary, as MHA appended ssh_options to its own ssh command lines.
	Args []string
	// Unknown lists the arguments, in the form kept in Args, that gomha's
	// own SSH client does not act on (for example -F, ProxyJump or
	// Ciphers). They are harmless but ignored by [Dial]; callers may warn
	// about them.
	Unknown []string

	// IdentityFiles are private key files (-i, -o IdentityFile=), in order.
	// Empty means ~/.ssh/id_ed25519, ~/.ssh/id_ecdsa and ~/.ssh/id_rsa,
	// those that exist. A leading ~ is expanded by Dial.
	IdentityFiles []string
	// IdentitiesOnly (-o IdentitiesOnly=yes) stops Dial from also offering
	// the keys of the SSH agent named by SSH_AUTH_SOCK.
	IdentitiesOnly bool
	// KnownHostsFiles (-o UserKnownHostsFile=) are the user known_hosts
	// files; nil means ~/.ssh/known_hosts and ~/.ssh/known_hosts2; a
	// non-nil empty slice (UserKnownHostsFile=none) means none. New keys are
	// recorded in the first one.
	KnownHostsFiles []string
	// GlobalKnownHostsFiles (-o GlobalKnownHostsFile=) are read as well;
	// nil means /etc/ssh/ssh_known_hosts and /etc/ssh/ssh_known_hosts2.
	GlobalKnownHostsFiles []string
	// HostKeyPolicy comes from StrictHostKeyChecking.
	HostKeyPolicy HostKeyPolicy
	// HostKeyPolicySet reports whether StrictHostKeyChecking was given,
	// so that a caller with another default (MHA's command names, which
	// never checked host keys) can tell "not said" from "yes".
	HostKeyPolicySet bool
	// ConnectTimeout (-o ConnectTimeout=) bounds the TCP connection and the
	// SSH handshake; 0 means unset.
	ConnectTimeout time.Duration
	// ConnectionAttempts (-o ConnectionAttempts=) is how many times Dial
	// tries to connect, one second apart, when the connection fails or
	// times out; 0 means 1.
	ConnectionAttempts int
	// Port (-p, -o Port=) overrides the target's port when set, as it did
	// in MHA, where ssh_options came before -p on the ssh command line.
	Port int
	// User (-l, -o User=) overrides the target's user when set, for the
	// same reason.
	User string
	// ServerAliveInterval (-o ServerAliveInterval=) is the keep-alive
	// interval; 0 means [DefaultServerAliveInterval], a negative value
	// (ServerAliveInterval=0 in ssh_options) disables keep-alives.
	ServerAliveInterval time.Duration
	// ServerAliveCountMax (-o ServerAliveCountMax=) is how many keep-alives
	// may go unanswered; 0 means [DefaultServerAliveCountMax].
	ServerAliveCountMax int
}

// sshNoArgFlags are the ssh(1) flags without an argument.
const sshNoArgFlags = "46AaCfGgKkMNnqsTtVvXxYy"

// sshArgFlags are the ssh(1) flags that take an argument.
const sshArgFlags = "BbcDEeFIiJLlmOopQRSWw"

// ParseOptions parses an ssh_options string such as
//
//	-i /root/.ssh/id_mha -o UserKnownHostsFile=/etc/mha/known_hosts -o StrictHostKeyChecking=accept-new -oConnectTimeout=3
//
// Options are accepted as "-o Key=Value", "-oKey=Value", "-o 'Key Value'"
// and "-o Key Value" (MHA deletes quote characters from ssh_options, so the
// last form is what "-o 'Key Value'" becomes). Single and double quotes and
// backslashes that are still present group words as in sh. Unknown flags and
// unknown -o keys are kept in Args and listed in Unknown; they are not an
// error. Errors wrap [ErrOptions] and name the offending option.
func ParseOptions(raw string) (Options, error) {
	o := Options{Raw: raw}
	toks, err := splitWords(raw)
	if err != nil {
		return Options{}, fmt.Errorf("%w %q: %v", ErrOptions, raw, err)
	}
	p := optionParser{o: &o, set: map[string]bool{}}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t == "" || t[0] != '-' || t == "-" || t == "--" {
			return Options{}, fmt.Errorf("%w: unexpected argument %q (not an ssh option)", ErrOptions, t)
		}
		for j := 1; j < len(t); j++ {
			c := t[j]
			if strings.IndexByte(sshNoArgFlags, c) >= 0 {
				flag := "-" + string(c)
				o.Args = append(o.Args, flag)
				o.Unknown = append(o.Unknown, flag)
				continue
			}
			if !isAlnum(c) {
				return Options{}, fmt.Errorf("%w: unexpected character %q in option %q", ErrOptions, c, t)
			}
			if strings.IndexByte(sshArgFlags, c) < 0 {
				// Not an ssh flag we know: keep the rest of the word as it
				// is; ssh will judge it.
				rest := "-" + t[j:]
				o.Args = append(o.Args, rest)
				o.Unknown = append(o.Unknown, rest)
				break
			}
			flag := "-" + string(c)
			val := t[j+1:]
			if val == "" {
				if i+1 >= len(toks) {
					return Options{}, fmt.Errorf("%w: option %s needs a value", ErrOptions, flag)
				}
				i++
				val = toks[i]
			}
			if c == 'o' {
				key, v, ok := splitKeyValue(val)
				if !ok {
					// "-o Key Value" after MHA deleted the quotes.
					if key == "" || i+1 >= len(toks) || strings.HasPrefix(toks[i+1], "-") {
						return Options{}, fmt.Errorf("%w: option -o %s has no value", ErrOptions, val)
					}
					i++
					v = strings.TrimSpace(toks[i])
				}
				if err := p.option(key, v); err != nil {
					return Options{}, err
				}
				break
			}
			if err := p.flag(c, val); err != nil {
				return Options{}, err
			}
			break
		}
	}
	return o, nil
}

// optionParser applies options to o, first value wins.
type optionParser struct {
	o   *Options
	set map[string]bool // lower-case option names already given
}

// first reports whether name (lower case) is given for the first time.
func (p *optionParser) first(name string) bool {
	if p.set[name] {
		return false
	}
	p.set[name] = true
	return true
}

// flag handles a flag with argument other than -o.
func (p *optionParser) flag(c byte, val string) error {
	switch c {
	case 'i':
		return p.option("IdentityFile", val)
	case 'p':
		return p.option("Port", val)
	case 'l':
		return p.option("User", val)
	}
	flag := "-" + string(c)
	p.o.Args = append(p.o.Args, flag, val)
	p.o.Unknown = append(p.o.Unknown, flag, val)
	return nil
}

// option handles one "-o key=value" (also -i, -p, -l). It appends the
// normalised option to Args.
func (p *optionParser) option(key, val string) error {
	o := p.o
	val = strings.TrimSpace(val)
	name := strings.ToLower(key)
	bad := func(why string) error {
		return fmt.Errorf("%w: option %s=%s: %s", ErrOptions, key, val, why)
	}
	switch name {
	case "identityfile":
		if val == "" {
			return bad("empty file name")
		}
		o.IdentityFiles = append(o.IdentityFiles, val)
	case "identitiesonly":
		b, err := parseYesNo(val)
		if err != nil {
			return bad(err.Error())
		}
		if p.first(name) {
			o.IdentitiesOnly = b
		}
	case "userknownhostsfile", "globalknownhostsfile":
		files := strings.Fields(val)
		if len(files) == 0 {
			return bad("empty file name")
		}
		if len(files) == 1 && strings.EqualFold(files[0], "none") {
			files = []string{}
		}
		if p.first(name) {
			if name == "userknownhostsfile" {
				o.KnownHostsFiles = files
			} else {
				o.GlobalKnownHostsFiles = files
			}
		}
	case "stricthostkeychecking":
		var pol HostKeyPolicy
		switch strings.ToLower(val) {
		case "yes", "true", "ask":
			pol = HostKeyVerify
		case "accept-new":
			pol = HostKeyAcceptNew
		case "no", "off", "false":
			pol = HostKeyAcceptAny
		default:
			return bad("want yes, no, accept-new or ask")
		}
		if p.first(name) {
			o.HostKeyPolicy = pol
			o.HostKeyPolicySet = true
		}
	case "connecttimeout", "serveraliveinterval":
		d, err := parseSSHTime(val)
		if err != nil {
			return bad(err.Error())
		}
		if p.first(name) {
			if name == "connecttimeout" {
				o.ConnectTimeout = d
			} else {
				if d == 0 {
					d = -1
				}
				o.ServerAliveInterval = d
			}
		}
	case "connectionattempts", "serveralivecountmax":
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 || n > 1000 {
			return bad("want a whole number from 1 to 1000")
		}
		if p.first(name) {
			if name == "connectionattempts" {
				o.ConnectionAttempts = n
			} else {
				o.ServerAliveCountMax = n
			}
		}
	case "port":
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 || n > 65535 {
			return bad("want a port number from 1 to 65535")
		}
		if p.first(name) {
			o.Port = n
		}
	case "user":
		if val == "" {
			return bad("empty user name")
		}
		if p.first(name) {
			o.User = val
		}
	case "batchmode", "passwordauthentication", "kbdinteractiveauthentication",
		"challengeresponseauthentication":
		// gomha never prompts: these are what it does anyway.
		if _, err := parseYesNo(val); err != nil {
			return bad(err.Error())
		}
	case "":
		return bad("empty option name")
	default:
		o.Unknown = append(o.Unknown, "-o", key+"="+val)
	}
	o.Args = append(o.Args, "-o", key+"="+val)
	return nil
}

// isAlnum reports whether c is an ASCII letter or digit.
func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// splitKeyValue splits an -o argument into key and value at the first '='
// or blank, allowing "Key = Value". ok is false when there is no value part.
func splitKeyValue(s string) (key, val string, ok bool) {
	s = strings.TrimSpace(s)
	i := strings.IndexAny(s, "= \t")
	if i < 0 {
		return s, "", false
	}
	key = s[:i]
	rest := strings.TrimLeft(s[i:], " \t")
	if strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	return key, strings.TrimSpace(rest), true
}

// parseYesNo parses an OpenSSH boolean.
func parseYesNo(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "yes", "true":
		return true, nil
	case "no", "false":
		return false, nil
	}
	return false, fmt.Errorf("want yes or no")
}

// parseSSHTime parses an OpenSSH time value: a number of seconds, or
// numbers each followed by a unit s, m, h, d or w ("90", "1m30s").
func parseSSHTime(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty time")
	}
	var total time.Duration
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i > 9 {
			return 0, fmt.Errorf("want a number of seconds such as 5 or 1m30s")
		}
		n, _ := strconv.Atoi(s[:i])
		s = s[i:]
		unit := time.Second
		if s != "" {
			switch s[0] {
			case 's', 'S':
			case 'm', 'M':
				unit = time.Minute
			case 'h', 'H':
				unit = time.Hour
			case 'd', 'D':
				unit = 24 * time.Hour
			case 'w', 'W':
				unit = 7 * 24 * time.Hour
			default:
				return 0, fmt.Errorf("unknown time unit %q", s[:1])
			}
			s = s[1:]
		}
		total += time.Duration(n) * unit
		if total > 365*24*time.Hour {
			return 0, fmt.Errorf("time too large")
		}
	}
	return total, nil
}

// splitWords splits s into words at unquoted blanks, removing single quotes,
// double quotes and backslashes as sh would (without any expansion).
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated double quote")
			}
			inWord = true
		case c == '\\':
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			}
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
