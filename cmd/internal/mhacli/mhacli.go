// Package mhacli holds what the gomha binaries share to behave like MHA's
// commands: dispatch on the name they were invoked under (a masterha_*
// symlink), MHA's underscore flag spelling, and Getopt::Long habits.
package mhacli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Version is gomha's own version.
const Version = "0.1.0"

// MHAVersion is the MHA release whose command lines, files and exit codes
// gomha reproduces. Under an MHA command name, --version prints it in MHA's
// format ("masterha_check_repl version 0.58.") because tools parse that line.
const MHAVersion = "0.58"

// Alias maps an MHA command name to the gomha subcommand path it runs.
type Alias struct {
	// MHAName is the name of MHA's script, e.g. "masterha_check_repl".
	MHAName string
	// Subcommand is the gomha subcommand, e.g. "check-repl".
	Subcommand string
}

// Rewrite turns an invocation into the argument list for the root command.
// When argv0's base name is one of aliases' MHA names, the matching
// subcommand is put first, so "masterha_check_repl --conf=x" runs
// "check-repl --conf=x". The second result is the MHA name used, or "".
func Rewrite(argv0 string, args []string, aliases []Alias) ([]string, string) {
	name := filepath.Base(argv0)
	for _, a := range aliases {
		if a.MHAName == name {
			return append([]string{a.Subcommand}, args...), name
		}
	}
	return args, ""
}

// NormalizeFlagName makes MHA's underscore spelling (--global_conf) and the
// dash spelling (--global-conf) the same flag.
func NormalizeFlagName(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	return pflag.NormalizedName(strings.ReplaceAll(name, "_", "-"))
}

// ExpandPrefixes rewrites long options given as a unique prefix of a known
// flag (--conf for --conf, --last for --last-failover-minute) to the full
// name, as Perl's Getopt::Long accepts. Exact names, ambiguous prefixes and
// arguments after "--" are left alone, so pflag reports them itself.
func ExpandPrefixes(fs *pflag.FlagSet, args []string) []string {
	var names []string
	fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	sort.Strings(names)
	out := make([]string, 0, len(args))
	for i, arg := range args {
		if arg == "--" {
			out = append(out, args[i:]...)
			break
		}
		if !strings.HasPrefix(arg, "--") || len(arg) == 2 {
			out = append(out, arg)
			continue
		}
		name, value, hasValue := strings.Cut(arg[2:], "=")
		norm := strings.ReplaceAll(name, "_", "-")
		if fs.Lookup(norm) != nil {
			out = append(out, arg)
			continue
		}
		var match []string
		for _, n := range names {
			if strings.HasPrefix(n, norm) {
				match = append(match, n)
			}
		}
		if len(match) != 1 {
			out = append(out, arg)
			continue
		}
		if hasValue {
			out = append(out, "--"+match[0]+"="+value)
		} else {
			out = append(out, "--"+match[0])
		}
	}
	return out
}

// DoubleDash rewrites long options given with a single dash
// (-conf=app1.cnf, -ignore_last_failover), as Perl's Getopt::Long accepts
// them, to the double-dash form: a word "-name" or "-name=value" whose name
// (longer than one letter) is a flag of fs or a unique prefix of one. Other
// words, shorthand flags with an attached value (-shost2, where "shost2"
// names no flag) and everything after "--" are left alone.
func DoubleDash(fs *pflag.FlagSet, args []string) []string {
	var names []string
	fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	out := make([]string, 0, len(args))
	for i, arg := range args {
		if arg == "--" {
			out = append(out, args[i:]...)
			break
		}
		if len(arg) < 3 || arg[0] != '-' || arg[1] == '-' {
			out = append(out, arg)
			continue
		}
		name, _, _ := strings.Cut(arg[1:], "=")
		norm := strings.ReplaceAll(name, "_", "-")
		n := 0
		for _, f := range names {
			if f == norm {
				n = 1
				break
			}
			if strings.HasPrefix(f, norm) {
				n++
			}
		}
		if len(name) > 1 && n == 1 {
			arg = "-" + arg
		}
		out = append(out, arg)
	}
	return out
}

// ExitError carries a process exit code out of a command. Commands return it
// for MHA's documented non-zero codes (e.g. 10 for a partial failover).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Prepare readies a command tree for MHA-compatible parsing: underscore
// flags everywhere, and, when mhaName is set (invoked as an MHA script),
// unknown options are ignored as MHA's pass-through parsing does.
func Prepare(root *cobra.Command, mhaName string) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().SetNormalizeFunc(NormalizeFlagName)
		c.PersistentFlags().SetNormalizeFunc(NormalizeFlagName)
		if mhaName != "" {
			c.FParseErrWhitelist.UnknownFlags = true
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// Execute runs root for this process's argv with MHA's dispatch rules and
// returns the exit code. Errors are printed once, to stderr.
func Execute(root *cobra.Command, aliases []Alias) int {
	args, mhaName := Rewrite(os.Args[0], os.Args[1:], aliases)
	Prepare(root, mhaName)
	if mhaName != "" && len(args) >= 2 && (args[1] == "--version" || args[1] == "-v") {
		fmt.Printf("%s version %s.\n", mhaName, MHAVersion)
		return 0
	}
	if sub, _, err := root.Find(args); err == nil && sub != nil {
		args = expandFor(sub, args, mhaName != "")
	}
	root.SetArgs(args)
	root.SilenceUsage = true
	root.SilenceErrors = true
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", root.Name(), ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", root.Name(), err)
	return 1
}

// expandFor expands flag prefixes for sub, and, under an MHA name
// (singleDash), single-dash long options first.
func expandFor(sub *cobra.Command, args []string, singleDash bool) []string {
	fs := pflag.NewFlagSet("all", pflag.ContinueOnError)
	fs.SetNormalizeFunc(NormalizeFlagName)
	fs.AddFlagSet(sub.Flags())
	fs.AddFlagSet(sub.InheritedFlags())
	if singleDash {
		args = DoubleDash(fs, args)
	}
	return ExpandPrefixes(fs, args)
}
