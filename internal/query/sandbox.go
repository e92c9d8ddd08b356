package query

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrRefused is wrapped by every refusal of the SQL sandbox.
var ErrRefused = errors.New("not allowed")

// allowedTableFunctions are the table functions user SQL may call: they
// generate rows and touch nothing outside the query.
var allowedTableFunctions = map[string]bool{
	"range": true, "generate_series": true, "unnest": true,
}

// refusedScalarPrefixes and refusedScalars name scalar functions that read
// DuckDB's configuration, environment or catalog. Scalars are deny-listed
// (DuckDB has hundreds of harmless ones); everything that reads files or
// runs SQL is a table function, and those are allow-listed above.
var (
	refusedScalarPrefixes = []string{"duckdb_", "pragma_", "read_", "current_setting", "getenv", "__edp_", "pg_"}
	refusedScalars        = map[string]bool{
		"query": true, "query_table": true, "glob": true,
		"current_query": true, "current_schemas": true, "current_database": true, "current_catalog": true,
		"enable_logging": true, "disable_logging": true, "truncate_duckdb_logs": true,
	}
)

// allowedTableRefs are the FROM-clause node types user SQL may use.
var allowedTableRefs = map[string]bool{
	"BASE_TABLE": true, "JOIN": true, "SUBQUERY": true, "EXPRESSION_LIST": true,
	"EMPTY": true, "EMPTY_FROM": true, "TABLE_FUNCTION": true, "PIVOT": true,
}

// tableRef is one reference to an edp table found in a parsed query.
type tableRef struct {
	node      map[string]any
	Namespace string
	Name      string
	Version   *int64
	At        *time.Time
	// outermost is true for the FROM of the top-level SELECT: DML reads
	// row ids from that reference only.
	outermost bool
	// conditions are the WHERE conditions usable for file pruning.
	conditions []condition
}

// parsedQuery is DuckDB's parse tree of one SELECT, checked and with the
// table references found.
type parsedQuery struct {
	tree map[string]any
	refs []*tableRef
}

// checkTree walks a json_serialize_sql result, refusing anything outside the
// allow-list and collecting table references.
//
// denied names further functions to refuse: DuckDB's built-in macros that
// expand, after this check, into catalog reads (pg_get_viewdef reads
// duckdb_views(), with edp's temporary views and warehouse paths).
//
// sc names the unqualified relations the query may read besides its own
// CTEs (nil for edp SQL, which reads only namespace.table).
func checkTree(raw string, denied map[string]bool, sc scope) (*parsedQuery, error) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var tree map[string]any
	if err := dec.Decode(&tree); err != nil {
		return nil, fmt.Errorf("parse tree: %w", err)
	}
	if isErr, _ := tree["error"].(bool); isErr {
		msg, _ := tree["error_message"].(string)
		return nil, fmt.Errorf("%s", msg)
	}
	stmts, _ := tree["statements"].([]any)
	if len(stmts) != 1 {
		return nil, fmt.Errorf("expected one statement, got %d", len(stmts))
	}
	w := &walker{denied: denied}
	top, _ := stmts[0].(map[string]any)
	node, _ := top["node"].(map[string]any)
	// The DML target is the first table of the top-level FROM: itself, or
	// the left side of its joins (MERGE joins the target to the source).
	if node != nil {
		ft, _ := node["from_table"].(map[string]any)
		for ft != nil && ft["type"] == "JOIN" {
			ft, _ = ft["left"].(map[string]any)
		}
		w.outermost = ft
	}
	if err := w.walk(tree, sc); err != nil {
		return nil, err
	}
	findConditions(tree, w.refs)
	return &parsedQuery{tree: tree, refs: w.refs}, nil
}

