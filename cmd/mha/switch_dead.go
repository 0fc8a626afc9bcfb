package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/cmd/internal/mhacli"
)

// deadSwitch runs `mha switch --master_state=dead` (a manual failover). It
// is a placeholder until the failover is wired here.
func deadSwitch(_ context.Context, _ *cobra.Command, _ switchOptions) error {
	return &mhacli.ExitError{Code: 1, Err: errors.New("switch --master_state=dead: not implemented yet")}
}
