package restcatalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/view"
)

var ordersSchema = iceberg.NewSchema(0,
	iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64},
	iceberg.NestedField{ID: 2, Name: "region", Type: iceberg.PrimitiveTypes.String},
)

// rows is an Arrow table of (id, region) for the orders schema.
func rows(t *testing.T, ids ...int64) arrow.Table {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for _, id := range ids {
		b.Field(0).(*array.Int64Builder).Append(id)
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("r%d", id%2))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return array.NewTableFromRecords(sc, []arrow.RecordBatch{rec})
}

// appendRows appends ids to tbl through the client and returns the table
// after the commit.
func appendRows(t *testing.T, tbl *table.Table, ids ...int64) *table.Table {
	t.Helper()
	tx := tbl.NewTransaction()
	if err := tx.AppendTable(context.Background(), rows(t, ids...), 1024, nil); err != nil {
		t.Fatalf("AppendTable: %v", err)
	}
	out, err := tx.Commit(context.Background())
	if err != nil {
		t.Fatalf("commit append: %v", err)
	}
	return out
}

func scanCount(t *testing.T, tbl *table.Table) int64 {
	t.Helper()
	at, err := tbl.Scan().ToArrowTable(context.Background())
	if err != nil {
		t.Fatalf("scan %v: %v", tbl.Identifier(), err)
	}
	defer at.Release()
	return at.NumRows()
}

// TestClientWritesEdpReads: iceberg-go appends and evolves a table
// through the catalog; edp's SQL reads what it wrote, and snapshot refs
// the client sets are kept.
func TestClientWritesEdpReads(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cat := e.client(e.token)
		if err := cat.CreateNamespace(ctx, table.Identifier{"sales"}, nil); err != nil {
			t.Fatal(err)
		}
		ident := table.Identifier{"sales", "orders"}
		tbl, err := cat.CreateTable(ctx, ident, ordersSchema)
		if err != nil {
			t.Fatal(err)
		}
		tbl = appendRows(t, tbl, 1, 2, 3)
		first := tbl.CurrentSnapshot().SnapshotID
		if got, want := e.sql("SELECT count(*) AS n, sum(id) AS s FROM sales.orders"), "n,s\n3,6\n"; got != want {
			t.Errorf("edp SQL after the client's append = %q, want %q", got, want)
		}

		// A schema change committed by the client, then rows that use it.
		tx := tbl.NewTransaction()
		if err := tx.UpdateSchema(true, false).AddColumn([]string{"note"}, iceberg.PrimitiveTypes.String, "", false, nil).Commit(); err != nil {
			t.Fatal(err)
		}
		if tbl, err = tx.Commit(ctx); err != nil {
			t.Fatalf("commit schema: %v", err)
		}
		if _, ok := tbl.Schema().FindFieldByName("note"); !ok {
			t.Fatalf("schema after the client's commit = %v, want a note column", tbl.Schema())
		}
		if got, want := e.sql("SELECT count(note) AS n FROM sales.orders"), "n\n0\n"; got != want {
			t.Errorf("edp SQL of the new column = %q, want %q", got, want)
		}

		// A tag on the first snapshot, committed with a requirement on main.
		cur := tbl.CurrentSnapshot().SnapshotID
		if _, _, err := cat.CommitTable(ctx, ident,
			[]table.Requirement{table.AssertRefSnapshotID("main", &cur)},
			[]table.Update{table.NewSetSnapshotRefUpdate("v1", first, table.TagRef, -1, -1, -1)}); err != nil {
			t.Fatalf("tag: %v", err)
		}
		tbl, err = cat.LoadTable(ctx, ident)
		if err != nil {
			t.Fatal(err)
		}
		if s := tbl.SnapshotByName("v1"); s == nil || s.SnapshotID != first {
			t.Errorf("tag v1 = %v, want snapshot %d", s, first)
		}
		tbl = appendRows(t, tbl, 4)
		tbl = appendRows(t, tbl, 5)
		if got, want := e.sql("SELECT count(*) AS n FROM sales.orders"), "n\n5\n"; got != want {
			t.Errorf("edp SQL after more appends = %q, want %q", got, want)
		}
		// snapshots=refs keeps only what main and v1 name.
		for _, tc := range []struct {
			mode string
			want int
		}{{"all", 3}, {"refs", 2}} {
			code, body := e.do("GET", "/iceberg/v1/edp/namespaces/sales/tables/orders?snapshots="+tc.mode, e.token, "")
			var res struct {
				Metadata struct {
					Snapshots []json.RawMessage `json:"snapshots"`
				} `json:"metadata"`
			}
			if code != 200 || json.Unmarshal(body, &res) != nil {
				t.Fatalf("load snapshots=%s = %d %s", tc.mode, code, body)
			}
			if len(res.Metadata.Snapshots) != tc.want {
				t.Errorf("load snapshots=%s returned %d snapshots, want %d", tc.mode, len(res.Metadata.Snapshots), tc.want)
			}
		}
	})
}

