package render

import (
	"encoding/csv"
	"io"
)

func writeCSV(w io.Writer, rows Rows, opts Options) (int64, error) {
	cols := rows.Columns()
	types := parseTypes(cols)
	cw := csv.NewWriter(w)
	record := make([]string, len(cols))
	for i, c := range cols {
		record[i] = c.Name
	}
	if err := cw.Write(record); err != nil {
		return 0, err
	}
	var n int64
	for {
		row, err := rows.Next()
		if err == io.EOF {
			break
		}
		if err == nil {
			err = checkWidth(row, len(cols), n)
		}
		if err != nil {
			cw.Flush()
			return n, err
		}
		for i, v := range row {
			if v == nil {
				record[i] = opts.NullString
			} else {
				record[i] = text(v, types[i])
			}
		}
		if err := cw.Write(record); err != nil {
			return n, err
		}
		n++
	}
	cw.Flush()
	return n, cw.Error()
}
