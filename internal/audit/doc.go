// Package audit is edp's tamper-evident audit log. Every authenticated
// action (logins, key changes, queries with the tables they read, rows
// written, DDL, denied requests) appends an Entry to a hash chain kept in the
// metadata database, and the chain head is periodically signed with an
// Ed25519 key. Verify walks the chain and the signed checkpoints and names the
// first entry that was modified, deleted, inserted, reordered or truncated.
//
// Append returns only once its entry is durable (committed with
// synchronous=FULL). Concurrent Appends are group-committed: one writer
// goroutine writes whatever is queued, in acceptance order, in one
// transaction with one fsync, so a server can audit every request without
// serializing its clients on the disk.
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
// depend on this package. audit imports nothing from internal/.
package audit
