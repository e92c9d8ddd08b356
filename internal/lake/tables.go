package lake

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/policy"
)

// Commit is one atomic change to a table: the data files it adds and the
// position-delete files that retire rows of existing files. One Commit is
// one Iceberg snapshot, whose summary names Job.
type Commit struct {
	Job     string
	Data    []iceberg.DataFile
	Deletes []iceberg.DataFile
	// Props are extra snapshot-summary properties.
	Props map[string]string
	// Tx, if set, is a transaction from StageSchema: the schema change it
	// holds commits together with the files, or not at all.
	Tx *table.Transaction
}

// CommitFiles commits c against base, the table state the files were
// planned and written from. Deletes are always merge-on-read position
// deletes in a RowDelta: edp never uses iceberg-go's copy-on-write Delete or
// filtered Overwrite, which ignore position deletes already on a file and
// bring deleted rows back (iceberg-go issue 2042). iceberg-go retries on a concurrent commit and
// re-validates: appends always rebase; a RowDelta fails if a concurrent
// commit removed a data file that its deletes point at.
func (l *Lake) CommitFiles(ctx context.Context, id Ident, base *table.Table, c Commit) (*table.Table, error) {
	if err := l.authz.Authorize(ctx, policy.Write, id.resource()); err != nil {
		return nil, err
	}
	if len(c.Data) == 0 && len(c.Deletes) == 0 && c.Tx == nil {
		return base, nil
	}
	props := iceberg.Properties{SummaryJob: c.Job}
	if p, ok := auth.FromContext(ctx); ok {
		props[SummaryPrincipal] = p.Name
	}
	maps.Copy(props, c.Props)
	// iceberg-go rebases and retries most conflicts itself, but not a
	// requirement that fails outright — two first commits to an empty table
	// both "create" the main branch. A plain append is safe to replay on
	// the refreshed table, so edp retries those.
	ev := CommitEvent{Table: id, Operation: OpAppend, Job: c.Job, AddedFiles: len(c.Data), DeleteFiles: len(c.Deletes)}
	if len(c.Deletes) > 0 {
		ev.Operation = OpRowDelta
	}
	for _, f := range c.Data {
		ev.AddedRows += f.Count()
	}
	start := time.Now()
	tbl, err := l.commitRetrying(ctx, id, base, c, props, &ev)
	l.emit(ctx, ev, start, tbl, err)
	return tbl, err
}

// commitRetryBudget bounds how long a plain append keeps retrying after
// losing commit races; commitBackoffCap bounds one wait. Under heavy
// contention (16 writers on one table, measured) a fixed count of 8
// attempts was not enough: about one commit in sixty gave up. A time
// budget with capped, jittered waits lets every writer through in turn.
const (
	commitRetryBudget = 60 * time.Second
	commitBackoffCap  = 250 * time.Millisecond
)

func (l *Lake) commitRetrying(ctx context.Context, id Ident, base *table.Table, c Commit, props iceberg.Properties, ev *CommitEvent) (*table.Table, error) {
	deadline := time.Now().Add(commitRetryBudget)
	for attempt := 1; ; attempt++ {
		ev.Attempts = attempt
		tbl, err := l.commitOnce(ctx, base, c, props)
		if err == nil {
			return tbl, nil
		}
		if IsConflict(err) {
			ev.Conflicts++
		}
		appendOnly := len(c.Deletes) == 0 && c.Tx == nil
		if !appendOnly || !IsConflict(err) || time.Now().After(deadline) {
			return nil, fmt.Errorf("commit to %s: %w", id, err)
		}
		// Full jitter: a random wait up to an exponentially growing cap,
		// so racing writers spread out instead of colliding again.
		ceiling := min(commitBackoffCap, time.Duration(1<<min(attempt, 8))*5*time.Millisecond)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("commit to %s: %w", id, ctx.Err())
		case <-time.After(time.Duration(rand.Int64N(int64(ceiling)) + 1)):
		}
		if base, err = l.load(ctx, id); err != nil {
			return nil, err
		}
	}
}

