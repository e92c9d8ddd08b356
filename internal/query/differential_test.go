package query_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/edp-data/edp/internal/query"
)

// TestDifferential applies the same random mix of INSERT … VALUES,
// INSERT … SELECT, DELETE, UPDATE and MERGE to an edp table and to a plain
// in-memory DuckDB table, and compares the two tables (and filtered
// aggregates over them) as it goes. Any difference fails the test with the
// seed and the log of statements run so far.
func TestDifferential(t *testing.T) {
	runs := []diffRun{
		{name: "unpartitioned", seed: 1, ops: 80, upsert: true},
		{name: "partitioned", seed: 2, ops: 70, partitionBy: "bucket(4, k), month(d), truncate(2, s)", upsert: true},
		{
			name: "evolving", seed: 3, ops: 60, upsert: true,
			// Partition changes apply to the edp table only; dropping and
			// re-adding a column to both (the new f is a new field, NULL in
			// every existing row).
			alter: map[int][]string{
				15: {"ALTER TABLE d.t ADD PARTITION FIELD bucket(3, k)"},
				30: {"ALTER TABLE d.t ADD PARTITION FIELD month(d)", "!ALTER TABLE d.t DROP COLUMN f", "!ALTER TABLE d.t ADD COLUMN f DOUBLE"},
				45: {"ALTER TABLE d.t DROP PARTITION FIELD bucket(3, k)", "ALTER TABLE d.t ADD PARTITION FIELD s"},
			},
		},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) { r.run(t) })
	}
}

type diffRun struct {
	name        string
	seed        uint64
	ops         int
	partitionBy string
	// alter maps an operation number to statements run before it: on the
	// edp table only, or on both tables when prefixed with "!".
	alter map[int][]string
	// upsert adds WHEN MATCHED clauses to the generated MERGEs.
	upsert bool
	// noEmptyString leaves '' out of the generated strings.
	noEmptyString bool
}

const diffColumns = "k INTEGER, a INTEGER, s VARCHAR, d DATE, f DOUBLE"

const diffAux = "INSERT INTO d.aux SELECT i, (i * 37) % 201 - 100 FROM range(0, 60, 3) r(i)"

func (r diffRun) run(t *testing.T) {
	start := time.Now()
	ctx, e := newEngine(t)
	ref, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	ref.SetMaxOpenConns(1)

	g := &diffGen{r: rand.New(rand.NewPCG(r.seed, r.seed*7919)), upsert: r.upsert, noEmptyString: r.noEmptyString}
	d := &differ{t: t, ctx: ctx, e: e, ref: ref, seed: r.seed}
	create := "CREATE TABLE d.t (" + diffColumns + ")"
	if r.partitionBy != "" {
		create += " PARTITIONED BY (" + r.partitionBy + ")"
	}
	d.edp("CREATE SCHEMA d")
	d.edp(create)
	d.duck("CREATE SCHEMA d")
	d.duck("CREATE TABLE d.t (" + diffColumns + ")")
	d.both(g.insertValues(12))
	// A second table for DML subqueries to read.
	d.edp("CREATE TABLE d.aux (k INTEGER, a INTEGER)")
	d.duck("CREATE TABLE d.aux (k INTEGER, a INTEGER)")
	d.both(diffAux)

	kinds := map[string]int{}
	for i := 0; i < r.ops; i++ {
		for _, a := range r.alter[i] {
			if both, ok := strings.CutPrefix(a, "!"); ok {
				d.both(both)
			} else {
				d.edp(a)
			}
		}
		kind, stmt := g.op(d.rows)
		kinds[kind]++
		d.both(stmt)
		d.compareAggregate(g.predicate(2, false))
		if i%4 == 3 {
			d.compareTable()
		}
	}
	d.compareTable()
	t.Logf("seed %d: %d operations %v (%d failed on both), %d rows at the end, %s", r.seed, r.ops, kinds, d.failed, d.rows, time.Since(start).Round(time.Millisecond))
	if d.failed > r.ops/10 {
		t.Errorf("%d of %d statements failed on both engines: the generator needs fixing", d.failed, r.ops)
	}
}

// differ runs statements on both engines and compares their results.
type differ struct {
	t    *testing.T
	ctx  context.Context
	e    *query.Engine
	ref  *sql.DB
	seed uint64
	log  []string
	rows int // rows in the reference table after the last comparison
	// failed counts statements that failed on both engines.
	failed int
}

