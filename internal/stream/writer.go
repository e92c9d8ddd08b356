package stream

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/duckdb/duckdb-go/v2"

	"github.com/edp-data/edp/internal/duck"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/query"
)

// Staging relations in a pipeline's DuckDB. "batch" is what a transform
// reads; the others are edp's own.
const (
	stageIn  = "__edp_in"
	stageOut = "__edp_out"
	stageDLQ = "__edp_dlq"
	batchRel = "batch"
	seqCol   = "__edp_seq"
)

// writer owns a pipeline's DuckDB: one in-memory database, locked down to
// the warehouse and a temp directory, where each micro-batch is staged,
// transformed and written as Parquet.
type writer struct {
	db   *sql.DB
	conn *sql.Conn
	p    *Pipeline
	// transform is the pipeline's transform as checked and rendered by
	// query.CheckSelect ("" for none).
	transform string
}

func newWriter(ctx context.Context, p *Pipeline) (*writer, error) {
	tmp := p.deps.TempDir
	if tmp == "" {
		tmp = filepath.Join(os.TempDir(), "edp-stream")
	}
	db, err := duck.Open(ctx, duck.Options{AllowedDirs: p.deps.Lake.LocalDirs(), TempDir: filepath.Join(tmp, p.spec.Name)})
	if err != nil {
		return nil, fmt.Errorf("pipeline %s: %w", p.spec.Name, err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("pipeline %s: %w", p.spec.Name, err)
	}
	w := &writer{db: db, conn: conn, p: p}
	if t := strings.TrimSpace(p.spec.Transform); t != "" {
		// The pipeline's DuckDB may read the whole local warehouse, and
		// pipelines commit as edp itself: a transform gets edp SQL's
		// sandbox, narrowed to the one relation it is given.
		if w.transform, err = query.CheckSelect(ctx, conn, t, batchRel); err != nil {
			w.close()
			return nil, fmt.Errorf("%w: transform: %w", ErrStopped, err)
		}
	}
	return w, nil
}

func (w *writer) close() {
	w.conn.Close()
	w.db.Close()
}

// stage replaces relation name with rows of cols (plus a sequence column
// numbering the rows), appended through DuckDB's appender.
func (w *writer) stage(ctx context.Context, name string, cols []column, rows [][]any) error {
	defs := make([]string, 0, len(cols)+1)
	for _, c := range cols {
		defs = append(defs, duck.Ident(c.name)+" "+c.kind.duckType())
	}
	defs = append(defs, seqCol+" BIGINT")
	if _, err := w.conn.ExecContext(ctx, "CREATE OR REPLACE TABLE "+name+" ("+strings.Join(defs, ", ")+")"); err != nil {
		return fmt.Errorf("stage batch: %w", err)
	}
	return w.conn.Raw(func(dc any) error {
		a, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", name)
		if err != nil {
			return fmt.Errorf("stage batch: %w", err)
		}
		vals := make([]driver.Value, len(cols)+1)
		for i, row := range rows {
			for j, c := range cols {
				var v any
				if j < len(row) {
					v = row[j]
				}
				vals[j] = coerce(v, c.kind)
			}
			vals[len(cols)] = int64(i)
			if err := a.AppendRow(vals...); err != nil {
				a.Close()
				return fmt.Errorf("stage batch row %d: %w", i, err)
			}
		}
		if err := a.Close(); err != nil {
			return fmt.Errorf("stage batch: %w", err)
		}
		return nil
	})
}

// coerce converts a value decoded under a narrower kind to the kind its
// column widened to later in the batch.
func coerce(v any, k kind) any {
	switch x := v.(type) {
	case nil:
		return nil
	case []byte:
		if x == nil {
			return nil // a tombstone's value is NULL, not empty
		}
	case int64:
		switch k {
		case kDouble:
			return float64(x)
		case kString, kText:
			return strconv.FormatInt(x, 10)
		}
	case float64:
		if k == kString || k == kText {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
	case bool:
		if k == kString || k == kText {
			return strconv.FormatBool(x)
		}
	case time.Time:
		if k == kString || k == kText {
			return x.Format(time.RFC3339Nano)
		}
	}
	return v
}

// setBatchView points the relation "batch" at the staged input, leaving
// out the rows whose sequence numbers are in skip, or showing only row
// only (when only >= 0).
func (w *writer) setBatchView(ctx context.Context, cols []column, skip []int, only int) error {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = duck.Ident(c.name)
	}
	sel := "SELECT " + strings.Join(names, ", ") + " FROM " + stageIn
	switch {
	case only >= 0:
		sel += " WHERE " + seqCol + " = " + strconv.Itoa(only)
	case len(skip) > 0:
		ids := make([]string, len(skip))
		for i, s := range skip {
			ids[i] = strconv.Itoa(s)
		}
		sel += " WHERE " + seqCol + " NOT IN (" + strings.Join(ids, ", ") + ")"
	}
	if len(cols) == 0 {
		sel = "SELECT NULL AS __edp_empty FROM " + stageIn
	}
	_, err := w.conn.ExecContext(ctx, "CREATE OR REPLACE TEMP VIEW "+batchRel+" AS "+sel)
	return err
}

// source is the SELECT whose rows go to the table: the transform, or the
// batch itself.
func (w *writer) source() string {
	if w.transform != "" {
		return w.transform
	}
	return "SELECT * FROM " + batchRel
}

// outputColumns describes the source's columns (names, DuckDB types).
func (w *writer) outputColumns(ctx context.Context) ([]string, []string, error) {
	names, types, err := duck.Describe(ctx, w.conn, w.source())
	if err != nil {
		return nil, nil, fmt.Errorf("transform: %w", err)
	}
	return names, types, nil
}

// finalSelect reads the source with the table's columns, in schema
// order, matched by name (columns the source lacks are NULL).
func (w *writer) finalSelect(schema *iceberg.Schema, outNames []string) string {
	have := map[string]string{}
	for _, n := range outNames {
		have[strings.ToLower(n)] = n
	}
	var cols []string
	for _, f := range schema.Fields() {
		if n, ok := have[strings.ToLower(f.Name)]; ok {
			cols = append(cols, "CAST(__s."+duck.Ident(n)+" AS "+duck.DuckType(f.Type)+") AS "+duck.Ident(f.Name))
		} else {
			cols = append(cols, "CAST(NULL AS "+duck.DuckType(f.Type)+") AS "+duck.Ident(f.Name))
		}
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM (" + w.source() + ") AS __s"
}

// materialize runs the final select into stageOut. When it fails (a
// transform error, a value that does not cast), each row is tried alone
// and those that fail are returned as bad with their errors; the rest
// are materialized.
func (w *writer) materialize(ctx context.Context, cols []column, nrows int, final func() string) (map[int]string, error) {
	if err := w.setBatchView(ctx, cols, nil, -1); err != nil {
		return nil, err
	}
	create := func() error {
		_, err := w.conn.ExecContext(ctx, "CREATE OR REPLACE TABLE "+stageOut+" AS "+final())
		return err
	}
	err := create()
	if err == nil || ctx.Err() != nil {
		return nil, err
	}
	bad := map[int]string{}
	var skip []int
	for i := range nrows {
		if err := w.setBatchView(ctx, cols, nil, i); err != nil {
			return nil, err
		}
		// Materialized, not counted: DuckDB prunes the columns of a
		// count(*) and would skip the very casts being tried.
		if _, err := w.conn.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE __edp_probe AS "+final()); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			bad[i] = briefError(err)
			skip = append(skip, i)
		}
	}
	if len(bad) == 0 {
		// Every row passes alone: the failure is the transform's over the
		// whole batch (an aggregate, say), not any record's.
		return nil, fmt.Errorf("transform: %w", err)
	}
	if err := w.setBatchView(ctx, cols, skip, -1); err != nil {
		return nil, err
	}
	if err := create(); err != nil {
		return nil, fmt.Errorf("transform: %w", err)
	}
	return bad, nil
}

// writeFiles is the pipeline's one call of duck.WriteData: it writes the
// rows query yields as data files of tbl, uncommitted.
func (w *writer) writeFiles(ctx context.Context, tbl *table.Table, query string) ([]iceberg.DataFile, int64, error) {
	return duck.WriteData(ctx, w.conn, tbl, w.p.deps.Lake, query, w.p.deps.TargetFileSize)
}

// briefError shortens DuckDB's messages (which may quote whole values)
// for a dead-letter row.
func briefError(err error) string {
	msg := err.Error()
	if len(msg) > 500 {
		msg = msg[:500] + "…"
	}
	return msg
}

// removeFiles deletes written files that will not be committed; what it
// cannot delete, orphan cleanup removes later.
func removeFiles(ctx context.Context, l *lake.Lake, files []iceberg.DataFile) {
	_ = l.RemoveFiles(context.WithoutCancel(ctx), files)
}

// removeUncommitted is removeFiles after a failed commit. Only a conflict
// proves the commit did not land: after any other failure (an answer lost
// at COMMIT) the files may be in the table, so they stay, and orphan
// cleanup takes them if they are not.
func removeUncommitted(ctx context.Context, l *lake.Lake, commitErr error, files []iceberg.DataFile) {
	if lake.IsConflict(commitErr) {
		removeFiles(ctx, l, files)
	}
}

// writeDeletes is the pipeline's one call of duck.WritePositionDeletes.
func (w *writer) writeDeletes(ctx context.Context, tbl *table.Table, query string, dataFiles map[string]iceberg.DataFile) ([]iceberg.DataFile, error) {
	files, _, err := duck.WritePositionDeletes(ctx, w.conn, tbl, w.p.deps.Lake, query, dataFiles)
	return files, err
}
