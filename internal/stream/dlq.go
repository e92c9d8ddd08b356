package stream

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/iceberg-go"

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
// returns how many went to the dead-letter table. With BadDLQ they are
// committed there before the batch's rows are committed to the table; the
// dead-letter snapshot carries offsets of its own, so records re-read
// after a crash in between are not written twice.
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
	var rows [][]any
	for _, b := range bad {
		r := b.rec
		if o, ok := p.original[r]; ok {
			r = o
		}
		if off, ok := done.Get(r.Topic, r.Partition); ok && r.Offset < off {
			continue // written before a crash
		}
		rows = append(rows, []any{p.spec.Name, r.Topic, int64(r.Partition), r.Offset, r.Timestamp.UTC(), r.Key, r.Value, b.stage, b.err})
	}
	if len(rows) == 0 {
		return 0, nil
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
	return int64(len(rows)), nil
}
