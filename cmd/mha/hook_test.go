package main

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"

	"github.com/gomha/gomha/cmd/internal/mhacli"
	"github.com/gomha/gomha/manager/hooks/consul"
	"github.com/gomha/gomha/manager/hooks/keepalived"
	"github.com/gomha/gomha/manager/hooks/vip"
	"github.com/gomha/gomha/manager/sshexec"
)

// runHook runs `mha hook ...` with fake runners and returns what they got.
func runHook(t *testing.T, args []string, vo vip.Outcome, co consul.Outcome, runErr error) (vr *vip.Request, cc *consul.Config, cr *consul.Request, out string, err error) {
	t.Helper()
	root := &cobra.Command{Use: "mha", SilenceErrors: true, SilenceUsage: true}
	root.AddCommand(newHookCmdWith(hookRunners{
		vip: func(_ context.Context, r vip.Request) (vip.Outcome, error) {
			vr = &r
			return vo, runErr
		},
		consul: func(_ context.Context, c consul.Config, r consul.Request) (consul.Outcome, error) {
			cc, cr = &c, &r
			return co, runErr
		},
	}))
	mhacli.Prepare(root, "")
	var buf bytes.Buffer
	root.SetOut(&buf)
	root.SetErr(&buf)
	root.SetArgs(args)
	err = root.ExecuteContext(t.Context())
	return vr, cc, cr, buf.String(), err
}

func exitCode(err error) int {
	var ee *mhacli.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.Code
	}
	return -1
}

