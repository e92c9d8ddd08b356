package sqlstmt

import "strings"

func (p *parser) create() (Statement, error) {
	p.next()
	orReplace := p.acceptKw("OR", "REPLACE")
	t := p.peek()
	switch t.upper() {
	case "TABLE":
		p.next()
		return p.createTable(orReplace)
	case "SCHEMA", "NAMESPACE":
		if orReplace {
			return nil, errAt(t, "CREATE OR REPLACE SCHEMA is not supported")
		}
		p.next()
		return p.createSchema()
	}
	if err := p.refuseObject("CREATE", t); err != nil {
		return nil, err
	}
	if orReplace {
		return nil, p.errExpected("TABLE after CREATE OR REPLACE", t)
	}
	return nil, p.errExpected("TABLE or SCHEMA after CREATE", t)
}

func (p *parser) createSchema() (Statement, error) {
	cs := CreateSchema{IfNotExists: p.acceptKw("IF", "NOT", "EXISTS")}
	var err error
	if cs.Name, err = p.name("schema name"); err != nil {
		return nil, err
	}
	if p.acceptKw("WITH") {
		// Spark spells it WITH DBPROPERTIES, Trino WITH; take either.
		if !p.acceptKw("DBPROPERTIES") {
			p.acceptKw("PROPERTIES")
		}
		if cs.Properties, err = p.properties("WITH"); err != nil {
			return nil, err
		}
	}
	return cs, p.expectEnd()
}

func (p *parser) createTable(orReplace bool) (Statement, error) {
	ct := CreateTable{OrReplace: orReplace}
	if t := p.peek(); p.acceptKw("IF", "NOT", "EXISTS") {
		ct.IfNotExists = true
		if orReplace {
			return nil, errAt(t, "OR REPLACE and IF NOT EXISTS cannot be combined")
		}
	}
	var err error
	if ct.Name, err = p.name("table name"); err != nil {
		return nil, err
	}
	if p.isPunct("(") {
		if ct.Columns, err = p.columnDefs(); err != nil {
			return nil, err
		}
	}
	for !p.atEnd() {
		t := p.peek()
		switch {
		case t.isKw("PARTITIONED") || t.isKw("PARTITION"):
			if ct.PartitionBy != nil {
				return nil, errAt(t, "PARTITIONED BY given twice")
			}
			p.next()
			if err := p.expectKw("BY", t.upper()); err != nil {
				return nil, err
			}
			if ct.PartitionBy, err = p.exprList("partition expression", t.upper()+" BY"); err != nil {
				return nil, err
			}
		case t.isKw("WITH") && p.peekAt(1).isPunct("("), t.isKw("TBLPROPERTIES"):
			if ct.Properties != nil {
				return nil, errAt(t, "table properties given twice")
			}
			p.next()
			if ct.Properties, err = p.properties(t.upper()); err != nil {
				return nil, err
			}
		case t.isKw("USING"):
			// Spark's "USING iceberg" says what every edp table is anyway.
			p.next()
			if f := p.next(); !f.isKw("ICEBERG") {
				return nil, errAtf(f, "expected ICEBERG after USING, got %s: edp tables are Iceberg tables", describe(f))
			}
		case t.isKw("AS"):
			if ct.Columns != nil {
				return nil, errAt(t, "CREATE TABLE … AS takes its columns from the query; remove the column definitions")
			}
			p.next()
			if ct.AsQuery, err = p.query("AS"); err != nil {
				return nil, err
			}
		default:
			return nil, p.errExpected("PARTITIONED BY, WITH (…), AS or end of statement", t)
		}
	}
	if ct.Columns == nil && ct.AsQuery == "" {
		return nil, p.errExpected("column definitions or AS <query> after table name", p.peek())
	}
	return ct, nil
}

