package sshexec

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want Options
	}{
		{name: "empty", raw: "", want: Options{}},
		{name: "blank", raw: "  \t ", want: Options{}},
		{
			name: "brief example",
			raw:  "-i /root/.ssh/id_mha -o UserKnownHostsFile=/x/known_hosts -o StrictHostKeyChecking=no -o ConnectTimeout=3 -o Port=2222 -F /etc/mha/ssh_config",
			want: Options{
				Args: []string{"-o", "IdentityFile=/root/.ssh/id_mha", "-o", "UserKnownHostsFile=/x/known_hosts",
					"-o", "StrictHostKeyChecking=no", "-o", "ConnectTimeout=3", "-o", "Port=2222", "-F", "/etc/mha/ssh_config"},
				Unknown:          []string{"-F", "/etc/mha/ssh_config"},
				IdentityFiles:    []string{"/root/.ssh/id_mha"},
				KnownHostsFiles:  []string{"/x/known_hosts"},
				HostKeyPolicy:    HostKeyAcceptAny,
				HostKeyPolicySet: true,
				ConnectTimeout:   3 * time.Second,
				Port:             2222,
			},
		},
		{
			name: "attached forms",
			raw:  "-i/k1 -oIdentityFile=/k2 -oStrictHostKeyChecking=accept-new -p2200 -lmha",
			want: Options{
				Args: []string{"-o", "IdentityFile=/k1", "-o", "IdentityFile=/k2", "-o", "StrictHostKeyChecking=accept-new",
					"-o", "Port=2200", "-o", "User=mha"},
				IdentityFiles:    []string{"/k1", "/k2"},
				HostKeyPolicy:    HostKeyAcceptNew,
				HostKeyPolicySet: true,
				Port:             2200,
				User:             "mha",
			},
		},
		{
			name: "key value with blank, quoted",
			raw:  `-o "ConnectTimeout 7" -o 'ServerAliveInterval = 1m30s'`,
			want: Options{
				Args:                []string{"-o", "ConnectTimeout=7", "-o", "ServerAliveInterval=1m30s"},
				ConnectTimeout:      7 * time.Second,
				ServerAliveInterval: 90 * time.Second,
			},
		},
		{
			name: "key value as two words (MHA deleted the quotes)",
			raw:  "-o ConnectTimeout 7 -o StrictHostKeyChecking yes",
			want: Options{
				Args:             []string{"-o", "ConnectTimeout=7", "-o", "StrictHostKeyChecking=yes"},
				ConnectTimeout:   7 * time.Second,
				HostKeyPolicy:    HostKeyVerify,
				HostKeyPolicySet: true,
			},
		},
		{
			name: "first value wins, identity files accumulate",
			raw:  "-o ConnectTimeout=3 -o connecttimeout=9 -o StrictHostKeyChecking=accept-new -o StrictHostKeyChecking=no -i a -i b",
			want: Options{
				Args: []string{"-o", "ConnectTimeout=3", "-o", "connecttimeout=9", "-o", "StrictHostKeyChecking=accept-new",
					"-o", "StrictHostKeyChecking=no", "-o", "IdentityFile=a", "-o", "IdentityFile=b"},
				ConnectTimeout:   3 * time.Second,
				HostKeyPolicy:    HostKeyAcceptNew,
				HostKeyPolicySet: true,
				IdentityFiles:    []string{"a", "b"},
			},
		},
		{
			name: "unknown options and flags are kept",
			raw:  "-q -o ProxyJump=bastion -o Ciphers=aes256-ctr -vT -c aes128-ctr -Zfoo",
			want: Options{
				Args: []string{"-q", "-o", "ProxyJump=bastion", "-o", "Ciphers=aes256-ctr", "-v", "-T",
					"-c", "aes128-ctr", "-Zfoo"},
				Unknown: []string{"-q", "-o", "ProxyJump=bastion", "-o", "Ciphers=aes256-ctr", "-v", "-T",
					"-c", "aes128-ctr", "-Zfoo"},
			},
		},
		{
			name: "known hosts lists and none",
			raw:  `-o "UserKnownHostsFile=/a /b" -o GlobalKnownHostsFile=none -o IdentitiesOnly=yes`,
			want: Options{
				Args:                  []string{"-o", "UserKnownHostsFile=/a /b", "-o", "GlobalKnownHostsFile=none", "-o", "IdentitiesOnly=yes"},
				KnownHostsFiles:       []string{"/a", "/b"},
				GlobalKnownHostsFiles: []string{},
				IdentitiesOnly:        true,
			},
		},
		{
			name: "MHA alive set",
			raw:  "-o ServerAliveInterval=60 -o ServerAliveCountMax=20 -o StrictHostKeyChecking=no -o ConnectionAttempts=5 -o PasswordAuthentication=no -o BatchMode=yes",
			want: Options{
				Args: []string{"-o", "ServerAliveInterval=60", "-o", "ServerAliveCountMax=20", "-o", "StrictHostKeyChecking=no",
					"-o", "ConnectionAttempts=5", "-o", "PasswordAuthentication=no", "-o", "BatchMode=yes"},
				ServerAliveInterval: time.Minute,
				ServerAliveCountMax: 20,
				HostKeyPolicy:       HostKeyAcceptAny,
				HostKeyPolicySet:    true,
				ConnectionAttempts:  5,
			},
		},
		{
			name: "keep-alive off",
			raw:  "-o ServerAliveInterval=0",
			want: Options{Args: []string{"-o", "ServerAliveInterval=0"}, ServerAliveInterval: -1},
		},
		{
			name: "strict host key checking spellings",
			raw:  "-o StrictHostKeyChecking=OFF",
			want: Options{Args: []string{"-o", "StrictHostKeyChecking=OFF"}, HostKeyPolicy: HostKeyAcceptAny, HostKeyPolicySet: true},
		},
		{
			name: "no StrictHostKeyChecking: verify, not set",
			raw:  "-o ConnectTimeout=3",
			want: Options{Args: []string{"-o", "ConnectTimeout=3"}, ConnectTimeout: 3 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOptions(tt.raw)
			if err != nil {
				t.Fatalf("ParseOptions(%q): %v", tt.raw, err)
			}
			tt.want.Raw = tt.raw
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseOptions(%q) mismatch (-want +got):\n%s", tt.raw, diff)
			}
		})
	}
}

