package metadb_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/edp-data/edp/internal/metadb"
	"github.com/edp-data/edp/internal/metadb/metadbtest"
)

func TestRebind(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"SELECT 1", "SELECT 1"},
		{"SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = $1 AND b = $2"},
		{"INSERT INTO t VALUES (?, ?, ?)", "INSERT INTO t VALUES ($1, $2, $3)"},
		{"SELECT '?' , ? FROM t", "SELECT '?' , $1 FROM t"},
		{"SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1"},
		{`SELECT "odd?col" FROM t WHERE x = ?`, `SELECT "odd?col" FROM t WHERE x = $1`},
		{"SELECT ? -- why?\n, ?", "SELECT $1 -- why?\n, $2"},
		{"SELECT /* ? */ ?", "SELECT /* ? */ $1"},
		{"SELECT 'unterminated ?", "SELECT 'unterminated ?"},
		{"SELECT ? -- trailing ?", "SELECT $1 -- trailing ?"},
	}
	pg := &metadb.DB{Dialect: metadb.Postgres}
	lite := &metadb.DB{Dialect: metadb.SQLite}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := pg.Rebind(tt.in); got != tt.want {
				t.Errorf("Rebind(%q) on postgres = %q, want %q", tt.in, got, tt.want)
			}
			if got := lite.Rebind(tt.in); got != tt.in {
				t.Errorf("Rebind(%q) on sqlite = %q, want it unchanged", tt.in, got)
			}
		})
	}
}

func TestOpenRejects(t *testing.T) {
	tests := []struct {
		uri  string
		want string
	}{
		{"mysql://u@h/db", `unsupported scheme "mysql"`},
		{"/var/lib/edp/catalog.db", "unsupported scheme"},
		{"sqlite://", "needs a file path"},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			_, err := metadb.Open(context.Background(), tt.uri)
			if !errors.Is(err, metadb.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open(%q) = %v, want ErrInvalid naming %q", tt.uri, err, tt.want)
			}
		})
	}
}

// TestOpenPostgresErrorHidesPassword connects with a wrong password: the
// error must say where it tried to connect, and must not carry the secret.
func TestOpenPostgresErrorHidesPassword(t *testing.T) {
	uri := metadbtest.PostgresURI(t)
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "not-the-password-4711"
	u.User = url.UserPassword(u.User.Username(), secret)
	_, err = metadb.Open(context.Background(), u.String())
	if err == nil {
		t.Fatal("Open with a wrong password succeeded")
	}
	db := strings.TrimPrefix(u.Path, "/")
	if msg := err.Error(); strings.Contains(msg, secret) || !strings.Contains(msg, db) || !strings.Contains(msg, u.Hostname()) {
		t.Fatalf("Open error = %q, want the host and %q named and no password", msg, db)
	}
}

func TestOpenEngines(t *testing.T) {
	for _, eng := range metadbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			db := metadbtest.Open(t, eng.URI(t))
			if string(db.Dialect) != eng.Name {
				t.Fatalf("Dialect = %q, want %q", db.Dialect, eng.Name)
			}
			var n int
			if err := db.QueryRow(db.Rebind(`SELECT CAST(? AS INTEGER) + CAST(? AS INTEGER)`), 2, 3).Scan(&n); err != nil || n != 5 {
				t.Fatalf("SELECT ? + ? = %d, %v; want 5", n, err)
			}
		})
	}
}

// counterMigrations creates a table and counts, in it, how often each
// migration ran: a migration applied twice would show a count of 2.
func counterMigrations(n int) []metadb.Migration {
	ms := []metadb.Migration{{
		Version: 1, Name: "create counter",
		SQLite:   []string{`CREATE TABLE runs (version INTEGER NOT NULL)`, `INSERT INTO runs VALUES (1)`},
		Postgres: []string{`CREATE TABLE runs (version INTEGER NOT NULL)`, `INSERT INTO runs VALUES (1)`},
	}}
	for v := 2; v <= n; v++ {
		stmt := fmt.Sprintf(`INSERT INTO runs VALUES (%d)`, v)
		ms = append(ms, metadb.Migration{Version: v, Name: fmt.Sprintf("step %d", v), SQLite: []string{stmt}, Postgres: []string{stmt}})
	}
	return ms
}

