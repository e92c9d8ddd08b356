package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/klauspost/compress/zstd"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/duck"
	"github.com/edp-data/edp/internal/ingest"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/lake/laketest"
	"github.com/edp-data/edp/internal/policy"
	"github.com/edp-data/edp/internal/query"
)

// env is one lake in a temporary directory, with an engine to read it.
type env struct {
	t   testing.TB
	ctx context.Context
	dir string
	in  string // where input files are written
	l   *lake.Lake
	eng *query.Engine
}

var tbl = lake.Ident{Namespace: "ns", Name: "t"}

func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Name: "t", Roles: []string{auth.RoleAdmin}})
	l, _ := laketest.Open(ctx, t, lake.Options{})
	if err := l.CreateNamespace(ctx, "ns", nil, false); err != nil {
		t.Fatal(err)
	}
	eng, err := query.New(ctx, l, query.Options{TempDir: filepath.Join(dir, "qtmp")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	in := filepath.Join(dir, "in")
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, dir: dir, in: in, l: l, eng: eng}
}

// file writes data to name under the input directory and returns its path.
func (e *env) file(name string, data []byte) string {
	e.t.Helper()
	p := filepath.Join(e.in, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) load(opts ingest.Options) (*ingest.Result, error) {
	if opts.Table == (lake.Ident{}) {
		opts.Table = tbl
	}
	if opts.TempDir == "" {
		opts.TempDir = filepath.Join(e.dir, "tmp")
	}
	return ingest.Load(e.ctx, e.l, opts)
}

func (e *env) mustLoad(opts ingest.Options) *ingest.Result {
	e.t.Helper()
	res, err := e.load(opts)
	if err != nil {
		e.t.Fatalf("load %v: %v", opts.Files, err)
	}
	return res
}

// rows runs a SELECT and renders every value with fmt.Sprint ("NULL" for nil).
func (e *env) rows(q string) [][]string {
	e.t.Helper()
	return e.rowsT(e.t, q)
}

// rowsT is rows reporting to t (fuzz targets must not use the F).
func (e *env) rowsT(t testing.TB, q string) [][]string {
	t.Helper()
	res, err := e.eng.Exec(e.ctx, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer res.Close()
	var out [][]string
	for {
		r, err := res.Rows.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		row := make([]string, len(r))
		for i, v := range r {
			if v == nil {
				row[i] = "NULL"
			} else {
				row[i] = fmt.Sprint(v)
			}
		}
		out = append(out, row)
	}
	return out
}

func (e *env) count(id lake.Ident) int64 {
	e.t.Helper()
	r := e.rows("SELECT count(*) FROM " + id.String())
	var n int64
	fmt.Sscan(r[0][0], &n)
	return n
}

func (e *env) exists(id lake.Ident) bool {
	e.t.Helper()
	ok, err := e.l.TableExists(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return ok
}

func (e *env) snapshots(id lake.Ident) int {
	e.t.Helper()
	s, err := e.l.Snapshots(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(s)
}

// schema renders the table's columns as "name type" in order.
func (e *env) schema(id lake.Ident) []string {
	e.t.Helper()
	t, err := e.l.LoadTable(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, f := range t.Schema().Fields() {
		out = append(out, f.Name+" "+f.Type.String())
	}
	return out
}

// warehouseFiles lists the files in the warehouse.
func (e *env) warehouseFiles() []string {
	e.t.Helper()
	return warehouseFiles(e.t, e.l)
}

func warehouseFiles(t testing.TB, l *lake.Lake) []string {
	t.Helper()
	files, err := l.ListFiles(context.Background(), l.WarehouseURI())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// expectFailure runs a load that must fail and checks that it left
// nothing behind: no table when there was none, the same snapshots and
// schema when there was one, and no new files in the warehouse. It
// returns the error for further checks.
func (e *env) expectFailure(opts ingest.Options, badInput bool, want ...string) error {
	e.t.Helper()
	id := opts.Table
	if id == (lake.Ident{}) {
		id = tbl
	}
	existed := e.exists(id)
	var snaps int
	var schema []string
	if existed {
		snaps = e.snapshots(id)
		schema = e.schema(id)
	}
	before := e.warehouseFiles()
	res, err := e.load(opts)
	if err == nil {
		e.t.Fatalf("load %v succeeded (%+v); want an error", opts.Files, res)
	}
	if badInput && !errors.Is(err, ingest.ErrBadInput) {
		e.t.Errorf("error %q does not wrap ErrBadInput", short(err))
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			e.t.Errorf("error %q does not mention %q", short(err), w)
		}
	}
	if existed {
		if got := e.snapshots(id); got != snaps {
			e.t.Errorf("snapshots: %d after a failed load, %d before", got, snaps)
		}
		if got := e.schema(id); !slices.Equal(got, schema) {
			e.t.Errorf("schema changed by a failed load: %v, was %v", got, schema)
		}
	} else if e.exists(id) {
		e.t.Errorf("failed load left table %s behind", id)
	}
	if after := e.warehouseFiles(); !slices.Equal(after, before) {
		e.t.Errorf("failed load left files in the warehouse:\nbefore %v\nafter  %v", before, after)
	}
	return err
}

// short keeps error messages that quote a huge input line readable.
func short(err error) string {
	s := err.Error()
	if len(s) > 1500 {
		s = s[:700] + fmt.Sprintf(" …[%d bytes]… ", len(s)-1400) + s[len(s)-700:]
	}
	return s
}

func eq(t testing.TB, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}

func gzipBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeParquet writes the rows of a DuckDB SELECT to a Parquet file.
func writeParquet(t testing.TB, path, selectSQL string) {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("COPY (" + selectSQL + ") TO " + duck.Quote(path) + " (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
}

const peopleCSV = "id,name,amount,day,ts,active\n" +
	"1,alice,10.5,2024-01-01,2024-01-01 10:00:00,true\n" +
	"2,bob,-3.25,2024-01-02,2024-01-02 11:30:00,false\n" +
	"3,carol,0,2024-01-03,2024-01-03 23:59:59,true\n"

var peopleSchema = []string{"id long", "name string", "amount double", "day date", "ts timestamp", "active boolean"}

var peopleRows = [][]string{
	{"1", "alice", "10.5", "2024-01-01", "2024-01-01 10:00:00", "true"},
	{"2", "bob", "-3.25", "2024-01-02", "2024-01-02 11:30:00", "false"},
	{"3", "carol", "0", "2024-01-03", "2024-01-03 23:59:59", "true"},
}

const peopleSelect = "SELECT id, name, amount, CAST(day AS VARCHAR), CAST(ts AS VARCHAR), active FROM ns.t ORDER BY id"

func TestLoadCSVWithHeader(t *testing.T) {
	e := newEnv(t)
	res := e.mustLoad(ingest.Options{Files: []string{e.file("people.csv", []byte(peopleCSV))}})
	if !res.Created || res.Rows != 3 || res.Rejected != 0 || res.Files != 1 || res.Table != tbl {
		t.Errorf("result %+v", res)
	}
	eq(t, "schema", e.schema(tbl), peopleSchema)
	eq(t, "rows", e.rows(peopleSelect), peopleRows)
	snaps, err := e.l.Snapshots(e.ctx, tbl)
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 1 {
		t.Fatalf("%d snapshots, want 1", len(snaps))
	}
	eq(t, "job", snaps[0].Job, "load")
	eq(t, "principal", snaps[0].Principal, "t")
	eq(t, "edp.load.files", snaps[0].Summary["edp.load.files"], "1")
	eq(t, "edp.load.rejected", snaps[0].Summary["edp.load.rejected"], "0")
}

func TestLoadCSVDelimiters(t *testing.T) {
	for _, tc := range []struct {
		name, delim, given, file string
	}{
		{"semicolon", ";", ";", "p.csv"},
		{"semicolon-detected", ";", "", "p.csv"},
		{"tab-escape", "\t", `\t`, "p.tsv"},
		{"tab-word", "\t", "tab", "p.tsv"},
		{"tab-literal", "\t", "\t", "p.txt"},
		{"tab-detected", "\t", "", "p.tsv"},
		{"pipe", "|", "|", "p.csv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			// The amount column uses a comma nowhere, so a wrong split shows.
			data := strings.ReplaceAll(peopleCSV, ",", tc.delim)
			res := e.mustLoad(ingest.Options{Files: []string{e.file(tc.file, []byte(data))}, CSV: ingest.CSVOptions{Delimiter: tc.given}})
			eq(t, "rows loaded", res.Rows, 3)
			eq(t, "schema", e.schema(tbl), peopleSchema)
			eq(t, "rows", e.rows(peopleSelect), peopleRows)
		})
	}
}

func TestLoadCSVQuotedFields(t *testing.T) {
	e := newEnv(t)
	data := "id,text,other\n" +
		"1,\"a,b\",x\n" +
		"2,\"line one\nline two\",y\n" +
		"3,\"she said \"\"hi\"\"\",z\n" +
		"4,\"all, of \"\"it\"\"\r\nhere\",v\n"
	res := e.mustLoad(ingest.Options{Files: []string{e.file("q.csv", []byte(data))}})
	eq(t, "rows loaded", res.Rows, 4)
	eq(t, "schema", e.schema(tbl), []string{"id long", "text string", "other string"})
	got := e.rows("SELECT id, text, other FROM ns.t ORDER BY id")
	want := [][]string{
		{"1", "a,b", "x"},
		{"2", "line one\nline two", "y"},
		{"3", `she said "hi"`, "z"},
		{"4", "all, of \"it\"\r\nhere", "v"},
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("rows:\n got %q\nwant %q", got, want)
	}
}

func TestLoadCSVCustomQuote(t *testing.T) {
	e := newEnv(t)
	data := "id,text\n1,'a,b'\n2,plain\n"
	e.mustLoad(ingest.Options{Files: []string{e.file("q.csv", []byte(data))}, CSV: ingest.CSVOptions{Quote: "'"}})
	eq(t, "rows", e.rows("SELECT id, text FROM ns.t ORDER BY id"), [][]string{{"1", "a,b"}, {"2", "plain"}})
}

func TestLoadCSVNullTokens(t *testing.T) {
	e := newEnv(t)
	data := "id,name,score\n1,alice,NA\nNA,bob,2.5\n3,NA,4\n4,,1\n"
	res := e.mustLoad(ingest.Options{Files: []string{e.file("n.csv", []byte(data))}, CSV: ingest.CSVOptions{Nulls: []string{"NA"}}})
	eq(t, "rows loaded", res.Rows, 4)
	eq(t, "schema", e.schema(tbl), []string{"id long", "name string", "score double"})
	eq(t, "rows", e.rows("SELECT id, name, score FROM ns.t ORDER BY id NULLS FIRST, name"),
		[][]string{{"NULL", "bob", "2.5"}, {"1", "alice", "NULL"}, {"3", "NULL", "4"}, {"4", "", "1"}})
	eq(t, "null names", e.rows("SELECT count(*) FROM ns.t WHERE name IS NULL"), [][]string{{"1"}})
}

func TestLoadCSVNullTokensSeveral(t *testing.T) {
	e := newEnv(t)
	data := "id,v\n1,NA\n2,-\n3,x\n"
	e.mustLoad(ingest.Options{Files: []string{e.file("n.csv", []byte(data))}, CSV: ingest.CSVOptions{Nulls: []string{"NA", "-"}}})
	eq(t, "rows", e.rows("SELECT id, v FROM ns.t ORDER BY id"), [][]string{{"1", "NULL"}, {"2", "NULL"}, {"3", "x"}})
}

func TestLoadCSVHeaderOption(t *testing.T) {
	e := newEnv(t)
	no := false
	// All-string rows: without the option DuckDB might take the first row for a header.
	data := "a,b\nc,d\n"
	res := e.mustLoad(ingest.Options{Files: []string{e.file("h.csv", []byte(data))}, CSV: ingest.CSVOptions{Header: &no}})
	eq(t, "rows loaded", res.Rows, 2)
	eq(t, "schema", e.schema(tbl), []string{"column0 string", "column1 string"})
	eq(t, "rows", e.rows("SELECT * FROM ns.t ORDER BY 1"), [][]string{{"a", "b"}, {"c", "d"}})
}

func TestLoadCompressedCSV(t *testing.T) {
	for _, tc := range []struct {
		name string
		enc  func(testing.TB, []byte) []byte
	}{
		{"people.csv.gz", gzipBytes},
		{"people.csv.zst", zstdBytes},
		{"people.tsv.zst", zstdBytes},
		{"people.tsv.gz", gzipBytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			data := peopleCSV
			if strings.Contains(tc.name, ".tsv") {
				data = strings.ReplaceAll(data, ",", "\t")
			}
			res := e.mustLoad(ingest.Options{Files: []string{e.file(tc.name, tc.enc(t, []byte(data)))}})
			eq(t, "rows loaded", res.Rows, 3)
			eq(t, "schema", e.schema(tbl), peopleSchema)
			eq(t, "rows", e.rows(peopleSelect), peopleRows)
		})
	}
}

const eventsNDJSON = `{"id": 1, "name": "a", "score": 1.5, "tags": ["x", "y"], "attrs": {"k": 1, "s": "p"}, "ok": true}
{"id": 2, "name": "b", "score": null, "tags": [], "attrs": {"k": 2, "s": "q"}, "ok": false}
{"id": 3, "name": null, "score": 3, "tags": ["z"], "attrs": {"k": 3, "s": null}, "ok": null}
`

func checkEvents(t *testing.T, e *env) {
	t.Helper()
	sch := e.schema(tbl)
	eq(t, "columns", len(sch), 6)
	for i, want := range []string{"id long", "name string", "score double"} {
		eq(t, "column", sch[i], want)
	}
	if !strings.HasPrefix(sch[3], "tags list<string>") {
		t.Errorf("tags: %s, want list<string>", sch[3])
	}
	if !strings.HasPrefix(sch[4], "attrs struct<") || !strings.Contains(sch[4], "k: optional long") || !strings.Contains(sch[4], "s: optional string") {
		t.Errorf("attrs: %s, want struct<k long, s string>", sch[4])
	}
	eq(t, "ok", sch[5], "ok boolean")
	eq(t, "rows", e.rows("SELECT id, name, score, len(tags), CAST(tags AS VARCHAR), attrs.k, attrs.s, ok FROM ns.t ORDER BY id"), [][]string{
		{"1", "a", "1.5", "2", "[x, y]", "1", "p", "true"},
		{"2", "b", "NULL", "0", "[]", "2", "q", "false"},
		{"3", "NULL", "3", "1", "[z]", "3", "NULL", "NULL"},
	})
}

func TestLoadNDJSON(t *testing.T) {
	for _, name := range []string{"e.ndjson", "e.jsonl", "e.json"} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			res := e.mustLoad(ingest.Options{Files: []string{e.file(name, []byte(eventsNDJSON))}})
			eq(t, "rows loaded", res.Rows, 3)
			checkEvents(t, e)
		})
	}
}

func TestLoadJSONArray(t *testing.T) {
	e := newEnv(t)
	lines := strings.Split(strings.TrimSpace(eventsNDJSON), "\n")
	data := "[\n  " + strings.Join(lines, ",\n  ") + "\n]\n"
	res := e.mustLoad(ingest.Options{Files: []string{e.file("e.json", []byte(data))}})
	eq(t, "rows loaded", res.Rows, 3)
	checkEvents(t, e)
}

func TestLoadCompressedJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		enc  func(testing.TB, []byte) []byte
	}{
		{"e.ndjson.gz", gzipBytes},
		{"e.json.zst", zstdBytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			res := e.mustLoad(ingest.Options{Files: []string{e.file(tc.name, tc.enc(t, []byte(eventsNDJSON)))}})
			eq(t, "rows loaded", res.Rows, 3)
			checkEvents(t, e)
		})
	}
}

