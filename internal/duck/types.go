package duck

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"
)

// DuckType renders an Iceberg type as the DuckDB type that holds it exactly.
func DuckType(t iceberg.Type) string {
	switch t := t.(type) {
	case iceberg.BooleanType:
		return "BOOLEAN"
	case iceberg.Int32Type:
		return "INTEGER"
	case iceberg.Int64Type:
		return "BIGINT"
	case iceberg.Float32Type:
		return "FLOAT"
	case iceberg.Float64Type:
		return "DOUBLE"
	case iceberg.DecimalType:
		return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision(), t.Scale())
	case iceberg.DateType:
		return "DATE"
	case iceberg.TimeType:
		return "TIME"
	case iceberg.TimestampType:
		return "TIMESTAMP"
	case iceberg.TimestampTzType:
		return "TIMESTAMP WITH TIME ZONE"
	case iceberg.TimestampNsType:
		return "TIMESTAMP_NS"
	case iceberg.TimestampTzNsType:
		return "TIMESTAMP WITH TIME ZONE"
	case iceberg.StringType:
		return "VARCHAR"
	case iceberg.UUIDType:
		return "UUID"
	case iceberg.BinaryType, iceberg.FixedType:
		return "BLOB"
	case *iceberg.StructType:
		parts := make([]string, len(t.FieldList))
		for i, f := range t.FieldList {
			parts[i] = Ident(f.Name) + " " + DuckType(f.Type)
		}
		return "STRUCT(" + strings.Join(parts, ", ") + ")"
	case *iceberg.ListType:
		return DuckType(t.Element) + "[]"
	case *iceberg.MapType:
		return "MAP(" + DuckType(t.KeyType) + ", " + DuckType(t.ValueType) + ")"
	}
	return "VARCHAR"
}

// IcebergType parses a DuckDB type name (as DESCRIBE prints it) into the
// Iceberg type that holds it. nextID numbers nested fields. DuckDB types
// with no lossless Iceberg counterpart are refused, naming the type.
func IcebergType(duckType string, nextID func() int) (iceberg.Type, error) {
	p := &typeParser{s: duckType, nextID: nextID}
	t, err := p.parse()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("unsupported type %q", duckType)
	}
	return t, nil
}

type typeParser struct {
	s      string
	i      int
	nextID func() int
}

func (p *typeParser) skipSpace() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *typeParser) word() string {
	p.skipSpace()
	start := p.i
	for p.i < len(p.s) && (isWordByte(p.s[p.i])) {
		p.i++
	}
	return strings.ToUpper(p.s[start:p.i])
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *typeParser) expect(c byte) error {
	p.skipSpace()
	if p.i >= len(p.s) || p.s[p.i] != c {
		return fmt.Errorf("unsupported type %q: expected %q at offset %d", p.s, c, p.i)
	}
	p.i++
	return nil
}

func (p *typeParser) peek() byte {
	p.skipSpace()
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// name reads a field name: a bare word or a double-quoted identifier.
func (p *typeParser) name() (string, error) {
	p.skipSpace()
	if p.peek() != '"' {
		start := p.i
		for p.i < len(p.s) && p.s[p.i] != ' ' {
			p.i++
		}
		return p.s[start:p.i], nil
	}
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		if c == '"' {
			if p.i < len(p.s) && p.s[p.i] == '"' {
				b.WriteByte('"')
				p.i++
				continue
			}
			return b.String(), nil
		}
		b.WriteByte(c)
	}
	return "", fmt.Errorf("unsupported type %q: unterminated field name", p.s)
}

func (p *typeParser) parse() (iceberg.Type, error) {
	t, err := p.base()
	if err != nil {
		return nil, err
	}
	// Array suffixes: T[] and fixed-size T[n] both become lists.
	for p.peek() == '[' {
		p.i++
		for p.i < len(p.s) && p.s[p.i] != ']' {
			p.i++
		}
		if err := p.expect(']'); err != nil {
			return nil, err
		}
		t = &iceberg.ListType{ElementID: p.nextID(), Element: t}
	}
	return t, nil
}

