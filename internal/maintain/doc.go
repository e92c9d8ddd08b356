// Package maintain keeps Iceberg tables healthy: it compacts small files
// and files carrying position deletes (read by DuckDB with the deletes
// applied, rewritten in one replace commit), merges manifests, expires old
// snapshots and removes orphan files, as each table's properties say.
//
// Run does it once for one table and reports what it did; Scheduler runs it
// as jobs on a schedule (from server/) and on demand, never two at once on
// one table. Commits go through lake/, so they are authorized, audited and
// counted like every other write. Imported by cli/ and server/.
package maintain
