package stream

import (
	"bytes"
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/duckdb/duckdb-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edp-data/edp/internal/duck"
	"github.com/edp-data/edp/internal/lake"
)

// Upserts are merge-on-read: a record that replaces or deletes a key
// writes a position delete for the row the key had (found in the key
// index) and, for a replacement, a new row — both in the batch's one
// snapshot. No equality deletes: their read cost grows with every
// snapshot and they cannot follow a row into another partition, while a
// position delete names the row wherever it is. Maintenance folds the
// deletes into the files later.

// rowLoc is where a row lives: a data file (local path) and position.
type rowLoc struct {
	file string
	pos  int64
}

// keyIndex maps each key (its columns as text) to the rows holding it,
// for the table as of snapshot. It is rebuilt from the table whenever
// another writer (compaction, SQL, another replica) committed since.
type keyIndex struct {
	snapshot int64
	locs     map[string][]rowLoc
	files    map[string]iceberg.DataFile // file URI → metadata entry
}

// upsertBatch is a batch's changes, last change per key winning.
type upsertBatch struct {
	keys []string // the batch's keys, in first-seen order
	// final change per key: the index of its row in rows, or -1 to delete.
	final map[string]int
	// rowKey[i] is the key of rows[i].
	rowKey []string
}

// keyText renders key values as the index's text key. Key columns are
// long, int or string, whose text DuckDB and Go render alike.
func keyText(vals []string) string { return strings.Join(vals, "\x1f") }

func valueText(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", false
	case int64:
		return strconv.FormatInt(v, 10), true
	case string:
		return v, true
	case json.Number:
		return string(v), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return fmt.Sprint(v), true
}

// decodeChanges decodes an upsert batch: plain keyed records (a tombstone
// deletes the record key's row) or Debezium change events.
func (p *Pipeline) decodeChanges(tbl *table.Table, recs []*kgo.Record) (cols []column, rows [][]any, good []*kgo.Record, bad []badRecord, ups *upsertBatch, err error) {
	var start []column
	policy := p.spec.OnSchemaChange
	if tbl != nil {
		start = tableColumns(tbl.Schema())
	} else {
		policy = SchemaEvolve
	}
	d := newDecoder(start, policy)
	ups = &upsertBatch{final: map[string]int{}}
	// Within a partition, offsets order changes, as they order them for
	// Kafka's log compaction, whatever producers' clocks say. Across
	// partitions only timestamps can, so that a key that moved to another
	// partition ends with its newest value: a record counts as no older
	// than any record before it in its partition (a running maximum),
	// which keeps offset order within each partition under a stable sort.
	order := make([]int, len(recs))
	at := make([]time.Time, len(recs))
	newest := map[tp]time.Time{}
	for i, r := range recs {
		order[i] = i
		k := tp{r.Topic, r.Partition}
		if t, ok := newest[k]; !ok || r.Timestamp.After(t) {
			newest[k] = r.Timestamp
		}
		at[i] = newest[k]
	}
	slices.SortStableFunc(order, func(a, b int) int { return at[a].Compare(at[b]) })
	var row []any
	for _, i := range order {
		r := recs[i]
		var value []byte
		del := false
		var delKey map[string]any
		switch p.spec.Envelope {
		case EnvelopeDebezium:
			if r.Value == nil {
				// The tombstone Debezium sends after a delete, for log
				// compaction: the delete event before it was applied
				// already, and a later event of the key in this batch
				// must not be undone by it.
				continue
			}
			op, before, after, derr := debezium(r.Value)
			if derr != nil {
				bad = append(bad, badRecord{rec: r, stage: "decode", err: derr.Error()})
				continue
			}
			if op == "d" {
				del = true
				if delKey, err = objectOf(before); err != nil {
					bad = append(bad, badRecord{rec: r, stage: "decode", err: "delete without a before image: " + err.Error()})
					continue
				}
			} else {
				value = after
			}
		default:
			if r.Value == nil {
				if delKey, err = p.plainKey(r.Key); err != nil {
					bad = append(bad, badRecord{rec: r, stage: "decode", err: err.Error()})
					continue
				}
				del = true
			} else {
				value = r.Value
			}
		}
		var key string
		if del {
			var ok bool
			if key, ok = p.keyFromObject(delKey); !ok {
				bad = append(bad, badRecord{rec: r, stage: "decode", err: fmt.Sprintf("delete without key columns %v", p.spec.Key)})
				continue
			}
		} else {
			row, err = d.decode(value, row[:0])
			switch {
			case errors.Is(err, errNewField):
				return nil, nil, nil, nil, nil, fmt.Errorf("%w: record at %s/%d offset %d: %v (on_schema_change: fail)", ErrStopped, r.Topic, r.Partition, r.Offset, err)
			case err != nil:
				stage := "type"
				if strings.HasPrefix(err.Error(), "not a JSON object") {
					stage = "decode"
				}
				bad = append(bad, badRecord{rec: r, stage: stage, err: err.Error()})
				continue
			}
			var ok bool
			if key, ok = p.keyFromRow(d, row); !ok {
				bad = append(bad, badRecord{rec: r, stage: "decode", err: fmt.Sprintf("record without key columns %v", p.spec.Key)})
				continue
			}
		}
		if _, seen := ups.final[key]; !seen {
			ups.keys = append(ups.keys, key)
		}
		if del {
			ups.final[key] = -1
			continue
		}
		ups.final[key] = len(rows)
		rows = append(rows, slices.Clone(row))
		ups.rowKey = append(ups.rowKey, key)
		good = append(good, r)
	}
	// Only each key's last row is written; earlier ones are dropped here
	// so that rows, good and rowKey stay aligned.
	var keepRows [][]any
	var keepGood []*kgo.Record
	var keepKeys []string
	for i, row := range rows {
		if ups.final[ups.rowKey[i]] == i {
			ups.final[ups.rowKey[i]] = len(keepRows)
			keepRows = append(keepRows, row)
			keepGood = append(keepGood, good[i])
			keepKeys = append(keepKeys, ups.rowKey[i])
		}
	}
	ups.rowKey = keepKeys
	return d.cols, keepRows, keepGood, bad, ups, nil
}

