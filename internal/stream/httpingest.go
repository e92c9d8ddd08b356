package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/apache/iceberg-go/table"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/policy"
)

// HTTP ingest: records posted to the API are committed to a table before
// the request is answered, so an acknowledged record is durable. Requests
// for one table that arrive together share a commit (group commit). A
// request may carry an idempotency key; the keys of a commit are stored
// in its snapshot summary, in the same atomic commit as the rows, so a
// retry after any failure — even one after the commit, before the answer
// — is answered from the table instead of committing the rows again.

// ErrBadRecords is wrapped by errors about records a request posted;
// nothing of that request was committed.
var ErrBadRecords = errors.New("bad records")

// ingestKeysProperty holds a commit's idempotency keys: JSON of
// principal + "\x00" + key → rows.
const ingestKeysProperty = "edp.ingest.keys"

// IngestResult answers one ingest request.
type IngestResult struct {
	Rows       int64 `json:"rows"`
	SnapshotID int64 `json:"snapshot_id"`
	// Duplicate is set when the idempotency key was committed before:
	// nothing was written this time.
	Duplicate bool `json:"duplicate"`
}

// Ingester commits posted records to tables.
type Ingester struct {
	deps Deps
	// Window is how long a commit waits for more requests to join it.
	window time.Duration

	mu     sync.Mutex
	tables map[string]*tableIngest // by principal and table
	closed bool
}

type tableIngest struct {
	p *Pipeline // the table's writer; its spec names the table

	mu      sync.Mutex // serializes commits for the table
	pending []*ingestReq
	leader  bool
	// keys are the idempotency keys seen in the table's snapshots up to
	// scanned (a snapshot id), with their results.
	keys    map[string]IngestResult
	scanned int64
}

type ingestReq struct {
	key     string
	records [][]byte
	res     IngestResult
	err     error
	done    chan struct{}
}

// NewIngester makes an ingester writing through deps.Lake.
func NewIngester(deps Deps) *Ingester {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	return &Ingester{deps: deps, window: 20 * time.Millisecond, tables: map[string]*tableIngest{}}
}

// Close releases the DuckDB databases of the tables ingested into.
func (in *Ingester) Close() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.closed = true
	for _, t := range in.tables {
		t.mu.Lock()
		if t.p.w != nil {
			t.p.w.close()
			t.p.w = nil
		}
		t.mu.Unlock()
	}
}

// Ingest commits records (JSON objects) to id, creating the table from
// them if it does not exist and adding columns for new fields, and
// returns once they are committed. key, if not empty, makes a retry of
// the same request return the first result instead of adding the rows
// again.
func (in *Ingester) Ingest(ctx context.Context, id lake.Ident, key string, records [][]byte) (IngestResult, error) {
	if err := in.deps.Lake.Authorize(ctx, policy.Write, resource(id)); err != nil {
		return IngestResult{}, err
	}
	if len(records) == 0 {
		return IngestResult{}, fmt.Errorf("%w: no records", ErrBadRecords)
	}
	t, err := in.table(ctx, id)
	if err != nil {
		return IngestResult{}, err
	}
	if key != "" {
		// Keys are the client's, so they are unique per principal only:
		// another principal's key must neither answer this request (and
		// drop its rows) nor tell it about that principal's commit.
		key = principalName(ctx) + "\x00" + key
	}
	req := &ingestReq{key: key, records: records, done: make(chan struct{})}
	t.mu.Lock()
	t.pending = append(t.pending, req)
	lead := !t.leader
	if lead {
		t.leader = true
	}
	t.mu.Unlock()
	if lead {
		// Let concurrent requests join, then commit them all. The commit
		// outlives a leader whose client went away: others wait on it.
		time.Sleep(in.window)
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		in.commitPending(cctx, t)
		cancel()
	}
	select {
	case <-req.done:
		return req.res, req.err
	case <-ctx.Done():
		return IngestResult{}, ctx.Err()
	}
}

