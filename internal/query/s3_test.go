package query_test

import (
	"context"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/lake/laketest"
	"github.com/edp-data/edp/internal/objstore/s3test"
	"github.com/edp-data/edp/internal/query"
)

// TestObjectStoreDownMidWrite stops the S3 server while an INSERT is
// uploading its data file: the statement fails with an error, nothing is
// committed, and once the server is back the same INSERT succeeds.
func TestObjectStoreDownMidWrite(t *testing.T) {
	srv := s3test.Start(t)
	dir := t.TempDir()
	st := laketest.Storage{CatalogURI: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: srv.URI("wh"), LocalDir: dir,
		Storage: lake.Storage{Props: srv.Props()}}
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Name: "tester", Roles: []string{auth.RoleAdmin}})
	// The breaker opens after the failed upload; a short open period lets
	// the retry below through soon after the restart.
	l, err := lake.Open(ctx, st.Options(lake.Options{Storage: lake.Storage{BreakerOpenFor: 200 * time.Millisecond}}))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e, err := query.New(ctx, l, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	mustExec(t, ctx, e, "CREATE SCHEMA f")
	mustExec(t, ctx, e, "CREATE TABLE f.t (id BIGINT, v VARCHAR)")
	mustExec(t, ctx, e, "INSERT INTO f.t SELECT r, 'before' FROM range(1000) t(r)")
	snaps, err := l.Snapshots(ctx, lake.Ident{Namespace: "f", Name: "t"})
	if err != nil {
		t.Fatal(err)
	}

	insert := "INSERT INTO f.t SELECT r, 'after' FROM range(500) t(r)"
	srv.StopAt(func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/data/") && strings.HasSuffix(r.URL.Path, ".parquet")
	})
	if _, _, err := collect(ctx, e, insert); err == nil {
		t.Fatal("INSERT while the store went down = nil error")
	} else {
		t.Logf("INSERT while the store went down: %v", err)
	}
	srv.Restart(t)

	// Nothing of the failed INSERT is visible, and nothing is left staged.
	after, err := l.Snapshots(ctx, lake.Ident{Namespace: "f", Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(snaps) {
		t.Errorf("snapshots after the failed INSERT = %d, want %d", len(after), len(snaps))
	}
	if got, _, err := collect(ctx, e, "SELECT count(*), count(*) FILTER (WHERE v = 'after') FROM f.t"); err != nil || got[0] != "1000 | 0" {
		t.Fatalf("after the failed INSERT: %v, %v; want 1000 rows, none of the INSERT's", got, err)
	}
	filepath.WalkDir(filepath.Join(dir, "stage"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".lock") {
			t.Errorf("the failed INSERT left %s staged", p)
		}
		return nil
	})

	// The breaker may still be open for a moment; the INSERT is retried
	// until it passes, as a client would.
	var lastErr error
	for range 50 {
		if _, _, lastErr = collect(ctx, e, insert); lastErr == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if lastErr != nil {
		t.Fatalf("INSERT after the store came back: %v", lastErr)
	}
	if got, _, err := collect(ctx, e, "SELECT count(*), count(*) FILTER (WHERE v = 'after') FROM f.t"); err != nil || got[0] != "1500 | 500" {
		t.Fatalf("after the retried INSERT: %v, %v; want 1500 rows, 500 of the INSERT's", got, err)
	}
}