func (p *Pipeline) keyFromRow(d *decoder, row []any) (string, bool) {
	vals := make([]string, len(p.spec.Key))
	for i, k := range p.spec.Key {
		ci, ok := d.byName[strings.ToLower(k)]
		if !ok || ci >= len(row) {
			return "", false
		}
		if vals[i], ok = valueText(row[ci]); !ok {
			return "", false
		}
	}
	return keyText(vals), true
}

func (p *Pipeline) keyFromObject(obj map[string]any) (string, bool) {
	lower := map[string]any{}
	for k, v := range obj {
		lower[strings.ToLower(k)] = v
	}
	vals := make([]string, len(p.spec.Key))
	for i, k := range p.spec.Key {
		var ok bool
		if vals[i], ok = valueText(lower[strings.ToLower(k)]); !ok {
			return "", false
		}
	}
	return keyText(vals), true
}

// plainKey reads a tombstone's Kafka key: a JSON object holding the key
// columns, or, for a one-column key, the value itself.
func (p *Pipeline) plainKey(key []byte) (map[string]any, error) {
	if len(key) == 0 {
		return nil, errors.New("a tombstone without a key")
	}
	if obj, err := objectOf(key); err == nil {
		return obj, nil
	}
	if len(p.spec.Key) != 1 {
		return nil, fmt.Errorf("tombstone key %q is not a JSON object with the key columns %v", key, p.spec.Key)
	}
	v := string(key)
	var s string
	if json.Unmarshal(key, &s) == nil {
		v = s
	}
	return map[string]any{p.spec.Key[0]: v}, nil
}

func objectOf(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	return obj, nil
}

// debezium unpacks a change event, with or without the JSON converter's
// schema wrapper.
func debezium(value []byte) (op string, before, after []byte, err error) {
	var ev struct {
		Payload json.RawMessage `json:"payload"`
		Op      string          `json:"op"`
		Before  json.RawMessage `json:"before"`
		After   json.RawMessage `json:"after"`
	}
	if err := json.Unmarshal(value, &ev); err != nil {
		return "", nil, nil, fmt.Errorf("not a JSON object: %v", err)
	}
	if ev.Op == "" && len(ev.Payload) > 0 && ev.Payload[0] == '{' {
		return debezium(ev.Payload)
	}
	switch ev.Op {
	case "c", "r", "u":
		if len(ev.After) == 0 || string(ev.After) == "null" {
			return "", nil, nil, fmt.Errorf("op %q without an after image", ev.Op)
		}
	case "d":
	case "t":
		return "", nil, nil, errors.New("truncate events are not applied")
	default:
		return "", nil, nil, fmt.Errorf("not a Debezium change event (op %q)", ev.Op)
	}
	return ev.Op, ev.Before, ev.After, nil
}

