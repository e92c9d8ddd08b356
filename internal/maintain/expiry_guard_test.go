package maintain

import (
	"context"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/edp-data/edp/internal/lake"
)

// TestExpiryDeletesOnlyTheTablesFiles: expiry deleted every file an
// expired snapshot named, another table's data file included, with no
// admin asking (review of the REST catalog, finding 2).
func TestExpiryDeletesOnlyTheTablesFiles(t *testing.T) {
	v := newEnv(t)
	v.exec("CREATE SCHEMA m")
	v.exec("CREATE TABLE m.a (x BIGINT)")
	v.exec("CREATE TABLE m.b (x BIGINT)")
	v.exec("INSERT INTO m.a VALUES (1), (2)")
	v.exec("INSERT INTO m.b VALUES (3)")
	a, b := lake.Ident{Namespace: "m", Name: "a"}, lake.Ident{Namespace: "m", Name: "b"}
	ta, err := v.l.LoadTable(v.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := ta.Scan().PlanFiles(v.ctx)
	if err != nil || len(tasks) != 1 {
		t.Fatalf("plan %s: %d tasks, %v", a, len(tasks), err)
	}
	foreign := tasks[0].File
	// b lists a's file in one snapshot and drops it in the next, so
	// expiring the first makes the file a candidate for deletion.
	for _, stage := range []func(ctx context.Context, tx *table.Transaction) error{
		func(ctx context.Context, tx *table.Transaction) error {
			return tx.AddDataFiles(ctx, []iceberg.DataFile{foreign}, nil)
		},
		func(ctx context.Context, tx *table.Transaction) error {
			return tx.ReplaceFiles(ctx, []iceberg.DataFile{foreign}, nil, nil, nil)
		},
	} {
		tb, err := v.l.LoadTable(v.ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.l.CommitMaintenance(v.ctx, b, tb, lake.Maintenance{Op: lake.OpCommit, Stage: stage}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(5 * time.Millisecond)
	rep := mustRun(t, v, b, Options{SkipCompaction: true, SkipOrphans: true, ExpireOlderThan: time.Millisecond, RetainLast: 1})
	if rep.Expiry == nil || len(rep.Expiry.Expired) == 0 {
		t.Fatalf("expiry = %+v, want snapshots expired", rep.Expiry)
	}
	fs, err := ta.FS(v.ctx)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fs.Open(foreign.FilePath())
	if err != nil {
		t.Fatalf("expiring %s deleted %s, a file of %s: %v", b, foreign.FilePath(), a, err)
	}
	f.Close()
	if got := v.rows("SELECT count(*) FROM m.a"); len(got) != 1 || got[0] != "2" {
		t.Errorf("rows of %s after %s's expiry = %v, want [2]", a, b, got)
	}
}
