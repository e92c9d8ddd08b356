package query_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/query"
)

// snapshotRow is one row of SHOW SNAPSHOTS, as rendered by collect.
type snapshotRow struct {
	id, op, job, principal, added string
	current                       bool
}

func showSnapshots(t *testing.T, ctx context.Context, e *query.Engine, table string) []snapshotRow {
	t.Helper()
	rows, _, err := collect(ctx, e, "SHOW SNAPSHOTS "+table)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]snapshotRow, len(rows))
	for i, r := range rows {
		c := strings.Split(r, " | ")
		if len(c) != 8 {
			t.Fatalf("SHOW SNAPSHOTS row %q: want 8 columns", r)
		}
		out[i] = snapshotRow{id: c[0], op: c[2], job: c[3], principal: c[4], added: c[5], current: c[7] == "true"}
	}
	return out
}

// currentSnapshot returns the id of the table's current snapshot.
func currentSnapshot(t *testing.T, ctx context.Context, e *query.Engine, table string) string {
	t.Helper()
	var cur []string
	for _, s := range showSnapshots(t, ctx, e, table) {
		if s.current {
			cur = append(cur, s.id)
		}
	}
	if len(cur) != 1 {
		t.Fatalf("%s: %d current snapshots, want 1", table, len(cur))
	}
	return cur[0]
}

// commitTimes returns SHOW SNAPSHOTS' committed_at column, unrendered.
func commitTimes(t *testing.T, ctx context.Context, e *query.Engine, table string) []time.Time {
	t.Helper()
	res, err := e.Exec(ctx, "SHOW SNAPSHOTS "+table)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	var out []time.Time
	for {
		row, err := res.Rows.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		ts, ok := row[1].(time.Time)
		if !ok {
			t.Fatalf("committed_at is %T, want time.Time", row[1])
		}
		out = append(out, ts)
	}
}

