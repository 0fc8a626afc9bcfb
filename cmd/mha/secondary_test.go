package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/sshexec"
)

func TestSecondaryHostsPolicy(t *testing.T) {
	tests := []struct {
		name     string
		script   string
		appended []string
		ok       bool
		hosts    []string
		policy   sshexec.HostKeyPolicy
		user     string
		port     int
	}{
		{name: "MHA name: no host key check", script: "/usr/bin/masterha_secondary_check -s db2 -s db3",
			appended: []string{"--user=mha", "--master_host=db1"}, ok: true, hosts: []string{"db2", "db3"},
			policy: sshexec.HostKeyAcceptAny, user: "mha", port: 22},
		{name: "MHA name, manager's check options without StrictHostKeyChecking", script: "masterha_secondary_check -s db2 --port=2222",
			appended: []string{"--user=root", "--options=-o PasswordAuthentication=no -o BatchMode=yes -o ConnectTimeout=5 -i /k"},
			ok:       true, hosts: []string{"db2"}, policy: sshexec.HostKeyAcceptAny, user: "root", port: 2222},
		{name: "MHA name, options ask for checking", script: "masterha_secondary_check -s db2 --options='-o StrictHostKeyChecking=yes'",
			ok: true, hosts: []string{"db2"}, policy: sshexec.HostKeyVerify, user: "root", port: 22},
		{name: "MHA name, single-dash and prefix options", script: "masterha_secondary_check -secondary_host=db2 --sec db3 -user=u",
			ok: true, hosts: []string{"db2", "db3"}, policy: sshexec.HostKeyAcceptAny, user: "u", port: 22},
		{name: "gomha name verifies", script: "/usr/local/bin/mha secondary-check -s db2",
			appended: []string{"--user=mha"}, ok: true, hosts: []string{"db2"}, policy: sshexec.HostKeyVerify, user: "mha", port: 22},
		{name: "own script not read", script: "/usr/local/bin/my_check -s db2", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hosts, ok, err := secondaryHosts(tt.script, tt.appended)
			if err != nil || ok != tt.ok {
				t.Fatalf("secondaryHosts = %v, %v, %v; want ok %v", hosts, ok, err, tt.ok)
			}
			var names []string
			for _, h := range hosts {
				names = append(names, h.Target.Host)
				if h.Target.Options.HostKeyPolicy != tt.policy || h.Target.User != tt.user || h.Target.Port != tt.port {
					t.Errorf("%s: policy %v user %q port %d; want %v %q %d", h.Target.Host, h.Target.Options.HostKeyPolicy,
						h.Target.User, h.Target.Port, tt.policy, tt.user, tt.port)
				}
			}
			if diff := cmp.Diff(tt.hosts, names); diff != "" {
				t.Errorf("hosts (-want +got):\n%s", diff)
			}
		})
	}
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

func TestCheckSecondaryHosts(t *testing.T) {
	dial := func(_ context.Context, tg sshexec.Target) (interface{ Close() error }, error) {
		if tg.Host == "db3" {
			return nil, sshexec.ErrUnknownHost
		}
		return nopCloser{}, nil
	}
	master := config.Server{Params: config.Params{Hostname: "db1", Port: 3306, SSHUser: "root", PingType: "SELECT",
		SecondaryCheckScript: "masterha_secondary_check -s db2 -s db3", Password: "s3cret"}}
	var out bytes.Buffer
	fails := checkSecondaryHosts(context.Background(), master, check.Dialer(dial), &out)
	if len(fails) != 1 || !strings.Contains(fails[0], "root@db3:22") || !strings.Contains(fails[0], "never fail over") {
		t.Fatalf("fails = %q", fails)
	}
	if strings.Contains(out.String(), "s3cret") || strings.Contains(strings.Join(fails, ""), "s3cret") {
		t.Fatal("password in the output")
	}
	if !strings.Contains(out.String(), "root@db2:22 reachable") {
		t.Errorf("output:\n%s", out.String())
	}
}