func (d *differ) fail(format string, args ...any) {
	d.t.Helper()
	var b strings.Builder
	for i, l := range d.log {
		fmt.Fprintf(&b, "  %3d  %s\n", i, l)
	}
	d.t.Fatalf("seed %d: %s\nstatements so far:\n%s", d.seed, fmt.Sprintf(format, args...), b.String())
}

func (d *differ) edp(stmt string) {
	d.t.Helper()
	d.log = append(d.log, "[edp] "+stmt)
	if _, _, err := collect(d.ctx, d.e, stmt); err != nil {
		d.fail("edp: %s: %v", stmt, err)
	}
}

func (d *differ) duck(stmt string) {
	d.t.Helper()
	d.log = append(d.log, "[duckdb] "+stmt)
	if _, err := d.ref.Exec(stmt); err != nil {
		d.fail("duckdb: %s: %v", stmt, err)
	}
}

// both runs stmt on both engines: both must succeed and report the same
// number of rows changed, or both must fail.
func (d *differ) both(stmt string) {
	d.t.Helper()
	d.log = append(d.log, stmt)
	_, status, eerr := collect(d.ctx, d.e, stmt)
	res, derr := d.ref.Exec(stmt)
	switch {
	case eerr != nil && derr != nil:
		d.log[len(d.log)-1] += "  -- failed on both"
		d.failed++
		return
	case eerr != nil:
		d.fail("edp failed, DuckDB did not: %s: %v", stmt, eerr)
	case derr != nil:
		d.fail("DuckDB failed, edp did not: %s: %v", stmt, derr)
	}
	verb, n, _ := strings.Cut(status, " ")
	switch verb {
	case "INSERT", "DELETE", "UPDATE", "MERGE":
	default:
		return // DDL
	}
	want, err := res.RowsAffected()
	if err != nil {
		d.fail("rows affected: %v", err)
	}
	if n != strconv.FormatInt(want, 10) {
		d.fail("%s: edp reports %s, DuckDB %d rows", stmt, status, want)
	}
}

func (d *differ) query(q string) (edp, ref []string) {
	d.t.Helper()
	edp, _, err := collect(d.ctx, d.e, q)
	if err != nil {
		d.fail("edp: %s: %v", q, err)
	}
	rows, err := d.ref.Query(q)
	if err != nil {
		d.fail("duckdb: %s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			d.fail("duckdb scan: %v", err)
		}
		cells := make([]string, len(vals))
		for i, v := range vals {
			cells[i] = formatValue(v)
		}
		ref = append(ref, strings.Join(cells, " | "))
	}
	if err := rows.Err(); err != nil {
		d.fail("duckdb: %s: %v", q, err)
	}
	return edp, ref
}

func (d *differ) compareTable() {
	d.t.Helper()
	q := "SELECT * FROM d.t ORDER BY ALL"
	edp, ref := d.query(q)
	d.rows = len(ref)
	if strings.Join(edp, "\n") == strings.Join(ref, "\n") {
		return
	}
	d.fail("%s differs\n%s", q, rowDiff(edp, ref))
}

func (d *differ) compareAggregate(pred string) {
	d.t.Helper()
	q := "SELECT count(*), sum(k), sum(a), count(s), min(s), max(d), count(f), min(f), max(f) FROM d.t WHERE " + pred
	edp, ref := d.query(q)
	if strings.Join(edp, "\n") != strings.Join(ref, "\n") {
		d.fail("%s\nedp:    %v\nduckdb: %v", q, edp, ref)
	}
}

// rowDiff lists rows found in only one of two sorted row lists.
func rowDiff(edp, ref []string) string {
	count := map[string]int{}
	for _, r := range edp {
		count[r]++
	}
	for _, r := range ref {
		count[r]--
	}
	var b strings.Builder
	fmt.Fprintf(&b, "edp %d rows, duckdb %d rows\n", len(edp), len(ref))
	for r, n := range count {
		switch {
		case n > 0:
			fmt.Fprintf(&b, "  only in edp (x%d):    %s\n", n, r)
		case n < 0:
			fmt.Fprintf(&b, "  only in duckdb (x%d): %s\n", -n, r)
		}
	}
	return b.String()
}

// diffGen generates random statements over d.t (k, a, s, d, f).
type diffGen struct {
	r             *rand.Rand
	upsert        bool
	noEmptyString bool
}

func (g *diffGen) pct(p int) bool { return g.r.IntN(100) < p }

