package lake_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/metadb/metadbtest"
	"github.com/edp-data/edp/internal/policy"
	"github.com/edp-data/edp/internal/query"
)

// TestCommitEvents pins that every table change policy allows is reported
// once, with its operation, outcome and what it wrote — the audit log and
// the commit metrics are built on these events.
func TestCommitEvents(t *testing.T) {
	for _, eng := range metadbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) { testCommitEvents(t, eng.URI(t)) })
	}
}

func testCommitEvents(t *testing.T, catalogURI string) {
	dir := t.TempDir()
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Name: "tester", Roles: []string{auth.RoleAdmin}})
	var mu sync.Mutex
	var events []lake.CommitEvent
	l, err := lake.Open(ctx, lake.Options{
		CatalogURI: catalogURI,
		Warehouse:  filepath.Join(dir, "warehouse"),
		OnCommit: func(_ context.Context, ev lake.CommitEvent) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e, err := query.New(ctx, l, query.Options{TempDir: filepath.Join(dir, "tmp")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(); l.Close() })
	run := func(sql string) {
		t.Helper()
		res, err := e.Exec(ctx, sql)
		if err != nil {
			t.Fatalf("Exec(%q) = %v", sql, err)
		}
		res.Close()
	}
	run("CREATE SCHEMA s")
	run("CREATE TABLE s.t (id BIGINT, v VARCHAR)")
	run("INSERT INTO s.t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
	run("DELETE FROM s.t WHERE id = 2")
	run("ALTER TABLE s.t ADD COLUMN w DOUBLE")
	run("ALTER TABLE s.t SET TBLPROPERTIES ('owner' = 'team')")
	snaps, err := l.Snapshots(ctx, lake.Ident{Namespace: "s", Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Rollback(ctx, lake.Ident{Namespace: "s", Name: "t"}, snaps[0].ID); err != nil {
		t.Fatal(err)
	}
	run("ALTER TABLE s.t RENAME TO u")
	run("DROP TABLE s.u")

	// A denied change is not an event: nothing was attempted.
	reader := auth.WithPrincipal(context.Background(), auth.Principal{Name: "r", Roles: []string{auth.RoleReader}})
	if err := l.DropNamespace(reader, "s", false, true); !errors.Is(err, policy.ErrDenied) {
		t.Fatalf("DropNamespace as reader = %v, want ErrDenied", err)
	}
	// A failed change is: creating a table that exists.
	run("CREATE TABLE s.x (id BIGINT)")
	if _, err := e.Exec(ctx, "CREATE TABLE s.x (id BIGINT)"); err == nil {
		t.Fatal("second CREATE TABLE s.x succeeded")
	}

	want := []struct {
		op     string
		failed bool
	}{
		{lake.OpCreate, false}, {lake.OpAppend, false}, {lake.OpRowDelta, false},
		{lake.OpSchema, false}, {lake.OpProperties, false}, {lake.OpRollback, false},
		{lake.OpRename, false}, {lake.OpDrop, false}, {lake.OpCreate, false}, {lake.OpCreate, true},
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != len(want) {
		for _, ev := range events {
			t.Logf("event %s %s err=%v", ev.Operation, ev.Table, ev.Err)
		}
		t.Fatalf("got %d events, want %d", len(events), len(want))
	}
	for i, w := range want {
		ev := events[i]
		if ev.Operation != w.op || (ev.Err != nil) != w.failed {
			t.Errorf("event %d = %s err=%v, want %s failed=%v", i, ev.Operation, ev.Err, w.op, w.failed)
		}
		if ev.Attempts < 1 {
			t.Errorf("event %d (%s) has %d attempts", i, ev.Operation, ev.Attempts)
		}
	}
	if ins := events[1]; ins.AddedRows != 3 || ins.AddedFiles != 1 || ins.SnapshotID == 0 || ins.Job == "" {
		t.Errorf("INSERT event = %+v, want 3 rows in 1 file, a snapshot and a job", ins)
	}
	if del := events[2]; del.DeleteFiles != 1 || del.AddedRows != 0 {
		t.Errorf("DELETE event = %+v, want one delete file and no rows", del)
	}
	if rb := events[5]; rb.SnapshotID != snaps[0].ID {
		t.Errorf("rollback event snapshot = %d, want %d", rb.SnapshotID, snaps[0].ID)
	}
	if rn := events[6]; rn.To.Name != "u" {
		t.Errorf("rename event To = %v, want s.u", rn.To)
	}
}
