// Command mha-node holds gomha's node tools, run on the database hosts over
// SSH by the manager: saving a dead master's binlog tail, generating and
// applying relay-log differences, purging relay logs. Under MHA's script
// names (save_binary_logs, apply_diff_relay_logs, purge_relay_logs) it
// behaves as those scripts.
//
// Unlike the manager commands, the node tools parse strictly, as MHA's node
// scripts do: an unknown option prints the usage and exits 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gomha/gomha/cmd/internal/mhacli"
)

// aliases maps MHA node script names to mha-node subcommands. Only commands
// gomha implements are listed.
var aliases = []mhacli.Alias{
	{MHAName: "save_binary_logs", Subcommand: "save-binary-logs"},
	{MHAName: "purge_relay_logs", Subcommand: "purge-relay-logs"},
	{MHAName: "apply_diff_relay_logs", Subcommand: "apply-diff-relay-logs"},
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:     "mha-node",
		Short:   "gomha node tools, run on database hosts by the manager",
		Version: fmt.Sprintf("%s (MHA %s compatible)", mhacli.Version, mhacli.MHAVersion),
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		fmt.Fprint(c.ErrOrStderr(), c.UsageString())
		return err
	})
	root.AddCommand(newSaveCmd(), newPurgeCmd(), newApplyDiffCmd(), newWatchdogCmd(), newARPCmd())
	root.AddCommand(newKeepalivedCheckCmd(liveChecks()))
	root.AddCommand(newLVSCheckCmd(liveChecks()))
	return root
}

// strict undoes mhacli.Prepare's tolerance of unknown options, which suits
// the manager commands but not MHA's node scripts (they die on them).
func strict(c *cobra.Command) {
	c.FParseErrWhitelist.UnknownFlags = false
	for _, sub := range c.Commands() {
		strict(sub)
	}
}

// run is mhacli.Execute with strict option parsing.
func run(root *cobra.Command, argv0 string, argv []string, stdout, stderr io.Writer) int {
	args, mhaName := mhacli.Rewrite(argv0, argv, aliases)
	mhacli.Prepare(root, mhaName)
	strict(root)
	if mhaName != "" && len(args) >= 2 && (args[1] == "--version" || args[1] == "-v") {
		fmt.Fprintf(stdout, "%s version %s.\n", mhaName, mhacli.MHAVersion)
		return 0
	}
	if sub, _, err := root.Find(args); err == nil && sub != nil {
		fs := pflag.NewFlagSet("all", pflag.ContinueOnError)
		fs.SetNormalizeFunc(mhacli.NormalizeFlagName)
		fs.AddFlagSet(sub.Flags())
		fs.AddFlagSet(sub.InheritedFlags())
		args = mhacli.ExpandPrefixes(fs, args)
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SilenceUsage = true
	root.SilenceErrors = true
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *mhacli.ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", root.Name(), ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintf(stderr, "%s: %v\n", root.Name(), err)
	return 1
}

// printJSON writes v as one line of JSON.
// conclude ends a node command: with --json one line of JSON describing
// res, otherwise msg on stdout when the outcome is a success (ok) and on
// stderr when not; then code becomes the process's exit status.
func conclude(out, errOut io.Writer, jsonOut bool, res any, code int, msg string, ok bool) error {
	if jsonOut {
		printJSON(out, res)
	} else if msg != "" {
		w := errOut
		if ok {
			w = out
		}
		fmt.Fprintln(w, msg)
	}
	if code == 0 {
		return nil
	}
	return &mhacli.ExitError{Code: code}
}

func printJSON(w io.Writer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintf(w, "{\"error\":%q}\n", err.Error())
		return
	}
	fmt.Fprintf(w, "%s\n", b)
}

func main() {
	os.Exit(run(newRoot(), os.Args[0], os.Args[1:], os.Stdout, os.Stderr))
}
