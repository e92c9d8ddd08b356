package query_test

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/query"
)

// describe returns DESCRIBE's rows as cells, unrendered.
func describe(t *testing.T, ctx context.Context, e *query.Engine, table string) [][]any {
	t.Helper()
	res, err := e.Exec(ctx, "DESCRIBE "+table)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	var cols []string
	for _, c := range res.Rows.Columns() {
		cols = append(cols, c.Name)
	}
	if want := []string{"column", "type", "iceberg_type", "field_id", "comment"}; !reflect.DeepEqual(cols, want) {
		t.Fatalf("DESCRIBE columns %v, want %v", cols, want)
	}
	var out [][]any
	for {
		row, err := res.Rows.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append([]any(nil), row...))
	}
}

func checkDescribe(t *testing.T, ctx context.Context, e *query.Engine, table string, want [][]any) {
	t.Helper()
	got := describe(t, ctx, e, table)
	if len(got) != len(want) {
		t.Fatalf("DESCRIBE %s: %d rows, want %d:\n%v", table, len(got), len(want), got)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("DESCRIBE %s row %d: got %#v, want %#v", table, i, got[i], want[i])
		}
	}
}

// TestDescribe checks DESCRIBE's columns, field ids and partition fields,
// before and after schema and partition evolution.
func TestDescribe(t *testing.T) {
	ctx, e := newEngine(t)
	mustExec(t, ctx, e, "CREATE SCHEMA d")
	mustExec(t, ctx, e, `CREATE TABLE d.ev (id BIGINT COMMENT 'key', ts TIMESTAMP, cat VARCHAR, st STRUCT(a INT, b VARCHAR), tags VARCHAR[]) PARTITIONED BY (day(ts), bucket(8, id), truncate(3, cat), cat)`)
	checkDescribe(t, ctx, e, "d.ev", [][]any{
		{"id", "BIGINT", "long", 1, "key"},
		{"ts", "TIMESTAMP", "timestamp", 2, ""},
		{"cat", "VARCHAR", "string", 3, ""},
		{"st", `STRUCT("a" INTEGER, "b" VARCHAR)`, "struct<5: a: optional int, 6: b: optional string>", 4, ""},
		{"tags", "VARCHAR[]", "list<string>", 7, ""},
		{"(partition) ts_day", "", "day(ts)", 1000, ""},
		{"(partition) id_bucket_8", "", "bucket[8](id)", 1001, ""},
		{"(partition) cat_trunc_3", "", "truncate[3](cat)", 1002, ""},
		{"(partition) cat", "", "identity(cat)", 1003, ""},
	})

	// Evolution: new columns and struct fields take the next ids; renames
	// and widening keep them; partition fields follow their source column.
	for _, q := range []string{
		"ALTER TABLE d.ev ADD COLUMN qty INT COMMENT 'how many'",
		"ALTER TABLE d.ev ADD COLUMN st.c DOUBLE",
		"ALTER TABLE d.ev RENAME COLUMN cat TO category",
		"ALTER TABLE d.ev ALTER COLUMN qty TYPE BIGINT",
		"ALTER TABLE d.ev DROP COLUMN tags",
		"ALTER TABLE d.ev DROP PARTITION FIELD bucket(8, id)",
		// day and hour of one column are redundant: swap day for hour.
		"ALTER TABLE d.ev DROP PARTITION FIELD day(ts)",
		"ALTER TABLE d.ev ADD PARTITION FIELD hour(ts)",
	} {
		mustExec(t, ctx, e, q)
	}
	checkDescribe(t, ctx, e, "d.ev", [][]any{
		{"id", "BIGINT", "long", 1, "key"},
		{"ts", "TIMESTAMP", "timestamp", 2, ""},
		{"category", "VARCHAR", "string", 3, ""},
		{"st", `STRUCT("a" INTEGER, "b" VARCHAR, "c" DOUBLE)`, "struct<5: a: optional int, 6: b: optional string, 10: c: optional double>", 4, ""},
		{"qty", "BIGINT", "long", 9, "how many"},
		{"(partition) cat_trunc_3", "", "truncate[3](category)", 1002, ""},
		{"(partition) cat", "", "identity(category)", 1003, ""},
		{"(partition) ts_hour", "", "hour(ts)", 1004, ""},
	})
	mustExec(t, ctx, e, "INSERT INTO d.ev (id, ts, category, qty) VALUES (1, TIMESTAMP '2026-01-01 10:00:00', 'books', 3)")
	got, _, err := collect(ctx, e, "SELECT id, ts, category, qty FROM d.ev WHERE category = 'books'")
	if err != nil || len(got) != 1 || got[0] != "1 | 2026-01-01 10:00:00 | books | 3" {
		t.Fatalf("after evolution: %v %v", got, err)
	}
}