// TestTimeTravelByVersion reads snapshot ids from SHOW SNAPSHOTS and travels
// to each with FOR VERSION AS OF, FOR SYSTEM_VERSION AS OF and
// AT (VERSION => …), across appends, deletes, updates and schema changes.
func TestTimeTravelByVersion(t *testing.T) {
	ctx, e := newEngine(t)
	exec := func(q string) { t.Helper(); mustExec(t, ctx, e, q) }
	expect := func(q string, want ...string) {
		t.Helper()
		got, _, err := collect(ctx, e, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("%s\ngot:\n%s\nwant:\n%s", q, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	expectErr := func(q, want string) {
		t.Helper()
		_, _, err := collect(ctx, e, q)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: error %v, want one containing %q", q, err, want)
		}
	}
	// Commits in different milliseconds, so each snapshot has its own time.
	pause := func() { time.Sleep(5 * time.Millisecond) }

	exec("CREATE SCHEMA tv")
	exec("CREATE TABLE tv.t (id INT, v VARCHAR)")
	if s := showSnapshots(t, ctx, e, "tv.t"); len(s) != 0 {
		t.Fatalf("new table has %d snapshots", len(s))
	}
	exec("INSERT INTO tv.t VALUES (1, 'a'), (2, 'b')")
	s1 := currentSnapshot(t, ctx, e, "tv.t")
	pause()
	exec("INSERT INTO tv.t VALUES (3, 'c')")
	s2 := currentSnapshot(t, ctx, e, "tv.t")
	pause()
	exec("DELETE FROM tv.t WHERE id = 1")
	s3 := currentSnapshot(t, ctx, e, "tv.t")
	pause()
	exec("UPDATE tv.t SET v = upper(v) WHERE id = 2")
	s4 := currentSnapshot(t, ctx, e, "tv.t")

	snaps := showSnapshots(t, ctx, e, "tv.t")
	want := []snapshotRow{
		{id: s1, op: "append", job: "sql:insert", principal: "tester", added: "2"},
		{id: s2, op: "append", job: "sql:insert", principal: "tester", added: "1"},
		{id: s3, op: "delete", job: "sql:delete", principal: "tester", added: ""},
		{id: s4, op: "overwrite", job: "sql:update", principal: "tester", added: "1", current: true},
	}
	if len(snaps) != len(want) {
		t.Fatalf("SHOW SNAPSHOTS: %d rows, want %d", len(snaps), len(want))
	}
	for i := range want {
		if snaps[i] != want[i] {
			t.Errorf("snapshot %d: got %+v, want %+v", i, snaps[i], want[i])
		}
	}

	expect("SELECT id, v FROM tv.t ORDER BY id", "2 | B", "3 | c")
	expect("SELECT id, v FROM tv.t FOR VERSION AS OF "+s1+" ORDER BY id", "1 | a", "2 | b")
	expect("SELECT id, v FROM tv.t AT (VERSION => "+s2+") ORDER BY id", "1 | a", "2 | b", "3 | c")
	expect("SELECT id, v FROM tv.t FOR SYSTEM_VERSION AS OF "+s3+" ORDER BY id", "2 | b", "3 | c")
	expect("SELECT id, v FROM tv.t FOR VERSION AS OF '"+s4+"' ORDER BY id", "2 | B", "3 | c")
	expect("SELECT id, v FROM tv.t AT (VERSION => "+s4+"::BIGINT) ORDER BY id", "2 | B", "3 | c")

	// Two versions of one table in one query.
	expect("SELECT a.id, a.v, b.v FROM tv.t a FOR VERSION AS OF "+s1+" JOIN tv.t b FOR VERSION AS OF "+s4+" ON a.id = b.id", "2 | b | B")
	expect("SELECT (SELECT count(*) FROM tv.t FOR VERSION AS OF "+s1+"), (SELECT count(*) FROM tv.t FOR VERSION AS OF "+s2+"), (SELECT count(*) FROM tv.t)", "2 | 3 | 2")
	expect("SELECT id FROM tv.t FOR VERSION AS OF "+s2+" EXCEPT SELECT id FROM tv.t FOR VERSION AS OF "+s3, "1")

	// The commit time of a snapshot, to the millisecond, travels to that
	// snapshot: AS OF includes commits made at that instant.
	times := commitTimes(t, ctx, e, "tv.t")
	if len(times) != 4 {
		t.Fatalf("%d commit times", len(times))
	}
	for i, n := range []string{"2", "3", "2", "2"} {
		at := times[i].UTC().Format("2006-01-02 15:04:05.000")
		expect("SELECT count(*) FROM tv.t FOR TIMESTAMP AS OF '"+at+"'", n)
	}
	before := times[0].Add(-time.Millisecond).UTC().Format("2006-01-02 15:04:05.000")
	expectErr("SELECT * FROM tv.t FOR TIMESTAMP AS OF '"+before+"'", "has no snapshot at or before")

	// Reading an old version into another table, and deleting by it.
	exec("CREATE TABLE tv.copy AS SELECT * FROM tv.t FOR VERSION AS OF " + s2)
	expect("SELECT id, v FROM tv.copy ORDER BY id", "1 | a", "2 | b", "3 | c")
	exec("DELETE FROM tv.copy WHERE id NOT IN (SELECT id FROM tv.t FOR VERSION AS OF " + s1 + ")")
	expect("SELECT id, v FROM tv.copy ORDER BY id", "1 | a", "2 | b")
	exec("INSERT INTO tv.copy SELECT id + 10, v FROM tv.t AT (VERSION => " + s3 + ")")
	expect("SELECT id, v FROM tv.copy ORDER BY id", "1 | a", "2 | b", "12 | b", "13 | c")

	// Snapshot ids belong to their table.
	c1 := currentSnapshot(t, ctx, e, "tv.copy")
	expectErr("SELECT * FROM tv.t FOR VERSION AS OF "+c1, "has no snapshot "+c1)
	expectErr("SELECT * FROM tv.copy FOR VERSION AS OF "+s1, "has no snapshot "+s1)
	expectErr("SELECT * FROM tv.t FOR VERSION AS OF 123", "has no snapshot 123")
	expectErr("SELECT * FROM tv.t AT (VERSION => -1)", "has no snapshot -1")
	expectErr("SELECT * FROM tv.t AT (VERSION => 1e3)", "is not a snapshot id")

	// Schema changes: each snapshot is read with its own schema.
	exec("ALTER TABLE tv.t RENAME COLUMN v TO label")
	expect("SELECT id, label FROM tv.t ORDER BY id", "2 | B", "3 | c")
	expect("SELECT id, v FROM tv.t FOR VERSION AS OF "+s1+" ORDER BY id", "1 | a", "2 | b")
	expectErr("SELECT label FROM tv.t FOR VERSION AS OF "+s1, `column "label" not found`)
	exec("ALTER TABLE tv.t ADD COLUMN n BIGINT")
	exec("INSERT INTO tv.t VALUES (5, 'e', 50)")
	s5 := currentSnapshot(t, ctx, e, "tv.t")
	expect("SELECT * FROM tv.t ORDER BY id", "2 | B | NULL", "3 | c | NULL", "5 | e | 50")
	expect("SELECT * FROM tv.t FOR VERSION AS OF "+s4+" ORDER BY id", "2 | B", "3 | c")
	exec("ALTER TABLE tv.t DROP COLUMN label")
	expect("SELECT * FROM tv.t ORDER BY id", "2 | NULL", "3 | NULL", "5 | 50")
	expect("SELECT id, label, n FROM tv.t FOR VERSION AS OF "+s5+" ORDER BY id", "2 | B | NULL", "3 | c | NULL", "5 | e | 50")
	expect("SELECT id, v FROM tv.t FOR VERSION AS OF "+s2+" ORDER BY id", "1 | a", "2 | b", "3 | c")
	exec("ALTER TABLE tv.t ALTER COLUMN id TYPE BIGINT")
	expect("SELECT typeof(id) FROM tv.t LIMIT 1", "BIGINT")
	expect("SELECT typeof(id) FROM tv.t FOR VERSION AS OF "+s1+" LIMIT 1", "INTEGER")
}