// TestEdpWritesClientScans: a table edp's SQL wrote is read by the client,
// with local planning and with edp planning the scan.
func TestEdpWritesClientScans(t *testing.T) {
	e := startEnv(t, "")
	ctx := context.Background()
	e.sql("CREATE SCHEMA s")
	e.sql("CREATE TABLE s.t AS SELECT x, x % 3 AS g FROM range(10) r(x)")
	e.sql("INSERT INTO s.t SELECT x, x % 3 FROM range(10, 15) r(x)")
	cat := e.client(e.token)
	tbl, err := cat.LoadTable(ctx, table.Identifier{"s", "t"})
	if err != nil {
		t.Fatal(err)
	}
	if n := scanCount(t, tbl); n != 15 {
		t.Errorf("client scan of the table edp wrote = %d rows, want 15", n)
	}
	local, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cat.PlanTableScan(ctx, table.Identifier{"s", "t"}, rest.PlanTableScanRequest{})
	if err != nil {
		t.Fatalf("PlanTableScan: %v", err)
	}
	if res.Status != "completed" || len(res.FileScanTasks) != len(local) || len(local) == 0 {
		t.Errorf("edp's plan = %s with %d tasks, want completed with %d (the client's own plan)", res.Status, len(res.FileScanTasks), len(local))
	}
	// The plan's files are the client's: same paths and record counts.
	want := map[string]int64{}
	for _, task := range local {
		want[task.File.FilePath()] = task.File.Count()
	}
	for _, task := range res.FileScanTasks {
		if n, ok := want[task.DataFile.FilePath]; !ok || n != task.DataFile.RecordCount {
			t.Errorf("planned file %s with %d rows is not in the client's plan %v", task.DataFile.FilePath, task.DataFile.RecordCount, want)
		}
	}
	// Fetch it again by id, then cancel it: a cancelled plan is gone.
	if _, err := cat.FetchPlanningResult(ctx, table.Identifier{"s", "t"}, *res.PlanID, rest.FetchPlanningResultOptions{}); err != nil {
		t.Errorf("FetchPlanningResult: %v", err)
	}
	if err := cat.CancelPlanning(ctx, table.Identifier{"s", "t"}, *res.PlanID); err != nil {
		t.Errorf("CancelPlanning: %v", err)
	}
	if _, err := cat.FetchPlanningResult(ctx, table.Identifier{"s", "t"}, *res.PlanID, rest.FetchPlanningResultOptions{}); err == nil {
		t.Errorf("FetchPlanningResult after cancel succeeded, want an error")
	}
}

