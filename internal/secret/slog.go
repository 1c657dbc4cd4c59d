package secret

import (
	"context"
	"fmt"
	"log/slog"
)

// Handler wraps h so that no log line carries a secret of set: the message and every attribute value (errors,
// strings, anything printed) are scrubbed before h sees them. It catches what a caller forgot to scrub, River's
// own logs of a worker's error included.
func Handler(h slog.Handler, set *Set) slog.Handler {
	if set == nil || len(set.values) == 0 {
		return h
	}
	return &handler{h: h, set: set}
}

type handler struct {
	h   slog.Handler
	set *Set
}

func (s *handler) Enabled(ctx context.Context, l slog.Level) bool { return s.h.Enabled(ctx, l) }

func (s *handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, s.set.Scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(s.attr(a))
		return true
	})
	return s.h.Handle(ctx, out)
}

func (s *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = s.attr(a)
	}
	return &handler{h: s.h.WithAttrs(clean), set: s.set}
}

func (s *handler) WithGroup(name string) slog.Handler {
	return &handler{h: s.h.WithGroup(name), set: s.set}
}

func (s *handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, s.set.Scrub(v.String()))
	case slog.KindGroup:
		g := v.Group()
		clean := make([]any, len(g))
		for i, ga := range g {
			clean[i] = s.attr(ga)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, s.set.Error(x))
		case fmt.Stringer:
			return slog.String(a.Key, s.set.Scrub(x.String()))
		default:
			// Structures keep their shape unless their printed form holds a secret.
			if text := fmt.Sprintf("%+v", x); s.set.Scrub(text) != text {
				return slog.String(a.Key, s.set.Scrub(text))
			}
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
