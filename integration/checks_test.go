package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/integration/lab"
)

// checkTimeout bounds one check command. A check against a down host must
// give up within its own timeouts (4 s per SQL attempt, two attempts; the
// SSH connect timeout), far below this; reaching it means gomha hung.
const checkTimeout = 60 * time.Second

// TestChecksRunbook follows what a DBA does before trusting gomha with a
// cluster: check SSH and replication on a healthy cluster, then see each
// classic misconfiguration or fault named with its host and cause.
func TestChecksRunbook(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 3})
	ctx := context.Background()
	conf := filepath.Join(l.Dir, "app1.cnf")
	if err := l.WriteAppConf(conf); err != nil {
		t.Fatal(err)
	}
	db1, db2, db3 := l.Hosts[0], l.Hosts[1], l.Hosts[2]

	t.Run("healthy cluster: check-ssh passes", func(t *testing.T) {
		r := mha(t, checkTimeout, "check-ssh", "--conf="+conf)
		expect(t, r, 0, "All SSH connection tests passed successfully.")
		// every host to every other host, as MHA tests
		for _, src := range l.Hosts {
			for _, dst := range l.Hosts {
				if src != dst && !strings.Contains(r.stdout, "SSH from root@"+src.IP+"("+src.IP+":22) to root@"+dst.IP+"("+dst.IP+":22).. ok") {
					t.Errorf("no successful hop %s -> %s reported", src.Name, dst.Name)
				}
			}
		}
	})

	t.Run("healthy cluster: check-repl prints the tree and passes", func(t *testing.T) {
		r := mha(t, checkTimeout, "check-repl", "--conf="+conf)
		expect(t, r, 0,
			db1.IP+"("+db1.IP+":3306) (current master)",
			" +--"+db2.IP+"("+db2.IP+":3306)",
			" +--"+db3.IP+"("+db3.IP+":3306)",
		)
		if !strings.HasSuffix(strings.TrimSpace(r.stdout), "MySQL Replication Health is OK.") {
			t.Errorf("stdout does not end with the health sentence:\n%s", r.stdout)
		}
	})

	t.Run("MHA habits: masterha_check_repl with underscore flags", func(t *testing.T) {
		link := filepath.Join(t.TempDir(), "masterha_check_repl")
		if err := os.Symlink(bins.mha, link); err != nil {
			t.Fatal(err)
		}
		// --seconds_behind_master is MHA's spelling; --bogus_option is
		// ignored under an MHA name, as MHA ignores unknown options.
		r := run(t, checkTimeout, link, "--conf="+conf, "--seconds_behind_master=30", "--bogus_option=1")
		expect(t, r, 0, "MySQL Replication Health is OK.")
		v := run(t, checkTimeout, link, "--version")
		expect(t, v, 0, "masterha_check_repl version 0.58.")
	})

	t.Run("a replica's SQL thread stopped: check-repl names it", func(t *testing.T) {
		mustSQL(t, db3, "STOP SLAVE SQL_THREAD")
		defer mustSQL(t, db3, "START SLAVE SQL_THREAD")
		r := mha(t, checkTimeout, "check-repl", "--conf="+conf)
		expect(t, r, 1, "ReplicaSQLStopped", db3.IP, "MySQL Replication Health is NOT OK!")
	})

	t.Run("wrong password for one server: named with host and user", func(t *testing.T) {
		bad := filepath.Join(l.Dir, "wrong-password.cnf")
		if err := l.WriteAppConf(bad, "[server2] password=not-the-password"); err != nil {
			t.Fatal(err)
		}
		r := mha(t, checkTimeout, "check-repl", "--conf="+bad)
		expect(t, r, 1, "access denied for user "+l.AdminUser+" at "+db2.IP+":3306", "MySQL Replication Health is NOT OK!")
		if strings.Contains(r.stdout+r.stderr, "not-the-password") || strings.Contains(r.stdout+r.stderr, l.AdminPassword) {
			t.Errorf("a password appears in the output:\n%s", r)
		}
	})

	t.Run("a replica's cable pulled: both checks name it within their timeouts", func(t *testing.T) {
		if err := db3.LinkDown(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := db3.LinkUp(); err != nil {
				t.Fatal(err)
			}
		}()
		r := mha(t, checkTimeout, "check-repl", "--conf="+conf)
		expect(t, r, 1, "DeadServer", db3.IP, "no answer from "+db3.IP+":3306")
		s := mha(t, checkTimeout, "check-ssh", "--conf="+conf)
		expect(t, s, 1, "SSH from manager to root@"+db3.IP, "SSH Configuration Check Failed!")
	})

	t.Run("sshd stopped on a replica: check-ssh names the host", func(t *testing.T) {
		if err := db2.StopSSH(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := db2.StartSSH(ctx); err != nil {
				t.Fatal(err)
			}
		}()
		s := mha(t, checkTimeout, "check-ssh", "--conf="+conf)
		expect(t, s, 1, "SSH from manager to root@"+db2.IP, "refused", "SSH Configuration Check Failed!")
	})

	t.Run("after the faults are repaired, the cluster checks clean again", func(t *testing.T) {
		if err := l.WaitReplicaCaughtUp(ctx, db3); err != nil {
			t.Fatal(err)
		}
		expect(t, mha(t, checkTimeout, "check-repl", "--conf="+conf), 0, "MySQL Replication Health is OK.")
		expect(t, mha(t, checkTimeout, "check-ssh", "--conf="+conf), 0, "All SSH connection tests passed successfully.")
	})
}