// table returns the ingest state of a table for the principal in ctx:
// requests share commits only with requests of the same principal, so no
// one's rows are committed under another's permissions.
func (in *Ingester) table(ctx context.Context, id lake.Ident) (*tableIngest, error) {
	who := principalName(ctx)
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return nil, errors.New("ingest is shutting down")
	}
	k := who + "\x00" + id.String()
	if t, ok := in.tables[k]; ok {
		return t, nil
	}
	spec := Spec{Name: "http", Topics: []string{"http"}, Table: id, OnSchemaChange: SchemaEvolve, OnBadRecord: BadStop}
	if err := spec.Normalize(time.Second); err != nil {
		return nil, err
	}
	p, err := New(spec, in.deps)
	if err != nil {
		return nil, err
	}
	t := &tableIngest{p: p, keys: map[string]IngestResult{}}
	in.tables[k] = t
	return t, nil
}

func principalName(ctx context.Context) string {
	if p, ok := auth.FromContext(ctx); ok {
		return p.Name
	}
	return ""
}

// commitPending commits everything pending for t in one snapshot,
// retrying on the refreshed table when another writer won the race.
func (in *Ingester) commitPending(ctx context.Context, t *tableIngest) {
	t.mu.Lock()
	reqs := t.pending
	t.pending = nil
	t.leader = false
	defer t.mu.Unlock()
	finish := func(r *ingestReq) { close(r.done) }
	if t.p.w == nil {
		w, err := newWriter(ctx, t.p)
		if err != nil {
			for _, r := range reqs {
				r.err = err
				finish(r)
			}
			return
		}
		t.p.w = w
	}
	for attempt := 1; len(reqs) > 0; attempt++ {
		var err error
		reqs, err = in.commitOnce(ctx, t, reqs)
		if err == nil || !lake.IsConflict(err) || attempt >= 20 {
			for _, r := range reqs {
				if r.err == nil {
					r.err = err
				}
			}
			break
		}
		time.Sleep(time.Duration(attempt) * 10 * time.Millisecond)
	}
	for _, r := range reqs {
		finish(r)
	}
}

