package stream_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/stream"
)

// TestTransformSandbox is the regression test for transforms that ran
// unchecked in the pipeline's DuckDB: one read another table's Parquet
// files from the warehouse into its own table, one wrote a file through
// statements smuggled before a DESCRIBE, and one whose last statement
// returned a single column panicked in Describe and took edp serve down.
// Each must stop the pipeline before it consumes anything.
func TestTransformSandbox(t *testing.T) {
	e := newEnv(t, map[string]int32{"ev": 1})
	e.query("CREATE SCHEMA secret")
	e.query("CREATE TABLE secret.salaries (name VARCHAR, pay BIGINT)")
	e.query("INSERT INTO secret.salaries VALUES ('ceo', 999999)")
	e.produce("ev", 0, `{"id":1}`)
	wh := e.lake.LocalDirs()[0]
	pwned := filepath.Join(wh, "pwned.csv")
	for _, tc := range []struct{ name, transform string }{
		{"read another table's files", "SELECT b.id, s.name, s.pay FROM batch b, read_parquet('" + wh + "/secret.db/salaries-*/data/*/*.parquet') s"},
		{"read another table", "SELECT b.id, s.pay FROM batch b, secret.salaries s"},
		{"write a file", "SELECT * FROM batch; COPY (SELECT 42 AS x) TO '" + pwned + "'; DESCRIBE SELECT * FROM batch"},
		{"one-column last statement", "SELECT * FROM batch; SELECT 1"},
		{"run a string", "SELECT * FROM query('SELECT * FROM batch')"},
		{"read settings", "SELECT b.*, s.value FROM batch b, duckdb_settings() s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := stream.Spec{Name: "leak", Topics: []string{"ev"}, Table: lake.Ident{Namespace: "mine", Name: "t"},
				CommitInterval: 100 * time.Millisecond, Transform: tc.transform}
			p, err := stream.New(spec, e.deps())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(e.ctx, time.Minute)
			defer cancel()
			if err := p.Run(ctx); !errors.Is(err, stream.ErrStopped) || !strings.Contains(err.Error(), "transform") {
				t.Errorf("Run with transform %q = %v, want ErrStopped naming the transform", tc.transform, err)
			}
			if st := p.Status(); st.State != stream.StateFailed || st.Records != 0 {
				t.Errorf("status = %s with %d records, want failed with none", st.State, st.Records)
			}
		})
	}
	if _, err := os.Stat(pwned); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a transform wrote %s (stat: %v)", pwned, err)
	}
	if n := e.count("SELECT count(*) FROM mine.t"); n != -1 {
		t.Errorf("mine.t exists with %d rows, want no table", n)
	}

	// The positive control: a transform over batch alone runs.
	spec := stream.Spec{Name: "ok", Topics: []string{"ev"}, Table: lake.Ident{Namespace: "mine", Name: "t"},
		CommitInterval: 100 * time.Millisecond, Transform: "WITH b AS (SELECT * FROM batch) SELECT id * 10 AS id FROM b;"}
	_, stop := e.start(spec, e.deps())
	e.waitFor("the transformed row", func() bool { return e.count("SELECT count(*) FROM mine.t WHERE id = 10") == 1 })
	if err := stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

// TestManagerSurvivesPanic pins that a pipeline that panics fails alone:
// edp serve runs every pipeline in its process, so a panic that escaped
// would stop the server and, on each restart, every replica.
func TestManagerSurvivesPanic(t *testing.T) {
	e := newEnv(t, map[string]int32{"ev": 1})
	store, err := stream.OpenStore(e.ctx, e.lake.MetaDB(), nil)
	if err != nil {
		t.Fatal(err)
	}
	deps := stream.WithHook(e.deps(), func(point string) error {
		if point == stream.PointPolled {
			panic("boom")
		}
		return nil
	})
	m := stream.NewManager(store, deps, 50*time.Millisecond)
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if _, err := m.Create(e.ctx, stream.Spec{Name: "p", Topics: []string{"ev"}, TableName: "raw.p"}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the pipeline to fail", func() bool {
		in, err := m.Get(e.ctx, "p")
		return err == nil && in.Status.State == stream.StateFailed && strings.Contains(in.Status.Error, "boom")
	})
}
