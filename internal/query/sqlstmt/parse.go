package sqlstmt

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Parse decomposes one statement. A trailing ';' is allowed; a second
// statement is an error (use [Split] first). Errors are a [*SyntaxError] for
// text edp cannot decompose and an [*UnsupportedError] for statement kinds
// edp refuses.
func Parse(sql string) (Statement, error) {
	toks, err := Tokenize(sql)
	if err != nil {
		return nil, err
	}
	toks = toks[:len(toks)-1]
	n := len(toks)
	for n > 0 && toks[n-1].isPunct(";") {
		n--
	}
	if n == 0 {
		return nil, &SyntaxError{Line: 1, Col: 1, Msg: "empty statement"}
	}
	for _, t := range toks[:n] {
		if t.isPunct(";") {
			return nil, errAt(t, `unexpected ";": only one statement can be run here`)
		}
	}
	toks = append(toks[:n:n], eofAfter(toks[n-1]))
	p := &parser{src: sql, toks: toks}
	st, err := p.statement()
	if err != nil {
		return nil, err
	}
	return st, nil
}

// eofAfter returns an end-of-input token placed right after t, so that
// "got end of input" errors point at the end of the statement rather than
// past a trailing ';' or comment.
func eofAfter(t Token) Token {
	line, col := t.Line, t.Col
	for _, r := range t.Text {
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return Token{Kind: TokEOF, Pos: t.End, End: t.End, Line: line, Col: col}
}

type parser struct {
	src  string
	toks []Token // ends with TokEOF
	i    int
}

func (p *parser) peek() Token { return p.toks[p.i] }

func (p *parser) peekAt(n int) Token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() Token {
	t := p.toks[p.i]
	if t.Kind != TokEOF {
		p.i++
	}
	return t
}

func (p *parser) atEnd() bool { return p.peek().Kind == TokEOF }

func (p *parser) isKw(kw string) bool { return p.peek().isKw(kw) }

func (p *parser) isPunct(s string) bool { return p.peek().isPunct(s) }

// acceptKw consumes the keywords kws if they come next, all of them.
func (p *parser) acceptKw(kws ...string) bool {
	for n, kw := range kws {
		if !p.peekAt(n).isKw(kw) {
			return false
		}
	}
	p.i += len(kws)
	return true
}

// acceptOneOf consumes the next token if it is one of the keywords.
func (p *parser) acceptOneOf(kws ...string) bool {
	for _, kw := range kws {
		if p.acceptKw(kw) {
			return true
		}
	}
	return false
}

func (p *parser) expectKw(kw, after string) error {
	if p.acceptKw(kw) {
		return nil
	}
	return p.errExpected(kw+" after "+after, p.peek())
}

func (p *parser) expectPunct(s, after string) error {
	if p.isPunct(s) {
		p.next()
		return nil
	}
	return p.errExpected(strconv.Quote(s)+" after "+after, p.peek())
}

func (p *parser) expectEnd() error {
	if p.atEnd() {
		return nil
	}
	return p.errExpected("end of statement", p.peek())
}

func (p *parser) errExpected(what string, got Token) *SyntaxError {
	return errAt(got, "expected "+what+", got "+describe(got))
}

func errAt(t Token, msg string) *SyntaxError {
	return &SyntaxError{Line: t.Line, Col: t.Col, Msg: msg}
}

func errAtf(t Token, format string, args ...any) *SyntaxError {
	return errAt(t, fmt.Sprintf(format, args...))
}

// describe renders a token for an error message.
func describe(t Token) string {
	if t.Kind == TokEOF {
		return "end of input"
	}
	s := t.Text
	if utf8.RuneCountInString(s) > 40 {
		s = string([]rune(s)[:40]) + "…"
	}
	return strconv.Quote(s)
}

// text returns the source from the start of token from to the end of token
// to-1: raw text is always an exact substring of the input.
func (p *parser) text(from, to int) string {
	return p.src[p.toks[from].Pos:p.toks[to-1].End]
}

// reserved holds words that DuckDB never accepts as an unquoted table or
// column name. Refusing them as names lets clause keywords end names and
// aliases, and turns "DELETE FROM WHERE …" into a clear error.
var reserved = setOf(
	"ALL", "ANALYSE", "ANALYZE", "AND", "ANY", "AS", "ASC",
	"ASYMMETRIC", "BOTH", "CASE", "CAST", "CHECK", "COLLATE", "COLUMN",
	"CONSTRAINT", "CREATE", "DEFAULT", "DEFERRABLE", "DESC", "DESCRIBE",
	"DISTINCT", "DO", "ELSE", "END", "EXCEPT", "FALSE", "FETCH", "FOR",
	"FOREIGN", "FROM", "GRANT", "GROUP", "HAVING", "IN", "INITIALLY",
	"INTERSECT", "INTO", "LATERAL", "LEADING", "LIMIT", "NOT", "NULL",
	"OFFSET", "ON", "ONLY", "OR", "ORDER", "PIVOT", "PLACING", "PRIMARY",
	"QUALIFY", "REFERENCES", "RETURNING", "SELECT", "SHOW", "SOME",
	"SUMMARIZE", "SYMMETRIC", "TABLE", "THEN", "TO", "TRAILING", "TRUE",
	"UNION", "UNIQUE", "UNPIVOT", "USING", "VARIADIC", "WHEN", "WHERE",
	"WINDOW", "WITH",
)

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// isIdent reports whether t can be an identifier.
func isIdent(t Token) bool {
	return t.Kind == TokQuotedIdent || (t.Kind == TokWord && !reserved[t.upper()])
}

func (p *parser) ident(what string) (Ident, error) {
	t := p.peek()
	if !isIdent(t) {
		return Ident{}, p.errExpected(what, t)
	}
	if t.Kind == TokQuotedIdent && t.Value == "" {
		return Ident{}, errAt(t, "zero-length quoted identifier")
	}
	p.next()
	return Ident{Name: t.Value, Quoted: t.Kind == TokQuotedIdent}, nil
}

func (p *parser) name(what string) (Name, error) {
	id, err := p.ident(what)
	if err != nil {
		return nil, err
	}
	n := Name{id}
	for p.isPunct(".") {
		p.next()
		if id, err = p.ident(what); err != nil {
			return nil, err
		}
		n = append(n, id)
	}
	return n, nil
}

// identList parses ( ident, … ).
func (p *parser) identList(what, after string) ([]Ident, error) {
	if err := p.expectPunct("(", after); err != nil {
		return nil, err
	}
	var ids []Ident
	for {
		id, err := p.ident(what)
		if err != nil {
			return nil, err
		}
		if p.isPunct(".") {
			return nil, errAtf(p.peek(), "%s must be a plain column name", what)
		}
		ids = append(ids, id)
		if !p.isPunct(",") {
			break
		}
		p.next()
	}
	return ids, p.expectPunct(")", what)
}

// alias parses an optional [AS] alias and returns it as written. Words in
// stop end the clause instead of being taken as an alias.
func (p *parser) alias(stop ...string) (string, error) {
	if p.acceptKw("AS") {
		t := p.peek()
		if !isIdent(t) {
			return "", p.errExpected("alias after AS", t)
		}
		p.next()
		return t.Text, nil
	}
	t := p.peek()
	if !isIdent(t) {
		return "", nil
	}
	for _, kw := range stop {
		if t.isKw(kw) {
			return "", nil
		}
	}
	p.next()
	return t.Text, nil
}

// brackets tracks nesting of (), [] and {}. Raw texts are cut only where
// all brackets are closed and must themselves be balanced, so a caller that
// wraps one in parentheses gets exactly one expression or query back.
type brackets struct {
	open []Token
}

var closing = map[string]string{"(": ")", "[": "]", "{": "}"}

// step updates the nesting for t. It reports stray when t closes a bracket
// opened before the text being tracked, and fails when t closes the wrong
// kind of bracket.
func (b *brackets) step(t Token) (stray bool, err error) {
	if t.Kind != TokPunct {
		return false, nil
	}
	switch t.Text {
	case "(", "[", "{":
		b.open = append(b.open, t)
	case ")", "]", "}":
		if len(b.open) == 0 {
			return true, nil
		}
		o := b.open[len(b.open)-1]
		if closing[o.Text] != t.Text {
			return false, errAtf(t, "%q does not match %q at line %d, column %d", t.Text, o.Text, o.Line, o.Col)
		}
		b.open = b.open[:len(b.open)-1]
	}
	return false, nil
}

func (b *brackets) depth() int { return len(b.open) }

// unclosed returns an error for the innermost bracket left open, or nil.
func (b *brackets) unclosed(what string) error {
	if len(b.open) == 0 {
		return nil
	}
	o := b.open[len(b.open)-1]
	return errAtf(o, "unclosed %q in %s", o.Text, what)
}

// expr consumes an expression and returns its text. The expression ends
// before the first token, outside brackets and CASE … END, for which stop
// returns true, or before a closing bracket it did not open, or at the end
// of the statement.
func (p *parser) expr(what string, stop func(prev, t Token) bool) (string, error) {
	start := p.i
	var b brackets
	cases := 0
	for {
		t := p.peek()
		if t.Kind == TokEOF || (b.depth() == 0 && cases == 0 && stop(p.toks[max(p.i-1, 0)], t)) {
			break
		}
		stray, err := b.step(t)
		if err != nil {
			return "", err
		}
		if stray {
			break
		}
		switch {
		case t.isKw("CASE"):
			cases++
		case t.isKw("END") && cases > 0:
			cases--
		}
		p.next()
	}
	if err := b.unclosed(what); err != nil {
		return "", err
	}
	if p.i == start {
		return "", p.errExpected(what, p.peek())
	}
	return p.text(start, p.i), nil
}

// stopAt returns a stop function for expr that ends an expression at a
// top-level comma (when comma is set) or at any of the keywords. FROM after
// DISTINCT belongs to the expression: a IS DISTINCT FROM b.
func stopAt(comma bool, kws ...string) func(prev, t Token) bool {
	return func(prev, t Token) bool {
		if comma && t.isPunct(",") {
			return true
		}
		if t.isKw("FROM") && prev.isKw("DISTINCT") {
			return false
		}
		for _, kw := range kws {
			if t.isKw(kw) {
				return true
			}
		}
		return false
	}
}

// exprList parses ( expr, … ).
func (p *parser) exprList(what, after string) ([]string, error) {
	if err := p.expectPunct("(", after); err != nil {
		return nil, err
	}
	var list []string
	for {
		e, err := p.expr(what, stopAt(true))
		if err != nil {
			return nil, err
		}
		list = append(list, e)
		if !p.isPunct(",") {
			break
		}
		p.next()
	}
	return list, p.expectPunct(")", what)
}

// skipParens consumes a balanced parenthesised group starting at "(".
func (p *parser) skipParens(what string) error {
	var b brackets
	for {
		if _, err := b.step(p.next()); err != nil {
			return err
		}
		if b.depth() == 0 {
			return nil
		}
		if p.atEnd() {
			return b.unclosed(what)
		}
	}
}

// queryStarts are the words that begin a SELECT-like statement.
var queryStarts = setOf("SELECT", "WITH", "VALUES", "FROM", "TABLE", "SUMMARIZE")

func isQueryStart(t Token) bool { return t.isPunct("(") || queryStarts[t.upper()] }

// query consumes the rest of the statement, which must be a query, and
// returns its text. DuckDB checks the query itself; this only makes sure it
// is one, so that no DML can hide behind a WITH.
func (p *parser) query(after string) (string, error) {
	t := p.peek()
	if !isQueryStart(t) {
		return "", p.errExpected("a query (SELECT, WITH, VALUES, FROM, TABLE or a parenthesised query) after "+after, t)
	}
	start := p.i
	if t.isKw("WITH") {
		if err := p.checkWithBody(); err != nil {
			return "", err
		}
	}
	var b brackets
	for ; !p.atEnd(); p.next() {
		stray, err := b.step(p.peek())
		if err != nil {
			return "", err
		}
		if stray {
			return "", errAtf(p.peek(), "unexpected %s", describe(p.peek()))
		}
	}
	if err := b.unclosed("query"); err != nil {
		return "", err
	}
	return p.text(start, p.i), nil
}

// checkWithBody refuses WITH … INSERT/UPDATE/DELETE/MERGE. The statement
// that follows a WITH starts right after the ")" that closes the last
// common table expression, so a data-changing keyword there is the body.
func (p *parser) checkWithBody() error {
	depth := 0
	for i := p.i + 1; i < len(p.toks)-1; i++ {
		t := p.toks[i]
		switch {
		case t.isPunct("("):
			depth++
		case t.isPunct(")"):
			if depth > 0 {
				depth--
			}
		case depth == 0 && p.toks[i-1].isPunct(")"):
			switch kw := t.upper(); kw {
			case "INSERT", "UPDATE", "DELETE", "MERGE":
				return errAtf(t, "WITH … %s is not supported; put the WITH inside the statement's query or use MERGE INTO … USING (WITH …)", kw)
			case "SELECT", "VALUES", "FROM", "TABLE":
				return nil
			}
		}
	}
	return nil
}

// properties parses ( key = value, … ). Keys are strings or dotted names
// (write.format.default); values are strings, numbers or bare words.
func (p *parser) properties(after string) (map[string]string, error) {
	if err := p.expectPunct("(", after); err != nil {
		return nil, err
	}
	props := map[string]string{}
	for {
		keyTok := p.peek()
		key, err := p.propertyKey()
		if err != nil {
			return nil, err
		}
		if _, dup := props[key]; dup {
			return nil, errAtf(keyTok, "duplicate property %q", key)
		}
		if t := p.peek(); !t.isOp("=") {
			return nil, p.errExpected(`"=" after property name`, t)
		}
		p.next()
		if props[key], err = p.propertyValue(); err != nil {
			return nil, err
		}
		if !p.isPunct(",") {
			break
		}
		p.next()
	}
	return props, p.expectPunct(")", "properties")
}

func (p *parser) propertyKey() (string, error) {
	t := p.peek()
	if t.Kind == TokString {
		p.next()
		return t.Value, nil
	}
	var parts []string
	for {
		t := p.peek()
		if t.Kind != TokWord && t.Kind != TokQuotedIdent {
			return "", p.errExpected("property name", t)
		}
		p.next()
		parts = append(parts, t.Value)
		if !p.isPunct(".") {
			return strings.Join(parts, "."), nil
		}
		p.next()
	}
}

func (p *parser) propertyValue() (string, error) {
	t := p.peek()
	switch t.Kind {
	case TokString:
		p.next()
		return t.Value, nil
	case TokNumber, TokWord:
		p.next()
		return t.Text, nil
	case TokOperator:
		if n := p.peekAt(1); (t.Text == "-" || t.Text == "+") && n.Kind == TokNumber {
			p.next()
			p.next()
			return t.Text + n.Text, nil
		}
	}
	return "", p.errExpected("property value", t)
}

// propertyKeys parses ( key, … ) for UNSET TBLPROPERTIES and RESET.
func (p *parser) propertyKeys(after string) ([]string, error) {
	if err := p.expectPunct("(", after); err != nil {
		return nil, err
	}
	var keys []string
	for {
		k, err := p.propertyKey()
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
		if !p.isPunct(",") {
			break
		}
		p.next()
	}
	return keys, p.expectPunct(")", "property names")
}

// statement dispatches on the first keyword.
func (p *parser) statement() (Statement, error) {
	t := p.peek()
	if isQueryStart(t) {
		q, err := p.query("")
		if err != nil {
			return nil, err
		}
		return Query{SQL: q}, nil
	}
	kw := t.upper()
	switch kw {
	case "EXPLAIN":
		return p.explain()
	case "CREATE":
		return p.create()
	case "DROP":
		return p.drop()
	case "ALTER":
		return p.alter()
	case "INSERT":
		return p.insert()
	case "DELETE":
		return p.delete()
	case "UPDATE":
		return p.update()
	case "MERGE":
		return p.merge()
	case "SHOW":
		return p.show()
	case "DESCRIBE", "DESC":
		return p.describe()
	}
	if reason, ok := refused[kw]; ok {
		if kw == "FORCE" && p.peekAt(1).Kind == TokWord {
			kw += " " + p.peekAt(1).upper()
		}
		return nil, &UnsupportedError{Keyword: kw, Reason: reason}
	}
	return nil, p.errExpected("a statement", t)
}

const (
	catalogRefusal     = "edp catalogs hold Iceberg schemas and tables only"
	transactionRefusal = "every edp statement commits on its own"
)

// refused maps the first word of DuckDB statements that edp does not run to
// the reason given; "" means DefaultRefusal.
var refused = map[string]string{
	"ABORT":      transactionRefusal,
	"ANALYZE":    "",
	"ANALYSE":    "",
	"ATTACH":     "",
	"BEGIN":      transactionRefusal,
	"CALL":       "",
	"CHECKPOINT": "",
	"COMMENT":    "",
	"COMMIT":     transactionRefusal,
	"COPY":       "",
	"DEALLOCATE": "",
	"DETACH":     "",
	"END":        transactionRefusal,
	"EXECUTE":    "",
	"EXPORT":     "",
	"FORCE":      "",
	"GRANT":      "",
	"IMPORT":     "",
	"INSTALL":    "",
	"LOAD":       "",
	"PIVOT":      "use SELECT … FROM … PIVOT (…) instead",
	"PRAGMA":     "",
	"PREPARE":    "",
	"RELEASE":    transactionRefusal,
	"RESET":      "",
	"REVOKE":     "",
	"ROLLBACK":   transactionRefusal,
	"SAVEPOINT":  transactionRefusal,
	"SET":        "",
	"START":      transactionRefusal,
	"TRUNCATE":   "use DELETE FROM <table>",
	"UNPIVOT":    "use SELECT … FROM … UNPIVOT (…) instead",
	"USE":        "",
	"VACUUM":     "",
}

// catalogObjects are the object kinds of CREATE, DROP and ALTER that DuckDB
// knows but an Iceberg catalog cannot hold. Secrets are not among them: they
// are refused with the default reason, since they open doors to storage.
var catalogObjects = setOf(
	"VIEW", "MACRO", "FUNCTION", "SEQUENCE", "INDEX", "TYPE", "DATABASE",
	"ROLE", "USER", "TRIGGER", "EXTENSION", "PROCEDURE",
)

// refuseObject builds the error for CREATE/DROP/ALTER of an object kind
// that edp does not manage, or returns nil if t is not such a kind.
func (p *parser) refuseObject(verb string, t Token) error {
	kw := t.upper()
	switch {
	case kw == "SECRET":
		return &UnsupportedError{Keyword: verb + " SECRET"}
	case kw == "PERSISTENT" || kw == "TEMP" || kw == "TEMPORARY":
		next := p.peekAt(1).upper()
		if next == "SECRET" {
			return &UnsupportedError{Keyword: verb + " SECRET"}
		}
		if kw == "TEMP" {
			kw = "TEMPORARY"
		}
		if next != "" {
			kw += " " + next
		}
		return &UnsupportedError{Keyword: verb + " " + kw, Reason: catalogRefusal}
	case kw == "UNIQUE":
		return &UnsupportedError{Keyword: verb + " INDEX", Reason: catalogRefusal}
	case kw == "MATERIALIZED":
		return &UnsupportedError{Keyword: verb + " MATERIALIZED VIEW", Reason: catalogRefusal}
	case catalogObjects[kw]:
		return &UnsupportedError{Keyword: verb + " " + kw, Reason: catalogRefusal}
	}
	return nil
}

func (p *parser) explain() (Statement, error) {
	p.next()
	analyze := p.acceptOneOf("ANALYZE", "ANALYSE")
	q, err := p.query("EXPLAIN")
	if err != nil {
		return nil, err
	}
	return Explain{Analyze: analyze, Query: q}, nil
}

func (p *parser) show() (Statement, error) {
	p.next()
	t := p.next()
	switch t.upper() {
	case "TABLES":
		var st ShowTables
		if p.acceptOneOf("IN", "FROM") {
			n, err := p.name("schema name")
			if err != nil {
				return nil, err
			}
			st.In = n
		}
		return st, p.expectEnd()
	case "SCHEMAS", "NAMESPACES", "DATABASES":
		return ShowSchemas{}, p.expectEnd()
	case "COLUMNS":
		if !p.acceptOneOf("FROM", "IN") {
			return nil, p.errExpected("FROM after SHOW COLUMNS", p.peek())
		}
		n, err := p.name("table name")
		if err != nil {
			return nil, err
		}
		return Describe{Table: n}, p.expectEnd()
	case "SNAPSHOTS":
		p.acceptOneOf("FROM", "IN", "OF")
		n, err := p.name("table name")
		if err != nil {
			return nil, err
		}
		return ShowSnapshots{Table: n}, p.expectEnd()
	}
	return nil, p.errExpected("TABLES, SCHEMAS, COLUMNS or SNAPSHOTS after SHOW", t)
}

func (p *parser) describe() (Statement, error) {
	p.next()
	p.acceptKw("TABLE")
	n, err := p.name("table name")
	if err != nil {
		return nil, err
	}
	return Describe{Table: n}, p.expectEnd()
}
