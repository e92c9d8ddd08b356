// Package audit is edp's tamper-evident audit log. Every authenticated
// action (logins, key changes, queries with the tables they read, rows
// written, DDL, denied requests) appends an Entry to a hash chain kept in the
// metadata database, and the chain head is periodically signed with an
// Ed25519 key. Verify walks the chain and the signed checkpoints and names the
// first entry that was modified, deleted, inserted, reordered or truncated.
//
// The metadata database is SQLite or PostgreSQL (see internal/metadb); the
// tables are created by versioned migrations. Append returns only once its
// entry is durable: committed with synchronous=FULL on SQLite, and under
// synchronous_commit (on by default) on PostgreSQL. Concurrent Appends are
// group-committed: one writer goroutine writes whatever is queued, in
// acceptance order, in one transaction with one fsync, so a server can audit
// every request without serializing its clients on the disk. Writers in
// several processes chain correctly: each batch holds a lock across
// processes (BEGIN IMMEDIATE on SQLite, LOCK TABLE … IN EXCLUSIVE MODE on
// PostgreSQL) from its read of the head to its commit.
//
// What it guarantees: anyone who can write the database but does not hold the
// signing key cannot change, remove or reorder entries up to the last
// checkpoint without Verify noticing. Entries after the last checkpoint are
// covered only by the hash chain: someone with write access can rewrite or
// drop that unsigned tail (recomputing the hashes), and can delete the newest
// checkpoints together with the entries they cover. Operators who need more
// should record Report.LastCheckpoint (or the checkpoints themselves)
// somewhere the database's writers cannot reach.
//
// Imported by the wiring in server/, api/ and cli/; lake/ and query/ will
// reach it later through a small interface they define, so that they do not
// depend on this package. audit imports only internal/metadb.
package audit
