// Command sandbox brings up a local three-host lab (each host a network
// namespace running a real MariaDB and sshd), points gomha at it and shows
// what gomha sees. It is the README's first command (`make sandbox`).
//
// Everything it builds lives in network namespaces and a lab directory it
// creates, and is torn down when it exits (also on Ctrl-C).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
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
	nodeBin := flag.String("mha-node", "bin/mha-node", "path of the mha-node binary (keepalived's check on the hosts)")
	useConsul := flag.Bool("consul", false, "show the Consul path instead of keepalived: the catalog entry master.node.consul, resolved through the agent's DNS (builds the Consul agent the first time: minutes)")
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
	node, err := filepath.Abs(*nodeBin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(node); err != nil && !*useConsul {
		return fmt.Errorf("mha-node binary: %w (run `make sandbox`, which builds it)", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	step("Starting a %d-host lab: network namespaces on a private bridge, MariaDB and sshd in each", *hosts)
	startCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	// The application reaches the master through its VIP or its Consul
	// name, so every host listens on all its addresses.
	l, err := lab.Start(startCtx, lab.Options{Hosts: *hosts, GTID: *gtid, Log: os.Stderr, ExtraMyCnf: []string{"bind-address=0.0.0.0"}})
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

	var (
		extra []string
		route *router
	)
	if *useConsul {
		route, extra, err = consulRoute(ctx, l, bin)
	} else {
		route, extra, err = keepalivedRoute(ctx, l, bin, node)
	}
	if err != nil {
		return err
	}
	conf := filepath.Join(l.Dir, "app1.cnf")
	if err := l.WriteAppConf(conf, extra...); err != nil {
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

	if failed {
		return errors.New("a gomha check failed against the sandbox (see above)")
	}

	if err := watchFailover(ctx, l, bin, conf, route); err != nil {
		return err
	}

	if *keep {
		step("The lab stays up until Ctrl-C. Try:")
		fmt.Printf("    %s check-repl --conf=%s\n", bin, conf)
		for _, h := range l.Hosts {
			fmt.Printf("    ip netns exec %s mariadb -S %s -e 'SHOW SLAVE STATUS\\G'   # %s\n", h.NS, h.Socket, h.Name)
		}
		<-ctx.Done()
	}
	return nil
}

// watchFailover is the main job: the manager watches the lab while an
// application inserts rows; the master's mariadbd is killed; the manager
// confirms the death, fails over, and the application writes on.
func watchFailover(ctx context.Context, l *lab.Lab, bin, conf string, route *router) error {
	if err := l.PrepareLoad(ctx); err != nil {
		return fmt.Errorf("prepare the load table: %w", err)
	}
	step("An application inserts a numbered row every 10 ms through %s", route.what)
	w := lab.StartWriter(ctx, route.addrs, 10*time.Millisecond)
	defer w.Stop()
	if err := w.WaitAcked(ctx, 50); err != nil {
		return err
	}

	step("mha manager --conf=%s   (output below, prefixed with |)", conf)
	mgr := exec.CommandContext(ctx, bin, "manager", "--conf="+conf)
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	mgr.Stdout, mgr.Stderr = pw, pw
	if err := mgr.Start(); err != nil {
		return fmt.Errorf("start the manager: %w", err)
	}
	pw.Close()
	defer func() {
		_ = mgr.Process.Signal(syscall.SIGTERM)
		_ = mgr.Wait()
	}()
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			fmt.Println("    | " + sc.Text())
			select {
			case lines <- sc.Text():
			default: // nobody waits for lines any more
			}
		}
		close(lines)
	}()
	if err := waitLine(ctx, lines, "waiting until MySQL doesn't respond", time.Minute); err != nil {
		return fmt.Errorf("the manager did not start monitoring: %w", err)
	}
	time.Sleep(2 * time.Second)

	m := l.Master()
	before := len(w.Acked())
	step("kill -9 mariadbd on %s (%s), the master, after %d acknowledged inserts", m.Name, m.IP, before)
	killed := time.Now()
	if err := m.KillMariaDB(); err != nil {
		return err
	}
	if err := waitLine(ctx, lines, "Failover Report", 2*time.Minute); err != nil {
		return fmt.Errorf("no failover: %w", err)
	}
	if err := w.WaitAcked(ctx, 50); err != nil {
		return fmt.Errorf("the application cannot write after the failover: %w", err)
	}
	first, _ := w.FirstAfter(killed)
	time.Sleep(500 * time.Millisecond)
	w.Stop()
	newMaster, err := route.master(ctx)
	if err != nil {
		return err
	}
	step("The application wrote again %s after the kill, through %s, on %s (%s)", first.At.Sub(killed).Round(time.Millisecond), route.what, newMaster.Name, newMaster.IP)
	if route.show != nil {
		route.show(ctx)
	}

	ctx2, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	lost := 0
	for _, h := range l.Hosts[1:] {
		if h != newMaster {
			if err := l.WaitReplicaCaughtUp(ctx2, h); err != nil {
				return err
			}
		}
		missing, err := w.Missing(ctx2, h)
		if err != nil {
			return err
		}
		fmt.Printf("    %s: %d of %d acknowledged inserts present\n", h.Name, len(w.Acked())-len(missing), len(w.Acked()))
		lost += len(missing)
	}
	if lost > 0 {
		return fmt.Errorf("%d acknowledged inserts missing on the survivors", lost)
	}
	step("The new topology, as gomha sees it (the dead master is left out of the configuration)")
	nconf := conf + ".after"
	b, err := os.ReadFile(conf)
	if err != nil {
		return err
	}
	if err := os.WriteFile(nconf, b, 0o600); err != nil {
		return err
	}
	rm := exec.CommandContext(ctx, bin, "conf-host", "--command=delete", "--conf="+nconf, "--block=server1")
	rm.Stdout, rm.Stderr = os.Stdout, os.Stderr
	if err := rm.Run(); err != nil {
		return fmt.Errorf("conf-host: %w", err)
	}
	cr := exec.CommandContext(ctx, bin, "check-repl", "--conf="+nconf)
	cr.Stdout, cr.Stderr = os.Stdout, os.Stderr
	if err := cr.Run(); err != nil {
		return fmt.Errorf("check-repl after the failover: %w", err)
	}
	return nil
}

// waitLine waits until the manager prints a line containing want.
func waitLine(ctx context.Context, lines <-chan string, want string, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return errors.New("the manager exited")
			}
			if strings.Contains(l, want) {
				return nil
			}
		case <-t.C:
			return fmt.Errorf("%q not seen within %s", want, timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
func step(format string, args ...any) {
	fmt.Printf("\n==> "+format+"\n", args...)
}
