package demo

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

var testScale = Scale{Customers: 300, Products: 60, Orders: 1500, Events: 8000}

func TestGenerateIsDeterministic(t *testing.T) {
	base := t.TempDir()
	gen := func(name string, seed uint64) []File {
		files, err := Generate(filepath.Join(base, name), testScale, seed)
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	a, b, c := gen("a", 7), gen("b", 7), gen("c", 8)
	if len(a) != 5 {
		t.Fatalf("got %d files, want 5", len(a))
	}
	for i := range a {
		da, db, dc := readAll(t, a[i].Path), readAll(t, b[i].Path), readAll(t, c[i].Path)
		if !bytes.Equal(da, db) {
			t.Errorf("%s: same seed gave different bytes", a[i].Table)
		}
		if bytes.Equal(da, dc) {
			t.Errorf("%s: different seeds gave identical bytes", a[i].Table)
		}
		if a[i].Rows != b[i].Rows {
			t.Errorf("%s: rows %d vs %d", a[i].Table, a[i].Rows, b[i].Rows)
		}
		lines := bytes.Count(da, []byte("\n"))
		if a[i].Format == "csv" {
			lines-- // header
		}
		if lines != a[i].Rows {
			t.Errorf("%s: File.Rows = %d, file has %d lines", a[i].Table, a[i].Rows, lines)
		}
	}
}

func TestGenerateRejectsEmptyScale(t *testing.T) {
	if _, err := Generate(t.TempDir(), Scale{Products: 1}, 1); err == nil {
		t.Fatal("want an error for a scale without customers")
	}
}

func TestGenerateTinyScales(t *testing.T) {
	for _, sc := range []Scale{{1, 1, 0, 0}, {1, 1, 5, 50}, {3, 2, 40, 7}, {150, 3, 10, 1000}} {
		files, err := Generate(t.TempDir(), sc, 1)
		if err != nil {
			t.Fatalf("%+v: %v", sc, err)
		}
		if files[0].Rows < sc.Customers || files[2].Rows < sc.Orders || files[4].Rows < sc.Events {
			t.Errorf("%+v: too few rows in %+v", sc, files)
		}
	}
}

func TestStepsShape(t *testing.T) {
	steps := Steps()
	seenGold := false
	names := map[string]bool{}
	for _, s := range steps {
		if !strings.HasPrefix(s.SQL, "CREATE TABLE "+s.Name+" AS") {
			t.Errorf("%s: SQL does not start with CREATE TABLE %s AS", s.Name, s.Name)
		}
		if strings.Count(strings.TrimRight(s.SQL, "; \n"), ";") > 0 {
			t.Errorf("%s: more than one statement", s.Name)
		}
		if s.Doc == "" || strings.Contains(s.Doc, "\n") {
			t.Errorf("%s: Doc must be one non-empty line", s.Name)
		}
		if strings.Contains(s.SQL, "{{") {
			t.Errorf("%s: unexpanded placeholder", s.Name)
		}
		switch {
		case strings.HasPrefix(s.Name, "gold."):
			seenGold = true
			if strings.Contains(s.SQL, "bronze.") {
				t.Errorf("%s: gold must read silver only", s.Name)
			}
		case strings.HasPrefix(s.Name, "silver."):
			if seenGold {
				t.Errorf("%s: silver step after a gold step", s.Name)
			}
		default:
			t.Errorf("%s: not a silver or gold table", s.Name)
		}
		if names[s.Name] {
			t.Errorf("%s: created twice", s.Name)
		}
		names[s.Name] = true
	}
	if n := len(TryQueries()); n < 5 || n > 8 {
		t.Errorf("%d try queries, want 5-8", n)
	}
}

// loaders mimic the bronze loader. "inferred" is what DuckDB's
// auto-detection produces; "text" is a pessimistic loader that keeps ids as
// VARCHAR, timestamps as TIMESTAMPTZ and nested properties as JSON text. The
// silver SQL must give the same answers for both.
var loaders = map[string]func(f File) string{
	"inferred": func(f File) string {
		if f.Format == "csv" {
			return fmt.Sprintf("CREATE TABLE %s AS SELECT * FROM read_csv('%s')", f.Table, f.Path)
		}
		return fmt.Sprintf("CREATE TABLE %s AS SELECT * FROM read_json('%s', format='newline_delimited')", f.Table, f.Path)
	},
	"text": func(f File) string {
		src := fmt.Sprintf("read_json('%s', format='newline_delimited')", f.Path)
		switch f.Table {
		case "bronze.orders":
			return fmt.Sprintf(`CREATE TABLE %s AS SELECT * REPLACE (CAST(order_id AS VARCHAR) AS order_id,
				CAST(customer_id AS VARCHAR) AS customer_id, timezone('UTC', order_ts) AS order_ts) FROM %s`, f.Table, src)
		case "bronze.events":
			return fmt.Sprintf(`CREATE TABLE %s AS SELECT * REPLACE (CAST(customer_id AS VARCHAR) AS customer_id,
				CAST(product_id AS VARCHAR) AS product_id, timezone('UTC', event_ts) AS event_ts,
				CAST(CAST(properties AS JSON) AS VARCHAR) AS properties) FROM %s`, f.Table, src)
		}
		return fmt.Sprintf("CREATE TABLE %s AS SELECT * FROM read_csv('%s', all_varchar=true)", f.Table, f.Path)
	},
}

func TestStepsRunOnDuckDB(t *testing.T) {
	dir := t.TempDir()
	files, err := Generate(dir, testScale, 42)
	if err != nil {
		t.Fatal(err)
	}
	want := expectationsFromFiles(t, files)

	for _, name := range []string{"inferred", "text"} {
		t.Run(name, func(t *testing.T) {
			db := openDuckDB(t)
			for _, f := range files {
				mustExec(t, db, loaders[name](f))
			}
			for _, s := range Steps() {
				if _, err := db.Exec(s.SQL); err != nil {
					t.Fatalf("step %s: %v\n%s", s.Name, err, s.SQL)
				}
			}
			for _, q := range TryQueries() {
				rows, err := db.Query(q.SQL)
				if err != nil {
					t.Fatalf("query %q: %v\n%s", q.Doc, err, q.SQL)
				}
				n := 0
				for rows.Next() {
					n++
				}
				closeRows(t, rows)
				if n == 0 {
					t.Errorf("query %q returned no rows", q.Doc)
				}
			}
			checkSilver(t, db, want)
			checkGold(t, db, want)
		})
	}
}

func openDuckDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// One connection, so the session setting below applies to every
	// statement. A non-UTC zone proves no local time leaks into the data.
	db.SetMaxOpenConns(1)
	mustExec(t, db, "SET TimeZone = 'America/New_York'")
	for _, ns := range []string{"bronze", "silver", "gold"} {
		mustExec(t, db, "CREATE SCHEMA "+ns)
	}
	return db
}

