package sqlstmt

import "strings"

// Ident is one identifier. Name has quotes removed and "" unescaped; Quoted
// records whether it was written in double quotes, which callers need to
// decide on case handling and to write the name back into SQL.
type Ident struct {
	Name   string
	Quoted bool
}

// String returns the identifier as SQL, quoted if it was quoted.
func (id Ident) String() string {
	if !id.Quoted {
		return id.Name
	}
	return `"` + strings.ReplaceAll(id.Name, `"`, `""`) + `"`
}

// Name is a dotted, possibly qualified name such as ns.t or "My NS"."T".
type Name []Ident

// String returns the name as SQL, each part quoted as it was written.
func (n Name) String() string {
	parts := make([]string, len(n))
	for i, id := range n {
		parts[i] = id.String()
	}
	return strings.Join(parts, ".")
}

// Statement is one decomposed SQL statement. The set of implementations is
// closed: it is exactly the statement kinds edp knows how to run.
type Statement interface {
	// Kind names the statement kind, e.g. "SELECT" or "CREATE TABLE".
	Kind() string
	statement()
}

// Query is a SELECT-like statement. SQL is the statement text from its first
// to its last token, so it can be wrapped in another query; DuckDB's own
// parser checks it.
type Query struct {
	SQL string
}

// Explain is EXPLAIN [ANALYZE] <query>.
type Explain struct {
	Analyze bool
	Query   string
}

// CreateSchema is CREATE SCHEMA|NAMESPACE [IF NOT EXISTS] name [WITH (…)].
type CreateSchema struct {
	Name        Name
	IfNotExists bool
	Properties  map[string]string
}

// DropSchema is DROP SCHEMA|NAMESPACE [IF EXISTS] name [CASCADE|RESTRICT].
type DropSchema struct {
	Name     Name
	IfExists bool
	Cascade  bool
}

// ColumnDef is one column of CREATE TABLE or ALTER TABLE … ADD COLUMN.
type ColumnDef struct {
	Name Ident
	// Type is the type as written, with whitespace normalised:
	// "DECIMAL(10, 2)", "STRUCT(a INTEGER, \"b c\" VARCHAR)", "INTEGER[]".
	Type    string
	NotNull bool
	Comment string
}

// CreateTable is CREATE TABLE, either with column definitions or, when
// AsQuery is set, as CREATE TABLE … AS <query> with Columns nil.
type CreateTable struct {
	Name        Name
	IfNotExists bool
	OrReplace   bool
	Columns     []ColumnDef
	// PartitionBy holds the partition expressions as written, e.g.
	// "day(ts)" or "bucket(16, id)".
	PartitionBy []string
	Properties  map[string]string
	AsQuery     string
}

// DropTable is DROP TABLE [IF EXISTS] name [PURGE].
type DropTable struct {
	Name     Name
	IfExists bool
	Purge    bool
}

// AlterTable is ALTER TABLE name <action>; edp takes one action at a time.
type AlterTable struct {
	Name   Name
	Action AlterAction
}

// AlterAction is what an ALTER TABLE does. The set of implementations is
// closed.
type AlterAction interface {
	// Kind names the action, e.g. "ADD COLUMN".
	Kind() string
	alterAction()
}

// AddColumn is ADD [COLUMN] [IF NOT EXISTS] path type …. Path is the full,
// possibly dotted, path of the new column (a.b adds field b to struct a);
// Column.Name is its last element.
type AddColumn struct {
	Path        Name
	Column      ColumnDef
	IfNotExists bool
}

// RenameColumn is RENAME [COLUMN] from TO to; From may be a nested path,
// To is the new last element.
type RenameColumn struct {
	From Name
	To   Ident
}

// DropColumn is DROP [COLUMN] [IF EXISTS] path.
type DropColumn struct {
	Column   Name
	IfExists bool
}

// AlterColumnType is ALTER [COLUMN] path [SET DATA] TYPE type.
type AlterColumnType struct {
	Column Name
	Type   string
}

// RenameTable is RENAME TO name.
type RenameTable struct {
	To Name
}

// SetProperties is SET TBLPROPERTIES (…) or SET (…).
type SetProperties struct {
	Properties map[string]string
}

// UnsetProperties is UNSET TBLPROPERTIES (…) or RESET (…).
type UnsetProperties struct {
	Keys []string
}

// AddPartitionField is ADD PARTITION FIELD expr.
type AddPartitionField struct {
	Expr string
}

// DropPartitionField is DROP PARTITION FIELD expr.
type DropPartitionField struct {
	Expr string
}

// Insert is INSERT INTO name [(columns)] <query>.
type Insert struct {
	Table   Name
	Columns []Ident
	Query   string
}

