package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/edp-data/edp/internal/telemetry"
)

// reqState is what the outer middleware learns only after inner layers
// ran: the authenticated principal, for the access log. It rides in the
// context as a pointer so inner layers can fill it in without a new
// request (ServeMux sets Pattern on the request it was handed, which the
// metrics and access log must see).
type reqState struct {
	principal string
}

type stateKey struct{}

func stateFrom(ctx context.Context) *reqState {
	if s, ok := ctx.Value(stateKey{}).(*reqState); ok {
		return s
	}
	return &reqState{}
}

// validRequestID accepts an inbound X-Request-Id of 1 to 64 URL-safe
// characters; anything else could smuggle text into logs and headers.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
			return false
		}
	}
	return true
}

// requestID gives every request an id — the caller's, if sane — and
// echoes it in the response, so a client's report and the server's log and
// audit entry can be matched.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = telemetry.NewRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		ctx := telemetry.WithRequestID(r.Context(), id)
		ctx = context.WithValue(ctx, stateKey{}, &reqState{})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// recoverPanics turns a panic outside a route handler into a 500 (route
// handlers recover their own, so that the audit entry is written). The
// stack goes to the log, never to the client.
func (a *API) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.log.ErrorContext(r.Context(), "panic serving request", "panic", v, "stack", string(debug.Stack()))
			if !sw.wroteHeader {
				writeErrorBody(sw, classify(errors.New("panic"), telemetry.RequestID(r.Context())))
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// accessLog writes one info line per request. The request id comes from
// the context: the logger edp builds (telemetry.NewLogger) adds it to
// every line.
func (a *API) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		a.log.LogAttrs(r.Context(), slog.LevelInfo, "http request",
			slog.String("method", r.Method), slog.String("route", route), slog.Int("status", status),
			slog.Int64("bytes", sw.bytes), slog.Duration("duration", time.Since(start)),
			slog.String("principal", stateFrom(r.Context()).principal))
	})
}

// statusWriter records the status and size of a response. Flush and
// Unwrap keep streaming working through it (http.ResponseController).
type statusWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader && code >= 200 {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
