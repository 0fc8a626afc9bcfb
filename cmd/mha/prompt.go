package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gomha/gomha/cmd/internal/mhacli"
)

// asker returns the interactive question function: the question with
// "(yes/NO): " or "(YES/no): " on out, one line read from in.
func asker(in io.Reader, out io.Writer) func(string, bool) (bool, error) {
	r := bufio.NewReader(in)
	return func(q string, defaultYes bool) (bool, error) {
		hint := "(yes/NO)"
		if defaultYes {
			hint = "(YES/no)"
		}
		fmt.Fprintf(out, "%s %s: ", q, hint)
		line, err := r.ReadString('\n')
		if err != nil && line == "" {
			return false, fmt.Errorf("no answer on standard input: %w", err)
		}
		return answer(line, defaultYes), nil
	}
}

// answer reads a yes/no reply as MHA does: with a "no" default only y or
// yes (any case) is yes; with a "yes" default anything but n or no is yes.
func answer(line string, defaultYes bool) bool {
	a := strings.ToLower(strings.TrimSpace(line))
	if defaultYes {
		return a != "n" && a != "no"
	}
	return a == "y" || a == "yes"
}

// outcomeCode is the exit code a command's error gives: 0 for nil, the code
// of an *mhacli.ExitError, else 1.
func outcomeCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *mhacli.ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return 1
}