func checkSilver(t *testing.T, db *sql.DB, want expectations) {
	t.Helper()
	var n, distinct int
	queryRow(t, db, "SELECT count(*), count(DISTINCT customer_id) FROM silver.customers", &n, &distinct)
	if n != testScale.Customers || distinct != n {
		t.Errorf("silver.customers: %d rows, %d distinct ids; want %d unique", n, distinct, testScale.Customers)
	}
	rows := queryRows(t, db, "SELECT customer_id, email, marketing_opt_in IS NOT NULL FROM silver.customers")
	for rows.Next() {
		var id int
		var email string
		var optIn bool
		if err := rows.Scan(&id, &email, &optIn); err != nil {
			t.Fatal(err)
		}
		if email != want.emails[id] {
			t.Errorf("customer %d: email %q, want latest %q", id, email, want.emails[id])
		}
		if !optIn {
			t.Errorf("customer %d: marketing_opt_in not parsed", id)
		}
	}
	closeRows(t, rows)

	queryRow(t, db, "SELECT count(*), count(DISTINCT order_id) FROM silver.orders", &n, &distinct)
	if n != testScale.Orders || distinct != n {
		t.Errorf("silver.orders: %d rows, %d distinct ids; want %d unique", n, distinct, testScale.Orders)
	}
	rows = queryRows(t, db, "SELECT order_id, order_ts, CAST(order_date AS VARCHAR), status FROM silver.orders")
	for rows.Next() {
		var id int
		var ts time.Time
		var date, status string
		if err := rows.Scan(&id, &ts, &date, &status); err != nil {
			t.Fatal(err)
		}
		o := want.orders[id]
		if !ts.Equal(o.ts) || date != o.ts.Format(time.DateOnly) {
			t.Errorf("order %d: order_ts %v / %s, want %v", id, ts, date, o.ts)
		}
		if status != o.status {
			t.Errorf("order %d: status %q, want %q", id, status, o.status)
		}
	}
	closeRows(t, rows)

	queryRow(t, db, "SELECT count(*) FROM silver.products WHERE unit_price IS NULL OR active IS NULL", &n)
	if n != 0 {
		t.Errorf("silver.products: %d rows with unparsed price or active", n)
	}
	queryRow(t, db, "SELECT count(*), count(DISTINCT event_id) FROM silver.events", &n, &distinct)
	if n != testScale.Events || distinct != n {
		t.Errorf("silver.events: %d rows, %d distinct ids; want %d unique", n, distinct, testScale.Events)
	}
	queryRow(t, db, `SELECT count(*) FROM silver.events
		WHERE event_ts IS NULL OR event_date IS NULL OR (event_type = 'search' AND search_query IS NULL)
		   OR (event_type = 'purchase' AND (order_id IS NULL OR order_value IS NULL))`, &n)
	if n != 0 {
		t.Errorf("silver.events: %d rows with missing typed fields", n)
	}
}

