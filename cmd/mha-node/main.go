// Command mha-node holds gomha's node tools, run on the database hosts over
// SSH by the manager: saving a dead master's binlog tail, generating and
// applying relay-log differences, purging relay logs. Under MHA's script
// names (save_binary_logs, apply_diff_relay_logs, purge_relay_logs) it
// behaves as those scripts.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/cmd/internal/mhacli"
)

// aliases maps MHA node script names to mha-node subcommands. Only commands
// gomha implements are listed.
var aliases = []mhacli.Alias{}

func newRoot() *cobra.Command {
	return &cobra.Command{
		Use:     "mha-node",
		Short:   "gomha node tools, run on database hosts by the manager",
		Version: fmt.Sprintf("%s (MHA %s compatible)", mhacli.Version, mhacli.MHAVersion),
	}
}

func main() {
	os.Exit(mhacli.Execute(newRoot(), aliases))
}
