package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// newLinkCmd installs masterha_* symlinks so that MHA users' habits and
// scripts (masterha_check_repl --conf=...) run gomha unchanged.
func newLinkCmd() *cobra.Command {
	var dir string
	var force bool
	cmd := &cobra.Command{
		Use:   "install-links",
		Short: "Create masterha_* symlinks to this binary (MHA's command names)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("install-links: locate this binary: %w", err)
			}
			if self, err = filepath.EvalSymlinks(self); err != nil {
				return fmt.Errorf("install-links: locate this binary: %w", err)
			}
			for _, a := range aliases {
				link := filepath.Join(dir, a.MHAName)
				if err := makeLink(self, link, force); err != nil {
					return fmt.Errorf("install-links: %w", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s -> %s (mha %s)\n", link, self, a.Subcommand)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "/usr/local/bin", "directory for the links")
	cmd.Flags().BoolVar(&force, "force", false, "replace existing files of the same name (e.g. MHA's Perl scripts)")
	return cmd
}

func makeLink(target, link string, force bool) error {
	fi, err := os.Lstat(link)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0:
		if cur, _ := os.Readlink(link); cur == target {
			return nil
		}
		fallthrough
	default:
		if !force {
			return fmt.Errorf("%s exists (an MHA install?); use --force to replace it", link)
		}
		if err := os.Remove(link); err != nil {
			return err
		}
	}
	return os.Symlink(target, link)
}
