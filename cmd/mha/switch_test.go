package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/cmd/internal/mhacli"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/switchover"
)

// The switch's outcome maps to MHA's exit codes with one last line.
func TestSwitchOutcome(t *testing.T) {
	done := switchover.Result{OrigMaster: "db1(198.18.0.11:3306)", NewMaster: "db2(198.18.0.12:3306)", WriteBlock: 312 * time.Millisecond}
	rolled := done
	rolled.RolledBack = true
	tests := []struct {
		name string
		res  switchover.Result
		err  error
		code int // -1: nil error
		line string
	}{
		{"check only", switchover.Result{CheckOnly: true}, nil, -1, "--check_only is set. Exit."},
		{"switched", done, nil, -1, "Switching master to db2(198.18.0.12:3306) completed successfully. Writes were blocked for 312ms."},
		{"partial", done, fmt.Errorf("%w: db3: boom", switchover.ErrPartial), 10, "switching slaves partially failed"},
		{"rolled back", rolled, fmt.Errorf("%w: bound", switchover.ErrRolledBack), 1, "failed and was rolled back; db1(198.18.0.11:3306) is the master"},
		{"refused", switchover.Result{}, fmt.Errorf("%w: no", switchover.ErrRefused), 1, ""},
		{"after switch", done, fmt.Errorf("%w: reset", switchover.ErrAfterSwitch), 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := switchOutcome(&out, tt.res, tt.err)
			var ee *mhacli.ExitError
			switch {
			case tt.code < 0 && err != nil:
				t.Errorf("err %v; want nil", err)
			case tt.code >= 0 && (!errors.As(err, &ee) || ee.Code != tt.code || !errors.Is(err, tt.err)):
				t.Errorf("err %v; want exit %d wrapping %v", err, tt.code, tt.err)
			}
			if !strings.Contains(out.String(), tt.line) || (tt.line == "" && out.Len() > 0) {
				t.Errorf("output %q; want %q", out.String(), tt.line)
			}
		})
	}
}

func TestFenceLeaseSet(t *testing.T) {
	cfg := &config.Config{Servers: []config.Server{{Block: "server1"}, {Block: "server2"}}}
	if fenceLeaseSet(cfg) {
		t.Error("fence_lease reported set when no server has it")
	}
	cfg.Servers[1].FenceLease = 10 * time.Second
	if !fenceLeaseSet(cfg) {
		t.Error("fence_lease on one server not seen")
	}
}

// MHA's answers: with a "no" default only y/yes is yes; with a "yes"
// default anything but n/no is.
func TestAnswer(t *testing.T) {
	for _, tt := range []struct {
		line       string
		defaultYes bool
		want       bool
	}{
		{"yes\n", false, true}, {"Y\n", false, true}, {"\n", false, false}, {"sure\n", false, false},
		{"\n", true, true}, {"no\n", true, false}, {"N\n", true, false}, {"whatever\n", true, true},
	} {
		if got := answer(tt.line, tt.defaultYes); got != tt.want {
			t.Errorf("answer(%q, %t) = %t", tt.line, tt.defaultYes, got)
		}
	}
	var out bytes.Buffer
	ask := asker(strings.NewReader("yes\n"), &out)
	if ok, err := ask("Starting master switch?", false); !ok || err != nil || out.String() != "Starting master switch? (yes/NO): " {
		t.Errorf("asker: %t %v %q", ok, err, out.String())
	}
	if _, err := ask("again?", true); err == nil {
		t.Error("no error at the end of standard input")
	}
}

// --master_state=alive refuses options it does not know, as MHA's strict
// parsing does, also dead-only ones; values of known options are not
// counted.
func TestUnknownOptions(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"--master_state=alive", "--conf=/etc/app1.cnf", "--new_master_host", "db2", "--orig_master_is_new_slave", "--max_write_block=3s"}, nil},
		{[]string{"--master_state=alive", "--bogus=1"}, []string{"--bogus=1"}},
		{[]string{"--master_state=alive", "--dead_master_host=db1"}, []string{"--dead_master_host=db1"}},
		{[]string{"--master_state=alive", "stray", "--", "--x"}, []string{"stray", "--x"}},
	} {
		fs := newSwitchCmd().Flags()
		fs.SetNormalizeFunc(mhacli.NormalizeFlagName) // as the root command does
		fs.ParseErrorsAllowlist.UnknownFlags = true
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		got := unknownOptions(fs, tt.args, aliveFlags)
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("unknownOptions(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}
