package keepalived

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gomha/gomha/node/watchdog"
)

const boot = "boot-1"

func ptr[T any](v T) *T { return &v }

// holding is a state file of a watchdog of this boot, updated at mono.
func holding(mono time.Duration, bootID string) *watchdog.State {
	return &watchdog.State{Phase: "holding", PID: 42, BootID: bootID, LeaseMS: 10000, TickMS: 2500,
		UpdatedMono: int64(mono), LastContactMono: int64(mono), LastContactBy: "manager",
		UpdatedAt: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
}

func demoted(phase string) *watchdog.State {
	st := holding(time.Second, boot)
	st.Phase, st.Why = phase, "no contact with the manager or any replica for 10.5s"
	st.DemotedAt = time.Date(2026, 12, 1, 10, 0, 1, 0, time.UTC)
	return st
}

var (
	markAt     = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	writable   = &Server{Version: "10.11.19-MariaDB-log"}
	noWatchdog = WatchdogFacts{ReadErr: fs.ErrNotExist, BootID: boot, NowMono: time.Minute}
)

func stoppedTo(host string) Channel {
	return Channel{SourceHost: host, SourcePort: 3306, IO: "No", SQL: "No"}
}

func runningTo(host string) Channel {
	return Channel{SourceHost: host, SourcePort: 3306, IO: "Yes", SQL: "Yes", Lag: ptr(int64(0))}
}

func TestCheckMaster(t *testing.T) {
	now := time.Minute
	db2, _ := ParseSource("db2")
	db2ip, _ := ParseSource("[fd00::12]:3306")
	tests := []struct {
		name  string
		facts MasterFacts
		opts  MasterOptions
		codes []string // the reasons' codes, in order; none: OK
	}{
		{"writable master, no watchdog", MasterFacts{Server: writable, Watchdog: noWatchdog}, MasterOptions{}, nil},
		{"zero facts fail closed", MasterFacts{}, MasterOptions{}, []string{CodeUnreachable}},
		{"read_only", MasterFacts{Server: &Server{ReadOnly: true}, Watchdog: noWatchdog}, MasterOptions{}, []string{CodeReadOnly}},
		{"super_read_only only", MasterFacts{Server: &Server{SuperReadOnly: ptr(true)}, Watchdog: noWatchdog}, MasterOptions{}, []string{CodeReadOnly}},
		{"super_read_only off", MasterFacts{Server: &Server{SuperReadOnly: ptr(false)}, Watchdog: noWatchdog}, MasterOptions{}, nil},
		{"both read_only flags", MasterFacts{Server: &Server{ReadOnly: true, SuperReadOnly: ptr(true)}, Watchdog: noWatchdog}, MasterOptions{}, []string{CodeReadOnly, CodeReadOnly}},
		{"unreachable", MasterFacts{ServerErr: "dial tcp: connection refused", Watchdog: noWatchdog}, MasterOptions{}, []string{CodeUnreachable}},
		{"unreachable and demoted: both reasons", MasterFacts{ServerErr: "timeout", Watchdog: WatchdogFacts{State: demoted("demoted"), BootID: boot, NowMono: now}},
			MasterOptions{}, []string{CodeWatchdog, CodeUnreachable}},
		{"running replica with read_only off", MasterFacts{Server: &Server{Channels: []Channel{runningTo("db1")}}, Watchdog: noWatchdog}, MasterOptions{}, []string{CodeReplica}},
		{"IO thread connecting", MasterFacts{Server: &Server{Channels: []Channel{{SourceHost: "db1", IO: "Connecting", SQL: "Yes"}}}, Watchdog: noWatchdog},
			MasterOptions{AllowStopped: true}, []string{CodeReplica}},
		{"stopped channel, not marked", MasterFacts{Server: &Server{Channels: []Channel{stoppedTo("db1")}}, Watchdog: noWatchdog}, MasterOptions{}, []string{CodeReplica}},
		{"stopped channel, marked promoted", MasterFacts{Server: &Server{Channels: []Channel{stoppedTo("db1")}}, Watchdog: noWatchdog,
			Mark: &Mark{Kind: MarkPromoted}}, MasterOptions{}, nil},
		{"stopped channel, --allow_stopped", MasterFacts{Server: &Server{Channels: []Channel{stoppedTo("db1")}}, Watchdog: noWatchdog}, MasterOptions{AllowStopped: true}, nil},
		{"running channel, marked promoted", MasterFacts{Server: &Server{Channels: []Channel{runningTo("db1")}}, Watchdog: noWatchdog,
			Mark: &Mark{Kind: MarkPromoted}}, MasterOptions{}, []string{CodeReplica}},
		{"promoted but read_only (no clock)", MasterFacts{Server: &Server{ReadOnly: true}, Watchdog: noWatchdog, Mark: &Mark{Kind: MarkPromoted}}, MasterOptions{}, []string{CodeReadOnly}},
		{"promoted just now, read_only not lifted yet", MasterFacts{Server: &Server{ReadOnly: true, SuperReadOnly: ptr(true), Channels: []Channel{stoppedTo("db1")}}, Watchdog: noWatchdog,
			Mark: &Mark{Kind: MarkPromoted, At: markAt}, Now: markAt.Add(3 * time.Second)}, MasterOptions{}, nil},
		{"promoted past the grace, still read_only", MasterFacts{Server: &Server{ReadOnly: true}, Watchdog: noWatchdog,
			Mark: &Mark{Kind: MarkPromoted, At: markAt}, Now: markAt.Add(PromotedGrace)}, MasterOptions{}, []string{CodeReadOnly}},
		{"promoted mark from the future", MasterFacts{Server: &Server{ReadOnly: true}, Watchdog: noWatchdog,
			Mark: &Mark{Kind: MarkPromoted, At: markAt}, Now: markAt.Add(-time.Minute)}, MasterOptions{}, []string{CodeReadOnly}},
		{"fenced mark: read_only is no longer tolerated", MasterFacts{Server: &Server{ReadOnly: true}, Watchdog: noWatchdog,
			Mark: &Mark{Kind: MarkFenced, At: markAt}, Now: markAt.Add(time.Second)}, MasterOptions{}, []string{CodeFenced, CodeReadOnly}},
		{"promoted just now, running channel still counts", MasterFacts{Server: &Server{ReadOnly: true, Channels: []Channel{runningTo("db1")}}, Watchdog: noWatchdog,
			Mark: &Mark{Kind: MarkPromoted, At: markAt}, Now: markAt.Add(time.Second)}, MasterOptions{}, []string{CodeReplica}},
		{"channel without a source (MHA on 5.1)", MasterFacts{Server: &Server{Channels: []Channel{{IO: "No", SQL: "No"}}}, Watchdog: noWatchdog}, MasterOptions{}, nil},
		{"active/passive pair: channel from the passive master allowed", MasterFacts{Server: &Server{Channels: []Channel{runningTo("DB2")}}, Watchdog: noWatchdog},
			MasterOptions{AllowSources: []SourceMatcher{db2}}, nil},
		{"allowed source by IP and port", MasterFacts{Server: &Server{Channels: []Channel{runningTo("fd00:0::12")}}, Watchdog: noWatchdog},
			MasterOptions{AllowSources: []SourceMatcher{db2ip}}, nil},
		{"allowed source, other port", MasterFacts{Server: &Server{Channels: []Channel{{SourceHost: "fd00::12", SourcePort: 3307, IO: "Yes", SQL: "Yes"}}}, Watchdog: noWatchdog},
			MasterOptions{AllowSources: []SourceMatcher{db2ip}}, []string{CodeReplica}},
		{"one allowed channel, one not", MasterFacts{Server: &Server{Channels: []Channel{runningTo("db2"), runningTo("db3")}}, Watchdog: noWatchdog},
			MasterOptions{AllowSources: []SourceMatcher{db2}}, []string{CodeReplica}},
		{"fenced by the hook", MasterFacts{Server: writable, Watchdog: noWatchdog, Mark: &Mark{Kind: MarkFenced, Reason: "switch"}}, MasterOptions{}, []string{CodeFenced}},
		{"unreadable mark fails closed", MasterFacts{Server: writable, Watchdog: noWatchdog, MarkErr: errors.New("mark file: unknown mark \"x\"")}, MasterOptions{}, []string{CodeFenced}},
		{"watchdog holding the lease", MasterFacts{Server: writable, Watchdog: WatchdogFacts{State: holding(now-time.Second, boot), Running: true, BootID: boot, NowMono: now}},
			MasterOptions{RequireWatchdog: true}, nil},
		{"watchdog demoted", MasterFacts{Server: writable, Watchdog: WatchdogFacts{State: demoted("demoted"), Running: true, BootID: boot, NowMono: now}},
			MasterOptions{}, []string{CodeWatchdog}},
		{"watchdog demoting, not running", MasterFacts{Server: writable, Watchdog: WatchdogFacts{State: demoted("demoting"), BootID: boot, NowMono: now}},
			MasterOptions{}, []string{CodeWatchdog}},
		{"demoted in an earlier boot", MasterFacts{Server: writable, Watchdog: WatchdogFacts{State: demoted("demoted"), BootID: "boot-2", NowMono: now}},
			MasterOptions{}, []string{CodeWatchdog}},
		{"watchdog stalled", MasterFacts{Server: writable, Watchdog: WatchdogFacts{State: holding(now-time.Minute+time.Second, boot), Running: true, BootID: boot, NowMono: now}},
			MasterOptions{}, []string{CodeWatchdog}},
		{"watchdog starting, no state yet", MasterFacts{Server: writable, Watchdog: WatchdogFacts{ReadErr: os.ErrNotExist, Running: true, BootID: boot, NowMono: now}},
			MasterOptions{}, []string{CodeWatchdog}},
		{"watchdog stopped by the manager, this boot", MasterFacts{Server: writable, Watchdog: WatchdogFacts{State: holding(time.Second, boot), BootID: boot, NowMono: now}},
			MasterOptions{}, nil},
		{"stopped watchdog with --require_watchdog", MasterFacts{Server: writable, Watchdog: WatchdogFacts{State: holding(time.Second, boot), BootID: boot, NowMono: now}},
			MasterOptions{RequireWatchdog: true}, []string{CodeWatchdog}},
		{"no watchdog with --require_watchdog", MasterFacts{Server: writable, Watchdog: noWatchdog}, MasterOptions{RequireWatchdog: true}, []string{CodeWatchdog}},
		{"lease held when the host went down", MasterFacts{Server: writable, Watchdog: WatchdogFacts{State: holding(time.Second, "boot-0"), BootID: boot, NowMono: now}},
			MasterOptions{}, []string{CodeWatchdog}},
		{"unreadable watchdog state", MasterFacts{Server: writable, Watchdog: WatchdogFacts{ReadErr: fs.ErrPermission, BootID: boot, NowMono: now}},
			MasterOptions{}, []string{CodeWatchdog}},
		{"everything wrong at once", MasterFacts{
			Server:   &Server{ReadOnly: true, Channels: []Channel{runningTo("db1")}},
			Watchdog: WatchdogFacts{State: demoted("demoted"), BootID: boot, NowMono: now},
			Mark:     &Mark{Kind: MarkFenced}},
			MasterOptions{}, []string{CodeFenced, CodeWatchdog, CodeReadOnly, CodeReplica}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := CheckMaster(tc.facts, tc.opts)
			var codes []string
			for _, r := range v.Reasons {
				codes = append(codes, r.Code)
				if strings.ContainsAny(r.String(), "\n\r") || r.Detail == "" {
					t.Errorf("reason %q is not one non-empty line", r.String())
				}
			}
			if diff := cmp.Diff(tc.codes, codes); diff != "" {
				t.Errorf("reason codes (-want +got):\n%s\nreasons: %v", diff, v.Reasons)
			}
			if v.OK != (len(tc.codes) == 0) {
				t.Errorf("OK = %v with reasons %v", v.OK, v.Reasons)
			}
		})
	}
}

