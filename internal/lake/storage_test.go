package lake_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/lake/laketest"
)

// TestSharedLocalDir opens a second lake on the local directory of a
// running one, as an edp sql beside edp serve does: the first keeps its
// staging area and cache and still writes; what processes that died left
// (unlocked staging directories and private caches) is removed.
func TestSharedLocalDir(t *testing.T) {
	ctx := adminCtx()
	st := laketest.NewS3(t)
	_, a := openEngine(t, st)
	if err := run(ctx, a, "CREATE SCHEMA s"); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, a, "CREATE TABLE s.t AS SELECT 1 AS id"); err != nil {
		t.Fatal(err)
	}
	// Leftovers of a process that died: its lock files exist but nobody
	// holds them.
	deadStage := filepath.Join(st.LocalDir, "stage", "0123456789ab")
	deadCache := filepath.Join(st.LocalDir, "cache-0123456789ab")
	for _, d := range []string{deadStage, deadCache} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "f"), []byte("x"), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(d+".lock", nil, 0o640); err != nil {
			t.Fatal(err)
		}
	}

	_, b := openEngine(t, st)
	for _, d := range []string{deadStage, deadCache} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left by a dead process still exists (%v)", d, err)
		}
	}
	// Both write and read; neither removed the other's staging area.
	if err := run(ctx, a, "INSERT INTO s.t VALUES (2)"); err != nil {
		t.Fatalf("first lake after a second opened: %v", err)
	}
	if err := run(ctx, b, "INSERT INTO s.t VALUES (3)"); err != nil {
		t.Fatalf("second lake: %v", err)
	}
	if got := count(t, a, "SELECT count(*), sum(id) FROM s.t"); got != "3 | 6" {
		t.Errorf("rows = %s, want 3 | 6", got)
	}
	if got := count(t, b, "SELECT count(*), sum(id) FROM s.t"); got != "3 | 6" {
		t.Errorf("rows seen by the second lake = %s, want 3 | 6", got)
	}
	ents, _ := os.ReadDir(st.LocalDir)
	private := 0
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), "cache-") {
			private++
		}
	}
	if private != 1 {
		t.Errorf("%d private caches in %s, want the second lake's one", private, st.LocalDir)
	}
}

// TestStoragePropertiesRefused: properties that would configure the
// server's storage client are not table or namespace properties.
func TestStoragePropertiesRefused(t *testing.T) {
	ctx := adminCtx()
	l, e := openEngine(t, laketest.New(t))
	if err := run(ctx, e, "CREATE SCHEMA s"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"s3.endpoint", "S3.Access-Key-Id", "client.region", "io-impl", "token"} {
		err := run(ctx, e, "CREATE TABLE s.t (id INT) TBLPROPERTIES ('"+p+"' = 'http://127.0.0.1:1')")
		if !errors.Is(err, lake.ErrInvalid) || !strings.Contains(err.Error(), "storage access") {
			t.Errorf("CREATE TABLE with %s = %v, want ErrInvalid about storage access", p, err)
		}
		if err := l.CreateNamespace(ctx, "n", map[string]string{p: "x"}, false); !errors.Is(err, lake.ErrInvalid) {
			t.Errorf("CreateNamespace with %s = %v, want ErrInvalid", p, err)
		}
	}
}

// TestCacheUnderPressure runs queries on an S3 warehouse whose file cache
// holds less than all the tables: each query's files are fetched, older
// ones evicted; a query needing more than the whole cache at once fails
// saying so, and the cache then serves the next query.
func TestCacheUnderPressure(t *testing.T) {
	ctx := adminCtx()
	st := laketest.NewS3(t)
	st.Storage.CacheBytes = 256 << 10
	_, e := openEngine(t, st)
	if err := run(ctx, e, "CREATE SCHEMA s"); err != nil {
		t.Fatal(err)
	}
	// Three tables of about 100 KB each (random strings do not compress).
	for _, name := range []string{"a", "b", "c"} {
		q := "CREATE TABLE s." + name + " AS SELECT r AS id, md5(r::VARCHAR || '" + name + "') || md5(r::VARCHAR) AS v FROM range(4000) t(r)"
		if err := run(ctx, e, q); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 2 {
		for _, name := range []string{"a", "b", "c"} {
			if got := count(t, e, "SELECT count(*), count(DISTINCT v) FROM s."+name); got != "4000 | 4000" {
				t.Fatalf("round %d, s.%s: %s, want 4000 | 4000", round, name, got)
			}
		}
	}
	// All three at once need more than the cache holds.
	err := run(ctx, e, "SELECT count(*) FROM s.a x JOIN s.b y ON x.id = y.id JOIN s.c z ON y.id = z.id")
	if err == nil || !strings.Contains(err.Error(), "cache.max_size") {
		t.Fatalf("a query over more files than the cache holds = %v, want an error naming cache.max_size", err)
	}
	if got := count(t, e, "SELECT count(*) FROM s.b"); got != "4000" {
		t.Errorf("after the refused query: %s, want 4000", got)
	}
}

// TestStoreCallsThroughBreaker: every request to an S3 warehouse, the
// metadata iceberg-go writes and reads included, passes the object
// store's circuit breaker and is counted.
func TestStoreCallsThroughBreaker(t *testing.T) {
	ctx := adminCtx()
	st := laketest.NewS3(t)
	reg := prometheus.NewRegistry()
	l, err := lake.Open(ctx, st.Options(lake.Options{Storage: lake.Storage{Registerer: reg}}))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.CreateNamespace(ctx, "s", nil, false); err != nil {
		t.Fatal(err)
	}
	calls := func() float64 { return callCount(t, reg, "object_store_http", "ok") }
	before := calls()
	sc := iceberg.NewSchema(0, iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64})
	if _, err := l.CreateTable(ctx, lake.Ident{Namespace: "s", Name: "t"}, sc, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := l.LoadTable(ctx, lake.Ident{Namespace: "s", Name: "t"}); err != nil {
		t.Fatal(err)
	}
	if after := calls(); after < before+2 {
		t.Errorf("object_store_http calls went from %v to %v over a create and a load, want the metadata write and read counted", before, after)
	}
}

// callCount reads edp_external_calls_total for a target and outcome.
func callCount(t *testing.T, reg *prometheus.Registry, target, outcome string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "edp_external_calls_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if labels["target"] == target && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