func (l *Lake) commitOnce(ctx context.Context, base *table.Table, c Commit, props iceberg.Properties) (*table.Table, error) {
	tx := c.Tx
	if tx == nil {
		tx = base.NewTransaction()
	}
	var err error
	switch {
	case len(c.Data) == 0 && len(c.Deletes) == 0:
	case len(c.Deletes) == 0:
		// edp names every file it writes with a fresh UUID, so iceberg-go's
		// duplicate check (a read of every manifest) cannot fire; skipping
		// it halves commit latency on a long-lived table.
		err = tx.AddDataFiles(ctx, c.Data, props, table.WithoutDuplicateCheck())
	default:
		err = tx.NewRowDelta(props).AddRows(c.Data...).AddDeletes(c.Deletes...).Commit(ctx)
	}
	if err != nil {
		return nil, err
	}
	return tx.Commit(ctx)
}

// IsConflict reports a commit that lost a race with another writer: a
// retry on the refreshed table may succeed. iceberg-go reports a failed
// commit requirement only as text.
func IsConflict(err error) bool {
	// iceberg-go checks a commit's requirements against the table before
	// writing anything, and words the failure "requirement failed" or
	// "Requirement failed" depending on the check.
	return err != nil && (errors.Is(err, table.ErrCommitFailed) || errors.Is(err, table.ErrCommitDiverged) ||
		strings.Contains(strings.ToLower(err.Error()), "requirement failed"))
}

// SnapshotInfo describes one snapshot for listing.
type SnapshotInfo struct {
	ID        int64
	ParentID  *int64
	Timestamp time.Time
	Operation string
	Job       string
	Principal string
	Current   bool
	Summary   map[string]string
}

// Snapshots lists a table's snapshots, oldest first.
func (l *Lake) Snapshots(ctx context.Context, id Ident) ([]SnapshotInfo, error) {
	tbl, err := l.LoadTable(ctx, id)
	if err != nil {
		return nil, err
	}
	cur := tbl.CurrentSnapshot()
	var out []SnapshotInfo
	for _, s := range tbl.Metadata().Snapshots() {
		info := SnapshotInfo{
			ID:        s.SnapshotID,
			ParentID:  s.ParentSnapshotID,
			Timestamp: time.UnixMilli(s.TimestampMs).UTC(),
			Current:   cur != nil && cur.SnapshotID == s.SnapshotID,
		}
		if s.Summary != nil {
			info.Operation = string(s.Summary.Operation)
			info.Summary = s.Summary.Properties
			info.Job = s.Summary.Properties[SummaryJob]
			info.Principal = s.Summary.Properties[SummaryPrincipal]
		}
		out = append(out, info)
	}
	return out, nil
}

// SnapshotAt resolves a time-travel target to a snapshot of tbl: the
// snapshot with that id, or the one current at that time.
func SnapshotAt(tbl *table.Table, version *int64, at *time.Time) (*table.Snapshot, error) {
	switch {
	case version != nil:
		s := tbl.SnapshotByID(*version)
		if s == nil {
			return nil, fmt.Errorf("%w: table %s has no snapshot %d", ErrInvalid, strings.Join(tbl.Identifier(), "."), *version)
		}
		return s, nil
	case at != nil:
		s := tbl.SnapshotAsOf(at.UnixMilli(), true)
		if s == nil {
			return nil, fmt.Errorf("%w: table %s has no snapshot at or before %s", ErrInvalid, strings.Join(tbl.Identifier(), "."), at.UTC().Format(time.RFC3339))
		}
		return s, nil
	}
	return tbl.CurrentSnapshot(), nil
}

// SchemaFor returns the schema rows of snapshot s had (the current schema
// when s is nil, i.e. the table is empty).
func SchemaFor(tbl *table.Table, s *table.Snapshot) *iceberg.Schema {
	if s != nil && s.SchemaID != nil {
		for _, sc := range tbl.Metadata().Schemas() {
			if sc.ID == *s.SchemaID {
				return sc
			}
		}
	}
	return tbl.Schema()
}

// adminTx asks policy for an admin action on id and starts a transaction
// on the table's current state.
func (l *Lake) adminTx(ctx context.Context, id Ident) (*table.Transaction, error) {
	if err := l.authz.Authorize(ctx, policy.Admin, id.resource()); err != nil {
		return nil, err
	}
	tbl, err := l.load(ctx, id)
	if err != nil {
		return nil, err
	}
	return tbl.NewTransaction(), nil
}

