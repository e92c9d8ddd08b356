package render

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ArrowBatchRows is how many rows each record batch of the Arrow IPC stream
// holds. It is also how many rows the writer keeps in memory at once.
const ArrowBatchRows = 64 * 1024

// ArrowStreamMediaType is the media type of what the Arrow format writes:
// an Arrow IPC stream, not the Arrow IPC file format (which needs a footer
// and so cannot be read before it is complete).
const ArrowStreamMediaType = "application/vnd.apache.arrow.stream"

// writeArrow writes rows as an Arrow IPC stream: a schema message, one
// record batch per ArrowBatchRows rows, and the end-of-stream marker. An
// empty result is the schema and the marker alone, which readers accept as
// a table with no rows.
//
// When rows fails part way, the error is returned and the end-of-stream
// marker is not written. The stream format has no way to carry an error,
// and readers treat a stream cut off between messages like a finished one,
// so whoever serves the bytes must signal the failure some other way (for
// HTTP, by aborting the response rather than ending it cleanly).
func writeArrow(w io.Writer, rows Rows, mem memory.Allocator) (int64, error) {
	b := newBatcher(rows, mem, ArrowBatchRows)
	defer b.release()
	// The IPC writer issues one small write per buffer of every column;
	// bufio gathers them. It is flushed after each batch so a reader sees
	// every batch as soon as it is complete, not once a megabyte piles up.
	bw := bufio.NewWriterSize(w, 1<<20)
	iw := ipc.NewWriter(bw, ipc.WithSchema(b.schema), ipc.WithAllocator(mem))
	n, err := b.each(func(rec arrow.RecordBatch) error {
		err := iw.Write(rec)
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			return fmt.Errorf("write arrow record batch: %w", err)
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	// Close writes the schema too when no batch has, and leaves w open:
	// the IPC writer never closes what it writes to.
	if err := iw.Close(); err != nil {
		return n, fmt.Errorf("finish arrow stream: %w", err)
	}
	return n, bw.Flush()
}

// appender adds one non-null value to a column builder.
type appender func(v any) error

// batcher turns a Rows stream into Arrow record batches. Parquet and the
// Arrow IPC stream both write through it, so a DuckDB type becomes the
// same Arrow type, and a value the same Arrow value, in either format.
type batcher struct {
	rows      Rows
	cols      []Column
	schema    *arrow.Schema
	rb        *array.RecordBuilder
	appenders []appender
	size      int   // rows per batch
	read      int64 // rows taken from rows so far
	eof       bool
}

func newBatcher(rows Rows, mem memory.Allocator, size int) *batcher {
	cols := rows.Columns()
	types := parseTypes(cols)
	names := uniqueNames(cols)
	fields := make([]arrow.Field, len(cols))
	for i := range cols {
		fields[i] = arrow.Field{Name: names[i], Type: arrowType(types[i]), Nullable: true}
	}
	schema := arrow.NewSchema(fields, nil)
	rb := array.NewRecordBuilder(mem, schema)
	appenders := make([]appender, len(cols))
	for i := range cols {
		appenders[i] = newAppender(rb.Field(i), types[i])
	}
	return &batcher{rows: rows, cols: cols, schema: schema, rb: rb, appenders: appenders, size: size}
}

// each calls write with every batch in order and reports the rows of the
// batches written.
func (b *batcher) each(write func(arrow.RecordBatch) error) (int64, error) {
	var n int64
	for {
		rec, err := b.next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		err = write(rec)
		batch := rec.NumRows()
		rec.Release()
		if err != nil {
			return n, err
		}
		n += batch
	}
}

// next returns a batch of up to size rows, fewer only for the last one, or
// io.EOF once rows are exhausted; an empty result gives io.EOF at once. The
// caller releases the batch. After any other error the batcher is done.
func (b *batcher) next() (arrow.RecordBatch, error) {
	if b.eof {
		return nil, io.EOF
	}
	pending := 0
	for pending < b.size {
		row, err := b.rows.Next()
		if err == io.EOF {
			b.eof = true
			break
		}
		if err == nil {
			err = checkWidth(row, len(b.cols), b.read)
		}
		if err != nil {
			return nil, err
		}
		for i, v := range row {
			if v == nil {
				b.rb.Field(i).AppendNull()
				continue
			}
			if err := b.appenders[i](v); err != nil {
				return nil, fmt.Errorf("row %d, column %q: %w", b.read+1, b.cols[i].Name, err)
			}
		}
		b.read++
		pending++
	}
	if pending == 0 {
		return nil, io.EOF
	}
	return b.rb.NewRecordBatch(), nil
}

// release frees the builder, including a batch left half-built by an error.
func (b *batcher) release() { b.rb.Release() }

func arrowType(t colType) arrow.DataType {
	switch t.kind {
	case kindBool:
		return arrow.FixedWidthTypes.Boolean
	case kindInt8:
		return arrow.PrimitiveTypes.Int8
	case kindInt16:
		return arrow.PrimitiveTypes.Int16
	case kindInt32:
		return arrow.PrimitiveTypes.Int32
	case kindInt64:
		return arrow.PrimitiveTypes.Int64
	case kindUint8:
		return arrow.PrimitiveTypes.Uint8
	case kindUint16:
		return arrow.PrimitiveTypes.Uint16
	case kindUint32:
		return arrow.PrimitiveTypes.Uint32
	case kindUint64:
		return arrow.PrimitiveTypes.Uint64
	case kindFloat32:
		return arrow.PrimitiveTypes.Float32
	case kindFloat64:
		return arrow.PrimitiveTypes.Float64
	case kindDecimal:
		return &arrow.Decimal128Type{Precision: t.precision, Scale: t.scale}
	case kindBlob:
		return arrow.BinaryTypes.Binary
	case kindDate:
		return arrow.FixedWidthTypes.Date32
	case kindTime:
		return arrow.FixedWidthTypes.Time64us
	case kindTimestamp:
		return &arrow.TimestampType{Unit: arrow.Microsecond}
	case kindTimestampNS:
		return &arrow.TimestampType{Unit: arrow.Nanosecond}
	case kindTimestampTZ:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	}
	return arrow.BinaryTypes.String
}

func newAppender(b array.Builder, t colType) appender {
	switch b := b.(type) {
	case *array.BooleanBuilder:
		return func(v any) error {
			x, err := toBool(v)
			if err == nil {
				b.Append(x)
			}
			return err
		}
	case *array.Int8Builder:
		return intAppender(math.MinInt8, math.MaxInt8, func(x int64) { b.Append(int8(x)) })
	case *array.Int16Builder:
		return intAppender(math.MinInt16, math.MaxInt16, func(x int64) { b.Append(int16(x)) })
	case *array.Int32Builder:
		return intAppender(math.MinInt32, math.MaxInt32, func(x int64) { b.Append(int32(x)) })
	case *array.Int64Builder:
		return intAppender(math.MinInt64, math.MaxInt64, b.Append)
	case *array.Uint8Builder:
		return uintAppender(math.MaxUint8, func(x uint64) { b.Append(uint8(x)) })
	case *array.Uint16Builder:
		return uintAppender(math.MaxUint16, func(x uint64) { b.Append(uint16(x)) })
	case *array.Uint32Builder:
		return uintAppender(math.MaxUint32, func(x uint64) { b.Append(uint32(x)) })
	case *array.Uint64Builder:
		return uintAppender(math.MaxUint64, b.Append)
	case *array.Float32Builder:
		return func(v any) error {
			x, err := toFloat(v)
			if err == nil {
				b.Append(float32(x))
			}
			return err
		}
	case *array.Float64Builder:
		return func(v any) error {
			x, err := toFloat(v)
			if err == nil {
				b.Append(x)
			}
			return err
		}
	case *array.Decimal128Builder:
		return func(v any) error {
			x, err := toDecimal(v, t.precision, t.scale)
			if err == nil {
				b.Append(x)
			}
			return err
		}
	case *array.StringBuilder:
		return func(v any) error {
			b.Append(text(v, t))
			return nil
		}
	case *array.BinaryBuilder:
		return func(v any) error {
			switch x := v.(type) {
			case []byte:
				b.Append(x)
			case string:
				b.AppendString(x)
			default:
				return fmt.Errorf("cannot store %T as BLOB", v)
			}
			return nil
		}
	case *array.Date32Builder:
		return func(v any) error {
			tm, err := toTime(v, time.DateOnly)
			if err == nil {
				y, m, d := tm.Date()
				b.Append(arrow.Date32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400))
			}
			return err
		}
	case *array.Time64Builder:
		return func(v any) error {
			if d, ok := v.(time.Duration); ok {
				b.Append(arrow.Time64(d.Microseconds()))
				return nil
			}
			tm, err := toTime(v, "15:04:05.999999")
			if err == nil {
				h, m, s := tm.Clock()
				us := (int64(h)*3600+int64(m)*60+int64(s))*1_000_000 + int64(tm.Nanosecond()/1000)
				b.Append(arrow.Time64(us))
			}
			return err
		}
	case *array.TimestampBuilder:
		return func(v any) error {
			tm, err := toTime(v, "2006-01-02 15:04:05.999999999")
			if err != nil {
				return err
			}
			if t.kind != kindTimestampTZ {
				// A TIMESTAMP is a wall-clock reading; keep the reading
				// whatever zone the driver attached to it.
				y, mo, d := tm.Date()
				h, mi, s := tm.Clock()
				tm = time.Date(y, mo, d, h, mi, s, tm.Nanosecond(), time.UTC)
			}
			if t.kind == kindTimestampNS {
				b.Append(arrow.Timestamp(tm.UnixNano()))
			} else {
				b.Append(arrow.Timestamp(tm.UnixMicro()))
			}
			return nil
		}
	}
	// arrowType and this switch cover the same builders; reaching here
	// means they drifted apart.
	panic(fmt.Sprintf("render: no arrow appender for %T", b))
}

func intAppender(lo, hi int64, add func(int64)) appender {
	return func(v any) error {
		x, err := toInt(v)
		if err != nil {
			return err
		}
		if x < lo || x > hi {
			return fmt.Errorf("value %d out of range [%d, %d]", x, lo, hi)
		}
		add(x)
		return nil
	}
}

func uintAppender(hi uint64, add func(uint64)) appender {
	return func(v any) error {
		x, err := toUint(v)
		if err != nil {
			return err
		}
		if x > hi {
			return fmt.Errorf("value %d out of range [0, %d]", x, hi)
		}
		add(x)
		return nil
	}
}

// numberText gives the text of values that carry a number without being a
// Go number: strings, json.Number, and Stringers such as DuckDB decimals.
func numberText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x), true
	case json.Number:
		return string(x), true
	case fmt.Stringer:
		return x.String(), true
	}
	return "", false
}

