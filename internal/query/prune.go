package query

import (
	"encoding/json"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// Predicate pruning: simple conditions of a SELECT's WHERE clause on one
// table's columns become an Iceberg row filter, so iceberg-go skips files
// (and partitions) whose statistics rule them out. DuckDB still evaluates
// the full WHERE clause; the filter only has to be implied by it.
//
// Only top-level AND-ed comparisons of a column with a constant are used.
// All of them are null-rejecting, which makes them safe for any join type:
// a row they remove could only have produced output rows the WHERE clause
// rejects anyway.

// condition is one prunable comparison.
type condition struct {
	column string
	op     string // =, <>, <, <=, >, >=, in
	values []literalValue
}

// literalValue is a literal from the parse tree: its text and DuckDB type.
type literalValue struct {
	text string
	typ  string // INTEGER, BIGINT, DECIMAL, DOUBLE, VARCHAR, DATE, TIMESTAMP…
}

var compareOps = map[string]string{
	"COMPARE_EQUAL": "=", "COMPARE_NOTEQUAL": "<>", "COMPARE_LESSTHAN": "<", "COMPARE_GREATERTHAN": ">",
	"COMPARE_LESSTHANOREQUALTO": "<=", "COMPARE_GREATERTHANOREQUALTO": ">=",
}

var literalOps = map[string]iceberg.Operation{
	"=": iceberg.OpEQ, "<>": iceberg.OpNEQ, "<": iceberg.OpLT, "<=": iceberg.OpLTEQ, ">": iceberg.OpGT, ">=": iceberg.OpGTEQ,
}

var flipped = map[string]string{"=": "=", "<>": "<>", "<": ">", ">": "<", "<=": ">=", ">=": "<="}

// findConditions attaches to each reference the conditions of the SELECT
// whose FROM clause holds it.
func findConditions(tree any, refs []*tableRef) {
	var visit func(v any)
	visit = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["type"] == "SELECT_NODE" {
				var inFrom []*tableRef
				collectFrom(v["from_table"], refs, &inFrom)
				if where, ok := v["where_clause"].(map[string]any); ok && len(inFrom) > 0 {
					var conds []map[string]any
					conjuncts(where, &conds)
					for _, c := range conds {
						attach(c, inFrom)
					}
				}
			}
			for _, c := range v {
				visit(c)
			}
		case []any:
			for _, c := range v {
				visit(c)
			}
		}
	}
	visit(tree)
}

// collectFrom finds the references in a FROM clause, through joins but not
// into subqueries (whose WHERE clauses are their own).
func collectFrom(v any, refs []*tableRef, out *[]*tableRef) {
	n, ok := v.(map[string]any)
	if !ok {
		return
	}
	switch n["type"] {
	case "BASE_TABLE":
		for _, r := range refs {
			if sameNode(r.node, n) {
				*out = append(*out, r)
			}
		}
	case "JOIN":
		if jt, _ := n["ref_type"].(string); jt == "ASOF" || jt == "POSITIONAL" {
			return
		}
		collectFrom(n["left"], refs, out)
		collectFrom(n["right"], refs, out)
	}
}

func conjuncts(e map[string]any, out *[]map[string]any) {
	if e["type"] == "CONJUNCTION_AND" {
		children, _ := e["children"].([]any)
		for _, c := range children {
			if m, ok := c.(map[string]any); ok {
				conjuncts(m, out)
			}
		}
		return
	}
	*out = append(*out, e)
}

