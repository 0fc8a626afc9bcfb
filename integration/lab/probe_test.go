package lab

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestTwoWritable feeds acknowledged writes (sent, acked in ms from an
// origin) and checks which moments count as two writable masters.
func TestTwoWritable(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// w builds one host's writes from "sent-acked" pairs in ms.
	w := func(host string, windows ...[2]int) []Probe {
		var ps []Probe
		for i, win := range windows {
			ps = append(ps, Probe{Host: host, ID: int64(i + 1), Sent: at(win[0]), Acked: at(win[1])})
		}
		return ps
	}
	// every builds a steady prober: a write every 20 ms from from to to,
	// each acknowledged 2 ms after it was sent.
	every := func(host string, from, to int) []Probe {
		var wins [][2]int
		for s := from; s <= to; s += 20 {
			wins = append(wins, [2]int{s, s + 2})
		}
		return w(host, wins...)
	}
	for _, tc := range []struct {
		name  string
		acked map[string][]Probe
		want  []string // "A B from-to" in ms
	}{
		{
			name:  "one master all along",
			acked: map[string][]Probe{"db1": every("db1", 0, 2000), "db2": nil, "db3": nil},
		},
		{
			name: "clean failover: old master silent, then 5 s later the new one",
			acked: map[string][]Probe{
				"db1": every("db1", 0, 1000),
				"db2": every("db2", 6000, 8000),
			},
		},
		{
			name: "new master opens 100 ms after the old one's last ack: still apart",
			acked: map[string][]Probe{
				"db1": every("db1", 0, 1000),
				"db2": every("db2", 1103, 2000),
			},
		},
		{
			name: "the old master keeps taking writes after the new one opened",
			acked: map[string][]Probe{
				"db1": every("db1", 0, 3000),
				"db2": every("db2", 2000, 4000),
			},
			want: []string{"db1 db2 2000-3002"},
		},
		{
			name: "one write of the old master between two of the new master's",
			acked: map[string][]Probe{
				"db1": w("db1", [2]int{0, 2}, [2]int{5010, 5015}),
				"db2": every("db2", 4000, 6000),
			},
			want: []string{"db1 db2 5010-5015"},
		},
		{
			name: "a lone write of each whose windows overlap",
			acked: map[string][]Probe{
				"db1": w("db1", [2]int{100, 250}),
				"db3": w("db3", [2]int{200, 210}),
			},
			want: []string{"db1 db3 200-210"},
		},
		{
			name: "lone writes 50 ms apart do not overlap: each is its own window",
			acked: map[string][]Probe{
				"db1": w("db1", [2]int{100, 110}),
				"db2": w("db2", [2]int{160, 170}),
			},
		},
		{
			name: "writes of one host 150 ms apart are two stretches: the other host's write between them is not an overlap",
			acked: map[string][]Probe{
				"db1": w("db1", [2]int{0, 2}, [2]int{152, 154}),
				"db2": w("db2", [2]int{60, 62}),
			},
		},
		{
			name: "the cable comes back: the old master writable again long after the failover",
			acked: map[string][]Probe{
				"db1": append(every("db1", 0, 1000), every("db1", 30000, 30100)...),
				"db2": every("db2", 8000, 40000),
			},
			want: []string{"db1 db2 30000-30102"},
		},
		{
			name: "three hosts writable at once: every pair",
			acked: map[string][]Probe{
				"db1": every("db1", 0, 100),
				"db2": every("db2", 0, 100),
				"db3": every("db3", 0, 100),
			},
			want: []string{"db1 db2 0-102", "db1 db3 0-102", "db2 db3 0-102"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, o := range TwoWritable(tc.acked, ProbeJoin) {
				got = append(got, fmt.Sprintf("%s %s %d-%d", o.A, o.B, o.From.Sub(t0).Milliseconds(), o.To.Sub(t0).Milliseconds()))
			}
			if strings.Join(got, "; ") != strings.Join(tc.want, "; ") {
				t.Errorf("TwoWritable = %q; want %q", got, tc.want)
			}
		})
	}
}

// TestProbeReportFirstAckedAfter checks the helpers the runbooks read the
// report with.
func TestProbeReportFirstAckedAfter(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := ProbeReport{Acked: map[string][]Probe{"db2": {
		{Host: "db2", ID: 1, Sent: t0, Acked: t0.Add(time.Millisecond)},
		{Host: "db2", ID: 2, Sent: t0.Add(time.Second), Acked: t0.Add(time.Second + time.Millisecond)},
	}}}
	if p, ok := r.FirstAckedAfter("db2", t0.Add(time.Millisecond)); !ok || p.ID != 2 {
		t.Errorf("FirstAckedAfter = %v %v; want id 2", p, ok)
	}
	if _, ok := r.FirstAckedAfter("db2", t0.Add(2*time.Second)); ok {
		t.Error("FirstAckedAfter found a write after the last one")
	}
	if p, ok := r.LastAcked("db2"); !ok || p.ID != 2 {
		t.Errorf("LastAcked = %v %v; want id 2", p, ok)
	}
	if _, ok := r.LastAcked("db1"); ok {
		t.Error("LastAcked found a write of a host with none")
	}
}
