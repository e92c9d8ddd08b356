package restcatalog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/table"

	"github.com/edp-data/edp/internal/lake"
)

// writerEnv is a server with tables f.a (two rows) and f.b (one row)
// made by the admin, and the token of wally, a writer.
type writerEnv struct {
	*env
	cat    *rest.Catalog // the admin's client
	a, b   *table.Table
	writer string
	aFile  string // the local path of a's data file
}

func newWriterEnv(t *testing.T) *writerEnv {
	t.Helper()
	e := startEnv(t, "")
	ctx := context.Background()
	cat := e.client(e.token)
	if err := cat.CreateNamespace(ctx, table.Identifier{"f"}, nil); err != nil {
		t.Fatal(err)
	}
	a, err := cat.CreateTable(ctx, table.Identifier{"f", "a"}, ordersSchema)
	if err != nil {
		t.Fatal(err)
	}
	b, err := cat.CreateTable(ctx, table.Identifier{"f", "b"}, ordersSchema)
	if err != nil {
		t.Fatal(err)
	}
	w := &writerEnv{env: e, cat: cat, a: appendRows(t, a, 1, 2), b: appendRows(t, b, 3), writer: e.user("wally", "writer")}
	tasks, err := w.a.Scan().PlanFiles(ctx)
	if err != nil || len(tasks) != 1 {
		t.Fatalf("plan a: %d tasks, %v", len(tasks), err)
	}
	w.aFile = lake.LocalPath(tasks[0].File.FilePath())
	return w
}

// commitB sends one REST commit of updates (JSON objects) to f.b as token.
func (w *writerEnv) commitB(token string, updates ...string) (int, []byte) {
	w.t.Helper()
	code, body := w.do("POST", "/iceberg/v1/edp/namespaces/f/tables/b", token,
		`{"requirements": [], "updates": [`+strings.Join(updates, ", ")+`]}`)
	if len(body) > 300 {
		body = append(body[:300], "…"...)
	}
	return code, body
}

// bDir is the local directory of f.b.
func (w *writerEnv) bDir() string { return lake.LocalPath(w.b.Location()) }

// forgedSnapshot writes, inside f.b's directory, a manifest holding
// entries (or, with carried, those manifests as they are) and a manifest
// list naming it, and returns the add-snapshot update of a snapshot with
// id snapID on top of b's current one.
func (w *writerEnv) forgedSnapshot(snapID int64, carried []iceberg.ManifestFile, entries ...iceberg.ManifestEntry) string {
	w.t.Helper()
	b, err := w.cat.LoadTable(context.Background(), table.Identifier{"f", "b"})
	if err != nil {
		w.t.Fatal(err)
	}
	w.b = b
	cur := w.b.CurrentSnapshot()
	parent, seq := cur.SnapshotID, w.b.Metadata().LastSequenceNumber()+1
	mans, listVersion := carried, 2
	if len(entries) > 0 {
		p := filepath.Join(w.bDir(), "metadata", fmt.Sprintf("forged-%d-m0.avro", snapID))
		content, version := iceberg.ManifestContentData, 2
		if entries[0].DataFile().ContentType() != iceberg.EntryContentData {
			// Format 3 manifests carry referenced_data_file.
			content, version = iceberg.ManifestContentDeletes, 3
		}
		var buf bytes.Buffer
		mw, err := iceberg.NewManifestWriter(version, &buf, w.b.Spec(), w.b.Schema(), snapID, iceberg.WithManifestWriterContent(content))
		if err != nil {
			w.t.Fatal(err)
		}
		for _, e := range entries {
			add := map[iceberg.ManifestEntryStatus]func(iceberg.ManifestEntry) error{
				iceberg.EntryStatusADDED: mw.Add, iceberg.EntryStatusEXISTING: mw.Existing, iceberg.EntryStatusDELETED: mw.Delete}[e.Status()]
			if err := add(e); err != nil {
				w.t.Fatalf("write manifest: %v", err)
			}
		}
		if err := mw.Close(); err != nil {
			w.t.Fatal(err)
		}
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			w.t.Fatal(err)
		}
		mf, err := mw.ToManifestFile("file://"+p, int64(buf.Len()))
		if err != nil {
			w.t.Fatal(err)
		}
		mans, listVersion = append(mans, mf), version
	}
	list := filepath.Join(w.bDir(), "metadata", fmt.Sprintf("snap-%d-forged.avro", snapID))
	f, err := os.Create(list)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := iceberg.WriteManifestList(listVersion, f, snapID, &parent, &seq, 0, mans); err != nil {
		w.t.Fatalf("write manifest list: %v", err)
	}
	f.Close()
	snap, _ := json.Marshal(map[string]any{"snapshot-id": snapID, "parent-snapshot-id": parent, "sequence-number": seq,
		"timestamp-ms": time.Now().UnixMilli(), "manifest-list": "file://" + list, "schema-id": 0,
		"summary": map[string]string{"operation": "append"}})
	return `{"action": "add-snapshot", "snapshot": ` + string(snap) + `}`
}

