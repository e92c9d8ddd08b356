// Package ingest loads files into edp tables: CSV (optionally gzip or zstd
// compressed), newline-delimited JSON or JSON arrays, and Parquet. A load is
// atomic — it commits one snapshot or nothing — and bad rows either fail it
// with their file, line and column, or are skipped, or quarantined into a
// <table>__rejected table. Files are read and written by a DuckDB locked
// down to the input files and the warehouse.
//
// Imported by cli/ (and later api/ for uploads).
package ingest
