// Package mhalog is a slog.Handler that writes MHA's manager_log format,
// so that greps and dashboards written for MHA keep working:
//
//	Thu Dec  3 15:50:18 2026 - [info] Ping(SELECT) succeeded, waiting until MySQL doesn't respond.. host=db1
//
// The time is Perl's scalar(localtime) (ctime without the newline), the
// level is [debug], [info], [warning] or [error], and the record's
// attributes follow the message as key=value pairs (slog's text quoting),
// groups as dotted keys.
package mhalog

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// TimeFormat is Perl's scalar(localtime): "Thu Dec  3 15:50:18 2026".
const TimeFormat = "Mon Jan _2 15:04:05 2006"

// Handler writes records in MHA's format. The zero value is not usable;
// call New.
type Handler struct {
	mu    *sync.Mutex
	w     io.Writer
	level slog.Leveler
	// attrs is the preformatted " key=value" text of With attributes;
	// group the With group prefix.
	attrs []byte
	group string
}

// New returns a Handler writing to w the records at level or above (nil:
// info).
func New(w io.Writer, level slog.Leveler) *Handler {
	if level == nil {
		level = slog.LevelInfo
	}
	return &Handler{mu: &sync.Mutex{}, w: w, level: level}
}

// Enabled reports whether l is at the handler's level or above.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

// LevelName returns MHA's name of l: debug, info, warning or error.
func LevelName(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "error"
	case l >= slog.LevelWarn:
		return "warning"
	case l >= slog.LevelInfo:
		return "info"
	}
	return "debug"
}

// Handle writes one line.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	var b bytes.Buffer
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	b.WriteString(t.Format(TimeFormat))
	b.WriteString(" - [")
	b.WriteString(LevelName(r.Level))
	b.WriteString("] ")
	b.WriteString(r.Message)
	b.Write(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		appendAttr(&b, h.group, a)
		return true
	})
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.w.Write(b.Bytes())
	return err
}

// WithAttrs returns a handler that appends attrs to every record.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *h
	var b bytes.Buffer
	b.Write(h.attrs)
	for _, a := range attrs {
		appendAttr(&b, h.group, a)
	}
	n.attrs = b.Bytes()
	return &n
}

// WithGroup returns a handler that puts later attributes under name.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	n.group = h.group + name + "."
	return &n
}

// appendAttr writes " key=value" with slog's text quoting; a group's
// members get dotted keys, empty attributes are dropped.
func appendAttr(b *bytes.Buffer, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			appendAttr(b, p, g)
		}
		return
	}
	// slog's text handler does the quoting of keys and values.
	var one bytes.Buffer
	th := slog.NewTextHandler(&one, &slog.HandlerOptions{ReplaceAttr: func(groups []string, x slog.Attr) slog.Attr {
		if len(groups) == 0 && (x.Key == slog.TimeKey || x.Key == slog.LevelKey || x.Key == slog.MessageKey) {
			return slog.Attr{}
		}
		return x
	}})
	rec := slog.NewRecord(time.Time{}, slog.LevelInfo, "", 0)
	rec.AddAttrs(slog.Attr{Key: prefix + a.Key, Value: a.Value})
	_ = th.Handle(context.Background(), rec)
	b.WriteByte(' ')
	b.Write(bytes.TrimRight(one.Bytes(), "\n"))
}
