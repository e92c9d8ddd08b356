package stream

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
)

// kind is how a column's values are held in Go and staged in DuckDB.
type kind int

const (
	kLong   kind = iota // int64, BIGINT
	kInt                // int64 within int32, INTEGER
	kDouble             // float64, DOUBLE
	kBool               // bool, BOOLEAN
	kString             // string, VARCHAR
	kBinary             // []byte, BLOB
	kTime               // time.Time, TIMESTAMP
	kText               // string, VARCHAR, cast by DuckDB to the column's type when written
)

func (k kind) duckType() string {
	return [...]string{"BIGINT", "INTEGER", "DOUBLE", "BOOLEAN", "VARCHAR", "BLOB", "TIMESTAMP", "VARCHAR"}[k]
}

// kindOf maps an Iceberg column type to how its values are decoded.
func kindOf(t iceberg.Type) kind {
	switch t.(type) {
	case iceberg.Int64Type:
		return kLong
	case iceberg.Int32Type:
		return kInt
	case iceberg.Float32Type, iceberg.Float64Type:
		return kDouble
	case iceberg.BooleanType:
		return kBool
	case iceberg.StringType:
		return kString
	case iceberg.BinaryType:
		return kBinary
	case iceberg.TimestampType, iceberg.TimestampTzType:
		return kTime
	}
	return kText
}

// column is one staged column of a batch.
type column struct {
	name string
	kind kind
	// strict columns exist in the table: a value of another type is a bad
	// record. Columns new to the table (or inferred for a transform's
	// input) widen instead: long → double → string.
	strict bool
}

// errNewField reports a field the table lacks under SchemaFail.
var errNewField = errors.New("record has a field the table lacks")

// decoder turns JSON records into rows of typed values, one per column.
// Columns start as the table's (strict) or as the columns inferred so far;
// new fields are appended as they appear, per the schema-change policy.
type decoder struct {
	cols   []column
	byName map[string]int // lower-case name → index in cols
	policy string
}

func newDecoder(cols []column, policy string) *decoder {
	d := &decoder{policy: policy, byName: map[string]int{}}
	for _, c := range cols {
		d.add(c)
	}
	return d
}

func (d *decoder) add(c column) int {
	d.cols = append(d.cols, c)
	i := len(d.cols) - 1
	d.byName[strings.ToLower(c.name)] = i
	if _, ok := d.byName[c.name]; !ok {
		d.byName[c.name] = i // exact names are found without lowering
	}
	return i
}

// decode parses one record value into row (reused; grown to the column
// count). A nil error with a nil row means the record is a tombstone.
func (d *decoder) decode(value []byte, row []any) ([]any, error) {
	if value == nil {
		return nil, nil
	}
	row = row[:0]
	for range d.cols {
		row = append(row, nil)
	}
	var unknown []string
	var unknownVals map[string]any
	err := scanObject(value, func(key []byte, v any) error {
		i, ok := d.byName[string(key)]
		if !ok {
			i, ok = d.byName[strings.ToLower(string(key))]
		}
		if !ok {
			if v != nil {
				if unknownVals == nil {
					unknownVals = map[string]any{}
				}
				if _, dup := unknownVals[string(key)]; !dup {
					unknown = append(unknown, string(key))
				}
				unknownVals[string(key)] = v
			}
			return nil
		}
		return d.set(row, i, key, v)
	})
	if err != nil {
		return nil, err
	}
	obj := unknownVals
	// New fields become columns in the order the record has them.
	for _, k := range unknown {
		switch d.policy {
		case SchemaIgnore:
			continue
		case SchemaFail:
			return nil, fmt.Errorf("%w: %q", errNewField, k)
		}
		i, ok := d.byName[strings.ToLower(k)]
		if !ok {
			i = d.add(column{name: k, kind: inferKind(obj[k])})
			row = append(row, nil)
		}
		if err := d.set(row, i, []byte(k), obj[k]); err != nil {
			return nil, err
		}
	}
	return row, nil
}

