package lake_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/lake/laketest"
)

// TestRegisterChecksMetadata: Register took metadata inside the warehouse
// whatever it named — path properties, statistics or snapshots whose files
// lie in another table or outside the warehouse — so later commits wrote
// there and a purge deleted there (review of the REST catalog, finding 4).
// It now applies the checks a commit gets.
func TestRegisterChecksMetadata(t *testing.T) {
	st := laketest.New(t)
	st.Warehouse, st.Storage = filepath.Join(st.LocalDir, "warehouse"), lake.Storage{} // the test edits metadata files in place
	l, e := openEngine(t, st)
	ctx := adminCtx()
	for _, q := range []string{"CREATE SCHEMA r", "CREATE TABLE r.a (x BIGINT)", "CREATE TABLE r.c (x BIGINT)", "CREATE TABLE r.p (x BIGINT)",
		"INSERT INTO r.a VALUES (1), (2)", "INSERT INTO r.c VALUES (3)", "INSERT INTO r.p VALUES (4)"} {
		if err := run(ctx, e, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	a, c, p := lake.Ident{Namespace: "r", Name: "a"}, lake.Ident{Namespace: "r", Name: "c"}, lake.Ident{Namespace: "r", Name: "p"}
	adoptForeignFile(t, l, a, c)
	metaOf := func(id lake.Ident) string {
		tbl, err := l.LoadTable(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.DropTable(ctx, id, false, false); err != nil {
			t.Fatal(err)
		}
		return lake.LocalPath(tbl.MetadataLocation())
	}
	foreignSnapshot, pMeta := metaOf(c), metaOf(p)
	// edited writes a copy of pMeta, changed by edit, beside it.
	edited := func(name string, edit func(m map[string]any)) string {
		b, err := os.ReadFile(pMeta)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		out := filepath.Join(filepath.Dir(pMeta), name+".metadata.json")
		b, _ = json.Marshal(m)
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return out
	}
	pathProp := edited("path-property", func(m map[string]any) {
		m["properties"].(map[string]any)["write.data.path"] = "file://" + t.TempDir()
	})
	stats := edited("statistics", func(m map[string]any) {
		m["statistics"] = []any{map[string]any{"snapshot-id": m["current-snapshot-id"], "statistics-path": "file://" + filepath.Join(t.TempDir(), "x.puffin"),
			"file-size-in-bytes": 1, "file-footer-size-in-bytes": 1, "blob-metadata": []any{}}}
	})
	tests := []struct {
		name, loc, msg string
	}{
		{"a path property", pathProp, "write.data.path"},
		{"statistics outside the table", stats, "statistics file"},
		{"a snapshot listing another table's file", foreignSnapshot, "outside the table's directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := lake.Ident{Namespace: "r", Name: "back"}
			if _, err := l.Register(ctx, id, tt.loc); !errors.Is(err, lake.ErrInvalid) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Register(%s, %s) = %v, want lake.ErrInvalid saying %q", id, tt.name, err, tt.msg)
				l.DropTable(ctx, id, false, true)
			}
		})
	}
	// The untouched metadata still registers.
	if _, err := l.Register(ctx, p, pMeta); err != nil {
		t.Errorf("Register(%s, its own metadata) = %v", p, err)
	}
}
