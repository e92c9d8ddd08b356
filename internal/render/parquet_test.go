package render

import (
	"bytes"
	"context"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

func readParquet(t *testing.T, data []byte) arrow.Table {
	t.Helper()
	tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(data),
		parquet.NewReaderProperties(memory.DefaultAllocator), pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("reading parquet back: %v", err)
	}
	t.Cleanup(tbl.Release)
	return tbl
}

// column flattens one column of a table into Go values, nil for nulls.
func column(t *testing.T, tbl arrow.Table, name string) []any {
	t.Helper()
	idx := tbl.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("column %q: indices %v in %s", name, idx, tbl.Schema())
	}
	var out []any
	for _, chunk := range tbl.Column(idx[0]).Data().Chunks() {
		for i := 0; i < chunk.Len(); i++ {
			if chunk.IsNull(i) {
				out = append(out, nil)
				continue
			}
			switch a := chunk.(type) {
			case *array.Int8:
				out = append(out, a.Value(i))
			case *array.Int16:
				out = append(out, a.Value(i))
			case *array.Int32:
				out = append(out, a.Value(i))
			case *array.Int64:
				out = append(out, a.Value(i))
			case *array.Uint64:
				out = append(out, a.Value(i))
			case *array.Float32:
				out = append(out, a.Value(i))
			case *array.Float64:
				out = append(out, a.Value(i))
			case *array.Boolean:
				out = append(out, a.Value(i))
			case *array.String:
				out = append(out, a.Value(i))
			case *array.Binary:
				out = append(out, string(a.Value(i)))
			case *array.Date32:
				out = append(out, a.Value(i).FormattedString())
			case *array.Time64:
				out = append(out, a.Value(i).FormattedString(arrow.Microsecond))
			case *array.Timestamp:
				unit := a.DataType().(*arrow.TimestampType).Unit
				out = append(out, a.Value(i).ToTime(unit).Format(time.RFC3339Nano))
			case *array.Decimal128:
				scale := a.DataType().(*arrow.Decimal128Type).Scale
				out = append(out, a.Value(i).ToString(scale))
			default:
				t.Fatalf("column %q: unexpected array %T", name, chunk)
			}
		}
	}
	return out
}

// allTypes is a result with a column of every type the Arrow mapping
// distinguishes, shared by the Parquet and Arrow round trips: the Arrow
// type each column should get, and the values read back through column.
func allTypes() (cols []Column, data [][]any, wantTypes map[string]string, want map[string][]any) {
	cols = []Column{
		{"i64", "BIGINT"}, {"i32", "INTEGER"}, {"i16", "SMALLINT"}, {"i8", "TINYINT"},
		{"u64", "UBIGINT"}, {"f64", "DOUBLE"}, {"f32", "REAL"}, {"b", "BOOLEAN"},
		{"s", "VARCHAR"}, {"d", "DATE"}, {"ts", "TIMESTAMP"}, {"tstz", "TIMESTAMP WITH TIME ZONE"},
		{"dec", "DECIMAL(10,2)"}, {"wide", "DECIMAL(38,4)"}, {"blob", "BLOB"}, {"tm", "TIME"},
		{"big", "HUGEINT"}, {"list", "INTEGER[]"}, {"s", "VARCHAR"},
	}
	est := time.FixedZone("EST", -5*3600)
	tod := time.Date(1, 1, 1, 13, 14, 15, 500000000, time.UTC)
	wide, _ := new(big.Int).SetString("12345678901234567890123456789012", 10)
	data = [][]any{
		{int64(math.MaxInt64), int32(math.MinInt32), int16(-300), int8(127),
			uint64(math.MaxUint64), 1.25, float32(0.5), true,
			"漢字 with \"quotes\"\nand newline", day1, ts1, ts1.In(est),
			dec("12345678.90"), decimal{value: wide, scale: 4}, []byte{0, 0xff}, tod,
			huge, []any{int32(1), nil}, "second s"},
		{nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
		{int64(-1), int32(2), int16(3), int8(-4),
			uint64(0), math.Inf(1), float32(-2), false,
			"", time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), ts2, ts2,
			dec("-0.05"), int64(7), []byte{}, tod,
			big.NewInt(-1), []any{}, ""},
	}
	wantTypes = map[string]string{
		"i64": "int64", "i32": "int32", "i16": "int16", "i8": "int8", "u64": "uint64",
		"f64": "float64", "f32": "float32", "b": "bool", "s": "utf8", "d": "date32",
		"ts": "timestamp[us]", "tstz": "timestamp[us, tz=UTC]", "dec": "decimal(10, 2)",
		"wide": "decimal(38, 4)", "blob": "binary", "tm": "time64[us]", "big": "utf8",
		"list": "utf8", "s_1": "utf8",
	}
	want = map[string][]any{
		"i64":  {int64(math.MaxInt64), nil, int64(-1)},
		"i32":  {int32(math.MinInt32), nil, int32(2)},
		"i16":  {int16(-300), nil, int16(3)},
		"i8":   {int8(127), nil, int8(-4)},
		"u64":  {uint64(math.MaxUint64), nil, uint64(0)},
		"f64":  {1.25, nil, math.Inf(1)},
		"f32":  {float32(0.5), nil, float32(-2)},
		"b":    {true, nil, false},
		"s":    {"漢字 with \"quotes\"\nand newline", nil, ""},
		"d":    {"2024-02-29", nil, "1969-12-31"},
		"ts":   {"2024-03-05T14:07:09.123456Z", nil, "1999-12-31T23:59:59Z"},
		"tstz": {"2024-03-05T14:07:09.123456Z", nil, "1999-12-31T23:59:59Z"},
		"dec":  {"12345678.90", nil, "-0.05"},
		"wide": {"1234567890123456789012345678.9012", nil, "7.0000"},
		"blob": {"\x00\xff", nil, ""},
		"tm":   {"13:14:15.500000", nil, "13:14:15.500000"},
		"big":  {"1267650600228229401496703205376", nil, "-1"},
		"list": {"[1, NULL]", nil, "[]"},
		"s_1":  {"second s", nil, ""},
	}
	return cols, data, wantTypes, want
}