// commitOnce answers requests whose keys the table already has, rejects
// those with bad records, and commits the rest. It returns the requests
// still to be answered (all of them after a commit error).
func (in *Ingester) commitOnce(ctx context.Context, t *tableIngest, reqs []*ingestReq) ([]*ingestReq, error) {
	p := t.p
	id := p.spec.Table
	tbl, err := in.deps.Lake.LoadTable(ctx, id)
	if errors.Is(err, lake.ErrNoSuchTable) || errors.Is(err, lake.ErrNoSuchNamespace) {
		tbl, err = nil, nil
	}
	if err != nil {
		return reqs, err
	}
	if tbl != nil {
		if err := t.scanKeys(tbl); err != nil {
			return reqs, err
		}
	}
	var todo []*ingestReq
	inBatch := map[string]*ingestReq{}
	for _, r := range reqs {
		if r.key != "" {
			if res, ok := t.keys[r.key]; ok {
				res.Duplicate = true
				r.res = res
				close(r.done)
				continue
			}
			if first, ok := inBatch[r.key]; ok {
				// The same key twice in one commit: a retry racing its
				// original. It gets the original's answer.
				go func() {
					<-first.done
					r.res, r.err = first.res, first.err
					r.res.Duplicate = first.err == nil
					close(r.done)
				}()
				continue
			}
			inBatch[r.key] = r
		}
		todo = append(todo, r)
	}
	if len(todo) == 0 {
		return nil, nil
	}

	// Decode every request; one with a bad record is refused whole.
	var start []column
	policy := SchemaEvolve
	if tbl != nil {
		start = tableColumns(tbl.Schema())
	}
	d := newDecoder(start, policy)
	var rows [][]any
	var owner []*ingestReq
	var ok []*ingestReq
	for _, r := range todo {
		var mine [][]any
		var row []any
		var bad error
		for i, rec := range r.records {
			row, err = d.decode(rec, row[:0])
			if err == nil && row == nil {
				err = errors.New("null is not a record")
			}
			if err != nil {
				bad = fmt.Errorf("%w: record %d: %v; nothing of this request was committed", ErrBadRecords, i+1, err)
				break
			}
			mine = append(mine, append([]any(nil), row...))
		}
		if bad != nil {
			r.err = bad
			close(r.done)
			continue
		}
		ok = append(ok, r)
		for _, row := range mine {
			rows = append(rows, row)
			owner = append(owner, r)
		}
	}
	if len(ok) == 0 {
		return nil, nil
	}
	w := p.w
	if err := w.stage(ctx, stageIn, d.cols, rows); err != nil {
		return ok, err
	}
	if err := w.setBatchView(ctx, d.cols, nil, -1); err != nil {
		return ok, err
	}
	outNames, outTypes, err := w.outputColumns(ctx)
	if err != nil {
		return ok, err
	}
	if tbl == nil {
		if tbl, err = p.createTable(ctx, outNames, outTypes); err != nil {
			return ok, err
		}
	}
	tbl, tx, _, err := p.prepareTable(ctx, tbl, outNames, outTypes)
	if err != nil {
		return ok, err
	}
	schema := tbl.Schema()
	badRows, err := w.materialize(ctx, d.cols, len(rows), func() string { return w.finalSelect(schema, outNames) })
	if err != nil {
		return ok, err
	}
	if len(badRows) > 0 {
		// A value that does not cast: refuse its request whole and try
		// again without it.
		var keep []*ingestReq
		for seq, msg := range badRows {
			r := owner[seq]
			if r.err == nil {
				r.err = fmt.Errorf("%w: %s; nothing of this request was committed", ErrBadRecords, msg)
				close(r.done)
			}
		}
		for _, r := range ok {
			if r.err == nil {
				keep = append(keep, r)
			}
		}
		return keep, fmt.Errorf("%w: retry without refused requests", table.ErrCommitFailed)
	}
	files, _, err := w.writeFiles(ctx, tbl, "SELECT * FROM "+stageOut)
	if err != nil {
		return ok, fmt.Errorf("write %s: %w", id, err)
	}
	if err := p.hook(PointFilesWritten); err != nil {
		removeFiles(ctx, in.deps.Lake, files)
		return ok, err
	}
	perReq := map[*ingestReq]int64{}
	for _, r := range owner {
		perReq[r]++
	}
	keys := map[string]int64{}
	for _, r := range ok {
		if r.key != "" {
			keys[r.key] = perReq[r]
		}
	}
	props := map[string]string{"edp.ingest.requests": fmt.Sprint(len(ok))}
	if len(keys) > 0 {
		b, _ := json.Marshal(keys)
		props[ingestKeysProperty] = string(b)
	}
	committed, err := in.deps.Lake.CommitFiles(ctx, id, tbl, lake.Commit{Job: "ingest http", Data: files, Tx: tx, Props: props})
	if err != nil {
		removeUncommitted(ctx, in.deps.Lake, err, files)
		return ok, err
	}
	snap := committed.CurrentSnapshot().SnapshotID
	for _, r := range ok {
		r.res = IngestResult{Rows: perReq[r], SnapshotID: snap}
		if r.key != "" {
			t.keys[r.key] = IngestResult{Rows: perReq[r], SnapshotID: snap}
		}
	}
	t.scanned = snap
	// A crash here — committed, not answered — is what idempotency keys
	// are for: the retry finds its key in the snapshot.
	if err := p.hook(PointCommitted); err != nil {
		return ok, err
	}
	return ok, nil
}

// scanKeys reads the idempotency keys of snapshots committed since the
// last scan (all of them the first time).
func (t *tableIngest) scanKeys(tbl *table.Table) error {
	cur := tbl.CurrentSnapshot()
	if cur == nil || cur.SnapshotID == t.scanned {
		return nil
	}
	for s := cur; s != nil && s.SnapshotID != t.scanned; {
		if s.Summary != nil {
			if v, ok := s.Summary.Properties[ingestKeysProperty]; ok {
				var keys map[string]int64
				if err := json.Unmarshal([]byte(v), &keys); err != nil {
					return fmt.Errorf("snapshot %d: %s: %w", s.SnapshotID, ingestKeysProperty, err)
				}
				for k, n := range keys {
					if _, seen := t.keys[k]; !seen {
						t.keys[k] = IngestResult{Rows: n, SnapshotID: s.SnapshotID}
					}
				}
			}
		}
		if s.ParentSnapshotID == nil {
			break
		}
		s = tbl.SnapshotByID(*s.ParentSnapshotID)
	}
	t.scanned = cur.SnapshotID
	return nil
}