func TestCheckMasterExplains(t *testing.T) {
	v := CheckMaster(MasterFacts{
		Server:   &Server{Channels: []Channel{stoppedTo("db1"), {Name: "ch2", SourceHost: "fd00::3", SourcePort: 3306, IO: "Yes", SQL: "No"}}},
		Watchdog: WatchdogFacts{State: demoted("demoted"), BootID: boot, NowMono: time.Minute},
		Mark:     &Mark{Kind: MarkFenced, Reason: "online switch\nto db2", At: time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)},
	}, MasterOptions{})
	var lines []string
	for _, r := range v.Reasons {
		lines = append(lines, r.String())
	}
	want := []string{
		"fenced: the manager's keepalived hook fenced this host (marked fenced at 2026-12-03T14:00:00Z: online switch to db2)",
		"watchdog: the fencing watchdog demoted since 2026-12-01T10:00:01Z: no contact with the manager or any replica for 10.5s",
		"replica: replication from db1:3306 (IO thread No, SQL thread No): a stopped channel still counts unless this host is marked promoted or --allow_stopped",
		"replica: replication channel 'ch2' from [fd00::3]:3306 (IO thread Yes, SQL thread No)",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
	ok := CheckMaster(MasterFacts{Server: &Server{Channels: []Channel{runningTo("db2")}}, Watchdog: noWatchdog},
		MasterOptions{AllowSources: []SourceMatcher{{Host: "db2"}}})
	if !ok.OK || !slices.Contains(ok.Notes, "replication from db2:3306 ignored (--allow_source=db2)") {
		t.Errorf("allowed source: %+v", ok)
	}
}

func TestParseSource(t *testing.T) {
	tests := []struct {
		in   string
		want SourceMatcher
		bad  bool
	}{
		{"db2", SourceMatcher{Host: "db2"}, false},
		{"db2:3307", SourceMatcher{Host: "db2", Port: 3307}, false},
		{"198.18.0.12", SourceMatcher{Host: "198.18.0.12"}, false},
		{"fd00::12", SourceMatcher{Host: "fd00::12"}, false},
		{"[fd00::12]:3306", SourceMatcher{Host: "fd00::12", Port: 3306}, false},
		{"[fd00::12]", SourceMatcher{Host: "fd00::12"}, false},
		{"", SourceMatcher{}, true},
		{"db2:", SourceMatcher{}, true},
		{"db2:99999", SourceMatcher{}, true},
		{":3306", SourceMatcher{}, true},
		{"[fd00::12", SourceMatcher{}, true},
		{"[fd00::12]3306", SourceMatcher{}, true},
	}
	for _, tc := range tests {
		got, err := ParseSource(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ParseSource(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.bad)
		}
		if err == nil {
			if back, _ := ParseSource(got.String()); back != got {
				t.Errorf("ParseSource(%q).String() = %q does not read back", tc.in, got.String())
			}
		}
	}
}
