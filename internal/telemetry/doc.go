// Package telemetry sets up what edp tells operators about itself: structured
// logs that carry each request's id, Prometheus metrics, and OpenTelemetry
// traces.
//
//   - NewLogger builds the process's *slog.Logger; records logged with a
//     context carry the request id stored by WithRequestID (and the trace
//     id when a span is active).
//   - Metrics owns a private Prometheus registry with the Go runtime and
//     process collectors and every edp_* metric: HTTP requests by route,
//     queries, commits, loads, authentication failures and audit appends.
//     Label values are bounded sets (route patterns, statement kinds,
//     outcomes), never user names, SQL text or table names, so the number of
//     series cannot grow with traffic. A nil *Metrics is valid and records
//     nothing, so tests and the CLI need no registry.
//   - NewTracerProvider exports spans over OTLP/HTTP, and TraceHTTP starts a
//     server span per request named after the ServeMux route. The provider is
//     returned, never installed globally: callers inject it.
//
// Imported by server/ and api/, and by the wiring in cli/; telemetry imports
// nothing from internal/.
package telemetry
