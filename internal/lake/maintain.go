package lake

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/policy"
)

// Maintenance is one maintenance commit to a table (internal/maintain):
// a compaction, a snapshot expiry or a manifest rewrite.
type Maintenance struct {
	Op  string // OpCompact, OpExpire or OpRewriteManifests
	Job string
	// AddedFiles, DeleteFiles and AddedRows are reported in the
	// CommitEvent.
	AddedFiles  int
	DeleteFiles int
	AddedRows   int64
	// Stage stages the change on tx, a transaction on the base table.
	Stage func(ctx context.Context, tx *table.Transaction) error
}

// CommitMaintenance asks policy for an admin action on id, stages m on a
// transaction from base and commits it, reported as one CommitEvent of
// m.Op. iceberg-go refreshes and replays the staged change when a
// concurrent writer committed first, running the change's validators
// against what that writer did; a change they reject fails with an error
// IsConflict recognizes, and nothing is committed.
func (l *Lake) CommitMaintenance(ctx context.Context, id Ident, base *table.Table, m Maintenance) (*table.Table, error) {
	if err := l.authz.Authorize(ctx, policy.Admin, id.resource()); err != nil {
		return nil, err
	}
	ev := CommitEvent{Table: id, Operation: m.Op, Job: m.Job, AddedFiles: m.AddedFiles, DeleteFiles: m.DeleteFiles, AddedRows: m.AddedRows}
	start := time.Now()
	tx := base.NewTransaction()
	err := m.Stage(ctx, tx)
	var tbl *table.Table
	if err == nil {
		tbl, err = tx.Commit(ctx)
	}
	if err != nil {
		if IsConflict(err) {
			ev.Conflicts = 1
		}
		err = fmt.Errorf("%s %s: %w", m.Op, id, err)
		tbl = nil
	}
	l.emit(ctx, ev, start, tbl, err)
	return tbl, err
}

// Rewrite replaces data files by new files holding the same live rows:
// compaction. RemoveDeletes are position-delete files every one of whose
// target data files is in RemoveData, so that no deleted row of a file
// that stays can come back.
type Rewrite struct {
	Job           string
	RemoveData    []iceberg.DataFile
	RemoveDeletes []iceberg.DataFile
	AddData       []iceberg.DataFile
	// Props are extra snapshot-summary properties.
	Props map[string]string
}

// CommitRewrite commits r against base as one Iceberg "replace" snapshot.
// It is not iceberg-go's copy-on-write Delete or Overwrite, which ignore
// position deletes already on a file (iceberg-go issue 2042): the new files
// were written with every delete applied, and iceberg-go's rewrite
// validation refuses the commit if a concurrent writer added deletes for a
// replaced file meanwhile. Concurrent appends are kept.
func (l *Lake) CommitRewrite(ctx context.Context, id Ident, base *table.Table, r Rewrite) (*table.Table, error) {
	if len(r.RemoveData) == 0 {
		return nil, fmt.Errorf("%w: a rewrite of %s must replace at least one data file", ErrInvalid, id)
	}
	props := iceberg.Properties{SummaryJob: r.Job}
	if p, ok := auth.FromContext(ctx); ok {
		props[SummaryPrincipal] = p.Name
	}
	maps.Copy(props, r.Props)
	var rows int64
	for _, f := range r.AddData {
		rows += f.Count()
	}
	return l.CommitMaintenance(ctx, id, base, Maintenance{
		Op: OpCompact, Job: r.Job, AddedFiles: len(r.AddData), DeleteFiles: len(r.RemoveDeletes), AddedRows: rows,
		Stage: func(ctx context.Context, tx *table.Transaction) error {
			rw := tx.NewRewrite(props)
			for _, f := range r.RemoveData {
				rw.DeleteFile(f)
			}
			for _, f := range r.RemoveDeletes {
				rw.DeleteFile(f)
			}
			for _, f := range r.AddData {
				rw.AddDataFile(f)
			}
			return rw.Commit(ctx)
		},
	})
}
