package ingest_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edp-data/edp/internal/ingest"
	"github.com/edp-data/edp/internal/lake"
)

// Regression tests for load bugs found by the bad-input suite.

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, "in", name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRegressionLoads(t *testing.T) {
	e := newEnv(t)
	ctx, l, dir := e.ctx, e.l, e.dir
	id := func(name string) lake.Ident { return lake.Ident{Namespace: "ns", Name: name} }
	load := func(name string, opts ingest.Options, files ...string) (*ingest.Result, error) {
		opts.Table, opts.Files, opts.TempDir = id(name), files, filepath.Join(dir, "tmp")
		return ingest.Load(ctx, l, opts)
	}
	mustFail := func(t *testing.T, err error, want string) {
		t.Helper()
		if err == nil {
			t.Fatalf("load succeeded, want an error containing %q", want)
		}
		if !errors.Is(err, ingest.ErrBadInput) || !strings.Contains(err.Error(), want) {
			t.Fatalf("load error = %v, want ErrBadInput containing %q", err, want)
		}
	}

	t.Run("unterminated quote in a small file is refused", func(t *testing.T) {
		p := writeFile(t, dir, "uq.csv", []byte("id,name\n1,ok\n2,\"never closed\n3,more\n4,rows\n"))
		_, err := load("uq", ingest.Options{}, p)
		if err == nil {
			t.Fatal("load of a file with an unterminated quote succeeded")
		}
	})

	t.Run("a later CSV file with other columns is refused", func(t *testing.T) {
		a := writeFile(t, dir, "a.csv", []byte("id,name\n1,a\n"))
		b := writeFile(t, dir, "b.csv", []byte("id,name,secret\n2,b,s\n"))
		_, err := load("later", ingest.Options{}, a, b)
		mustFail(t, err, "b.csv has columns")
	})

	t.Run("a failed evolving load adds no column", func(t *testing.T) {
		base := writeFile(t, dir, "ev1.csv", []byte("id,name\n1,a\n"))
		if _, err := load("ev", ingest.Options{}, base); err != nil {
			t.Fatal(err)
		}
		bad := writeFile(t, dir, "ev2.csv", []byte("id,name,note\n2,b,x\nzz,c,y\n"))
		_, err := load("ev", ingest.Options{Evolve: true}, bad)
		mustFail(t, err, "line 3")
		tbl, err := l.LoadTable(ctx, id("ev"))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := tbl.Schema().FindFieldByName("note"); ok {
			t.Fatal("failed load with Evolve committed the new column")
		}
		good := writeFile(t, dir, "ev3.csv", []byte("id,name,note\n2,b,x\n"))
		if _, err := load("ev", ingest.Options{Evolve: true}, good); err != nil {
			t.Fatal(err)
		}
		tbl, _ = l.LoadTable(ctx, id("ev"))
		if _, ok := tbl.Schema().FindFieldByName("note"); !ok {
			t.Fatal("successful load with Evolve did not add the column")
		}
	})

	t.Run("truncated gzip is refused", func(t *testing.T) {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		for i := 0; i < 5000; i++ {
			zw.Write([]byte("1,some text that compresses\n"))
		}
		zw.Close()
		p := writeFile(t, dir, "cut.csv.gz", buf.Bytes()[:buf.Len()/2])
		_, err := load("cut", ingest.Options{}, p)
		mustFail(t, err, "truncated or corrupt")
	})

	t.Run("JSON record numbers count within each file", func(t *testing.T) {
		base := writeFile(t, dir, "j0.ndjson", []byte(`{"id":1}`+"\n"))
		if _, err := load("jn", ingest.Options{}, base); err != nil {
			t.Fatal(err)
		}
		a := writeFile(t, dir, "ja.ndjson", []byte(`{"id":1}`+"\n"+`{"id":2}`+"\n"+`{"id":3}`+"\n"))
		b := writeFile(t, dir, "jb.ndjson", []byte(`{"id":4}`+"\n"+`{"id":"x"}`+"\n"))
		_, err := load("jn", ingest.Options{}, a, b)
		mustFail(t, err, "jb.ndjson record 2 column id")
	})

	t.Run("NUL in a header is bad input", func(t *testing.T) {
		p := writeFile(t, dir, "nul.csv", []byte("x\x00y\n1\n"))
		_, err := load("nul", ingest.Options{}, p)
		if err == nil || !errors.Is(err, ingest.ErrBadInput) {
			t.Fatalf("load = %v, want ErrBadInput", err)
		}
	})

	t.Run("a failed load leaves no namespace it created and no directories", func(t *testing.T) {
		p := writeFile(t, dir, "nsfail.csv", []byte("id\n1\n"))
		opts := ingest.Options{Table: lake.Ident{Namespace: "fresh", Name: "t"}, Files: []string{p}, TempDir: filepath.Join(dir, "tmp"), PartitionBy: []string{"nope"}}
		if _, err := ingest.Load(ctx, l, opts); err == nil {
			t.Fatal("load with a bad partition column succeeded")
		}
		nss, _ := l.ListNamespaces(ctx)
		for _, ns := range nss {
			if ns == "fresh" {
				t.Fatal("failed load left namespace fresh behind")
			}
		}
		base := writeFile(t, dir, "d1.csv", []byte("id\n1\n"))
		if _, err := load("dirs", ingest.Options{}, base); err != nil {
			t.Fatal(err)
		}
		tbl, _ := l.LoadTable(ctx, id("dirs"))
		dataDir := filepath.Join(lake.LocalPath(tbl.Location()), "data")
		before, _ := os.ReadDir(dataDir)
		bad := writeFile(t, dir, "d2.csv", []byte("id\n2\nx\n"))
		if _, err := load("dirs", ingest.Options{}, bad); err == nil {
			t.Fatal("bad load succeeded")
		}
		after, _ := os.ReadDir(dataDir)
		if len(after) != len(before) {
			t.Fatalf("failed load left %d entries in %s, want %d", len(after), dataDir, len(before))
		}
	})
}

