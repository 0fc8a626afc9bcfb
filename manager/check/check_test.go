package check

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/manager/config"
)

func server(block, ip string, opts string) config.Server {
	return config.Server{Block: block, Line: 7, Params: config.Params{
		Hostname: ip, IP: ip, Port: 3306, SSHHost: ip, SSHIP: ip, SSHPort: 2222, SSHUser: "root",
		SSHOptions: opts, SSHConnectionTimeout: 3 * time.Second, User: "mha", Password: "s3cret",
	}}
}

func TestSSHTarget(t *testing.T) {
	tgt, err := SSHTarget(server("server1", "192.0.2.1", "-i /k/id -o UserKnownHostsFile=/k/known"))
	if err != nil {
		t.Fatal(err)
	}
	if tgt.Host != "192.0.2.1" || tgt.Port != 2222 || tgt.User != "root" || tgt.ConnectTimeout != 3*time.Second {
		t.Errorf("SSHTarget = %+v", tgt)
	}
	if len(tgt.Options.IdentityFiles) != 1 || tgt.Options.IdentityFiles[0] != "/k/id" {
		t.Errorf("identity files = %q", tgt.Options.IdentityFiles)
	}
	if _, err := SSHTarget(server("server2", "192.0.2.2", "-o")); err == nil || !strings.Contains(err.Error(), "[server2] ssh_options") {
		t.Errorf("bad ssh_options: err = %v, want one naming the block and parameter", err)
	}
}

func TestSSHReport(t *testing.T) {
	ok := SSHResult{To: "root@a(192.0.2.1:22)"}
	bad := SSHResult{From: "root@a(192.0.2.1:22)", To: "root@b(192.0.2.2:22)", Err: errors.New("exited 255: Permission denied")}
	tests := []struct {
		name    string
		results []SSHResult
		wantOK  bool
		wantN   int
	}{
		{"empty", nil, true, 0},
		{"all ok", []SSHResult{ok, ok}, true, 0},
		{"one failure", []SSHResult{ok, bad}, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := SSHReport{Results: tt.results}
			if r.OK() != tt.wantOK || len(r.Failures()) != tt.wantN {
				t.Errorf("OK() = %v, Failures() = %d; want %v, %d", r.OK(), len(r.Failures()), tt.wantOK, tt.wantN)
			}
		})
	}
	if s := ok.String(); !strings.HasPrefix(s, "SSH from manager to root@a(192.0.2.1:22).. ok") {
		t.Errorf("ok line = %q", s)
	}
	if s := bad.String(); !strings.Contains(s, "failed: exited 255: Permission denied") {
		t.Errorf("failure line = %q", s)
	}
}

func TestTargetNamesWhereCredentialsCameFrom(t *testing.T) {
	cfg := &config.Config{File: "/etc/mha/app1.cnf"}
	tgt := Target(cfg, server("server3", "192.0.2.3", ""), time.Second)
	if tgt.Addr != "192.0.2.3:3306" || tgt.User != "mha" {
		t.Errorf("Target = %v", tgt)
	}
	if want := "/etc/mha/app1.cnf [server3] (line 7)"; tgt.CredentialsFrom != want {
		t.Errorf("CredentialsFrom = %q, want %q", tgt.CredentialsFrom, want)
	}
	if strings.Contains(tgt.String(), "s3cret") {
		t.Error("the target's string form shows the password")
	}
}

// TestSSHSkipsSkipInitSSHCheck: a server with skip_init_ssh_check=1 is not
// contacted at start, neither from the manager nor from the other hosts.
func TestSSHSkipsSkipInitSSHCheck(t *testing.T) {
	mk := func(block, host string, skip bool) config.Server {
		var s config.Server
		s.Block, s.Hostname, s.SSHHost, s.SSHIP, s.SSHPort, s.SSHUser = block, host, host, "127.0.0.1", 1, "root"
		s.SSHConnectionTimeout = time.Second
		s.SkipInitSSHCheck = skip
		return s
	}
	rep := SSH(context.Background(), []config.Server{mk("server1", "db1", true), mk("server2", "db2", false)})
	if len(rep.Results) != 1 {
		t.Fatalf("results = %v; want db2 only", rep.Results)
	}
	if r := rep.Results[0]; r.From != "" || !strings.Contains(r.To, "db2") || r.Err == nil {
		t.Fatalf("result = %v; want manager to db2, failed (nothing listens on port 1)", r)
	}
	if rep := SSH(context.Background(), []config.Server{mk("server1", "db1", true)}); len(rep.Results) != 0 {
		t.Fatalf("skipped server contacted: %v", rep.Results)
	}
}
