package stream

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/edp-data/edp/internal/duck"
	"github.com/edp-data/edp/internal/lake"
)

// badRecord is a record that could not become a row.
type badRecord struct {
	rec   *kgo.Record
	stage string // decode, type, transform
	err   string
}

// commit turns the buffered records into one snapshot of the table,
// retrying on the refreshed table when another writer committed first.
func (p *Pipeline) commit(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for attempt := 1; ; attempt++ {
		err := p.commitOnce(ctx)
		if err == nil || isCrash(err) || !lake.IsConflict(err) || attempt >= 20 {
			if err != nil && !isCrash(err) {
				p.stat.noteError(err)
			}
			return err
		}
		// Lost a race with another writer (another replica, maintenance,
		// SQL): the next attempt re-reads the table and its offsets, so
		// nothing is applied twice.
		wait := time.Duration(rand.Int64N(int64(min(250*time.Millisecond, time.Duration(attempt)*20*time.Millisecond)))) + time.Millisecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

func (p *Pipeline) commitOnce(ctx context.Context) error {
	id := p.spec.Table
	tbl, err := p.deps.Lake.LoadTable(ctx, id)
	if errors.Is(err, lake.ErrNoSuchTable) || errors.Is(err, lake.ErrNoSuchNamespace) {
		tbl, err = nil, nil
	}
	if err != nil {
		return err
	}
	committed := Offsets{}
	if tbl != nil {
		if committed, _, err = committedOffsets(tbl, p.spec.Name); err != nil {
			return err
		}
	}

	// Which partitions may commit: those whose offsets in the table are
	// still what this consumer started its batch from. Any other has been
	// committed past by another consumer (a rebalance overlap): its
	// buffered records are dropped and it resumes from the table.
	var live []tp
	var reseek map[string]map[int32]kgo.EpochOffset
	for key, st := range p.parts {
		if st.next < 0 || st.next == st.base {
			continue
		}
		cur, ok := committed.Get(key.topic, key.partition)
		if (ok && cur == st.base) || (!ok && st.base == -1) {
			live = append(live, key)
			continue
		}
		if !ok {
			// The table once had this partition's offsets and has none
			// now: it was dropped (and maybe re-created). No consumer
			// committed past us; carrying on would discard every record
			// as someone else's, and starting over is not ours to decide.
			return fmt.Errorf("%w: table %s no longer has the pipeline's offsets for %s/%d (it had %d): was it dropped or replaced? Resuming the pipeline starts the partition over from start_from",
				ErrStopped, id, key.topic, key.partition, st.base)
		}
		p.log.Info("partition committed by another consumer; resuming from the table", "topic", key.topic, "partition", key.partition, "table_offset", cur, "had", st.base)
		p.buffered -= len(st.records)
		p.bufferedBytes -= st.bytes
		st.records, st.bytes = nil, 0
		if ok {
			st.base, st.next = cur, cur
			if reseek == nil {
				reseek = map[string]map[int32]kgo.EpochOffset{}
			}
			if reseek[key.topic] == nil {
				reseek[key.topic] = map[int32]kgo.EpochOffset{}
			}
			reseek[key.topic][key.partition] = kgo.EpochOffset{Epoch: -1, Offset: cur}
		}
	}
	if reseek != nil && p.cl != nil {
		p.cl.SetOffsets(reseek)
	}
	if len(live) == 0 {
		return nil
	}
	slices.SortFunc(live, func(a, b tp) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.partition - b.partition)
	})
	var recs []*kgo.Record
	for _, key := range live {
		recs = append(recs, p.parts[key].records...)
	}

	// Decode against the table as it is now.
	var (
		cols []column
		rows [][]any
		good []*kgo.Record
		bad  []badRecord
		ups  *upsertBatch
	)
	decodeRecs := recs
	var regBad []badRecord
	if p.spec.Format == FormatAvro || p.spec.Format == FormatJSONSchema {
		if decodeRecs, regBad, err = p.fromRegistry(ctx, recs); err != nil {
			return err
		}
	}
	if p.spec.Mode == ModeUpsert {
		cols, rows, good, bad, ups, err = p.decodeChanges(tbl, decodeRecs)
	} else {
		cols, rows, good, bad, err = p.decode(tbl, decodeRecs)
	}
	if err != nil {
		return err
	}
	bad = append(regBad, bad...)
	w := p.w
	if err := w.stage(ctx, stageIn, cols, rows); err != nil {
		return err
	}
	if err := w.setBatchView(ctx, cols, nil, -1); err != nil {
		return err
	}
	outNames, outTypes, err := w.outputColumns(ctx)
	if err != nil {
		if len(rows) == 0 {
			outNames, outTypes = nil, nil
		} else {
			return fmt.Errorf("%w: %v", ErrStopped, err)
		}
	}

	// The table: created from the first batch's columns, evolved per the
	// pipeline's policy; a new column commits with its rows.
	if tbl == nil {
		if len(rows) == 0 {
			// Nothing to write, and (for upserts) nothing to delete from
			// a table that does not exist yet.
			return p.carry(ctx, live, recs, bad, nil)
		}
		if tbl, err = p.createTable(ctx, outNames, outTypes); err != nil {
			return err
		}
	}
	tbl, tx, extra, err := p.prepareTable(ctx, tbl, outNames, outTypes)
	if err != nil {
		return err
	}

	var idx *keyIndex
	if ups != nil {
		if err := p.checkKeyColumns(tbl.Schema()); err != nil {
			return err
		}
		if idx, err = p.index(ctx, tbl); err != nil {
			return err
		}
	}

	schema := tbl.Schema()
	transformBad, err := w.materialize(ctx, cols, len(rows), func() string { return w.finalSelect(schema, outNames) })
	if err != nil {
		return fmt.Errorf("%w: %v", ErrStopped, err)
	}
	for _, seq := range slices.Sorted(maps.Keys(transformBad)) {
		bad = append(bad, badRecord{rec: good[seq], stage: "transform", err: transformBad[seq]})
		if ups != nil {
			// A change that cannot be written is not applied at all: the
			// key keeps its old row.
			k := ups.rowKey[seq]
			delete(ups.final, k)
			ups.keys = slices.DeleteFunc(ups.keys, func(x string) bool { return x == k })
		}
	}
	if len(bad) > 0 && p.spec.OnBadRecord == BadStop {
		b := bad[0]
		return fmt.Errorf("%w: bad record at %s/%d offset %d (%s): %s (on_bad_record: stop)", ErrStopped, b.rec.Topic, b.rec.Partition, b.rec.Offset, b.stage, b.err)
	}

	files, nrows, err := w.writeFiles(ctx, tbl, "SELECT * FROM "+stageOut)
	if err != nil {
		return fmt.Errorf("write %s: %w", id, err)
	}
	var deletes []iceberg.DataFile
	var added *keyIndex
	if ups != nil {
		if deletes, err = p.upsertDeletes(ctx, tbl, idx, ups); err == nil {
			added, err = p.newLocations(ctx, files)
		}
		if err != nil {
			removeFiles(ctx, p.deps.Lake, append(files, deletes...))
			return fmt.Errorf("write %s: %w", id, err)
		}
	}
	if err := p.hook(PointFilesWritten); err != nil {
		return err
	}
	dead, err := p.deadLetters(ctx, live, bad)
	if err != nil {
		removeFiles(ctx, p.deps.Lake, append(files, deletes...))
		return err
	}
	if err := p.hook(PointDLQCommitted); err != nil {
		return err
	}
	if len(files) == 0 && len(deletes) == 0 && len(extra) == 0 {
		return p.carry(ctx, live, recs, bad, nil)
	}
	next := committed.Clone()
	for _, key := range live {
		next.Set(key.topic, key.partition, p.parts[key].next)
	}
	// The offsets go in the snapshot summary (what resuming reads, so a
	// rollback of the table rolls consumption back with it) and, in the
	// same transaction, in a table property: snapshot expiry may remove
	// every snapshot that carried them, the property survives it.
	if err := tx.SetProperties(iceberg.Properties{offsetsProperty(p.spec.Name): encodeOffsets(next)}); err != nil {
		removeFiles(ctx, p.deps.Lake, append(files, deletes...))
		return err
	}
	committedTbl, err := p.deps.Lake.CommitFiles(ctx, id, tbl, lake.Commit{
		Job: "stream " + p.spec.Name, Data: files, Deletes: deletes, Tx: tx,
		Props: map[string]string{offsetsProperty(p.spec.Name): encodeOffsets(next)},
	})
	if err != nil {
		removeUncommitted(ctx, p.deps.Lake, err, append(files, deletes...))
		return err
	}
	if err := p.hook(PointCommitted); err != nil {
		return err
	}
	var snap int64
	if s := committedTbl.CurrentSnapshot(); s != nil {
		snap = s.SnapshotID
	}
	for _, key := range live {
		st := p.parts[key]
		st.base = st.next
	}
	if ups != nil {
		idx.apply(ups, added, snap)
	}
	p.finish(ctx, live, recs, nrows, dead, int64(len(bad))-dead, snap)
	return p.hook(PointGroupCommitted)
}