func runs(t *testing.T, db *metadb.DB) string {
	t.Helper()
	rows, err := db.Query(`SELECT version, count(*) FROM runs GROUP BY version ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v, n int
		if err := rows.Scan(&v, &n); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d×%d", v, n))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	for _, eng := range metadbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			db := metadbtest.Open(t, eng.URI(t))
			if v, err := db.SchemaVersion(ctx, "c"); err != nil || v != 0 {
				t.Fatalf("SchemaVersion of a new database = %d, %v; want 0", v, err)
			}
			if err := db.Migrate(ctx, "c", counterMigrations(2)); err != nil {
				t.Fatal(err)
			}
			if err := db.Migrate(ctx, "c", counterMigrations(2)); err != nil {
				t.Fatalf("Migrate again: %v", err)
			}
			if got := runs(t, db); got != "1×1 2×1" {
				t.Fatalf("runs after migrating twice to 2 = %s, want 1×1 2×1", got)
			}
			// A later release adds a migration: only it runs.
			if err := db.Migrate(ctx, "c", counterMigrations(3)); err != nil {
				t.Fatal(err)
			}
			if got := runs(t, db); got != "1×1 2×1 3×1" {
				t.Fatalf("runs after migrating to 3 = %s", got)
			}
			if v, err := db.SchemaVersion(ctx, "c"); err != nil || v != 3 {
				t.Fatalf("SchemaVersion = %d, %v; want 3", v, err)
			}
			// Components are versioned apart.
			if v, err := db.SchemaVersion(ctx, "other"); err != nil || v != 0 {
				t.Fatalf("SchemaVersion(other) = %d, %v; want 0", v, err)
			}
			var name string
			if err := db.QueryRow(db.Rebind(`SELECT name FROM edp_schema_migrations WHERE component = ? AND version = ?`), "c", 3).Scan(&name); err != nil || name != "step 3" {
				t.Fatalf("recorded name of c/3 = %q, %v", name, err)
			}

			// Old code on a newer database is refused.
			err := db.Migrate(ctx, "c", counterMigrations(2))
			if !errors.Is(err, metadb.ErrNewerSchema) || !strings.Contains(err.Error(), "version 3") {
				t.Fatalf("Migrate with older code = %v, want ErrNewerSchema naming version 3", err)
			}
		})
	}
}

// TestMigrateFailureRollsBack pins that a failing migration leaves neither
// its earlier statements nor its record behind, so it is retried whole.
func TestMigrateFailureRollsBack(t *testing.T) {
	ctx := context.Background()
	for _, eng := range metadbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			db := metadbtest.Open(t, eng.URI(t))
			bad := append(counterMigrations(1), metadb.Migration{
				Version: 2, Name: "half",
				SQLite:   []string{`CREATE TABLE half (x INTEGER)`, `INSERT INTO runs VALUES (2)`, `INSERT INTO no_such_table VALUES (1)`},
				Postgres: []string{`CREATE TABLE half (x INTEGER)`, `INSERT INTO runs VALUES (2)`, `INSERT INTO no_such_table VALUES (1)`},
			})
			err := db.Migrate(ctx, "c", bad)
			if err == nil || !strings.Contains(err.Error(), "version 2 (half)") {
				t.Fatalf("Migrate with a failing step = %v, want an error naming version 2 (half)", err)
			}
			if v, err := db.SchemaVersion(ctx, "c"); err != nil || v != 1 {
				t.Fatalf("SchemaVersion after the failure = %d, %v; want 1", v, err)
			}
			if got := runs(t, db); got != "1×1" {
				t.Fatalf("runs after the failure = %s, want 1×1", got)
			}
			good := append(counterMigrations(1), metadb.Migration{
				Version: 2, Name: "half",
				SQLite:   []string{`CREATE TABLE half (x INTEGER)`, `INSERT INTO runs VALUES (2)`},
				Postgres: []string{`CREATE TABLE half (x INTEGER)`, `INSERT INTO runs VALUES (2)`},
			})
			if err := db.Migrate(ctx, "c", good); err != nil {
				t.Fatalf("Migrate after fixing the step: %v (its table must not have survived the failed try)", err)
			}
			if got := runs(t, db); got != "1×1 2×1" {
				t.Fatalf("runs = %s, want 1×1 2×1", got)
			}
		})
	}
}

func TestMigrateRejectsBadLists(t *testing.T) {
	db := metadbtest.Open(t, metadbtest.SQLiteURI(t))
	tests := []struct {
		name string
		ms   []metadb.Migration
	}{
		{"starts at 2", []metadb.Migration{{Version: 2, Name: "x"}}},
		{"gap", []metadb.Migration{{Version: 1, Name: "x"}, {Version: 3, Name: "y"}}},
		{"no name", []metadb.Migration{{Version: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := db.Migrate(context.Background(), "c", tt.ms); !errors.Is(err, metadb.ErrInvalid) {
				t.Fatalf("Migrate(%s) = %v, want ErrInvalid", tt.name, err)
			}
		})
	}
}

// TestMigrateConcurrently starts several "processes" (separate pools) that
// migrate one database at once: every migration must run exactly once and
// none of them may fail.
func TestMigrateConcurrently(t *testing.T) {
	ctx := context.Background()
	for _, eng := range metadbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			uri := eng.URI(t)
			const procs = 6
			dbs := make([]*metadb.DB, procs)
			for i := range dbs {
				dbs[i] = metadbtest.Open(t, uri)
			}
			ms := counterMigrations(5)
			var wg sync.WaitGroup
			errs := make(chan error, procs)
			for _, db := range dbs {
				wg.Go(func() {
					if err := db.Migrate(ctx, "c", ms); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if got := runs(t, dbs[0]); got != "1×1 2×1 3×1 4×1 5×1" {
				t.Fatalf("runs = %s, want each of 1..5 once", got)
			}
		})
	}
}

// TestMigrateFunc runs a step given as a function, with the engine's own
// placeholders, inside the migration's transaction.
func TestMigrateFunc(t *testing.T) {
	ctx := context.Background()
	for _, eng := range metadbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			db := metadbtest.Open(t, eng.URI(t))
			var saw metadb.Dialect
			ms := append(counterMigrations(1), metadb.Migration{Version: 2, Name: "func",
				Func: func(ctx context.Context, q metadb.Querier, d metadb.Dialect) error {
					saw = d
					_, err := q.ExecContext(ctx, db.Rebind(`INSERT INTO runs VALUES (?)`), 2)
					return err
				}})
			if err := db.Migrate(ctx, "c", ms); err != nil {
				t.Fatal(err)
			}
			if saw != db.Dialect || runs(t, db) != "1×1 2×1" {
				t.Fatalf("func saw dialect %q and left runs %s", saw, runs(t, db))
			}
		})
	}
}

// TestPostgresTimeouts pins the bounds a PostgreSQL connection gets unless
// its URI sets its own.
func TestPostgresTimeouts(t *testing.T) {
	uri := metadbtest.PostgresURI(t)
	for _, tc := range []struct {
		suffix, want string
	}{
		{"", "1min"},
		{"&statement_timeout=5000", "5s"},
	} {
		u := uri
		if tc.suffix != "" {
			if strings.Contains(u, "?") {
				u += tc.suffix
			} else {
				u += "?" + tc.suffix[1:]
			}
		}
		db, err := metadb.Open(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := db.QueryRow("SHOW statement_timeout").Scan(&got); err != nil || got != tc.want {
			t.Errorf("statement_timeout with %q = %q, %v; want %s", tc.suffix, got, err, tc.want)
		}
		db.Close()
	}
}