// index returns the key index for tbl, rebuilding it when the table
// moved on without this pipeline.
func (p *Pipeline) index(ctx context.Context, tbl *table.Table) (*keyIndex, error) {
	snap := tbl.CurrentSnapshot()
	var id int64
	if snap != nil {
		id = snap.SnapshotID
	}
	if p.keys != nil && p.keys.snapshot == id {
		return p.keys, nil
	}
	idx := &keyIndex{snapshot: id, locs: map[string][]rowLoc{}, files: map[string]iceberg.DataFile{}}
	if snap == nil {
		p.keys = idx
		return idx, nil
	}
	scan, toURI, files, release, err := p.scanLocal(ctx, tbl, p.spec.Table, id, true)
	if err != nil {
		return nil, err
	}
	defer release()
	idx.files = files
	// A row whose key is NULL (written through SQL, say) is no key's row:
	// no change can name it.
	notNull := make([]string, len(p.spec.Key))
	for i, k := range p.spec.Key {
		notNull[i] = "__s." + duck.Ident(k) + " IS NOT NULL"
	}
	if err := p.w.readKeys(ctx, "SELECT "+p.keySelect("__s")+", __s."+duck.FileColumn+", __s."+duck.PosColumn+" FROM ("+scan+") AS __s WHERE "+strings.Join(notNull, " AND "), idx, toURI); err != nil {
		return nil, err
	}
	p.keys = idx
	return idx, nil
}

// scanLocal plans snapshot snapID of tbl (named id) and fetches its files,
// returning DuckDB SQL that reads it with position deletes applied (and
// with rowIDs, duck.FileColumn and duck.PosColumn), the file URI of each
// local path, and the planned data files by URI. release ends the lease
// on the local copies; call it once the SQL has run.
func (p *Pipeline) scanLocal(ctx context.Context, tbl *table.Table, id lake.Ident, snapID int64, rowIDs bool) (scan string, toURI map[string]string, files map[string]iceberg.DataFile, release func(), err error) {
	fsTasks, err := tbl.Scan(table.WithSnapshotID(snapID)).PlanFiles(ctx)
	if err != nil {
		return "", nil, nil, nil, fmt.Errorf("plan %s: %w", id, err)
	}
	// Indexes name files by URI; DuckDB reads local copies (the files
	// themselves, or cached copies of a remote warehouse's).
	files = map[string]iceberg.DataFile{}
	var refs []lake.FileRef
	var planned []table.FileScanTask
	for _, t := range fsTasks {
		if _, seen := files[t.File.FilePath()]; seen {
			continue
		}
		if len(t.EqualityDeleteFiles) > 0 || len(t.DeletionVectorFiles) > 0 {
			return "", nil, nil, nil, fmt.Errorf("%w: table %s has equality deletes or deletion vectors; compact it first", ErrStopped, id)
		}
		files[t.File.FilePath()] = t.File
		planned = append(planned, t)
		refs = append(refs, lake.FileRef{URI: t.File.FilePath(), Size: t.File.FileSizeBytes()})
		for _, d := range t.DeleteFiles {
			refs = append(refs, lake.FileRef{URI: d.FilePath(), Size: d.FileSizeBytes()})
		}
	}
	local, err := p.deps.Lake.Fetch(ctx, refs)
	if err != nil {
		return "", nil, nil, nil, fmt.Errorf("read %s: %w", id, err)
	}
	toURI = map[string]string{}
	var tasks []duck.Task
	for _, t := range planned {
		path := local.Path(t.File.FilePath())
		toURI[path] = t.File.FilePath()
		dt := duck.Task{Data: path, DataURI: t.File.FilePath()}
		for _, d := range t.DeleteFiles {
			dt.Deletes = append(dt.Deletes, local.Path(d.FilePath()))
		}
		tasks = append(tasks, dt)
	}
	return duck.ScanSQL(tbl.Schema(), tasks, rowIDs, duck.ResolveFor(tbl.Metadata().Schemas())), toURI, files, local.Release, nil
}

// keySelect renders the key columns as text, for reading keys back.
func (p *Pipeline) keySelect(rel string) string {
	parts := make([]string, len(p.spec.Key))
	for i, k := range p.spec.Key {
		parts[i] = "CAST(" + rel + "." + duck.Ident(k) + " AS VARCHAR)"
	}
	return strings.Join(parts, ", ")
}

