// Command sandbox brings up a local three-host lab (each host a network
// namespace running a real MariaDB and sshd), points gomha at it and shows
// what gomha sees. It is the README's first command (`make sandbox`).
//
// Everything it builds lives in network namespaces and a lab directory it
// creates, and is torn down when it exits (also on Ctrl-C).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gomha/gomha/integration/lab"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "sandbox: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	mhaBin := flag.String("mha", "bin/mha", "path of the mha binary to run against the lab")
	hosts := flag.Int("hosts", 3, "number of database hosts")
	gtid := flag.Bool("gtid", false, "replicate with MariaDB GTID (MASTER_USE_GTID=slave_pos)")
	keep := flag.Bool("keep", false, "keep the lab running until Ctrl-C, to explore it by hand")
	flag.Parse()

	if os.Geteuid() != 0 {
		return errors.New("the sandbox creates network namespaces and must run as root")
	}
	bin, err := filepath.Abs(*mhaBin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("mha binary: %w (run `make sandbox`, which builds it)", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	step("Starting a %d-host lab: network namespaces on a private bridge, MariaDB and sshd in each", *hosts)
	startCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	l, err := lab.Start(startCtx, lab.Options{Hosts: *hosts, GTID: *gtid, Log: os.Stderr})
	cancel()
	if err != nil {
		return fmt.Errorf("start lab: %w", err)
	}
	defer func() {
		step("Tearing the lab down")
		if err := l.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "sandbox: teardown: %v\n", err)
		}
	}()
	for _, h := range l.Hosts {
		fmt.Printf("    %-4s %s  (netns %s)\n", h.Name, h.IP, h.NS)
	}

	conf := filepath.Join(l.Dir, "app1.cnf")
	if err := l.WriteAppConf(conf); err != nil {
		return fmt.Errorf("write %s: %w", conf, err)
	}
	step("gomha configuration (MHA format): %s", conf)
	if b, err := os.ReadFile(conf); err == nil {
		os.Stdout.Write(b)
	}

	failed := false
	for _, args := range [][]string{
		{"check-ssh", "--conf=" + conf},
		{"check-repl", "--conf=" + conf},
	} {
		step("mha %s", args[0])
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Printf("    => mha %s failed: %v\n", args[0], err)
			failed = true
		}
	}

	if *keep {
		step("The lab stays up until Ctrl-C. Try:")
		m := l.Master()
		fmt.Printf("    %s check-repl --conf=%s\n", bin, conf)
		fmt.Printf("    ip netns exec %s mariadb -S %s -e 'SHOW SLAVE STATUS\\G'\n", l.Hosts[len(l.Hosts)-1].NS, l.Hosts[len(l.Hosts)-1].Socket)
		fmt.Printf("    ip netns exec %s mariadb -S %s -e 'SHOW MASTER STATUS'\n", m.NS, m.Socket)
		<-ctx.Done()
	}
	if failed {
		return errors.New("a gomha check failed against the sandbox (see above)")
	}
	return nil
}

func step(format string, args ...any) {
	fmt.Printf("\n==> "+format+"\n", args...)
}
