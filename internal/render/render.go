package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Column describes one result column.
type Column struct {
	Name string
	// Type is the DuckDB type name, for example BIGINT, VARCHAR,
	// DECIMAL(10,2), TIMESTAMP WITH TIME ZONE or INTEGER[].
	Type string
}

// Rows is a stream of result rows. Next returns io.EOF after the last row.
// The slice Next returns may be reused by the following call.
type Rows interface {
	Columns() []Column
	Next() ([]any, error)
}

// Format names an output format.
type Format string

// The supported formats.
const (
	Table   Format = "table"
	CSV     Format = "csv"
	JSON    Format = "json"
	JSONL   Format = "jsonl"
	Parquet Format = "parquet"
	// Arrow is the Arrow IPC stream format, ArrowStreamMediaType.
	Arrow Format = "arrow"
)

var formats = []Format{Table, CSV, JSON, JSONL, Parquet, Arrow}

// Formats lists the supported formats in the order help texts show them.
func Formats() []Format {
	return append([]Format(nil), formats...)
}

// ParseFormat turns a user-supplied name into a Format. Matching ignores
// case and surrounding space. "auto" is not accepted: what it means depends
// on where output goes, which only the caller knows.
func ParseFormat(s string) (Format, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	for _, f := range formats {
		if name == string(f) {
			return f, nil
		}
	}
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown output format %q: want one of %s", s, strings.Join(names, ", "))
}

// DefaultMaxColWidth is the widest a table cell gets before it is cut.
const DefaultMaxColWidth = 40

// TableLookahead is how many rows the table format holds back to size its
// columns before it starts printing.
const TableLookahead = 10000

// Options tunes the output. The zero value gives the defaults.
type Options struct {
	// MaxColWidth caps a table column's display width; longer cells end in
	// "…". Zero means DefaultMaxColWidth; negative means no cap.
	MaxColWidth int
	// NullString is how NULL is shown: "NULL" in tables and the empty
	// string in CSV when left empty. JSON, Parquet and Arrow have real
	// nulls.
	NullString string
	// Footer makes the table format end with "(N rows)".
	Footer bool
}

// Write renders rows to w in format f and reports how many rows it wrote.
// It stops at the first error from rows or w. Write does not close w, so
// os.Stdout is a fine destination for every format, Parquet and Arrow
// included.
func Write(w io.Writer, f Format, rows Rows, opts Options) (n int64, err error) {
	switch f {
	case Table:
		return writeTable(w, rows, opts)
	case CSV:
		return writeCSV(w, rows, opts)
	case JSON:
		return writeJSON(w, rows, false)
	case JSONL:
		return writeJSON(w, rows, true)
	case Parquet:
		return writeParquet(w, rows, memory.DefaultAllocator)
	case Arrow:
		return writeArrow(w, rows, memory.DefaultAllocator)
	}
	_, err = ParseFormat(string(f))
	return 0, err
}

// SliceRows serves rows held in memory.
func SliceRows(cols []Column, data [][]any) Rows {
	return &sliceRows{cols: cols, data: data}
}

type sliceRows struct {
	cols []Column
	data [][]any
	i    int
}

func (r *sliceRows) Columns() []Column { return r.cols }

func (r *sliceRows) Next() ([]any, error) {
	if r.i >= len(r.data) {
		return nil, io.EOF
	}
	row := r.data[r.i]
	r.i++
	return row, nil
}

// uniqueNames gives every column a distinct, non-empty name. JSON objects
// and Arrow schemas (Parquet's included) need that, while SQL happily returns two columns
// both called "id".
func uniqueNames(cols []Column) []string {
	names := make([]string, len(cols))
	seen := make(map[string]bool, len(cols))
	for i, c := range cols {
		seen[c.Name] = true
		names[i] = c.Name
	}
	used := make(map[string]bool, len(cols))
	for i, name := range names {
		if name == "" {
			name = fmt.Sprintf("column%d", i)
		}
		if used[name] {
			base := name
			for k := 1; ; k++ {
				name = fmt.Sprintf("%s_%d", base, k)
				if !used[name] && !seen[name] {
					break
				}
			}
		}
		used[name] = true
		names[i] = name
	}
	return names
}

// checkWidth guards against drivers or adapters handing back rows whose
// length disagrees with Columns, which would otherwise surface as an index
// panic deep inside a writer.
func checkWidth(row []any, ncols int, n int64) error {
	if len(row) != ncols {
		return fmt.Errorf("row %d has %d values for %d columns", n+1, len(row), ncols)
	}
	return nil
}
