// Package server wires edp's subsystems together and runs them.
//
// Open assembles the durable platform state behind a data directory — the
// lake (catalog and warehouse), user accounts, the audit log and the keys
// that sign its checkpoints — and connects every table commit to the audit
// log and the commit metrics. Both edp serve and the local CLI open it, so a
// commit made either way is audited the same.
//
// New builds the server on top: the SQL engine, access tokens, OIDC, jobs,
// tracing, metrics and the HTTP API, each started in one place in Run and
// stopped in reverse order on shutdown, which drains requests, lets loads
// finish (or cancels them, committing nothing) and signs the audit head.
//
// Imported only by cli.
package server
