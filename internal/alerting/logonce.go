package alerting

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// relogAfter is how long an identical warning stays quiet.
const relogAfter = time.Hour

// volatile reports attributes that change between otherwise identical
// warnings (how many alerts a failed send carried).
func volatile(key string) bool {
	switch key {
	case "count", "num_dropped", "duration_seconds":
		return true
	}
	return false
}

// onceHandler passes a warning or error on only when it differs from the
// last one with the same message and logger attributes, or an hour has
// passed: Prometheus' rule manager and notifier repeat the same failure at
// every evaluation and send, which the self-metrics count anyway.
type onceHandler struct {
	inner  slog.Handler
	prefix string
	st     *onceState
}

type onceState struct {
	mu   sync.Mutex
	last map[string]onceEntry
}

type onceEntry struct {
	text string
	at   time.Time
}

// logOnce wraps a logger's handler in a onceHandler.
func logOnce(l *slog.Logger) *slog.Logger {
	return slog.New(&onceHandler{inner: l.Handler(), st: &onceState{last: map[string]onceEntry{}}})
}

func (h *onceHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h *onceHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.inner.Handle(ctx, r)
	}
	var b strings.Builder
	r.Attrs(func(a slog.Attr) bool {
		if !volatile(a.Key) {
			fmt.Fprintf(&b, "%s=%v;", a.Key, a.Value)
		}
		return true
	})
	key := h.prefix + "|" + r.Message
	h.st.mu.Lock()
	e, seen := h.st.last[key]
	quiet := seen && e.text == b.String() && r.Time.Sub(e.at) < relogAfter
	if !quiet {
		h.st.last[key] = onceEntry{text: b.String(), at: r.Time}
	}
	h.st.mu.Unlock()
	if quiet {
		return nil
	}
	return h.inner.Handle(ctx, r)
}

func (h *onceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.prefix)
	for _, a := range as {
		fmt.Fprintf(&b, "%s=%v;", a.Key, a.Value)
	}
	return &onceHandler{inner: h.inner.WithAttrs(as), prefix: b.String(), st: h.st}
}

func (h *onceHandler) WithGroup(name string) slog.Handler {
	return &onceHandler{inner: h.inner.WithGroup(name), prefix: h.prefix + name + ".", st: h.st}
}
