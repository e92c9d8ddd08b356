package telemetry_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/edp-data/edp/internal/telemetry"
)

// InstrumentHTTP relies on Go's ServeMux setting Pattern on the very
// *http.Request it routes, readable once ServeHTTP returns. This pins that
// behaviour of net/http.
func TestServeMuxSetsPatternOnSameRequest(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/tables/{name}", func(http.ResponseWriter, *http.Request) {})
	tests := []struct {
		method, path, want string
	}{
		{"GET", "/v1/tables/orders", "GET /v1/tables/{name}"},
		{"GET", "/v1/nothing", ""},
		{"POST", "/v1/tables/orders", ""}, // 405
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, tt.path, nil)
		mux.ServeHTTP(httptest.NewRecorder(), r)
		if r.Pattern != tt.want {
			t.Errorf("after ServeMux.ServeHTTP(%s %s): r.Pattern = %q, want %q", tt.method, tt.path, r.Pattern, tt.want)
		}
	}
}

func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/tables/{name}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "table "+r.PathValue("name"))
	})
	mux.HandleFunc("POST /v1/query", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {})
	return mux
}

// copyRequest stands for middleware that adds to the context, as
// authentication does: the mux then routes a copy of the request.
func copyRequest(next http.Handler) http.Handler {
	type key struct{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, "principal")))
	})
}

func TestInstrumentHTTPRoutes(t *testing.T) {
	noopTP := noop.NewTracerProvider()
	tests := []struct {
		name  string
		build func(m *telemetry.Metrics, mux http.Handler) http.Handler
		route string // label of GET /v1/tables/x
	}{
		{"around mux", func(m *telemetry.Metrics, mux http.Handler) http.Handler {
			return m.InstrumentHTTP(mux)
		}, "/v1/tables/{name}"},
		{"outside TraceHTTP", func(m *telemetry.Metrics, mux http.Handler) http.Handler {
			return m.InstrumentHTTP(telemetry.TraceHTTP(noopTP, mux))
		}, "/v1/tables/{name}"},
		{"inside TraceHTTP", func(m *telemetry.Metrics, mux http.Handler) http.Handler {
			return telemetry.TraceHTTP(noopTP, m.InstrumentHTTP(mux))
		}, "/v1/tables/{name}"},
		{"copying middleware, RecordRoute", func(m *telemetry.Metrics, mux http.Handler) http.Handler {
			return m.InstrumentHTTP(copyRequest(telemetry.RecordRoute(mux)))
		}, "/v1/tables/{name}"},
		// Documented limitation: without RecordRoute the pattern is set on
		// a request InstrumentHTTP never sees.
		{"copying middleware alone", func(m *telemetry.Metrics, mux http.Handler) http.Handler {
			return m.InstrumentHTTP(copyRequest(mux))
		}, telemetry.RouteUnmatched},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := telemetry.NewMetrics("test")
			srv := httptest.NewServer(tt.build(m, newMux()))
			defer srv.Close()
			for _, path := range []string{"/v1/tables/orders", "/v1/tables/customers"} {
				get(t, srv.URL+path)
			}
			wantSample(t, m.Registry(), "edp_http_requests_total",
				map[string]string{"method": "GET", "route": tt.route, "code": "200"}, 2)
			wantSample(t, m.Registry(), "edp_http_request_duration_seconds",
				map[string]string{"method": "GET", "route": tt.route}, 2)
		})
	}
}

