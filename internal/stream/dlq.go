package stream

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edp-data/edp/internal/lake"
)

// dlqColumns are the dead-letter table's columns.
var dlqColumns = []column{
	{name: "pipeline", kind: kString}, {name: "topic", kind: kString}, {name: "partition", kind: kInt},
	{name: "offset", kind: kLong}, {name: "timestamp", kind: kTime}, {name: "key", kind: kBinary},
	{name: "value", kind: kBinary}, {name: "stage", kind: kString}, {name: "error", kind: kString},
}

func dlqSchema() *iceberg.Schema {
	fields := make([]iceberg.NestedField, len(dlqColumns))
	for i, c := range dlqColumns {
		fields[i] = iceberg.NestedField{ID: i + 1, Name: c.name, Type: icebergTypeOf(c.kind)}
	}
	return iceberg.NewSchema(0, fields...)
}

// deadLetters handles a batch's bad records per the pipeline's policy and
// returns how many are in the dead-letter table. With BadDLQ they are
// committed there before the batch's rows are committed to the table; the
// dead-letter snapshot carries offsets of its own, and below them records
// are matched exactly, so records re-read after a crash or a lost race in
// between are written once.
func (p *Pipeline) deadLetters(ctx context.Context, live []tp, bad []badRecord) (int64, error) {
	if len(bad) == 0 || p.spec.OnBadRecord != BadDLQ {
		return 0, nil
	}
	id := dlqTable(p.spec.Table)
	name := p.spec.Name + ".dlq"
	tbl, err := p.deps.Lake.LoadTable(ctx, id)
	if errors.Is(err, lake.ErrNoSuchTable) {
		if err := p.deps.Lake.CreateNamespace(ctx, id.Namespace, nil, true); err != nil {
			return 0, err
		}
		tbl, err = p.deps.Lake.CreateTable(ctx, id, dlqSchema(), nil, nil)
		if errors.Is(err, lake.ErrTableExists) {
			tbl, err = p.deps.Lake.LoadTable(ctx, id)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("dead-letter table %s: %w", id, err)
	}
	done, _, err := committedOffsets(tbl, name)
	if err != nil {
		return 0, err
	}
	// Below the dead-letter offsets a record may have been dead-lettered
	// by an earlier attempt at this batch (a crash, a lost race) — or not:
	// a retry decodes against the table as it is then, and a record good
	// before may be bad now. So those are looked up one by one.
	var rows [][]any
	var maybe []*kgo.Record
	var maybeBad []badRecord
	for _, b := range bad {
		r := b.rec
		if o, ok := p.original[r]; ok {
			r = o
		}
		if off, ok := done.Get(r.Topic, r.Partition); ok && r.Offset < off {
			maybe, maybeBad = append(maybe, r), append(maybeBad, b)
			continue
		}
		rows = append(rows, dlqRow(p.spec.Name, r, b))
	}
	var already int64
	if len(maybe) > 0 {
		have, err := p.deadLettered(ctx, tbl, id, maybe)
		if err != nil {
			return 0, err
		}
		for i, r := range maybe {
			if have[recordPos{r.Topic, r.Partition, r.Offset}] {
				already++
				continue
			}
			rows = append(rows, dlqRow(p.spec.Name, r, maybeBad[i]))
		}
	}
	if len(rows) == 0 {
		return already, nil
	}
	if err := p.w.stage(ctx, stageDLQ, dlqColumns, rows); err != nil {
		return 0, err
	}
	files, _, err := p.w.writeFiles(ctx, tbl, "SELECT * EXCLUDE ("+seqCol+") FROM "+stageDLQ)
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", id, err)
	}
	next := done.Clone()
	for _, key := range live {
		// Never backwards: a batch re-read after a crash may end before
		// dead letters already written.
		if off, ok := done.Get(key.topic, key.partition); !ok || off < p.parts[key].next {
			next.Set(key.topic, key.partition, p.parts[key].next)
		}
	}
	// As for the table itself: commit only onto the state the offsets
	// were read from; a lost race retries the whole batch.
	tx := tbl.NewTransaction()
	if err := tx.AssertRefSnapshotID(""); err == nil {
		err = tx.SetProperties(iceberg.Properties{offsetsProperty(name): encodeOffsets(next)})
	}
	if err != nil {
		removeFiles(ctx, p.deps.Lake, files)
		return 0, err
	}
	if _, err := p.deps.Lake.CommitFiles(ctx, id, tbl, lake.Commit{
		Job: "stream " + p.spec.Name, Data: files, Tx: tx,
		Props: map[string]string{offsetsProperty(name): encodeOffsets(next)},
	}); err != nil {
		removeUncommitted(ctx, p.deps.Lake, err, files)
		return 0, err
	}
	return already + int64(len(rows)), nil
}

func dlqRow(pipeline string, r *kgo.Record, b badRecord) []any {
	return []any{pipeline, r.Topic, int64(r.Partition), r.Offset, r.Timestamp.UTC(), r.Key, r.Value, b.stage, b.err}
}

// recordPos is where a record is in Kafka.
type recordPos struct {
	topic     string
	partition int32
	offset    int64
}

// deadLettered returns which of recs this pipeline's rows in the
// dead-letter table tbl (named id) already hold.
func (p *Pipeline) deadLettered(ctx context.Context, tbl *table.Table, id lake.Ident, recs []*kgo.Record) (map[recordPos]bool, error) {
	have := map[recordPos]bool{}
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return have, nil
	}
	scan, _, _, release, err := p.scanLocal(ctx, tbl, id, snap.SnapshotID, false)
	if err != nil {
		return nil, err
	}
	defer release()
	lo := recs[0].Offset
	for _, r := range recs {
		lo = min(lo, r.Offset)
	}
	rows, err := p.w.conn.QueryContext(ctx, `SELECT topic, "partition", "offset" FROM (`+scan+`) AS __s WHERE pipeline = ? AND "offset" >= ?`, p.spec.Name, lo)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k recordPos
		if err := rows.Scan(&k.topic, &k.partition, &k.offset); err != nil {
			return nil, fmt.Errorf("read %s: %w", id, err)
		}
		have[k] = true
	}
	return have, rows.Err()
}
