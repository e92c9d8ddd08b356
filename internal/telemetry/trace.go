package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ErrInvalidTracing is wrapped by NewTracerProvider's errors for options it
// cannot use.
var ErrInvalidTracing = errors.New("invalid tracing options")

// TracingOptions configures NewTracerProvider.
type TracingOptions struct {
	// Endpoint is the OTLP/HTTP base URL of a collector, e.g.
	// http://127.0.0.1:4318; spans go to Endpoint + "/v1/traces". Plain
	// HTTP is used for http:// URLs. Empty disables tracing.
	Endpoint string
	// Headers are sent with every export, e.g. an authorization token.
	Headers map[string]string
	// ServiceName ("edp" when empty) and ServiceVersion become the
	// service.name and service.version resource attributes.
	ServiceName, ServiceVersion string
	// SampleRatio is the fraction of new traces recorded, in [0, 1]; 0
	// means 1 (all). Requests that arrive with a trace context follow the
	// caller's sampling decision.
	SampleRatio float64
}

// NewTracerProvider returns the tracer provider for opts and the function
// that flushes and stops it. With an empty Endpoint both are no-ops. The
// provider is not installed as OpenTelemetry's global: callers pass it to
// TraceHTTP and to whatever else creates spans, so that tests can run
// several side by side.
func NewTracerProvider(ctx context.Context, opts TracingOptions) (trace.TracerProvider, func(context.Context) error, error) {
	if opts.Endpoint == "" {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	u, err := url.Parse(opts.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, fmt.Errorf("%w: endpoint %q is not an http:// or https:// URL", ErrInvalidTracing, opts.Endpoint)
	}
	ratio := opts.SampleRatio
	if ratio < 0 || ratio > 1 {
		return nil, nil, fmt.Errorf("%w: sample ratio %v is outside [0, 1]", ErrInvalidTracing, ratio)
	}
	if ratio == 0 {
		ratio = 1
	}
	name := opts.ServiceName
	if name == "" {
		name = "edp"
	}

	// The OTLP specification appends the signal path to a base endpoint;
	// WithEndpointURL takes the full URL and picks plain HTTP for http://.
	u.Path = strings.TrimRight(u.Path, "/") + "/v1/traces"
	exporter, err := otlptracehttp.New(ctx,
		otlptracehttp.WithEndpointURL(u.String()),
		otlptracehttp.WithHeaders(opts.Headers),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("create otlp trace exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName(name), semconv.ServiceVersion(opts.ServiceVersion)),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("build trace resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	)
	return tp, tp.Shutdown, nil
}

// requestIDAttr is the span attribute carrying edp's request id; there is
// no semantic convention for one.
func requestIDAttr(id string) attribute.KeyValue {
	return attribute.String("edp.request_id", id)
}

// propagator reads W3C trace context and baggage from incoming requests.
// otelhttp would otherwise use OpenTelemetry's global propagator, which is a
// no-op unless someone installs one.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// TraceHTTP starts a server span for each request, using tp (and W3C trace
// context from the request headers). The span is named "METHOD route" after
// the ServeMux pattern that matched, as OpenTelemetry's HTTP conventions
// ask, and carries http.route and, when the request has one, the request id
// (edp.request_id). Requests that matched no pattern are named by their
// method alone. See InstrumentHTTP for where to place it.
func TraceHTTP(tp trace.TracerProvider, next http.Handler) http.Handler {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		span := trace.SpanFromContext(r.Context())
		if id := RequestID(r.Context()); id != "" {
			span.SetAttributes(requestIDAttr(id))
		}
		r, route := trackRoute(r)
		next.ServeHTTP(w, r)
		pattern := route()
		// otelhttp names the span before routing, when only the method is
		// known, and renames it only if the request it passed down was
		// routed itself; the holder covers the other cases.
		if route := routePath(pattern); route != "" {
			span.SetName(spanName(r.Method, route))
			span.SetAttributes(semconv.HTTPRoute(route))
		}
	})
	return otelhttp.NewHandler(inner, "",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(propagator),
		// edp's metrics are Prometheus (InstrumentHTTP); without this
		// otelhttp would record its own into the global meter provider.
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return spanName(r.Method, routePath(r.Pattern))
		}),
	)
}

// spanName follows OpenTelemetry's HTTP server span names: "{method}
// {route}", "{method}" without a route, and "HTTP" for non-standard methods.
func spanName(method, route string) string {
	if methodLabel(method) == labelOther {
		method = "HTTP"
	}
	if route == "" {
		return method
	}
	return method + " " + route
}
