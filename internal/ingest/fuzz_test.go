package ingest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/edp-data/edp/internal/ingest"
	"github.com/edp-data/edp/internal/lake"
)

// fuzzLoad loads data, written to a file named name, into a fresh table of
// a lake shared by the iterations, and checks the load is all or nothing:
// on success the table holds exactly Result.Rows rows; on error there is no
// table and the warehouse holds no file. Successful tables are dropped so
// each iteration starts from an empty warehouse.
func fuzzLoad(f *testing.F, name string, seeds []string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	e := newEnv(f)
	n := 0
	f.Fuzz(func(t *testing.T, data []byte) {
		n++
		id := lake.Ident{Namespace: "ns", Name: fmt.Sprintf("f%d", n)}
		dir, err := os.MkdirTemp(e.in, "case")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := ingest.Load(e.ctx, e.l, ingest.Options{Table: id, Files: []string{p}, TempDir: filepath.Join(e.dir, "tmp")})
		if err != nil {
			ok, xerr := e.l.TableExists(e.ctx, id)
			if xerr != nil {
				t.Fatal(xerr)
			}
			if ok {
				t.Fatalf("load failed (%v) but table %s exists", err, id)
			}
			if files := warehouseFiles(t, e.l); len(files) > 0 {
				t.Fatalf("load failed (%v) but the warehouse holds %v", err, files)
			}
			return
		}
		if res == nil {
			t.Fatal("nil result without an error")
		}
		got := e.rowsT(t, "SELECT count(*) FROM "+id.String())
		if fmt.Sprint(res.Rows) != got[0][0] {
			t.Fatalf("Result.Rows = %d, table holds %s rows", res.Rows, got[0][0])
		}
		if err := e.l.DropTable(e.ctx, id, true, false); err != nil {
			t.Fatal(err)
		}
		if files := warehouseFiles(t, e.l); len(files) > 0 {
			t.Fatalf("warehouse not empty after dropping %s: %v", id, files)
		}
	})
}

func FuzzLoadCSV(f *testing.F) {
	fuzzLoad(f, "in.csv", []string{
		peopleCSV,
		"a;b\n1;2\n",
		"a\tb\n1\t2\n",
		"id,text\n1,\"a,b\"\n2,\"x\ny\"\n3,\"q\"\"q\"\n",
		"a,b\n1,2\n3,4,5\n",
		"a,b\n1,\"open\n",
		"a,b\n",
		"x\n",
		"id,name\n1,caf\xe9\n",
		"\"\",\"\"\n1,2\n",
		"a,a\n1,2\n",
		"a,b\n\n\n1,2\n",
		"id\n99999999999999999999999\n",
		"t\n2024-13-45\n",
		"a,b\r\n1,2\r\n",
		"x\x00y\n1\n",
	})
}

func FuzzLoadJSON(f *testing.F) {
	fuzzLoad(f, "in.json", []string{
		eventsNDJSON,
		`[{"a": 1}, {"a": 2}]`,
		`{"a": 1}` + "\n" + `{"b": "x"}` + "\n",
		`{"a": [1, {"b": 2}]}`,
		`{"a": 1`,
		`[]`,
		`{}`,
		`null`,
		`1`,
		`"x"`,
		`{"a": 1, "A": 2}`,
		`{"": 1}`,
		`{"a": 18446744073709551616}`,
		"{\"a\": \"caf\xe9\"}",
		`{"a": {"b": {"c": [[1], [2, 3]]}}}`,
	})
}
