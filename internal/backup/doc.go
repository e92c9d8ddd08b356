// Package backup copies edp's metadata database — the Iceberg catalog's table
// pointers, user accounts, API keys and the tamper-evident audit log — to a
// single file, and puts such a file back.
//
// Backup works while edp serve is running: SQLite's VACUUM INTO reads one
// consistent snapshot of the live WAL database and writes it as a compact,
// self-contained file, which is then checked (PRAGMA integrity_check) before
// it is renamed into place. Restore refuses a database that another process
// still has open, keeps the database it replaces beside it so the restore can
// be undone, and installs the backup atomically.
//
// Only the metadata database is covered. Table data and Iceberg metadata
// files live in the warehouse, where they are written once and never
// changed, and the audit signing key and token keyring live in the data
// directory's keys/; both are copied separately (see docs/OPERATIONS.md).
// A PostgreSQL catalog is backed up with pg_dump and restored with
// pg_restore, so this package refuses postgres:// catalogs.
//
// Imported by cli/. backup imports nothing from internal/: it reads the
// database with plain SQL and names edp's tables itself.
package backup
