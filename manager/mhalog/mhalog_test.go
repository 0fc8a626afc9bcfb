package mhalog

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"
)

func TestHandler(t *testing.T) {
	at := time.Date(2026, 12, 3, 9, 5, 7, 0, time.Local)
	tests := []struct {
		name  string
		level slog.Level
		msg   string
		with  []any
		group string
		attrs []any
		want  string
	}{
		{name: "info", level: slog.LevelInfo, msg: "Master is down!",
			want: "Thu Dec  3 09:05:07 2026 - [info] Master is down!\n"},
		{name: "warning with attrs", level: slog.LevelWarn, msg: "Master db1(10.0.0.1:3306) is dead!", attrs: []any{"evidence", "io thread stopped; refused", "n", 4},
			want: "Thu Dec  3 09:05:07 2026 - [warning] Master db1(10.0.0.1:3306) is dead! evidence=\"io thread stopped; refused\" n=4\n"},
		{name: "error with With attrs and err", level: slog.LevelError, msg: "Error happened on checking configurations.", with: []any{"cluster", "app1"},
			attrs: []any{"err", errors.New("boom")},
			want:  "Thu Dec  3 09:05:07 2026 - [error] Error happened on checking configurations. cluster=app1 err=boom\n"},
		{name: "group dotted", level: slog.LevelInfo, msg: "m", group: "phase", attrs: []any{"n", 3, slog.Group("g", "a", "b")},
			want: "Thu Dec  3 09:05:07 2026 - [info] m phase.n=3 phase.g.a=b\n"},
		{name: "debug below level dropped", level: slog.LevelDebug, msg: "x", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			var h slog.Handler = New(&b, nil)
			if tt.with != nil {
				h = slog.New(h).With(tt.with...).Handler()
			}
			if tt.group != "" {
				h = h.WithGroup(tt.group)
			}
			if !h.Enabled(context.Background(), tt.level) {
				if tt.want != "" {
					t.Fatal("level disabled")
				}
				return
			}
			r := slog.NewRecord(at, tt.level, tt.msg, 0)
			r.Add(tt.attrs...)
			if err := h.Handle(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got  %q\nwant %q", b.String(), tt.want)
			}
		})
	}
}

func TestLevelName(t *testing.T) {
	for l, want := range map[slog.Level]string{slog.LevelDebug: "debug", slog.LevelInfo: "info", slog.LevelWarn: "warning",
		slog.LevelError: "error", slog.LevelError + 4: "error", slog.LevelInfo + 1: "info"} {
		if got := LevelName(l); got != want {
			t.Errorf("LevelName(%v) = %q, want %q", l, got, want)
		}
	}
}
