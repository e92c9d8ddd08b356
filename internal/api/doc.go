// Package api is edp's HTTP API, version 1: the whole server handler behind
// `edp serve` — liveness and readiness probes, Prometheus metrics, the
// OpenAPI 3.1 document, and /api/v1 routes for logins and tokens,
// namespaces and tables, SQL with streamed results, file loads run as jobs,
// accounts and API keys, and the audit log.
//
// Seams it keeps (see docs/ARCHITECTURE.md):
//   - one route table (method, pattern, operation id, handler, whether it
//     needs authentication) registers the ServeMux and is what the tests and
//     the OpenAPI check iterate;
//   - one function maps errors to an HTTP status and a stable error body
//     {"code", "message", "details"};
//   - every request is authenticated (except the probes and the login) and
//     its Principal rides in the context, so lake/ and query/ ask policy as
//     they do for the CLI;
//   - every authenticated request appends exactly one audit entry, durable
//     before the first byte of the response is written.
//
// Imported by server/, which wires it into `edp serve`.
package api