// attach turns a WHERE conjunct into a condition on one of refs.
func attach(e map[string]any, refs []*tableRef) {
	typ, _ := e["type"].(string)
	var col map[string]any
	var c condition
	switch {
	case compareOps[typ] != "":
		l, _ := e["left"].(map[string]any)
		r, _ := e["right"].(map[string]any)
		op := compareOps[typ]
		if v, ok := literal(r); ok && l["class"] == "COLUMN_REF" {
			col, c = l, condition{op: op, values: []literalValue{v}}
		} else if v, ok := literal(l); ok && r["class"] == "COLUMN_REF" {
			col, c = r, condition{op: flipped[op], values: []literalValue{v}}
		} else {
			return
		}
	case typ == "COMPARE_IN":
		children, _ := e["children"].([]any)
		if len(children) < 2 {
			return
		}
		col, _ = children[0].(map[string]any)
		if col["class"] != "COLUMN_REF" {
			return
		}
		c.op = "in"
		for _, ch := range children[1:] {
			m, _ := ch.(map[string]any)
			v, ok := literal(m)
			if !ok {
				return
			}
			c.values = append(c.values, v)
		}
	case typ == "COMPARE_BETWEEN":
		in, _ := e["input"].(map[string]any)
		if in["class"] != "COLUMN_REF" {
			return
		}
		// Each bound is used if it is a constant, independently.
		attach(map[string]any{"type": "COMPARE_GREATERTHANOREQUALTO", "left": in, "right": asMap(e["lower"])}, refs)
		attach(map[string]any{"type": "COMPARE_LESSTHANOREQUALTO", "left": in, "right": asMap(e["upper"])}, refs)
		return
	default:
		return
	}
	names, _ := col["column_names"].([]any)
	var ref *tableRef
	switch len(names) {
	case 1:
		if len(refs) == 1 {
			ref = refs[0]
		}
	case 2:
		qual, _ := names[0].(string)
		for _, r := range refs {
			alias, _ := r.node["alias"].(string)
			if alias == "" {
				alias = r.Name
			}
			if strings.EqualFold(alias, qual) {
				ref = r
			}
		}
	}
	if ref == nil {
		return
	}
	c.column, _ = names[len(names)-1].(string)
	ref.conditions = append(ref.conditions, c)
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

// literal reads a constant, or a constant cast to a type (DATE '…').
func literal(e map[string]any) (literalValue, bool) {
	switch e["class"] {
	case "CONSTANT":
		v := asMap(e["value"])
		if isNull, _ := v["is_null"].(bool); isNull {
			return literalValue{}, false
		}
		typ, _ := asMap(v["type"])["id"].(string)
		switch x := v["value"].(type) {
		case string:
			return literalValue{text: x, typ: typ}, true
		case json.Number:
			return literalValue{text: x.String(), typ: typ}, true
		}
	case "CAST":
		inner, ok := literal(asMap(e["child"]))
		target, _ := asMap(e["cast_type"])["id"].(string)
		if ok && inner.typ == "VARCHAR" && target != "" {
			return literalValue{text: inner.text, typ: target}, true
		}
	}
	return literalValue{}, false
}

// rowFilter builds the Iceberg filter for conds over schema, using only
// conditions whose literal kind matches the column's type exactly, so the
// filter never disagrees with DuckDB's comparison semantics.
//
// Columns are named as the query sees them (schema) but bound by iceberg-go
// against the snapshot's schema (bind), which differs after a rename until
// the next commit; the field id links the two.
func rowFilter(schema, bind *iceberg.Schema, conds []condition) iceberg.BooleanExpression {
	var exprs []iceberg.BooleanExpression
	for _, c := range conds {
		seen, ok := schema.FindFieldByNameCaseInsensitive(c.column)
		if !ok {
			continue
		}
		f, ok := bind.FindFieldByID(seen.ID)
		if !ok || f.Type.String() != seen.Type.String() {
			continue
		}
		var lits []iceberg.Literal
		for _, v := range c.values {
			lit, ok := toLiteral(f.Type, v)
			if !ok {
				lits = nil
				break
			}
			lits = append(lits, lit)
		}
		if len(lits) == 0 {
			continue
		}
		ref := iceberg.Reference(f.Name)
		var e iceberg.BooleanExpression
		if c.op == "in" {
			e = iceberg.SetPredicate(iceberg.OpIn, ref, lits)
		} else if op, ok := literalOps[c.op]; ok {
			e = iceberg.LiteralPredicate(op, ref, lits[0])
		}
		if e != nil {
			exprs = append(exprs, e)
		}
	}
	switch len(exprs) {
	case 0:
		return nil
	case 1:
		return exprs[0]
	}
	return iceberg.NewAnd(exprs[0], exprs[1], exprs[2:]...)
}

func toLiteral(t iceberg.Type, v literalValue) (iceberg.Literal, bool) {
	integer := v.typ == "INTEGER" || v.typ == "BIGINT" || v.typ == "SMALLINT" || v.typ == "TINYINT" || v.typ == "HUGEINT" || v.typ == "UBIGINT"
	switch t.(type) {
	case iceberg.Int32Type, iceberg.Int64Type:
		if !integer {
			return nil, false
		}
		n, err := json.Number(v.text).Int64()
		if err != nil {
			return nil, false
		}
		if _, is32 := t.(iceberg.Int32Type); is32 {
			if n != int64(int32(n)) {
				return nil, false
			}
			return iceberg.Int32Literal(int32(n)), true
		}
		return iceberg.Int64Literal(n), true
	case iceberg.StringType:
		if v.typ != "VARCHAR" {
			return nil, false
		}
		return iceberg.StringLiteral(v.text), true
	case iceberg.DateType:
		if v.typ != "DATE" && v.typ != "VARCHAR" {
			return nil, false
		}
		lit, err := iceberg.StringLiteral(v.text).To(t)
		return lit, err == nil
	case iceberg.TimestampType:
		if v.typ != "TIMESTAMP" {
			return nil, false
		}
		tm, err := parseTime(v.text)
		if err != nil {
			return nil, false
		}
		return iceberg.TimestampLiteral(iceberg.Timestamp(tm.UnixMicro())), true
	}
	return nil, false
}

// prunable reports whether iceberg-go can prune tbl's files safely. Its
// manifest evaluator (v0.7.0) reads an empty string partition value back
// as a missing bound, takes the manifest for all-null and skips it, so a
// table partitioned on a string or binary value is read unpruned.
func prunable(tbl *table.Table) bool {
	for _, spec := range tbl.Metadata().PartitionSpecs() {
		for _, pf := range spec.Fields() {
			src, ok := tbl.Metadata().CurrentSchema().FindFieldByID(pf.SourceID())
			if !ok {
				return false
			}
			switch pf.Transform.ResultType(src.Type).(type) {
			case iceberg.StringType, iceberg.BinaryType, iceberg.FixedType:
				return false
			}
		}
	}
	return true
}