// carry ends a batch that yielded no rows without a snapshot: its
// partitions' progress is committed with their next rows. (A snapshot
// needs files; offsets alone would have to live elsewhere.) Records
// re-read after a crash are decoded again; dead letters are not written
// twice (see deadLetters).
func (p *Pipeline) carry(ctx context.Context, live []tp, recs []*kgo.Record, bad []badRecord, _ error) error {
	dead, err := p.deadLetters(ctx, live, bad)
	if err != nil {
		return err
	}
	p.finish(ctx, live, recs, 0, dead, int64(len(bad))-dead, 0)
	return nil
}

// finish clears the committed records, tells the group (for lag tools;
// edp itself never reads the group's offsets) and updates status.
func (p *Pipeline) finish(ctx context.Context, live []tp, recs []*kgo.Record, rows, dead, skipped int64, snap int64) {
	group := map[string]map[int32]kgo.EpochOffset{}
	var parts []PartitionStatus
	for key, st := range p.parts {
		if slices.Contains(live, key) {
			p.buffered -= len(st.records)
			p.bufferedBytes -= st.bytes
			st.records, st.bytes = nil, 0
			if st.base >= 0 {
				if group[key.topic] == nil {
					group[key.topic] = map[int32]kgo.EpochOffset{}
				}
				group[key.topic][key.partition] = kgo.EpochOffset{Epoch: -1, Offset: st.base}
			}
		}
		lag := int64(0)
		if st.hwm >= 0 {
			lag = st.hwm - max(st.base, 0)
		}
		parts = append(parts, PartitionStatus{Topic: key.topic, Partition: key.partition, Committed: st.base, End: st.hwm, Lag: lag})
	}
	p.stat.positions(parts)
	var stamps []time.Time
	if snap != 0 {
		stamps = make([]time.Time, len(recs))
		for i, r := range recs {
			stamps[i] = r.Timestamp
		}
	}
	p.stat.committed(int64(len(recs)), rows, dead, skipped, snap, stamps)
	if p.cl != nil && len(group) > 0 && snap != 0 {
		gctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		p.cl.CommitOffsetsSync(gctx, group, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				p.log.Debug("offsets not committed to the group (edp does not need them)", "err", err)
			}
		})
		cancel()
	}
}

