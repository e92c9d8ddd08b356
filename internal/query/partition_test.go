package query_test

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/query"
)

// partitionSeed holds values at the edges partition transforms care about:
// negative numbers, the epoch, the last microsecond of an hour, day, month
// and year, multi-byte strings and NULLs.
const partitionSeed = `CREATE TABLE pv.seed AS SELECT * FROM (VALUES
	(1, 5, BIGINT '17', 'apple', DATE '2026-01-01', TIMESTAMP '2026-01-01 10:00:00', TIMESTAMPTZ '2026-01-01 10:00:00+00'),
	(2, -3, BIGINT '-1', 'banana', DATE '2025-12-31', TIMESTAMP '2026-01-02 23:59:59.999999', TIMESTAMPTZ '2026-01-02 23:59:59.999999+00'),
	(3, NULL, NULL, NULL, NULL, NULL, NULL),
	(4, 17, BIGINT '-9223372036854775700', 'cherry', DATE '1969-12-31', TIMESTAMP '1969-12-31 23:00:00', TIMESTAMPTZ '1969-12-31 23:59:59.999999+00'),
	(5, -10, BIGINT '10', 'ümlaut straße', DATE '1970-01-01', TIMESTAMP '1970-01-01 00:00:00', TIMESTAMPTZ '1970-01-01 00:00:00+00'),
	(6, 0, BIGINT '9223372036854775807', '', DATE '1900-02-28', TIMESTAMP '1900-01-01 00:59:59.999999', TIMESTAMPTZ '1899-12-31 23:59:59.999999+00'),
	(7, 2147483647, BIGINT '123456789012', '日本語テキスト', DATE '2400-12-31', TIMESTAMP '2200-12-31 23:59:59.999999', TIMESTAMPTZ '2400-06-30 12:30:00+00'),
	(8, -2147483640, BIGINT '-9223372036854775800', 'a', DATE '2026-03-01', TIMESTAMP '2026-02-28 23:59:59.999999', TIMESTAMPTZ '2026-03-01 00:00:00+00')
) AS v(id, n, l, s, d, ts, tz)`

// TestPartitionValues writes tables partitioned by every transform edp can
// write and checks, file by file, that each row's source value transforms
// (by iceberg-go's reference implementation) to the partition value the
// file was committed with. Queries cannot see a wrong partition value until
// something prunes files by it, so this checks the metadata directly.
func TestPartitionValues(t *testing.T) {
	ctx, e := newEngine(t)
	mustExec(t, ctx, e, "CREATE SCHEMA pv")
	mustExec(t, ctx, e, partitionSeed)
	specs := map[string]string{
		"ident":     "id, n, l, s, d, ts, tz",
		"years":     "year(d), year(tz)",
		"months":    "month(ts), month(d)",
		"days":      "day(ts), day(tz)",
		"dayd":      "day(d)",
		"hours":     "hour(ts), hour(tz)",
		"bucket":    "bucket(3, n), bucket(5, l), bucket(4, s), bucket(7, d)",
		"bucket_ts": "bucket(6, ts), bucket(2, tz)",
		"truncate":  "truncate(10, n), truncate(100, l), truncate(3, s)",
		"mixed":     "year(ts), bucket(2, id), truncate(1, s)",
	}
	plain, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	plain.SetMaxOpenConns(1)
	if _, err := plain.Exec("SET TimeZone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			id := "pv." + name
			mustExec(t, ctx, e, "CREATE TABLE "+id+" PARTITIONED BY ("+spec+") AS SELECT * FROM pv.seed")
			// A second write after an UPDATE: rows rewritten by DML must land in
			// the right partitions too.
			mustExec(t, ctx, e, "UPDATE "+id+" SET id = id + 100 WHERE id % 2 = 0")
			checkPartitionValues(t, ctx, e, plain, lake.Ident{Namespace: "pv", Name: name})
			got, _, err := collect(ctx, e, "SELECT count(*), sum(id) FROM "+id)
			if err != nil {
				t.Fatal(err)
			}
			// ids 1..8, the even ones moved up by 100.
			if want := fmt.Sprint(8, " | ", 36+400); got[0] != want {
				t.Fatalf("count, sum = %s, want %s", got[0], want)
			}
		})
	}
}

