package lake

import (
	"context"
	"time"

	"github.com/apache/iceberg-go/table"
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

// emit reports ev to Options.OnCommit, filling in the outcome.
func (l *Lake) emit(ctx context.Context, ev CommitEvent, start time.Time, tbl *table.Table, err error) {
	if l.onCommit == nil {
		return
	}
	ev.Duration, ev.Err = time.Since(start), err
	if ev.Attempts == 0 {
		ev.Attempts = 1
	}
	if err == nil && tbl != nil {
		if s := tbl.CurrentSnapshot(); s != nil {
			ev.SnapshotID = s.SnapshotID
		}
	}
	l.onCommit(ctx, ev)
}
