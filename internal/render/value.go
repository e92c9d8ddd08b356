package render

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// text renders a non-nil value the way DuckDB's own shell does, which is
// what people comparing edp output against DuckDB docs will expect.
func text(v any, t colType) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return bytesText(x, t)
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.FormatInt(int64(x), 10)
	case int8:
		return strconv.FormatInt(int64(x), 10)
	case int16:
		return strconv.FormatInt(int64(x), 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint:
		return strconv.FormatUint(uint64(x), 10)
	case uint8:
		return strconv.FormatUint(uint64(x), 10)
	case uint16:
		return strconv.FormatUint(uint64(x), 10)
	case uint32:
		return strconv.FormatUint(uint64(x), 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float32:
		return floatText(float64(x), 32)
	case float64:
		return floatText(x, 64)
	case time.Time:
		return timeText(x, t)
	case time.Duration:
		return x.String()
	case *big.Int:
		if x == nil {
			return "NULL"
		}
		return x.String()
	case []any:
		var b strings.Builder
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(nestedText(e))
		}
		b.WriteByte(']')
		return b.String()
	case map[string]any:
		// The driver hands structs over as maps, so the field order is
		// gone; sorting at least makes the output stable.
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quoteNested(k))
			b.WriteString(": ")
			b.WriteString(nestedText(x[k]))
		}
		b.WriteByte('}')
		return b.String()
	}
	if keys, vals, ok := orderedMap(v); ok {
		return mapText(keys, vals)
	}
	if s, ok := v.(fmt.Stringer); ok {
		return s.String()
	}
	if e, ok := v.(error); ok {
		return e.Error()
	}
	return reflectText(v, t)
}

// nestedText renders a list element or struct field: strings are quoted so
// that ['a, b'] and ['a', 'b'] stay distinguishable.
func nestedText(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return quoteNested(x)
	}
	return text(v, colType{})
}

func quoteNested(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func mapText(keys, vals []any) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(nestedText(keys[i]))
		b.WriteByte('=')
		b.WriteString(nestedText(vals[i]))
	}
	b.WriteByte('}')
	return b.String()
}

func reflectText(v any, t colType) string {
	if s, ok := pointerStringer(v); ok {
		return s
	}
	if iv, ok := interval(v); ok {
		return intervalText(iv)
	}
	if u, ok := union(v); ok {
		if u == nil {
			return "NULL"
		}
		return text(u, t)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		keys, vals := sortedMap(rv)
		return mapText(keys, vals)
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, rv.Len())
			reflect.Copy(reflect.ValueOf(b), rv)
			return bytesText(b, t)
		}
		elems := make([]any, rv.Len())
		for i := range elems {
			elems[i] = rv.Index(i).Interface()
		}
		return text(elems, t)
	case reflect.Pointer:
		if rv.IsNil() {
			return "NULL"
		}
		return text(rv.Elem().Interface(), t)
	}
	return fmt.Sprint(v)
}

func bytesText(b []byte, t colType) string {
	switch {
	case t.kind == kindUUID && len(b) == 16:
		return uuidText(b)
	case t.kind == kindVarchar || t.kind == kindJSON:
		return string(b)
	}
	// DuckDB prints blobs with printable ASCII kept and the rest as \xNN,
	// which keeps binary out of the terminal while staying readable.
	var s strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f && c != '\\' {
			s.WriteByte(c)
		} else {
			fmt.Fprintf(&s, "\\x%02X", c)
		}
	}
	return s.String()
}

func uuidText(b []byte) string {
	var buf [36]byte
	hex.Encode(buf[0:8], b[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], b[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], b[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], b[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], b[10:])
	return string(buf[:])
}

// floatText uses plain notation for everyday magnitudes and exponents
// beyond them, the same cut-over encoding/json uses.
func floatText(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	b := appendFloat(nil, f, bits)
	// DuckDB shows 6.0, not 6, so a DOUBLE never reads as an integer.
	if !bytes.ContainsAny(b, ".e") {
		b = append(b, ".0"...)
	}
	return string(b)
}

func appendFloat(b []byte, f float64, bits int) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		format = 'e'
	}
	return strconv.AppendFloat(b, f, format, -1, bits)
}

func timeText(tm time.Time, t colType) string {
	switch t.kind {
	case kindDate:
		return tm.Format("2006-01-02")
	case kindTime:
		return tm.Format("15:04:05.999999")
	case kindTimeTZ:
		return tm.Format("15:04:05.999999") + offsetText(tm)
	case kindTimestamp:
		return tm.Format("2006-01-02 15:04:05.999999")
	case kindTimestampNS:
		return tm.Format("2006-01-02 15:04:05.999999999")
	case kindTimestampTZ:
		return tm.Format("2006-01-02 15:04:05.999999") + offsetText(tm)
	}
	s := tm.Format("2006-01-02 15:04:05.999999999")
	if tm.Location() != time.UTC {
		s += offsetText(tm)
	}
	return s
}

