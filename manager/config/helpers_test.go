package config

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fakeResolver resolves from a fixed table; IP literals resolve to
// themselves, as with net.Resolver.
type fakeResolver map[string][]string

func (f fakeResolver) LookupHost(ctx context.Context, host string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if a, ok := f[host]; ok {
		return a, nil
	}
	if net.ParseIP(host) != nil {
		return []string{host}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// testResolver knows the names used by the fixtures and samples. Addresses
// are documentation ranges (RFC 5737, RFC 3849).
func testResolver() fakeResolver {
	return fakeResolver{
		"db1":                  {"192.0.2.1"},
		"db1alias":             {"192.0.2.1"},
		"db2":                  {"192.0.2.2"},
		"db3":                  {"192.0.2.3"},
		"db10":                 {"192.0.2.10"},
		"bastion1":             {"198.51.100.1"},
		"v6host":               {"2001:db8::1"},
		"multi":                {"192.0.2.50", "192.0.2.51"},
		"binlog1":              {"192.0.2.201"},
		"binlog2":              {"192.0.2.202"},
		"binlog10":             {"192.0.2.210"},
		"db1.example.com":      {"192.0.2.11"},
		"db2.example.com":      {"192.0.2.12"},
		"db3.example.com":      {"192.0.2.13"},
		"db3-mgmt.example.com": {"198.51.100.13"},
	}
}

// testOSUser stands for the manager's OS user in tests.
const testOSUser = "mhauser"

// opts returns LoadOptions for app with no global file.
func opts(t *testing.T, app string) LoadOptions {
	t.Helper()
	return LoadOptions{
		AppFile:    app,
		GlobalFile: filepath.Join(t.TempDir(), "no-global.cnf"),
		Resolver:   testResolver(),
		OSUser:     testOSUser,
	}
}

// writeFile writes content to name in a fresh temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// builtin returns MHA's built-in defaults as Load resolves them.
func builtin() Params {
	return Params{
		Port:                 3306,
		SSHPort:              22,
		SSHUser:              testOSUser,
		SSHConnectionTimeout: 5 * time.Second,
		User:                 "root",
		HandleRawBinlog:      true,
		RemoteWorkdir:        "/var/tmp",
		MasterBinlogDir:      []string{"/var/lib/mysql", "/var/log/mysql"},
		LogLevel:             "info",
		ManagerWorkdir:       "/var/tmp",
		CheckReplDelay:       true,
		CheckReplFilter:      true,
		LatestPriority:       true,
		PingInterval:         3 * time.Second,
		PingType:             PingSelect,
		UseGTIDAutoPos:       true,
	}
}

// srv builds an expected server from base with hostname and address set
// (SSHHost and SSHIP equal to them) and mods applied.
func srv(base Params, block string, line int, host, ip string, mods ...func(*Params)) Server {
	p := base
	p.MasterBinlogDir = append([]string(nil), base.MasterBinlogDir...)
	p.Hostname, p.IP, p.SSHHost, p.SSHIP = host, ip, host, ip
	for _, m := range mods {
		m(&p)
	}
	return Server{Block: block, Line: line, Params: p}
}

// with returns base with mods applied.
func with(base Params, mods ...func(*Params)) Params {
	p := base
	for _, m := range mods {
		m(&p)
	}
	return p
}
