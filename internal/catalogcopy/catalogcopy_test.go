package catalogcopy_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edp-data/edp/internal/audit"
	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/catalogcopy"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/lake/laketest"
	"github.com/edp-data/edp/internal/metadb"
	"github.com/edp-data/edp/internal/metadb/metadbtest"
	"github.com/edp-data/edp/internal/query"
)

const (
	password     = "correct horse battery staple 42"
	auditEntries = 300
	checkEvery   = 50
)

func adminCtx() context.Context {
	return auth.WithPrincipal(context.Background(), auth.Principal{Name: "tester", Roles: []string{auth.RoleAdmin}})
}

// source is a SQLite metadata database and warehouse with a bit of
// everything Migrate copies.
type source struct {
	uri, warehouse string
	pub            ed25519.PublicKey
	apiKey         string // alice's, valid
	revokedKey     string // alice's, revoked
	firstSnapshot  int64  // of sales.orders
	metadataFile   string // sales.small's current metadata file
}

// queries are run on the source and on the target; their results must be
// identical.
func queries(s *source) []string {
	return []string{
		"SELECT * FROM sales.orders ORDER BY id",
		"SELECT cat, count(*), sum(amt), min(note) FROM sales.orders GROUP BY cat ORDER BY cat",
		fmt.Sprintf("SELECT id, cat, amt FROM sales.orders FOR VERSION AS OF %d ORDER BY id", s.firstSnapshot),
		"SELECT * FROM sales.small ORDER BY k",
		"SELECT count(*) FROM ops.events WHERE day = DATE '2026-03-02'",
		"SHOW TABLES",
	}
}

func openEngine(t testing.TB, uri, warehouse string) (*lake.Lake, *query.Engine) {
	t.Helper()
	ctx := adminCtx()
	l, err := lake.Open(ctx, lake.Options{CatalogURI: uri, Warehouse: warehouse})
	if err != nil {
		t.Fatal(err)
	}
	e, err := query.New(ctx, l, query.Options{TempDir: t.TempDir()})
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(); l.Close() })
	return l, e
}

func exec(t testing.TB, e *query.Engine, sql string) {
	t.Helper()
	res, err := e.Exec(adminCtx(), sql)
	if err != nil {
		t.Fatalf("Exec(%q) = %v", sql, err)
	}
	res.Close()
}

// rowsOf runs sql and returns its columns and every row, one line each.
func rowsOf(t testing.TB, e *query.Engine, sql string) string {
	t.Helper()
	res, err := e.Exec(adminCtx(), sql)
	if err != nil {
		t.Fatalf("Exec(%q) = %v", sql, err)
	}
	defer res.Close()
	var b strings.Builder
	for _, c := range res.Rows.Columns() {
		fmt.Fprintf(&b, "%s:%s ", c.Name, c.Type)
	}
	b.WriteString("\n")
	for {
		row, err := res.Rows.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Exec(%q): %v", sql, err)
		}
		fmt.Fprintln(&b, row...)
	}
	return b.String()
}