func TestHookVIPArgs(t *testing.T) {
	const key = "-i /k/id -o UserKnownHostsFile=/k/kh"
	keyOpts, err := sshexec.ParseOptions(key)
	if err != nil {
		t.Fatal(err)
	}
	origOpts, err := sshexec.ParseOptions("-i /k/orig")
	if err != nil {
		t.Fatal(err)
	}
	vipFlags := []string{"hook", "vip", "--vip=198.18.7.100/24", "--interface=eth0", "--ssh_options=" + key}
	prefix := netip.MustParsePrefix("198.18.7.100/24")
	node := []string{"/var/tmp/.gomha/mha-node"} // remote_workdir's default
	db2 := &vip.Host{Name: "db2", IP: "198.18.7.12", SSH: sshexec.Target{Host: "198.18.7.12", Options: keyOpts}}
	tests := []struct {
		name    string
		args    []string
		want    *vip.Request
		wantErr string
	}{
		{
			// MHA 0.58's exact status line, with an unknown option added.
			name: "status",
			args: []string{"--command=status", "--ssh_user=root", "--orig_master_host=db1", "--orig_master_ip=198.18.7.11", "--orig_master_port=3306", "--future_option=x"},
			want: &vip.Request{Command: "status", VIP: prefix, Interface: "eth0", Arping: "arping", ArpingCount: 3, NodeTools: node,
				Orig: &vip.Host{Name: "db1", IP: "198.18.7.11", Port: 3306, SSH: sshexec.Target{Host: "198.18.7.11", User: "root", Options: keyOpts}}},
		},
		{
			// Failover stop with SSH extras: the orig side's own ssh_options
			// (quoted as MHA writes them for sh) and port win.
			name: "stop with ssh extras",
			args: []string{"--orig_master_host=db1", "--orig_master_ip=198.18.7.11", "--orig_master_port=3306", "--command=stop",
				"--orig_master_ssh_ip=10.0.0.1", "--orig_master_ssh_port=2222", "--orig_master_ssh_options='-i /k/orig'"},
			want: &vip.Request{Command: "stop", VIP: prefix, Interface: "eth0", Arping: "arping", ArpingCount: 3, NodeTools: node,
				Orig: &vip.Host{Name: "db1", IP: "198.18.7.11", Port: 3306, SSH: sshexec.Target{Host: "10.0.0.1", Port: 2222, Options: origOpts}}},
		},
		{
			// MHA 0.58's exact start line (double spaces are harmless).
			name: "start",
			args: []string{"--command=start", "--ssh_user=admin", "--orig_master_host=db1", "--orig_master_ip=198.18.7.11", "--orig_master_port=3306",
				"--new_master_host=db2", "--new_master_ip=198.18.7.12", "--new_master_port=3307", "--new_master_user='mha'", "--new_master_password='p\\$w'"},
			want: &vip.Request{Command: "start", VIP: prefix, Interface: "eth0", Arping: "arping", ArpingCount: 3, NodeTools: node,
				Orig: &vip.Host{Name: "db1", IP: "198.18.7.11", Port: 3306, SSH: sshexec.Target{Host: "198.18.7.11", User: "admin", Options: keyOpts}},
				New:  &vip.Host{Name: "db2", IP: "198.18.7.12", Port: 3307, SSH: sshexec.Target{Host: "198.18.7.12", User: "admin", Options: keyOpts}}},
		},
		{
			// Online switch: per-side SSH users, --orig_master_is_new_slave
			// (a bare flag) and passwords.
			name: "online change stop",
			args: []string{"--command=stop", "--orig_master_host=db1", "--orig_master_ip=198.18.7.11", "--orig_master_port=3306", "--orig_master_user=mha",
				"--new_master_host=db2", "--new_master_ip=198.18.7.12", "--new_master_port=3306", "--new_master_user=mha",
				"--orig_master_ssh_user=u1", "--new_master_ssh_user=u2", "--orig_master_is_new_slave", "--orig_master_password=x", "--new_master_password=y"},
			want: &vip.Request{Command: "stop", VIP: prefix, Interface: "eth0", Arping: "arping", ArpingCount: 3, NodeTools: node,
				Orig: &vip.Host{Name: "db1", IP: "198.18.7.11", Port: 3306, SSH: sshexec.Target{Host: "198.18.7.11", User: "u1", Options: keyOpts}},
				New:  &vip.Host{Name: "db2", IP: "198.18.7.12", Port: 3306, SSH: sshexec.Target{Host: "198.18.7.12", User: "u2", Options: keyOpts}}},
		},
		{
			name: "dash spelling and a stray argument",
			args: []string{"--command=stopssh", "--orig-master-host=db1", "--orig-master-ip=198.18.7.11", "stray"},
			want: &vip.Request{Command: "stopssh", VIP: prefix, Interface: "eth0", Arping: "arping", ArpingCount: 3, NodeTools: node,
				Orig: &vip.Host{Name: "db1", IP: "198.18.7.11", SSH: sshexec.Target{Host: "198.18.7.11", Options: keyOpts}}},
		},
		{
			// The gratuitous ARP: mha-node from the cluster's remote_workdir
			// first, then another arping.
			name: "remote workdir and arping program",
			args: []string{"--command=start", "--new_master_host=db2", "--new_master_ip=198.18.7.12", "--remote_workdir=/data/mha/", "--arping=/usr/sbin/arping", "--arping_count=5"},
			want: &vip.Request{Command: "start", VIP: prefix, Interface: "eth0", Arping: "/usr/sbin/arping", ArpingCount: 5, NodeTools: []string{"/data/mha/.gomha/mha-node"}, New: db2},
		},
		{
			name: "arping only",
			args: []string{"--command=start", "--new_master_host=db2", "--new_master_ip=198.18.7.12", "--node_arp=false"},
			want: &vip.Request{Command: "start", VIP: prefix, Interface: "eth0", Arping: "arping", ArpingCount: 3, New: db2},
		},
		{
			name: "mha-node only",
			args: []string{"--command=start", "--new_master_host=db2", "--new_master_ip=198.18.7.12", "--arping="},
			want: &vip.Request{Command: "start", VIP: prefix, Interface: "eth0", ArpingCount: 3, NodeTools: node, New: db2},
		},
		{name: "relative remote workdir", args: []string{"--command=start", "--new_master_host=db2", "--remote_workdir=tmp"}, wantErr: `--remote_workdir="tmp": want an absolute path`},
		{name: "no command", args: []string{"--orig_master_host=db1"}, wantErr: "--command=status|stop|stopssh|start is required"},
		{name: "bad port", args: []string{"--command=status", "--orig_master_host=db1", "--orig_master_port=x"}, wantErr: "orig-master-port"},
		{name: "start without new", args: []string{"--command=start", "--orig_master_host=db1"}, wantErr: "needs --new_master_host"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, _, out, err := runHook(t, append(append([]string{}, vipFlags...), tc.args...), vip.Outcome{Lines: []string{"done"}}, consul.Outcome{}, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || got != nil {
					t.Fatalf("error %v (request %+v), want one containing %q", err, got, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
			if out != "done\n" {
				t.Errorf("output %q", out)
			}
		})
	}
}

func TestHookVIPRequired(t *testing.T) {
	for _, args := range [][]string{
		{"hook", "vip", "--interface=eth0", "--command=status", "--orig_master_host=db1"},
		{"hook", "vip", "--vip=198.18.7.100", "--interface=eth0", "--command=status", "--orig_master_host=db1"},
		{"hook", "vip", "--vip=198.18.7.100/24", "--command=status", "--orig_master_host=db1"},
	} {
		got, _, _, _, err := runHook(t, args, vip.Outcome{}, consul.Outcome{}, nil)
		if exitCode(err) != 1 || got != nil {
			t.Errorf("%q: exit %d (%v), request %+v; want exit 1 before running", args, exitCode(err), err, got)
		}
	}
}

func TestHookExitCodes(t *testing.T) {
	base := []string{"hook", "vip", "--vip=198.18.7.100/24", "--interface=eth0", "--orig_master_host=db1"}
	for _, tc := range []struct {
		command string
		warned  bool
		err     error
		want    int
	}{
		{"stop", false, nil, 0},
		{"stop", true, nil, 10},
		{"start", true, nil, 10},
		{"status", true, nil, 0},
		{"stop", false, errors.New("boom"), 1},
	} {
		args := append(append([]string{}, base...), "--command="+tc.command, "--new_master_host=db2")
		_, _, _, _, err := runHook(t, args, vip.Outcome{Warned: tc.warned}, consul.Outcome{}, tc.err)
		if got := exitCode(err); got != tc.want {
			t.Errorf("%s warned=%v err=%v: exit %d, want %d", tc.command, tc.warned, tc.err, got, tc.want)
		}
	}
}

func TestHookConsulArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantCfg consul.Config
		want    consul.Request
	}{
		{
			name:    "defaults, failover start",
			args:    []string{"--command=start", "--ssh_user=root", "--orig_master_host=db1", "--orig_master_ip=198.18.7.11", "--orig_master_port=3306", "--new_master_host=db2", "--new_master_ip=198.18.7.12", "--new_master_port=3306", "--new_master_user=mha", "--new_master_password=x"},
			wantCfg: consul.Config{Addr: "http://127.0.0.1:8500", Node: "master", Service: "mysql-master", Timeout: 10e9},
			want:    consul.Request{Command: "start", Orig: &consul.Host{Name: "db1", IP: "198.18.7.11", Port: 3306}, New: &consul.Host{Name: "db2", IP: "198.18.7.12", Port: 3306}},
		},
		{
			name:    "own options in both spellings, stop",
			args:    []string{"--consul-addr=http://10.0.0.5:8500", "--node=db-master", "--service=mysql", "--orig_master_host=db1", "--orig_master_ip=198.18.7.11", "--orig_master_port=3306", "--command=stopssh", "--ssh_user=root", "--orig_master_ssh_port=22022"},
			wantCfg: consul.Config{Addr: "http://10.0.0.5:8500", Node: "db-master", Service: "mysql", Timeout: 10e9},
			want:    consul.Request{Command: "stopssh", Orig: &consul.Host{Name: "db1", IP: "198.18.7.11", Port: 3306}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, cfg, got, _, err := runHook(t, append([]string{"hook", "consul"}, tc.args...), vip.Outcome{}, consul.Outcome{}, nil)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if diff := cmp.Diff(tc.wantCfg, *cfg); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, *got); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWithOwnNodeTool(t *testing.T) {
	at := func(p string) func() (string, error) { return func() (string, error) { return p, nil } }
	missing := func() (string, error) { return "", errors.New("node tools: /opt/gomha/bin/mha-node not found") }
	for _, tc := range []struct {
		name  string
		tools []string
		own   func() (string, error)
		want  []string
	}{
		{"appended after the remote workdir's", []string{"/var/tmp/.gomha/mha-node"}, at("/opt/gomha/bin/mha-node"), []string{"/var/tmp/.gomha/mha-node", "/opt/gomha/bin/mha-node"}},
		{"no local mha-node", []string{"/var/tmp/.gomha/mha-node"}, missing, []string{"/var/tmp/.gomha/mha-node"}},
		{"relative GOMHA_NODE_BINARY is no remote path", []string{"/var/tmp/.gomha/mha-node"}, at("bin/mha-node"), []string{"/var/tmp/.gomha/mha-node"}},
		{"--node_arp=false stays off", nil, at("/opt/gomha/bin/mha-node"), nil},
	} {
		orig := slices.Clone(tc.tools)
		got := withOwnNodeTool(vip.Request{NodeTools: tc.tools}, tc.own)
		if !slices.Equal(got.NodeTools, tc.want) {
			t.Errorf("%s: NodeTools %q, want %q", tc.name, got.NodeTools, tc.want)
		}
		if !slices.Equal(tc.tools, orig) {
			t.Errorf("%s: the request's slice was changed", tc.name)
		}
	}
}

func TestHookKeepalivedArgs(t *testing.T) {
	run := func(args ...string) (*keepalived.Request, string, string, error) {
		t.Helper()
		var got *keepalived.Request
		var dev string
		root := &cobra.Command{Use: "mha", SilenceErrors: true, SilenceUsage: true}
		root.AddCommand(newHookCmdWith(hookRunners{keepalived: func(_ context.Context, r keepalived.Request, arpDev string) (vip.Outcome, error) {
			got, dev = &r, arpDev
			return vip.Outcome{Lines: []string{"done"}}, nil
		}}))
		mhacli.Prepare(root, "")
		var buf bytes.Buffer
		root.SetOut(&buf)
		root.SetErr(&buf)
		root.SetArgs(append([]string{"hook", "keepalived"}, args...))
		err := root.ExecuteContext(t.Context())
		return got, dev, buf.String(), err
	}
	// MHA's failover start line, with gomha's options.
	r, dev, out, err := run("--vip=198.18.7.100", "--remote_workdir=/data/mha", "--host_workdir=db2=/srv/mha", "--arp_interface=br0", "--command=start", "--ssh_user=root",
		"--orig_master_host=db1", "--orig_master_ip=198.18.7.11", "--orig_master_port=3306",
		"--new_master_host=db2", "--new_master_ip=198.18.7.12", "--new_master_port=3306", "--new_master_user=gomha", "--new_master_password=secret")
	if err != nil {
		t.Fatalf("start: %v (%s)", err, out)
	}
	want := keepalived.Request{Command: "start", VIP: netip.MustParsePrefix("198.18.7.100/32"), Interface: "eth0", Workdir: "/data/mha",
		Workdirs: map[string]string{"db2": "/srv/mha"}, Wait: keepalived.DefaultWait, Reason: "gomha promoted it in place of db1 (198.18.7.11)",
		Orig: &vip.Host{Name: "db1", IP: "198.18.7.11", Port: 3306, SSH: sshexec.Target{Host: "198.18.7.11", User: "root"}},
		New:  &vip.Host{Name: "db2", IP: "198.18.7.12", Port: 3306, SSH: sshexec.Target{Host: "198.18.7.12", User: "root"}}}
	if diff := cmp.Diff(want, *r, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	if dev != "br0" || !strings.Contains(out, "done") {
		t.Errorf("arp device %q, output %q", dev, out)
	}
	if strings.Contains(out, "secret") {
		t.Errorf("the password reached the output: %q", out)
	}
	// A failover's stop on a dead master names no new master.
	r, _, _, err = run("--command=stop", "--ssh_user=root", "--orig_master_host=db1", "--orig_master_ip=198.18.7.11", "--orig_master_port=3306")
	if err != nil || r.Reason != "gomha failover: old master" || r.VIP.IsValid() {
		t.Errorf("stop: %+v, %v", r, err)
	}
	for _, bad := range [][]string{
		{"--command=start", "--new_master_host=db2", "--new_master_port=3306", "--vip=not-an-ip"},
		{"--command=start", "--new_master_host=db2", "--new_master_port=3306", "--remote_workdir=tmp"},
		{"--command=start"},
		{"--command=start", "--new_master_host=db2", "--new_master_port=3306", "--host_workdir=db2"},
	} {
		if _, _, out, err := run(bad...); exitCode(err) != 1 {
			t.Errorf("%q: exit %d (%s), want 1", bad, exitCode(err), out)
		}
	}
}