func TestLoadParquet(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.in, "p.parquet")
	writeParquet(t, p, `SELECT i AS id, CAST(i AS INTEGER) AS small, 'n' || i AS name,
		CAST(i * 1.25 AS DECIMAL(10,2)) AS price, i / 4 AS ratio, DATE '2024-01-01' + CAST(i AS INTEGER) AS day,
		TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (i) HOUR AS ts, i % 2 = 0 AS even,
		CASE WHEN i % 3 = 0 THEN NULL ELSE i END AS maybe
		FROM range(1, 101) r(i)`)
	res := e.mustLoad(ingest.Options{Files: []string{p}})
	eq(t, "rows loaded", res.Rows, 100)
	eq(t, "schema", e.schema(tbl), []string{"id long", "small int", "name string", "price decimal(10, 2)",
		"ratio double", "day date", "ts timestamp", "even boolean", "maybe long"})
	eq(t, "aggregates", e.rows(`SELECT count(*), sum(id), sum(small), count(DISTINCT name), CAST(sum(price) AS VARCHAR), sum(ratio),
		CAST(max(day) AS VARCHAR), CAST(max(ts) AS VARCHAR), count(*) FILTER (WHERE even), count(maybe) FROM ns.t`),
		[][]string{{"100", "5050", "5050", "100", "6312.50", "1262.5", "2024-04-10", "2024-01-05 04:00:00", "50", "67"}})
	// .pq is Parquet too.
	e.mustLoad(ingest.Options{Files: []string{e.file("again.pq", mustRead(t, p))}})
	eq(t, "count after .pq", e.count(tbl), 200)
}