func (g *diffGen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g *diffGen) kLit() string {
	if g.pct(4) {
		return "NULL"
	}
	return strconv.Itoa(g.r.IntN(40))
}

func (g *diffGen) aLit() string {
	if g.pct(15) {
		return "NULL"
	}
	return strconv.Itoa(g.r.IntN(201) - 100)
}

func (g *diffGen) sLit() string {
	s := g.pick("'x'", "'y'", "'zz'", "'xyz'", "'Ab'", "''", "'ünï'", "'x y'", "NULL")
	if s == "''" && g.noEmptyString {
		return "'-'"
	}
	return s
}

func (g *diffGen) dLit() string {
	if g.pct(10) {
		return "NULL"
	}
	day := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, g.r.IntN(120))
	return "DATE '" + day.Format("2006-01-02") + "'"
}

func (g *diffGen) fLit() string {
	if g.pct(10) {
		return "NULL"
	}
	// Multiples of 1/8 are exact in binary.
	return "CAST(" + strconv.FormatFloat(float64(g.r.IntN(2001)-1000)/8, 'f', -1, 64) + " AS DOUBLE)"
}

func (g *diffGen) row() string {
	return "(" + g.kLit() + ", " + g.aLit() + ", " + g.sLit() + ", " + g.dLit() + ", " + g.fLit() + ")"
}

func (g *diffGen) insertValues(n int) string {
	rows := make([]string, n)
	for i := range rows {
		rows[i] = g.row()
	}
	return "INSERT INTO d.t VALUES " + strings.Join(rows, ", ")
}

// atom returns a random simple condition on the row t. Conditions of DML
// statements read no other version of d.t than the one they change: their
// subqueries read d.aux.
func (g *diffGen) atom(dml bool) string {
	n := g.r.IntN(40)
	switch g.r.IntN(20) {
	case 0:
		return fmt.Sprintf("k < %d", n)
	case 1:
		return fmt.Sprintf("k >= %d", n)
	case 2:
		return fmt.Sprintf("k BETWEEN %d AND %d", n, n+g.r.IntN(10))
	case 3:
		return fmt.Sprintf("k %% %d = %d", 2+g.r.IntN(5), g.r.IntN(2))
	case 4:
		return g.pick("k IS NULL", "a IS NULL", "s IS NULL", "d IS NULL", "f IS NULL", "a IS NOT NULL")
	case 5:
		return fmt.Sprintf("a > %d", g.r.IntN(201)-100)
	case 6:
		return fmt.Sprintf("coalesce(a, 0) <= %d", g.r.IntN(201)-100)
	case 7:
		return "s = " + g.sLit()
	case 8:
		return "s IN (" + g.sLit() + ", " + g.sLit() + ")"
	case 9:
		return g.pick("s LIKE 'x%'", "s LIKE '%y%'", "length(s) > 1", "s > 'x'", "s ILIKE 'a%'")
	case 10:
		return "d >= " + g.dLit()
	case 11:
		return fmt.Sprintf("month(d) = %d", g.pick2(11, 12, 1, 2))
	case 12:
		return fmt.Sprintf("f < %d", g.r.IntN(200)-100)
	case 13:
		if dml {
			return fmt.Sprintf("k IN (SELECT k FROM d.aux WHERE a > %d)", g.r.IntN(201)-100)
		}
		return fmt.Sprintf("k IN (SELECT k FROM d.t WHERE a > %d)", g.r.IntN(201)-100)
	case 14:
		return "EXISTS (SELECT 1 FROM d.t t2 WHERE t2.k = t.k + 1)"
	case 15:
		if dml {
			return fmt.Sprintf("a < (SELECT max(a) FROM d.aux WHERE k < %d)", n)
		}
		return fmt.Sprintf("a = (SELECT max(a) FROM d.t WHERE k < %d)", n)
	case 16:
		return fmt.Sprintf("k = %d", n)
	case 17:
		return "d = " + g.dLit()
	case 18:
		return fmt.Sprintf("k + coalesce(a, 0) > %d", g.r.IntN(100))
	}
	return g.pick("true", "false", "a IS DISTINCT FROM k", "f = round(f)")
}

func (g *diffGen) pick2(xs ...int) int { return xs[g.r.IntN(len(xs))] }

// predicate returns a random condition nested up to depth levels.
func (g *diffGen) predicate(depth int, dml bool) string {
	if depth == 0 || g.pct(45) {
		return g.atom(dml)
	}
	switch g.r.IntN(3) {
	case 0:
		return "(" + g.predicate(depth-1, dml) + " AND " + g.predicate(depth-1, dml) + ")"
	case 1:
		return "(" + g.predicate(depth-1, dml) + " OR " + g.predicate(depth-1, dml) + ")"
	}
	return "NOT (" + g.predicate(depth-1, dml) + ")"
}