func checkGold(t *testing.T, db *sql.DB, want expectations) {
	t.Helper()
	var total string
	queryRow(t, db, "SELECT CAST(sum(revenue) AS VARCHAR) FROM gold.daily_revenue_by_region", &total)
	if got := parseCents(t, total); absDiff(got, want.revenue) > 1 {
		t.Errorf("gold revenue %s, computed in Go %s", total, money(want.revenue))
	}

	rows := queryRows(t, db, "SELECT region, CAST(sum(revenue) AS VARCHAR), sum(orders) FROM gold.daily_revenue_by_region GROUP BY region")
	regions := 0
	for rows.Next() {
		var region, rev string
		var orders int
		if err := rows.Scan(&region, &rev, &orders); err != nil {
			t.Fatal(err)
		}
		regions++
		if got := parseCents(t, rev); absDiff(got, want.regionRevenue[region]) > 1 {
			t.Errorf("region %s: revenue %s, computed in Go %s", region, rev, money(want.regionRevenue[region]))
		}
		if orders != want.regionOrders[region] {
			t.Errorf("region %s: %d orders, want %d", region, orders, want.regionOrders[region])
		}
	}
	closeRows(t, rows)
	if regions != len(want.regionRevenue) {
		t.Errorf("gold has %d regions, want %d", regions, len(want.regionRevenue))
	}

	var n, product int
	var top string
	queryRow(t, db, "SELECT count(*) FROM gold.top_products", &n)
	if n != min(50, len(want.productRevenue)) {
		t.Errorf("gold.top_products has %d rows", n)
	}
	queryRow(t, db, "SELECT product_id, CAST(revenue AS VARCHAR) FROM gold.top_products WHERE rank = 1", &product, &top)
	best := 0
	for id, rev := range want.productRevenue {
		if rev > want.productRevenue[best] || rev == want.productRevenue[best] && id < best {
			best = id
		}
	}
	if product != best || parseCents(t, top) != want.productRevenue[best] {
		t.Errorf("top product %d with %s, want %d with %s", product, top, best, money(want.productRevenue[best]))
	}

	var purchased, sessions int
	queryRow(t, db, "SELECT sum(purchased), sum(sessions) FROM gold.conversion_funnel", &purchased, &sessions)
	if purchased != want.purchaseSessions {
		t.Errorf("funnel: %d purchasing sessions, want %d", purchased, want.purchaseSessions)
	}
	if sessions <= purchased {
		t.Errorf("funnel: %d sessions for %d purchases", sessions, purchased)
	}
}

type wantOrder struct {
	ts     time.Time
	status string
	region string
}

// expectations are derived from the raw files with plain Go, independently
// of the SQL under test.
type expectations struct {
	emails           map[int]string
	orders           map[int]wantOrder
	revenue          int64
	regionRevenue    map[string]int64
	regionOrders     map[string]int
	productRevenue   map[int]int64
	purchaseSessions int
}

