package repoint

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/gomha/gomha/manager/mysqlx"
)

// fakeServer is a replica that answers from a script: statuses are
// returned in order (the last one repeats), failOn makes a named call
// fail, and every call is recorded, with its statement where it has one.
type fakeServer struct {
	mu       sync.Mutex
	addr     string
	version  mysqlx.Version
	statuses []*mysqlx.ReplicaStatus
	settings Settings
	purge    []bool // relay_log_purge before and after CHANGE MASTER
	failOn   map[string]error

	calls  []string
	change *mysqlx.ChangeSourceOptions
}

func newFake(statuses ...*mysqlx.ReplicaStatus) *fakeServer {
	return &fakeServer{addr: "db2:3306", version: mysqlx.Version{Major: 10, Minor: 11, Patch: 9, Flavor: mysqlx.MariaDB},
		statuses: statuses, purge: []bool{true, true}}
}

func (f *fakeServer) call(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
	return f.failOn[strings.Fields(name)[0]]
}

func (f *fakeServer) Addr() string            { return f.addr }
func (f *fakeServer) Version() mysqlx.Version { return f.version }
func (f *fakeServer) StopReplica(context.Context) error {
	return f.call("StopReplica")
}
func (f *fakeServer) StopReplicaIOThread(context.Context) error {
	return f.call("StopReplicaIOThread")
}
func (f *fakeServer) StartReplica(context.Context) error { return f.call("StartReplica") }

func (f *fakeServer) ReplicaStatus(context.Context) (*mysqlx.ReplicaStatus, error) {
	if err := f.call("ReplicaStatus"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.statuses) == 0 {
		return nil, nil
	}
	rs := f.statuses[0]
	if len(f.statuses) > 1 {
		f.statuses = f.statuses[1:]
	}
	return rs, nil
}

func (f *fakeServer) ChangeSource(_ context.Context, o mysqlx.ChangeSourceOptions) error {
	f.change = &o
	return f.call("ChangeSource")
}

func (f *fakeServer) RelayLogPurge(context.Context) (bool, error) {
	if err := f.call("RelayLogPurge"); err != nil {
		return false, err
	}
	v := f.purge[0]
	if len(f.purge) > 1 {
		f.purge = f.purge[1:]
	}
	return v, nil
}

func (f *fakeServer) SetRelayLogPurge(_ context.Context, on bool) error {
	return f.call(fmt.Sprintf("SetRelayLogPurge %t", on))
}

func (f *fakeServer) Settings(context.Context, *mysqlx.ReplicaStatus) (Settings, error) {
	return f.settings, f.call("Settings")
}

func (f *fakeServer) ApplySettings(_ context.Context, stmt string) error {
	return f.call("ApplySettings " + stmt)
}

func (f *fakeServer) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}
