package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gomha/gomha/cmd/internal/mhacli"
	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/detect"
	"github.com/gomha/gomha/manager/hooks"
	"github.com/gomha/gomha/manager/sshexec"
)

// secondaryCheck holds masterha_secondary_check's options (mha-compat §2.8).
type secondaryCheck struct {
	hosts          []string
	user           string
	port           int
	options        string
	masterHost     string
	masterIP       string
	masterPort     int
	masterUser     string
	masterPassword string
	pingType       string
	timeout        int
	// mhaName is set under MHA's name, masterha_secondary_check: host keys
	// are then not verified unless --options says so, as in MHA.
	mhaName bool
}

// insertCheckTimeout is MHA's alarm on the INSERT check.
const insertCheckTimeout = 3 * time.Second

func newSecondaryCheckCmd() *cobra.Command {
	var sc secondaryCheck
	cmd := &cobra.Command{
		Use:   "secondary-check -s HOST [-s HOST]... --master_host=HOST [--master_port=PORT]",
		Short: "Check the master's reachability from other hosts (masterha_secondary_check)",
		Long: "The default secondary_check_script. On every secondary host at once, logs in over SSH and\n" +
			"opens a TCP connection from there to the master's port and reads the server's greeting\n" +
			"(with bash's /dev/tcp; MHA used perl and only connected, so a hung mysqld counted as reachable;\n" +
			"here a port that accepts but sends nothing within --timeout is unreachable).\n" +
			"Exit 0: the master is unreachable from every host (it is dead); 3: reachable from one\n" +
			"(\"Master is reachable from X!\"); 2: a secondary host is not reachable over SSH; 1: error or\n" +
			"signal. With --ping_type=INSERT a reachable port must also take MHA's infra.chk_masterha write\n" +
			"(mysql client on the secondary host) or the master counts as unreachable from there.\n" +
			"Without -s it exits 0 at once, as MHA does. As `mha secondary-check` host keys are verified\n" +
			"unless --options says otherwise; under MHA's name, masterha_secondary_check, they are not\n" +
			"(MHA's option set always had StrictHostKeyChecking=no) unless --options sets\n" +
			"StrictHostKeyChecking.",
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sc.mhaName = filepath.Base(os.Args[0]) == "masterha_secondary_check"
			code, err := sc.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
			if code == 0 && err == nil {
				return nil
			}
			return &mhacli.ExitError{Code: code, Err: err}
		},
	}
	sc.addFlags(cmd.Flags())
	return cmd
}

// addFlags defines masterha_secondary_check's options on f.
func (sc *secondaryCheck) addFlags(f *pflag.FlagSet) {
	f.StringArrayVarP(&sc.hosts, "secondary_host", "s", nil, "host to check the master from (repeatable; all probed at once, read in order)")
	f.StringVar(&sc.user, "user", "root", "SSH user on the secondary hosts")
	f.IntVar(&sc.port, "port", 22, "SSH port of the secondary hosts")
	f.StringVar(&sc.options, "options", "", "SSH options (MHA ssh_options syntax; replaces the defaults)")
	f.StringVar(&sc.masterHost, "master_host", "", "master host name or address, resolved on the secondary host (required)")
	f.StringVar(&sc.masterIP, "master_ip", "", "master IP address (accepted, unused, as in MHA)")
	f.IntVar(&sc.masterPort, "master_port", 3306, "master MySQL port")
	f.StringVar(&sc.masterUser, "master_user", "", "MySQL user for the INSERT check")
	f.StringVar(&sc.masterPassword, "master_password", "", "MySQL password for the INSERT check")
	f.StringVar(&sc.pingType, "ping_type", "", "SELECT, CONNECT or INSERT (INSERT adds a write check)")
	f.IntVar(&sc.timeout, "timeout", 5, "SSH connect timeout and TCP connect timeout, in seconds")
}

