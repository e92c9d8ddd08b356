package lake

import (
	"context"
	"errors"
	"time"

	"github.com/apache/iceberg-go/table"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/edp-data/edp/internal/policy"
)

// Operations a CommitEvent reports. They are a closed set so that metrics
// can use them as label values.
const (
	OpAppend       = "append"       // data files added
	OpRowDelta     = "row_delta"    // rows added and position deletes (UPDATE, DELETE, MERGE)
	OpSchema       = "schema"       // columns added, renamed, dropped or widened
	OpPartitioning = "partitioning" // partition spec evolved
	OpProperties   = "properties"   // table properties set or removed
	OpRollback     = "rollback"     // current snapshot moved back
	OpCreate       = "create"       // table created
	OpDrop         = "drop"         // table dropped
	OpRename       = "rename"       // table renamed or moved
	OpRegister     = "register"     // existing table metadata registered under a name
	// Maintenance (internal/maintain): small files and their deletes
	// rewritten, old snapshots expired, manifests merged.
	OpCompact          = "compact"
	OpExpire           = "expire"
	OpRewriteManifests = "rewrite_manifests"
)

// CommitEvent describes one attempted change to a table, after policy
// allowed it: whether it committed, what it produced and what it cost.
// Every table write is one event, which is what the audit log and the
// commit metrics count.
type CommitEvent struct {
	Table     Ident
	Operation string // one of the Op* constants
	Job       string // the snapshot summary's edp.job, for data commits
	// SnapshotID is the table's current snapshot after a successful
	// commit; 0 when the change made none (a new empty table, a drop).
	SnapshotID  int64
	AddedFiles  int
	DeleteFiles int
	AddedRows   int64
	// Attempts counts tries, including those lost to a concurrent writer
	// (Conflicts); iceberg-go's own internal retries are not visible here.
	Attempts  int
	Conflicts int
	Duration  time.Duration
	Err       error // nil when the change committed
	// To is the new name of a renamed table.
	To Ident
}

// emit reports ev to Options.OnCommit and as a span, filling in the
// outcome.
func (l *Lake) emit(ctx context.Context, ev CommitEvent, start time.Time, tbl *table.Table, err error) {
	ev.Duration, ev.Err = time.Since(start), err
	if ev.Attempts == 0 {
		ev.Attempts = 1
	}
	if err == nil && tbl != nil {
		if s := tbl.CurrentSnapshot(); s != nil {
			ev.SnapshotID = s.SnapshotID
		}
	}
	l.traceCommit(ctx, ev, start)
	if l.onCommit != nil {
		l.onCommit(ctx, ev)
	}
}

// traceCommit records a finished commit as a span. It is made after the
// fact, with the commit's start time, so the commit paths need no tracing
// code of their own.
func (l *Lake) traceCommit(ctx context.Context, ev CommitEvent, start time.Time) {
	_, span := l.tracer.Start(ctx, "commit "+ev.Table.String(), trace.WithTimestamp(start),
		trace.WithAttributes(semconv.DBSystemNameSQLite, semconv.DBOperationName(ev.Operation),
			semconv.DBCollectionName(ev.Table.String()), semconv.DBNamespace(ev.Table.Namespace),
			attribute.Int64("edp.snapshot_id", ev.SnapshotID), attribute.Int("edp.attempts", ev.Attempts),
			attribute.Int("edp.conflicts", ev.Conflicts), attribute.Int64("edp.added_rows", ev.AddedRows)))
	if ev.Err != nil {
		span.RecordError(ev.Err)
		span.SetStatus(codes.Error, ev.Err.Error())
	}
	span.End(trace.WithTimestamp(start.Add(ev.Duration)))
}

// tracedAuthz records every policy decision as a span, so a trace shows
// what was asked and what was refused.
type tracedAuthz struct {
	inner  policy.Authorizer
	tracer trace.Tracer
}

func (t tracedAuthz) Authorize(ctx context.Context, action policy.Action, res policy.Resource) error {
	_, span := t.tracer.Start(ctx, "authorize", trace.WithAttributes(
		attribute.String("edp.action", string(action)), attribute.String("edp.resource", res.String())))
	err := t.inner.Authorize(ctx, action, res)
	allowed := err == nil
	span.SetAttributes(attribute.Bool("edp.allowed", allowed))
	if err != nil && !errors.Is(err, policy.ErrDenied) {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
	return err
}
