package lake_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/apache/iceberg-go/table"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/lake/laketest"
)

// restTables opens a lake with tables t.a and t.b, one row each.
func restTables(t *testing.T) (*lake.Lake, func(string) error, lake.Ident, lake.Ident) {
	t.Helper()
	l, e := openEngine(t, laketest.New(t))
	ctx := adminCtx()
	exec := func(q string) error { return run(ctx, e, q) }
	for _, q := range []string{"CREATE SCHEMA t", "CREATE TABLE t.a (x BIGINT)", "CREATE TABLE t.b (x BIGINT)",
		"INSERT INTO t.a VALUES (1)", "INSERT INTO t.b VALUES (2)"} {
		if err := exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return l, exec, lake.Ident{Namespace: "t", Name: "a"}, lake.Ident{Namespace: "t", Name: "b"}
}

func setProperty(k, v string) table.Update {
	return table.NewSetPropertiesUpdate(map[string]string{k: v})
}

// TestTransactionChecksUnchangedTables: a table of a multi-table commit
// whose updates change nothing had its requirements checked only at
// staging, outside the catalog transaction, so the other tables committed
// against a state of it that had moved on (review finding 5).
func TestTransactionChecksUnchangedTables(t *testing.T) {
	l, exec, a, b := restTables(t)
	ctx := adminCtx()
	ta, err := l.LoadTable(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	l.SetBeforeSwap(func() {
		l.SetBeforeSwap(nil)
		if err := exec("INSERT INTO t.a VALUES (3)"); err != nil {
			t.Errorf("concurrent insert into %s: %v", a, err)
		}
	})
	// a's update changes nothing: main is set where it is.
	_, err = l.CommitTables(ctx, []lake.TableChange{
		{Table: a, Requirements: []table.Requirement{table.AssertRefSnapshotID("main", &ta.CurrentSnapshot().SnapshotID)},
			Updates: []table.Update{table.NewSetSnapshotRefUpdate("main", ta.CurrentSnapshot().SnapshotID, table.BranchRef, -1, -1, -1)}},
		{Table: b, Updates: []table.Update{setProperty("derived-from", "a")}},
	})
	if !errors.Is(err, lake.ErrCommitFailed) {
		t.Errorf("CommitTables after %s moved = %v, want lake.ErrCommitFailed", a, err)
	}
	tb, _ := l.LoadTable(ctx, b)
	if v := tb.Properties()["derived-from"]; v != "" {
		t.Errorf("%s committed against a stale %s: derived-from = %q", b, a, v)
	}
}

// TestAmbiguousCommitKeepsMetadata: an error from the catalog commit
// itself removed the new metadata files even when the commit had landed,
// leaving the catalog pointing at deleted files (review finding 6).
func TestAmbiguousCommitKeepsMetadata(t *testing.T) {
	l, _, a, b := restTables(t)
	ctx := adminCtx()
	l.SetCommitTx(func(tx *sql.Tx) error {
		if err := tx.Commit(); err != nil {
			return err
		}
		return errors.New("connection reset after COMMIT was sent")
	})
	states, err := l.CommitTables(ctx, []lake.TableChange{
		{Table: a, Updates: []table.Update{setProperty("k", "1")}},
		{Table: b, Updates: []table.Update{setProperty("k", "1")}},
	})
	l.SetCommitTx(nil)
	if err != nil {
		t.Errorf("CommitTables whose commit landed but reported an error = %v, want success", err)
	}
	for _, id := range []lake.Ident{a, b} {
		tbl, lerr := l.LoadTable(ctx, id)
		if lerr != nil {
			t.Errorf("LoadTable(%s) after the commit = %v, want its new metadata readable", id, lerr)
			continue
		}
		if tbl.Properties()["k"] != "1" {
			t.Errorf("%s property k = %q, want 1", id, tbl.Properties()["k"])
		}
	}
	if err == nil && (len(states) != 2 || states[0].MetadataLocation == "") {
		t.Errorf("CommitTables states = %+v, want both tables' new metadata", states)
	}
	// A commit that failed before COMMIT leaves nothing: its files go.
	l.SetCommitTx(func(tx *sql.Tx) error {
		tx.Rollback()
		return errors.New("connection reset before COMMIT")
	})
	_, err = l.CommitTables(ctx, []lake.TableChange{{Table: a, Updates: []table.Update{setProperty("k", "2")}}})
	l.SetCommitTx(nil)
	if err == nil {
		t.Fatalf("CommitTables whose commit did not land = nil, want an error")
	}
	if tbl, err := l.LoadTable(context.Background(), a); err == nil && tbl.Properties()["k"] != "1" {
		t.Errorf("%s property k after a failed commit = %q, want 1", a, tbl.Properties()["k"])
	}
}