// secondaryHosts parses a secondary_check_script command line (the
// configured command, then the arguments the manager appends) the way the
// command itself will, and returns how it will log in to each -s host.
// ok is false when the script is not masterha_secondary_check or
// `mha secondary-check` (a site's own script, whose hosts gomha cannot
// know).
func secondaryHosts(script string, appended []string) (hosts []check.SecondaryHost, ok bool, err error) {
	words, err := hooks.SplitCommand(script)
	if err != nil || len(words) == 0 {
		return nil, false, err
	}
	var rest []string
	mhaName := false
	switch {
	case filepath.Base(words[0]) == "masterha_secondary_check":
		mhaName, rest = true, words[1:]
	case len(words) > 1 && filepath.Base(words[0]) == "mha" && words[1] == "secondary-check":
		rest = words[2:]
	default:
		return nil, false, nil
	}
	var sc secondaryCheck
	fs := pflag.NewFlagSet("secondary-check", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SetNormalizeFunc(mhacli.NormalizeFlagName)
	fs.ParseErrorsWhitelist.UnknownFlags = true
	sc.addFlags(fs)
	args := mhacli.ExpandPrefixes(fs, mhacli.DoubleDash(fs, append(rest, appended...)))
	if err := fs.Parse(args); err != nil {
		return nil, true, fmt.Errorf("secondary_check_script %q: %w", script, err)
	}
	sc.mhaName = mhaName
	for _, h := range sc.hosts {
		t, err := sc.target(h)
		if err != nil {
			return nil, true, fmt.Errorf("secondary_check_script %q: %w", script, err)
		}
		hosts = append(hosts, check.SecondaryHost{Target: t})
	}
	return hosts, true, nil
}

// target is how the check logs in to secondary host h.
func (sc *secondaryCheck) target(h string) (sshexec.Target, error) {
	opts, err := sshexec.ParseOptions(sc.options)
	if err != nil {
		return sshexec.Target{}, fmt.Errorf("--options: %w", err)
	}
	opts.HostKeyPolicy = check.SecondaryHostKeys(sc.mhaName, opts)
	t := sshexec.Target{Host: h, Port: sc.port, User: sc.user, Options: opts}
	if opts.ConnectTimeout == 0 {
		t.ConnectTimeout = time.Duration(max(sc.timeout, 1)) * time.Second
	}
	return t, nil
}

// run checks from each secondary host and returns MHA's exit code.
func (sc *secondaryCheck) run(ctx context.Context, out, errw io.Writer) (int, error) {
	if sc.masterHost == "" {
		return 1, errors.New("--master_host=<master host> must be set")
	}
	if _, err := sshexec.ParseOptions(sc.options); err != nil {
		return 1, fmt.Errorf("--options: %w", err)
	}
	timeout := time.Duration(max(sc.timeout, 1)) * time.Second
	// Every host is probed at once (MHA asked them one after another, so
	// a dead master cost one timeout per host); the outcome is then read in
	// the given order, so the lines and the exit code are the serial ones.
	type outcome struct {
		reach     detect.Reach
		detail    string
		err       error // SSH to the host failed
		insertErr error // the INSERT check failed (ping_type=INSERT, reachable port)
	}
	results := make([]outcome, len(sc.hosts))
	var wg sync.WaitGroup
	for i, h := range sc.hosts {
		t, _ := sc.target(h) // options parsed above
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := &results[i]
			o.reach, o.detail, o.err = sc.probe(ctx, t, timeout)
			if o.err == nil && !o.reach.Dead() && o.reach != detect.ReachUnknown && strings.EqualFold(sc.pingType, config.PingInsert) {
				o.insertErr = sc.insert(ctx, t)
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return 1, fmt.Errorf("interrupted: %w", ctx.Err())
	}
	for i, h := range sc.hosts {
		o := results[i]
		switch {
		case o.err != nil:
			fmt.Fprintln(errw, o.err)
			fmt.Fprintf(out, "Monitoring server %s is NOT reachable!\n", h)
			return 2, nil
		case o.reach.Dead():
			fmt.Fprintf(out, "Monitoring server %s is reachable, Master is not reachable from %s. OK.\n", h, h)
			continue
		case o.reach == detect.ReachUnknown:
			// MHA: the remote perl failing to run is an ssh exit other than 0 or 3.
			fmt.Fprintf(errw, "%s: greeting probe failed: %s\n", h, o.detail)
			fmt.Fprintf(out, "Monitoring server %s is NOT reachable!\n", h)
			return 2, nil
		case o.insertErr != nil:
			fmt.Fprintln(errw, o.insertErr)
			fmt.Fprintf(out, "Monitoring server %s is reachable, Master is not writable from %s. OK.\n", h, h)
			continue
		}
		fmt.Fprintf(out, "Master is reachable from %s!\n", h)
		return 3, nil
	}
	return 0, nil
}

// probe runs the TCP probe towards the master on one secondary host. The
// error is set when the host itself could not be reached over SSH.
func (sc *secondaryCheck) probe(ctx context.Context, t sshexec.Target, timeout time.Duration) (detect.Reach, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*timeout+5*time.Second)
	defer cancel()
	c, err := sshexec.Dial(ctx, t)
	if err != nil {
		return detect.ReachUnknown, "", err
	}
	defer c.Close()
	res, err := c.Run(ctx, detect.GreetingProbeArgv(sc.masterHost, sc.masterPort, timeout))
	reach, detail := detect.GreetingProbeReach(res, err, timeout)
	return reach, detail, nil
}

// insertSQL is MHA's write check, run by the mysql client on the secondary
// host.
const insertSQL = "CREATE DATABASE IF NOT EXISTS infra; " +
	"CREATE TABLE IF NOT EXISTS infra.chk_masterha (`key` tinyint NOT NULL primary key,`val` int(10) unsigned NOT NULL DEFAULT '0') engine=InnoDB; " +
	"INSERT INTO infra.chk_masterha values (1,unix_timestamp()) ON DUPLICATE KEY UPDATE val=unix_timestamp()"

// insert runs the INSERT check through the mysql client on the secondary
// host, within MHA's 3 seconds. The password goes through stdin into
// MYSQL_PWD, never onto a command line (MHA put it in -p).
func (sc *secondaryCheck) insert(ctx context.Context, t sshexec.Target) error {
	ctx, cancel := context.WithTimeout(ctx, insertCheckTimeout)
	defer cancel()
	c, err := sshexec.Dial(ctx, t)
	if err != nil {
		return err
	}
	defer c.Close()
	script := `IFS= read -r p; MYSQL_PWD=$p; export MYSQL_PWD; exec mysql -u"$0" -h"$1" -P"$2" -e "$3"`
	argv := []string{"sh", "-c", script, sc.masterUser, sc.masterHost, strconv.Itoa(sc.masterPort), insertSQL}
	var stderr strings.Builder
	err = c.Stream(ctx, argv, strings.NewReader(sc.masterPassword+"\n"), io.Discard, &stderr)
	if err != nil {
		return fmt.Errorf("INSERT check from %s: %w: %s", t.Host, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// checkSecondaryHosts logs in to the secondary hosts of master's
// secondary_check_script as the script will, and prints one line per host
// to out. It returns the failures; a script gomha cannot read hosts from
// is reported and not checked.
func checkSecondaryHosts(ctx context.Context, master config.Server, dial check.Dialer, out io.Writer) []string {
	if master.SecondaryCheckScript == "" {
		return nil
	}
	appended := hooks.SecondaryCheckArgs(hooks.SecondaryCheck{Master: hooks.EndpointOf(master), PingType: master.PingType})
	hosts, ok, err := secondaryHosts(master.SecondaryCheckScript, appended)
	switch {
	case err != nil:
		return []string{err.Error()}
	case !ok:
		fmt.Fprintf(out, "secondary_check_script is not masterha_secondary_check: its hosts are not checked at start.\n")
		return nil
	}
	var fails []string
	for _, r := range check.Secondary(ctx, hosts, dial) {
		if r.Err != nil {
			fails = append(fails, r.Err.Error())
			fmt.Fprintln(out, r.Err)
			continue
		}
		fmt.Fprintf(out, "Secondary check host %s reachable over SSH.. ok (%s).\n", r.To, r.Elapsed.Round(time.Millisecond))
	}
	return fails
}