// entry is a manifest entry of status st for df, made by snapshot snapID.
func entry(st iceberg.ManifestEntryStatus, snapID int64, df iceberg.DataFile) iceberg.ManifestEntry {
	seq := int64(1)
	return iceberg.NewManifestEntry(st, &snapID, &seq, &seq, df)
}

// dataFile is a data (or, with refersTo, a position-delete) file at path.
func dataFile(t *testing.T, spec iceberg.PartitionSpec, path, refersTo string) iceberg.DataFile {
	t.Helper()
	content := iceberg.EntryContentData
	if refersTo != "" {
		content = iceberg.EntryContentPosDeletes
	}
	b, err := iceberg.NewDataFileBuilder(spec, content, path, iceberg.ParquetFile, nil, nil, nil, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if refersTo != "" {
		b.ReferencedDataFile(refersTo)
	}
	return b.Build()
}

func setMain(id int64) string {
	return fmt.Sprintf(`{"action": "set-snapshot-ref", "ref-name": "main", "type": "branch", "snapshot-id": %d}`, id)
}

// TestWriterCannotNameForeignStatistics: a writer's statistics and
// partition-statistics paths must lie in the table's directory, since a
// purge deletes every statistics file, data or not (review finding 1).
func TestWriterCannotNameForeignStatistics(t *testing.T) {
	w := newWriterEnv(t)
	snap := w.b.CurrentSnapshot().SnapshotID
	outside := filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(outside, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	stats := func(path string) string {
		return fmt.Sprintf(`{"action": "set-statistics", "snapshot-id": %d, "statistics": {"snapshot-id": %d, "statistics-path": %q,
			"file-size-in-bytes": 1, "file-footer-size-in-bytes": 1, "blob-metadata": []}}`, snap, snap, path)
	}
	partStats := func(path string) string {
		return fmt.Sprintf(`{"action": "set-partition-statistics", "partition-statistics": {"snapshot-id": %d, "statistics-path": %q, "file-size-in-bytes": 1}}`, snap, path)
	}
	tests := []struct {
		name, update string
		status       int
	}{
		{"statistics on another table's data file", stats("file://" + w.aFile), 400},
		{"partition statistics outside the warehouse", partStats("file://" + outside), 400},
		{"statistics with a dot-dot escape", stats("file://" + w.bDir() + "/../" + filepath.Base(filepath.Dir(w.aFile))), 400},
		{"statistics in the table's directory", stats("file://" + w.bDir() + "/metadata/stats.puffin"), 200},
		{"partition statistics in the table's directory", partStats("file://" + w.bDir() + "/metadata/partition-stats.parquet"), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, body := w.commitB(w.writer, tt.update); code != tt.status {
				t.Errorf("writer commit of %s = %d %s, want %d", tt.name, code, body, tt.status)
			}
		})
	}
	if code, body := w.do("DELETE", "/iceberg/v1/edp/namespaces/f/tables/b?purgeRequested=true", w.token, ""); code != 204 {
		t.Fatalf("purge f.b = %d %s", code, body)
	}
	for _, p := range []string{w.aFile, outside} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("after purging f.b, %s: %v, want it kept", p, err)
		}
	}
}

// TestWriterCannotForgeSnapshots: every manifest a new snapshot lists that
// no earlier snapshot of the table listed is read, whatever snapshot it
// claims to come from, and every entry of any status, and the data file a
// deletion vector or position-delete file refers to, must lie in the
// table's directory (review finding 2).
func TestWriterCannotForgeSnapshots(t *testing.T) {
	w := newWriterEnv(t)
	ctx := context.Background()
	fs, err := w.a.FS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	aManifests, err := w.a.CurrentSnapshot().Manifests(fs)
	if err != nil {
		t.Fatal(err)
	}
	aTasks, _ := w.a.Scan().PlanFiles(ctx)
	aData := aTasks[0].File
	bTasks, _ := w.b.Scan().PlanFiles(ctx)
	bData := bTasks[0].File
	spec := w.b.Spec()
	inB := "file://" + w.bDir() + "/data/forged.parquet"
	tests := []struct {
		name    string
		carried []iceberg.ManifestFile
		entries func(id int64) []iceberg.ManifestEntry
		status  int
	}{
		{"another table's manifest carried over", aManifests, nil, 400},
		{"an EXISTING entry of another table's file", nil, func(id int64) []iceberg.ManifestEntry {
			return []iceberg.ManifestEntry{entry(iceberg.EntryStatusEXISTING, id, aData)}
		}, 400},
		{"a DELETED entry of another table's file", nil, func(id int64) []iceberg.ManifestEntry {
			return []iceberg.ManifestEntry{entry(iceberg.EntryStatusDELETED, id, aData)}
		}, 400},
		{"a delete file referring to another table's file", nil, func(id int64) []iceberg.ManifestEntry {
			return []iceberg.ManifestEntry{entry(iceberg.EntryStatusADDED, id, dataFile(t, spec, inB+".del", aData.FilePath()))}
		}, 400},
		{"a file in the table's directory", nil, func(id int64) []iceberg.ManifestEntry {
			return []iceberg.ManifestEntry{entry(iceberg.EntryStatusADDED, id, bData)}
		}, 200},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := int64(9000 + i)
			var entries []iceberg.ManifestEntry
			if tt.entries != nil {
				entries = tt.entries(id)
			}
			add := w.forgedSnapshot(id, tt.carried, entries...)
			if code, body := w.commitB(w.writer, add, setMain(id)); code != tt.status {
				t.Errorf("writer commit of %s = %d %s, want %d", tt.name, code, body, tt.status)
			}
		})
	}
	if got := w.sql("SELECT count(*) AS n FROM f.b WHERE id < 3"); got != "n\n0\n" {
		t.Errorf("rows of f.a readable through f.b: %q", got)
	}
}