// offsetText spells a zone offset as DuckDB does: +00, -05, +05:30.
func offsetText(tm time.Time) string {
	_, off := tm.Zone()
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	s := fmt.Sprintf("%c%02d", sign, off/3600)
	if m := off % 3600 / 60; m != 0 {
		s += fmt.Sprintf(":%02d", m)
	}
	return s
}

// intervalValue mirrors the driver's interval struct without importing the
// driver, which would pull cgo into every user of this package.
type intervalValue struct {
	months, days int64
	micros       int64
}

func interval(v any) (intervalValue, bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Struct {
		return intervalValue{}, false
	}
	m, d, us := rv.FieldByName("Months"), rv.FieldByName("Days"), rv.FieldByName("Micros")
	if !m.IsValid() || !d.IsValid() || !us.IsValid() || !m.CanInt() || !d.CanInt() || !us.CanInt() {
		return intervalValue{}, false
	}
	return intervalValue{months: m.Int(), days: d.Int(), micros: us.Int()}, true
}

func intervalText(iv intervalValue) string {
	var parts []string
	unit := func(n int64, name string) {
		if n == 0 {
			return
		}
		if n != 1 && n != -1 {
			name += "s"
		}
		parts = append(parts, fmt.Sprintf("%d %s", n, name))
	}
	unit(iv.months/12, "year")
	unit(iv.months%12, "month")
	unit(iv.days, "day")
	if iv.micros != 0 || len(parts) == 0 {
		us := iv.micros
		sign := ""
		if us < 0 {
			sign, us = "-", -us
		}
		clock := fmt.Sprintf("%s%02d:%02d:%02d", sign, us/3_600_000_000, us/60_000_000%60, us/1_000_000%60)
		if frac := us % 1_000_000; frac != 0 {
			clock += strings.TrimRight(fmt.Sprintf(".%06d", frac), "0")
		}
		parts = append(parts, clock)
	}
	return strings.Join(parts, " ")
}

// union unwraps the driver's UNION value, a struct of Tag and Value, to the
// member value: the tag is part of the type, not of the data.
func union(v any) (any, bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Struct || rv.NumField() != 2 {
		return nil, false
	}
	tag, val := rv.FieldByName("Tag"), rv.FieldByName("Value")
	if !tag.IsValid() || tag.Kind() != reflect.String || !val.IsValid() || !val.CanInterface() {
		return nil, false
	}
	return val.Interface(), true
}

// orderedMap recognises the driver's OrderedMap, whose accessors have
// pointer receivers and so are invisible on the value a row carries.
func orderedMap(v any) (keys, vals []any, ok bool) {
	type kv interface {
		Keys() []any
		Values() []any
	}
	m, ok := v.(kv)
	if !ok {
		if reflect.ValueOf(v).Kind() != reflect.Struct {
			return nil, nil, false
		}
		p, isPtr := addressable(v).(kv)
		if !isPtr {
			return nil, nil, false
		}
		m = p
	}
	keys, vals = m.Keys(), m.Values()
	if len(keys) != len(vals) {
		return nil, nil, false
	}
	return keys, vals, true
}

// pointerStringer catches types such as the driver's UUID, a [16]byte whose
// String method has a pointer receiver.
func pointerStringer(v any) (string, bool) {
	if s, ok := addressable(v).(fmt.Stringer); ok {
		return s.String(), true
	}
	return "", false
}

func addressable(v any) any {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || rv.Kind() == reflect.Pointer {
		return nil
	}
	p := reflect.New(rv.Type())
	p.Elem().Set(rv)
	return p.Interface()
}

func sortedMap(rv reflect.Value) (keys, vals []any) {
	type entry struct {
		key, val any
		sortKey  string
	}
	entries := make([]entry, 0, rv.Len())
	it := rv.MapRange()
	for it.Next() {
		k := it.Key().Interface()
		entries = append(entries, entry{key: k, val: it.Value().Interface(), sortKey: fmt.Sprint(k)})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].sortKey < entries[j].sortKey })
	for _, e := range entries {
		keys = append(keys, e.key)
		vals = append(vals, e.val)
	}
	return keys, vals
}

// isNumber reports whether v is a Go numeric type, for columns whose type
// name says nothing about alignment.
func isNumber(v any) bool {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64,
		float32, float64, *big.Int:
		return true
	}
	return false
}