// commitTx commits a metadata-only transaction (what, e.g. "rollback s to
// 42", names it in errors) and reports it as one CommitEvent of op.
func (l *Lake) commitTx(ctx context.Context, id Ident, tx *table.Transaction, op, what string) (*table.Table, error) {
	start := time.Now()
	tbl, err := tx.Commit(ctx)
	if err != nil {
		err = fmt.Errorf("%s: %w", what, err)
		tbl = nil
	}
	l.emit(ctx, CommitEvent{Table: id, Operation: op}, start, tbl, err)
	return tbl, err
}

// Rollback makes snapshotID the table's current snapshot again. Later
// snapshots stay in the metadata, so time travel to them still works.
func (l *Lake) Rollback(ctx context.Context, id Ident, snapshotID int64) error {
	tx, err := l.adminTx(ctx, id)
	if err != nil {
		return err
	}
	if err := tx.RollbackToSnapshot(snapshotID); err != nil {
		return fmt.Errorf("rollback %s to %d: %w", id, snapshotID, err)
	}
	_, err = l.commitTx(ctx, id, tx, OpRollback, fmt.Sprintf("rollback %s to %d", id, snapshotID))
	return err
}

// StageSchema stages the schema changes fn makes in a transaction, without
// committing, and returns it with the table as it will be: write files
// against the staged table and pass the transaction in Commit.Tx, so the
// new columns and the rows that fill them land in one snapshot.
func (l *Lake) StageSchema(ctx context.Context, id Ident, base *table.Table, fn func(*table.UpdateSchema)) (*table.Transaction, *table.Table, error) {
	if err := l.authz.Authorize(ctx, policy.Admin, id.resource()); err != nil {
		return nil, nil, err
	}
	tx := base.NewTransaction()
	u := tx.UpdateSchema(true, false)
	fn(u)
	if err := u.Commit(); err != nil {
		return nil, nil, fmt.Errorf("evolve schema of %s: %w", id, err)
	}
	staged, err := tx.StagedTable()
	if err != nil {
		return nil, nil, fmt.Errorf("evolve schema of %s: %w", id, err)
	}
	return tx, staged.Table, nil
}

// EvolveSchema applies the changes fn makes to the schema in one commit.
// allowIncompatible permits changes that old readers cannot follow (never
// needed for add, rename, drop and widening).
func (l *Lake) EvolveSchema(ctx context.Context, id Ident, fn func(*table.UpdateSchema)) (*table.Table, error) {
	tbl, err := l.load(ctx, id)
	if err != nil {
		return nil, err
	}
	tx, _, err := l.StageSchema(ctx, id, tbl, fn)
	if err != nil {
		return nil, err
	}
	return l.commitTx(ctx, id, tx, OpSchema, "evolve schema of "+id.String())
}

// EvolveSpec applies partition-spec changes in one commit. Existing files
// keep their old spec; new writes use the new one.
func (l *Lake) EvolveSpec(ctx context.Context, id Ident, fn func(*table.UpdateSpec) error) (*table.Table, error) {
	tx, err := l.adminTx(ctx, id)
	if err != nil {
		return nil, err
	}
	u := tx.UpdateSpec(true)
	if err := fn(u); err != nil {
		return nil, err
	}
	if err := u.Commit(); err != nil {
		return nil, fmt.Errorf("evolve partitioning of %s: %w", id, err)
	}
	return l.commitTx(ctx, id, tx, OpPartitioning, "evolve partitioning of "+id.String())
}

// SetProperties sets and removes table properties in one commit.
func (l *Lake) SetProperties(ctx context.Context, id Ident, set map[string]string, remove []string) error {
	if err := checkProperties(set); err != nil {
		return err
	}
	tx, err := l.adminTx(ctx, id)
	if err != nil {
		return err
	}
	if len(set) > 0 {
		if err := tx.SetProperties(set); err != nil {
			return fmt.Errorf("set properties of %s: %w", id, err)
		}
	}
	if len(remove) > 0 {
		if err := tx.RemoveProperties(remove); err != nil {
			return fmt.Errorf("remove properties of %s: %w", id, err)
		}
	}
	_, err = l.commitTx(ctx, id, tx, OpProperties, "set properties of "+id.String())
	return err
}