// checkAllTypes compares a table read back from either format with
// allTypes' expectations.
func checkAllTypes(t *testing.T, tbl arrow.Table, wantTypes map[string]string, want map[string][]any) {
	t.Helper()
	if tbl.NumRows() != 3 {
		t.Fatalf("%d rows read back, want 3", tbl.NumRows())
	}
	if got := tbl.NumCols(); got != int64(len(wantTypes)) {
		t.Errorf("%d columns read back, want %d", got, len(wantTypes))
	}
	for name, want := range wantTypes {
		idx := tbl.Schema().FieldIndices(name)
		if len(idx) != 1 {
			t.Errorf("no single column %q in %s", name, tbl.Schema())
			continue
		}
		if got := tbl.Schema().Field(idx[0]).Type.String(); got != want {
			t.Errorf("%s: type %s, want %s", name, got, want)
		}
	}
	for name, w := range want {
		got := column(t, tbl, name)
		if len(got) != len(w) {
			t.Errorf("%s: %d values, want %d", name, len(got), len(w))
			continue
		}
		for i := range w {
			if got[i] != w[i] {
				t.Errorf("%s[%d] = %#v, want %#v", name, i, got[i], w[i])
			}
		}
	}
}

func TestParquetRoundTrip(t *testing.T) {
	cols, data, wantTypes, want := allTypes()
	var buf bytes.Buffer
	n, err := Write(&buf, Parquet, SliceRows(cols, data), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("n = %d, want 3", n)
	}
	checkAllTypes(t, readParquet(t, buf.Bytes()), wantTypes, want)
}

func TestParquetRowGroups(t *testing.T) {
	const total = 2*RowGroupRows + 100
	g := &genRows{n: total, value: func(i int) string { return strings.Repeat("x", i%7) }}
	var buf bytes.Buffer
	n, err := Write(&buf, Parquet, g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n != total {
		t.Errorf("n = %d", n)
	}
	rdr, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	if got := rdr.NumRowGroups(); got != 3 {
		t.Errorf("%d row groups, want 3", got)
	}
	if got := rdr.RowGroup(0).NumRows(); got != RowGroupRows {
		t.Errorf("first row group has %d rows", got)
	}
	chunk, err := rdr.MetaData().RowGroup(0).ColumnChunk(0)
	if err != nil {
		t.Fatal(err)
	}
	if got := chunk.Compression(); got != compress.Codecs.Zstd {
		t.Errorf("compression %s, want ZSTD", got)
	}
	tbl := readParquet(t, buf.Bytes())
	ids := column(t, tbl, "i")
	if len(ids) != total || ids[0] != int64(1) || ids[total-1] != int64(total) {
		t.Errorf("ids not preserved: len %d", len(ids))
	}
}

func TestParquetEmptyAndErrors(t *testing.T) {
	var buf bytes.Buffer
	n, err := Write(&buf, Parquet, SliceRows([]Column{{"a", "INTEGER"}}, nil), Options{})
	if err != nil || n != 0 {
		t.Fatalf("n = %d, err = %v", n, err)
	}
	if tbl := readParquet(t, buf.Bytes()); tbl.NumRows() != 0 || tbl.NumCols() != 1 {
		t.Errorf("empty file read back as %d rows, %d cols", tbl.NumRows(), tbl.NumCols())
	}

	bad := SliceRows([]Column{{"a", "TINYINT"}}, [][]any{{int64(1000)}})
	if _, err := Write(&bytes.Buffer{}, Parquet, bad, Options{}); err == nil || !strings.Contains(err.Error(), `column "a"`) {
		t.Errorf("out-of-range value: err = %v", err)
	}
	bad = SliceRows([]Column{{"a", "DECIMAL(4,2)"}}, [][]any{{dec("123.45")}})
	if _, err := Write(&bytes.Buffer{}, Parquet, bad, Options{}); err == nil {
		t.Error("decimal overflow went unnoticed")
	}
}

// closeRecorder is a writer that notices being closed, the way os.Stdout
// would suffer if the Parquet writer closed its destination.
type closeRecorder struct {
	bytes.Buffer
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestParquetLeavesWriterOpen(t *testing.T) {
	var w closeRecorder
	if _, err := Write(&w, Parquet, SliceRows([]Column{{"a", "INTEGER"}}, [][]any{{int32(1)}}), Options{}); err != nil {
		t.Fatal(err)
	}
	if w.closed {
		t.Error("Write closed its destination")
	}
	if !bytes.HasPrefix(w.Bytes(), []byte("PAR1")) || !bytes.HasSuffix(w.Bytes(), []byte("PAR1")) {
		t.Error("output is not a parquet file")
	}
}
