package repoint

import (
	"strconv"
	"strings"

	"github.com/gomha/gomha/manager/mysqlx"
)

// Settings are the replication connection settings a DBA chooses on a
// replica, which a repoint keeps: read before CHANGE MASTER, given again
// right after it. A nil pointer or an empty string is a setting that is not
// known (or not set) and is left to the server.
//
// Why: MariaDB (every 10.x and 11.x) and MySQL (5.6 to 8.4) reset
// MASTER_HEARTBEAT_PERIOD to slave_net_timeout/2 whenever CHANGE MASTER
// names MASTER_HOST or MASTER_PORT, which a repoint always does; a replica
// tuned for fast detection (heartbeat 1 s) came back from a failover with
// the default (30 s) and check-repl then warned HeartbeatSlow. The other
// settings survive a CHANGE MASTER that does not name them, but not a RESET
// SLAVE ALL: giving them again keeps them whatever ran before.
type Settings struct {
	// HeartbeatPeriod is MASTER_HEARTBEAT_PERIOD in seconds (0: off).
	HeartbeatPeriod *float64
	// ConnectRetry is MASTER_CONNECT_RETRY in seconds.
	ConnectRetry *int
	// RetryCount is MASTER_RETRY_COUNT (MySQL; MariaDB 10.x and 11.x
	// have only the master_retry_count server option, and no
	// Master_Retry_Count column to read it from).
	RetryCount *uint64
	// Delay is MASTER_DELAY in seconds (a delayed replica stays delayed).
	Delay *int64
	// SSL is MASTER_SSL and SSLVerifyServerCert
	// MASTER_SSL_VERIFY_SERVER_CERT.
	SSL                 *bool
	SSLVerifyServerCert *bool
	// The MASTER_SSL_* files and the cipher list. A value with a character
	// outside plainChars is not given again (CHANGE MASTER keeps it
	// anyway): these statements take no placeholders, and repoint quotes
	// nothing itself.
	SSLCA, SSLCAPath, SSLCert, SSLKey, SSLCipher, SSLCRL, SSLCRLPath string
}

// plain reports whether s can be written between single quotes as it is,
// under every sql_mode: letters, digits and / . _ - : + = , @ ! only (file
// paths and cipher lists).
func plain(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("/._-:+=,@!", r):
		default:
			return false
		}
	}
	return s != ""
}

// Statement renders the CHANGE MASTER TO that gives the known settings
// again, spelled for v (CHANGE REPLICATION SOURCE TO with SOURCE_* options on
// MySQL >= 8.0.23). It returns "" when nothing is known. The statement
// never names the source, its coordinates or a password: it runs right
// after the CHANGE MASTER that set them, with replication stopped, and
// leaves them as they are.
func (s Settings) Statement(v mysqlx.Version) string {
	kw, stmt := "MASTER_", "CHANGE MASTER TO "
	if v.Flavor == mysqlx.MySQL && v.AtLeast(8, 0, 23) {
		kw, stmt = "SOURCE_", "CHANGE REPLICATION SOURCE TO "
	}
	var opts []string
	add := func(name, value string) { opts = append(opts, kw+name+" = "+value) }
	flag := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	if s.HeartbeatPeriod != nil {
		add("HEARTBEAT_PERIOD", strconv.FormatFloat(*s.HeartbeatPeriod, 'f', -1, 64))
	}
	if s.ConnectRetry != nil {
		add("CONNECT_RETRY", strconv.Itoa(*s.ConnectRetry))
	}
	if s.RetryCount != nil {
		add("RETRY_COUNT", strconv.FormatUint(*s.RetryCount, 10))
	}
	if s.Delay != nil {
		add("DELAY", strconv.FormatInt(*s.Delay, 10))
	}
	if s.SSL != nil {
		add("SSL", flag(*s.SSL))
	}
	for _, f := range []struct{ name, value string }{
		{"SSL_CA", s.SSLCA}, {"SSL_CAPATH", s.SSLCAPath}, {"SSL_CERT", s.SSLCert}, {"SSL_KEY", s.SSLKey},
		{"SSL_CIPHER", s.SSLCipher}, {"SSL_CRL", s.SSLCRL}, {"SSL_CRLPATH", s.SSLCRLPath},
	} {
		if plain(f.value) {
			add(f.name, "'"+f.value+"'")
		}
	}
	if s.SSLVerifyServerCert != nil {
		add("SSL_VERIFY_SERVER_CERT", flag(*s.SSLVerifyServerCert))
	}
	if len(opts) == 0 {
		return ""
	}
	return stmt + strings.Join(opts, ", ")
}
