// Package restcatalog is edp's Iceberg REST catalog server: the protocol of
// the Apache Iceberg REST catalog OpenAPI specification
// (../shared/specs/iceberg-rest-catalog-open-api.yaml), served by `edp
// serve` under /iceberg, so that Trino, Spark, Flink, PyIceberg, DuckDB and
// iceberg-go read and commit to the same tables as edp's own SQL.
//
// It holds the protocol only — routes, JSON models, the error model and
// the one mapping from edp errors to the spec's error types — and reuses
// iceberg-go's types for metadata, updates and requirements. Every change
// goes through internal/lake, which asks policy with the request's
// Principal, keeps table files inside the warehouse and reports each
// change as a CommitEvent (audit entry and metrics). Authentication and
// the per-request audit entry are the API's: internal/server mounts the
// routes through internal/api.
//
// Imported by internal/server only.
package restcatalog
