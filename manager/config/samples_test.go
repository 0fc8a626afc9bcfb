package config

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestSamples loads the sample files shipped in configs/ together, as
// /etc/mha/app1.cnf with /etc/masterha_default.cnf.
func TestSamples(t *testing.T) {
	app := filepath.Join("..", "..", "configs", "app1.cnf")
	global := filepath.Join("..", "..", "configs", "masterha_default.cnf")
	o := opts(t, app)
	o.GlobalFile = global
	o.RunScript = func(context.Context, string) ([]byte, error) {
		t.Error("the samples must not enable init_conf_load_script")
		return nil, nil
	}
	cfg, err := Load(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	def := with(builtin(), func(p *Params) {
		p.User = "mha"
		p.Password = "app1-admin-secret" // the application file overrides the global one
		p.ReplUser = "repl"
		p.ReplPassword = "change-me-too"
		p.SSHUser = "root"
		p.SSHOptions = "-o StrictHostKeyChecking=yes -o UserKnownHostsFile=/etc/mha/known_hosts -i /root/.ssh/mha_ed25519"
		p.PingInterval = 3 * time.Second
		p.SecondaryCheckScript = "/usr/local/bin/masterha_secondary_check -s mon1.example.com -s mon2.example.com"
		p.MasterIPFailoverScript = "/usr/local/bin/master_ip_failover"
		p.MasterIPOnlineChangeScript = "/usr/local/bin/master_ip_online_change"
		p.ShutdownScript = "/usr/local/bin/power_manager"
		p.ReportScript = "/usr/local/bin/send_report"
		p.RemoteWorkdir = "/var/tmp/mha"
		p.ManagerWorkdir = "/var/lib/mha/app1"
		p.ManagerLog = "/var/log/mha/app1/manager.log"
	})
	want := &Config{
		File:       app,
		GlobalFile: global,
		App:        "app1",
		Default:    def,
		Servers: []Server{
			srv(def, "server1", 34, "db1.example.com", "192.0.2.11", func(p *Params) {
				p.CandidateMaster = true
				p.NodeLabel = "rack-a"
			}),
			srv(def, "server2", 42, "db2.example.com", "192.0.2.12", func(p *Params) {
				p.CandidateMaster = true
				p.NodeLabel = "rack-b"
			}),
			srv(def, "server3", 49, "db3.example.com", "192.0.2.13", func(p *Params) {
				p.NoMaster = true
				p.IgnoreFail = true
				p.SSHHost, p.SSHIP = "db3-mgmt.example.com", "198.51.100.13"
				p.NodeLabel = "rack-c"
			}),
		},
	}
	if diff := cmp.Diff(want, cfg, cmpopts.IgnoreFields(Config{}, "Warnings"), cmpopts.IgnoreFields(Server{}, "Origins")); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("samples give warnings: %v", warningStrings(cfg.Warnings))
	}
}