// TestConcurrentCommits: conflicting commits are decided by the spec's
// requirements — one wins, the other gets 409 — and iceberg-go's retry on
// 409 lands concurrent appends from several clients and edp SQL alike.
func TestConcurrentCommits(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a, b := e.client(e.token), e.client(e.token)
		ident := table.Identifier{"c", "t"}
		if err := a.CreateNamespace(ctx, table.Identifier{"c"}, nil); err != nil {
			t.Fatal(err)
		}
		// iceberg-go retries a commit that got 409 only when the table
		// asks it to (Java's default is 4 retries).
		if _, err := a.CreateTable(ctx, ident, ordersSchema, catalog.WithProperties(iceberg.Properties{table.CommitNumRetriesKey: "20"})); err != nil {
			t.Fatal(err)
		}
		ta, _ := a.LoadTable(ctx, ident)
		tb, _ := b.LoadTable(ctx, ident)
		// Both add a column against schema 0: the second loses.
		add := func(cat *rest.Catalog, tbl *table.Table, col string) error {
			sc := iceberg.NewSchema(1, append(tbl.Schema().Fields(),
				iceberg.NestedField{ID: tbl.Metadata().LastColumnID() + 1, Name: col, Type: iceberg.PrimitiveTypes.String})...)
			_, _, err := cat.CommitTable(ctx, ident,
				[]table.Requirement{table.AssertCurrentSchemaID(tbl.Schema().ID), table.AssertLastAssignedFieldID(tbl.Metadata().LastColumnID())},
				[]table.Update{table.NewAddSchemaUpdate(sc), table.NewSetCurrentSchemaUpdate(-1)})
			return err
		}
		if err := add(a, ta, "x"); err != nil {
			t.Fatalf("first schema commit: %v", err)
		}
		err := add(b, tb, "y")
		if !errors.Is(err, table.ErrCommitFailed) || !strings.Contains(err.Error(), "CommitFailedException") {
			t.Errorf("second schema commit on a stale schema = %v, want 409 CommitFailedException", err)
		}

		// Appends from two clients and edp's SQL at once all land.
		var wg sync.WaitGroup
		for i, cat := range []*rest.Catalog{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 3 {
					tbl, err := cat.LoadTable(ctx, ident)
					if err != nil {
						t.Error(err)
						return
					}
					tx := tbl.NewTransaction()
					if err := tx.AppendTable(ctx, rows(t, int64(10*i+j)), 1024, nil); err != nil {
						t.Error(err)
						return
					}
					if _, err := tx.Commit(ctx); err != nil {
						t.Errorf("client %d append %d: %v", i, j, err)
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				e.sql("INSERT INTO c.t (id, region) VALUES (100, 'edp')")
			}
		}()
		wg.Wait()
		if got, want := e.sql("SELECT count(*) AS n FROM c.t"), "n\n9\n"; got != want {
			t.Errorf("rows after concurrent appends = %q, want %q", got, want)
		}
	})
}

// TestRenameAndPagination: renames move tables between namespaces, and
// listings page through iceberg-go's client.
func TestRenameAndPagination(t *testing.T) {
	e := startEnv(t, "")
	ctx := context.Background()
	cat := e.client(e.token)
	for _, ns := range []string{"a", "b"} {
		if err := cat.CreateNamespace(ctx, table.Identifier{ns}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		if _, err := cat.CreateTable(ctx, table.Identifier{"a", fmt.Sprintf("t%d", i)}, ordersSchema); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for id, err := range cat.ListTables(cat.SetPageSize(ctx, 2), table.Identifier{"a"}) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, strings.Join(id, "."))
	}
	if got, want := strings.Join(names, ","), "a.t0,a.t1,a.t2,a.t3,a.t4"; got != want {
		t.Errorf("paged listing = %s, want %s", got, want)
	}
	code, body := e.do("GET", "/iceberg/v1/edp/namespaces/a/tables?pageSize=2", e.token, "")
	if code != 200 || !strings.Contains(string(body), `"next-page-token"`) || strings.Count(string(body), `"name"`) != 2 {
		t.Errorf("GET tables?pageSize=2 = %d %s, want two tables and a next-page-token", code, body)
	}

	if _, err := cat.RenameTable(ctx, table.Identifier{"a", "t0"}, table.Identifier{"b", "moved"}); err != nil {
		t.Fatalf("rename: %v", err)
	}
	if _, err := cat.LoadTable(ctx, table.Identifier{"a", "t0"}); !errors.Is(err, catalog.ErrNoSuchTable) {
		t.Errorf("load of the old name = %v, want ErrNoSuchTable", err)
	}
	if _, err := cat.LoadTable(ctx, table.Identifier{"b", "moved"}); err != nil {
		t.Errorf("load of the new name: %v", err)
	}
	// iceberg-go's client maps no status of a rename to a sentinel; the
	// spec's 409 AlreadyExistsException is in the error.
	if _, err := cat.RenameTable(ctx, table.Identifier{"a", "t1"}, table.Identifier{"b", "moved"}); err == nil || !strings.Contains(err.Error(), "AlreadyExistsException") {
		t.Errorf("rename onto an existing table = %v, want 409 AlreadyExistsException", err)
	}
	// Drop with purge removes the files too.
	tbl, _ := cat.LoadTable(ctx, table.Identifier{"a", "t1"})
	appendRows(t, tbl, 1)
	if err := cat.PurgeTable(ctx, table.Identifier{"a", "t1"}); err != nil {
		t.Fatalf("purge: %v", err)
	}
	if ok, _ := cat.CheckTableExists(ctx, table.Identifier{"a", "t1"}); ok {
		t.Error("purged table still exists")
	}
	if ok := dirExists(strings.TrimPrefix(tbl.Location(), "file://")); ok {
		t.Errorf("purged table's directory %s still exists", tbl.Location())
	}
}