func mustRead(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadGlobs(t *testing.T) {
	e := newEnv(t)
	var want int64
	for i := 1; i <= 3; i++ {
		var b strings.Builder
		b.WriteString("id,part\n")
		for j := 0; j < i*10; j++ {
			fmt.Fprintf(&b, "%d,%d\n", i*1000+j, i)
			want++
		}
		e.file(fmt.Sprintf("parts/part-%d.csv", i), []byte(b.String()))
	}
	e.file("parts/notes.md", []byte("not data\n"))
	// Overlapping patterns name each file once.
	res := e.mustLoad(ingest.Options{Files: []string{filepath.Join(e.in, "parts", "*.csv"), filepath.Join(e.in, "parts", "part-1.csv")}})
	eq(t, "files", res.Files, 3)
	eq(t, "rows loaded", res.Rows, want)
	eq(t, "per file", e.rows("SELECT part, count(*), min(id), max(id) FROM ns.t GROUP BY part ORDER BY part"),
		[][]string{{"1", "10", "1000", "1009"}, {"2", "20", "2000", "2019"}, {"3", "30", "3000", "3029"}})
	eq(t, "snapshots", e.snapshots(tbl), 1)
	snaps, _ := e.l.Snapshots(e.ctx, tbl)
	eq(t, "edp.load.files", snaps[0].Summary["edp.load.files"], "3")
}

func TestLoadGlobJSONFiles(t *testing.T) {
	e := newEnv(t)
	e.file("j/a.ndjson", []byte(`{"id": 1, "v": "a"}`+"\n"+`{"id": 2, "v": "b"}`+"\n"))
	e.file("j/b.ndjson", []byte(`{"id": 3, "v": "c"}`+"\n"))
	res := e.mustLoad(ingest.Options{Files: []string{filepath.Join(e.in, "j", "*.ndjson")}})
	eq(t, "files", res.Files, 2)
	eq(t, "rows", e.rows("SELECT id, v FROM ns.t ORDER BY id"), [][]string{{"1", "a"}, {"2", "b"}, {"3", "c"}})
}

// TestLoadPartitioned checks that every data file holds only rows of its
// recorded partition, computing the transforms with iceberg-go.
func TestLoadPartitioned(t *testing.T) {
	e := newEnv(t)
	var b strings.Builder
	b.WriteString("id,ts,v\n")
	const n = 200
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%d,2024-02-%02d %02d:%02d:00,v%d\n", i-50, 1+i%5, (i*7)%24, i%60, i)
	}
	b.WriteString("1000,,null-ts\n")
	res := e.mustLoad(ingest.Options{Files: []string{e.file("p.csv", []byte(b.String()))}, PartitionBy: []string{"day(ts)", "bucket(8, id)"}})
	eq(t, "rows loaded", res.Rows, n+1)
	eq(t, "count", e.count(tbl), n+1)
	eq(t, "sum", e.rows("SELECT sum(id), count(DISTINCT v) FROM ns.t"), [][]string{{fmt.Sprint(n*(n-1)/2 - 50*n + 1000), fmt.Sprint(n + 1)}})

	it, err := e.l.LoadTable(e.ctx, tbl)
	if err != nil {
		t.Fatal(err)
	}
	var specFields []string
	spec := it.Spec()
	for _, f := range spec.Fields() {
		specFields = append(specFields, fmt.Sprintf("%s=%s", f.Name, f.Transform))
	}
	eq(t, "spec", specFields, []string{"ts_day=day", "id_bucket_8=bucket[8]"})
	dayID, bucketID := spec.Field(0).FieldID, spec.Field(1).FieldID

	tasks, err := it.Scan().PlanFiles(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) < 10 {
		t.Errorf("only %d data files for 5 days x 8 buckets", len(tasks))
	}
	db, err := duck.Open(e.ctx, duck.Options{AllowedDirs: e.l.LocalDirs()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var seen int64
	for _, task := range tasks {
		part := task.File.Partition()
		local, err := e.l.Fetch(e.ctx, []lake.FileRef{{URI: task.File.FilePath(), Size: task.File.FileSizeBytes()}})
		if err != nil {
			t.Fatal(err)
		}
		defer local.Release()
		rs, err := db.QueryContext(e.ctx, "SELECT id, epoch_us(ts) FROM read_parquet("+duck.Quote(local.Path(task.File.FilePath()))+")")
		if err != nil {
			t.Fatal(err)
		}
		for rs.Next() {
			var id int64
			var us sql.NullInt64
			if err := rs.Scan(&id, &us); err != nil {
				t.Fatal(err)
			}
			seen++
			wantBucket := iceberg.BucketTransform{NumBuckets: 8}.Apply(iceberg.Optional[iceberg.Literal]{Valid: true, Val: iceberg.Int64Literal(id)})
			if fmt.Sprint(asInt(part[bucketID])) != fmt.Sprint(asInt(wantBucket.Val)) {
				t.Errorf("id %d in file with bucket %v, want %v", id, part[bucketID], wantBucket.Val)
			}
			var wantDay any
			if us.Valid {
				d := iceberg.DayTransform{}.Apply(iceberg.Optional[iceberg.Literal]{Valid: true, Val: iceberg.TimestampLiteral(iceberg.Timestamp(us.Int64))})
				wantDay = asInt(d.Val)
			}
			if fmt.Sprint(asInt(part[dayID])) != fmt.Sprint(wantDay) {
				t.Errorf("id %d (ts %v) in file with day %v, want %v", id, us, part[dayID], wantDay)
			}
		}
		rs.Close()
	}
	eq(t, "rows in planned files", seen, n+1)

	// iceberg-go's own reader prunes files by partition: a wrong partition
	// value hides the row.
	for _, id := range []int64{-50, -1, 0, 7, 149, 1000} {
		arr, err := it.Scan(table.WithRowFilter(iceberg.EqualTo(iceberg.Reference("id"), id))).ToArrowTable(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if arr.NumRows() != 1 {
			t.Errorf("scan id = %d: %d rows, want 1", id, arr.NumRows())
		}
		arr.Release()
	}
}

// asInt normalises a partition value (int32, iceberg.Date, a literal) to int64.
func asInt(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case int32:
		return int64(x)
	case int64:
		return x
	case iceberg.Date:
		return int64(x)
	case iceberg.Int32Literal:
		return int64(x)
	case iceberg.DateLiteral:
		return int64(x)
	}
	return fmt.Sprintf("%T(%v)", v, v)
}

func TestLoadPartitionedJSON(t *testing.T) {
	e := newEnv(t)
	var b strings.Builder
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, `{"id": %d, "region": "r%d"}`+"\n", i, i%3)
	}
	e.mustLoad(ingest.Options{Files: []string{e.file("p.ndjson", []byte(b.String()))}, PartitionBy: []string{"region", "bucket(4, id)"}})
	eq(t, "by region", e.rows("SELECT region, count(*) FROM ns.t GROUP BY region ORDER BY region"),
		[][]string{{"r0", "14"}, {"r1", "13"}, {"r2", "13"}})
}

