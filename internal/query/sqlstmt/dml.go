package sqlstmt

import "strings"

func (p *parser) insert() (Statement, error) {
	p.next()
	switch t := p.peek(); {
	case t.isKw("OR"):
		return nil, errAt(t, "INSERT OR REPLACE and INSERT OR IGNORE are not supported; use MERGE INTO")
	case t.isKw("OVERWRITE"):
		return nil, errAt(t, "INSERT OVERWRITE is not supported")
	}
	if err := p.expectKw("INTO", "INSERT"); err != nil {
		return nil, err
	}
	ins := Insert{}
	var err error
	if ins.Table, err = p.name("table name"); err != nil {
		return nil, err
	}
	if t := p.peek(); t.isKw("AS") {
		return nil, errAt(t, "a table alias in INSERT is not supported")
	}
	// "(" opens either the column list or a parenthesised query.
	if p.isPunct("(") && !isQueryStart(p.peekAt(1)) {
		if ins.Columns, err = p.identList("column name", "table name"); err != nil {
			return nil, err
		}
	}
	switch t := p.peek(); {
	case t.isKw("DEFAULT"):
		return nil, errAt(t, "INSERT … DEFAULT VALUES is not supported")
	case t.isKw("BY"):
		return nil, errAt(t, "INSERT … BY NAME and BY POSITION are not supported; list the columns instead")
	}
	start := p.i
	if ins.Query, err = p.query("table name"); err != nil {
		return nil, err
	}
	return ins, p.refuseInsertTail(start)
}

// refuseInsertTail rejects RETURNING and ON CONFLICT after an INSERT's
// query. DuckDB would accept them as part of the INSERT, but edp runs the
// query on its own, where they would only produce a confusing error.
func (p *parser) refuseInsertTail(from int) error {
	depth := 0
	for i := from; i < len(p.toks)-1; i++ {
		t := p.toks[i]
		depth = nesting(t, depth)
		if depth > 0 {
			continue
		}
		if t.isKw("RETURNING") {
			return errAt(t, "RETURNING is not supported")
		}
		if n := p.toks[i+1]; t.isKw("ON") && n.isKw("CONFLICT") {
			if a := p.toks[min(i+2, len(p.toks)-1)]; a.isPunct("(") || a.isKw("DO") || a.isKw("ON") {
				return errAt(t, "INSERT … ON CONFLICT is not supported; use MERGE INTO")
			}
		}
	}
	return nil
}

func (p *parser) refuseReturning() error {
	if t := p.peek(); t.isKw("RETURNING") {
		return errAt(t, "RETURNING is not supported")
	}
	return nil
}

func (p *parser) delete() (Statement, error) {
	p.next()
	if err := p.expectKw("FROM", "DELETE"); err != nil {
		return nil, err
	}
	del := Delete{}
	var err error
	if del.Table, err = p.name("table name"); err != nil {
		return nil, err
	}
	if del.Alias, err = p.alias(); err != nil {
		return nil, err
	}
	if t := p.peek(); t.isKw("USING") {
		return nil, errAt(t, "DELETE … USING is not supported; use MERGE INTO")
	}
	if p.acceptKw("WHERE") {
		if del.Where, err = p.expr("condition after WHERE", stopAt(false, "RETURNING")); err != nil {
			return nil, err
		}
	}
	if err := p.refuseReturning(); err != nil {
		return nil, err
	}
	return del, p.expectEnd()
}

func (p *parser) update() (Statement, error) {
	p.next()
	if t := p.peek(); t.isKw("EXTENSIONS") && (p.peekAt(1).Kind == TokEOF || p.peekAt(1).isPunct("(")) {
		return nil, &UnsupportedError{Keyword: "UPDATE EXTENSIONS"}
	}
	up := Update{}
	var err error
	if up.Table, err = p.name("table name"); err != nil {
		return nil, err
	}
	if up.Alias, err = p.alias("SET"); err != nil {
		return nil, err
	}
	if err := p.expectKw("SET", "table name"); err != nil {
		return nil, err
	}
	if up.Set, err = p.assignments(up.Table, up.Alias, stopAt(true, "WHERE", "FROM", "RETURNING")); err != nil {
		return nil, err
	}
	if t := p.peek(); t.isKw("FROM") {
		return nil, errAt(t, "UPDATE … FROM is not supported; use MERGE INTO")
	}
	if p.acceptKw("WHERE") {
		if up.Where, err = p.expr("condition after WHERE", stopAt(false, "RETURNING")); err != nil {
			return nil, err
		}
	}
	if err := p.refuseReturning(); err != nil {
		return nil, err
	}
	return up, p.expectEnd()
}

// assignments parses column = expr, … for UPDATE and MERGE.
func (p *parser) assignments(table Name, alias string, stop func(prev, t Token) bool) ([]Assignment, error) {
	var set []Assignment
	for {
		col, err := p.setTarget(table, alias)
		if err != nil {
			return nil, err
		}
		if t := p.peek(); !t.isOp("=") {
			return nil, p.errExpected(`"=" after column name`, t)
		}
		p.next()
		e, err := p.expr("expression after =", stop)
		if err != nil {
			return nil, err
		}
		set = append(set, Assignment{Column: col, Expr: e})
		if !p.isPunct(",") {
			return set, nil
		}
		p.next()
	}
}

// setTarget parses the column of an assignment. A qualifier naming the
// target table is allowed and dropped (Spark writes t.c = …); anything else
// would be a nested field, which Iceberg updates as a whole column.
func (p *parser) setTarget(table Name, alias string) (Ident, error) {
	t := p.peek()
	if t.isPunct("(") {
		return Ident{}, errAt(t, "assigning several columns at once with ( … ) = … is not supported")
	}
	n, err := p.name("column name")
	if err != nil {
		return Ident{}, err
	}
	if len(n) == 1 {
		return n[0], nil
	}
	if len(n) == 2 && qualifies(n[0], table, alias) {
		return n[1], nil
	}
	return Ident{}, errAtf(t, "SET takes a column of the target table, got %s", n)
}