func (g *diffGen) assignment(col string) string {
	switch col {
	case "k":
		return "k = " + g.pick("(k * 7 + 3) % 50", "k + 1", "k - 1", "coalesce(k, 0) + 2")
	case "a":
		return "a = " + g.pick("a + 1", "CASE WHEN a IS NULL THEN k ELSE -a END", "(coalesce(a, 0) * 3) % 1000", "NULL", "k * 2", g.aLit())
	case "s":
		return "s = " + g.pick("upper(s)", "left(coalesce(s, '') || 'q', 5)", "CASE WHEN k % 2 = 0 THEN 'even' ELSE s END", "NULL", g.sLit())
	case "d":
		return "d = " + g.pick("d + 1", "d - 7", g.dLit(), "CASE WHEN d < DATE '2026-01-01' THEN d + 31 END")
	}
	return "f = " + g.pick("f * 2", "f / 4 + 1", "coalesce(f, 0.5)", "round(f)", "f + k", g.fLit())
}

func (g *diffGen) update() string {
	cols := []string{"k", "a", "s", "d", "f"}
	g.r.Shuffle(len(cols), func(i, j int) { cols[i], cols[j] = cols[j], cols[i] })
	n := 1 + g.r.IntN(3)
	set := make([]string, n)
	for i := range set {
		set[i] = g.assignment(cols[i])
	}
	return "UPDATE d.t SET " + strings.Join(set, ", ") + " WHERE " + g.predicate(2, true)
}

func (g *diffGen) insertSelect() string {
	p := g.predicate(1, false)
	switch g.r.IntN(4) {
	case 0:
		return "INSERT INTO d.t SELECT k + 1, a, s, d, f FROM d.t WHERE " + p
	case 1:
		return "INSERT INTO d.t SELECT k, -a, upper(s), d + 1, f * 2 FROM d.t WHERE " + p
	case 2:
		return "INSERT INTO d.t (s, k) SELECT s, k + 100 FROM d.t WHERE " + p
	}
	return "INSERT INTO d.t SELECT * FROM d.t WHERE " + p
}

func (g *diffGen) merge() string {
	n := 1 + g.r.IntN(5)
	seen := map[string]bool{}
	var rows []string
	for len(rows) < n {
		k := strconv.Itoa(g.r.IntN(50))
		if seen[k] {
			continue
		}
		seen[k] = true
		rows = append(rows, "("+k+", "+g.aLit()+", "+g.sLit()+", "+g.dLit()+", "+g.fLit()+")")
	}
	var b strings.Builder
	b.WriteString("MERGE INTO d.t AS t USING (SELECT * FROM (VALUES " + strings.Join(rows, ", ") + ") v(k, a, s, d, f)) AS src ON t.k = src.k")
	if g.upsert {
		if g.pct(30) {
			b.WriteString(" WHEN MATCHED AND src.a IS NULL THEN DELETE")
		}
		b.WriteString(" WHEN MATCHED THEN UPDATE SET a = src.a, s = src.s, f = coalesce(src.f, t.f)")
	}
	if g.pct(30) {
		b.WriteString(" WHEN NOT MATCHED AND src.a > 0 THEN INSERT VALUES (src.k, src.a, src.s, src.d, src.f)")
		b.WriteString(" WHEN NOT MATCHED THEN INSERT (k, s) VALUES (src.k, 'neg')")
	} else {
		b.WriteString(" WHEN NOT MATCHED THEN INSERT VALUES (src.k, src.a, src.s, src.d, src.f)")
	}
	return b.String()
}

// op returns a random statement and its kind. Inserts that copy rows are
// avoided once the table is large, to keep the run fast.
func (g *diffGen) op(rows int) (string, string) {
	x := g.r.IntN(100)
	switch {
	case x < 22:
		return "insert", g.insertValues(1 + g.r.IntN(6))
	case x < 34 && rows < 300:
		return "insert-select", g.insertSelect()
	case x < 56:
		return "delete", "DELETE FROM d.t WHERE " + g.predicate(2, true)
	case x < 85:
		return "update", g.update()
	case x < 99:
		return "merge", g.merge()
	}
	return "delete-all", "DELETE FROM d.t"
}
