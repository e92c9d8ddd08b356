package cli

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edp-data/edp/internal/metadb/metadbtest"
)

// runWithCatalog runs the command line against dataDir.
func runWithCatalog(t *testing.T, dataDir string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb strings.Builder
	code := Run(context.Background(), append([]string{"--data-dir", dataDir}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func mustRun(t *testing.T, dataDir string, args ...string) string {
	t.Helper()
	code, out, errs := runWithCatalog(t, dataDir, args...)
	if code != 0 {
		t.Fatalf("edp %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// TestCatalogMigrateCommand moves a data directory's SQLite catalog to
// PostgreSQL with edp catalog migrate; edp pointed at PostgreSQL with the
// same data directory then answers as before and its audit log verifies.
func TestCatalogMigrateCommand(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "sql", "CREATE SCHEMA s")
	mustRun(t, dir, "sql", "CREATE TABLE s.t AS SELECT r AS a, 'x' || r AS b FROM range(10) t(r)")
	mustRun(t, dir, "sql", "DELETE FROM s.t WHERE a > 6")
	const q = "SELECT a, b FROM s.t ORDER BY a"
	want := mustRun(t, dir, "sql", "--output", "csv", q)

	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"no target", []string{"catalog", "migrate"}, `"to" not set`},
		{"not postgres", []string{"catalog", "migrate", "--to", "sqlite:///tmp/x.db"}, "must be a postgres:// URI"},
		{"source not sqlite", []string{"--catalog-uri", "postgres://u:secret@127.0.0.1:1/db", "catalog", "migrate", "--to", "postgres://u@127.0.0.1:1/db"}, "copies from a SQLite catalog"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runWithCatalog(t, dir, tt.args...)
			if code == 0 || !strings.Contains(errs, tt.msg) || strings.Contains(errs, "secret") {
				t.Fatalf("edp %s: exit %d, stderr %q; want a refusal saying %q, without the password", strings.Join(tt.args, " "), code, errs, tt.msg)
			}
		})
	}

	pg := metadbtest.PostgresURI(t)
	out := mustRun(t, dir, "catalog", "migrate", "--to", pg)
	for _, s := range []string{"copied " + filepath.Join(dir, "catalog.db"), "audit entries", "1 tables load", "audit log intact", "next: set catalog.uri"} {
		if !strings.Contains(out, s) {
			t.Errorf("edp catalog migrate output lacks %q:\n%s", s, out)
		}
	}
	if got := mustRun(t, dir, "--catalog-uri", pg, "sql", "--output", "csv", q); got != want {
		t.Errorf("%s on PostgreSQL = %q, want %q as on SQLite", q, got, want)
	}
	if out := mustRun(t, dir, "--catalog-uri", pg, "audit", "verify"); !strings.Contains(out, "audit log intact") {
		t.Errorf("edp audit verify on PostgreSQL:\n%s", out)
	}
	if code, _, errs := runWithCatalog(t, dir, "catalog", "migrate", "--to", pg); code == 0 || !strings.Contains(errs, "not empty") {
		t.Errorf("second edp catalog migrate: exit %d, stderr %q; want a refusal of the non-empty target", code, errs)
	}
}

// TestTableRegisterCommand drops a table without purging it and registers
// its newest metadata file under a new name.
func TestTableRegisterCommand(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "sql", "CREATE SCHEMA s")
	mustRun(t, dir, "sql", "CREATE TABLE s.t AS SELECT r AS a FROM range(4) t(r)")
	mustRun(t, dir, "sql", "INSERT INTO s.t VALUES (10)")
	want := mustRun(t, dir, "sql", "--output", "csv", "SELECT a FROM s.t ORDER BY a")
	var newest string
	err := filepath.WalkDir(filepath.Join(dir, "warehouse"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".metadata.json") && filepath.Base(p) > filepath.Base(newest) {
			newest = p
		}
		return err
	})
	if err != nil || newest == "" {
		t.Fatalf("no metadata file in the warehouse (%v)", err)
	}
	mustRun(t, dir, "table", "drop", "s.t")

	out := mustRun(t, dir, "table", "register", "s.back", newest)
	if !strings.Contains(out, "registered s.back from") || !strings.Contains(out, "of 2") {
		t.Errorf("edp table register output = %q, want the table and its 2 snapshots named", out)
	}
	if got := mustRun(t, dir, "sql", "--output", "csv", "SELECT a FROM s.back ORDER BY a"); got != want {
		t.Errorf("s.back = %q, want %q as s.t was", got, want)
	}
	if code, _, errs := runWithCatalog(t, dir, "table", "register", "s.back", newest); code == 0 || !strings.Contains(errs, "already exists") {
		t.Errorf("registering s.back again: exit %d, stderr %q; want already exists", code, errs)
	}
	if out := mustRun(t, dir, "audit", "search", "--action", "commit", "--resource", "s.back", "--output", "csv"); !strings.Contains(out, "register") {
		t.Errorf("audit entries for s.back lack the register commit:\n%s", out)
	}
}