// createTable creates the target table (and its namespace) from the
// first batch's columns.
func (p *Pipeline) createTable(ctx context.Context, names, types []string) (*table.Table, error) {
	schema, err := duck.SchemaFromColumns(names, types)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStopped, err)
	}
	if err := p.deps.Lake.CreateNamespace(ctx, p.spec.Table.Namespace, nil, true); err != nil {
		return nil, err
	}
	tbl, err := p.deps.Lake.CreateTable(ctx, p.spec.Table, schema, nil, nil)
	if errors.Is(err, lake.ErrTableExists) {
		// Another replica created it first: a conflict, retried on the
		// table as that replica made it.
		return nil, fmt.Errorf("%w: %w", table.ErrCommitFailed, err)
	}
	return tbl, err
}

// decode turns records into rows. good[i] is the record of rows[i].
func (p *Pipeline) decode(tbl *table.Table, recs []*kgo.Record) (cols []column, rows [][]any, good []*kgo.Record, bad []badRecord, err error) {
	if p.spec.Format == FormatRaw {
		cols = rawColumns
		for _, r := range recs {
			rows = append(rows, []any{r.Key, r.Value, r.Topic, int64(r.Partition), r.Offset, r.Timestamp.UTC()})
			good = append(good, r)
		}
		return cols, rows, good, nil, nil
	}
	var start []column
	switch {
	case p.spec.Transform != "":
		// A transform's input is not the table: its columns are inferred
		// from the records (and remembered), widening as values require.
		start = p.inputCols
	case tbl != nil:
		start = tableColumns(tbl.Schema())
	}
	policy := p.spec.OnSchemaChange
	if p.spec.Transform != "" || tbl == nil {
		// The transform's output is what meets the table's policy; and
		// the first batch makes the table.
		policy = SchemaEvolve
	}
	if len(start) > 0 && len(recs) >= 2*parallelChunk {
		if cols, rows, good, bad, ok := decodeParallel(start, policy, recs); ok {
			if p.spec.Transform != "" {
				p.inputCols = slices.Clone(cols)
			}
			return cols, rows, good, bad, nil
		}
	}
	d := newDecoder(start, policy)
	var row []any
	for _, r := range recs {
		row, err = d.decode(r.Value, row[:0])
		switch {
		case errors.Is(err, errNewField):
			return nil, nil, nil, nil, fmt.Errorf("%w: record at %s/%d offset %d: %v (on_schema_change: fail)", ErrStopped, r.Topic, r.Partition, r.Offset, err)
		case err != nil:
			stage := "type"
			if strings.HasPrefix(err.Error(), "not a JSON object") {
				stage = "decode"
			}
			bad = append(bad, badRecord{rec: r, stage: stage, err: err.Error()})
			continue
		case row == nil:
			bad = append(bad, badRecord{rec: r, stage: "decode", err: "no value (a tombstone) in an append pipeline"})
			continue
		}
		rows = append(rows, slices.Clone(row))
		good = append(good, r)
	}
	if p.spec.Transform != "" {
		p.inputCols = slices.Clone(d.cols)
	}
	return d.cols, rows, good, bad, nil
}

