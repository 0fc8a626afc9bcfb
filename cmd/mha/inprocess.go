package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/gomha/gomha/cmd/internal/mhacli"
)

// builtinHook is hooks.Runner.InProcess for the manager: a hook command
// that is this very program's `hook vip`, `hook consul` or `hook keepalived` runs inside the
// manager, on its warm SSH connections, exactly as the child would (same
// flags, same output, same exit code). Anything else, including this
// program under another subcommand, runs as a child process.
func builtinHook(ctx context.Context, argv []string, out io.Writer) (code int, handled bool) {
	if len(argv) < 3 || argv[1] != "hook" || (argv[2] != "vip" && argv[2] != "consul" && argv[2] != "keepalived") || !isSelf(argv[0]) {
		return 0, false
	}
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(out, "mha: built-in hook panicked: %v\n", p)
			code, handled = 1, true
		}
	}()
	cmd := newHookCmd()
	cmd.SetArgs(argv[2:])
	cmd.SetOut(out)
	cmd.SetErr(out)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(ctx)
	var ee *mhacli.ExitError
	switch {
	case err == nil:
		return 0, true
	case errors.As(err, &ee):
		if ee.Err != nil {
			fmt.Fprintf(out, "mha: %v\n", ee.Err)
		}
		return ee.Code, true
	}
	fmt.Fprintf(out, "mha: %v\n", err)
	return 1, true
}

// isSelf reports whether prog (a path, or a name looked up in PATH) is the
// running executable.
func isSelf(prog string) bool {
	self, err := os.Executable()
	if err != nil {
		return false
	}
	if filepath.Base(prog) == prog {
		if prog, err = exec.LookPath(prog); err != nil {
			return false
		}
	}
	a, err1 := filepath.EvalSymlinks(self)
	b, err2 := filepath.EvalSymlinks(prog)
	return err1 == nil && err2 == nil && a == b
}