func newSource(t *testing.T) *source {
	t.Helper()
	ctx := adminCtx()
	dir := t.TempDir()
	s := &source{uri: "sqlite://" + filepath.Join(dir, "catalog.db"), warehouse: filepath.Join(dir, "warehouse")}
	l, e := openEngine(t, s.uri, s.warehouse)
	for _, sql := range []string{
		"CREATE SCHEMA sales",
		"CREATE SCHEMA ops",
		"CREATE SCHEMA empty",
		"CREATE TABLE sales.orders (id BIGINT, cat VARCHAR, amt DOUBLE) PARTITIONED BY (cat)",
		"INSERT INTO sales.orders SELECT r, CASE WHEN r % 3 = 0 THEN 'a' WHEN r % 3 = 1 THEN 'b' ELSE 'c' END, r * 1.5 FROM range(60) t(r)",
		"ALTER TABLE sales.orders ADD COLUMN note VARCHAR",
		"ALTER TABLE sales.orders ADD PARTITION FIELD bucket(4, id)",
		"INSERT INTO sales.orders VALUES (100, 'a', 1.0, 'late'), (101, 'd', 2.0, 'new cat')",
		"DELETE FROM sales.orders WHERE id % 7 = 0",
		"UPDATE sales.orders SET note = 'touched' WHERE id % 5 = 1",
		"ALTER TABLE sales.orders RENAME COLUMN amt TO amount",
		"ALTER TABLE sales.orders RENAME COLUMN amount TO amt",
		"CREATE TABLE sales.small AS SELECT r AS k, 'v' || r AS v FROM range(5) t(r)",
		"CREATE TABLE ops.events (day DATE, n INT) PARTITIONED BY (day)",
		"INSERT INTO ops.events SELECT DATE '2026-03-01' + CAST(r % 3 AS INT), r FROM range(30) t(r)",
	} {
		exec(t, e, sql)
	}
	snaps, err := l.Snapshots(ctx, lake.Ident{Namespace: "sales", Name: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	s.firstSnapshot = snaps[0].ID
	small, err := l.LoadTable(ctx, lake.Ident{Namespace: "sales", Name: "small"})
	if err != nil {
		t.Fatal(err)
	}
	s.metadataFile = lake.LocalPath(small.MetadataLocation())

	users, err := auth.OpenStore(ctx, l.MetaDB())
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		name string
		role string
	}{{"alice", auth.RoleAdmin}, {"bob", auth.RoleReader}, {"carol", auth.RoleWriter}} {
		if err := users.AddUser(ctx, u.name, password, []string{u.role}); err != nil {
			t.Fatal(err)
		}
	}
	if s.apiKey, _, err = users.CreateAPIKey(ctx, "alice", 0); err != nil {
		t.Fatal(err)
	}
	var info auth.APIKeyInfo
	if s.revokedKey, info, err = users.CreateAPIKey(ctx, "alice", 0); err != nil {
		t.Fatal(err)
	}
	if err := users.RevokeAPIKey(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if err := users.SetDisabled(ctx, "carol", true); err != nil {
		t.Fatal(err)
	}

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s.pub = pub
	log, err := audit.Open(ctx, l.MetaDB(), audit.Options{Signer: priv, CheckpointEvery: checkEvery})
	if err != nil {
		t.Fatal(err)
	}
	for i := range auditEntries {
		rec := audit.Record{Principal: "alice", Action: "query", Resource: "sales.orders", Outcome: audit.OutcomeSuccess,
			Details: map[string]any{"n": i, "big": int64(1) << 60, "text": "ünïcode ✓", "nested": map[string]any{"z": 1, "a": []any{1.5, "x"}}}}
		if _, err := log.Append(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMigrate copies a SQLite metadata database into a fresh database on
// each engine (PostgreSQL is the point; SQLite keeps the test meaningful
// where no PostgreSQL is at hand) and checks that a lake on the target,
// with the same warehouse, answers every query as the source does.
func TestMigrate(t *testing.T) {
	for _, eng := range metadbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) { testMigrate(t, eng.URI(t)) })
	}
}

func testMigrate(t *testing.T, targetURI string) {
	ctx := adminCtx()
	src := newSource(t)
	from := metadbtest.Open(t, src.uri)
	to := metadbtest.Open(t, targetURI)
	opts := catalogcopy.Options{Warehouse: src.warehouse, AuditPublicKey: src.pub}

	// A table whose metadata file is gone is reported before anything is
	// written: the target does not even get tables.
	aside := src.metadataFile + ".aside"
	if err := os.Rename(src.metadataFile, aside); err != nil {
		t.Fatal(err)
	}
	_, err := catalogcopy.Migrate(ctx, from, to, opts)
	if !errors.Is(err, catalogcopy.ErrMissingMetadata) || !strings.Contains(err.Error(), "sales.small") || strings.Contains(err.Error(), "sales.orders") {
		t.Fatalf("Migrate with sales.small's metadata missing = %v, want ErrMissingMetadata naming sales.small only", err)
	}
	if n := tableCount(t, to); n != 0 {
		t.Fatalf("target has %d tables after a refused Migrate, want none", n)
	}
	if err := os.Rename(aside, src.metadataFile); err != nil {
		t.Fatal(err)
	}

	rep, err := catalogcopy.Migrate(ctx, from, to, opts)
	if err != nil {
		t.Fatalf("Migrate = %v", err)
	}
	wantCounts := map[string]int64{
		catalogcopy.KindTables: 3, catalogcopy.KindUsers: 3, catalogcopy.KindAPIKeys: 2,
		catalogcopy.KindAuditEntries: auditEntries, catalogcopy.KindAuditCheckpoints: auditEntries / checkEvery,
	}
	for kind, want := range wantCounts {
		if got := rep.Rows(kind); got != want {
			t.Errorf("Report.Rows(%q) = %d, want %d", kind, got, want)
		}
	}
	if rep.Rows(catalogcopy.KindNamespaces) < 3 || rep.Namespaces != 3 || rep.TablesLoaded != 3 ||
		rep.AuditHead != auditEntries || rep.AuditCheckpoints != auditEntries/checkEvery {
		t.Errorf("Report = %+v, want 3 namespaces, 3 tables loaded, audit head %d with %d checkpoints", rep, auditEntries, auditEntries/checkEvery)
	}

	// The same warehouse, a lake on the target: every answer is the same.
	_, srcEngine := openEngine(t, src.uri, src.warehouse)
	dstLake, dstEngine := openEngine(t, targetURI, src.warehouse)
	for _, q := range queries(src) {
		want, got := rowsOf(t, srcEngine, q), rowsOf(t, dstEngine, q)
		if got != want {
			t.Errorf("%s on the target =\n%s\nwant (as on the source)\n%s", q, got, want)
		}
	}
	nss, err := dstLake.ListNamespaces(ctx)
	if err != nil || strings.Join(nss, ",") != "empty,ops,sales" {
		t.Errorf("ListNamespaces on the target = %v, %v; want empty,ops,sales", nss, err)
	}
	// The target is a working catalog: it takes commits.
	exec(t, dstEngine, "INSERT INTO sales.small VALUES (99, 'after')")
	if got := rowsOf(t, dstEngine, "SELECT count(*) FROM sales.small"); !strings.HasSuffix(got, "\n6\n") {
		t.Errorf("sales.small after an INSERT on the target = %q, want 6 rows", got)
	}

	users, err := auth.OpenStore(ctx, to)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := users.Authenticate(ctx, "alice", password); err != nil || p.Name != "alice" || !p.HasRole(auth.RoleAdmin) {
		t.Errorf("Authenticate(alice) on the target = %+v, %v; want alice as admin", p, err)
	}
	if _, err := users.Authenticate(ctx, "bob", password+"x"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("Authenticate(bob, wrong password) on the target = %v, want ErrBadCredentials", err)
	}
	if _, err := users.Authenticate(ctx, "carol", password); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("Authenticate(carol, disabled) on the target = %v, want ErrBadCredentials", err)
	}
	if p, err := users.AuthenticateAPIKey(ctx, src.apiKey); err != nil || p.Name != "alice" {
		t.Errorf("AuthenticateAPIKey on the target = %+v, %v; want alice", p, err)
	}
	if _, err := users.AuthenticateAPIKey(ctx, src.revokedKey); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("AuthenticateAPIKey(revoked) on the target = %v, want ErrBadCredentials", err)
	}

	log, err := audit.Open(ctx, to, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	vrep, err := log.Verify(ctx, src.pub)
	log.Close()
	if err != nil || !vrep.OK() || vrep.Entries != auditEntries || vrep.Checkpoints != auditEntries/checkEvery {
		t.Fatalf("audit Verify on the target = %+v, %v; want %d entries, %d checkpoints, no problem", vrep, err, auditEntries, auditEntries/checkEvery)
	}
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	if log, err = audit.Open(ctx, to, audit.Options{}); err != nil {
		t.Fatal(err)
	}
	vrep, err = log.Verify(ctx, other)
	log.Close()
	if err != nil || vrep.OK() {
		t.Fatalf("audit Verify on the target with another key = %+v, %v; want a bad signature", vrep, err)
	}

	// The target is no longer empty: a second copy is refused, and
	// changes nothing.
	if _, err := catalogcopy.Migrate(ctx, from, to, opts); !errors.Is(err, catalogcopy.ErrNotEmpty) {
		t.Fatalf("second Migrate = %v, want ErrNotEmpty", err)
	}
	if got := rowsOf(t, dstEngine, "SELECT count(*) FROM sales.small"); !strings.HasSuffix(got, "\n6\n") {
		t.Errorf("sales.small after a refused Migrate = %q, want the 6 rows it had", got)
	}
	// With Force the target's contents are replaced by the source's.
	opts.Force = true
	if _, err := catalogcopy.Migrate(ctx, from, to, opts); err != nil {
		t.Fatalf("Migrate with Force = %v", err)
	}
	if got, want := rowsOf(t, dstEngine, "SELECT * FROM sales.small ORDER BY k"), rowsOf(t, srcEngine, "SELECT * FROM sales.small ORDER BY k"); got != want {
		t.Errorf("sales.small after Migrate with Force =\n%s\nwant the source's\n%s", got, want)
	}
}

// tableCount counts the tables in db's current schema.
func tableCount(t *testing.T, db *metadb.DB) int {
	t.Helper()
	q := `SELECT count(*) FROM sqlite_master WHERE type = 'table'`
	if db.Dialect == metadb.Postgres {
		q = `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()`
	}
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMigrateRefusesBadAuditLog pins that a source whose audit chain does
// not verify is refused before the copy, so the problem is not blamed on
// the target.
func TestMigrateRefusesBadAuditLog(t *testing.T) {
	ctx := adminCtx()
	src := newSource(t)
	from := metadbtest.Open(t, src.uri)
	if _, err := from.Exec(`UPDATE edp_audit_log SET principal = 'mallory' WHERE seq = 7`); err != nil {
		t.Fatal(err)
	}
	to := metadbtest.Open(t, metadbtest.SQLiteURI(t))
	_, err := catalogcopy.Migrate(ctx, from, to, catalogcopy.Options{Warehouse: src.warehouse, AuditPublicKey: src.pub})
	if !errors.Is(err, catalogcopy.ErrInvalid) || !strings.Contains(err.Error(), "entry 7") {
		t.Fatalf("Migrate of a modified audit log = %v, want ErrInvalid naming entry 7", err)
	}
	if n := tableCount(t, to); n != 0 {
		t.Fatalf("target has %d tables after a refused Migrate, want none", n)
	}
}

// TestMigrateS3Warehouse copies the catalog of a lake whose warehouse is on
// S3: the metadata files are checked in the store, and a lake on the
// target with the same warehouse answers as the source did.
func TestMigrateS3Warehouse(t *testing.T) {
	for _, eng := range metadbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			st := laketest.NewS3(t)
			ctx := adminCtx()
			src, err := lake.Open(ctx, st.Options(lake.Options{}))
			if err != nil {
				t.Fatal(err)
			}
			e, err := query.New(ctx, src, query.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{"CREATE SCHEMA s", "CREATE TABLE s.t (id INT, v VARCHAR) PARTITIONED BY (v)",
				"INSERT INTO s.t SELECT r, 'v' || (r % 3) FROM range(100) t(r)", "DELETE FROM s.t WHERE id < 10"} {
				exec(t, e, q)
			}
			want := rowsOf(t, e, "SELECT count(*), sum(id), count(DISTINCT v) FROM s.t")
			e.Close()
			src.Close()

			target := eng.URI(t)
			from, to := metadbtest.Open(t, st.CatalogURI), metadbtest.Open(t, target)
			if _, err := catalogcopy.Migrate(ctx, from, to, catalogcopy.Options{Warehouse: st.Warehouse, IOProps: st.Storage.Props}); err != nil {
				t.Fatalf("Migrate = %v", err)
			}
			moved := st
			moved.CatalogURI = target
			moved.LocalDir = t.TempDir()
			l, err := lake.Open(ctx, moved.Options(lake.Options{}))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			e2, err := query.New(ctx, l, query.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer e2.Close()
			if got := rowsOf(t, e2, "SELECT count(*), sum(id), count(DISTINCT v) FROM s.t"); got != want {
				t.Errorf("after the migration: %s, want %s", got, want)
			}

			// A metadata file missing from the store is named before anything
			// is written.
			other := metadbtest.Open(t, eng.URI(t))
			tbl, err := l.LoadTable(ctx, lake.Ident{Namespace: "s", Name: "t"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := to.ExecContext(ctx, to.Rebind("UPDATE iceberg_tables SET metadata_location = ?"), tbl.Location()+"/metadata/gone.metadata.json"); err != nil {
				t.Fatal(err)
			}
			_, err = catalogcopy.Migrate(ctx, to, other, catalogcopy.Options{Warehouse: st.Warehouse, IOProps: st.Storage.Props})
			if !errors.Is(err, catalogcopy.ErrMissingMetadata) || !strings.Contains(err.Error(), "gone.metadata.json") {
				t.Errorf("Migrate with a missing metadata object = %v, want ErrMissingMetadata naming it", err)
			}
		})
	}
}
