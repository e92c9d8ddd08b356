// Package resilience is the one wrapper edp puts around calls that leave the
// process: the object store, Kafka admin requests, PostgreSQL, the embedding
// API, OIDC discovery, OTLP export and whatever comes next.
//
// It exists so that every such call gets the same three protections, chosen
// once instead of at each call site:
//
//   - a per-attempt timeout, so a hung peer costs a bounded wait;
//   - retries with jittered exponential backoff, but only for calls the caller
//     declares idempotent (or HTTP requests that are idempotent by method or
//     carry an Idempotency-Key), because retrying a write that may already
//     have happened can apply it twice;
//   - a circuit breaker per external service, so that when the service is
//     down edp fails fast with ErrOpen instead of piling up waiting requests,
//     and probes it again after a pause.
//
// A Caller wraps one external service: Do for arbitrary calls, Transport for
// HTTP clients. Retries and breaking come from github.com/sony/gobreaker and
// github.com/cenkalti/backoff rather than hand-written loops.
//
// Imported by the packages that talk to external services and by the wiring
// in server/ and cli/; resilience imports nothing from internal/.
package resilience