// qualifies reports whether q names the target: its alias if it has one,
// else the table's own name. Like DuckDB, it ignores case.
func qualifies(q Ident, table Name, alias string) bool {
	if alias == "" {
		return strings.EqualFold(q.Name, table[len(table)-1].Name)
	}
	if strings.HasPrefix(alias, `"`) {
		alias = strings.ReplaceAll(alias[1:len(alias)-1], `""`, `"`)
	}
	return strings.EqualFold(q.Name, alias)
}

func (p *parser) merge() (Statement, error) {
	p.next()
	if err := p.expectKw("INTO", "MERGE"); err != nil {
		return nil, err
	}
	m := Merge{}
	var err error
	if m.Target, err = p.name("table name"); err != nil {
		return nil, err
	}
	if m.TargetAlias, err = p.alias(); err != nil {
		return nil, err
	}
	if err := p.expectKw("USING", "target table"); err != nil {
		return nil, err
	}
	start := p.i
	switch t := p.peek(); {
	case t.isPunct("("):
		if err := p.skipParens("MERGE source"); err != nil {
			return nil, err
		}
	case isIdent(t):
		if _, err := p.name("source table"); err != nil {
			return nil, err
		}
		if t := p.peek(); t.isPunct("(") {
			return nil, errAt(t, "the MERGE source must be a table name or a (subquery)")
		}
	default:
		return nil, p.errExpected("table name or (subquery) after USING", t)
	}
	m.Source = p.text(start, p.i)
	if m.SourceAlias, err = p.alias(); err != nil {
		return nil, err
	}
	if err := p.expectKw("ON", "MERGE source"); err != nil {
		return nil, err
	}
	if m.On, err = p.expr("join condition after ON", stopAt(false, "WHEN")); err != nil {
		return nil, err
	}
	for p.isKw("WHEN") {
		c, err := p.mergeClause(m.Target, m.TargetAlias)
		if err != nil {
			return nil, err
		}
		m.Clauses = append(m.Clauses, c)
	}
	if m.Clauses == nil {
		return nil, p.errExpected("WHEN after the ON condition", p.peek())
	}
	if err := p.refuseReturning(); err != nil {
		return nil, err
	}
	return m, p.expectEnd()
}

func (p *parser) mergeClause(target Name, alias string) (MergeClause, error) {
	p.next()
	c := MergeClause{Matched: !p.acceptKw("NOT")}
	after := "WHEN"
	if !c.Matched {
		after = "WHEN NOT"
	}
	if err := p.expectKw("MATCHED", after); err != nil {
		return c, err
	}
	if by := p.peek(); by.isKw("BY") {
		p.next()
		switch t := p.peek(); {
		case c.Matched:
			return c, errAt(by, "BY TARGET and BY SOURCE go with WHEN NOT MATCHED")
		case t.isKw("TARGET"):
			p.next()
		case t.isKw("SOURCE"):
			return c, errAt(t, "WHEN NOT MATCHED BY SOURCE is not supported")
		default:
			return c, p.errExpected("TARGET after BY", t)
		}
	}
	var err error
	if p.acceptKw("AND") {
		if c.Cond, err = p.expr("condition after AND", stopAt(false, "THEN")); err != nil {
			return c, err
		}
	}
	if err := p.expectKw("THEN", "WHEN clause"); err != nil {
		return c, err
	}
	t := p.next()
	kw := t.upper()
	switch {
	case kw == "UPDATE" && c.Matched:
		c.Action = MergeUpdate
		if err := p.expectKw("SET", "UPDATE"); err != nil {
			return c, err
		}
		if p.peek().isOp("*") {
			p.next()
			c.SetStar = true
			break
		}
		c.Set, err = p.assignments(target, alias, stopAt(true, "WHEN", "RETURNING"))
	case kw == "DELETE" && c.Matched:
		c.Action = MergeDelete
	case kw == "INSERT" && !c.Matched:
		c.Action = MergeInsert
		err = p.mergeInsert(&c)
	case kw == "DO":
		c.Action = MergeDoNothing
		err = p.expectKw("NOTHING", "DO")
	case c.Matched:
		return c, p.errExpected("UPDATE, DELETE or DO NOTHING after WHEN MATCHED … THEN", t)
	default:
		return c, p.errExpected("INSERT or DO NOTHING after WHEN NOT MATCHED … THEN", t)
	}
	return c, err
}

func (p *parser) mergeInsert(c *MergeClause) error {
	switch t := p.peek(); {
	case t.isOp("*"):
		p.next()
		c.InsertStar = true
		return nil
	case t.isKw("DEFAULT"):
		return errAt(t, "INSERT DEFAULT VALUES is not supported")
	case t.isKw("BY"):
		return errAt(t, "INSERT BY NAME is not supported; use INSERT * or list the columns")
	}
	var err error
	if p.isPunct("(") {
		if c.InsertColumns, err = p.identList("column name", "INSERT"); err != nil {
			return err
		}
	}
	vt := p.peek()
	if err := p.expectKw("VALUES", "INSERT"); err != nil {
		return err
	}
	if c.InsertValues, err = p.exprList("value", "VALUES"); err != nil {
		return err
	}
	if c.InsertColumns != nil && len(c.InsertColumns) != len(c.InsertValues) {
		return errAtf(vt, "INSERT lists %d columns but VALUES lists %d", len(c.InsertColumns), len(c.InsertValues))
	}
	return nil
}