// TestWriterCannotChangeRefRetentionOrTags: a writer may only move a
// branch forward to its own new snapshot; a ref's type and retention, and
// tags, are the admin's (review finding 3).
func TestWriterCannotChangeRefRetentionOrTags(t *testing.T) {
	w := newWriterEnv(t)
	snap := w.b.CurrentSnapshot().SnapshotID
	// The admin tags the current snapshot.
	if code, body := w.commitB(w.token, fmt.Sprintf(`{"action": "set-snapshot-ref", "ref-name": "release", "type": "tag", "snapshot-id": %d}`, snap)); code != 200 {
		t.Fatalf("admin tags f.b = %d %s", code, body)
	}
	spec := w.b.Spec()
	newSnap := func(id int64) string {
		return w.forgedSnapshot(id, nil, entry(iceberg.EntryStatusADDED, id, dataFile(t, spec, fmt.Sprintf("file://%s/data/new-%d.parquet", w.bDir(), id), "")))
	}
	tests := []struct {
		name    string
		updates func() []string
		status  int
	}{
		{"main's retention", func() []string {
			return []string{fmt.Sprintf(`{"action": "set-snapshot-ref", "ref-name": "main", "type": "branch", "snapshot-id": %d, "max-snapshot-age-ms": 1, "min-snapshots-to-keep": 1}`, snap)}
		}, 403},
		{"a tag's retention", func() []string {
			return []string{fmt.Sprintf(`{"action": "set-snapshot-ref", "ref-name": "release", "type": "tag", "snapshot-id": %d, "max-ref-age-ms": 1}`, snap)}
		}, 403},
		{"a tag moved to a new snapshot", func() []string {
			return []string{newSnap(9100), `{"action": "set-snapshot-ref", "ref-name": "release", "type": "tag", "snapshot-id": 9100}`}
		}, 403},
		{"a new tag", func() []string {
			return []string{fmt.Sprintf(`{"action": "set-snapshot-ref", "ref-name": "v2", "type": "tag", "snapshot-id": %d}`, snap)}
		}, 403},
		{"a new branch with retention", func() []string {
			return []string{newSnap(9101), `{"action": "set-snapshot-ref", "ref-name": "dev", "type": "branch", "snapshot-id": 9101, "max-ref-age-ms": 1}`}
		}, 403},
		{"main moved forward with retention", func() []string {
			return []string{newSnap(9102), `{"action": "set-snapshot-ref", "ref-name": "main", "type": "branch", "snapshot-id": 9102, "max-snapshot-age-ms": 1}`}
		}, 403},
		{"main moved forward", func() []string { return []string{newSnap(9103), setMain(9103)} }, 200},
		{"a new branch at a new snapshot", func() []string {
			return []string{newSnap(9104), `{"action": "set-snapshot-ref", "ref-name": "dev", "type": "branch", "snapshot-id": 9104}`}
		}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, body := w.commitB(w.writer, tt.updates()...); code != tt.status {
				t.Errorf("writer commit of %s = %d %s, want %d", tt.name, code, body, tt.status)
			}
		})
	}
}

// TestPlanGoneWithItsTable: a plan stayed fetchable after its table was
// dropped — planFor ignored whether the table still existed (review
// finding 8).
func TestPlanGoneWithItsTable(t *testing.T) {
	w := newWriterEnv(t)
	code, body := w.do("POST", "/iceberg/v1/edp/namespaces/f/tables/b/plan", w.token, `{}`)
	var res struct {
		PlanID string `json:"plan-id"`
	}
	if code != 200 || json.Unmarshal(body, &res) != nil || res.PlanID == "" {
		t.Fatalf("plan f.b = %d %s", code, body)
	}
	if code, body := w.do("DELETE", "/iceberg/v1/edp/namespaces/f/tables/b", w.token, ""); code != 204 {
		t.Fatalf("drop f.b = %d %s", code, body)
	}
	if code, body := w.do("GET", "/iceberg/v1/edp/namespaces/f/tables/b/plan/"+res.PlanID, w.token, ""); code != 404 {
		t.Errorf("fetch a plan of a dropped table = %d %s, want 404", code, body)
	}
}