// tableConstraints start a table constraint inside a column list; all are
// reserved words, so no column can be named like them unquoted.
var tableConstraints = setOf("PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "CONSTRAINT")

func (p *parser) columnDefs() ([]ColumnDef, error) {
	p.next()
	var cols []ColumnDef
	for {
		if t := p.peek(); tableConstraints[t.upper()] {
			return nil, errAtf(t, "table constraints (%s) are not supported", t.upper())
		}
		id, err := p.ident("column name")
		if err != nil {
			return nil, err
		}
		col := ColumnDef{Name: id}
		if err := p.columnTail(&col); err != nil {
			return nil, err
		}
		cols = append(cols, col)
		if !p.isPunct(",") {
			break
		}
		p.next()
	}
	return cols, p.expectPunct(")", "column definition")
}

// columnConstraints are the DuckDB column constraints that Iceberg cannot
// express.
var columnConstraints = setOf("PRIMARY", "UNIQUE", "DEFAULT", "CHECK", "REFERENCES",
	"CONSTRAINT", "GENERATED", "COLLATE", "AS")

// typeStops end a column type at nesting depth zero.
var typeStops = setOf("NOT", "NULL", "COMMENT", "USING", "PRIMARY", "UNIQUE", "DEFAULT",
	"CHECK", "REFERENCES", "CONSTRAINT", "GENERATED", "COLLATE", "AS")

// columnTail parses the type and options that follow a column name.
func (p *parser) columnTail(col *ColumnDef) error {
	var err error
	if col.Type, err = p.columnType(); err != nil {
		return err
	}
	nullSeen, commentSeen := false, false
	for {
		t := p.peek()
		switch {
		case p.acceptKw("NOT", "NULL"):
			if nullSeen && !col.NotNull {
				return errAt(t, "conflicting NULL and NOT NULL")
			}
			nullSeen, col.NotNull = true, true
		case t.isKw("NULL"):
			p.next()
			if col.NotNull {
				return errAt(t, "conflicting NULL and NOT NULL")
			}
			nullSeen = true
		case t.isKw("COMMENT"):
			p.next()
			s := p.peek()
			if s.Kind != TokString {
				return p.errExpected("string after COMMENT", s)
			}
			if commentSeen {
				return errAt(t, "COMMENT given twice")
			}
			p.next()
			col.Comment, commentSeen = s.Value, true
		case columnConstraints[t.upper()]:
			return errAtf(t, "column constraint %s is not supported", t.upper())
		default:
			return nil
		}
	}
}

// columnType returns a column type as written, with whitespace normalised
// so that equal types compare equal. Only names, numbers, strings (ENUM
// labels), brackets, commas and dots can occur, so the text is safe to put
// back into DDL.
func (p *parser) columnType() (string, error) {
	first := p.peek()
	if (first.Kind != TokWord && first.Kind != TokQuotedIdent) || typeStops[first.upper()] {
		return "", p.errExpected("column type", first)
	}
	var sb strings.Builder
	var b brackets
	prev := ""
	for {
		t := p.peek()
		if t.Kind == TokEOF {
			break
		}
		if b.depth() == 0 && (t.isPunct(",") || t.isPunct(")") || typeStops[t.upper()]) {
			break
		}
		switch {
		case t.Kind == TokWord, t.Kind == TokQuotedIdent, t.Kind == TokNumber, t.Kind == TokString:
		case t.isPunct("("), t.isPunct(")"), t.isPunct("["), t.isPunct("]"), t.isPunct(","), t.isPunct("."):
			stray, err := b.step(t)
			if err != nil {
				return "", err
			}
			if stray {
				return "", errAtf(t, "unexpected %s in column type", describe(t))
			}
		default:
			return "", errAtf(t, "unexpected %s in column type", describe(t))
		}
		if typeSpace(prev, t.Text) {
			sb.WriteByte(' ')
		}
		sb.WriteString(t.Text)
		prev = t.Text
		p.next()
	}
	if err := b.unclosed("column type"); err != nil {
		return "", err
	}
	return sb.String(), nil
}

// typeSpace reports whether a space goes between two tokens of a type:
// "DECIMAL(10, 2)", "INTEGER[]", "TIMESTAMP WITH TIME ZONE".
func typeSpace(prev, cur string) bool {
	if prev == "" {
		return false
	}
	switch cur {
	case "(", ")", "[", "]", ",", ".":
		return false
	}
	switch prev {
	case "(", "[", ".":
		return false
	}
	return true
}

func (p *parser) drop() (Statement, error) {
	p.next()
	t := p.peek()
	switch t.upper() {
	case "TABLE":
		p.next()
		dt := DropTable{IfExists: p.acceptKw("IF", "EXISTS")}
		var err error
		if dt.Name, err = p.name("table name"); err != nil {
			return nil, err
		}
		if p.isPunct(",") {
			return nil, errAt(p.peek(), "DROP TABLE drops one table at a time")
		}
		dt.Purge = p.acceptKw("PURGE")
		return dt, p.expectEnd()
	case "SCHEMA", "NAMESPACE":
		p.next()
		ds := DropSchema{IfExists: p.acceptKw("IF", "EXISTS")}
		var err error
		if ds.Name, err = p.name("schema name"); err != nil {
			return nil, err
		}
		if p.isPunct(",") {
			return nil, errAt(p.peek(), "DROP SCHEMA drops one schema at a time")
		}
		if p.acceptKw("CASCADE") {
			ds.Cascade = true
		} else {
			p.acceptKw("RESTRICT")
		}
		return ds, p.expectEnd()
	}
	if err := p.refuseObject("DROP", t); err != nil {
		return nil, err
	}
	return nil, p.errExpected("TABLE or SCHEMA after DROP", t)
}

func (p *parser) alter() (Statement, error) {
	p.next()
	t := p.peek()
	if t.isKw("TABLE") {
		p.next()
		return p.alterTable()
	}
	if err := p.refuseObject("ALTER", t); err != nil {
		return nil, err
	}
	return nil, p.errExpected("TABLE after ALTER", t)
}

func (p *parser) alterTable() (Statement, error) {
	if t := p.peek(); t.isKw("IF") && p.peekAt(1).isKw("EXISTS") {
		return nil, errAt(t, "ALTER TABLE IF EXISTS is not supported")
	}
	name, err := p.name("table name")
	if err != nil {
		return nil, err
	}
	var action AlterAction
	t := p.next()
	switch t.upper() {
	case "ADD":
		if p.acceptKw("PARTITION", "FIELD") {
			var e string
			e, err = p.partitionField()
			action = AddPartitionField{Expr: e}
		} else {
			action, err = p.addColumn()
		}
	case "DROP":
		if p.acceptKw("PARTITION", "FIELD") {
			var e string
			e, err = p.partitionField()
			action = DropPartitionField{Expr: e}
		} else {
			p.acceptKw("COLUMN")
			dc := DropColumn{IfExists: p.acceptKw("IF", "EXISTS")}
			dc.Column, err = p.name("column name")
			action = dc
		}
	case "RENAME":
		action, err = p.rename()
	case "ALTER":
		action, err = p.alterColumn()
	case "SET":
		if !p.acceptKw("TBLPROPERTIES") && !p.isPunct("(") {
			return nil, p.errExpected("TBLPROPERTIES or ( after SET", p.peek())
		}
		var props map[string]string
		props, err = p.properties("SET")
		action = SetProperties{Properties: props}
	case "UNSET", "RESET":
		if t.isKw("UNSET") {
			if err := p.expectKw("TBLPROPERTIES", "UNSET"); err != nil {
				return nil, err
			}
		}
		var keys []string
		keys, err = p.propertyKeys(t.upper())
		action = UnsetProperties{Keys: keys}
	default:
		return nil, p.errExpected("ADD, DROP, RENAME, ALTER, SET, UNSET or RESET after table name", t)
	}
	if err != nil {
		return nil, err
	}
	if p.isPunct(",") {
		return nil, errAt(p.peek(), "ALTER TABLE takes one action at a time")
	}
	return AlterTable{Name: name, Action: action}, p.expectEnd()
}

func (p *parser) partitionField() (string, error) {
	e, err := p.expr("partition expression", stopAt(false, "AS"))
	if err != nil {
		return "", err
	}
	if t := p.peek(); t.isKw("AS") {
		return "", errAt(t, "naming partition fields (AS …) is not supported")
	}
	return e, nil
}

func (p *parser) addColumn() (AlterAction, error) {
	if t := p.peek(); t.isKw("COLUMNS") && p.peekAt(1).isPunct("(") {
		return nil, errAt(t, "ADD COLUMNS (…) is not supported; add one column at a time")
	}
	p.acceptKw("COLUMN")
	ac := AddColumn{IfNotExists: p.acceptKw("IF", "NOT", "EXISTS")}
	var err error
	if ac.Path, err = p.name("column name"); err != nil {
		return nil, err
	}
	ac.Column.Name = ac.Path[len(ac.Path)-1]
	if err := p.columnTail(&ac.Column); err != nil {
		return nil, err
	}
	return ac, nil
}

func (p *parser) rename() (AlterAction, error) {
	if p.acceptKw("TO") {
		to, err := p.name("new table name")
		if err != nil {
			return nil, err
		}
		return RenameTable{To: to}, nil
	}
	p.acceptKw("COLUMN")
	from, err := p.name("column name")
	if err != nil {
		return nil, err
	}
	if err := p.expectKw("TO", "column name"); err != nil {
		return nil, err
	}
	to, err := p.ident("new column name")
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.isPunct(".") {
		return nil, errAt(t, "the new column name is a single name: RENAME COLUMN cannot move a column")
	}
	return RenameColumn{From: from, To: to}, nil
}

func (p *parser) alterColumn() (AlterAction, error) {
	p.acceptKw("COLUMN")
	col, err := p.name("column name")
	if err != nil {
		return nil, err
	}
	if !p.acceptKw("SET", "DATA", "TYPE") && !p.acceptKw("TYPE") {
		return nil, p.errExpected("TYPE or SET DATA TYPE after column name (other column changes are not supported)", p.peek())
	}
	typ, err := p.columnType()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.isKw("USING") {
		return nil, errAt(t, "ALTER COLUMN … TYPE … USING is not supported")
	}
	return AlterColumnType{Column: col, Type: typ}, nil
}