// ParseTransform parses a partition expression as written in SQL or on the
// command line — `col`, `identity(col)`, `year(col)`, `month(col)`,
// `day(col)`, `hour(col)`, `bucket(N, col)`, `truncate(W, col)` — into the
// source column and Iceberg transform.
func ParseTransform(expr string) (column string, tr iceberg.Transform, err error) {
	e := strings.TrimSpace(expr)
	open := strings.IndexByte(e, '(')
	if open < 0 {
		if e == "" {
			return "", nil, fmt.Errorf("%w: empty partition expression", ErrInvalid)
		}
		return unquote(e), iceberg.IdentityTransform{}, nil
	}
	if !strings.HasSuffix(e, ")") {
		return "", nil, fmt.Errorf("%w: partition expression %q: missing ')'", ErrInvalid, expr)
	}
	fn := strings.ToLower(strings.TrimSpace(e[:open]))
	args := strings.Split(e[open+1:len(e)-1], ",")
	for i := range args {
		args[i] = strings.TrimSpace(args[i])
	}
	one := func() (string, error) {
		if len(args) != 1 || args[0] == "" {
			return "", fmt.Errorf("%w: partition expression %q: %s takes one column", ErrInvalid, expr, fn)
		}
		return unquote(args[0]), nil
	}
	two := func() (int, string, error) {
		if len(args) != 2 {
			return 0, "", fmt.Errorf("%w: partition expression %q: %s takes (N, column)", ErrInvalid, expr, fn)
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n <= 0 {
			return 0, "", fmt.Errorf("%w: partition expression %q: %s needs a positive integer, got %q", ErrInvalid, expr, fn, args[0])
		}
		return n, unquote(args[1]), nil
	}
	switch fn {
	case "identity":
		column, err = one()
		tr = iceberg.IdentityTransform{}
	case "year", "years":
		column, err = one()
		tr = iceberg.YearTransform{}
	case "month", "months":
		column, err = one()
		tr = iceberg.MonthTransform{}
	case "day", "days":
		column, err = one()
		tr = iceberg.DayTransform{}
	case "hour", "hours":
		column, err = one()
		tr = iceberg.HourTransform{}
	case "bucket":
		var n int
		n, column, err = two()
		tr = iceberg.BucketTransform{NumBuckets: n}
	case "truncate":
		var n int
		n, column, err = two()
		tr = iceberg.TruncateTransform{Width: n}
	default:
		return "", nil, fmt.Errorf("%w: partition expression %q: unknown transform %q (use identity, year, month, day, hour, bucket or truncate)", ErrInvalid, expr, fn)
	}
	return column, tr, err
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return s
}

// PartitionFieldName is the conventional partition field name for a
// transform of a column (Spark and iceberg-go use the same scheme).
func PartitionFieldName(column string, tr iceberg.Transform) string {
	// Partition field names become Avro field names in manifests, which
	// allow only letters, digits and '_'.
	column = strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, column)
	if column == "" || column[0] >= '0' && column[0] <= '9' {
		column = "_" + column
	}
	switch t := tr.(type) {
	case iceberg.IdentityTransform:
		return column
	case iceberg.BucketTransform:
		return fmt.Sprintf("%s_bucket_%d", column, t.NumBuckets)
	case iceberg.TruncateTransform:
		return fmt.Sprintf("%s_trunc_%d", column, t.Width)
	default:
		return column + "_" + tr.String()
	}
}

// BuildSpec makes a partition spec over schema from partition expressions.
func BuildSpec(schema *iceberg.Schema, exprs []string) (*iceberg.PartitionSpec, error) {
	if len(exprs) == 0 {
		return iceberg.UnpartitionedSpec, nil
	}
	var fields []iceberg.PartitionField
	for i, e := range exprs {
		col, tr, err := ParseTransform(e)
		if err != nil {
			return nil, err
		}
		f, ok := schema.FindFieldByNameCaseInsensitive(col)
		if !ok {
			return nil, fmt.Errorf("%w: partition expression %q: no column %q", ErrInvalid, e, col)
		}
		if !tr.CanTransform(f.Type) {
			return nil, fmt.Errorf("%w: partition expression %q: %s cannot apply to %s column %s", ErrInvalid, e, tr, f.Type, col)
		}
		fields = append(fields, iceberg.PartitionField{
			SourceIDs: []int{f.ID}, FieldID: 1000 + i, Name: PartitionFieldName(f.Name, tr), Transform: tr,
		})
	}
	spec := iceberg.NewPartitionSpec(fields...)
	return &spec, nil
}
