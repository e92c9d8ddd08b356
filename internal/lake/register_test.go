package lake_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/lake/laketest"
	"github.com/edp-data/edp/internal/metadb/metadbtest"
	"github.com/edp-data/edp/internal/policy"
	"github.com/edp-data/edp/internal/query"
)

// rowsOf runs sql and returns every row, one line each.
func rowsOf(t testing.TB, e *query.Engine, sql string) string {
	t.Helper()
	res, err := e.Exec(adminCtx(), sql)
	if err != nil {
		t.Fatalf("Exec(%q) = %v", sql, err)
	}
	defer res.Close()
	var b strings.Builder
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

// TestRegister drops a partitioned, evolved table with deletes from the
// catalog without purging it and registers its metadata file under a new
// name: the rows, every snapshot and time travel to the first must be as
// they were, and the table must take commits again.
func TestRegister(t *testing.T) {
	for _, eng := range metadbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) { testRegister(t, eng.URI(t)) })
	}
}

func testRegister(t *testing.T, uri string) {
	ctx := adminCtx()
	warehouse := filepath.Join(t.TempDir(), "warehouse")
	var mu sync.Mutex
	var events []lake.CommitEvent
	l, err := lake.Open(ctx, lake.Options{CatalogURI: uri, Warehouse: warehouse,
		OnCommit: func(_ context.Context, ev lake.CommitEvent) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := query.New(ctx, l, query.Options{TempDir: t.TempDir()})
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(); l.Close() })
	for _, sql := range []string{
		"CREATE SCHEMA r",
		"CREATE TABLE r.t (id BIGINT, cat VARCHAR) PARTITIONED BY (cat)",
		"INSERT INTO r.t VALUES (1, 'a'), (2, 'b'), (3, 'a')",
		"ALTER TABLE r.t ADD COLUMN v DOUBLE",
		"INSERT INTO r.t VALUES (4, 'c', 4.5)",
		"DELETE FROM r.t WHERE id = 2",
	} {
		if err := run(ctx, e, sql); err != nil {
			t.Fatalf("Exec(%q) = %v", sql, err)
		}
	}
	old := lake.Ident{Namespace: "r", Name: "t"}
	tbl, err := l.LoadTable(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	metaLoc := tbl.MetadataLocation()
	snaps, err := l.Snapshots(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	const query = "SELECT id, cat, v FROM %s ORDER BY id"
	wantRows := rowsOf(t, e, fmt.Sprintf(query, "r.t"))
	wantFirst := rowsOf(t, e, fmt.Sprintf("SELECT id, cat FROM r.t FOR VERSION AS OF %d ORDER BY id", snaps[0].ID))
	if err := l.DropTable(ctx, old, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(lake.LocalPath(metaLoc)); err != nil {
		t.Fatalf("metadata file after a drop without purge: %v", err)
	}

	id := lake.Ident{Namespace: "r", Name: "back"}
	mu.Lock()
	events = nil
	mu.Unlock()
	reg, err := l.Register(ctx, id, lake.LocalPath(metaLoc))
	if err != nil {
		t.Fatalf("Register(%s, %s) = %v", id, metaLoc, err)
	}
	if got := reg.CurrentSnapshot().SnapshotID; got != snaps[len(snaps)-1].ID {
		t.Errorf("registered table's current snapshot = %d, want %d", got, snaps[len(snaps)-1].ID)
	}
	mu.Lock()
	if len(events) != 1 || events[0].Operation != lake.OpRegister || events[0].Err != nil || events[0].Table != id {
		t.Errorf("events of Register = %+v, want one successful %q on %s", events, lake.OpRegister, id)
	}
	mu.Unlock()
	gotSnaps, err := l.Snapshots(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(gotSnaps) != len(snaps) {
		t.Fatalf("registered table has %d snapshots, want %d", len(gotSnaps), len(snaps))
	}
	for i := range snaps {
		if gotSnaps[i].ID != snaps[i].ID || gotSnaps[i].Operation != snaps[i].Operation {
			t.Errorf("snapshot %d = %d %s, want %d %s", i, gotSnaps[i].ID, gotSnaps[i].Operation, snaps[i].ID, snaps[i].Operation)
		}
	}
	if got := rowsOf(t, e, fmt.Sprintf(query, "r.back")); got != wantRows {
		t.Errorf("rows of the registered table =\n%s\nwant\n%s", got, wantRows)
	}
	if got := rowsOf(t, e, fmt.Sprintf("SELECT id, cat FROM r.back FOR VERSION AS OF %d ORDER BY id", snaps[0].ID)); got != wantFirst {
		t.Errorf("time travel to the first snapshot =\n%s\nwant\n%s", got, wantFirst)
	}
	if err := run(ctx, e, "INSERT INTO r.back VALUES (5, 'a', 1.0)"); err != nil {
		t.Fatalf("INSERT into the registered table: %v", err)
	}
	if got := count(t, e, "SELECT count(*) FROM r.back"); got != "4" {
		t.Errorf("rows after an INSERT into the registered table = %s, want 4", got)
	}

	notJSON := filepath.Join(warehouse, "notes.metadata.json")
	outside := filepath.Join(t.TempDir(), "v1.metadata.json")
	bytes, err := os.ReadFile(lake.LocalPath(metaLoc))
	if err != nil {
		t.Fatal(err)
	}
	for path, data := range map[string]string{notJSON: "this is not JSON", outside: string(bytes)} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A table location outside the warehouse: later commits would write there.
	strayLoc := filepath.Join(warehouse, "stray.metadata.json")
	stray := strings.ReplaceAll(string(bytes), warehouse, filepath.Join(t.TempDir(), "elsewhere"))
	if err := os.WriteFile(strayLoc, []byte(stray), 0o644); err != nil {
		t.Fatal(err)
	}
	reader := auth.WithPrincipal(context.Background(), auth.Principal{Name: "rd", Roles: []string{auth.RoleReader}})
	tests := []struct {
		name string
		ctx  context.Context
		id   lake.Ident
		loc  string
		want error
		msg  string // the error must say this
	}{
		{"outside the warehouse", ctx, lake.Ident{Namespace: "r", Name: "x"}, outside, lake.ErrInvalid, "outside the warehouse"},
		{"relative path", ctx, lake.Ident{Namespace: "r", Name: "x"}, "r/notes.metadata.json", lake.ErrInvalid, "absolute path"},
		{"remote location", ctx, lake.Ident{Namespace: "r", Name: "x"}, "s3://bucket/t/metadata/v1.metadata.json", lake.ErrInvalid, "only local files"},
		{"not JSON", ctx, lake.Ident{Namespace: "r", Name: "x"}, notJSON, lake.ErrInvalid, "not valid Iceberg table metadata"},
		{"missing file", ctx, lake.Ident{Namespace: "r", Name: "x"}, filepath.Join(warehouse, "none.metadata.json"), os.ErrNotExist, "read metadata"},
		{"table location outside the warehouse", ctx, lake.Ident{Namespace: "r", Name: "x"}, strayLoc, lake.ErrInvalid, "table location"},
		{"existing name", ctx, id, metaLoc, lake.ErrTableExists, "r.back"},
		{"no such namespace", ctx, lake.Ident{Namespace: "nope", Name: "x"}, metaLoc, lake.ErrNoSuchNamespace, "nope"},
		{"another table's directory", ctx, lake.Ident{Namespace: "r", Name: "x"}, metaLoc, lake.ErrInvalid, "r.back"},
		{"reader principal", reader, lake.Ident{Namespace: "r", Name: "x"}, metaLoc, policy.ErrDenied, "rd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := l.Register(tt.ctx, tt.id, tt.loc); !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Register(%s, %q) = %v, want %v saying %q", tt.id, tt.loc, err, tt.want, tt.msg)
			}
		})
	}
	if ok, err := l.TableExists(ctx, lake.Ident{Namespace: "r", Name: "x"}); err != nil || ok {
		t.Fatalf("TableExists(r.x) after refused registrations = %v, %v; want false", ok, err)
	}
}

// TestRegisterS3 registers a table of an S3 warehouse from its metadata
// object, and refuses locations that are not objects in the warehouse.
func TestRegisterS3(t *testing.T) {
	ctx := adminCtx()
	st := laketest.NewS3(t)
	l, e := openEngine(t, st)
	for _, sql := range []string{
		"CREATE SCHEMA r",
		"CREATE TABLE r.t (id BIGINT, cat VARCHAR) PARTITIONED BY (cat)",
		"INSERT INTO r.t VALUES (1, 'a'), (2, 'b'), (3, 'a')",
		"DELETE FROM r.t WHERE id = 2",
	} {
		if err := run(ctx, e, sql); err != nil {
			t.Fatalf("Exec(%q) = %v", sql, err)
		}
	}
	old := lake.Ident{Namespace: "r", Name: "t"}
	tbl, err := l.LoadTable(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	metaLoc := tbl.MetadataLocation()
	want := rowsOf(t, e, "SELECT id, cat FROM r.t ORDER BY id")
	if err := l.DropTable(ctx, old, false, false); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, loc string
		want      error
		msg       string
	}{
		{"local path", "/tmp/v1.metadata.json", lake.ErrInvalid, "give the metadata file's URI"},
		{"other bucket", "s3://elsewhere/wh/r.db/t/metadata/v1.metadata.json", lake.ErrInvalid, "outside the warehouse"},
		{"dot-dot", st.Warehouse + "/../x/v1.metadata.json", lake.ErrInvalid, "outside the warehouse"},
		// Keys are raw: %65 is not "e" to the store, so this prefix is not the warehouse's.
		{"escaped prefix", st.Warehouse[:len(st.Warehouse)-1] + "%" + fmt.Sprintf("%02x", st.Warehouse[len(st.Warehouse)-1]) + "/evil/metadata/v1.metadata.json", lake.ErrInvalid, "outside the warehouse"},
		{"missing object", st.Warehouse + "/r.db/none.metadata.json", os.ErrNotExist, "read metadata"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := l.Register(ctx, lake.Ident{Namespace: "r", Name: "x"}, tt.loc); !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Register(%q) = %v, want %v saying %q", tt.loc, err, tt.want, tt.msg)
			}
		})
	}
	id := lake.Ident{Namespace: "r", Name: "back"}
	if _, err := l.Register(ctx, id, metaLoc); err != nil {
		t.Fatalf("Register(%s, %s) = %v", id, metaLoc, err)
	}
	if got := rowsOf(t, e, "SELECT id, cat FROM r.back ORDER BY id"); got != want {
		t.Errorf("rows of the registered table =\n%s\nwant\n%s", got, want)
	}
}