func TestLoadPartitionByUnknownColumn(t *testing.T) {
	e := newEnv(t)
	e.expectFailure(ingest.Options{Files: []string{e.file("p.csv", []byte(peopleCSV))}, PartitionBy: []string{"day(nope)"}}, false, "nope")
}

func TestLoadPartitionByOnExistingTable(t *testing.T) {
	e := newEnv(t)
	p := e.file("p.csv", []byte(peopleCSV))
	e.mustLoad(ingest.Options{Files: []string{p}})
	e.expectFailure(ingest.Options{Files: []string{p}, PartitionBy: []string{"day(ts)"}}, false, "partition-by")
}

func TestLoadAppend(t *testing.T) {
	e := newEnv(t)
	p := e.file("p.csv", []byte(peopleCSV))
	res := e.mustLoad(ingest.Options{Files: []string{p}})
	eq(t, "created", res.Created, true)
	// Columns in another order, one missing: matched by name, missing ones NULL.
	q := e.file("q.csv", []byte("name,ID,active\ndave,4,false\nerin,5,true\n"))
	res = e.mustLoad(ingest.Options{Files: []string{q}})
	eq(t, "created on append", res.Created, false)
	eq(t, "rows appended", res.Rows, 2)
	eq(t, "snapshots", e.snapshots(tbl), 2)
	eq(t, "schema", e.schema(tbl), peopleSchema)
	eq(t, "rows", e.rows(peopleSelect), append(slices.Clone(peopleRows),
		[]string{"4", "dave", "NULL", "NULL", "NULL", "false"},
		[]string{"5", "erin", "NULL", "NULL", "NULL", "true"}))
	// A value the sniffer would read as BIGINT goes into the table's type.
	r := e.file("r.csv", []byte("id,amount\n6,7\n"))
	e.mustLoad(ingest.Options{Files: []string{r}})
	eq(t, "amount stays double", e.rows("SELECT amount FROM ns.t WHERE id = 6"), [][]string{{"7"}})
	eq(t, "schema after", e.schema(tbl), peopleSchema)
}

