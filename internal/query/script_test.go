package query_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/lake/laketest"
	"github.com/edp-data/edp/internal/query"
)

// newEngine opens a fresh lake and engine in a temporary data directory.
func newEngine(t testing.TB) (context.Context, *query.Engine) {
	t.Helper()
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Name: "tester", Roles: []string{auth.RoleAdmin}})
	l, _ := laketest.Open(ctx, t, lake.Options{})
	e, err := query.New(ctx, l, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return ctx, e
}

// collect runs one statement and renders its rows as "a | b" lines.
func collect(ctx context.Context, e *query.Engine, sql string) ([]string, string, error) {
	res, err := e.Exec(ctx, sql)
	if err != nil {
		return nil, "", err
	}
	defer res.Close()
	var out []string
	if res.Rows == nil {
		return nil, res.Status, nil
	}
	for {
		row, err := res.Rows.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, "", err
		}
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = formatValue(v)
		}
		out = append(out, strings.Join(cells, " | "))
	}
	return out, res.Status, nil
}

func formatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case time.Time:
		if v.Hour() == 0 && v.Minute() == 0 && v.Second() == 0 && v.Nanosecond() == 0 {
			return v.Format("2006-01-02")
		}
		return v.Format("2006-01-02 15:04:05")
	case []byte:
		return string(v)
	case float64:
		return fmt.Sprintf("%g", v)
	}
	return fmt.Sprint(v)
}

// TestScripts runs testdata/*.test. Each file is a sequence of blocks
// separated by blank lines:
//
//	statement ok|error SUBSTRING   — then SQL
//	query                          — then SQL, "----", expected rows ("a | b")
//	let NAME                       — then SQL returning one value, usable later as ${NAME}
func TestScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.test")
	if len(files) == 0 {
		t.Fatal("no testdata/*.test files")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".test"), func(t *testing.T) {
			ctx, e := newEngine(t)
			runScript(t, ctx, e, f)
		})
	}
}

func runScript(t *testing.T, ctx context.Context, e *query.Engine, path string) {
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(fh)
	var block []string
	line, start := 0, 0
	flush := func() {
		defer func() { block = nil }()
		if len(block) == 0 {
			return
		}
		head := strings.Fields(block[0])
		body := block[1:]
		var sqlLines, want []string
		inWant := false
		for _, l := range body {
			if l == "----" {
				inWant = true
				continue
			}
			if inWant {
				want = append(want, l)
			} else {
				sqlLines = append(sqlLines, l)
			}
		}
		sql := strings.Join(sqlLines, "\n")
		for k, v := range vars {
			sql = strings.ReplaceAll(sql, "${"+k+"}", v)
		}
		where := fmt.Sprintf("%s:%d", path, start)
		switch head[0] {
		case "statement":
			_, _, err := collect(ctx, e, sql)
			if head[1] == "ok" && err != nil {
				t.Fatalf("%s: %s\nerror: %v", where, sql, err)
			}
			if head[1] == "error" {
				wantErr := strings.TrimSpace(strings.TrimPrefix(block[0], "statement error"))
				if err == nil {
					t.Fatalf("%s: %s\nsucceeded, want error containing %q", where, sql, wantErr)
				}
				if !strings.Contains(err.Error(), wantErr) {
					t.Fatalf("%s: %s\nerror %q, want it to contain %q", where, sql, err, wantErr)
				}
			}
		case "query":
			got, _, err := collect(ctx, e, sql)
			if err != nil {
				t.Fatalf("%s: %s\nerror: %v", where, sql, err)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("%s: %s\ngot:\n%s\nwant:\n%s", where, sql, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		case "let":
			got, _, err := collect(ctx, e, sql)
			if err != nil || len(got) != 1 {
				t.Fatalf("%s: let %s: %v (%d rows)", where, head[1], err, len(got))
			}
			vars[head[1]] = got[0]
		case "sleep":
			time.Sleep(20 * time.Millisecond) // separate snapshot timestamps
		default:
			t.Fatalf("%s: unknown directive %q", where, head[0])
		}
	}
	for sc.Scan() {
		line++
		l := sc.Text()
		if strings.HasPrefix(l, "#") {
			continue
		}
		if strings.TrimSpace(l) == "" {
			flush()
			continue
		}
		if len(block) == 0 {
			start = line
		}
		block = append(block, l)
	}
	flush()
}