func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return x, nil
	case uint, uint8, uint16, uint32, uint64:
		u, _ := toUint(v)
		if u > math.MaxInt64 {
			return 0, fmt.Errorf("value %d out of range for a signed 64-bit integer", u)
		}
		return int64(u), nil
	case float32, float64:
		f, _ := toFloat(v)
		if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
			return 0, fmt.Errorf("value %v is not a 64-bit integer", f)
		}
		return int64(f), nil
	case *big.Int:
		if !x.IsInt64() {
			return 0, fmt.Errorf("value %s out of range for a signed 64-bit integer", x)
		}
		return x.Int64(), nil
	case bool:
		return 0, fmt.Errorf("cannot store BOOLEAN as an integer")
	}
	if s, ok := numberText(v); ok {
		return strconv.ParseInt(s, 10, 64)
	}
	return 0, fmt.Errorf("cannot store %T as an integer", v)
}

func toUint(v any) (uint64, error) {
	switch x := v.(type) {
	case uint:
		return uint64(x), nil
	case uint8:
		return uint64(x), nil
	case uint16:
		return uint64(x), nil
	case uint32:
		return uint64(x), nil
	case uint64:
		return x, nil
	case int, int8, int16, int32, int64:
		i, _ := toInt(v)
		if i < 0 {
			return 0, fmt.Errorf("negative value %d for an unsigned column", i)
		}
		return uint64(i), nil
	case float32, float64:
		f, _ := toFloat(v)
		if f != math.Trunc(f) || f < 0 || f >= math.MaxUint64 {
			return 0, fmt.Errorf("value %v is not an unsigned 64-bit integer", f)
		}
		return uint64(f), nil
	case *big.Int:
		if !x.IsUint64() {
			return 0, fmt.Errorf("value %s out of range for an unsigned 64-bit integer", x)
		}
		return x.Uint64(), nil
	case bool:
		return 0, fmt.Errorf("cannot store BOOLEAN as an integer")
	}
	if s, ok := numberText(v); ok {
		return strconv.ParseUint(s, 10, 64)
	}
	return 0, fmt.Errorf("cannot store %T as an unsigned integer", v)
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float32:
		return float64(x), nil
	case float64:
		return x, nil
	case int, int8, int16, int32, int64:
		i, _ := toInt(v)
		return float64(i), nil
	case uint, uint8, uint16, uint32, uint64:
		u, _ := toUint(v)
		return float64(u), nil
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f, nil
	case bool:
		return 0, fmt.Errorf("cannot store BOOLEAN as a float")
	}
	if f, ok := v.(interface{ Float64() float64 }); ok {
		return f.Float64(), nil
	}
	if s, ok := numberText(v); ok {
		return strconv.ParseFloat(s, 64)
	}
	return 0, fmt.Errorf("cannot store %T as a float", v)
}