var rawColumns = []column{
	{name: "key", kind: kBinary, strict: true}, {name: "value", kind: kBinary, strict: true},
	{name: "topic", kind: kString, strict: true}, {name: "partition", kind: kInt, strict: true},
	{name: "offset", kind: kLong, strict: true}, {name: "timestamp", kind: kTime, strict: true},
}

func listCols(names, types []string, idx []int) string {
	var out []string
	for _, i := range idx {
		out = append(out, names[i]+" "+types[i])
	}
	return strings.Join(out, ", ")
}

// prepareTable evolves tbl for the output columns per the schema-change
// policy and returns the table to write against, the transaction to
// commit in (pinned to the snapshot read, see below) and the indexes of
// the new columns.
func (p *Pipeline) prepareTable(ctx context.Context, tbl *table.Table, outNames, outTypes []string) (*table.Table, *table.Transaction, []int, error) {
	id := p.spec.Table
	var tx *table.Transaction
	var err error
	var extra []int
	for i, n := range outNames {
		if _, ok := tbl.Schema().FindFieldByNameCaseInsensitive(n); !ok && n != seqCol {
			extra = append(extra, i)
		}
	}
	if len(extra) > 0 {
		switch p.spec.OnSchemaChange {
		case SchemaFail:
			return nil, nil, nil, fmt.Errorf("%w: the records have columns table %s lacks: %s (on_schema_change: fail)", ErrStopped, id, listCols(outNames, outTypes, extra))
		case SchemaEvolve:
			var typeErr error
			tx, tbl, err = p.deps.Lake.StageSchema(ctx, id, tbl, func(u *table.UpdateSchema) {
				for _, i := range extra {
					next := 0
					t, err := duck.IcebergType(outTypes[i], func() int { next++; return next })
					if err != nil {
						typeErr = fmt.Errorf("column %s: %w", outNames[i], err)
						return
					}
					u.AddColumn([]string{outNames[i]}, t, "", false, nil)
				}
			})
			if typeErr != nil {
				return nil, nil, nil, fmt.Errorf("%w: %v", ErrStopped, typeErr)
			}
			if err != nil {
				return nil, nil, nil, err
			}
		case SchemaIgnore:
			extra = nil
		}
	}
	if tx == nil {
		tx = tbl.NewTransaction()
	}
	// Exactly-once hinges on this: the commit succeeds only if no
	// snapshot landed since the offsets (or idempotency keys) were read;
	// otherwise iceberg-go would rebase the append onto the new head,
	// which might hold these same records committed by another writer.
	if err := tx.AssertRefSnapshotID(""); err != nil {
		return nil, nil, nil, err
	}
	return tbl, tx, extra, nil
}

