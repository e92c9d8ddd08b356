package ingest

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/edp-data/edp/internal/duck"
	"github.com/edp-data/edp/internal/lake"
)

// expand resolves glob patterns; every pattern must match something.
func expand(patterns []string) ([]string, error) {
	if len(patterns) == 0 {
		return nil, fmt.Errorf("no input files given")
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range patterns {
		matches, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", p, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("no file matches %q", p)
		}
		sort.Strings(matches)
		for _, m := range matches {
			abs, err := filepath.Abs(m)
			if err != nil {
				return nil, err
			}
			if !seen[abs] {
				seen[abs] = true
				out = append(out, abs)
			}
		}
	}
	return out, nil
}

// formatOf names the format of a file from its extension, looking through
// .gz and .zst compression suffixes.
func formatOf(path string) string {
	name := strings.ToLower(filepath.Base(path))
	for _, c := range []string{".gz", ".zst", ".zstd"} {
		name = strings.TrimSuffix(name, c)
	}
	switch filepath.Ext(name) {
	case ".csv", ".tsv", ".txt":
		return "csv"
	case ".json", ".ndjson", ".jsonl":
		return "json"
	case ".parquet", ".pq":
		return "parquet"
	}
	return ""
}

func detectFormat(files []string) (string, error) {
	format := ""
	for _, f := range files {
		ff := formatOf(f)
		if ff == "" {
			return "", fmt.Errorf("cannot tell the format of %s from its name; pass --format csv|json|parquet", f)
		}
		if format != "" && ff != format {
			return "", fmt.Errorf("files mix formats (%s and %s); load them separately", format, ff)
		}
		format = ff
	}
	return format, nil
}

const (
	rejectsTable = "__edp_rejects"
	rejectsScan  = "__edp_rejects_scan"
)