func expectationsFromFiles(t *testing.T, files []File) expectations {
	t.Helper()
	paths := map[string]string{}
	for _, f := range files {
		paths[f.Table] = f.Path
	}
	want := expectations{
		emails:         map[int]string{},
		orders:         map[int]wantOrder{},
		regionRevenue:  map[string]int64{},
		regionOrders:   map[string]int{},
		productRevenue: map[int]int64{},
	}

	latest, lastInFile := map[int]string{}, map[int]string{}
	for _, rec := range readCSV(t, paths["bronze.customers"]) {
		id := atoi(t, rec["customer_id"])
		lastInFile[id] = rec["updated_at"]
		if rec["updated_at"] > latest[id] {
			latest[id] = rec["updated_at"]
			want.emails[id] = strings.ToLower(strings.TrimSpace(rec["email"]))
		}
	}
	staleLast := 0
	for id, u := range lastInFile {
		if u != latest[id] {
			staleLast++
		}
	}

	eachJSON(t, paths["bronze.orders"], func(line []byte) {
		var o struct {
			OrderID        int    `json:"order_id"`
			OrderTS        string `json:"order_ts"`
			Status         string `json:"status"`
			ShippingRegion string `json:"shipping_region"`
		}
		if err := json.Unmarshal(line, &o); err != nil {
			t.Fatal(err)
		}
		ts, err := time.Parse(time.RFC3339, o.OrderTS)
		if err != nil {
			t.Fatal(err)
		}
		want.orders[o.OrderID] = wantOrder{ts: ts.UTC(), status: strings.ToLower(o.Status), region: o.ShippingRegion}
	})
	for _, o := range want.orders {
		if o.status != "cancelled" {
			want.regionOrders[o.region]++
		}
	}

	for _, rec := range readCSV(t, paths["bronze.order_items"]) {
		o := want.orders[atoi(t, rec["order_id"])]
		if o.status == "cancelled" {
			continue
		}
		exact := parseCents(t, rec["unit_price"]) * int64(atoi(t, rec["quantity"])) * int64(100-atoi(t, rec["discount_pct"]))
		line := (exact + 50) / 100 // half away from zero, like DECIMAL(12,2)
		want.revenue += line
		want.regionRevenue[o.region] += line
		want.productRevenue[atoi(t, rec["product_id"])] += line
	}

	purchases := map[string]bool{}
	eachJSON(t, paths["bronze.events"], func(line []byte) {
		var e struct {
			SessionID string `json:"session_id"`
			EventType string `json:"event_type"`
		}
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatal(err)
		}
		if e.EventType == "purchase" {
			purchases[e.SessionID] = true
		}
	})
	want.purchaseSessions = len(purchases)
	// Without a stale row after the current one, "keep the last row" would
	// pass the dedupe check as well as "keep the newest".
	if want.purchaseSessions == 0 || len(want.regionRevenue) < 2 || staleLast == 0 {
		t.Fatalf("test data too thin: %d purchase sessions, %d regions, %d stale rows last",
			want.purchaseSessions, len(want.regionRevenue), staleLast)
	}
	return want
}

func readAll(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(readAll(t, path))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]map[string]string, 0, len(recs)-1)
	for _, rec := range recs[1:] {
		m := make(map[string]string, len(rec))
		for i, v := range rec {
			m[recs[0][i]] = v
		}
		out = append(out, m)
	}
	return out
}

func eachJSON(t *testing.T, path string, fn func([]byte)) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(readAll(t, path)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fn(sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

func parseCents(t *testing.T, s string) int64 {
	t.Helper()
	whole, frac, _ := strings.Cut(strings.TrimSpace(s), ".")
	frac = (frac + "00")[:2]
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("bad amount %q", s)
	}
	return w*100 + f
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func absDiff(a, b int64) int64 {
	if a > b {
		return a - b
	}
	return b - a
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
}

func queryRows(t *testing.T, db *sql.DB, q string) *sql.Rows {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	return rows
}

func closeRows(t *testing.T, rows *sql.Rows) {
	t.Helper()
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
}

func queryRow(t *testing.T, db *sql.DB, q string, dest ...any) {
	t.Helper()
	if err := db.QueryRow(q).Scan(dest...); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
}
