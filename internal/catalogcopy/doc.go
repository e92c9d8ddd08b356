// Package catalogcopy moves edp's metadata database to another engine —
// in practice from the embedded SQLite file to PostgreSQL, so that several
// edp processes can share the catalog. It copies the Iceberg SQL catalog's
// rows (namespaces, their properties and each table's pointer to its
// current metadata file), the accounts (users and API keys) and the audit
// log with its signed checkpoints, byte for byte, in one transaction on the
// target, then checks that the copy reads back the same.
//
// Table data and metadata files are not touched: the catalog only points
// at them, so the target is used with the same warehouse directory.
//
// Imported by cli/ (`edp catalog migrate`). It builds on metadb, lake,
// auth and audit, whose schemas it creates on the target through their own
// migrations.
package catalogcopy
