package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// Log attribute keys the handler adds from the context.
const (
	RequestIDKey = "request_id"
	TraceIDKey   = "trace_id"
)

// NewLogger returns a logger writing to w in format "json" or "text" (any
// other value means text) at level and above. Records logged with a context
// (logger.InfoContext(ctx, ...)) get a request_id attribute when ctx carries
// one (WithRequestID), and a trace_id when ctx carries a sampled span, so
// that log lines can be joined with traces.
func NewLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if strings.EqualFold(format, "json") {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(&contextHandler{root: h, inner: h})
}

// contextHandler adds request and trace ids from the record's context.
//
// The ids belong at the top level of the record even when the logger has
// open groups (logger.WithGroup("db")), but slog adds record attributes
// inside the open groups. So the handler remembers the WithAttrs/WithGroup
// calls made on it and, only for records that need ids under a group,
// replays them on top of the root handler with the ids added first.
type contextHandler struct {
	root   slog.Handler // without any WithAttrs/WithGroup
	inner  slog.Handler // root with ops applied
	ops    []handlerOp
	groups bool // some op is a group
}

type handlerOp struct {
	group string // a WithGroup when non-empty
	attrs []slog.Attr
}

func (h *contextHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

func (h *contextHandler) Handle(ctx context.Context, r slog.Record) error {
	ids := contextAttrs(ctx)
	if len(ids) == 0 {
		return h.inner.Handle(ctx, r)
	}
	if !h.groups {
		r = r.Clone()
		r.AddAttrs(ids...)
		return h.inner.Handle(ctx, r)
	}
	inner := h.root.WithAttrs(ids)
	for _, op := range h.ops {
		if op.group != "" {
			inner = inner.WithGroup(op.group)
		} else {
			inner = inner.WithAttrs(op.attrs)
		}
	}
	return inner.Handle(ctx, r)
}

func (h *contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return h.with(handlerOp{attrs: attrs}, h.inner.WithAttrs(attrs))
}

func (h *contextHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(handlerOp{group: name}, h.inner.WithGroup(name))
}

func (h *contextHandler) with(op handlerOp, inner slog.Handler) *contextHandler {
	ops := make([]handlerOp, len(h.ops), len(h.ops)+1)
	copy(ops, h.ops)
	return &contextHandler{
		root:   h.root,
		inner:  inner,
		ops:    append(ops, op),
		groups: h.groups || op.group != "",
	}
}

func contextAttrs(ctx context.Context) []slog.Attr {
	if ctx == nil {
		return nil
	}
	var attrs []slog.Attr
	if id := RequestID(ctx); id != "" {
		attrs = append(attrs, slog.String(RequestIDKey, id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && sc.IsSampled() {
		attrs = append(attrs, slog.String(TraceIDKey, sc.TraceID().String()))
	}
	return attrs
}

type requestIDKey struct{}

// WithRequestID returns a copy of ctx carrying the request id. When ctx
// already holds a recording span (TraceHTTP runs outside the middleware
// that assigns ids), the span gets the id as attribute edp.request_id too.
func WithRequestID(ctx context.Context, id string) context.Context {
	if span := trace.SpanFromContext(ctx); span.IsRecording() && id != "" {
		span.SetAttributes(requestIDAttr(id))
	}
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id stored by WithRequestID, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// NewRequestID returns a fresh request id: 16 bytes from crypto/rand as 22
// characters of unpadded base64url. 128 random bits make collisions
// negligible without coordination between servers.
func NewRequestID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails: crypto/rand aborts the process instead
	return base64.RawURLEncoding.EncodeToString(b[:])
}
