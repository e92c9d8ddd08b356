package render

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/mattn/go-runewidth"
)

type tableWriter struct {
	w      *bufio.Writer
	types  []colType
	widths []int
	right  []bool
	null   string
	line   []byte
}

func writeTable(w io.Writer, rows Rows, opts Options) (int64, error) {
	cols := rows.Columns()
	maxW := opts.MaxColWidth
	switch {
	case maxW == 0:
		maxW = DefaultMaxColWidth
	case maxW < 0:
		maxW = math.MaxInt
	}
	t := &tableWriter{
		w:      bufio.NewWriter(w),
		types:  parseTypes(cols),
		widths: make([]int, len(cols)),
		right:  make([]bool, len(cols)),
		null:   opts.NullString,
	}
	if t.null == "" {
		t.null = "NULL"
	}

	// Untyped columns are right-aligned only when every value seen is a
	// number; one string among them and the column reads as text.
	numbers := make([]int, len(cols))
	others := make([]int, len(cols))

	header := make([]string, len(cols))
	for i, c := range cols {
		header[i] = escapeCell(c.Name)
		t.widths[i] = max(1, runewidth.StringWidth(header[i]))
	}
	var (
		held [][]string
		done bool
	)
	for len(held) < TableLookahead {
		row, err := rows.Next()
		if err == io.EOF {
			done = true
			break
		}
		if err != nil {
			return 0, err
		}
		if err := checkWidth(row, len(cols), int64(len(held))); err != nil {
			return 0, err
		}
		for i, v := range row {
			switch {
			case v == nil:
			case isNumber(v):
				numbers[i]++
			default:
				others[i]++
			}
		}
		cells := t.cells(row)
		for i, c := range cells {
			t.widths[i] = max(t.widths[i], runewidth.StringWidth(c))
		}
		held = append(held, cells)
	}
	for i := range cols {
		t.widths[i] = min(t.widths[i], maxW)
		if t.types[i].kind == kindUnknown {
			t.right[i] = numbers[i] > 0 && others[i] == 0
		} else {
			t.right[i] = t.types[i].numeric()
		}
	}

	if len(cols) > 0 {
		// Write errors stick in the bufio.Writer, so checking the last
		// of these three is enough.
		t.border()
		t.row(header)
		if err := t.border(); err != nil {
			return 0, err
		}
	}
	var n int64
	for _, cells := range held {
		if err := t.row(cells); err != nil {
			return n, err
		}
		n++
	}
	held = nil
	for !done {
		row, err := rows.Next()
		if err == io.EOF {
			break
		}
		if err == nil {
			err = checkWidth(row, len(cols), n)
		}
		if err == nil {
			err = t.row(t.cells(row))
		}
		if err != nil {
			t.w.Flush()
			return n, err
		}
		n++
	}
	if len(cols) > 0 {
		t.border()
	}
	if opts.Footer {
		if n == 1 {
			t.w.WriteString("(1 row)\n")
		} else {
			fmt.Fprintf(t.w, "(%d rows)\n", n)
		}
	}
	return n, t.w.Flush()
}

func (t *tableWriter) cells(row []any) []string {
	cells := make([]string, len(row))
	for i, v := range row {
		if v == nil {
			cells[i] = t.null
		} else {
			cells[i] = escapeCell(text(v, t.types[i]))
		}
	}
	return cells
}

func (t *tableWriter) border() error {
	t.line = append(t.line[:0], '+')
	for _, w := range t.widths {
		for range w + 2 {
			t.line = append(t.line, '-')
		}
		t.line = append(t.line, '+')
	}
	t.line = append(t.line, '\n')
	_, err := t.w.Write(t.line)
	return err
}

func (t *tableWriter) row(cells []string) error {
	t.line = append(t.line[:0], '|')
	for i, c := range cells {
		w := t.widths[i]
		cw := runewidth.StringWidth(c)
		if cw > w {
			c = runewidth.Truncate(c, w, "…")
			cw = runewidth.StringWidth(c)
		}
		pad := max(0, w-cw)
		t.line = append(t.line, ' ')
		if t.right[i] {
			t.line = appendSpaces(t.line, pad)
			t.line = append(t.line, c...)
		} else {
			t.line = append(t.line, c...)
			t.line = appendSpaces(t.line, pad)
		}
		t.line = append(t.line, ' ', '|')
	}
	t.line = append(t.line, '\n')
	_, err := t.w.Write(t.line)
	return err
}

func appendSpaces(b []byte, n int) []byte {
	for range n {
		b = append(b, ' ')
	}
	return b
}

// escapeCell keeps every cell on one line: a raw newline or tab inside a
// value would tear the grid apart, so control characters are shown escaped.
func escapeCell(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02X`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
