package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestBuiltinHook(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	// This very program's consul hook, against an agent that is not there:
	// run in-process, with the child's exit code and message.
	code, ok := builtinHook(ctx, []string{self, "hook", "consul", "--command=status", "--consul_addr=http://127.0.0.1:1", "--timeout=1s"}, &out)
	if !ok || code != 1 || !strings.Contains(out.String(), "127.0.0.1:1") {
		t.Errorf("builtinHook = %d, %v, output %q; want handled, exit 1, naming the agent", code, ok, out.String())
	}
	for _, argv := range [][]string{
		{"/bin/true", "hook", "vip"},       // another program
		{self, "check-ssh", "--conf=x"},    // this program, not a hook
		{self, "hook", "unknown", "--x=1"}, // not a built-in hook
		{self, "hook"},                     // too short
	} {
		if _, ok := builtinHook(ctx, argv, &out); ok {
			t.Errorf("builtinHook handled %q; want it left to a child process", argv)
		}
	}
}
