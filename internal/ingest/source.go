package ingest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
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

// FormatOf names the format of a file (csv, json or parquet) from its
// extension, looking through .gz and .zst compression suffixes; "" when
// the extension says nothing.
func FormatOf(path string) string {
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
		ff := FormatOf(f)
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
	var common []string
	if len(ld.files) > 1 && ld.format == "parquet" {
		// Take columns from every file, not just the first: a column that
		// only later files have must not vanish silently. (CSV files are
		// compared in sameColumns instead: DuckDB's rejects table, which
		// gives bad rows their lines, cannot be combined with this.)
		common = append(common, "union_by_name = true")
	}
	if ld.anyZstd() {
		// DuckDB recognises .zst but not .zstd by name.
		common = append(common, "compression = 'zstd'")
	}
	call := func(fn string, opts []string) string {
		opts = append(common, opts...)
		if len(opts) == 0 {
			return fn + "(" + files + ")"
		}
		return fn + "(" + files + ", " + strings.Join(opts, ", ") + ")"
	}
	switch ld.format {
	case "parquet":
		common = slices.DeleteFunc(common, func(o string) bool { return strings.HasPrefix(o, "compression") })
		return call("read_parquet", nil), nil
	case "json":
		if ld.opts.BadRows != BadRowsFail {
			return ld.jsonLinesSource(ctx, want)
		}
		return call("read_json", []string{"format = 'auto'"}), nil
	case "csv":
		c := ld.opts.CSV
		var opts []string
		if c.Delimiter != "" {
			opts = append(opts, "delim = "+duck.Quote(unescape(c.Delimiter)))
		}
		// RFC 4180's quote unless told otherwise: left to guess, DuckDB's
		// sniffer reads a file with an unterminated quote as unquoted and
		// loads the stray quote characters as data.
		quote := c.Quote
		if quote == "" {
			quote = `"`
		}
		opts = append(opts, "quote = "+duck.Quote(quote))
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
		// The rejects options go in every read, the sniffing DESCRIBE too:
		// they change how DuckDB sniffs the dialect, and the read that
		// writes must see the same columns as the one that planned it.
		opts = append(opts, "store_rejects = true", "rejects_table = '"+rejectsTable+"'", "rejects_scan = '"+rejectsScan+"'")
		if err := ld.sameColumns(ctx, opts); err != nil {
			return "", err
		}
		if len(want) > 0 {
			// Read the columns the table has with the table's types, so a
			// value that does not fit is rejected with its line.
			names, _, err := duck.Describe(ctx, ld.conn, "SELECT * FROM "+call("read_csv", opts))
			if err != nil {
				return "", fmt.Errorf("%w: %s", ErrBadInput, brief(err.Error()))
			}
			var types []string
			for _, n := range names {
				t, ok := want[strings.ToLower(n)]
				if !ok {
					continue
				}
				if integerType(t) {
					// DuckDB's text-to-integer cast rounds "1.75" to 2. Read
					// integer columns as wide decimals instead, and let
					// checkTypes refuse any value with a fraction.
					t = "DECIMAL(38,10)"
					ld.csvChecked = append(ld.csvChecked, n)
				}
				types = append(types, duck.Quote(n)+": "+duck.Quote(t))
			}
			if len(types) > 0 {
				opts = append(opts, "types = {"+strings.Join(types, ", ")+"}")
			}
		}
		return call("read_csv", opts), nil
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
//
// A number or time that converts only by losing something (1.75 into a
// BIGINT column, a time of day into a DATE) is bad too: a load stores what
// the file says or nothing. srcTypes gives each source column's type.
func (ld *loader) checkTypes(ctx context.Context, tbl *table.Table, src string, byName, srcTypes map[string]string) error {
	var conds []string
	var checks []string
	for _, f := range tbl.Schema().Fields() {
		n, ok := byName[strings.ToLower(f.Name)]
		if !ok {
			continue
		}
		c := duck.Ident(n)
		t := duck.DuckType(f.Type)
		cond := fmt.Sprintf("%s IS NOT NULL AND TRY_CAST(%s AS %s) IS NULL", c, c, t)
		if st := srcTypes[n]; lossyCheckable(st) && st != t {
			cond = fmt.Sprintf("%s IS NOT NULL AND (TRY_CAST(%s AS %s) IS NULL OR CAST(TRY_CAST(%s AS %s) AS %s) <> %s)", c, c, t, c, t, st, c)
		}
		conds = append(conds, "("+cond+")")
		checks = append(checks, fmt.Sprintf("WHEN %s THEN [%s, CAST(%s AS VARCHAR), %s]", cond, duck.Quote(n), c, duck.Quote(t)))
	}
	if len(conds) == 0 {
		return nil
	}
	withFile := strings.TrimSuffix(src, ")") + ", filename = true)"
	// DuckDB reads files and records in order, so a record's number in
	// the whole read, less its file's first, is its position in the file.
	q := fmt.Sprintf("SELECT filename, __rn, CASE %s END FROM (SELECT *, __g - min(__g) OVER (PARTITION BY filename) + 1 AS __rn FROM (SELECT *, row_number() OVER () AS __g FROM %s)) WHERE %s LIMIT 1",
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
	return fmt.Errorf("%w: %s record %d column %v: value %s is not a valid %v; nothing was loaded", ErrBadInput, file, rn, info[0], brief(fmt.Sprint(info[1])), info[2])
}

// reject is one row DuckDB's CSV reader could not read.
type reject struct {
	File, Column, Error, Raw string
	Line                     int64
}

// rejectsQuery yields the rejected rows as (file, line, column, error,
// raw), or "" when the format keeps none.
func (ld *loader) rejectsQuery() string {
	switch {
	case ld.format == "csv":
		// DISTINCT: a check that reads the files again (checkTypes) stores
		// the same rejected lines a second time.
		return "SELECT DISTINCT s.file_path, e.line, coalesce(e.column_name, ''), e.error_message, coalesce(e.csv_line, '') FROM " +
			rejectsTable + " e JOIN " + rejectsScan + " s USING (scan_id, file_id)"
	case ld.jsonLines:
		return "SELECT file, line, bad_column, bad_reason, raw FROM " + jsonParsed + " WHERE bad_reason IS NOT NULL"
	}
	return ""
}

func (ld *loader) rejects(ctx context.Context) ([]reject, error) {
	q := ld.rejectsQuery()
	if q == "" {
		return nil, nil
	}
	rows, err := ld.conn.QueryContext(ctx, "SELECT * FROM ("+q+") ORDER BY 1, 2")
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
	id := rejectedTable(ld.opts.Table)
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
	q := "SELECT *, now() FROM (" + ld.rejectsQuery() + ")"
	files, _, err := duck.WriteData(ctx, ld.conn, tbl, ld.l, q, ld.opts.TargetFileSize)
	if err != nil {
		return err
	}
	_, err = ld.l.CommitFiles(ctx, id, tbl, lake.Commit{Job: ld.opts.Job + ":quarantine", Data: files})
	return err
}

func (ld *loader) anyZstd() bool {
	for _, f := range ld.files {
		if strings.HasSuffix(strings.ToLower(f), ".zstd") {
			return true
		}
	}
	return false
}

// checkSplit catches a CSV file DuckDB's sniffer could not split into
// columns: one column whose name still holds delimiters is what an
// unterminated quote or an unusual delimiter leaves behind, and loading it
// as one text column would silently store garbage.
func (ld *loader) checkSplit(names []string) error {
	if ld.format != "csv" || len(names) != 1 || ld.opts.CSV.Delimiter != "" {
		return nil
	}
	if strings.ContainsAny(names[0], ",;\t|") {
		return fmt.Errorf("%w: %s: the rows could not be split into columns consistently (an unterminated quote? an unusual delimiter?); fix the file or pass --delimiter", ErrBadInput, ld.files[0])
	}
	return nil
}

// sameColumns checks that every CSV file has the first file's columns: one
// read of several files takes its columns from the first, and a column only
// a later file has would vanish silently.
func (ld *loader) sameColumns(ctx context.Context, opts []string) error {
	if len(ld.files) < 2 {
		return nil
	}
	var first []string
	for i, f := range ld.files {
		names, _, err := duck.Describe(ctx, ld.conn, "SELECT * FROM read_csv("+duck.Quote(f)+", "+strings.Join(opts, ", ")+")")
		if err != nil {
			return fmt.Errorf("%w: %s: %s", ErrBadInput, f, brief(err.Error()))
		}
		for j := range names {
			names[j] = strings.ToLower(names[j])
		}
		if i == 0 {
			first = names
			continue
		}
		if !slices.Equal(names, first) {
			return fmt.Errorf("%w: %s has columns (%s) that differ from %s's (%s); load them separately", ErrBadInput, f, strings.Join(names, ", "), ld.files[0], strings.Join(first, ", "))
		}
	}
	return nil
}

// jsonParsed is the temporary table of a line-by-line JSON read.
const jsonParsed = "__edp_json_parsed"

// jsonLinesSource reads newline-delimited JSON line by line, so that a bad
// record — not JSON, not an object, or a value that does not convert to its
// column's type — can be skipped or quarantined with its file and line
// number. Each file is read whole into memory, so this path is for files
// that fit; the fail path (read_json) streams. The records' shape comes
// from the table where it has the column, else from DuckDB's
// json_group_structure over the records that are objects.
func (ld *loader) jsonLinesSource(ctx context.Context, want map[string]string) (string, error) {
	for _, f := range ld.files {
		lower := strings.ToLower(f)
		if strings.HasSuffix(lower, ".gz") || strings.HasSuffix(lower, ".zst") || strings.HasSuffix(lower, ".zstd") {
			return "", fmt.Errorf("--bad-rows=%s reads JSON line by line and needs uncompressed files; %s is compressed", ld.opts.BadRows, f)
		}
		if isJSONArray(f) {
			return "", fmt.Errorf("--bad-rows=%s needs newline-delimited JSON; %s is a JSON array (load it with --bad-rows=fail)", ld.opts.BadRows, f)
		}
	}
	lines := "SELECT filename AS file, generate_subscripts(string_split(content, chr(10)), 1) AS line, unnest(string_split(content, chr(10))) AS raw FROM read_text(" + fileList(ld.files) + ")"
	if _, err := ld.conn.ExecContext(ctx, "CREATE TEMP TABLE "+jsonLinesTable+" AS SELECT file, line, raw, CASE WHEN json_valid(raw) THEN json_type(raw) = 'OBJECT' ELSE false END AS is_object FROM ("+lines+") WHERE trim(raw) <> ''"); err != nil {
		return "", fmt.Errorf("%w: %s", ErrBadInput, brief(err.Error()))
	}
	var shape sql.NullString
	if err := ld.conn.QueryRowContext(ctx, "SELECT CAST(json_group_structure(CAST(raw AS JSON)) AS VARCHAR) FROM "+jsonLinesTable+" WHERE is_object").Scan(&shape); err != nil {
		return "", fmt.Errorf("%w: %s", ErrBadInput, brief(err.Error()))
	}
	if !shape.Valid {
		return "", fmt.Errorf("%w: %s: no line is a JSON object", ErrBadInput, ld.files[0])
	}
	names, types, err := structureColumns(shape.String)
	if err != nil {
		return "", err
	}
	var structure, cols, colChecks, reasonChecks []string
	for i, n := range names {
		t := types[i]
		if w, ok := want[strings.ToLower(n)]; ok {
			t = strconv.Quote(w)
		}
		structure = append(structure, strconv.Quote(n)+": "+t)
		path := duck.Quote("$." + strconv.Quote(n))
		cols = append(cols, "v."+duck.Ident(n)+" AS "+duck.Ident(n))
		// A value present in the record but NULL after conversion did not
		// fit the column's type.
		cond := fmt.Sprintf("json_type(raw, %s) <> 'NULL' AND v.%s IS NULL", path, duck.Ident(n))
		colChecks = append(colChecks, "WHEN "+cond+" THEN "+duck.Quote(n))
		reasonChecks = append(reasonChecks, fmt.Sprintf("WHEN %s THEN 'value ' || CAST(json_extract(raw, %s) AS VARCHAR) || ' is not a valid ' || %s", cond, path, duck.Quote(strings.Trim(t, `"`))))
	}
	parse := "CASE WHEN is_object THEN from_json(raw, " + duck.Quote("{"+strings.Join(structure, ", ")+"}") + ") END"
	create := "CREATE TEMP TABLE " + jsonParsed + " AS SELECT file, line, raw, v, " +
		"CASE WHEN v IS NULL THEN '' ELSE (CASE " + strings.Join(colChecks, " ") + " END) END AS bad_column, " +
		"CASE WHEN v IS NULL THEN 'not a JSON object' ELSE (CASE " + strings.Join(reasonChecks, " ") + " END) END AS bad_reason " +
		"FROM (SELECT file, line, raw, " + parse + " AS v FROM " + jsonLinesTable + ")"
	if _, err := ld.conn.ExecContext(ctx, create); err != nil {
		return "", fmt.Errorf("%w: %s", ErrBadInput, brief(err.Error()))
	}
	ld.jsonLines = true
	return "(SELECT " + strings.Join(cols, ", ") + " FROM " + jsonParsed + " WHERE bad_reason IS NULL)", nil
}

const jsonLinesTable = "__edp_json_lines"

// structureColumns splits a json_group_structure result into its top-level
// keys, in order, and their types as from_json structure values. Integers
// DuckDB infers as UBIGINT become BIGINT, and all-null or mixed-type keys
// VARCHAR: Iceberg has no unsigned integers, null type or JSON type, and a
// mixed key read as text keeps each value as written.
func structureColumns(shape string) (names, types []string, err error) {
	dec := json.NewDecoder(strings.NewReader(shape))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, fmt.Errorf("%w: the records have no common object shape", ErrBadInput)
	}
	fix := strings.NewReplacer(`"UBIGINT"`, `"BIGINT"`, `"NULL"`, `"VARCHAR"`, `"JSON"`, `"VARCHAR"`)
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, err
		}
		names = append(names, fmt.Sprint(key))
		types = append(types, fix.Replace(string(raw)))
	}
	return names, types, nil
}

// isJSONArray reports whether a JSON file's first value is an array.
func isJSONArray(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, 4096)
	n, _ := f.Read(buf)
	trimmed := strings.TrimLeft(string(buf[:n]), " \t\r\n\ufeff")
	return strings.HasPrefix(trimmed, "[")
}

// lossyCheckable reports source types whose values can be compared after
// a round trip through another type: numbers and times, not text (where
// "007" and 7 differ only in spelling).
func lossyCheckable(duckType string) bool {
	t := strings.ToUpper(duckType)
	for _, p := range []string{"DOUBLE", "FLOAT", "REAL", "DECIMAL", "TIMESTAMP", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

func integerType(duckType string) bool {
	switch strings.ToUpper(duckType) {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT":
		return true
	}
	return false
}