// localFile returns a local copy of a table file (the file itself in a
// local warehouse), kept until the test ends.
func localFile(t testing.TB, ctx context.Context, l *lake.Lake, df iceberg.DataFile) string {
	t.Helper()
	f, err := l.Fetch(ctx, []lake.FileRef{{URI: df.FilePath(), Size: df.FileSizeBytes()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Release)
	return f.Path(df.FilePath())
}

func mustExec(t testing.TB, ctx context.Context, e *query.Engine, q string) {
	t.Helper()
	if _, _, err := collect(ctx, e, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func checkPartitionValues(t *testing.T, ctx context.Context, e *query.Engine, plain *sql.DB, id lake.Ident) {
	t.Helper()
	tbl, err := e.Lake().LoadTable(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) == 0 {
		t.Fatal("no data files")
	}
	checked := 0
	for _, task := range tasks {
		df := task.File
		spec := tbl.Metadata().PartitionSpecByID(int(df.SpecID()))
		if spec == nil {
			t.Fatalf("file %s: unknown spec %d", df.FilePath(), df.SpecID())
		}
		part := df.Partition()
		for _, pf := range spec.Fields() {
			src, ok := tbl.Schema().FindFieldByID(pf.SourceID())
			if !ok {
				t.Fatalf("partition field %s: no source column", pf.Name)
			}
			rows, err := plain.Query("SELECT " + quoteIdent(src.Name) + " FROM read_parquet('" + localFile(t, ctx, e.Lake(), df) + "')")
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var v any
				if err := rows.Scan(&v); err != nil {
					t.Fatal(err)
				}
				lit, err := literalOf(src.Type, v)
				if err != nil {
					t.Fatal(err)
				}
				want := "null"
				if lit != nil {
					out := pf.Transform.Apply(iceberg.Optional[iceberg.Literal]{Valid: true, Val: lit})
					if out.Valid {
						want = canonical(out.Val.Any())
					}
				}
				if got := canonical(part[pf.FieldID]); got != want {
					t.Errorf("file %s: partition %s = %s for %s value %v, want %s", df.FilePath(), pf.Name, got, src.Name, v, want)
				}
				checked++
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			rows.Close()
		}
	}
	if checked == 0 {
		t.Fatal("no rows checked")
	}
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// literalOf converts a value read by database/sql into the Iceberg literal
// of type typ (nil for NULL).
func literalOf(typ iceberg.Type, v any) (iceberg.Literal, error) {
	if v == nil {
		return nil, nil
	}
	switch typ.(type) {
	case iceberg.Int32Type:
		return iceberg.Int32Literal(v.(int32)), nil
	case iceberg.Int64Type:
		return iceberg.Int64Literal(v.(int64)), nil
	case iceberg.StringType:
		return iceberg.StringLiteral(v.(string)), nil
	case iceberg.DateType:
		secs := v.(time.Time).Unix()
		days := secs / 86400
		if secs%86400 < 0 {
			days--
		}
		return iceberg.DateLiteral(iceberg.Date(days)), nil
	case iceberg.TimestampType, iceberg.TimestampTzType:
		return iceberg.TimestampLiteral(iceberg.Timestamp(v.(time.Time).UnixMicro())), nil
	}
	return nil, fmt.Errorf("no literal for %s value %v (%T)", typ, v, v)
}

// canonical renders a partition value or transform result comparably:
// integers of any width (dates, timestamps, buckets) by value, strings as
// quoted text.
func canonical(v any) string {
	if v == nil {
		return "null"
	}
	if tm, ok := v.(time.Time); ok {
		return fmt.Sprintf("time(%d)", tm.UnixMicro())
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fmt.Sprint(rv.Int())
	case reflect.String:
		return fmt.Sprintf("%q", rv.String())
	}
	return fmt.Sprintf("%T(%v)", v, v)
}

// TestStringIdentityPartitions covers writes partitioned only by string
// columns themselves, which DuckDB partitions directly and names with
// percent-encoded values; NULL and the literal string DuckDB uses for it
// must stay apart.
func TestStringIdentityPartitions(t *testing.T) {
	ctx, e := newEngine(t)
	mustExec(t, ctx, e, "CREATE SCHEMA ps")
	mustExec(t, ctx, e, `CREATE TABLE ps.t PARTITIONED BY (s, c) AS SELECT * FROM (VALUES
		(1, 'a/b=c%d', 'x'), (2, NULL, 'x'), (3, '__HIVE_DEFAULT_PARTITION__', NULL), (4, '', 'y'),
		(5, 'sp ace', 'ümlaut'), (6, '..', 'new
line'), (7, NULL, NULL)) AS v(id, s, c)`)
	plain, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	plain.SetMaxOpenConns(1)
	checkPartitionValues(t, ctx, e, plain, lake.Ident{Namespace: "ps", Name: "t"})
	got, _, err := collect(ctx, e, "SELECT count(*), count(s), count(c) FROM ps.t")
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != "7 | 5 | 5" {
		t.Fatalf("count, count(s), count(c) = %s, want 7 | 5 | 5", got[0])
	}
}