// CheckSelect checks that text is exactly one SELECT that edp SQL's
// sandbox allows and that reads nothing but the unqualified relations
// named (and its own CTEs): no edp table, no file, no catalog. It is the
// same check as edp SQL's (DuckDB's parse tree walked against the
// allow-list, CTE scopes, the denied catalog macros), for SQL that runs
// in a DuckDB of its own over relations its caller staged there.
//
// It returns the statement as DuckDB renders the checked parse tree: run
// that, not text, so what runs is exactly what was checked.
func CheckSelect(ctx context.Context, conn *sql.Conn, text string, relations ...string) (string, error) {
	denied, err := catalogMacros(ctx, conn)
	if err != nil {
		return "", err
	}
	var raw string
	if err := conn.QueryRowContext(ctx, "SELECT CAST(json_serialize_sql(CAST(? AS VARCHAR)) AS VARCHAR)", text).Scan(&raw); err != nil {
		return "", fmt.Errorf("parse: %w", err)
	}
	pq, err := checkTree(raw, denied, scope(nil).with(relations...))
	if err != nil {
		return "", err
	}
	if len(pq.refs) > 0 {
		r := pq.refs[0]
		return "", fmt.Errorf("%w: table %s.%s: only %s may be read here", ErrRefused, r.Namespace, r.Name, strings.Join(relations, ", "))
	}
	out, err := jsonString(pq.tree)
	if err != nil {
		return "", err
	}
	var checked string
	if err := conn.QueryRowContext(ctx, "SELECT json_deserialize_sql(CAST(? AS JSON))", out).Scan(&checked); err != nil {
		return "", fmt.Errorf("render checked query: %w", err)
	}
	return checked, nil
}

type walker struct {
	denied    map[string]bool
	refs      []*tableRef
	outermost map[string]any
}

// scope is the set of CTE names visible at a point of the tree.
type scope map[string]bool

func (sc scope) with(names ...string) scope {
	out := make(scope, len(sc)+len(names))
	for k := range sc {
		out[k] = true
	}
	for _, n := range names {
		out[strings.ToLower(n)] = true
	}
	return out
}

