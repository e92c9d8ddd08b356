package render

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// eos is the Arrow IPC end-of-stream marker: a continuation token and a
// zero message length.
var eos = []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}

// writeArrowChecked writes rows with an allocator that fails the test if
// the writer leaks any of the memory it allocated.
func writeArrowChecked(t *testing.T, w io.Writer, rows Rows) (int64, error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	n, err := writeArrow(w, rows, mem)
	mem.AssertSize(t, 0)
	return n, err
}

// readArrow reads an IPC stream back as its schema and record batches.
func readArrow(t *testing.T, data []byte) (*arrow.Schema, []arrow.RecordBatch) {
	t.Helper()
	r, err := ipc.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("reading arrow stream back: %v", err)
	}
	defer r.Release()
	var recs []arrow.RecordBatch
	for r.Next() {
		rec := r.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := r.Err(); err != nil {
		t.Fatalf("reading arrow stream back: %v", err)
	}
	t.Cleanup(func() {
		for _, rec := range recs {
			rec.Release()
		}
	})
	return r.Schema(), recs
}

func arrowTable(t *testing.T, schema *arrow.Schema, recs []arrow.RecordBatch) arrow.Table {
	t.Helper()
	tbl := array.NewTableFromRecords(schema, recs)
	t.Cleanup(tbl.Release)
	return tbl
}

func TestArrowRoundTrip(t *testing.T) {
	cols, data, wantTypes, want := allTypes()
	var buf bytes.Buffer
	n, err := writeArrowChecked(t, &buf, SliceRows(cols, data))
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("n = %d, want 3", n)
	}
	if !bytes.HasSuffix(buf.Bytes(), eos) {
		t.Error("stream does not end with the end-of-stream marker")
	}
	schema, recs := readArrow(t, buf.Bytes())
	if len(recs) != 1 {
		t.Errorf("%d record batches, want 1", len(recs))
	}
	checkAllTypes(t, arrowTable(t, schema, recs), wantTypes, want)

	// Write with the Arrow format goes the same way.
	var viaWrite bytes.Buffer
	if _, err := Write(&viaWrite, Arrow, SliceRows(cols, data), Options{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(viaWrite.Bytes(), buf.Bytes()) {
		t.Error("Write(Arrow) and writeArrow produced different streams")
	}
}

func TestArrowEmpty(t *testing.T) {
	cols := []Column{{"a", "INTEGER"}, {"b", "VARCHAR"}}
	var buf bytes.Buffer
	n, err := writeArrowChecked(t, &buf, SliceRows(cols, nil))
	if err != nil || n != 0 {
		t.Fatalf("writeArrow(empty) = %d, %v, want 0, nil", n, err)
	}
	if !bytes.HasSuffix(buf.Bytes(), eos) {
		t.Error("stream does not end with the end-of-stream marker")
	}
	schema, recs := readArrow(t, buf.Bytes())
	if len(recs) != 0 {
		t.Errorf("%d record batches, want none", len(recs))
	}
	if got, want := schema.String(), arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "b", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil).String(); got != want {
		t.Errorf("schema\n%s\nwant\n%s", got, want)
	}
}

func TestArrowBatches(t *testing.T) {
	const total = 2*ArrowBatchRows + 100
	g := &genRows{n: total, value: func(i int) string { return strings.Repeat("x", i%7) }}
	out := &firstWrite{g: g}
	n, err := writeArrowChecked(t, out, g)
	if err != nil {
		t.Fatal(err)
	}
	if n != total {
		t.Errorf("n = %d, want %d", n, total)
	}
	// Streaming: the first bytes reach the destination once the first
	// batch is complete, not after the whole result has been read.
	if out.atFirst != ArrowBatchRows {
		t.Errorf("first write after %d rows, want %d", out.atFirst, ArrowBatchRows)
	}
	schema, recs := readArrow(t, out.w.Bytes())
	var sizes []int64
	for _, rec := range recs {
		sizes = append(sizes, rec.NumRows())
	}
	if want := []int64{ArrowBatchRows, ArrowBatchRows, 100}; !equalInts(sizes, want) {
		t.Errorf("batch sizes %v, want %v", sizes, want)
	}
	tbl := arrowTable(t, schema, recs)
	ids := column(t, tbl, "i")
	ss := column(t, tbl, "s")
	if len(ids) != total || len(ss) != total {
		t.Fatalf("read back %d ids and %d strings, want %d", len(ids), len(ss), total)
	}
	for i := range total {
		if ids[i] != int64(i+1) || ss[i] != strings.Repeat("x", (i+1)%7) {
			t.Fatalf("row %d = (%v, %q), want (%d, %q)", i, ids[i], ss[i], i+1, strings.Repeat("x", (i+1)%7))
		}
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestArrowErrorMidStream(t *testing.T) {
	g := &genRows{n: 3 * ArrowBatchRows, value: func(int) string { return "v" }}
	rows := &failingRows{Rows: g, after: ArrowBatchRows + 10}
	var buf bytes.Buffer
	n, err := writeArrowChecked(t, &buf, rows)
	if !errors.Is(err, errBoom) {
		t.Fatalf("err = %v, want %v", err, errBoom)
	}
	if n != ArrowBatchRows {
		t.Errorf("n = %d, want %d (the one batch written before the error)", n, ArrowBatchRows)
	}
	if bytes.HasSuffix(buf.Bytes(), eos) {
		t.Error("a failed stream ends with the end-of-stream marker, as if complete")
	}

	// A value that does not fit its column is an error naming row and
	// column, after the batches before it have been written.
	data := make([][]any, ArrowBatchRows+2)
	for i := range data {
		data[i] = []any{int64(i)}
	}
	data[ArrowBatchRows+1] = []any{int64(1) << 40}
	bad := SliceRows([]Column{{"a", "INTEGER"}}, data)
	n, err = writeArrowChecked(t, io.Discard, bad)
	if err == nil || !strings.Contains(err.Error(), `row 65538, column "a"`) {
		t.Errorf("out-of-range value: err = %v, want one naming row 65538, column \"a\"", err)
	}
	if n != ArrowBatchRows {
		t.Errorf("out-of-range value: n = %d, want %d", n, ArrowBatchRows)
	}
}

func TestArrowLeavesWriterOpen(t *testing.T) {
	var w closeRecorder
	if _, err := Write(&w, Arrow, SliceRows([]Column{{"a", "INTEGER"}}, [][]any{{int32(1)}}), Options{}); err != nil {
		t.Fatal(err)
	}
	if w.closed {
		t.Error("Write closed its destination")
	}
}