func toBool(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		return strconv.ParseBool(strings.TrimSpace(x))
	}
	return false, fmt.Errorf("cannot store %T as BOOLEAN", v)
}

func toDecimal(v any, prec, scale int32) (decimal128.Num, error) {
	var (
		n   decimal128.Num
		err error
	)
	switch x := v.(type) {
	case float32:
		n, err = decimal128.FromFloat64(float64(x), prec, scale)
	case float64:
		n, err = decimal128.FromFloat64(x, prec, scale)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, *big.Int:
		var s string
		if b, ok := x.(*big.Int); ok {
			s = b.String()
		} else {
			s = fmt.Sprint(x)
		}
		n, err = decimal128.FromString(s, prec, scale)
	default:
		s, ok := numberText(v)
		if !ok {
			return n, fmt.Errorf("cannot store %T as DECIMAL(%d,%d)", v, prec, scale)
		}
		n, err = decimal128.FromString(s, prec, scale)
	}
	if err != nil {
		return n, err
	}
	if !n.FitsInPrecision(prec) {
		return n, fmt.Errorf("value %v does not fit DECIMAL(%d,%d)", v, prec, scale)
	}
	return n, nil
}

func toTime(v any, layout string) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case string:
		s := strings.TrimSpace(x)
		if tm, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return tm, nil
		}
		return time.Parse(layout, s)
	}
	return time.Time{}, fmt.Errorf("cannot store %T as a date or time", v)
}
