// Package metadb opens edp's metadata database, whatever its engine: the
// one database that holds the Iceberg SQL catalog's tables, edp's accounts
// and its audit log. SQLite (sqlite://PATH) is the embedded default;
// PostgreSQL (postgres://… or postgresql://…) lets several edp processes
// share one catalog.
//
// It also owns the two things every user of that database needs to stay
// engine-neutral: Rebind, which turns the ? placeholders edp writes into
// PostgreSQL's $n, and Migrate, which applies each component's versioned
// schema migrations exactly once, in order, even when several processes
// start at the same moment, and refuses a database that a newer edp has
// migrated further than this one knows.
//
// Imported by lake/ (which opens it), auth/ and audit/ (which keep their
// tables in it). metadb imports nothing from internal/.
package metadb