// walk visits the tree in a fixed order (sorted keys), so table
// references are found in the same order every time, tracking which CTE
// names are in scope: a statement's CTEs are visible in its body, and
// each CTE's own query sees only the CTEs defined before it (and itself,
// when recursive). An unqualified name outside that scope is refused, so a
// CTE elsewhere cannot make a DuckDB catalog object look like one.
func (w *walker) walk(v any, sc scope) error {
	switch v := v.(type) {
	case map[string]any:
		if err := w.visit(v, sc); err != nil {
			return err
		}
		inner := sc
		var entries []any
		if cm, ok := v["cte_map"].(map[string]any); ok {
			entries, _ = cm["map"].([]any)
		}
		var names []string
		for _, e := range entries {
			em, _ := e.(map[string]any)
			name, _ := em["key"].(string)
			body := em["value"]
			bodyScope := sc.with(names...)
			if q, _ := body.(map[string]any); q != nil {
				if qq, _ := q["query"].(map[string]any); qq != nil {
					if n, _ := qq["node"].(map[string]any); n != nil && n["type"] == "RECURSIVE_CTE_NODE" {
						bodyScope = bodyScope.with(name)
					}
				}
			}
			if err := w.walk(body, bodyScope); err != nil {
				return err
			}
			names = append(names, name)
		}
		if len(names) > 0 {
			inner = sc.with(names...)
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			if k != "cte_map" {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			if err := w.walk(v[k], inner); err != nil {
				return err
			}
		}
	case []any:
		for _, c := range v {
			if err := w.walk(c, sc); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *walker) visit(n map[string]any, sc scope) error {
	typ, _ := n["type"].(string)
	class, _ := n["class"].(string)
	switch {
	case class == "FUNCTION":
		name, _ := n["function_name"].(string)
		if w.denied[strings.ToLower(name)] {
			return fmt.Errorf("%w: function %s()", ErrRefused, name)
		}
		return checkScalar(strings.ToLower(name))
	case typ == "TABLE_FUNCTION":
		fn, _ := n["function"].(map[string]any)
		name, _ := fn["function_name"].(string)
		if !allowedTableFunctions[strings.ToLower(name)] {
			return fmt.Errorf("%w: table function %s(): edp SQL reads edp tables only (namespace.table)", ErrRefused, name)
		}
	case typ == "BASE_TABLE":
		return w.baseTable(n, sc)
	case typ == "SHOW_REF" || typ == "COLUMN_DATA" || typ == "DELIM_GET":
		return fmt.Errorf("%w: %s in a query", ErrRefused, strings.ToLower(typ))
	}
	return nil
}

func checkScalar(name string) error {
	if refusedScalars[name] {
		return fmt.Errorf("%w: function %s()", ErrRefused, name)
	}
	for _, p := range refusedScalarPrefixes {
		if strings.HasPrefix(name, p) {
			return fmt.Errorf("%w: function %s()", ErrRefused, name)
		}
	}
	return nil
}

func (w *walker) baseTable(n map[string]any, sc scope) error {
	catalog, _ := n["catalog_name"].(string)
	schema, _ := n["schema_name"].(string)
	name, _ := n["table_name"].(string)
	if catalog != "" {
		return fmt.Errorf("%w: table %s.%s.%s: name tables as namespace.table", ErrRefused, catalog, schema, name)
	}
	if schema == "" {
		if sc[strings.ToLower(name)] && !systemName(name) {
			return nil
		}
		return fmt.Errorf("table %q must be qualified with its namespace, as namespace.table", name)
	}
	ref := &tableRef{node: n, Namespace: schema, Name: name, outermost: w.outermost != nil && sameNode(w.outermost, n)}
	if at, ok := n["at_clause"].(map[string]any); ok && at != nil {
		if err := ref.timeTravel(at); err != nil {
			return err
		}
	}
	w.refs = append(w.refs, ref)
	return nil
}

// systemName reports names of DuckDB's own catalog objects, which no CTE
// may take: shadowing is how a query would try to reach them.
func systemName(name string) bool {
	n := strings.ToLower(name)
	for _, p := range []string{"duckdb_", "pragma_", "sqlite_", "pg_", "information_schema"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}

func sameNode(a, b map[string]any) bool {
	return fmt.Sprintf("%p", a) == fmt.Sprintf("%p", b)
}

// timeTravel reads AT (VERSION => n) / AT (TIMESTAMP => '…'): the value must
// be a constant (optionally cast), as time travel targets are fixed when
// the query is planned.
func (r *tableRef) timeTravel(at map[string]any) error {
	unit, _ := at["unit"].(string)
	expr, _ := at["expr"].(map[string]any)
	val, ok := constant(expr)
	if !ok {
		return fmt.Errorf("time travel on %s.%s: the %s must be a constant", r.Namespace, r.Name, strings.ToLower(unit))
	}
	switch strings.ToUpper(unit) {
	case "VERSION", "SNAPSHOT":
		if typ, _ := asMap(asMap(expr["value"])["type"])["id"].(string); expr["class"] == "CONSTANT" && !integerTypes[typ] && typ != "VARCHAR" {
			return fmt.Errorf("time travel on %s.%s: version %s is not a snapshot id", r.Namespace, r.Name, val)
		}
		n, err := json.Number(val).Int64()
		if err != nil {
			return fmt.Errorf("time travel on %s.%s: version %q is not a snapshot id", r.Namespace, r.Name, val)
		}
		r.Version = &n
	case "TIMESTAMP", "TIME":
		t, err := parseTime(val)
		if err != nil {
			return fmt.Errorf("time travel on %s.%s: %w", r.Namespace, r.Name, err)
		}
		r.At = &t
	default:
		return fmt.Errorf("time travel on %s.%s: unknown unit %s (use VERSION or TIMESTAMP)", r.Namespace, r.Name, unit)
	}
	return nil
}

// constant extracts the literal text of a CONSTANT node or a CAST of one.
func constant(expr map[string]any) (string, bool) {
	for expr != nil {
		switch expr["class"] {
		case "CONSTANT":
			v, _ := expr["value"].(map[string]any)
			if isNull, _ := v["is_null"].(bool); isNull {
				return "", false
			}
			switch x := v["value"].(type) {
			case string:
				return x, true
			case json.Number:
				return x.String(), true
			}
			return "", false
		case "CAST":
			expr, _ = expr["child"].(map[string]any)
		default:
			return "", false
		}
	}
	return "", false
}

var integerTypes = map[string]bool{
	"TINYINT": true, "SMALLINT": true, "INTEGER": true, "BIGINT": true, "HUGEINT": true,
	"UTINYINT": true, "USMALLINT": true, "UINTEGER": true, "UBIGINT": true, "UHUGEINT": true,
}

var timeLayouts = []string{
	time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999-07", "2006-01-02 15:04", "2006-01-02",
}

func parseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, strings.TrimSpace(s)); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot read %q as a timestamp (use 'YYYY-MM-DD HH:MM:SS', UTC unless an offset is given)", s)
}
