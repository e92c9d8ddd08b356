package render

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"reflect"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// writeJSON streams either one array of objects or, for lines, one object
// per line. Objects are assembled by hand rather than through maps so that
// keys keep the column order.
func writeJSON(w io.Writer, rows Rows, lines bool) (int64, error) {
	cols := rows.Columns()
	types := parseTypes(cols)
	keys := make([][]byte, len(cols))
	for i, name := range uniqueNames(cols) {
		keys[i] = appendJSONString(nil, name)
	}
	bw := bufio.NewWriter(w)
	var (
		n   int64
		buf []byte
	)
	for {
		row, err := rows.Next()
		if err == io.EOF {
			break
		}
		if err == nil {
			err = checkWidth(row, len(cols), n)
		}
		if err != nil {
			if !lines && n > 0 {
				// Close the array so that what was written still parses.
				bw.WriteString("\n]\n")
			}
			bw.Flush()
			return n, err
		}
		buf = buf[:0]
		switch {
		case lines:
		case n == 0:
			buf = append(buf, "[\n"...)
		default:
			buf = append(buf, ",\n"...)
		}
		buf = append(buf, '{')
		for i, v := range row {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, keys[i]...)
			buf = append(buf, ':')
			buf = appendJSON(buf, v, types[i])
		}
		buf = append(buf, '}')
		if lines {
			buf = append(buf, '\n')
		}
		if _, err := bw.Write(buf); err != nil {
			return n, err
		}
		n++
	}
	if !lines {
		if n == 0 {
			bw.WriteString("[]\n")
		} else {
			bw.WriteString("\n]\n")
		}
	}
	return n, bw.Flush()
}

func appendJSON(b []byte, v any, t colType) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int8:
		return strconv.AppendInt(b, int64(x), 10)
	case int16:
		return strconv.AppendInt(b, int64(x), 10)
	case int32:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case uint:
		return strconv.AppendUint(b, uint64(x), 10)
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10)
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10)
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10)
	case uint64:
		return strconv.AppendUint(b, x, 10)
	case float32:
		return appendJSONFloat(b, float64(x), 32)
	case float64:
		return appendJSONFloat(b, x, 64)
	case string:
		if t.kind == kindJSON && json.Valid([]byte(x)) {
			return appendCompact(b, []byte(x))
		}
		return appendJSONString(b, x)
	case []byte:
		switch {
		case t.kind == kindUUID && len(x) == 16:
			return appendJSONString(b, uuidText(x))
		case t.kind == kindJSON && json.Valid(x):
			return appendCompact(b, x)
		case t.kind == kindVarchar:
			return appendJSONString(b, string(x))
		}
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, x)
		return append(b, '"')
	case time.Time:
		return appendJSONString(b, jsonTime(x, t))
	case time.Duration:
		return appendJSONString(b, x.String())
	case *big.Int:
		if x == nil {
			return append(b, "null"...)
		}
		// Numbers beyond 2^53 lose precision in JavaScript but stay exact
		// for readers that parse JSON numbers as decimals; a string would
		// force every reader to special-case them.
		return x.Append(b, 10)
	case json.Number:
		if isJSONNumber(string(x)) {
			return append(b, x...)
		}
		return appendJSONString(b, string(x))
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e, colType{})
		}
		return append(b, ']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSON(b, x[k], colType{})
		}
		return append(b, '}')
	}
	if keys, vals, ok := orderedMap(v); ok {
		return appendJSONMap(b, keys, vals)
	}
	if s, ok := v.(fmt.Stringer); ok {
		str := s.String()
		// DECIMAL and HUGEINT values arrive as Stringers; their text is
		// already an exact JSON number.
		if t.numeric() && isJSONNumber(str) {
			return append(b, str...)
		}
		return appendJSONString(b, str)
	}
	return appendJSONReflect(b, v, t)
}

func appendJSONReflect(b []byte, v any, t colType) []byte {
	if s, ok := pointerStringer(v); ok {
		return appendJSONString(b, s)
	}
	if iv, ok := interval(v); ok {
		return appendJSONString(b, intervalText(iv))
	}
	if u, ok := union(v); ok {
		return appendJSON(b, u, colType{})
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		keys, vals := sortedMap(rv)
		return appendJSONMap(b, keys, vals)
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			raw := make([]byte, rv.Len())
			reflect.Copy(reflect.ValueOf(raw), rv)
			return appendJSON(b, raw, t)
		}
		elems := make([]any, rv.Len())
		for i := range elems {
			elems[i] = rv.Index(i).Interface()
		}
		return appendJSON(b, elems, t)
	case reflect.Pointer:
		if rv.IsNil() {
			return append(b, "null"...)
		}
		return appendJSON(b, rv.Elem().Interface(), t)
	}
	if e, ok := v.(error); ok {
		return appendJSONString(b, e.Error())
	}
	return appendJSONString(b, fmt.Sprint(v))
}

// appendJSONMap writes a DuckDB MAP as an object; JSON keys must be
// strings, so other key types are spelled out as text.
func appendJSONMap(b []byte, keys, vals []any) []byte {
	b = append(b, '{')
	for i := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		k, ok := keys[i].(string)
		if !ok {
			if keys[i] == nil {
				k = "null"
			} else {
				k = text(keys[i], colType{})
			}
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSON(b, vals[i], colType{})
	}
	return append(b, '}')
}

// appendJSONFloat writes NaN and infinities as null: JSON has no spelling
// for them and a string would break readers expecting numbers.
func appendJSONFloat(b []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	return appendFloat(b, f, bits)
}

func jsonTime(tm time.Time, t colType) string {
	switch t.kind {
	case kindDate:
		return tm.Format(time.DateOnly)
	case kindTime:
		return tm.Format("15:04:05.999999")
	case kindTimeTZ:
		return tm.Format("15:04:05.999999Z07:00")
	}
	return tm.Format(time.RFC3339Nano)
}

func appendCompact(b []byte, raw []byte) []byte {
	var out bytes.Buffer
	if err := json.Compact(&out, raw); err != nil {
		return appendJSONString(b, string(raw))
	}
	return append(b, out.Bytes()...)
}

func isJSONNumber(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	if s[i] == '-' {
		i++
	}
	digits := func() int {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - start
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

const hexDigits = "0123456789abcdef"

// appendJSONString escapes like encoding/json but leaves <, > and & alone:
// this output is read by programs and people, never embedded in HTML.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but end lines in JavaScript,
		// which matters for JSON Lines consumers that split naively.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