func TestLoadAppendJSONToCSVTable(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(ingest.Options{Files: []string{e.file("p.csv", []byte(peopleCSV))}})
	e.mustLoad(ingest.Options{Files: []string{e.file("p.ndjson", []byte(`{"id": 9, "name": "z", "amount": 2, "ts": "2024-05-05 05:05:05"}`+"\n"))}})
	eq(t, "appended", e.rows("SELECT name, amount, CAST(ts AS VARCHAR) FROM ns.t WHERE id = 9"), [][]string{{"z", "2", "2024-05-05 05:05:05"}})
}

func TestLoadEvolve(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(ingest.Options{Files: []string{e.file("p.csv", []byte(peopleCSV))}})
	q := e.file("q.csv", []byte("id,name,note,score\n4,dave,hello,7\n"))
	res := e.mustLoad(ingest.Options{Files: []string{q}, Evolve: true})
	eq(t, "rows", res.Rows, 1)
	eq(t, "schema", e.schema(tbl), append(slices.Clone(peopleSchema), "note string", "score long"))
	eq(t, "rows", e.rows("SELECT id, name, note, score FROM ns.t ORDER BY id"), [][]string{
		{"1", "alice", "NULL", "NULL"}, {"2", "bob", "NULL", "NULL"}, {"3", "carol", "NULL", "NULL"}, {"4", "dave", "hello", "7"},
	})
	eq(t, "snapshots", e.snapshots(tbl), 2)
	// Evolve with nothing new is a plain append.
	e.mustLoad(ingest.Options{Files: []string{q}, Evolve: true})
	eq(t, "count", e.count(tbl), 5)
}

func TestLoadEvolveJSONNested(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(ingest.Options{Files: []string{e.file("a.ndjson", []byte(`{"id": 1}`+"\n"))}})
	e.mustLoad(ingest.Options{Files: []string{e.file("b.ndjson", []byte(`{"id": 2, "meta": {"a": 1, "b": [1, 2]}}`+"\n"))}, Evolve: true})
	eq(t, "rows", e.rows("SELECT id, meta.a, CAST(meta.b AS VARCHAR) FROM ns.t ORDER BY id"), [][]string{{"1", "NULL", "NULL"}, {"2", "1", "[1, 2]"}})
}

func TestLoadExtraColumnWithoutEvolve(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(ingest.Options{Files: []string{e.file("p.csv", []byte(peopleCSV))}})
	q := e.file("q.csv", []byte("id,name,note\n4,dave,hello\n"))
	e.expectFailure(ingest.Options{Files: []string{q}}, true, "note", "--evolve", "ns.t")
	eq(t, "count", e.count(tbl), 3)
}

// ---- bad input ----

// quotedRows is a CSV whose fields are quoted, long enough that the
// dialect sniffer settles on '"' as the quote before line n+2.
func quotedRows(n int) string {
	var b strings.Builder
	b.WriteString("id,name\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%d,\"n,%d\"\n", i, i)
	}
	return b.String()
}

func TestLoadBadCSVUnterminatedQuote(t *testing.T) {
	data := quotedRows(30000) + "30000,\"never closed\n30001,x\n30002,y\n"
	t.Run("new", func(t *testing.T) {
		e := newEnv(t)
		p := e.file("bad.csv", []byte(data))
		err := e.expectFailure(ingest.Options{Files: []string{p}}, true, p, "line 30002", "column name", "unterminated quote")
		t.Log(short(err))
	})
	t.Run("existing", func(t *testing.T) {
		e := newEnv(t)
		e.mustLoad(ingest.Options{Files: []string{e.file("good.csv", []byte(quotedRows(3)))}})
		p := e.file("bad.csv", []byte(data))
		err := e.expectFailure(ingest.Options{Files: []string{p}}, true, p, "line 30002", "column name", "unterminated quote")
		t.Log(short(err))
		eq(t, "count", e.count(tbl), 3)
	})
	t.Run("skip", func(t *testing.T) {
		e := newEnv(t)
		// The open quote swallows the rest of the file: one bad row.
		res := e.mustLoad(ingest.Options{Files: []string{e.file("bad.csv", []byte(data))}, BadRows: ingest.BadRowsSkip})
		eq(t, "loaded", res.Rows, 30000)
		eq(t, "rejected", res.Rejected, 1)
		eq(t, "table", e.rows("SELECT count(*), max(id), count(DISTINCT name) FROM ns.t"), [][]string{{"30000", "29999", "30000"}})
	})
}

func TestLoadBadCSVFieldCount(t *testing.T) {
	e := newEnv(t)
	p := e.file("bad.csv", []byte("a,b,c\n1,2,3\n4,5,6\n7,8,9,10\n11,12,13\n"))
	err := e.expectFailure(ingest.Options{Files: []string{p}}, true, p, "line 4")
	t.Log(short(err))
	// Too few fields, in an existing table.
	e.mustLoad(ingest.Options{Files: []string{e.file("good.csv", []byte("a,b,c\n1,2,3\n"))}})
	q := e.file("short.csv", []byte("a,b,c\n1,2,3\n4,5\n"))
	err = e.expectFailure(ingest.Options{Files: []string{q}}, true, q, "line 3")
	t.Log(short(err))
}

func TestLoadBadCSVTypeMismatch(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(ingest.Options{Files: []string{e.file("good.csv", []byte("id,name\n1,a\n"))}})
	eq(t, "schema", e.schema(tbl), []string{"id long", "name string"})
	p := e.file("bad.csv", []byte("id,name\n2,b\n3,c\nabc,d\n5,e\n"))
	err := e.expectFailure(ingest.Options{Files: []string{p}}, true, p, "line 4", "column id", "abc")
	t.Log(short(err))
	// The second of several files, reported with its own line number.
	q := e.file("bad2.csv", []byte("id,name\n7,x\n12abc,y\n"))
	err = e.expectFailure(ingest.Options{Files: []string{e.file("fine.csv", []byte("id,name\n8,z\n9,zz\n10,zzz\n")), q}}, true, q, "line 3", "column id", "12abc")
	t.Log(short(err))
	eq(t, "count", e.count(tbl), 1)
}

func TestLoadBadNDJSONTypeMismatch(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(ingest.Options{Files: []string{e.file("good.ndjson", []byte(`{"id": 1, "name": "a"}`+"\n"))}})
	p := e.file("bad.ndjson", []byte(`{"id": 2, "name": "b"}`+"\n"+`{"id": "abc", "name": "c"}`+"\n"+`{"id": 4, "name": "d"}`+"\n"))
	err := e.expectFailure(ingest.Options{Files: []string{p}}, true, p, "record 2", "column id", "abc")
	t.Log(short(err))
	eq(t, "count", e.count(tbl), 1)
	// Record numbers hold in a file DuckDB reads in parallel.
	var b strings.Builder
	for i := 1; i <= 100000; i++ {
		if i == 70000 {
			b.WriteString(`{"id": "x70000", "name": "bad"}` + "\n")
			continue
		}
		fmt.Fprintf(&b, `{"id": "%d", "name": "n"}`+"\n", i)
	}
	q := e.file("big.ndjson", []byte(b.String()))
	err = e.expectFailure(ingest.Options{Files: []string{q}}, true, q, "record 70000 ", "column id", "x70000")
	t.Log(short(err))
}