// TestViews: create, load, list, replace, rename and drop a view.
func TestViews(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cat := e.client(e.token)
		if err := cat.CreateNamespace(ctx, table.Identifier{"v"}, nil); err != nil {
			t.Fatal(err)
		}
		ident := table.Identifier{"v", "recent"}
		ver, err := view.NewVersionFromSQL(1, 0, "SELECT id FROM v.orders WHERE id > 10", table.Identifier{"v"})
		if err != nil {
			t.Fatal(err)
		}
		sc := iceberg.NewSchema(0, iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64})
		created, err := cat.CreateView(ctx, ident, ver, sc)
		if err != nil {
			t.Fatalf("CreateView: %v", err)
		}
		if _, err := cat.CreateView(ctx, ident, ver, sc); !errors.Is(err, catalog.ErrViewAlreadyExists) {
			t.Errorf("second CreateView = %v, want ErrViewAlreadyExists", err)
		}
		loaded, err := cat.LoadView(ctx, ident)
		if err != nil {
			t.Fatal(err)
		}
		if got := loaded.Metadata().CurrentVersion().Representations[0].Sql; got != "SELECT id FROM v.orders WHERE id > 10" {
			t.Errorf("loaded view SQL = %q", got)
		}
		var listed []string
		for id, err := range cat.ListViews(ctx, table.Identifier{"v"}) {
			if err != nil {
				t.Fatal(err)
			}
			listed = append(listed, strings.Join(id, "."))
		}
		if strings.Join(listed, ",") != "v.recent" {
			t.Errorf("ListViews = %v, want [v.recent]", listed)
		}

		// Replace: a new version, current, guarded by the view's uuid.
		v2, _ := view.NewVersionFromSQL(2, 0, "SELECT id FROM v.orders WHERE id > 20", table.Identifier{"v"})
		replaced, err := cat.UpdateView(ctx, ident,
			[]view.Requirement{view.AssertViewUUID(created.Metadata().ViewUUID())},
			[]view.Update{view.NewAddViewVersionUpdate(v2), view.NewSetCurrentVersionUpdate(-1)})
		if err != nil {
			t.Fatalf("UpdateView: %v", err)
		}
		if got := replaced.Metadata().CurrentVersion().Representations[0].Sql; !strings.Contains(got, "id > 20") {
			t.Errorf("replaced view SQL = %q, want the new version", got)
		}

		if _, err := cat.RenameView(ctx, ident, table.Identifier{"v", "renamed"}); err != nil {
			t.Fatalf("RenameView: %v", err)
		}
		if ok, err := cat.CheckViewExists(ctx, ident); ok || err != nil {
			t.Errorf("old view name exists = %v, %v; want false", ok, err)
		}
		if err := cat.DropNamespace(ctx, table.Identifier{"v"}); !errors.Is(err, catalog.ErrNamespaceNotEmpty) {
			t.Errorf("drop of a namespace holding a view = %v, want ErrNamespaceNotEmpty", err)
		}
		if err := cat.DropView(ctx, table.Identifier{"v", "renamed"}); err != nil {
			t.Fatalf("DropView: %v", err)
		}
		if _, err := cat.LoadView(ctx, table.Identifier{"v", "renamed"}); !errors.Is(err, catalog.ErrNoSuchView) {
			t.Errorf("load of a dropped view = %v, want ErrNoSuchView", err)
		}
	})
}