func fileList(files []string) string {
	q := make([]string, len(files))
	for i, f := range files {
		q[i] = duck.Quote(f)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// source renders the table function reading the files. want maps
// lower-cased column names to the DuckDB types of an existing table.
func (ld *loader) source(ctx context.Context, want map[string]string) (string, error) {
	files := fileList(ld.files)
	switch ld.format {
	case "parquet":
		return "read_parquet(" + files + ")", nil
	case "json":
		opts := []string{"format = 'auto'"}
		if ld.opts.BadRows == BadRowsSkip {
			opts = append(opts, "ignore_errors = true")
		}
		return "read_json(" + files + ", " + strings.Join(opts, ", ") + ")", nil
	case "csv":
		c := ld.opts.CSV
		var opts []string
		if c.Delimiter != "" {
			opts = append(opts, "delim = "+duck.Quote(unescape(c.Delimiter)))
		}
		if c.Quote != "" {
			opts = append(opts, "quote = "+duck.Quote(c.Quote))
		}
		if c.Header != nil {
			opts = append(opts, fmt.Sprintf("header = %t", *c.Header))
		}
		if len(c.Nulls) > 0 {
			q := make([]string, len(c.Nulls))
			for i, n := range c.Nulls {
				q[i] = duck.Quote(n)
			}
			opts = append(opts, "nullstr = ["+strings.Join(q, ", ")+"]")
		}
		base := "read_csv(" + files
		if len(opts) > 0 {
			base += ", " + strings.Join(opts, ", ")
		}
		if len(want) > 0 {
			// Read the columns the table has with the table's types, so a
			// value that does not fit is rejected with its line.
			names, _, err := describe(ctx, ld.conn, "SELECT * FROM "+base+")")
			if err != nil {
				return "", fmt.Errorf("%w: %v", ErrBadInput, err)
			}
			var types []string
			for _, n := range names {
				if t, ok := want[strings.ToLower(n)]; ok {
					types = append(types, duck.Quote(n)+": "+duck.Quote(t))
				}
			}
			if len(types) > 0 {
				base += ", types = {" + strings.Join(types, ", ") + "}"
			}
		}
		return base + ", store_rejects = true, rejects_table = '" + rejectsTable + "', rejects_scan = '" + rejectsScan + "')", nil
	}
	return "", fmt.Errorf("unknown format %q: use csv, json or parquet", ld.format)
}

func unescape(s string) string {
	switch s {
	case `\t`, "tab":
		return "\t"
	case `\|`:
		return "|"
	}
	return s
}

// checkTypes finds the first value of a JSON or Parquet source that does
// not convert to the table's column type, and names its file and record.
func (ld *loader) checkTypes(ctx context.Context, tbl *table.Table, src string, byName map[string]string) error {
	var conds []string
	var checks []string
	for _, f := range tbl.Schema().Fields() {
		n, ok := byName[strings.ToLower(f.Name)]
		if !ok {
			continue
		}
		c := duck.Ident(n)
		t := duck.DuckType(f.Type)
		conds = append(conds, fmt.Sprintf("(%s IS NOT NULL AND TRY_CAST(%s AS %s) IS NULL)", c, c, t))
		checks = append(checks, fmt.Sprintf("WHEN %s IS NOT NULL AND TRY_CAST(%s AS %s) IS NULL THEN [%s, CAST(%s AS VARCHAR), %s]", c, c, t, duck.Quote(n), c, duck.Quote(t)))
	}
	if len(conds) == 0 {
		return nil
	}
	withFile := strings.TrimSuffix(src, ")") + ", filename = true)"
	q := fmt.Sprintf("SELECT filename, __rn, CASE %s END FROM (SELECT *, row_number() OVER () AS __rn FROM %s) WHERE %s LIMIT 1",
		strings.Join(checks, " "), withFile, strings.Join(conds, " OR "))
	var file string
	var rn int64
	var info []any
	err := ld.conn.QueryRowContext(ctx, q).Scan(&file, &rn, &info)
	if err != nil {
		if strings.Contains(err.Error(), "no rows") {
			return nil
		}
		return fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	return fmt.Errorf("%w: %s record %d column %v: value %q is not a valid %v; nothing was loaded", ErrBadInput, file, rn, info[0], fmt.Sprint(info[1]), info[2])
}

// reject is one row DuckDB's CSV reader could not read.
type reject struct {
	File, Column, Error, Raw string
	Line                     int64
}

func (ld *loader) rejects(ctx context.Context) ([]reject, error) {
	if ld.format != "csv" {
		return nil, nil
	}
	rows, err := ld.conn.QueryContext(ctx, "SELECT s.file_path, e.line, coalesce(e.column_name, ''), e.error_message, coalesce(e.csv_line, '') FROM "+
		rejectsTable+" e JOIN "+rejectsScan+" s USING (scan_id, file_id) ORDER BY s.file_path, e.line")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []reject
	for rows.Next() {
		var r reject
		if err := rows.Scan(&r.File, &r.Line, &r.Column, &r.Error, &r.Raw); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// quarantine appends rejected rows, with why, to <table>__rejected.
func (ld *loader) quarantine(ctx context.Context, rejected []reject) error {
	id := lake.Ident{Namespace: ld.opts.Table.Namespace, Name: ld.opts.Table.Name + "__rejected"}
	exists, err := ld.l.TableExists(ctx, id)
	if err != nil {
		return err
	}
	if !exists {
		schema := iceberg.NewSchema(0,
			iceberg.NestedField{ID: 1, Name: "file", Type: iceberg.PrimitiveTypes.String},
			iceberg.NestedField{ID: 2, Name: "line", Type: iceberg.PrimitiveTypes.Int64},
			iceberg.NestedField{ID: 3, Name: "column", Type: iceberg.PrimitiveTypes.String},
			iceberg.NestedField{ID: 4, Name: "error", Type: iceberg.PrimitiveTypes.String},
			iceberg.NestedField{ID: 5, Name: "raw", Type: iceberg.PrimitiveTypes.String},
			iceberg.NestedField{ID: 6, Name: "rejected_at", Type: iceberg.PrimitiveTypes.TimestampTz},
		)
		if _, err := ld.l.CreateTable(ctx, id, schema, nil, nil); err != nil {
			return err
		}
	}
	tbl, err := ld.l.LoadTable(ctx, id)
	if err != nil {
		return err
	}
	q := "SELECT s.file_path, e.line, e.column_name, e.error_message, e.csv_line, now() FROM " + rejectsTable + " e JOIN " + rejectsScan + " s USING (scan_id, file_id)"
	files, _, err := duck.WriteData(ctx, ld.conn, tbl, lake.LocalPath, q, ld.opts.TargetFileSize)
	if err != nil {
		return err
	}
	_, err = ld.l.CommitFiles(ctx, id, tbl, lake.Commit{Job: ld.opts.Job + ":quarantine", Data: files})
	return err
}