// tableDir returns the location of a table's files.
func tableDir(t *testing.T, ctx context.Context, e *query.Engine, ns, name string) string {
	t.Helper()
	tbl, err := e.Lake().LoadTable(ctx, lake.Ident{Namespace: ns, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return tbl.Location()
}

// countFiles counts the files under a warehouse location.
func countFiles(t *testing.T, e *query.Engine, loc string) int {
	t.Helper()
	files, err := e.Lake().ListFiles(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	return len(files)
}

// TestDropFiles checks what DROP TABLE, DROP TABLE … PURGE, DROP SCHEMA …
// CASCADE and a failed CREATE TABLE … AS leave in the warehouse.
func TestDropFiles(t *testing.T) {
	ctx, e := newEngine(t)
	wh := e.Lake().WarehouseURI()
	for _, q := range []string{
		"CREATE SCHEMA f",
		"CREATE TABLE f.keep (id INT, v VARCHAR) PARTITIONED BY (v)",
		"INSERT INTO f.keep VALUES (1, 'a'), (2, 'b')",
		"DELETE FROM f.keep WHERE id = 1",
		"CREATE TABLE f.purge AS SELECT * FROM range(10) r(id)",
		"UPDATE f.purge SET id = id + 1 WHERE id < 5",
	} {
		mustExec(t, ctx, e, q)
	}
	keep := tableDir(t, ctx, e, "f", "keep")
	purge := tableDir(t, ctx, e, "f", "purge")
	for _, d := range []string{keep, purge} {
		if !strings.HasPrefix(d, wh+"/") {
			t.Fatalf("table directory %s is not inside the warehouse %s", d, wh)
		}
		if countFiles(t, e, d) == 0 {
			t.Fatalf("no files under %s", d)
		}
	}

	// Without PURGE the files stay.
	before := countFiles(t, e, keep)
	mustExec(t, ctx, e, "DROP TABLE f.keep")
	if n := countFiles(t, e, keep); n != before {
		t.Errorf("DROP TABLE without PURGE: %d files left of %d", n, before)
	}
	// With PURGE the table's directory goes.
	mustExec(t, ctx, e, "DROP TABLE f.purge PURGE")
	if n := countFiles(t, e, purge); n != 0 {
		t.Errorf("DROP TABLE … PURGE left %d files under %s", n, purge)
	}

	// CASCADE drops and purges every table of the namespace.
	mustExec(t, ctx, e, "CREATE TABLE f.c1 AS SELECT 1 AS x")
	mustExec(t, ctx, e, "CREATE TABLE f.c2 (x INT)")
	mustExec(t, ctx, e, "INSERT INTO f.c2 VALUES (1), (2)")
	c1, c2 := tableDir(t, ctx, e, "f", "c1"), tableDir(t, ctx, e, "f", "c2")
	mustExec(t, ctx, e, "DROP SCHEMA f CASCADE")
	for _, d := range []string{c1, c2} {
		if n := countFiles(t, e, d); n != 0 {
			t.Errorf("DROP SCHEMA … CASCADE left %d files under %s", n, d)
		}
	}
	if _, _, err := collect(ctx, e, "SHOW TABLES IN f"); err == nil {
		t.Error("namespace f still exists")
	}

	// A CREATE TABLE … AS whose query fails leaves neither a table nor files.
	mustExec(t, ctx, e, "CREATE SCHEMA g")
	mustExec(t, ctx, e, "CREATE TABLE g.src (s VARCHAR)")
	mustExec(t, ctx, e, "INSERT INTO g.src VALUES ('1'), ('x')")
	if _, _, err := collect(ctx, e, "CREATE TABLE g.bad PARTITIONED BY (n) AS SELECT CAST(s AS INTEGER) AS n FROM g.src"); err == nil {
		t.Fatal("CTAS with a failing cast succeeded")
	}
	if rows, _, err := collect(ctx, e, "SHOW TABLES IN g"); err != nil || len(rows) != 1 || rows[0] != "g | src" {
		t.Fatalf("SHOW TABLES IN g after failed CTAS: %v %v", rows, err)
	}
	// Every file under the namespace's directory is g.src's.
	src := tableDir(t, ctx, e, "g", "src")
	before = countFiles(t, e, src)
	if n := countFiles(t, e, wh+"/g.db"); n != before {
		t.Errorf("failed CTAS left %d files under %s/g.db beside the %d of g.src", n-before, wh, before)
	}
	// A failed INSERT leaves no new files either.
	mustExec(t, ctx, e, "CREATE TABLE g.ints (n INT)")
	ints := tableDir(t, ctx, e, "g", "ints")
	intsBefore := countFiles(t, e, ints)
	if _, _, err := collect(ctx, e, "INSERT INTO g.ints SELECT CAST(s AS INTEGER) FROM g.src"); err == nil {
		t.Fatal("INSERT with a failing cast succeeded")
	}
	if n := countFiles(t, e, ints); n != intsBefore {
		t.Errorf("failed INSERT: %d files under %s, want %d", n, ints, intsBefore)
	}
	if n := countFiles(t, e, src); n != before {
		t.Errorf("source table files changed: %d, want %d", n, before)
	}
}
