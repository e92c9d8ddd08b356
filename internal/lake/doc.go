// Package lake is edp's Apache Iceberg core, built on apache/iceberg-go: it
// opens the catalog (SQLite by default) and the warehouse, and offers the
// table operations the rest of edp needs — namespaces, create/evolve/drop
// tables, partition specs, snapshots, time travel, rollback and commits of
// data and position-delete files. Every operation asks policy first, and
// every commit names the job that made it in the snapshot summary.
//
// lake knows nothing about SQL or DuckDB; query/ and ingest/ write the files
// and hand them to lake to commit. Imported by query/, ingest/, cli/.
package lake