func TestLoadBadParquetTypeMismatch(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(ingest.Options{Files: []string{e.file("good.ndjson", []byte(`{"id": 1, "name": "a"}`+"\n"))}})
	p := filepath.Join(e.in, "bad.parquet")
	writeParquet(t, p, "SELECT CAST(i AS VARCHAR) AS id, 'n' AS name FROM range(5) r(i) UNION ALL SELECT 'abc', 'm' UNION ALL SELECT '9', 'o'")
	err := e.expectFailure(ingest.Options{Files: []string{p}}, true, p, "record 6", "column id", "abc", "BIGINT")
	t.Log(short(err))
}

func TestLoadBadJSONMalformed(t *testing.T) {
	e := newEnv(t)
	p := e.file("bad.ndjson", []byte(`{"id": 1}`+"\n"+`{"id": 2`+"\n"+`{"id": 3}`+"\n"))
	err := e.expectFailure(ingest.Options{Files: []string{p}}, true, p)
	t.Log(short(err))
	// Far past the sample DuckDB infers the schema from.
	var b strings.Builder
	for i := 0; i < 30000; i++ {
		fmt.Fprintf(&b, `{"id": %d}`+"\n", i)
	}
	q := e.file("late.ndjson", []byte(b.String()+`{"id": 5`+"\n"))
	err = e.expectFailure(ingest.Options{Files: []string{q}}, true, q, "Malformed JSON")
	t.Log(short(err))
	r := e.file("late2.ndjson", []byte(b.String()+`{"id": "abc"}`+"\n"))
	err = e.expectFailure(ingest.Options{Files: []string{r}}, true, r, "line 30001", "abc")
	t.Log(short(err))
}

func TestLoadTruncatedParquet(t *testing.T) {
	e := newEnv(t)
	full := filepath.Join(t.TempDir(), "full.parquet")
	writeParquet(t, full, "SELECT i AS id, 'x' || i AS s FROM range(1000) r(i)")
	b := mustRead(t, full)
	p := e.file("cut.parquet", b[:len(b)/2])
	err := e.expectFailure(ingest.Options{Files: []string{p}}, true, p)
	t.Log(short(err))
	// And into an existing table.
	e.mustLoad(ingest.Options{Files: []string{e.file("whole.parquet", b)}})
	err = e.expectFailure(ingest.Options{Files: []string{p}}, true, p)
	t.Log(short(err))
	eq(t, "count", e.count(tbl), 1000)
}

func TestLoadEmptyFile(t *testing.T) {
	for _, name := range []string{"e.csv", "e.ndjson", "e.parquet"} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			p := e.file(name, nil)
			e.expectFailure(ingest.Options{Files: []string{p}}, true, p, "empty")
		})
	}
}

func TestLoadLongLine(t *testing.T) {
	long := strings.Repeat("x", 10<<20)
	t.Run("csv", func(t *testing.T) {
		// Longer than DuckDB's CSV line limit: refused, naming the file.
		e := newEnv(t)
		p := e.file("long.csv", []byte("id,text\n1,short\n2,"+long+"\n3,short\n"))
		err := e.expectFailure(ingest.Options{Files: []string{p}}, true, p, "Maximum line size")
		t.Log(short(err))
	})
	t.Run("csv-existing", func(t *testing.T) {
		e := newEnv(t)
		e.mustLoad(ingest.Options{Files: []string{e.file("good.csv", []byte("id,text\n0,zero\n"))}})
		p := e.file("long.csv", []byte("id,text\n1,short\n2,"+long+"\n3,short\n"))
		e.expectFailure(ingest.Options{Files: []string{p}}, true, p, "Maximum line size")
	})
	t.Run("ndjson", func(t *testing.T) {
		// Within DuckDB's JSON object limit: loads whole.
		e := newEnv(t)
		p := e.file("long.ndjson", []byte(`{"id": 1, "text": "short"}`+"\n"+`{"id": 2, "text": "`+long+`"}`+"\n"))
		res := e.mustLoad(ingest.Options{Files: []string{p}})
		eq(t, "rows", res.Rows, 2)
		eq(t, "length", e.rows("SELECT max(length(text)) FROM ns.t"), [][]string{{fmt.Sprint(len(long))}})
	})
}

func TestLoadInvalidUTF8(t *testing.T) {
	latin1 := []byte("id,name\n1,caf\xe9\n2,ok\n")
	t.Run("csv-new", func(t *testing.T) {
		e := newEnv(t)
		p := e.file("latin1.csv", latin1)
		err := e.expectFailure(ingest.Options{Files: []string{p}}, true, p, "line 2")
		t.Log(short(err))
	})
	t.Run("csv-existing", func(t *testing.T) {
		e := newEnv(t)
		e.mustLoad(ingest.Options{Files: []string{e.file("good.csv", []byte("id,name\n0,x\n"))}})
		p := e.file("latin1.csv", latin1)
		err := e.expectFailure(ingest.Options{Files: []string{p}}, true, p, "not utf-8")
		t.Log(short(err))
	})
	t.Run("csv-skip", func(t *testing.T) {
		e := newEnv(t)
		res := e.mustLoad(ingest.Options{Files: []string{e.file("latin1.csv", latin1)}, BadRows: ingest.BadRowsSkip})
		eq(t, "loaded", res.Rows, 1)
		eq(t, "rejected", res.Rejected, 1)
		eq(t, "rows", e.rows("SELECT id, name FROM ns.t"), [][]string{{"2", "ok"}})
	})
	t.Run("ndjson", func(t *testing.T) {
		e := newEnv(t)
		p := e.file("latin1.ndjson", []byte("{\"id\": 1, \"name\": \"caf\xe9\"}\n"))
		err := e.expectFailure(ingest.Options{Files: []string{p}}, true, p)
		t.Log(short(err))
	})
}

func TestLoadGlobMatchesNothing(t *testing.T) {
	e := newEnv(t)
	pat := filepath.Join(e.in, "none-*.csv")
	err := e.expectFailure(ingest.Options{Files: []string{pat}}, false, pat)
	t.Log(short(err))
	// One good pattern does not excuse an empty one.
	good := e.file("ok.csv", []byte(peopleCSV))
	e.expectFailure(ingest.Options{Files: []string{good, pat}}, false, pat)
	e.expectFailure(ingest.Options{Files: []string{filepath.Join(e.in, "[")}}, false, "pattern")
	e.expectFailure(ingest.Options{}, false, "no input files")
}

