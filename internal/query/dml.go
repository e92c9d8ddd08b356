package query

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/edp-data/edp/internal/duck"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/policy"
	"github.com/edp-data/edp/internal/query/sqlstmt"
)

// target loads the table a DML statement writes, after asking policy.
func (e *Engine) target(ctx context.Context, name sqlstmt.Name) (lake.Ident, *table.Table, error) {
	id, err := identOf(name)
	if err != nil {
		return id, nil, err
	}
	if err := authorize(ctx, e.lake, policy.Write, id); err != nil {
		return id, nil, err
	}
	tbl, err := e.lake.LoadTable(ctx, id)
	return id, tbl, err
}

// describedQuery prepares a user query on a new session and returns the
// SQL to run with its column names and DuckDB types. The caller closes the
// session.
func (e *Engine) describedQuery(ctx context.Context, query string) (s *session, src string, names, types []string, err error) {
	if s, err = e.session(ctx); err != nil {
		return nil, "", nil, nil, err
	}
	if src, _, err = s.prepare(ctx, query, false); err == nil {
		names, types, err = duck.Describe(ctx, s.conn, src)
	}
	if err != nil {
		s.Close()
		return nil, "", nil, nil, err
	}
	return s, src, names, types, nil
}

func (e *Engine) insert(ctx context.Context, st sqlstmt.Insert) (*Result, error) {
	id, tbl, err := e.target(ctx, st.Table)
	if err != nil {
		return nil, err
	}
	s, src, names, _, err := e.describedQuery(ctx, st.Query)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	fields := tbl.Schema().Fields()
	query := src
	if len(st.Columns) > 0 {
		if len(names) != len(st.Columns) {
			return nil, fmt.Errorf("INSERT INTO %s names %d columns but the query yields %d", id, len(st.Columns), len(names))
		}
		pos := map[string]int{}
		for i, c := range st.Columns {
			f, ok := tbl.Schema().FindFieldByNameCaseInsensitive(c.Name)
			if !ok {
				return nil, fmt.Errorf("INSERT INTO %s: no column %q", id, c.Name)
			}
			if _, dup := pos[strings.ToLower(f.Name)]; dup {
				return nil, fmt.Errorf("INSERT INTO %s: column %q named twice", id, c.Name)
			}
			pos[strings.ToLower(f.Name)] = i
		}
		exprs := make([]string, len(fields))
		for i, f := range fields {
			if j, ok := pos[strings.ToLower(f.Name)]; ok {
				exprs[i] = fmt.Sprintf("__ins.__i%d", j)
			} else {
				exprs[i] = "NULL"
			}
		}
		aliases := make([]string, len(names))
		for i := range names {
			aliases[i] = fmt.Sprintf("__i%d", i)
		}
		query = "SELECT " + strings.Join(exprs, ", ") + " FROM (" + src + ") AS __ins(" + strings.Join(aliases, ", ") + ")"
	} else if len(names) != len(fields) {
		return nil, fmt.Errorf("INSERT INTO %s: the query yields %d columns but the table has %d (%s)", id, len(names), len(fields), columnList(tbl.Schema()))
	}
	files, n, err := duck.WriteData(ctx, s.conn, tbl, e.lake, query, e.opts.TargetFileSize)
	if err != nil {
		return nil, fmt.Errorf("INSERT INTO %s: %w", id, err)
	}
	if _, err := e.lake.CommitFiles(ctx, id, tbl, lake.Commit{Job: "sql:insert", Data: files}); err != nil {
		e.discard(ctx, err, files)
		return nil, err
	}
	return statusResult(fmt.Sprintf("INSERT %d", n)), nil
}

