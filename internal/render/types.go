package render

import (
	"strconv"
	"strings"
)

type kind int

const (
	kindUnknown kind = iota
	kindBool
	kindInt8
	kindInt16
	kindInt32
	kindInt64
	kindUint8
	kindUint16
	kindUint32
	kindUint64
	kindHugeint // HUGEINT, UHUGEINT, BIGNUM: integers wider than 64 bits
	kindFloat32
	kindFloat64
	kindDecimal
	kindVarchar
	kindBlob
	kindUUID
	kindJSON
	kindDate
	kindTime
	kindTimeTZ
	kindTimestamp
	kindTimestampNS
	kindTimestampTZ
	kindInterval
	kindNested // LIST, ARRAY, STRUCT, MAP, UNION
	kindOther  // a type we know exists but render as text (ENUM, BIT, ...)
)

// colType is a DuckDB type name digested into what the writers need.
type colType struct {
	kind      kind
	precision int32
	scale     int32
}

func (t colType) numeric() bool {
	switch t.kind {
	case kindInt8, kindInt16, kindInt32, kindInt64,
		kindUint8, kindUint16, kindUint32, kindUint64,
		kindHugeint, kindFloat32, kindFloat64, kindDecimal:
		return true
	}
	return false
}

// typeAliases covers both the names the duckdb-go driver reports
// (TIMESTAMPTZ) and the spellings DESCRIBE and users write (TIMESTAMP WITH
// TIME ZONE, INT8, TEXT).
var typeAliases = map[string]kind{
	"BOOLEAN": kindBool, "BOOL": kindBool, "LOGICAL": kindBool,
	"TINYINT": kindInt8, "INT1": kindInt8,
	"SMALLINT": kindInt16, "INT2": kindInt16, "SHORT": kindInt16,
	"INTEGER": kindInt32, "INT": kindInt32, "INT4": kindInt32, "SIGNED": kindInt32,
	"BIGINT": kindInt64, "INT8": kindInt64, "LONG": kindInt64,
	"UTINYINT": kindUint8, "USMALLINT": kindUint16, "UINTEGER": kindUint32, "UBIGINT": kindUint64,
	"HUGEINT": kindHugeint, "INT128": kindHugeint, "UHUGEINT": kindHugeint, "UINT128": kindHugeint,
	"BIGNUM": kindHugeint, "VARINT": kindHugeint,
	"FLOAT": kindFloat32, "FLOAT4": kindFloat32, "REAL": kindFloat32,
	"DOUBLE": kindFloat64, "FLOAT8": kindFloat64, "DOUBLE PRECISION": kindFloat64,
	"DECIMAL": kindDecimal, "NUMERIC": kindDecimal,
	"VARCHAR": kindVarchar, "TEXT": kindVarchar, "STRING": kindVarchar, "CHAR": kindVarchar,
	"BPCHAR": kindVarchar, "NVARCHAR": kindVarchar, "CHARACTER VARYING": kindVarchar,
	"BLOB": kindBlob, "BYTEA": kindBlob, "BINARY": kindBlob, "VARBINARY": kindBlob,
	"UUID": kindUUID,
	"JSON": kindJSON,
	"DATE": kindDate,
	"TIME": kindTime, "TIME WITHOUT TIME ZONE": kindTime,
	"TIMETZ": kindTimeTZ, "TIME WITH TIME ZONE": kindTimeTZ,
	"TIMESTAMP": kindTimestamp, "DATETIME": kindTimestamp, "TIMESTAMP WITHOUT TIME ZONE": kindTimestamp,
	"TIMESTAMP_US": kindTimestamp, "TIMESTAMP_S": kindTimestamp, "TIMESTAMP_MS": kindTimestamp,
	"TIMESTAMP_NS": kindTimestampNS,
	"TIMESTAMPTZ":  kindTimestampTZ, "TIMESTAMP WITH TIME ZONE": kindTimestampTZ,
	"INTERVAL": kindInterval,
	"LIST":     kindNested, "ARRAY": kindNested, "STRUCT": kindNested, "MAP": kindNested, "UNION": kindNested,
	"ENUM": kindOther, "BIT": kindOther, "BITSTRING": kindOther, "GEOMETRY": kindOther,
	"VARIANT": kindOther, "SQLNULL": kindOther, "NULL": kindOther,
}

func parseType(name string) colType {
	s := strings.ToUpper(strings.TrimSpace(name))
	if s == "" {
		return colType{}
	}
	// INTEGER[] and INTEGER[3] are lists and arrays whatever the element.
	if strings.HasSuffix(s, "]") {
		return colType{kind: kindNested}
	}
	base, args := s, ""
	if i := strings.IndexByte(s, '('); i >= 0 {
		base, args = strings.TrimSpace(s[:i]), strings.TrimSuffix(s[i+1:], ")")
	}
	k, ok := typeAliases[base]
	if !ok {
		return colType{kind: kindOther}
	}
	t := colType{kind: k}
	if k == kindDecimal {
		// DuckDB's DECIMAL without arguments is DECIMAL(18,3).
		t.precision, t.scale = 18, 3
		if args != "" {
			p, s, _ := strings.Cut(args, ",")
			if v, err := strconv.Atoi(strings.TrimSpace(p)); err == nil && v > 0 && v <= 38 {
				t.precision, t.scale = int32(v), 0
			}
			if v, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && v >= 0 && int32(v) <= t.precision {
				t.scale = int32(v)
			}
		}
	}
	return t
}

func parseTypes(cols []Column) []colType {
	ts := make([]colType, len(cols))
	for i, c := range cols {
		ts[i] = parseType(c.Type)
	}
	return ts
}
