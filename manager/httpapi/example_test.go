package httpapi_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/httpapi"
	"github.com/gomha/gomha/manager/metrics"
)

// clusters is the daemon's side of httpapi.Source.
type clusters struct{ cfgs []*config.Config }

func (c clusters) Clusters() []httpapi.ClusterStatus {
	var out []httpapi.ClusterStatus
	for _, cfg := range c.cfgs {
		st, _ := c.Cluster(cfg.App)
		out = append(out, st)
	}
	return out
}

func (c clusters) Cluster(app string) (httpapi.ClusterStatus, bool) {
	for _, cfg := range c.cfgs {
		if cfg.App == app {
			return httpapi.ClusterStatus{App: cfg.App, Conf: cfg.File}, true
		}
	}
	return httpapi.ClusterStatus{}, false
}

// The daemon wires the Recorder and the Server together and runs the
// server as one actor of its run group.
func Example() {
	cfgs := []*config.Config{{App: "app1", File: "/etc/mha/app1.cnf"}}
	rec := metrics.New()
	rec.AddCluster("app1")
	srv, err := httpapi.New(httpapi.Config{
		Addr:      "127.0.0.1:0", // --http
		TokenFile: "",            // --http_token_file
		Source:    clusters{cfgs},
		Metrics:   rec.Handler(),
		Secrets:   func() []string { return httpapi.SecretsOf(cfgs...) },
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	if err := srv.Listen(); err != nil { // fail at start-up, before the monitors
		fmt.Fprintln(os.Stderr, err)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	stop() // the example does not wait for a signal
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	fmt.Println("stopped")
	// Output: stopped
}
