package watchdog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Client says how the watchdog reaches its local mysqld. It is read from
// a MySQL option file (--defaults_file) so that the password is never in
// argv, where ps shows it. Its String leaves the password out.
type Client struct {
	User, Password string
	// Host and Port address the server over TCP; Socket, when set, is used
	// instead.
	Host   string
	Port   int
	Socket string
}

// String renders c without the password.
func (c Client) String() string {
	if c.Socket != "" {
		return c.User + "@unix(" + c.Socket + ")"
	}
	return fmt.Sprintf("%s@%s:%d", c.User, c.Host, c.Port)
}

// FormatDefaults renders c as a MySQL option file with one [client]
// section that the mysql/mariadb clients read as well. Values are double
// quoted with \\ and \" escaped, as the option file syntax allows.
func FormatDefaults(c Client) []byte {
	var b bytes.Buffer
	b.WriteString("# Written by the gomha manager for mha-node watchdog; keep it mode 0600.\n[client]\n")
	kv := func(k, v string) {
		fmt.Fprintf(&b, "%s=%s\n", k, quoteOption(v))
	}
	kv("user", c.User)
	kv("password", c.Password)
	if c.Socket != "" {
		kv("socket", c.Socket)
	} else {
		kv("host", c.Host)
		fmt.Fprintf(&b, "port=%d\n", c.Port)
	}
	return b.Bytes()
}

func quoteOption(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(v) + `"`
}

// ParseDefaults reads the [client] section of a MySQL option file: user,
// password, host, port and socket (other keys and sections are ignored).
// Values may be bare or quoted with ' or "; inside double quotes the
// escapes \\ \" \n \r \t \s are understood. Port defaults to 3306, Host to
// 127.0.0.1.
func ParseDefaults(data []byte) (Client, error) {
	c := Client{Host: "127.0.0.1", Port: 3306}
	sc := bufio.NewScanner(bytes.NewReader(data))
	section := ""
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' || l[0] == ';' {
			continue
		}
		if l[0] == '[' {
			end := strings.IndexByte(l, ']')
			if end < 0 {
				return Client{}, fmt.Errorf("line %d: unterminated section header", line)
			}
			section = strings.ToLower(strings.TrimSpace(l[1:end]))
			continue
		}
		if section != "client" {
			continue
		}
		k, v, _ := strings.Cut(l, "=")
		k = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(k)), "-", "_")
		v, err := unquoteOption(strings.TrimSpace(v))
		if err != nil {
			return Client{}, fmt.Errorf("line %d: %s: %w", line, k, err)
		}
		switch k {
		case "user":
			c.User = v
		case "password":
			c.Password = v
		case "host":
			c.Host = v
		case "socket":
			c.Socket = v
		case "port":
			p, err := strconv.Atoi(v)
			if err != nil || p < 1 || p > 65535 {
				return Client{}, fmt.Errorf("line %d: port %q is not a port number", line, v)
			}
			c.Port = p
		}
	}
	if err := sc.Err(); err != nil {
		return Client{}, err
	}
	if c.User == "" {
		return Client{}, errors.New("no user in [client]")
	}
	return c, nil
}

func unquoteOption(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	switch v[0] {
	case '\'':
		if len(v) < 2 || v[len(v)-1] != '\'' {
			return "", errors.New("unterminated quote")
		}
		return v[1 : len(v)-1], nil
	case '"':
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			ch := v[i]
			switch {
			case ch == '"':
				if strings.TrimSpace(v[i+1:]) != "" && !strings.HasPrefix(strings.TrimSpace(v[i+1:]), "#") {
					return "", errors.New("text after the closing quote")
				}
				return b.String(), nil
			case ch == '\\' && i+1 < len(v):
				i++
				switch v[i] {
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				case 't':
					b.WriteByte('\t')
				case 's':
					b.WriteByte(' ')
				default:
					b.WriteByte(v[i])
				}
			default:
				b.WriteByte(ch)
			}
		}
		return "", errors.New("unterminated quote")
	}
	// A bare value ends at a comment.
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return v, nil
}
