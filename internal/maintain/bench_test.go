package maintain

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go"

	"github.com/edp-data/edp/internal/duck"
	"github.com/edp-data/edp/internal/lake"
)

var benchFiles = flag.Int("maintain.files", 10000, "small files in BenchmarkCompaction's table")

// BenchmarkCompaction compacts a table of -maintain.files small files (200
// rows each, one row in 100 deleted) and reports compaction throughput
// beside its peer, DuckDB copying the same files into one without Iceberg,
// and the time of an aggregate query before and after.
//
//	go test -run '^$' -bench Compaction -benchtime 1x ./internal/maintain/
func BenchmarkCompaction(b *testing.B) {
	for range b.N {
		b.StopTimer()
		v := newEnv(b)
		id := lake.Ident{Namespace: "b", Name: "t"}
		paths := benchTable(b, v, id, *benchFiles)
		const q = "SELECT cat, count(*), sum(amount), max(id) FROM b.t GROUP BY cat ORDER BY cat"
		before, want := timeQuery(b, v, q)

		peer := duckCopy(b, v, paths)
		b.StartTimer()
		rep, err := Run(v.ctx, v.l, id, Options{SkipExpiry: true, SkipOrphans: true, SkipManifests: true}, nil)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if rep.Compaction == nil {
			b.Fatalf("nothing compacted: %q", rep.Notes)
		}
		after, got := timeQuery(b, v, q)
		if got != want {
			b.Fatalf("query after compaction = %q, want %q", got, want)
		}
		mb := float64(rep.Compaction.InputBytes) / (1 << 20)
		b.ReportMetric(float64(rep.Before.DataFiles), "files_before")
		b.ReportMetric(float64(rep.After.DataFiles), "files_after")
		b.ReportMetric(mb/rep.Compaction.Duration.Seconds(), "compact_MB/s")
		b.ReportMetric(mb/peer.Seconds(), "duckdb_copy_MB/s")
		b.ReportMetric(float64(before.Milliseconds()), "query_before_ms")
		b.ReportMetric(float64(after.Milliseconds()), "query_after_ms")
		b.ReportMetric(before.Seconds()/after.Seconds(), "query_speedup_x")
	}
}

// benchTable makes a table of n small files, one commit per thousand,
// then deletes one row in a hundred. It returns the files' local paths.
func benchTable(b *testing.B, v *env, id lake.Ident, n int) []string {
	b.Helper()
	ctx := v.ctx
	if err := v.l.CreateNamespace(ctx, id.Namespace, nil, true); err != nil {
		b.Fatal(err)
	}
	if _, err := v.e.Exec(ctx, "CREATE TABLE b.t (id BIGINT, cat VARCHAR, amount DOUBLE, note VARCHAR)"); err != nil {
		b.Fatal(err)
	}
	db, err := duck.Open(ctx, duck.Options{AllowedDirs: []string{v.l.Warehouse()}, TempDir: filepath.Join(v.dir, "tmp")})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	tbl, err := v.l.LoadTable(ctx, id)
	if err != nil {
		b.Fatal(err)
	}
	var paths []string
	var batch []iceberg.DataFile
	for i := range n {
		q := fmt.Sprintf("SELECT i, 'c' || (i %% 10), i * 1.5, 'note ' || i FROM range(%d, %d) t(i)", i*200, (i+1)*200)
		files, _, err := duck.WriteData(ctx, conn, tbl, v.l, q, 0)
		if err != nil {
			b.Fatal(err)
		}
		batch = append(batch, files...)
		for _, f := range files {
			paths = append(paths, lake.LocalPath(f.FilePath()))
		}
		if len(batch) == 1000 || i == n-1 {
			if tbl, err = v.l.CommitFiles(ctx, id, tbl, lake.Commit{Job: "bench", Data: batch}); err != nil {
				b.Fatal(err)
			}
			batch = nil
		}
	}
	if _, err := v.e.Exec(ctx, "DELETE FROM b.t WHERE id % 100 = 7"); err != nil {
		b.Fatal(err)
	}
	return paths
}

// timeQuery runs q three times and returns the fastest time and the rows.
func timeQuery(b *testing.B, v *env, q string) (time.Duration, string) {
	b.Helper()
	best := time.Duration(1 << 62)
	var out string
	for range 3 {
		start := time.Now()
		res, err := v.e.Exec(v.ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		var sb strings.Builder
		for {
			row, err := res.Rows.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			fmt.Fprintln(&sb, row...)
		}
		res.Close()
		best = min(best, time.Since(start))
		out = sb.String()
	}
	return best, out
}

// duckCopy is the peer: DuckDB alone reads the same files and writes them
// as one Parquet file, with no Iceberg planning, deletes or commit.
func duckCopy(b *testing.B, v *env, paths []string) time.Duration {
	b.Helper()
	db, err := duck.Open(v.ctx, duck.Options{AllowedDirs: []string{v.l.Warehouse(), v.dir}, TempDir: filepath.Join(v.dir, "tmp")})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	quoted := make([]string, len(paths))
	for i, p := range paths {
		quoted[i] = duck.Quote(p)
	}
	start := time.Now()
	if err := execSQL(v.ctx, db, "COPY (SELECT * FROM read_parquet(["+strings.Join(quoted, ", ")+"])) TO "+
		duck.Quote(filepath.Join(v.dir, "peer.parquet"))+" (FORMAT parquet, COMPRESSION zstd)"); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

func execSQL(ctx context.Context, db *sql.DB, q string) error {
	_, err := db.ExecContext(ctx, q)
	return err
}