func columnList(sc *iceberg.Schema) string {
	names := make([]string, len(sc.Fields()))
	for i, f := range sc.Fields() {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

func (e *Engine) createTable(ctx context.Context, st sqlstmt.CreateTable) (*Result, error) {
	id, err := identOf(st.Name)
	if err != nil {
		return nil, err
	}
	if st.OrReplace {
		return e.replaceTable(ctx, id, st)
	}
	if st.IfNotExists {
		if ok, err := e.lake.TableExists(ctx, id); err != nil {
			return nil, err
		} else if ok {
			return statusResult("CREATE TABLE"), nil
		}
	}
	if st.AsQuery == "" {
		schema, err := schemaOf(st.Columns)
		if err != nil {
			return nil, fmt.Errorf("CREATE TABLE %s: %w", id, err)
		}
		spec, err := lake.BuildSpec(schema, st.PartitionBy)
		if err == nil {
			err = duck.CheckSpec(schema, *spec)
		}
		if err != nil {
			return nil, err
		}
		if _, err := e.lake.CreateTable(ctx, id, schema, spec, st.Properties); err != nil {
			return nil, err
		}
		return statusResult("CREATE TABLE"), nil
	}
	// CREATE TABLE … AS SELECT: the table exists only if its data committed.
	s, src, names, types, err := e.describedQuery(ctx, st.AsQuery)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	schema, err := duck.SchemaFromColumns(names, types)
	if err != nil {
		return nil, fmt.Errorf("CREATE TABLE %s: %w", id, err)
	}
	spec, err := lake.BuildSpec(schema, st.PartitionBy)
	if err == nil {
		err = duck.CheckSpec(schema, *spec)
	}
	if err != nil {
		return nil, err
	}
	tbl, err := e.lake.CreateTable(ctx, id, schema, spec, st.Properties)
	if err != nil {
		return nil, err
	}
	n, err := func() (int64, error) {
		files, n, err := duck.WriteData(ctx, s.conn, tbl, e.lake, src, e.opts.TargetFileSize)
		if err != nil {
			return 0, err
		}
		_, err = e.lake.CommitFiles(ctx, id, tbl, lake.Commit{Job: "sql:ctas", Data: files})
		return n, err
	}()
	if err != nil {
		if derr := e.lake.DropTable(context.WithoutCancel(ctx), id, true, true); derr != nil {
			err = errors.Join(err, derr)
		}
		return nil, fmt.Errorf("CREATE TABLE %s AS: %w", id, err)
	}
	return statusResult(fmt.Sprintf("CREATE TABLE %d", n)), nil
}

// schemaOf builds an Iceberg schema from column definitions.
func schemaOf(cols []sqlstmt.ColumnDef) (*iceberg.Schema, error) {
	if len(cols) == 0 {
		return nil, errors.New("a table needs at least one column")
	}
	names := make([]string, len(cols))
	types := make([]string, len(cols))
	for i, c := range cols {
		if c.NotNull {
			return nil, fmt.Errorf("column %s: NOT NULL is not supported: edp columns are optional", c.Name.Name)
		}
		names[i], types[i] = c.Name.Name, c.Type
	}
	sc, err := duck.SchemaFromColumns(names, types)
	if err != nil {
		return nil, err
	}
	fields := sc.Fields()
	for i, c := range cols {
		fields[i].Doc = c.Comment
	}
	return iceberg.NewSchema(0, fields...), nil
}

// rowDelta writes the position deletes for the row ids in delQuery and the
// rows of addQuery (may be ""), and commits both as one snapshot.
func (e *Engine) rowDelta(ctx context.Context, s *session, id lake.Ident, tbl *table.Table, target *planned, job, delQuery, addQuery string) (deleted, added int64, err error) {
	dels, deleted, err := duck.WritePositionDeletes(ctx, s.conn, tbl, e.lake, delQuery, target.files)
	if err != nil {
		return 0, 0, err
	}
	var data []iceberg.DataFile
	if addQuery != "" {
		if data, added, err = duck.WriteData(ctx, s.conn, tbl, e.lake, addQuery, e.opts.TargetFileSize); err != nil {
			e.discard(ctx, nil, dels)
			return 0, 0, err
		}
	}
	if _, err := e.lake.CommitFiles(ctx, id, tbl, lake.Commit{Job: job, Data: data, Deletes: dels}); err != nil {
		e.discard(ctx, err, append(data, dels...))
		return 0, 0, err
	}
	return deleted, added, nil
}

// discard deletes the files of a statement that will not commit: when
// commitErr is nil (no commit was tried) or a conflict, which proves the
// commit did not land. After any other commit failure the files stay, as
// the commit may have landed without its answer arriving; orphan cleanup
// takes them if it did not.
func (e *Engine) discard(ctx context.Context, commitErr error, files []iceberg.DataFile) {
	if commitErr != nil && !lake.IsConflict(commitErr) {
		return
	}
	if err := e.lake.RemoveFiles(context.WithoutCancel(ctx), files); err != nil {
		e.log.Warn("could not remove the files of a failed statement; orphan cleanup will", "err", err)
	}
}

// targetPlan finds the plan of the DML target: the reference that carries
// row ids. Other references to the same table (in subqueries, or time
// travelled) have their own file lists and must not be used.
func targetPlan(plans []*planned) *planned {
	for _, p := range plans {
		if p.target {
			return p
		}
	}
	return &planned{}
}

// tempName returns a fresh name for a statement's temporary table.
func tempName(prefix string) string {
	return prefix + strings.ReplaceAll(uuid.NewString(), "-", "")
}

func (e *Engine) delete(ctx context.Context, st sqlstmt.Delete) (*Result, error) {
	id, tbl, err := e.target(ctx, st.Table)
	if err != nil {
		return nil, err
	}
	s, err := e.session(ctx)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	q := "SELECT " + duck.FileColumn + ", " + duck.PosColumn + " FROM " + qualified(id) + aliasClause(unquote(st.Alias))
	if st.Where != "" {
		// In parentheses, so the text can only be a condition, not a
		// condition followed by ORDER BY, LIMIT or more clauses.
		q += " WHERE (" + st.Where + ")"
	}
	src, plans, err := s.prepare(ctx, q, true)
	if err != nil {
		return nil, err
	}
	tmp := tempName("__edp_delete_")
	if _, err := s.conn.ExecContext(ctx, "CREATE TEMP TABLE "+tmp+" AS "+src); err != nil {
		return nil, fmt.Errorf("DELETE FROM %s: %w", id, err)
	}
	defer s.conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+tmp)
	n, _, err := e.rowDelta(ctx, s, id, tbl, targetPlan(plans), "sql:delete", "SELECT * FROM "+tmp, "")
	if err != nil {
		return nil, fmt.Errorf("DELETE FROM %s: %w", id, err)
	}
	return statusResult(fmt.Sprintf("DELETE %d", n)), nil
}

func (e *Engine) update(ctx context.Context, st sqlstmt.Update) (*Result, error) {
	id, tbl, err := e.target(ctx, st.Table)
	if err != nil {
		return nil, err
	}
	alias := unquote(st.Alias)
	if alias == "" {
		alias = id.Name
	}
	set := map[string]string{}
	for _, a := range st.Set {
		f, ok := tbl.Schema().FindFieldByNameCaseInsensitive(a.Column.Name)
		if !ok {
			return nil, fmt.Errorf("UPDATE %s: no column %q", id, a.Column.Name)
		}
		set[f.Name] = a.Expr
	}
	exprs := []string{duck.Ident(alias) + "." + duck.FileColumn, duck.Ident(alias) + "." + duck.PosColumn}
	for i, f := range tbl.Schema().Fields() {
		e := duck.Ident(alias) + "." + duck.Ident(f.Name)
		if x, ok := set[f.Name]; ok {
			e = "(" + x + ")"
		}
		exprs = append(exprs, fmt.Sprintf("%s AS __v%d", e, i))
	}
	q := "SELECT " + strings.Join(exprs, ", ") + " FROM " + qualified(id) + " AS " + duck.Ident(alias)
	if st.Where != "" {
		// In parentheses, so the text can only be a condition, not a
		// condition followed by ORDER BY, LIMIT or more clauses.
		q += " WHERE (" + st.Where + ")"
	}
	s, err := e.session(ctx)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	src, plans, err := s.prepare(ctx, q, true)
	if err != nil {
		return nil, err
	}
	tmp := tempName("__edp_update_")
	if _, err := s.conn.ExecContext(ctx, "CREATE TEMP TABLE "+tmp+" AS "+src); err != nil {
		return nil, fmt.Errorf("UPDATE %s: %w", id, err)
	}
	defer s.conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+tmp)
	n, _, err := e.rowDelta(ctx, s, id, tbl, targetPlan(plans), "sql:update",
		"SELECT "+duck.FileColumn+", "+duck.PosColumn+" FROM "+tmp, "SELECT "+valueCols(len(tbl.Schema().Fields()))+" FROM "+tmp)
	if err != nil {
		return nil, fmt.Errorf("UPDATE %s: %w", id, err)
	}
	return statusResult(fmt.Sprintf("UPDATE %d", n)), nil
}

