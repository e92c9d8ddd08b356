package lake_test

import (
	"context"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/lake/laketest"
)

// adoptForeignFile commits, as maintenance would, a snapshot of into that
// lists from's only data file, and returns that file's location: metadata
// naming a file outside the table's directory, which edp's checks keep
// clients from writing but registered or older metadata may hold.
func adoptForeignFile(t *testing.T, l *lake.Lake, from, into lake.Ident) string {
	t.Helper()
	ctx := adminCtx()
	src, err := l.LoadTable(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := src.Scan().PlanFiles(ctx)
	if err != nil || len(tasks) != 1 {
		t.Fatalf("plan %s: %d tasks, %v", from, len(tasks), err)
	}
	dst, err := l.LoadTable(ctx, into)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.CommitMaintenance(ctx, into, dst, lake.Maintenance{Op: lake.OpCommit, Stage: func(ctx context.Context, tx *table.Transaction) error {
		return tx.AddDataFiles(ctx, []iceberg.DataFile{tasks[0].File}, nil)
	}}); err != nil {
		t.Fatalf("commit %s's file to %s: %v", from, into, err)
	}
	return tasks[0].File.FilePath()
}

// exists reports whether the file at loc exists, read through the
// warehouse's FileIO (not the file cache).
func exists(t *testing.T, tbl *table.Table, loc string) bool {
	t.Helper()
	fs, err := tbl.FS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f, err := fs.Open(loc)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// TestPurgeDeletesOnlyTheTablesFiles: a purge deleted every file the
// table's metadata named, another table's data file included (review of
// the REST catalog, finding 1).
func TestPurgeDeletesOnlyTheTablesFiles(t *testing.T) {
	l, e := openEngine(t, laketest.New(t))
	ctx := adminCtx()
	for _, q := range []string{"CREATE SCHEMA f", "CREATE TABLE f.a (x BIGINT)", "CREATE TABLE f.b (x BIGINT)",
		"INSERT INTO f.a VALUES (1), (2)", "INSERT INTO f.b VALUES (3)"} {
		if err := run(ctx, e, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	a, b := lake.Ident{Namespace: "f", Name: "a"}, lake.Ident{Namespace: "f", Name: "b"}
	foreign := adoptForeignFile(t, l, a, b)
	if err := l.DropTable(ctx, b, true, false); err != nil {
		t.Fatalf("DropTable(%s, purge) = %v", b, err)
	}
	ta, err := l.LoadTable(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if !exists(t, ta, foreign) {
		t.Errorf("purging %s deleted %s, a file of %s", b, foreign, a)
	}
}