func (d *decoder) set(row []any, i int, name []byte, v any) error {
	if v == nil {
		return nil
	}
	c := &d.cols[i]
	val, err := convert(v, c.kind)
	if err != nil && !c.strict {
		c.kind = widen(c.kind, inferKind(v))
		val, err = convert(v, c.kind)
	}
	if err != nil {
		return fmt.Errorf("field %s: %v", name, err)
	}
	row[i] = val
	return nil
}

// inferKind is the column kind a first JSON value suggests.
func inferKind(v any) kind {
	switch v := v.(type) {
	case bool:
		return kBool
	case json.Number:
		if _, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return kLong
		}
		return kDouble
	}
	return kString
}

// widen is the narrowest kind holding values of both kinds.
func widen(a, b kind) kind {
	if a == b {
		return a
	}
	if (a == kLong || a == kInt) && b == kDouble || a == kDouble && (b == kLong || b == kInt) {
		return kDouble
	}
	return kString
}

// convert turns a decoded JSON value into the Go value of kind k.
func convert(v any, k kind) (any, error) {
	switch k {
	case kLong, kInt:
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("want an integer, got %s", jsonKind(v))
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("want an integer, got %s", n)
		}
		if k == kInt && (i < math.MinInt32 || i > math.MaxInt32) {
			return nil, fmt.Errorf("%d does not fit a 32-bit integer", i)
		}
		return i, nil
	case kDouble:
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("want a number, got %s", jsonKind(v))
		}
		return n.Float64()
	case kBool:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("want true or false, got %s", jsonKind(v))
		}
		return b, nil
	case kString, kText:
		switch v := v.(type) {
		case string:
			return v, nil
		case rawJSON:
			return string(v), nil
		case json.Number:
			return string(v), nil
		case bool:
			return strconv.FormatBool(v), nil
		}
		b, err := json.Marshal(v)
		return string(b), err
	case kBinary:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a base64 string, got %s", jsonKind(v))
		}
		return base64.StdEncoding.DecodeString(s)
	case kTime:
		switch v := v.(type) {
		case string:
			for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
				if t, err := time.Parse(layout, v); err == nil {
					return t.UTC(), nil
				}
			}
			return nil, fmt.Errorf("want a timestamp like 2006-01-02T15:04:05Z, got %q", v)
		case json.Number:
			// Numbers are epoch milliseconds, as Kafka timestamps are.
			ms, err := v.Int64()
			if err != nil {
				return nil, fmt.Errorf("want epoch milliseconds, got %s", v)
			}
			return time.UnixMilli(ms).UTC(), nil
		}
		return nil, fmt.Errorf("want a timestamp, got %s", jsonKind(v))
	}
	return nil, fmt.Errorf("unsupported column kind %d", k)
}

func jsonKind(v any) string {
	switch v := v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "the number " + string(v)
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case rawJSON:
		if len(v) > 0 && v[0] == '[' {
			return "an array"
		}
		return "an object"
	}
	return "null"
}

// tableColumns are the strict columns of a table schema.
func tableColumns(schema *iceberg.Schema) []column {
	var out []column
	for _, f := range schema.Fields() {
		out = append(out, column{name: f.Name, kind: kindOf(f.Type), strict: true})
	}
	return out
}

// stagedTypes are the DuckDB types new columns get in the table.
func icebergTypeOf(k kind) iceberg.Type {
	switch k {
	case kLong:
		return iceberg.PrimitiveTypes.Int64
	case kInt:
		return iceberg.PrimitiveTypes.Int32
	case kDouble:
		return iceberg.PrimitiveTypes.Float64
	case kBool:
		return iceberg.PrimitiveTypes.Bool
	case kBinary:
		return iceberg.PrimitiveTypes.Binary
	case kTime:
		return iceberg.PrimitiveTypes.TimestampTz
	}
	return iceberg.PrimitiveTypes.String
}
