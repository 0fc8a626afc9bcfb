package purge

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ClientDefaults are the connection settings of a MySQL option file's
// client groups, as purge_relay_logs --defaults_file reads them (MHA hands
// the file to DBD::mysql as mysql_read_default_file). A field is set when
// its Has flag is.
type ClientDefaults struct {
	User, Password, Host, Socket string
	Port                         int
	HasUser, HasPassword         bool
	HasHost, HasSocket, HasPort  bool
}

// clientGroups are the option-file groups a MySQL or MariaDB client reads.
var clientGroups = map[string]bool{"client": true, "client-server": true, "client-mariadb": true}

// ParseDefaults reads the client groups of a MySQL option file
// (name=value lines under [client], [client-server] or [client-mariadb];
// later values win, as in the client library). Values may be quoted;
// comments start with # or ;. Errors name the line, never a value, so a
// password cannot end up in a log.
func ParseDefaults(r io.Reader) (ClientDefaults, error) {
	var d ClientDefaults
	in := false
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '!' {
			continue
		}
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return ClientDefaults{}, fmt.Errorf("line %d: unterminated group name", n)
			}
			in = clientGroups[strings.ToLower(strings.TrimSpace(line[1:end]))]
			continue
		}
		if !in {
			continue
		}
		key, val, _ := strings.Cut(line, "=")
		key = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(key)), "-", "_")
		val = unquote(strings.TrimSpace(val))
		switch key {
		case "user":
			d.User, d.HasUser = val, true
		case "password":
			d.Password, d.HasPassword = val, true
		case "host":
			d.Host, d.HasHost = val, true
		case "socket":
			d.Socket, d.HasSocket = val, true
		case "port":
			p, err := strconv.Atoi(val)
			if err != nil || p < 1 || p > 65535 {
				return ClientDefaults{}, fmt.Errorf("line %d: port is not a port number", n)
			}
			d.Port, d.HasPort = p, true
		}
	}
	if err := sc.Err(); err != nil {
		return ClientDefaults{}, err
	}
	return d, nil
}

// unquote removes one pair of matching quotes around v.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}
