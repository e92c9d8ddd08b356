// Package query runs edp SQL: it splits and classifies statements
// (sqlstmt), checks every SELECT against an allow-list of DuckDB's own parse
// tree, resolves namespace.table references to the Parquet files iceberg-go
// plans (time travel included), and runs the result on a locked-down
// DuckDB. DML and DDL become Iceberg commits through lake/.
//
// Imported by cli/ (and later api/, pgwire/, mcp/).
package query