// JSON bad-row policies: records that are not JSON objects, or whose
// values do not convert to the table's types, are skipped or quarantined
// with their file and line.
func TestJSONBadRows(t *testing.T) {
	e := newEnv(t)
	base := writeFile(t, e.dir, "base.ndjson", []byte(`{"id":1,"name":"a"}`+"\n"))
	load := func(name string, opts ingest.Options, files ...string) (*ingest.Result, error) {
		opts.Table, opts.Files, opts.TempDir = lake.Ident{Namespace: "ns", Name: name}, files, filepath.Join(e.dir, "tmp")
		return ingest.Load(e.ctx, e.l, opts)
	}
	more := writeFile(t, e.dir, "more.ndjson", []byte(`{"id":2,"name":"b"}`+"\n"+`{"id":"x","name":"c"}`+"\n"+`{bad`+"\n\n"+`[1,2]`+"\n"+`{"id":6,"name":null}`+"\n"))
	for _, mode := range []string{ingest.BadRowsSkip, ingest.BadRowsQuarantine} {
		t.Run(mode, func(t *testing.T) {
			name := "j_" + mode
			if _, err := load(name, ingest.Options{}, base); err != nil {
				t.Fatal(err)
			}
			res, err := load(name, ingest.Options{BadRows: mode}, more)
			if err != nil {
				t.Fatal(err)
			}
			if res.Rows != 2 || res.Rejected != 3 {
				t.Fatalf("rows, rejected = %d, %d; want 2, 3", res.Rows, res.Rejected)
			}
			got := e.rows("SELECT id, coalesce(name, 'NULL') FROM ns." + name + " ORDER BY id")
			if fmt.Sprint(got) != "[[1 a] [2 b] [6 NULL]]" {
				t.Fatalf("rows = %v", got)
			}
			if mode == ingest.BadRowsQuarantine {
				rej := e.rows(`SELECT line, "column", error FROM ns.` + name + `__rejected ORDER BY line`)
				want := `[[2 id value "x" is not a valid BIGINT] [3  not a JSON object] [5  not a JSON object]]`
				if fmt.Sprint(rej) != want {
					t.Fatalf("rejected = %v, want %v", rej, want)
				}
			}
		})
	}
}

// A value that converts only by losing something is bad input; JSON keys
// with mixed types are stored as plain text.
func TestLossyAndMixedJSON(t *testing.T) {
	e := newEnv(t)
	load := func(name string, files ...string) (*ingest.Result, error) {
		return ingest.Load(e.ctx, e.l, ingest.Options{Table: lake.Ident{Namespace: "ns", Name: name}, Files: files, TempDir: filepath.Join(e.dir, "tmp")})
	}
	if _, err := load("amt", writeFile(t, e.dir, "a1.ndjson", []byte(`{"id":1,"amt":10}`+"\n"))); err != nil {
		t.Fatal(err)
	}
	_, err := load("amt", writeFile(t, e.dir, "a2.ndjson", []byte(`{"id":2,"amt":1.75}`+"\n")))
	if err == nil || !errors.Is(err, ingest.ErrBadInput) || !strings.Contains(err.Error(), "1.75") {
		t.Fatalf("lossy append = %v, want bad input naming 1.75", err)
	}
	if _, err := load("amt", writeFile(t, e.dir, "a3.ndjson", []byte(`{"id":3,"amt":3.0}`+"\n"))); err != nil {
		t.Fatalf("exact append: %v", err)
	}
	if _, err := load("mix", writeFile(t, e.dir, "mix.jsonl", []byte(`{"a":1}`+"\n"+`{"a":"x"}`+"\n"))); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(e.rows("SELECT a FROM ns.mix ORDER BY a")); got != "[[1] [x]]" {
		t.Fatalf("mixed JSON values = %s, want [[1] [x]]", got)
	}
}

// DuckDB's text-to-integer cast rounds "1.75" to 2; a CSV append into an
// integer column must refuse it instead, and still take whole numbers of
// any size.
func TestCSVIntegerAppendIsExact(t *testing.T) {
	e := newEnv(t)
	load := func(files ...string) (*ingest.Result, error) {
		return ingest.Load(e.ctx, e.l, ingest.Options{Table: lake.Ident{Namespace: "ns", Name: "c"}, Files: files, TempDir: filepath.Join(e.dir, "tmp")})
	}
	if _, err := load(writeFile(t, e.dir, "c1.csv", []byte("id,amt\n1,10\n"))); err != nil {
		t.Fatal(err)
	}
	_, err := load(writeFile(t, e.dir, "c2.csv", []byte("id,amt\n2,1.75\n")))
	if err == nil || !errors.Is(err, ingest.ErrBadInput) || !strings.Contains(err.Error(), "amt") {
		t.Fatalf("fractional append = %v, want bad input naming amt", err)
	}
	if _, err := load(writeFile(t, e.dir, "c3.csv", []byte("id,amt\n3,9007199254740993\n"))); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(e.rows("SELECT id, amt FROM ns.c ORDER BY id")); got != "[[1 10] [3 9007199254740993]]" {
		t.Fatalf("rows = %s", got)
	}
	_, err = load(writeFile(t, e.dir, "c4.csv", []byte("id,amt\n4,x\n")))
	if err == nil || strings.Contains(err.Error(), "more bad rows") {
		t.Fatalf("one bad value = %v, want one bad row reported once", err)
	}
}