// Delete is DELETE FROM name [[AS] alias] [WHERE expr]. Alias is written as
// in the source (quotes kept) so it can be pasted back into SQL. Where is
// empty when every row is deleted.
type Delete struct {
	Table Name
	Alias string
	Where string
}

// Assignment is one column = expr of UPDATE or MERGE … UPDATE SET.
type Assignment struct {
	Column Ident
	Expr   string
}

// Update is UPDATE name [[AS] alias] SET … [WHERE expr].
type Update struct {
	Table Name
	Alias string
	Set   []Assignment
	Where string
}

// Merge is MERGE INTO target [[AS] alias] USING source [[AS] alias] ON cond
// WHEN …. Source is either a table name or a parenthesised query, as
// written; the aliases are as written too.
type Merge struct {
	Target      Name
	TargetAlias string
	Source      string
	SourceAlias string
	On          string
	Clauses     []MergeClause
}

// Merge actions.
const (
	MergeUpdate    = "UPDATE"
	MergeDelete    = "DELETE"
	MergeInsert    = "INSERT"
	MergeDoNothing = "DO NOTHING"
)

// MergeClause is one WHEN [NOT] MATCHED [AND cond] THEN action.
type MergeClause struct {
	// Matched distinguishes WHEN MATCHED from WHEN NOT MATCHED [BY TARGET].
	Matched bool
	// Cond is the AND condition, "" if none.
	Cond string
	// Action is one of MergeUpdate, MergeDelete, MergeInsert or
	// MergeDoNothing.
	Action string
	Set    []Assignment
	// SetStar is UPDATE SET *.
	SetStar       bool
	InsertColumns []Ident
	InsertValues  []string
	// InsertStar is INSERT *.
	InsertStar bool
}

// ShowTables is SHOW TABLES [IN|FROM ns]; In is nil without a namespace.
type ShowTables struct {
	In Name
}

// ShowSchemas is SHOW SCHEMAS|NAMESPACES|DATABASES.
type ShowSchemas struct{}

// Describe is DESCRIBE|DESC name or SHOW COLUMNS FROM name.
type Describe struct {
	Table Name
}

// ShowSnapshots is SHOW SNAPSHOTS [FROM|IN|OF] name.
type ShowSnapshots struct {
	Table Name
}

func (Query) Kind() string         { return "SELECT" }
func (Explain) Kind() string       { return "EXPLAIN" }
func (CreateSchema) Kind() string  { return "CREATE SCHEMA" }
func (DropSchema) Kind() string    { return "DROP SCHEMA" }
func (CreateTable) Kind() string   { return "CREATE TABLE" }
func (DropTable) Kind() string     { return "DROP TABLE" }
func (AlterTable) Kind() string    { return "ALTER TABLE" }
func (Insert) Kind() string        { return "INSERT" }
func (Delete) Kind() string        { return "DELETE" }
func (Update) Kind() string        { return "UPDATE" }
func (Merge) Kind() string         { return "MERGE" }
func (ShowTables) Kind() string    { return "SHOW TABLES" }
func (ShowSchemas) Kind() string   { return "SHOW SCHEMAS" }
func (Describe) Kind() string      { return "DESCRIBE" }
func (ShowSnapshots) Kind() string { return "SHOW SNAPSHOTS" }

func (Query) statement()         {}
func (Explain) statement()       {}
func (CreateSchema) statement()  {}
func (DropSchema) statement()    {}
func (CreateTable) statement()   {}
func (DropTable) statement()     {}
func (AlterTable) statement()    {}
func (Insert) statement()        {}
func (Delete) statement()        {}
func (Update) statement()        {}
func (Merge) statement()         {}
func (ShowTables) statement()    {}
func (ShowSchemas) statement()   {}
func (Describe) statement()      {}
func (ShowSnapshots) statement() {}

func (AddColumn) Kind() string          { return "ADD COLUMN" }
func (RenameColumn) Kind() string       { return "RENAME COLUMN" }
func (DropColumn) Kind() string         { return "DROP COLUMN" }
func (AlterColumnType) Kind() string    { return "ALTER COLUMN TYPE" }
func (RenameTable) Kind() string        { return "RENAME TABLE" }
func (SetProperties) Kind() string      { return "SET PROPERTIES" }
func (UnsetProperties) Kind() string    { return "UNSET PROPERTIES" }
func (AddPartitionField) Kind() string  { return "ADD PARTITION FIELD" }
func (DropPartitionField) Kind() string { return "DROP PARTITION FIELD" }

func (AddColumn) alterAction()          {}
func (RenameColumn) alterAction()       {}
func (DropColumn) alterAction()         {}
func (AlterColumnType) alterAction()    {}
func (RenameTable) alterAction()        {}
func (SetProperties) alterAction()      {}
func (UnsetProperties) alterAction()    {}
func (AddPartitionField) alterAction()  {}
func (DropPartitionField) alterAction() {}