// parallelChunk is the fewest records worth a decoding goroutine.
const parallelChunk = 4096

// decodeParallel decodes records on every core: JSON decoding is most of
// a batch's CPU. Each worker decodes a contiguous run of records against
// the known columns; if any record brings a new field (or the schema
// policy stops on one), ok is false and the caller decodes in order, so
// new columns appear as they would sequentially.
func decodeParallel(start []column, policy string, recs []*kgo.Record) (cols []column, rows [][]any, good []*kgo.Record, bad []badRecord, ok bool) {
	workers := min(runtime.GOMAXPROCS(0), len(recs)/parallelChunk)
	type part struct {
		cols []column
		rows [][]any
		good []*kgo.Record
		bad  []badRecord
		new  bool
	}
	parts := make([]part, workers)
	var wg sync.WaitGroup
	per := (len(recs) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*per, min(len(recs), (w+1)*per)
		wg.Go(func() {
			d := newDecoder(slices.Clone(start), policy)
			pt := &parts[w]
			pt.rows = make([][]any, 0, hi-lo)
			for _, r := range recs[lo:hi] {
				row, err := d.decode(r.Value, nil)
				if len(d.cols) != len(start) || errors.Is(err, errNewField) {
					pt.new = true
					return
				}
				switch {
				case err != nil:
					stage := "type"
					if strings.HasPrefix(err.Error(), "not a JSON object") {
						stage = "decode"
					}
					pt.bad = append(pt.bad, badRecord{rec: r, stage: stage, err: err.Error()})
				case row == nil:
					pt.bad = append(pt.bad, badRecord{rec: r, stage: "decode", err: "no value (a tombstone) in an append pipeline"})
				default:
					pt.rows = append(pt.rows, row)
					pt.good = append(pt.good, r)
				}
			}
			pt.cols = d.cols
		})
	}
	wg.Wait()
	for i, pt := range parts {
		if pt.new {
			return nil, nil, nil, nil, false
		}
		if i == 0 {
			cols = pt.cols
		} else {
			// A non-strict column may have widened in one worker only.
			for j := range cols {
				cols[j].kind = widenKinds(cols[j], pt.cols[j])
			}
		}
		rows = append(rows, pt.rows...)
		good = append(good, pt.good...)
		bad = append(bad, pt.bad...)
	}
	return cols, rows, good, bad, true
}

func widenKinds(a, b column) kind {
	if a.strict {
		return a.kind
	}
	return widen(a.kind, b.kind)
}