// TestMultiTableTransaction: a transaction commits to two tables at once,
// and one whose requirement fails on either table changes neither.
func TestMultiTableTransaction(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cat := e.client(e.token)
		if err := cat.CreateNamespace(ctx, table.Identifier{"m"}, nil); err != nil {
			t.Fatal(err)
		}
		one, _ := cat.CreateTable(ctx, table.Identifier{"m", "one"}, ordersSchema)
		two, _ := cat.CreateTable(ctx, table.Identifier{"m", "two"}, ordersSchema)
		txn, err := catalog.NewMultiTableTransaction(cat)
		if err != nil {
			t.Fatal(err)
		}
		for _, tbl := range []*table.Table{one, two} {
			tx := tbl.NewTransaction()
			if err := tx.AppendTable(ctx, rows(t, 1, 2), 1024, nil); err != nil {
				t.Fatal(err)
			}
			if err := txn.AddTransaction(tx); err != nil {
				t.Fatal(err)
			}
		}
		if err := txn.Commit(ctx); err != nil {
			t.Fatalf("multi-table commit: %v", err)
		}
		if got, want := e.sql("SELECT (SELECT count(*) FROM m.one) AS a, (SELECT count(*) FROM m.two) AS b"), "a,b\n2,2\n"; got != want {
			t.Errorf("rows after the transaction = %q, want %q", got, want)
		}

		// A transaction built on the old state of "one" (stale now) and a
		// fresh "two": 409, and "two" is untouched.
		two, _ = cat.LoadTable(ctx, table.Identifier{"m", "two"})
		txn, _ = catalog.NewMultiTableTransaction(cat)
		for _, tbl := range []*table.Table{one, two} {
			tx := tbl.NewTransaction()
			if err := tx.SetProperties(iceberg.Properties{"owner": "x"}); err != nil {
				t.Fatal(err)
			}
			if err := tx.AssertRefSnapshotID("main"); err != nil {
				t.Fatal(err)
			}
			txn.AddTransaction(tx)
		}
		if err := txn.Commit(ctx); !errors.Is(err, table.ErrCommitFailed) {
			t.Errorf("transaction with a stale table = %v, want ErrCommitFailed", err)
		}
		two, _ = cat.LoadTable(ctx, table.Identifier{"m", "two"})
		if two.Properties()["owner"] != "" {
			t.Errorf("a failed transaction changed m.two: owner = %q", two.Properties()["owner"])
		}
	})
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// TestStagedCreate: a create with stage-create commits nothing; the
// client's follow-up commit with assert-create makes the table.
func TestStagedCreate(t *testing.T) {
	e := startEnv(t, "")
	ctx := context.Background()
	cat := e.client(e.token)
	if err := cat.CreateNamespace(ctx, table.Identifier{"st"}, nil); err != nil {
		t.Fatal(err)
	}
	ident := table.Identifier{"st", "t"}
	tbl, err := cat.CreateTable(ctx, ident, ordersSchema,
		catalog.WithStagedUpdates(table.NewSetPropertiesUpdate(iceberg.Properties{"staged": "yes"})))
	if err != nil {
		t.Fatalf("staged CreateTable: %v", err)
	}
	if tbl.Properties()["staged"] != "yes" {
		t.Errorf("staged table properties = %v, want staged=yes", tbl.Properties())
	}
	appendRows(t, tbl, 7)
	if got := e.sql("SELECT sum(id) AS s FROM st.t"); got != "s\n7\n" {
		t.Errorf("edp SQL of the staged table = %q", got)
	}
	// A stage-create alone leaves no table behind.
	code, _ := e.do("POST", "/iceberg/v1/edp/namespaces/st/tables", e.token,
		`{"name": "ghost", "stage-create": true, "schema": {"type": "struct", "schema-id": 0, "fields": [{"id": 1, "name": "x", "type": "long", "required": false}]}}`)
	if ok, _ := cat.CheckTableExists(ctx, table.Identifier{"st", "ghost"}); code != 200 || ok {
		t.Errorf("stage-create = %d, table exists = %v; want 200 and no table", code, ok)
	}
}
