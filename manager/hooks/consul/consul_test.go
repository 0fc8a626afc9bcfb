package consul

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/consul/api"
)

// fakeAgent serves the few catalog endpoints the package uses, keeping one
// map of node name to registration.
type fakeAgent struct {
	mu     sync.Mutex
	nodes  map[string]api.CatalogRegistration
	leader string
}

func (f *fakeAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.URL.Path == "/v1/status/leader":
		json.NewEncoder(w).Encode(f.leader)
	case strings.HasPrefix(r.URL.Path, "/v1/catalog/node/"):
		reg, ok := f.nodes[strings.TrimPrefix(r.URL.Path, "/v1/catalog/node/")]
		if !ok {
			w.Write([]byte("null"))
			return
		}
		json.NewEncoder(w).Encode(api.CatalogNode{
			Node:     &api.Node{Node: reg.Node, Address: reg.Address},
			Services: map[string]*api.AgentService{reg.Service.ID: reg.Service},
		})
	case r.URL.Path == "/v1/catalog/register" && r.Method == http.MethodPut:
		var reg api.CatalogRegistration
		if err := json.NewDecoder(r.Body).Decode(&reg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.nodes[reg.Node] = reg
		w.Write([]byte("true"))
	case r.URL.Path == "/v1/catalog/deregister" && r.Method == http.MethodPut:
		var d api.CatalogDeregistration
		if err := json.NewDecoder(r.Body).Decode(&d); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		delete(f.nodes, d.Node)
		w.Write([]byte("true"))
	default:
		http.NotFound(w, r)
	}
}

func TestDo(t *testing.T) {
	agent := &fakeAgent{nodes: map[string]api.CatalogRegistration{}, leader: "127.0.0.1:8300"}
	srv := httptest.NewServer(agent)
	defer srv.Close()
	cfg := Config{Addr: srv.URL}
	db1 := &Host{Name: "db1", IP: "198.18.7.11", Port: 3306}
	db2 := &Host{Name: "db2", IP: "198.18.7.12", Port: 3307}

	steps := []struct {
		name     string
		req      Request
		wantErr  error
		warned   bool
		wantLine string
		wantAddr string // node "master" afterwards; "" = absent
	}{
		{"status empty", Request{Command: "status", Orig: db1}, nil, false, "node master is not registered", ""},
		{"start db1", Request{Command: "start", New: db1}, nil, false, "registered node master at 198.18.7.11", "198.18.7.11"},
		{"start db1 again", Request{Command: "start", New: db1}, nil, false, "registered node master at 198.18.7.11", "198.18.7.11"},
		{"status db1", Request{Command: "status", Orig: db1}, nil, false, "node master points at 198.18.7.11", "198.18.7.11"},
		{"start db2 replaces", Request{Command: "start", Orig: db1, New: db2}, nil, false, "service mysql-master on port 3307", "198.18.7.12"},
		{"stop for db1 leaves db2", Request{Command: "stop", Orig: db1}, nil, true, "points at 198.18.7.12, not at orig master", "198.18.7.12"},
		{"stopssh db2", Request{Command: "stopssh", Orig: db2}, nil, false, "deregistered node master (198.18.7.12)", ""},
		{"stop absent", Request{Command: "stop", Orig: db2}, nil, false, "not registered", ""},
		{"start needs new", Request{Command: "start", Orig: db1}, ErrRequest, false, "", ""},
		{"start needs port", Request{Command: "start", New: &Host{Name: "x", IP: "1.2.3.4"}}, ErrRequest, false, "", ""},
		{"unknown command", Request{Command: "reload"}, ErrRequest, false, "", ""},
	}
	for _, st := range steps {
		o, err := Do(t.Context(), cfg, st.req)
		if !errors.Is(err, st.wantErr) || (st.wantErr == nil) != (err == nil) {
			t.Fatalf("%s: error %v, want %v", st.name, err, st.wantErr)
		}
		if o.Warned != st.warned {
			t.Errorf("%s: Warned %v, want %v (%q)", st.name, o.Warned, st.warned, o.Lines)
		}
		if !strings.Contains(strings.Join(o.Lines, "\n"), st.wantLine) {
			t.Errorf("%s: lines %q lack %q", st.name, o.Lines, st.wantLine)
		}
		reg, ok := agent.nodes["master"]
		if got := map[bool]string{true: reg.Address}[ok]; got != st.wantAddr {
			t.Errorf("%s: node master at %q, want %q", st.name, got, st.wantAddr)
		}
		if ok && (reg.Service == nil || reg.Service.Service != "mysql-master" || reg.Service.Tags[0] != Tag ||
			reg.Check == nil || reg.Check.Definition.TCP != reg.Address+":"+map[string]string{"198.18.7.11": "3306", "198.18.7.12": "3307"}[reg.Address]) {
			t.Errorf("%s: registration %+v (service %+v, check %+v)", st.name, reg, reg.Service, reg.Check)
		}
	}
}

func TestDoAgentDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	_, err := Do(t.Context(), Config{Addr: addr}, Request{Command: "status"})
	if err == nil || !strings.Contains(err.Error(), "consul status: agent "+addr) {
		t.Fatalf("error %v, want one naming the agent", err)
	}
}
