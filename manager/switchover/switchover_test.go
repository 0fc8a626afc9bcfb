package switchover

import (
	"strings"
	"testing"
	"time"
)

func TestThreadsQuery(t *testing.T) {
	tests := []struct {
		name    string
		f       ThreadFilter
		want    []string
		notWant []string
	}{
		{"updates only (master check)", ThreadFilter{},
			[]string{"ID NOT IN (CONNECTION_ID())", "'Binlog Dump GTID'", "'system user'", "LIKE 'SELECT%'", "TIME >= ?"},
			[]string{"Waiting for"}},
		{"reads too (new master check)", ThreadFilter{WithReads: true},
			[]string{"TIME >= ?"}, []string{"LIKE 'SELECT%'"}},
		{"blockers of our lock", ThreadFilter{WithReads: true, NotWaiting: true, Exclude: []uint64{12, 40}},
			[]string{"ID NOT IN (CONNECTION_ID(), 12, 40)", "NOT LIKE 'Waiting for % lock'", "<> 'Waiting for table flush'"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := threadsQuery(tt.f)
			for _, w := range tt.want {
				if !strings.Contains(q, w) {
					t.Errorf("query lacks %q:\n%s", w, q)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(q, w) {
					t.Errorf("query has %q:\n%s", w, q)
				}
			}
			if strings.Count(q, "?") != 1 {
				t.Errorf("want exactly one placeholder:\n%s", q)
			}
		})
	}
}

func TestWithDefaults(t *testing.T) {
	o := Options{}.withDefaults()
	if o.MaxWriteBlock != DefaultMaxWriteBlock || o.NewMasterPort != 3306 || o.SecondsBehindMaster != DefaultSecondsBehindMaster ||
		o.ReplicaTimeout != DefaultReplicaTimeout || o.StepTimeout != DefaultStepTimeout || o.Log == nil {
		t.Errorf("defaults not applied: %+v", o)
	}
	o = Options{MaxWriteBlock: 500 * time.Millisecond, NewMasterPort: 3307}.withDefaults()
	if o.MaxWriteBlock != 500*time.Millisecond || o.NewMasterPort != 3307 || o.RunningUpdatesLimit != 0 {
		t.Errorf("explicit values changed: %+v", o)
	}
}
