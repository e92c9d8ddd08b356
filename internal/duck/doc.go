// Package duck is edp's glue to embedded DuckDB: it opens locked-down
// DuckDB databases, maps types between Iceberg and DuckDB, renders the SQL
// that reads a table's planned Parquet files by Iceberg field id (with
// position deletes applied), and writes data and position-delete files with
// DuckDB's Parquet writer for lake/ to commit.
//
// Writing through DuckDB's COPY rather than iceberg-go's writer is a measured
// choice: DuckDB's writer is parallel and several times faster, and the files
// carry Iceberg field ids, so iceberg-go only reads their footers for stats.
//
// Imported by query/ and ingest/.
package duck
