package query_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edp-data/edp/internal/duck"
	"github.com/edp-data/edp/internal/query"
)

// TestCheckSelect pins the check stream transforms go through: one SELECT
// reading only the relations its caller names, refused otherwise without
// running anything; what passes runs as DuckDB renders it.
func TestCheckSelect(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := duck.Open(ctx, duck.Options{AllowedDirs: []string{dir}, TempDir: filepath.Join(dir, "tmp")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "CREATE TABLE batch AS SELECT 1 AS id, 'a' AS v"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "COPY (SELECT 'secret' AS s) TO '"+filepath.Join(dir, "secret.parquet")+"'"); err != nil {
		t.Fatal(err)
	}
	pwned := filepath.Join(dir, "pwned.csv")

	for _, tc := range []struct{ name, text string }{
		{"read_parquet", "SELECT b.id, s.* FROM batch b, read_parquet('" + filepath.Join(dir, "*.parquet") + "') s"},
		{"glob", "SELECT * FROM batch, glob('" + dir + "/*')"},
		{"query table function", "SELECT * FROM query('SELECT 1')"},
		{"catalog", "SELECT * FROM batch, duckdb_settings()"},
		{"catalog macro", "SELECT pg_get_viewdef('batch')"},
		{"edp table", "SELECT * FROM batch JOIN secret.salaries USING (id)"},
		{"unnamed relation", "SELECT * FROM other"},
		{"second statement", "SELECT * FROM batch; SELECT 1"},
		{"copy after select", "SELECT * FROM batch; COPY (SELECT 42) TO '" + pwned + "'; SELECT * FROM batch"},
		{"copy", "COPY (SELECT 42) TO '" + pwned + "'"},
		{"describe", "DESCRIBE SELECT * FROM batch"},
		{"cte shadowing a catalog view", "WITH duckdb_settings AS (SELECT 1) SELECT * FROM duckdb_settings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := query.CheckSelect(ctx, conn, tc.text, "batch"); err == nil {
				t.Errorf("CheckSelect(%q) = %q, nil; want an error", tc.text, got)
			}
		})
	}
	if _, err := os.Stat(pwned); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("checking wrote %s (stat: %v)", pwned, err)
	}

	for _, tc := range []struct{ name, text, want string }{
		{"plain", "SELECT id, upper(v) AS v FROM batch WHERE id > 0", "1 | A"},
		{"cte", "WITH x AS (SELECT * FROM batch) SELECT count(*) FROM x", "1"},
		{"join itself", "SELECT a.id, b.v FROM batch a JOIN batch b USING (id)", "1 | a"},
		{"range", "SELECT b.id + r.range FROM batch b, range(2) r ORDER BY 1", "1\n2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checked, err := query.CheckSelect(ctx, conn, tc.text, "batch")
			if err != nil {
				t.Fatalf("CheckSelect(%q) = %v, want nil", tc.text, err)
			}
			rows, err := conn.QueryContext(ctx, checked)
			if err != nil {
				t.Fatalf("run %q: %v", checked, err)
			}
			defer rows.Close()
			var got []string
			for rows.Next() {
				cols, _ := rows.Columns()
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				cells := make([]string, len(vals))
				for i, v := range vals {
					cells[i] = fmtCell(v)
				}
				got = append(got, strings.Join(cells, " | "))
			}
			if strings.Join(got, "\n") != tc.want {
				t.Errorf("rows of CheckSelect(%q) = %q, want %q", tc.text, strings.Join(got, "\n"), tc.want)
			}
		})
	}
}

func fmtCell(v any) string {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case nil:
		return "NULL"
	default:
		return fmt.Sprint(x)
	}
}
