package telemetry_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/edp-data/edp/internal/telemetry"
	"github.com/edp-data/edp/internal/telemetry/otlptest"
)

func TestTraceHTTPExportsOTLP(t *testing.T) {
	col := otlptest.New(t)

	ctx := context.Background()
	tp, shutdown, err := telemetry.NewTracerProvider(ctx, telemetry.TracingOptions{
		Endpoint:       col.URL,
		Headers:        map[string]string{"Authorization": "Bearer t0ken"},
		ServiceName:    "edp-test",
		ServiceVersion: "1.2.3",
	})
	if err != nil {
		t.Fatal(err)
	}
	if otel.GetTracerProvider() == tp {
		t.Error("NewTracerProvider installed the global tracer provider")
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/tables/{name}", func(w http.ResponseWriter, r *http.Request) {
		_, span := tp.Tracer("edp/test").Start(r.Context(), "load table")
		span.End()
	})
	// The request id middleware runs inside the tracing one here, as it
	// may in the server: the id must still reach the span.
	// It passes a copy of the request down, so the mux is wrapped in
	// RecordRoute.
	routed := telemetry.RecordRoute(mux)
	withID := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		routed.ServeHTTP(w, r.WithContext(telemetry.WithRequestID(r.Context(), "req-1")))
	})
	app := httptest.NewServer(telemetry.TraceHTTP(tp, withID))
	defer app.Close()

	// A caller's trace context is continued.
	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest("GET", app.URL+"/v1/tables/orders", nil)
	req.Header.Set("traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	get(t, app.URL+"/no/such/path")

	if err := shutdown(ctx); err != nil { // flushes the batch
		t.Fatalf("shutdown: %v", err)
	}

	if len(col.Spans()) != 3 {
		t.Errorf("collector received %d spans, want 3", len(col.Spans()))
	}
	server := col.Span(t, "GET /v1/tables/{name}")
	child := col.Span(t, "load table")
	unmatched := col.Span(t, "GET")

	if server.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("server span kind = %v, want SERVER", server.GetKind())
	}
	if got := otlptest.Attr(server.GetAttributes(), "http.route"); got != "/v1/tables/{name}" {
		t.Errorf("server span http.route = %q, want %q", got, "/v1/tables/{name}")
	}
	if got := otlptest.Attr(server.GetAttributes(), "edp.request_id"); got != "req-1" {
		t.Errorf("server span edp.request_id = %q, want %q", got, "req-1")
	}
	if got := hex.EncodeToString(server.GetTraceId()); got != callerTrace {
		t.Errorf("server span trace id = %s, want the caller's %s", got, callerTrace)
	}
	if got := hex.EncodeToString(server.GetParentSpanId()); got != callerSpan {
		t.Errorf("server span parent = %s, want the caller's span %s", got, callerSpan)
	}
	if !bytes.Equal(child.GetParentSpanId(), server.GetSpanId()) || !bytes.Equal(child.GetTraceId(), server.GetTraceId()) {
		t.Errorf("child span parent = %x in trace %x, want server span %x in trace %x",
			child.GetParentSpanId(), child.GetTraceId(), server.GetSpanId(), server.GetTraceId())
	}
	if got := otlptest.Attr(unmatched.GetAttributes(), "http.route"); got != "" {
		t.Errorf("unmatched request has http.route %q, want none", got)
	}
	for i, s := range col.Services() {
		if s != "edp-test" {
			t.Errorf("span %q has service.name %q, want %q", col.Spans()[i].GetName(), s, "edp-test")
		}
	}
	for _, h := range col.Headers() {
		if h.Get("Authorization") != "Bearer t0ken" {
			t.Errorf("export request Authorization = %q, want the configured header", h.Get("Authorization"))
		}
	}
}

// With the request id assigned before TraceHTTP, the span picks it up from
// the request's context at the start.
func TestTraceHTTPRequestIDFromOuterContext(t *testing.T) {
	col := otlptest.New(t)
	ctx := context.Background()
	tp, shutdown, err := telemetry.NewTracerProvider(ctx, telemetry.TracingOptions{Endpoint: col.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/query", func(http.ResponseWriter, *http.Request) {})
	h := telemetry.TraceHTTP(tp, mux)
	withID := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(telemetry.WithRequestID(r.Context(), "req-outer")))
	})
	withID.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/query", nil))
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s := col.Span(t, "POST /v1/query")
	if got := otlptest.Attr(s.GetAttributes(), "edp.request_id"); got != "req-outer" {
		t.Errorf("edp.request_id = %q, want %q", got, "req-outer")
	}
	if got := col.Services()[0]; got != "edp" {
		t.Errorf("default service.name = %q, want %q", got, "edp")
	}
}

func TestNewTracerProviderDisabled(t *testing.T) {
	tp, shutdown, err := telemetry.NewTracerProvider(context.Background(), telemetry.TracingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("x").Start(context.Background(), "op")
	if span.IsRecording() || span.SpanContext().IsValid() {
		t.Error("empty Endpoint: provider records spans, want a no-op provider")
	}
	if err := shutdown(context.Background()); err != nil {
		t.Errorf("no-op shutdown = %v, want nil", err)
	}
}

func TestNewTracerProviderInvalid(t *testing.T) {
	tests := []struct {
		name string
		opts telemetry.TracingOptions
	}{
		{"no scheme", telemetry.TracingOptions{Endpoint: "127.0.0.1:4318"}},
		{"grpc scheme", telemetry.TracingOptions{Endpoint: "grpc://collector:4317"}},
		{"no host", telemetry.TracingOptions{Endpoint: "http://"}},
		{"negative ratio", telemetry.TracingOptions{Endpoint: "http://127.0.0.1:4318", SampleRatio: -0.1}},
		{"ratio above 1", telemetry.TracingOptions{Endpoint: "http://127.0.0.1:4318", SampleRatio: 1.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := telemetry.NewTracerProvider(context.Background(), tt.opts)
			if !errors.Is(err, telemetry.ErrInvalidTracing) {
				t.Errorf("NewTracerProvider(%+v) error = %v, want ErrInvalidTracing", tt.opts, err)
			}
		})
	}
}