func valueCols(n int) string {
	cols := make([]string, n)
	for i := range cols {
		cols[i] = fmt.Sprintf("__v%d", i)
	}
	return strings.Join(cols, ", ")
}

func qualified(id lake.Ident) string { return duck.Ident(id.Namespace) + "." + duck.Ident(id.Name) }

func aliasClause(alias string) string {
	if alias == "" {
		return ""
	}
	return " AS " + duck.Ident(alias)
}

// replaceTable runs CREATE OR REPLACE TABLE: the new table is built in full
// under a temporary name, and only then swapped in by two renames and the
// old table dropped. The replaced table's history does not carry over. A
// crash between the steps leaves an extra table named <table>__edp_old_…
// or __edp_new_…, never a lost one.
func (e *Engine) replaceTable(ctx context.Context, id lake.Ident, st sqlstmt.CreateTable) (*Result, error) {
	exists, err := e.lake.TableExists(ctx, id)
	if err != nil {
		return nil, err
	}
	st.OrReplace = false
	if !exists {
		return e.createTable(ctx, st)
	}
	suffix := strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	tmp := lake.Ident{Namespace: id.Namespace, Name: id.Name + "__edp_new_" + suffix}
	old := lake.Ident{Namespace: id.Namespace, Name: id.Name + "__edp_old_" + suffix}
	st.Name = sqlstmt.Name{{Name: tmp.Namespace}, {Name: tmp.Name}}
	res, err := e.createTable(ctx, st)
	if err != nil {
		return nil, err
	}
	if err := e.lake.RenameTable(ctx, id, old); err != nil {
		e.lake.DropTable(context.WithoutCancel(ctx), tmp, true, true)
		return nil, err
	}
	if err := e.lake.RenameTable(ctx, tmp, id); err != nil {
		return nil, errors.Join(err, e.lake.RenameTable(context.WithoutCancel(ctx), old, id))
	}
	if err := e.lake.DropTable(ctx, old, true, false); err != nil {
		return nil, fmt.Errorf("%s replaced, but dropping the old table %s failed: %w", id, old, err)
	}
	return res, nil
}

// unquote turns an alias as written ("T" or t) into the name it denotes.
func unquote(alias string) string {
	if len(alias) >= 2 && alias[0] == '"' && alias[len(alias)-1] == '"' {
		return strings.ReplaceAll(alias[1:len(alias)-1], `""`, `"`)
	}
	return alias
}