func TestParseOptionsErrors(t *testing.T) {
	tests := []struct {
		raw     string
		mention string // the error must name this
	}{
		{"-o ConnectTimeout=abc", "ConnectTimeout=abc"},
		{"-o ConnectTimeout=-1", "ConnectTimeout"},
		{"-o ConnectTimeout=5x", "ConnectTimeout"},
		{"-o StrictHostKeyChecking=maybe", "StrictHostKeyChecking=maybe"},
		{"-o Port=0", "Port=0"},
		{"-o Port=70000", "Port=70000"},
		{"-p abc", "Port=abc"},
		{"-o BatchMode=perhaps", "BatchMode"},
		{"-o ServerAliveCountMax=x", "ServerAliveCountMax"},
		{"-o ConnectionAttempts=0", "ConnectionAttempts"},
		{"-o", "-o"},
		{"-i", "-i"},
		{"-o ConnectTimeout", "ConnectTimeout"},
		{"-o ConnectTimeout -v", "ConnectTimeout"},
		{"root@host", "root@host"},
		{"-o IdentityFile=/x --", "--"},
		{"-o 'unterminated", "quote"},
		{`-o "unterminated`, "quote"},
		{"-o =3", "empty option name"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			_, err := ParseOptions(tt.raw)
			if err == nil {
				t.Fatalf("ParseOptions(%q): no error", tt.raw)
			}
			if !errors.Is(err, ErrOptions) {
				t.Errorf("error %v does not wrap ErrOptions", err)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", err, tt.mention)
			}
		})
	}
}

func TestParseSSHTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"5", 5 * time.Second, true},
		{"5s", 5 * time.Second, true},
		{"1m30s", 90 * time.Second, true},
		{"2H", 2 * time.Hour, true},
		{"1w", 7 * 24 * time.Hour, true},
		{"", 0, false},
		{"s", 0, false},
		{"1x", 0, false},
		{"-5", 0, false},
		{"99999999999", 0, false},
		{"9999w", 0, false},
	}
	for _, tt := range tests {
		got, err := parseSSHTime(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSSHTime(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// Args must survive a trip through Join and a shell, so that HopArgv can
// hand them to a remote ssh.
func TestOptionsArgsRoundTrip(t *testing.T) {
	o, err := ParseOptions(`-o "ProxyCommand=ssh -W %h:%p bastion" -i '/keys/my key'`)
	if err != nil {
		t.Fatal(err)
	}
	got := roundTrip(t, "sh", o.Args)
	if diff := cmp.Diff(o.Args, got); diff != "" {
		t.Errorf("args changed through sh (-want +got):\n%s", diff)
	}
	if o.IdentityFiles[0] != "/keys/my key" {
		t.Errorf("IdentityFiles = %q", o.IdentityFiles)
	}
}

func FuzzParseOptions(f *testing.F) {
	f.Add("-i /root/.ssh/id_mha -o UserKnownHostsFile=/x -o StrictHostKeyChecking=no -o ConnectTimeout=3 -o Port=2222 -F /f")
	f.Add(`-o "ConnectTimeout 3" -oPort=22 -qv -l root -o ServerAliveInterval=1m`)
	f.Add("-o ConnectTimeout 3 -o 'a b' \\x \"q\\\"\"")
	f.Fuzz(func(t *testing.T, raw string) {
		o, err := ParseOptions(raw)
		if err != nil {
			if !errors.Is(err, ErrOptions) {
				t.Fatalf("error %v does not wrap ErrOptions", err)
			}
			return
		}
		if o.Raw != raw {
			t.Fatalf("Raw = %q, want %q", o.Raw, raw)
		}
		if o.Port < 0 || o.Port > 65535 || o.ConnectTimeout < 0 {
			t.Fatalf("out of range: %+v", o)
		}
		// The normalised Args must parse to the same settings.
		again, err := ParseOptions(Join(o.Args))
		if err != nil {
			t.Fatalf("re-parsing Args %q: %v", o.Args, err)
		}
		again.Raw = o.Raw
		if diff := cmp.Diff(o, again); diff != "" {
			t.Fatalf("re-parsing Args changed the options (-first +second):\n%s", diff)
		}
	})
}
