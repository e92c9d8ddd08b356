package duck

import (
	"fmt"
	"strings"

	"github.com/apache/iceberg-go"
)

// Row-id columns a scan exposes to edp's own DML: the local file a row was
// read from and its position in that file — together, what a position
// delete names.
const (
	FileColumn = "__edp_file"
	PosColumn  = "__edp_pos"
)

// Task is one data file to read, with the position-delete files that apply
// to it, all as local paths.
type Task struct {
	Data    string
	DataURI string // the path the table's metadata records for Data
	Deletes []string
}

// ScanSQL renders a SELECT reading tasks with schema; position deletes are
// removed with an anti-join on (file, row number). With rowIDs, the result
// also carries FileColumn and PosColumn.
//
// byID resolves columns by Iceberg field id (read_parquet's schema map), so
// renamed, dropped and added columns read correctly from files written
// under older schemas. It is needed only for tables whose schema changed:
// measured on TPC-H SF1, DuckDB 1.5.6 given a schema map scans a file with
// one thread and plans joins without row estimates (2-4x slower), so files
// that all carry the current column names are read by name.
func ScanSQL(schema *iceberg.Schema, tasks []Task, rowIDs, byID bool) string {
	fields := schema.Fields()
	cols := make([]string, 0, len(fields)+2)
	if len(tasks) == 0 {
		for _, f := range fields {
			cols = append(cols, "CAST(NULL AS "+DuckType(f.Type)+") AS "+Ident(f.Name))
		}
		if rowIDs {
			cols = append(cols, "CAST(NULL AS VARCHAR) AS "+FileColumn, "CAST(NULL AS BIGINT) AS "+PosColumn)
		}
		return "SELECT " + strings.Join(cols, ", ") + " WHERE false"
	}
	for _, f := range fields {
		cols = append(cols, "__d."+Ident(f.Name))
	}
	if rowIDs {
		cols = append(cols, "__d.filename AS "+FileColumn, "__d.file_row_number AS "+PosColumn)
	}
	var files, dels, mapping []string
	seenDel := map[string]bool{}
	for _, t := range tasks {
		files = append(files, Quote(t.Data))
		if len(t.Deletes) > 0 {
			mapping = append(mapping, "("+Quote(t.DataURI)+", "+Quote(t.Data)+")")
		}
		for _, d := range t.Deletes {
			if !seenDel[d] {
				seenDel[d] = true
				dels = append(dels, Quote(d))
			}
		}
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(strings.Join(cols, ", "))
	b.WriteString(" FROM read_parquet([")
	b.WriteString(strings.Join(files, ", "))
	b.WriteString("]")
	if byID {
		b.WriteString(", schema = ")
		b.WriteString(SchemaMap(schema))
	}
	b.WriteString(", filename = true, file_row_number = true) AS __d")
	if len(dels) > 0 {
		// Delete files name data files by their metadata path; map those to
		// the local paths DuckDB reports in filename.
		fmt.Fprintf(&b, " ANTI JOIN (SELECT __m.l AS f, __x.pos AS p FROM read_parquet([%s]) AS __x JOIN (VALUES %s) AS __m(u, l) ON __x.file_path = __m.u) AS __del ON __d.filename = __del.f AND __d.file_row_number = __del.p",
			strings.Join(dels, ", "), strings.Join(mapping, ", "))
	}
	return b.String()
}

// SchemaMap renders read_parquet's schema parameter: field id → name, type.
func SchemaMap(schema *iceberg.Schema) string {
	parts := make([]string, 0, len(schema.Fields()))
	for _, f := range schema.Fields() {
		parts = append(parts, fmt.Sprintf("%d: {name: %s, type: %s, default_value: NULL}", f.ID, Quote(f.Name), Quote(DuckType(f.Type))))
	}
	return "MAP {" + strings.Join(parts, ", ") + "}"
}

// FieldIDs renders COPY's FIELD_IDS option for schema, nested fields
// included, so the Parquet files carry Iceberg field ids.
func FieldIDs(schema *iceberg.Schema) string {
	parts := make([]string, 0, len(schema.Fields()))
	for _, f := range schema.Fields() {
		parts = append(parts, Ident(f.Name)+": "+fieldIDValue(f.ID, f.Type))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func fieldIDValue(id int, t iceberg.Type) string {
	var inner []string
	switch t := t.(type) {
	case *iceberg.StructType:
		for _, f := range t.FieldList {
			inner = append(inner, Ident(f.Name)+": "+fieldIDValue(f.ID, f.Type))
		}
	case *iceberg.ListType:
		inner = append(inner, "element: "+fieldIDValue(t.ElementID, t.Element))
	case *iceberg.MapType:
		inner = append(inner, "key: "+fieldIDValue(t.KeyID, t.KeyType), "value: "+fieldIDValue(t.ValueID, t.ValueType))
	default:
		return fmt.Sprint(id)
	}
	return fmt.Sprintf("{__duckdb_field_id: %d, %s}", id, strings.Join(inner, ", "))
}