// TestCheckReplMariaDBGTID checks a cluster replicating with MariaDB GTID.
func TestCheckReplMariaDBGTID(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 3, GTID: true})
	conf := filepath.Join(l.Dir, "app1.cnf")
	if err := l.WriteAppConf(conf); err != nil {
		t.Fatal(err)
	}
	mustSQL(t, l.Master(), "CREATE DATABASE IF NOT EXISTS gtidcheck")
	for _, h := range l.Replicas() {
		if err := l.WaitReplicaCaughtUp(context.Background(), h); err != nil {
			t.Fatal(err)
		}
	}
	r := mha(t, checkTimeout, "check-repl", "--conf="+conf)
	expect(t, r, 0, "(current master)", "MySQL Replication Health is OK.")
}

// TestConfigErrorsNameFileAndLine runs check-repl on a broken configuration:
// every problem is reported with file and line, and nothing is contacted.
func TestConfigErrorsNameFileAndLine(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "broken.cnf")
	body := "[server default]\nuser=mha\nping_intervall=3\nping_type=SELEC\n\n[server1]\nhostname=192.0.2.1\n\n[server2]\nport=3306\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	r := mha(t, checkTimeout, "check-repl", "--conf="+conf, "--global_conf="+filepath.Join(dir, "none.cnf"))
	expect(t, r, 1,
		conf+":3", "ping_interval",
		conf+":4", "SELEC",
		conf+":9", "hostname",
	)
}

func mustSQL(t *testing.T, h *lab.Host, q string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := h.SQL(ctx, q); err != nil {
		t.Fatal(err)
	}
}

// TestConfHostKeepsCommentsAndOrder adds and removes a server block with
// masterha_conf_host's flags: everything else in the file stays byte for
// byte (MHA rewrites the file sorted and without comments).
func TestConfHostKeepsCommentsAndOrder(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "app1.cnf")
	orig := "# production cluster app1\n[server default]\n; admin account\nuser=mha\n\n[server2]\nhostname=192.0.2.12\n\n[server1]\n# the old master\nhostname=192.0.2.11\n"
	if err := os.WriteFile(conf, []byte(orig), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "masterha_conf_host")
	if err := os.Symlink(bins.mha, link); err != nil {
		t.Fatal(err)
	}
	r := run(t, checkTimeout, link, "--command=add", "--conf="+conf, "--block=100", "--hostname=192.0.2.13", "--params=candidate_master=1;port=3307")
	expect(t, r, 0, "Wrote server100 entry to "+conf)
	got, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(got), orig) {
		t.Fatalf("the existing text changed:\n%s", got)
	}
	for _, want := range []string{"[server100]\n", "hostname=192.0.2.13\n", "candidate_master=1\n", "port=3307\n"} {
		if !strings.Contains(string(got[len(orig):]), want) {
			t.Errorf("added block lacks %q:\n%s", want, got)
		}
	}

	bad := run(t, checkTimeout, link, "--command=add", "--conf="+conf, "--block=101", "--hostname=192.0.2.14", "--params=candiate_master=1")
	expect(t, bad, 1, "candiate_master", "candidate_master")

	r = mha(t, checkTimeout, "conf-host", "--command=delete", "--conf="+conf, "--block=server100")
	expect(t, r, 0, "Deleted server100 entry from "+conf)
	if got, _ := os.ReadFile(conf); string(got) != orig {
		t.Errorf("add then delete did not restore the file:\n%q\nwant\n%q", got, orig)
	}
	r = mha(t, checkTimeout, "conf-host", "--command=delete", "--conf="+conf, "--block=server100")
	expect(t, r, 0, "Entry server100 not found")
}
