package mhacli

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

var testAliases = []Alias{
	{MHAName: "masterha_check_repl", Subcommand: "check-repl"},
	{MHAName: "masterha_manager", Subcommand: "manager"},
}

func TestRewrite(t *testing.T) {
	tests := []struct {
		argv0    string
		args     []string
		want     []string
		wantName string
	}{
		{"/usr/bin/masterha_check_repl", []string{"--conf=a.cnf"}, []string{"check-repl", "--conf=a.cnf"}, "masterha_check_repl"},
		{"masterha_manager", nil, []string{"manager"}, "masterha_manager"},
		{"/usr/local/bin/mha", []string{"check-repl", "--conf", "a"}, []string{"check-repl", "--conf", "a"}, ""},
		{"masterha_unknown", []string{"x"}, []string{"x"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.argv0, func(t *testing.T) {
			got, name := Rewrite(tt.argv0, tt.args, testAliases)
			if diff := cmp.Diff(tt.want, got); diff != "" || name != tt.wantName {
				t.Errorf("Rewrite(%q, %q) = %q, %q; want %q, %q (%s)", tt.argv0, tt.args, got, name, tt.want, tt.wantName, diff)
			}
		})
	}
}

func testFlags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.SetNormalizeFunc(NormalizeFlagName)
	fs.String("conf", "", "")
	fs.String("global_conf", "", "")
	fs.Int("last_failover_minute", 480, "")
	fs.Bool("ignore_last_failover", false, "")
	fs.String("secondary_host", "", "")
	fs.String("new_master_host", "", "")
	fs.String("new_master_port", "", "")
	return fs
}

func TestExpandPrefixes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"exact kept", []string{"--conf=a"}, []string{"--conf=a"}},
		{"underscore exact kept", []string{"--global_conf=g"}, []string{"--global_conf=g"}},
		{"unique prefix", []string{"--last=5"}, []string{"--last-failover-minute=5"}},
		{"unique prefix underscore", []string{"--ignore_last"}, []string{"--ignore-last-failover"}},
		{"single letter prefix", []string{"--s", "db2"}, []string{"--secondary-host", "db2"}},
		{"ambiguous left alone", []string{"--new_master=x"}, []string{"--new_master=x"}},
		{"unknown left alone", []string{"--bogus=1"}, []string{"--bogus=1"}},
		{"after double dash", []string{"--", "--last=1"}, []string{"--", "--last=1"}},
		{"positional", []string{"add", "--conf", "x"}, []string{"add", "--conf", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ExpandPrefixes(testFlags(), tt.args)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ExpandPrefixes(%q) mismatch (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

// TestPrepareAcceptsBothSpellings parses the same flag in MHA's and gomha's
// spelling, and unknown flags only under an MHA name.
func TestPrepareAcceptsBothSpellings(t *testing.T) {
	for _, tt := range []struct {
		name    string
		mhaName string
		args    []string
		want    string
		wantErr bool
	}{
		{"underscore", "", []string{"sub", "--global_conf=/g"}, "/g", false},
		{"dash", "", []string{"sub", "--global-conf", "/g"}, "/g", false},
		{"unknown strict under mha", "", []string{"sub", "--bogus=1"}, "", true},
		{"unknown ignored under masterha name", "masterha_x", []string{"sub", "--bogus=1", "--global_conf=/g"}, "/g", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			root := &cobra.Command{Use: "mha", SilenceErrors: true, SilenceUsage: true}
			sub := &cobra.Command{Use: "sub", RunE: func(*cobra.Command, []string) error { return nil }}
			sub.Flags().StringVar(&got, "global_conf", "", "")
			root.AddCommand(sub)
			Prepare(root, tt.mhaName)
			root.SetArgs(tt.args)
			err := root.Execute()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Execute(%q) error = %v, wantErr %v", tt.args, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("global_conf = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExitErrorUnwraps(t *testing.T) {
	inner := errors.New("boom")
	var err error = &ExitError{Code: 10, Err: inner}
	if !errors.Is(err, inner) {
		t.Error("ExitError does not unwrap to its cause")
	}
}

func TestDoubleDash(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"single dash with value", []string{"-conf=/etc/app1.cnf"}, []string{"--conf=/etc/app1.cnf"}},
		{"single dash underscore", []string{"-global_conf=g", "-ignore_last_failover"}, []string{"--global_conf=g", "--ignore_last_failover"}},
		{"single dash prefix", []string{"-last=5"}, []string{"--last=5"}},
		{"single dash separate value", []string{"-conf", "x"}, []string{"--conf", "x"}},
		{"shorthand kept", []string{"-s", "db2"}, []string{"-s", "db2"}},
		{"shorthand attached value kept", []string{"-sdb2"}, []string{"-sdb2"}},
		{"ambiguous kept", []string{"-new_master=x"}, []string{"-new_master=x"}},
		{"double dash kept", []string{"--conf=a"}, []string{"--conf=a"}},
		{"after terminator", []string{"--", "-conf=a"}, []string{"--", "-conf=a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DoubleDash(testFlags(), tt.args)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DoubleDash(%q) mismatch (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}
