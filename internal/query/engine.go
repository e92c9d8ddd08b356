package query

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/edp-data/edp/internal/duck"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/policy"
	"github.com/edp-data/edp/internal/query/sqlstmt"
	"github.com/edp-data/edp/internal/render"
)

// Options configure an Engine.
type Options struct {
	MemoryLimit    string
	Threads        int
	TempDir        string
	TargetFileSize int64
	Logger         *slog.Logger
	// Tracer receives a span per statement, with children for parsing,
	// planning each table and execution; nil means no tracing.
	Tracer trace.TracerProvider
}

// Engine runs edp SQL over the tables of one lake.
type Engine struct {
	lake   *lake.Lake
	db     *sql.DB
	opts   Options
	log    *slog.Logger
	viewID atomic.Int64
	tracer trace.Tracer
	// denied are DuckDB's macros that read its catalog or configuration.
	denied map[string]bool
}

// New opens the engine's DuckDB, locked down to the lake's warehouse.
func New(ctx context.Context, l *lake.Lake, opts Options) (*Engine, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.TempDir == "" {
		opts.TempDir = l.ScratchDir()
	}
	db, err := duck.Open(ctx, duck.Options{
		AllowedDirs: l.LocalDirs(),
		TempDir:     opts.TempDir,
		MemoryLimit: opts.MemoryLimit,
		Threads:     opts.Threads,
	})
	if err != nil {
		return nil, err
	}
	denied, err := catalogMacros(ctx, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	if opts.Tracer == nil {
		opts.Tracer = noop.NewTracerProvider()
	}
	return &Engine{lake: l, db: db, opts: opts, log: opts.Logger, denied: denied,
		tracer: opts.Tracer.Tracer("github.com/edp-data/edp/internal/query")}, nil
}

// queryer is a DuckDB to ask: a *sql.DB or one of its connections.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// catalogMacros lists DuckDB's built-in macros that user SQL must not call:
// the PostgreSQL-compatibility ones and any whose body reads a catalog,
// a setting or runs a subquery. A macro expands after the parse-tree check,
// so its name is all the check sees.
func catalogMacros(ctx context.Context, db queryer) (map[string]bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT lower(function_name) FROM duckdb_functions()
		WHERE function_type IN ('macro', 'table_macro') AND (schema_name = 'pg_catalog'
		OR macro_definition ILIKE '%duckdb_%' OR macro_definition ILIKE '%pragma_%'
		OR macro_definition ILIKE '%current_%' OR macro_definition ILIKE '%select%')`)
	if err != nil {
		return nil, fmt.Errorf("list duckdb macros: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out[n] = true
	}
	return out, rows.Err()
}

// Close closes the engine's DuckDB.
func (e *Engine) Close() error { return e.db.Close() }

// Lake returns the lake the engine queries.
func (e *Engine) Lake() *lake.Lake { return e.lake }

// Result is the outcome of one statement: rows to read (nil when the
// statement returns none) and a status such as "INSERT 3".
type Result struct {
	Rows   render.Rows
	Status string
	// Statement is the statement's kind: one of the Kind* constants.
	Statement string
	// Scans describes the table reads of a query.
	Scans []ScanStat
	close func() error
}

// Close releases the result's connection; it is safe to call twice.
func (r *Result) Close() error {
	if r == nil || r.close == nil {
		return nil
	}
	c := r.close
	r.close = nil
	return c()
}

// ExecScript runs every statement of script in order, calling fn with each
// result (fn must consume the rows before returning). It stops at the
// first error.
func (e *Engine) ExecScript(ctx context.Context, script string, fn func(*Result) error) error {
	stmts, err := sqlstmt.Split(script)
	if err != nil {
		return err
	}
	if len(stmts) == 0 {
		return errors.New("no SQL statement given")
	}
	for _, s := range stmts {
		res, err := e.Exec(ctx, s)
		if err != nil {
			return err
		}
		err = fn(res)
		res.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// Exec runs one statement. The caller must Close the result.
func (e *Engine) Exec(ctx context.Context, text string) (res *Result, err error) {
	ctx, span := e.span(ctx, "edp.sql")
	defer func() { endSpan(span, err) }()
	_, parse := e.span(ctx, "parse")
	st, err := sqlstmt.Parse(text)
	endSpan(parse, err)
	if err != nil {
		return nil, err
	}
	kind := KindOf(st)
	span.SetName("edp.sql " + kind)
	span.SetAttributes(semconv.DBOperationName(kind))
	defer func() {
		if res != nil {
			res.Statement = kind
		}
	}()
	return e.exec(ctx, st)
}

func (e *Engine) exec(ctx context.Context, st sqlstmt.Statement) (*Result, error) {
	switch s := st.(type) {
	case sqlstmt.Query:
		return e.query(ctx, s.SQL, "")
	case sqlstmt.Explain:
		prefix := "EXPLAIN "
		if s.Analyze {
			prefix = "EXPLAIN ANALYZE "
		}
		return e.query(ctx, s.Query, prefix)
	case sqlstmt.Insert:
		return e.insert(ctx, s)
	case sqlstmt.CreateTable:
		return e.createTable(ctx, s)
	case sqlstmt.Delete:
		return e.delete(ctx, s)
	case sqlstmt.Update:
		return e.update(ctx, s)
	case sqlstmt.Merge:
		return e.merge(ctx, s)
	default:
		return e.ddl(ctx, st)
	}
}

// session is one DuckDB connection holding the temporary views a statement
// reads through; closing it drops them.
type session struct {
	e     *Engine
	conn  *sql.Conn
	views []string
	scans []ScanStat
	// fetched are the table files the statement reads, held as local
	// files (in the file cache, for a remote warehouse) until Close.
	fetched []*lake.Fetched
}

// ScanStat tells how one table reference of a query was planned.
type ScanStat struct {
	Table      string
	SnapshotID int64
	Files      int   // data files read
	Pruned     int   // data files skipped by partition and column statistics
	Bytes      int64 // size of the data files read
}

func (e *Engine) session(ctx context.Context) (*session, error) {
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	return &session{e: e, conn: conn}, nil
}

func (s *session) Close() error {
	ctx := context.Background()
	for _, v := range s.views {
		s.conn.ExecContext(ctx, "DROP VIEW IF EXISTS "+v)
	}
	err := s.conn.Close()
	for _, f := range s.fetched {
		f.Release()
	}
	return err
}

// planned is an edp table reference resolved to files.
type planned struct {
	id     lake.Ident
	tbl    *table.Table
	schema *iceberg.Schema
	// files maps each local data file path to its metadata entry.
	files map[string]iceberg.DataFile
	// target marks the reference a DML statement's row ids come from.
	target bool
	// tasks are the files the statement reads, with their deletes.
	tasks []duck.Task
}

// prepare checks a SELECT with DuckDB's parser, resolves its table
// references to views over planned files, and returns the SQL to run.
// rowIDs asks for row-id columns on the outermost FROM reference (DML).
func (s *session) prepare(ctx context.Context, text string, rowIDs bool) (string, []*planned, error) {
	text = sqlstmt.RewriteTimeTravel(text)
	var raw string
	if err := s.conn.QueryRowContext(ctx, "SELECT CAST(json_serialize_sql(CAST(? AS VARCHAR)) AS VARCHAR)", text).Scan(&raw); err != nil {
		return "", nil, fmt.Errorf("parse: %w", err)
	}
	pq, err := checkTree(raw, s.e.denied, nil)
	if err != nil {
		return "", nil, err
	}
	var plans []*planned
	for _, ref := range pq.refs {
		id := lake.Ident{Namespace: ref.Namespace, Name: ref.Name}
		p, err := s.plan(ctx, id, ref, rowIDs)
		if err != nil {
			return "", nil, err
		}
		view := fmt.Sprintf("__edp_r%d", s.e.viewID.Add(1))
		if _, err := s.conn.ExecContext(ctx, "CREATE TEMP VIEW "+view+" AS "+duck.ScanSQL(p.schema, p.tasks, p.target, duck.ResolveFor(p.tbl.Metadata().Schemas()))); err != nil {
			return "", nil, fmt.Errorf("read %s: %w", id, err)
		}
		s.views = append(s.views, view)
		if alias, _ := ref.node["alias"].(string); alias == "" {
			ref.node["alias"] = ref.Name
		}
		ref.node["schema_name"] = ""
		ref.node["table_name"] = view
		delete(ref.node, "at_clause")
		plans = append(plans, p)
	}
	if len(plans) == 0 {
		return text, nil, nil
	}
	out, err := jsonString(pq.tree)
	if err != nil {
		return "", nil, err
	}
	var rewritten string
	if err := s.conn.QueryRowContext(ctx, "SELECT json_deserialize_sql(CAST(? AS JSON))", out).Scan(&rewritten); err != nil {
		return "", nil, fmt.Errorf("rewrite query: %w", err)
	}
	return rewritten, plans, nil
}

// plan loads one table reference's snapshot (policy is asked on the way)
// and plans the files to read, pruned by the query's conditions.
func (s *session) plan(ctx context.Context, id lake.Ident, ref *tableRef, rowIDs bool) (_ *planned, err error) {
	ctx, span := s.e.span(ctx, "plan "+id.String(), semconv.DBCollectionName(id.String()), semconv.DBNamespace(id.Namespace))
	defer func() { endSpan(span, err) }()
	tbl, err := s.e.lake.LoadTable(ctx, id)
	if err != nil {
		return nil, err
	}
	snap, err := lake.SnapshotAt(tbl, ref.Version, ref.At)
	if err != nil {
		return nil, err
	}
	p := &planned{id: id, tbl: tbl, schema: lake.SchemaFor(tbl, snap), files: map[string]iceberg.DataFile{}, target: rowIDs && ref.outermost}
	if p.target && (ref.Version != nil || ref.At != nil) {
		return nil, fmt.Errorf("%s: a statement cannot change an old snapshot; time travel is for reading", id)
	}
	if ref.Version == nil && ref.At == nil {
		p.schema = tbl.Schema()
	}
	if snap == nil {
		return p, nil
	}
	// A DML target is planned unpruned, so its file map covers every file
	// a row id can point at.
	var filter iceberg.BooleanExpression
	if !p.target && prunable(tbl) {
		filter = rowFilter(p.schema, lake.SchemaFor(tbl, snap), ref.conditions)
	}
	fsTasks, err := planFiles(ctx, tbl, snap.SnapshotID, filter)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", id, err)
	}
	stat := ScanStat{Table: id.String(), SnapshotID: snap.SnapshotID}
	var refs []lake.FileRef
	seen := map[string]bool{}
	var tasks []table.FileScanTask
	for _, t := range fsTasks {
		// iceberg-go splits a large file into byte-range tasks; DuckDB
		// reads whole files, so each file is read once.
		if seen[t.File.FilePath()] {
			continue
		}
		seen[t.File.FilePath()] = true
		if len(t.EqualityDeleteFiles) > 0 || len(t.DeletionVectorFiles) > 0 {
			return nil, fmt.Errorf("table %s has equality deletes or deletion vectors, which edp cannot read yet; compact it first", id)
		}
		tasks = append(tasks, t)
		refs = append(refs, lake.FileRef{URI: t.File.FilePath(), Size: t.File.FileSizeBytes()})
		for _, d := range t.DeleteFiles {
			refs = append(refs, lake.FileRef{URI: d.FilePath(), Size: d.FileSizeBytes()})
		}
	}
	local, err := s.e.lake.Fetch(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	s.fetched = append(s.fetched, local)
	for _, t := range tasks {
		path := local.Path(t.File.FilePath())
		p.files[path] = t.File
		stat.Bytes += t.File.FileSizeBytes()
		dt := duck.Task{Data: path, DataURI: t.File.FilePath()}
		if vc := t.File.ValueCounts(); len(vc) > 0 {
			dt.FieldIDs = slices.Collect(maps.Keys(vc))
		}
		for _, d := range t.DeleteFiles {
			dt.Deletes = append(dt.Deletes, local.Path(d.FilePath()))
		}
		p.tasks = append(p.tasks, dt)
	}
	total, _ := strconv.Atoi(snap.Summary.Properties["total-data-files"])
	stat.Files, stat.Pruned = len(p.tasks), max(total-len(p.tasks), 0)
	s.scans = append(s.scans, stat)
	span.SetAttributes(attribute.Int64("edp.snapshot_id", snap.SnapshotID), attribute.Int("edp.files", stat.Files),
		attribute.Int("edp.files_pruned", stat.Pruned), attribute.Int64("edp.bytes", stat.Bytes))
	return p, nil
}

// planFiles plans the files of a snapshot, pruned by filter when one is
// given. A filter iceberg-go cannot bind (a type it will not convert) is
// dropped rather than failing the query: pruning is an optimisation.
func planFiles(ctx context.Context, tbl *table.Table, snapshotID int64, filter iceberg.BooleanExpression) ([]table.FileScanTask, error) {
	if filter != nil {
		tasks, err := tbl.Scan(table.WithSnapshotID(snapshotID), table.WithRowFilter(filter)).PlanFiles(ctx)
		if err == nil {
			return tasks, nil
		}
	}
	return tbl.Scan(table.WithSnapshotID(snapshotID)).PlanFiles(ctx)
}

// query runs a SELECT (or EXPLAIN of one) and streams its rows.
func (e *Engine) query(ctx context.Context, text, prefix string) (*Result, error) {
	s, err := e.session(ctx)
	if err != nil {
		return nil, err
	}
	sqlText, _, err := s.prepare(ctx, text, false)
	if err != nil {
		s.Close()
		return nil, err
	}
	_, span := e.span(ctx, "execute")
	rows, err := s.conn.QueryContext(ctx, prefix+sqlText)
	endSpan(span, err)
	if err != nil {
		s.Close()
		return nil, err
	}
	r, err := newRowStream(rows)
	if err != nil {
		rows.Close()
		s.Close()
		return nil, err
	}
	return &Result{Rows: r, Status: "SELECT", Scans: s.scans, close: func() error {
		rows.Close()
		return s.Close()
	}}, nil
}

// rowStream adapts database/sql rows to render.Rows.
type rowStream struct {
	rows *sql.Rows
	cols []render.Column
	vals []any
	ptrs []any
}

func newRowStream(rows *sql.Rows) (*rowStream, error) {
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	r := &rowStream{rows: rows, cols: make([]render.Column, len(types)), vals: make([]any, len(types)), ptrs: make([]any, len(types))}
	for i, t := range types {
		r.cols[i] = render.Column{Name: t.Name(), Type: t.DatabaseTypeName()}
		r.ptrs[i] = &r.vals[i]
	}
	return r, nil
}

func (r *rowStream) Columns() []render.Column { return r.cols }

func (r *rowStream) Next() ([]any, error) {
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return nil, err
		}
		return nil, io.EOF
	}
	if err := r.rows.Scan(r.ptrs...); err != nil {
		return nil, err
	}
	return r.vals, nil
}

// statusResult is the result of a statement that returns no rows.
func statusResult(status string) *Result { return &Result{Status: status} }

// rowsResult wraps rows computed in Go (SHOW, DESCRIBE).
func rowsResult(status string, cols []render.Column, data [][]any) *Result {
	return &Result{Rows: render.SliceRows(cols, data), Status: status}
}

// identOf turns a parsed name into a table identifier. Unquoted names are
// matched as written; DuckDB and edp both keep identifier case.
func identOf(n sqlstmt.Name) (lake.Ident, error) {
	if len(n) != 2 {
		return lake.Ident{}, fmt.Errorf("%w: table name %s must be namespace.table", lake.ErrInvalid, n)
	}
	return lake.Ident{Namespace: n[0].Name, Name: n[1].Name}, nil
}

func authorize(ctx context.Context, l *lake.Lake, a policy.Action, id lake.Ident) error {
	return l.Authorize(ctx, a, policy.Resource{Namespace: id.Namespace, Table: id.Name})
}
