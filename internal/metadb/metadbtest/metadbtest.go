// Package metadbtest gives tests a fresh metadata database on each engine
// edp supports, so one test runs against SQLite and PostgreSQL alike.
//
// PostgreSQL comes from EDP_TEST_POSTGRES, an admin DSN such as
// postgres://edp:edp@127.0.0.1:5432/postgres?sslmode=disable (.ci/run
// starts a server and sets it): every call creates its own database and
// drops it when the test ends. Without the variable PostgreSQL tests are
// skipped, except under CI (CI set), where they fail: CI must provide
// PostgreSQL.
//
// Test support only: imported by _test files.
package metadbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for the admin connection

	"github.com/edp-data/edp/internal/metadb"
)

// EnvPostgres names the variable holding the admin DSN.
const EnvPostgres = "EDP_TEST_POSTGRES"

// Engine is one kind of metadata database.
type Engine struct {
	Name string
	// URI returns the URI of a fresh, empty database for t, removed when
	// t ends. It skips (or under CI fails) t when the engine is missing.
	URI func(t testing.TB) string
}

// Engines lists every engine: SQLite, then PostgreSQL.
func Engines() []Engine {
	return []Engine{{Name: "sqlite", URI: SQLiteURI}, {Name: "postgres", URI: PostgresURI}}
}

// SQLiteURI returns sqlite:// and a file in a temporary directory.
func SQLiteURI(t testing.TB) string {
	t.Helper()
	return "sqlite://" + filepath.Join(t.TempDir(), "meta.db")
}

// PostgresURI creates a database edp_t_<random> on the server named by
// EDP_TEST_POSTGRES and returns its URI; the database is dropped, with any
// connections still open to it, when t ends.
func PostgresURI(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvPostgres)
	if admin == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: CI must provide PostgreSQL (see .ci/run)", EnvPostgres)
		}
		t.Skipf("%s is not set; skipping the PostgreSQL run", EnvPostgres)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", EnvPostgres, err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "edp_t_" + hex.EncodeToString(b[:])
	exec(t, admin, "CREATE DATABASE "+name)
	t.Cleanup(func() { exec(t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	u.Path = "/" + name
	return u.String()
}

func exec(t testing.TB, dsn, stmt string) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("%s: %v", EnvPostgres, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// Open opens uri with metadb.Open and closes it when t ends.
func Open(t testing.TB, uri string) *metadb.DB {
	t.Helper()
	db, err := metadb.Open(context.Background(), uri)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