func TestLoadUnknownExtension(t *testing.T) {
	e := newEnv(t)
	p := e.file("data.dat", []byte(peopleCSV))
	err := e.expectFailure(ingest.Options{Files: []string{p}}, false, p, "--format")
	t.Log(short(err))
	// With Format it loads.
	res := e.mustLoad(ingest.Options{Files: []string{p}, Format: "csv"})
	eq(t, "rows", res.Rows, 3)
	e.expectFailure(ingest.Options{Files: []string{p}, Format: "xml"}, false, "xml")
}

func TestLoadMixedFormats(t *testing.T) {
	e := newEnv(t)
	a := e.file("a.csv", []byte(peopleCSV))
	b := e.file("b.ndjson", []byte(`{"id": 1}`+"\n"))
	err := e.expectFailure(ingest.Options{Files: []string{a, b}}, false, "csv", "json")
	t.Log(short(err))
	// Compressed and plain CSV are one format.
	c := e.file("c.csv.gz", gzipBytes(t, []byte(peopleCSV)))
	res := e.mustLoad(ingest.Options{Files: []string{a, c}})
	eq(t, "rows", res.Rows, 6)
}

func TestLoadBadOptions(t *testing.T) {
	e := newEnv(t)
	p := e.file("p.csv", []byte(peopleCSV))
	e.expectFailure(ingest.Options{Files: []string{p}, BadRows: "ignore"}, false, "ignore")
	e.expectFailure(ingest.Options{Files: []string{e.file("arr.json", []byte(`[{"a":1}]`))}, BadRows: ingest.BadRowsQuarantine}, false, "JSON array")
	e.expectFailure(ingest.Options{Files: []string{e.file("p.ndjson.gz", gzipBytes(t, []byte(`{"a":1}`+"\n")))}, BadRows: ingest.BadRowsSkip}, false, "compressed")
	e.expectFailure(ingest.Options{Files: []string{p}, Table: lake.Ident{Namespace: "main", Name: "t"}}, false, "reserved")
	e.expectFailure(ingest.Options{Files: []string{p}, Table: lake.Ident{Namespace: "ns", Name: "a.b"}}, false, "a.b")
}

func TestLoadCreatesNamespace(t *testing.T) {
	e := newEnv(t)
	id := lake.Ident{Namespace: "fresh", Name: "t"}
	res := e.mustLoad(ingest.Options{Files: []string{e.file("p.csv", []byte(peopleCSV))}, Table: id})
	eq(t, "created", res.Created, true)
	eq(t, "count", e.count(id), 3)
	ns, err := e.l.ListNamespaces(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "namespaces", ns, []string{"fresh", "ns"})
}

// ---- bad-row policies ----

// castCSV has values that do not fit the seeded table's types.
const castCSV = "id,name,amount\n" + // line 1
	"1,a,1.5\n" + // 2
	"2,b,2.5\n" + // 3
	"x3,c,3.5\n" + // 4: id not a BIGINT
	"5,e,5.5\n" + // 5
	"7,g,seven\n" + // 6: amount not a DOUBLE
	"8,h,8.5\n" + // 7
	"9,,\n" // 8: empty values are NULLs, not errors

// countCSV has lines with the wrong number of fields.
const countCSV = "id,name,amount\n" + // line 1
	"1,a,1.5\n" + // 2
	"2,b,2.5\n" + // 3
	"3,c,3.5\n" + // 4
	"4,d\n" + // 5: too few fields
	"5,e,5.5\n" + // 6
	"6,f,6.5,extra\n" + // 7: too many fields
	"7,g,7.5\n" + // 8
	"8,h,8.5\n" // 9

func seedTable(t *testing.T, e *env) {
	t.Helper()
	e.mustLoad(ingest.Options{Files: []string{e.file("seed.csv", []byte("id,name,amount\n100,seed,0.5\n"))}})
	eq(t, "schema", e.schema(tbl), []string{"id long", "name string", "amount double"})
}

var rejectedID = lake.Ident{Namespace: "ns", Name: "t__rejected"}

func TestLoadBadRowsFailReportsFirst(t *testing.T) {
	e := newEnv(t)
	seedTable(t, e)
	p := e.file("cast.csv", []byte(castCSV))
	err := e.expectFailure(ingest.Options{Files: []string{p}}, true, p, "line 4", "column id", "x3", "and 1 more bad rows", "nothing was loaded")
	t.Log(short(err))
	q := e.file("count.csv", []byte(countCSV))
	err = e.expectFailure(ingest.Options{Files: []string{q}, Table: lake.Ident{Namespace: "ns", Name: "fresh"}}, true, q, "line 5", "and 1 more bad rows")
	t.Log(short(err))
}

func TestLoadBadRowsSkip(t *testing.T) {
	e := newEnv(t)
	seedTable(t, e)
	res := e.mustLoad(ingest.Options{Files: []string{e.file("cast.csv", []byte(castCSV))}, BadRows: ingest.BadRowsSkip})
	eq(t, "loaded", res.Rows, 5)
	eq(t, "rejected", res.Rejected, 2)
	eq(t, "ids", e.rows("SELECT id, name, amount FROM ns.t ORDER BY id"),
		[][]string{{"1", "a", "1.5"}, {"2", "b", "2.5"}, {"5", "e", "5.5"}, {"8", "h", "8.5"}, {"9", "NULL", "NULL"}, {"100", "seed", "0.5"}})
	if e.exists(rejectedID) {
		t.Error("skip created a __rejected table")
	}
	snaps, _ := e.l.Snapshots(e.ctx, tbl)
	eq(t, "snapshots", len(snaps), 2)
	eq(t, "edp.load.rejected", snaps[1].Summary["edp.load.rejected"], "2")
}

func TestLoadBadRowsSkipFieldCount(t *testing.T) {
	e := newEnv(t)
	res := e.mustLoad(ingest.Options{Files: []string{e.file("count.csv", []byte(countCSV))}, BadRows: ingest.BadRowsSkip})
	eq(t, "loaded", res.Rows, 6)
	eq(t, "rejected", res.Rejected, 2)
	eq(t, "schema", e.schema(tbl), []string{"id long", "name string", "amount double"})
	eq(t, "ids", e.rows("SELECT list(id ORDER BY id) FROM ns.t"), [][]string{{"[1 2 3 5 7 8]"}})
}