func TestInstrumentHTTPLabels(t *testing.T) {
	m := telemetry.NewMetrics("test")
	srv := httptest.NewServer(m.InstrumentHTTP(newMux()))
	defer srv.Close()

	requests := []struct{ method, path string }{
		{"GET", "/v1/tables/orders"},
		{"POST", "/v1/query"},
		{"GET", "/healthz"},
		{"GET", "/no/such/path"},
		{"GET", "/another/missing/path"},
		{"DELETE", "/v1/tables/orders"}, // no DELETE pattern: 405
		{"PURGE", "/healthz"},           // non-standard method
	}
	for _, rq := range requests {
		req, _ := http.NewRequest(rq.method, srv.URL+rq.path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	tests := []struct {
		method, route, code string
		want                float64
	}{
		{"GET", "/v1/tables/{name}", "200", 1},
		{"POST", "/v1/query", "202", 1},
		{"GET", "/healthz", "200", 1},
		{"GET", "unmatched", "404", 2},
		{"DELETE", "unmatched", "405", 1},
		{"other", "/healthz", "200", 1},
	}
	for _, tt := range tests {
		wantSample(t, m.Registry(), "edp_http_requests_total",
			map[string]string{"method": tt.method, "route": tt.route, "code": tt.code}, tt.want)
	}
	families, _ := m.Registry().Gather()
	for _, f := range families {
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if strings.Contains(l.GetValue(), "orders") || strings.Contains(l.GetValue(), "such") {
					t.Errorf("%s has a raw path in label %s=%q", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
	wantSample(t, m.Registry(), "edp_http_response_size_bytes",
		map[string]string{"method": "GET", "route": "/v1/tables/{name}"}, 1)
}

func TestInstrumentHTTPInFlightAndSize(t *testing.T) {
	m := telemetry.NewMetrics("test")
	var inFlight float64
	h := m.InstrumentHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight, _ = sample(t, m.Registry(), "edp_http_requests_in_flight", map[string]string{})
		io.WriteString(w, strings.Repeat("x", 1000))
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if inFlight != 1 {
		t.Errorf("edp_http_requests_in_flight during the request = %v, want 1", inFlight)
	}
	wantSample(t, m.Registry(), "edp_http_requests_in_flight", map[string]string{}, 0)

	families, _ := m.Registry().Gather()
	for _, f := range families {
		if f.GetName() == "edp_http_response_size_bytes" {
			if got := f.GetMetric()[0].GetHistogram().GetSampleSum(); got != 1000 {
				t.Errorf("edp_http_response_size_bytes sum = %v, want 1000", got)
			}
		}
	}
}

// A handler that panics gets no response; it is counted as a 500.
func TestInstrumentHTTPPanic(t *testing.T) {
	m := telemetry.NewMetrics("test")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/boom", func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	})
	h := m.InstrumentHTTP(mux)
	func() {
		defer func() { recover() }()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/boom", nil))
	}()
	wantSample(t, m.Registry(), "edp_http_requests_total",
		map[string]string{"method": "GET", "route": "/v1/boom", "code": "500"}, 1)
	wantSample(t, m.Registry(), "edp_http_requests_in_flight", map[string]string{}, 0)
}

// The API streams query results and flushes; the wrapper must pass flushes
// through, by type assertion and by http.ResponseController.
func TestInstrumentHTTPFlush(t *testing.T) {
	tests := []struct {
		name  string
		flush func(w http.ResponseWriter) error
	}{
		{"http.Flusher", func(w http.ResponseWriter) error {
			f, ok := w.(http.Flusher)
			if !ok {
				t.Error("wrapped ResponseWriter is not an http.Flusher")
				return nil
			}
			f.Flush()
			return nil
		}},
		{"ResponseController", func(w http.ResponseWriter) error {
			rc := http.NewResponseController(w)
			// Deadlines are reached through Unwrap.
			if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
				return err
			}
			return rc.Flush()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := telemetry.NewMetrics("test")
			proceed := make(chan struct{})
			srv := httptest.NewServer(m.InstrumentHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "first\n")
				if err := tt.flush(w); err != nil {
					t.Errorf("flush: %v", err)
				}
				// Without a working flush the client never sees "first"
				// and never closes proceed.
				select {
				case <-proceed:
				case <-r.Context().Done():
					return
				}
				io.WriteString(w, "second\n")
			})))
			defer srv.Close()

			// The guard only turns a hang into a failure; it times nothing.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			br := bufio.NewReader(res.Body)
			line, err := br.ReadString('\n')
			if err != nil || line != "first\n" {
				t.Fatalf("first streamed line = %q, %v; want \"first\\n\" before the handler finishes", line, err)
			}
			close(proceed)
			rest, _ := io.ReadAll(br)
			if string(rest) != "second\n" {
				t.Errorf("rest of stream = %q, want \"second\\n\"", rest)
			}
		})
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return string(body)
}
