package query_test

import (
	"fmt"
	"testing"
)

// TestPruning checks that WHERE conditions on a column skip the files whose
// statistics rule them out, and that results stay exact.
func TestPruning(t *testing.T) {
	ctx, e := newEngine(t)
	mustExec := func(sql string) {
		t.Helper()
		if _, _, err := collect(ctx, e, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	mustExec("CREATE SCHEMA p")
	mustExec("CREATE TABLE p.t (id BIGINT, name VARCHAR, d DATE) PARTITIONED BY (month(d))")
	// Four commits, four files with disjoint id ranges and months.
	for i := 0; i < 4; i++ {
		mustExec(fmt.Sprintf("INSERT INTO p.t SELECT %d * 100 + r, 'n' || r, DATE '2026-01-15' + INTERVAL (%d) MONTH FROM range(100) t(r)", i, i))
	}
	cases := []struct {
		sql           string
		want          string
		files, pruned int
	}{
		{"SELECT count(*) FROM p.t WHERE id = 150", "1", 1, 3},
		{"SELECT count(*) FROM p.t WHERE id >= 300", "100", 1, 3},
		{"SELECT count(*) FROM p.t WHERE 250 > id", "250", 3, 1},
		{"SELECT count(*) FROM p.t WHERE id BETWEEN 120 AND 220", "101", 2, 2},
		{"SELECT count(*) FROM p.t WHERE id IN (5, 399)", "2", 2, 2},
		{"SELECT count(*) FROM p.t WHERE d = DATE '2026-02-15'", "100", 1, 3},
		{"SELECT count(*) FROM p.t x WHERE x.id < 100 AND x.name = 'n5'", "1", 1, 3},
		// Not prunable: OR, a float constant on an integer column, a function.
		{"SELECT count(*) FROM p.t WHERE id = 5 OR id = 399", "2", 4, 0},
		{"SELECT count(*) FROM p.t WHERE id < 100.5", "101", 4, 0},
		{"SELECT count(*) FROM p.t WHERE abs(id) = 5", "1", 4, 0},
	}
	for _, c := range cases {
		t.Run(c.sql, func(t *testing.T) {
			res, err := e.Exec(ctx, c.sql)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Close()
			row, err := res.Rows.Next()
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(row[0]); got != c.want {
				t.Errorf("result = %s, want %s", got, c.want)
			}
			if len(res.Scans) != 1 || res.Scans[0].Files != c.files || res.Scans[0].Pruned != c.pruned {
				t.Errorf("scans = %+v, want files=%d pruned=%d", res.Scans, c.files, c.pruned)
			}
		})
	}
}