func TestLoadBadRowsSkipAllBad(t *testing.T) {
	e := newEnv(t)
	seedTable(t, e)
	res := e.mustLoad(ingest.Options{Files: []string{e.file("bad.csv", []byte("id,name,amount\nx,a,1\ny,b,2\n"))}, BadRows: ingest.BadRowsSkip})
	eq(t, "loaded", res.Rows, 0)
	eq(t, "rejected", res.Rejected, 2)
	eq(t, "count", e.count(tbl), 1)
}

// checkRejected compares ns.t__rejected with want rows of file, line,
// column and raw line; an empty column in want matches any column.
func checkRejected(t *testing.T, e *env, want [][]string) {
	t.Helper()
	got := e.rows(`SELECT file, line, coalesce("column", ''), raw, error, CAST(rejected_at AS VARCHAR) FROM ns.t__rejected ORDER BY file, line`)
	if len(got) != len(want) {
		t.Fatalf("rejected rows:\n got %q\nwant %q", got, want)
	}
	for i, w := range want {
		g := got[i]
		if g[0] != w[0] || g[1] != w[1] || g[3] != w[3] || (w[2] != "" && g[2] != w[2]) {
			t.Errorf("rejected row %d:\n got %q\nwant %q", i, g[:4], w)
		}
		if g[4] == "" || g[4] == "NULL" {
			t.Errorf("rejected row %d has no error", i)
		}
		if g[5] == "NULL" {
			t.Errorf("rejected row %d has no rejected_at", i)
		}
	}
}

func TestLoadBadRowsQuarantine(t *testing.T) {
	e := newEnv(t)
	seedTable(t, e)
	p := e.file("cast.csv", []byte(castCSV))
	res := e.mustLoad(ingest.Options{Files: []string{p}, BadRows: ingest.BadRowsQuarantine})
	eq(t, "loaded", res.Rows, 5)
	eq(t, "rejected", res.Rejected, 2)
	eq(t, "count", e.count(tbl), 6)
	eq(t, "rejected schema", e.schema(rejectedID), []string{"file string", "line long", "column string", "error string", "raw string", "rejected_at timestamptz"})
	checkRejected(t, e, [][]string{
		{p, "4", "id", "x3,c,3.5"},
		{p, "6", "amount", "7,g,seven"},
	})
	errs := e.rows("SELECT error FROM ns.t__rejected ORDER BY line")
	for i, want := range []string{"x3", "seven"} {
		if !strings.Contains(errs[i][0], want) {
			t.Errorf("error %q does not quote %q", errs[i][0], want)
		}
	}
	// A second quarantining load appends to the same table.
	e.mustLoad(ingest.Options{Files: []string{p}, BadRows: ingest.BadRowsQuarantine})
	eq(t, "rejected after second load", e.count(rejectedID), 4)
	eq(t, "count after second load", e.count(tbl), 11)
	eq(t, "rejected snapshots", e.snapshots(rejectedID), 2)
}

func TestLoadBadRowsQuarantineFieldCount(t *testing.T) {
	e := newEnv(t)
	p := e.file("count.csv", []byte(countCSV))
	res := e.mustLoad(ingest.Options{Files: []string{p}, BadRows: ingest.BadRowsQuarantine})
	eq(t, "loaded", res.Rows, 6)
	eq(t, "rejected", res.Rejected, 2)
	eq(t, "created", res.Created, true)
	checkRejected(t, e, [][]string{
		{p, "5", "", "4,d"},
		{p, "7", "", "6,f,6.5,extra"},
	})
}

func TestLoadBadRowsQuarantineNoBadRows(t *testing.T) {
	e := newEnv(t)
	res := e.mustLoad(ingest.Options{Files: []string{e.file("p.csv", []byte(peopleCSV))}, BadRows: ingest.BadRowsQuarantine})
	eq(t, "rejected", res.Rejected, 0)
	if e.exists(lake.Ident{Namespace: "ns", Name: "t__rejected"}) {
		t.Error("a load without bad rows created t__rejected")
	}
}

func TestLoadBadRowsQuarantineSeveralFiles(t *testing.T) {
	e := newEnv(t)
	seedTable(t, e)
	a := e.file("m/a.csv", []byte("id,name,amount\n1,a,1\nbad,a,2\n"))
	b := e.file("m/b.csv", []byte("id,name,amount\n3,b,3\n4,b,4\n5,b,five\n"))
	res := e.mustLoad(ingest.Options{Files: []string{filepath.Join(e.in, "m", "*.csv")}, BadRows: ingest.BadRowsQuarantine})
	eq(t, "loaded", res.Rows, 3)
	eq(t, "rejected", res.Rejected, 2)
	checkRejected(t, e, [][]string{{a, "3", "id", "bad,a,2"}, {b, "4", "amount", "5,b,five"}})
}

func TestLoadProgress(t *testing.T) {
	e := newEnv(t)
	var last ingest.Progress
	calls := 0
	e.mustLoad(ingest.Options{Files: []string{e.file("p.csv", []byte(peopleCSV))}, Progress: func(p ingest.Progress) { last = p; calls++ }})
	if calls == 0 || !last.Done || last.Rows != 3 || last.Files != 1 || last.InputBytes != int64(len(peopleCSV)) || last.Table != "ns.t" {
		t.Errorf("progress: %d calls, last %+v", calls, last)
	}
}

// TestLoadQuarantineAsksFirst pins a bug: a writer (who may append to a
// table but not create one) loaded with --bad-rows=quarantine, the rows
// were committed, and only then creating t__rejected was refused — a
// committed load reported as failed, which a retry would duplicate.
func TestLoadQuarantineAsksFirst(t *testing.T) {
	e := newEnv(t)
	seedTable(t, e)
	before := e.snapshots(tbl)
	writer := auth.WithPrincipal(context.Background(), auth.Principal{Name: "w", Roles: []string{auth.RoleWriter}})
	p := e.file("cast.csv", []byte(castCSV))
	_, err := ingest.Load(writer, e.l, ingest.Options{Table: tbl, Files: []string{p}, BadRows: ingest.BadRowsQuarantine, TempDir: filepath.Join(e.dir, "tmp")})
	if !errors.Is(err, policy.ErrDenied) || !strings.Contains(err.Error(), "t__rejected") {
		t.Fatalf("quarantine load by a writer = %v, want a denial naming t__rejected", err)
	}
	eq(t, "snapshots after the refused load", e.snapshots(tbl), before)
	// Once the rejects table exists, the writer may append to it.
	e.mustLoad(ingest.Options{Files: []string{p}, BadRows: ingest.BadRowsQuarantine})
	if _, err := ingest.Load(writer, e.l, ingest.Options{Table: tbl, Files: []string{p}, BadRows: ingest.BadRowsQuarantine, TempDir: filepath.Join(e.dir, "tmp")}); err != nil {
		t.Fatalf("quarantine load by a writer once t__rejected exists: %v", err)
	}
}