func (p *typeParser) base() (iceberg.Type, error) {
	w := p.word()
	switch w {
	case "BOOLEAN", "BOOL", "LOGICAL":
		return iceberg.PrimitiveTypes.Bool, nil
	case "TINYINT", "INT1", "SMALLINT", "INT2", "SHORT", "INTEGER", "INT4", "INT", "SIGNED", "UTINYINT", "USMALLINT":
		return iceberg.PrimitiveTypes.Int32, nil
	case "BIGINT", "INT8", "LONG", "UINTEGER":
		return iceberg.PrimitiveTypes.Int64, nil
	case "FLOAT", "FLOAT4", "REAL":
		return iceberg.PrimitiveTypes.Float32, nil
	case "DOUBLE", "FLOAT8":
		if p.peekWord("PRECISION") {
			p.word()
		}
		return iceberg.PrimitiveTypes.Float64, nil
	case "DECIMAL", "NUMERIC":
		prec, scale := 18, 3 // DuckDB's default for a bare DECIMAL
		if p.peek() == '(' {
			p.i++
			var err error
			if prec, err = p.int(); err != nil {
				return nil, err
			}
			scale = 0
			if p.peek() == ',' {
				p.i++
				if scale, err = p.int(); err != nil {
					return nil, err
				}
			}
			if err := p.expect(')'); err != nil {
				return nil, err
			}
		}
		return iceberg.DecimalTypeOf(prec, scale), nil
	case "VARCHAR", "TEXT", "STRING", "CHAR", "BPCHAR", "JSON":
		if p.peek() == '(' { // VARCHAR(n): the length is not enforced by DuckDB either
			for p.i < len(p.s) && p.s[p.i] != ')' {
				p.i++
			}
			p.i++
		}
		return iceberg.PrimitiveTypes.String, nil
	case "ENUM":
		if err := p.skipParens(); err != nil {
			return nil, err
		}
		return iceberg.PrimitiveTypes.String, nil
	case "BLOB", "BYTEA", "BINARY", "VARBINARY":
		return iceberg.PrimitiveTypes.Binary, nil
	case "UUID":
		return iceberg.PrimitiveTypes.UUID, nil
	case "DATE":
		return iceberg.PrimitiveTypes.Date, nil
	case "TIME":
		if p.peekWord("WITH") {
			return nil, fmt.Errorf("unsupported type %q: Iceberg has no time with time zone", p.s)
		}
		return iceberg.PrimitiveTypes.Time, nil
	case "TIMESTAMP", "DATETIME", "TIMESTAMP_US", "TIMESTAMP_MS", "TIMESTAMP_S":
		if p.peekWord("WITH") {
			p.word() // WITH
			p.word() // TIME
			p.word() // ZONE
			return iceberg.PrimitiveTypes.TimestampTz, nil
		}
		return iceberg.PrimitiveTypes.Timestamp, nil
	case "TIMESTAMPTZ":
		return iceberg.PrimitiveTypes.TimestampTz, nil
	case "TIMESTAMP_NS":
		// Nanosecond timestamps need Iceberg v3; edp tables are v2.
		return iceberg.PrimitiveTypes.Timestamp, nil
	case "STRUCT", "ROW":
		if err := p.expect('('); err != nil {
			return nil, err
		}
		var fields []iceberg.NestedField
		for {
			name, err := p.name()
			if err != nil {
				return nil, err
			}
			id := p.nextID()
			t, err := p.parse()
			if err != nil {
				return nil, err
			}
			fields = append(fields, iceberg.NestedField{ID: id, Name: name, Type: t})
			if p.peek() == ',' {
				p.i++
				continue
			}
			if err := p.expect(')'); err != nil {
				return nil, err
			}
			return &iceberg.StructType{FieldList: fields}, nil
		}
	case "LIST":
		if err := p.expect('('); err != nil {
			return nil, err
		}
		id := p.nextID()
		el, err := p.parse()
		if err != nil {
			return nil, err
		}
		if err := p.expect(')'); err != nil {
			return nil, err
		}
		return &iceberg.ListType{ElementID: id, Element: el}, nil
	case "MAP":
		if err := p.expect('('); err != nil {
			return nil, err
		}
		kid := p.nextID()
		k, err := p.parse()
		if err != nil {
			return nil, err
		}
		if err := p.expect(','); err != nil {
			return nil, err
		}
		vid := p.nextID()
		v, err := p.parse()
		if err != nil {
			return nil, err
		}
		if err := p.expect(')'); err != nil {
			return nil, err
		}
		return &iceberg.MapType{KeyID: kid, KeyType: k, ValueID: vid, ValueType: v}, nil
	case "HUGEINT", "UHUGEINT", "UBIGINT", "BIGNUM", "VARINT":
		return nil, fmt.Errorf("unsupported type %s: Iceberg has no integer wider than 64 bits; CAST to BIGINT or DECIMAL(38,0)", w)
	case "INTERVAL":
		return nil, fmt.Errorf("unsupported type INTERVAL: Iceberg has no interval type; store it as a number of seconds or a string")
	case "NULL", `"NULL"`:
		return nil, fmt.Errorf("column has no type (a bare NULL): CAST it to a type")
	case "":
		return nil, fmt.Errorf("unsupported type %q", p.s)
	}
	return nil, fmt.Errorf("unsupported type %s", w)
}

func (p *typeParser) peekWord(w string) bool {
	save := p.i
	got := p.word()
	p.i = save
	return got == w
}

func (p *typeParser) int() (int, error) {
	w := p.word()
	n, err := strconv.Atoi(w)
	if err != nil {
		return 0, fmt.Errorf("unsupported type %q: expected a number, got %q", p.s, w)
	}
	return n, nil
}

func (p *typeParser) skipParens() error {
	if err := p.expect('('); err != nil {
		return err
	}
	depth, inStr := 1, false
	for p.i < len(p.s) && depth > 0 {
		c := p.s[p.i]
		p.i++
		switch {
		case inStr:
			if c == '\'' {
				inStr = false
			}
		case c == '\'':
			inStr = true
		case c == '(':
			depth++
		case c == ')':
			depth--
		}
	}
	if depth != 0 {
		return fmt.Errorf("unsupported type %q: unbalanced parentheses", p.s)
	}
	return nil
}

// SchemaFromColumns builds an Iceberg schema (fresh field ids, all columns
// optional) from DuckDB column names and types.
func SchemaFromColumns(names, types []string) (*iceberg.Schema, error) {
	id := len(names)
	next := func() int { id++; return id }
	fields := make([]iceberg.NestedField, len(names))
	seen := map[string]bool{}
	for i := range names {
		lower := strings.ToLower(names[i])
		if seen[lower] {
			return nil, fmt.Errorf("duplicate column name %q", names[i])
		}
		seen[lower] = true
		t, err := IcebergType(types[i], next)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", names[i], err)
		}
		fields[i] = iceberg.NestedField{ID: i + 1, Name: names[i], Type: t}
	}
	return iceberg.NewSchema(0, fields...), nil
}
