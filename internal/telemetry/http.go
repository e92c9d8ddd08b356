package telemetry

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RouteUnmatched is the route label of requests no ServeMux pattern
// matched (404s, 405s, redirects): one value, however many distinct paths
// clients try.
const RouteUnmatched = "unmatched"

// InstrumentHTTP wraps the API's http.ServeMux and records, per request,
// edp_http_requests_total{method,route,code},
// edp_http_request_duration_seconds{method,route},
// edp_http_response_size_bytes{method,route} and
// edp_http_requests_in_flight. route is the pattern the mux matched (without
// its method, e.g. "/v1/tables/{name}") or RouteUnmatched; method is a
// standard HTTP method or "other". On a nil *Metrics it returns next.
//
// The route is known only after routing: Go's ServeMux sets Pattern on the
// request it routes, so InstrumentHTTP and TraceHTTP read it after next
// returns. Place them around the mux in either order; a middleware between
// them and the mux that replaces the request (r.WithContext) hides the
// pattern unless the mux itself is wrapped in RecordRoute.
func (m *Metrics) InstrumentHTTP(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.httpInFlight.Inc()
		defer m.httpInFlight.Dec()
		start := time.Now()
		rw := &responseWriter{ResponseWriter: w}
		r, route := trackRoute(r)
		finished := false
		defer func() {
			code := rw.code
			if code == 0 {
				// A handler that writes nothing sends 200, unless it
				// panicked, in which case the client sees the connection
				// drop: count that as a 500.
				code = http.StatusOK
				if !finished {
					code = http.StatusInternalServerError
				}
			}
			method, route := methodLabel(r.Method), routeLabel(route())
			m.httpRequests.WithLabelValues(method, route, strconv.Itoa(code)).Inc()
			m.httpDuration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
			m.httpResponseSize.WithLabelValues(method, route).Observe(float64(rw.bytes))
		}()
		next.ServeHTTP(rw, r)
		finished = true
	})
}

// RecordRoute wraps a ServeMux so that InstrumentHTTP and TraceHTTP learn
// the matched pattern even when middleware between them and the mux passes
// a copy of the request (r.WithContext) down. Without such middleware it is
// not needed.
func RecordRoute(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, route := trackRoute(r)
		defer route()
		mux.ServeHTTP(w, r)
	})
}

// routeHolder carries the matched pattern from the innermost of this
// package's wrappers to the outer ones, which may hold a different
// *http.Request than the one the mux routed (otelhttp, for one, passes
// r.WithContext down).
type routeHolder struct{ pattern string }

type routeHolderKey struct{}

// trackRoute returns the request to pass down in place of r, and a function
// that reports, once the handler has returned or panicked, the pattern the
// ServeMux matched ("" when none did) and passes it on to outer wrappers.
func trackRoute(r *http.Request) (*http.Request, func() string) {
	h, ok := r.Context().Value(routeHolderKey{}).(*routeHolder)
	if !ok {
		h = &routeHolder{}
		r = r.WithContext(context.WithValue(r.Context(), routeHolderKey{}, h))
	}
	return r, func() string {
		// Handlers run on this goroutine and the holder is written after
		// they return, so it needs no lock.
		if r.Pattern != "" {
			h.pattern = r.Pattern
		}
		return h.pattern
	}
}

// routePath strips the method and host from a ServeMux pattern
// ("GET example.com/x/{id}" → "/x/{id}"), as OpenTelemetry does for
// http.route; the method has its own label.
func routePath(pattern string) string {
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		return pattern[i:]
	}
	return ""
}

func routeLabel(pattern string) string {
	if p := routePath(pattern); p != "" {
		return p
	}
	return RouteUnmatched
}

// methodLabel keeps label values bounded: clients can send any token as a
// method.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return labelOther
}

// responseWriter records the status code and body size. It implements
// Flush and Unwrap so that streaming handlers can flush through it, both by
// type assertion (w.(http.Flusher)) and with http.ResponseController.
type responseWriter struct {
	http.ResponseWriter
	code  int // 0 until the final header is written
	bytes int64
}

func (w *responseWriter) WriteHeader(code int) {
	// 1xx responses (103 Early Hints) precede the real one; 101 Switching
	// Protocols is final.
	if w.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush sends buffered data to the client. It ignores an underlying writer
// that cannot flush, as http.Flusher has no way to report it.
func (w *responseWriter) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the server's writer for
// deadlines, hijacking and full-duplex.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