// readKeys adds (key columns…, file, position) rows of query to idx.
// The file column query yields is a local path; toURI names its file.
func (w *writer) readKeys(ctx context.Context, query string, idx *keyIndex, toURI map[string]string) error {
	rows, err := w.conn.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("read keys: %w", err)
	}
	defer rows.Close()
	n := len(w.p.spec.Key)
	vals := make([]any, n+2)
	strs := make([]*string, n)
	var file string
	var pos int64
	for i := range strs {
		strs[i] = new(string)
		vals[i] = strs[i]
	}
	vals[n], vals[n+1] = &file, &pos
	key := make([]string, n)
	for rows.Next() {
		for i := range strs {
			*strs[i] = ""
		}
		if err := rows.Scan(vals...); err != nil {
			return fmt.Errorf("read keys: %w", err)
		}
		for i := range strs {
			key[i] = *strs[i]
		}
		k := keyText(key)
		uri, ok := toURI[file]
		if !ok {
			return fmt.Errorf("read keys: row of unplanned file %s", file)
		}
		idx.locs[k] = append(idx.locs[k], rowLoc{file: uri, pos: pos})
	}
	return rows.Err()
}

// checkKeyColumns makes sure the key columns exist with a type whose
// text is stable.
func (p *Pipeline) checkKeyColumns(schema *iceberg.Schema) error {
	for _, k := range p.spec.Key {
		f, ok := schema.FindFieldByNameCaseInsensitive(k)
		if !ok {
			return fmt.Errorf("%w: key column %s is not in table %s", ErrStopped, k, p.spec.Table)
		}
		switch f.Type.(type) {
		case iceberg.Int32Type, iceberg.Int64Type, iceberg.StringType:
		default:
			return fmt.Errorf("%w: key column %s is %s; keys must be int, long or string", ErrStopped, k, f.Type)
		}
	}
	return nil
}

// upsertDeletes writes position deletes for every row whose key the batch
// replaces or deletes, and returns them with the rows they retire.
func (p *Pipeline) upsertDeletes(ctx context.Context, tbl *table.Table, idx *keyIndex, ups *upsertBatch) ([]iceberg.DataFile, error) {
	var locs []rowLoc
	for _, k := range ups.keys {
		locs = append(locs, idx.locs[k]...)
	}
	if len(locs) == 0 {
		return nil, nil
	}
	if _, err := p.w.conn.ExecContext(ctx, "CREATE OR REPLACE TABLE __edp_del ("+duck.FileColumn+" VARCHAR, "+duck.PosColumn+" BIGINT)"); err != nil {
		return nil, err
	}
	files := map[string]iceberg.DataFile{}
	err := p.w.conn.Raw(func(dc any) error {
		a, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", "__edp_del")
		if err != nil {
			return err
		}
		for _, l := range locs {
			files[l.file] = idx.files[l.file]
			if err := a.AppendRow(l.file, l.pos); err != nil {
				a.Close()
				return err
			}
		}
		return a.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("stage deletes: %w", err)
	}
	return p.w.writeDeletes(ctx, tbl, "SELECT * FROM __edp_del", files)
}

// newLocations reads where the keys of freshly written files landed.
func (p *Pipeline) newLocations(ctx context.Context, files []iceberg.DataFile) (*keyIndex, error) {
	out := &keyIndex{locs: map[string][]rowLoc{}, files: map[string]iceberg.DataFile{}}
	if len(files) == 0 {
		return out, nil
	}
	refs := make([]lake.FileRef, len(files))
	for i, f := range files {
		refs[i] = lake.FileRef{URI: f.FilePath(), Size: f.FileSizeBytes()}
	}
	local, err := p.deps.Lake.Fetch(ctx, refs)
	if err != nil {
		return nil, err
	}
	defer local.Release()
	paths := make([]string, len(files))
	toURI := map[string]string{}
	for i, f := range files {
		path := local.Path(f.FilePath())
		paths[i] = duck.Quote(path)
		toURI[path] = f.FilePath()
		out.files[f.FilePath()] = f
	}
	q := "SELECT " + p.keySelect("__s") + ", __s.filename, __s.file_row_number FROM read_parquet([" + strings.Join(paths, ", ") + "], filename = true, file_row_number = true) AS __s"
	return out, p.w.readKeys(ctx, q, out, toURI)
}

// applyIndex brings the index to the snapshot just committed.
func (idx *keyIndex) apply(ups *upsertBatch, added *keyIndex, snapshot int64) {
	for _, k := range ups.keys {
		delete(idx.locs, k)
	}
	for k, l := range added.locs {
		idx.locs[k] = append(idx.locs[k], l...)
	}
	for f, df := range added.files {
		idx.files[f] = df
	}
	idx.snapshot = snapshot
}
