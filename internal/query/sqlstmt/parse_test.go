package sqlstmt

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		want Statement
	}{
		// Queries.
		{"select", "SELECT 1", Query{SQL: "SELECT 1"}},
		{"select trailing semicolon", "  select a from t ;  ", Query{SQL: "select a from t"}},
		{"select trailing comment", "SELECT 1; -- done", Query{SQL: "SELECT 1"}},
		{"select keeps inner comments", "SELECT a, -- first\n b /* second */ FROM t", Query{SQL: "SELECT a, -- first\n b /* second */ FROM t"}},
		{"select string with keywords", "SELECT 'DELETE FROM t; DROP TABLE x'", Query{SQL: "SELECT 'DELETE FROM t; DROP TABLE x'"}},
		{"with", "WITH x AS (SELECT 1) SELECT * FROM x", Query{SQL: "WITH x AS (SELECT 1) SELECT * FROM x"}},
		{"with column list", "WITH x(a) AS (SELECT 1), y AS MATERIALIZED (SELECT 2) SELECT * FROM x, y", Query{SQL: "WITH x(a) AS (SELECT 1), y AS MATERIALIZED (SELECT 2) SELECT * FROM x, y"}},
		{"values", "VALUES (1), (2)", Query{SQL: "VALUES (1), (2)"}},
		{"from first", "FROM t WHERE a > 1", Query{SQL: "FROM t WHERE a > 1"}},
		{"table", "TABLE t", Query{SQL: "TABLE t"}},
		{"summarize", "SUMMARIZE t", Query{SQL: "SUMMARIZE t"}},
		{"parenthesised", "(SELECT 1) UNION (SELECT 2)", Query{SQL: "(SELECT 1) UNION (SELECT 2)"}},
		{"dollar quoted", "SELECT $$it's; here$$, $x$a$$b$x$", Query{SQL: "SELECT $$it's; here$$, $x$a$$b$x$"}},

		// EXPLAIN.
		{"explain", "EXPLAIN SELECT 1", Explain{Query: "SELECT 1"}},
		{"explain analyze", "explain analyze WITH x AS (SELECT 1) FROM x;", Explain{Analyze: true, Query: "WITH x AS (SELECT 1) FROM x"}},

		// Schemas.
		{"create schema", "CREATE SCHEMA sales", CreateSchema{Name: name("sales")}},
		{"create namespace if not exists", "create namespace if not exists a.b", CreateSchema{Name: name("a", "b"), IfNotExists: true}},
		{"create schema quoted", `CREATE SCHEMA "My ""NS"""`, CreateSchema{Name: Name{qid(`My "NS"`)}}},
		{"create schema with properties", "CREATE SCHEMA s WITH (owner = 'ana', 'retention.days' = 7)",
			CreateSchema{Name: name("s"), Properties: map[string]string{"owner": "ana", "retention.days": "7"}}},
		{"create schema with dbproperties", "CREATE SCHEMA s WITH DBPROPERTIES ('a'='b')",
			CreateSchema{Name: name("s"), Properties: map[string]string{"a": "b"}}},
		{"drop schema", "DROP SCHEMA s", DropSchema{Name: name("s")}},
		{"drop namespace if exists cascade", "DROP NAMESPACE IF EXISTS s CASCADE", DropSchema{Name: name("s"), IfExists: true, Cascade: true}},
		{"drop schema restrict", "drop schema s restrict", DropSchema{Name: name("s")}},

		// CREATE TABLE.
		{"create table", "CREATE TABLE ns.t (id BIGINT NOT NULL, name VARCHAR)",
			CreateTable{Name: name("ns", "t"), Columns: []ColumnDef{
				{Name: id("id"), Type: "BIGINT", NotNull: true},
				{Name: id("name"), Type: "VARCHAR"},
			}}},
		{"create table quoted names", `CREATE TABLE "My NS"."T" ("Col A" INT NULL, "x""y" TEXT)`,
			CreateTable{Name: Name{qid("My NS"), qid("T")}, Columns: []ColumnDef{
				{Name: qid("Col A"), Type: "INT"},
				{Name: qid(`x"y`), Type: "TEXT"},
			}}},
		{"create table nested types", `create table t (
				a DECIMAL ( 10 ,2 ),
				b VARCHAR [ ],
				c INTEGER[][],
				d STRUCT(a INTEGER, "b c" VARCHAR),
				e MAP(VARCHAR,INTEGER),
				f TIMESTAMP   WITH TIME
				  ZONE,
				g DOUBLE PRECISION NOT NULL COMMENT 'it''s -- not a comment',
				h STRUCT(x STRUCT(y INTEGER[]))[],
				i ENUM('a', 'b')
			)`,
			CreateTable{Name: name("t"), Columns: []ColumnDef{
				{Name: id("a"), Type: "DECIMAL(10, 2)"},
				{Name: id("b"), Type: "VARCHAR[]"},
				{Name: id("c"), Type: "INTEGER[][]"},
				{Name: id("d"), Type: `STRUCT(a INTEGER, "b c" VARCHAR)`},
				{Name: id("e"), Type: "MAP(VARCHAR, INTEGER)"},
				{Name: id("f"), Type: "TIMESTAMP WITH TIME ZONE"},
				{Name: id("g"), Type: "DOUBLE PRECISION", NotNull: true, Comment: "it's -- not a comment"},
				{Name: id("h"), Type: "STRUCT(x STRUCT(y INTEGER[]))[]"},
				{Name: id("i"), Type: "ENUM('a', 'b')"},
			}}},
		{"create table comments inside", "CREATE TABLE /* c1 */ t -- c2\n (a INT /* nested /* c3 */ */, b INT)",
			CreateTable{Name: name("t"), Columns: []ColumnDef{{Name: id("a"), Type: "INT"}, {Name: id("b"), Type: "INT"}}}},
		{"create table partitioned with properties", "CREATE OR REPLACE TABLE t (ts TIMESTAMP, id INT, name VARCHAR, region VARCHAR) " +
			"PARTITIONED BY (day(ts), bucket(16, id), truncate(4, name), region) WITH ('format-version' = '2', write.format.default = parquet)",
			CreateTable{Name: name("t"), OrReplace: true,
				Columns: []ColumnDef{
					{Name: id("ts"), Type: "TIMESTAMP"},
					{Name: id("id"), Type: "INT"},
					{Name: id("name"), Type: "VARCHAR"},
					{Name: id("region"), Type: "VARCHAR"},
				},
				PartitionBy: []string{"day(ts)", "bucket(16, id)", "truncate(4, name)", "region"},
				Properties:  map[string]string{"format-version": "2", "write.format.default": "parquet"},
			}},
		{"create table tblproperties using iceberg", "CREATE TABLE IF NOT EXISTS t (a INT) USING iceberg TBLPROPERTIES ('k' = 'v')",
			CreateTable{Name: name("t"), IfNotExists: true, Columns: []ColumnDef{{Name: id("a"), Type: "INT"}},
				Properties: map[string]string{"k": "v"}}},
		{"ctas", "CREATE TABLE t AS SELECT * FROM s", CreateTable{Name: name("t"), AsQuery: "SELECT * FROM s"}},
		{"ctas with query", "CREATE OR REPLACE TABLE t PARTITIONED BY (month(ts)) WITH (a = 1) AS\nWITH x AS (SELECT 1 AS a) SELECT * FROM x;",
			CreateTable{Name: name("t"), OrReplace: true, PartitionBy: []string{"month(ts)"},
				Properties: map[string]string{"a": "1"}, AsQuery: "WITH x AS (SELECT 1 AS a) SELECT * FROM x"}},
		{"ctas parenthesised", "CREATE TABLE IF NOT EXISTS t AS (SELECT 1)", CreateTable{Name: name("t"), IfNotExists: true, AsQuery: "(SELECT 1)"}},

		// DROP TABLE.
		{"drop table", "DROP TABLE t", DropTable{Name: name("t")}},
		{"drop table if exists purge", "drop table if exists ns.t purge;", DropTable{Name: name("ns", "t"), IfExists: true, Purge: true}},

		// ALTER TABLE.
		{"add column", "ALTER TABLE t ADD COLUMN c VARCHAR",
			AlterTable{Name: name("t"), Action: AddColumn{Path: name("c"), Column: ColumnDef{Name: id("c"), Type: "VARCHAR"}}}},
		{"add nested column", `ALTER TABLE t ADD IF NOT EXISTS info."zip code" DECIMAL(5,0) NOT NULL COMMENT 'postal'`,
			AlterTable{Name: name("t"), Action: AddColumn{Path: Name{id("info"), qid("zip code")}, IfNotExists: true,
				Column: ColumnDef{Name: qid("zip code"), Type: "DECIMAL(5, 0)", NotNull: true, Comment: "postal"}}}},
		{"rename column", "ALTER TABLE t RENAME COLUMN a TO b", AlterTable{Name: name("t"), Action: RenameColumn{From: name("a"), To: id("b")}}},
		{"rename nested column", "ALTER TABLE t RENAME s.a TO \"B\"", AlterTable{Name: name("t"), Action: RenameColumn{From: name("s", "a"), To: qid("B")}}},
		{"drop column", "ALTER TABLE t DROP COLUMN a", AlterTable{Name: name("t"), Action: DropColumn{Column: name("a")}}},
		{"drop column if exists", "alter table t drop if exists s.a", AlterTable{Name: name("t"), Action: DropColumn{Column: name("s", "a"), IfExists: true}}},
		{"alter column type", "ALTER TABLE t ALTER COLUMN a TYPE BIGINT", AlterTable{Name: name("t"), Action: AlterColumnType{Column: name("a"), Type: "BIGINT"}}},
		{"alter column set data type", "ALTER TABLE t ALTER a SET DATA TYPE decimal(12, 2)", AlterTable{Name: name("t"), Action: AlterColumnType{Column: name("a"), Type: "decimal(12, 2)"}}},
		{"rename table", "ALTER TABLE a.t RENAME TO a.u", AlterTable{Name: name("a", "t"), Action: RenameTable{To: name("a", "u")}}},
		{"set tblproperties", "ALTER TABLE t SET TBLPROPERTIES ('a' = 'b', c.d = 'e')",
			AlterTable{Name: name("t"), Action: SetProperties{Properties: map[string]string{"a": "b", "c.d": "e"}}}},
		{"set parens", "ALTER TABLE t SET (x = -1)", AlterTable{Name: name("t"), Action: SetProperties{Properties: map[string]string{"x": "-1"}}}},
		{"unset tblproperties", "ALTER TABLE t UNSET TBLPROPERTIES ('a', c.d)", AlterTable{Name: name("t"), Action: UnsetProperties{Keys: []string{"a", "c.d"}}}},
		{"reset", "ALTER TABLE t RESET (a)", AlterTable{Name: name("t"), Action: UnsetProperties{Keys: []string{"a"}}}},
		{"add partition field", "ALTER TABLE t ADD PARTITION FIELD bucket(16, id)", AlterTable{Name: name("t"), Action: AddPartitionField{Expr: "bucket(16, id)"}}},
		{"drop partition field", "ALTER TABLE t DROP PARTITION FIELD day(ts);", AlterTable{Name: name("t"), Action: DropPartitionField{Expr: "day(ts)"}}},

		// INSERT.
		{"insert values", "INSERT INTO t VALUES (1, 'a;b'), (2, 'c')", Insert{Table: name("t"), Query: "VALUES (1, 'a;b'), (2, 'c')"}},
		{"insert columns select", `insert into ns."T" (a, "B") select x, y from s where z`,
			Insert{Table: Name{id("ns"), qid("T")}, Columns: []Ident{id("a"), qid("B")}, Query: "select x, y from s where z"}},
		{"insert with", "INSERT INTO t WITH x AS (SELECT 1) SELECT * FROM x", Insert{Table: name("t"), Query: "WITH x AS (SELECT 1) SELECT * FROM x"}},
		{"insert parenthesised query", "INSERT INTO t (SELECT 1)", Insert{Table: name("t"), Query: "(SELECT 1)"}},
		{"insert columns parenthesised query", "INSERT INTO t (a) (SELECT 1)", Insert{Table: name("t"), Columns: []Ident{id("a")}, Query: "(SELECT 1)"}},
		{"insert from", "INSERT INTO t FROM s", Insert{Table: name("t"), Query: "FROM s"}},
		{"insert join on", "INSERT INTO t SELECT * FROM a JOIN b ON a.conflict = b.x", Insert{Table: name("t"), Query: "SELECT * FROM a JOIN b ON a.conflict = b.x"}},

		// DELETE.
		{"delete all", "DELETE FROM t", Delete{Table: name("t")}},
		{"delete where", "DELETE FROM ns.t WHERE id IN (SELECT id FROM gone WHERE x) AND note = 'WHERE'",
			Delete{Table: name("ns", "t"), Where: "id IN (SELECT id FROM gone WHERE x) AND note = 'WHERE'"}},
		{"delete alias", "delete from t as x where x.a = 1;", Delete{Table: name("t"), Alias: "x", Where: "x.a = 1"}},
		{"delete bare quoted alias", `DELETE FROM t "X" WHERE "X".a = 1`, Delete{Table: name("t"), Alias: `"X"`, Where: `"X".a = 1`}},
		{"delete where with comment", "DELETE FROM t WHERE a = 1 -- why\n AND b = 2 /* trailing */", Delete{Table: name("t"), Where: "a = 1 -- why\n AND b = 2"}},

		// UPDATE.
		{"update", "UPDATE t SET a = 1", Update{Table: name("t"), Set: []Assignment{{Column: id("a"), Expr: "1"}}}},
		{"update nested case", "UPDATE t SET a = CASE WHEN x THEN 1 ELSE CASE WHEN y THEN 2 END END, b = 3 WHERE c = 'd, e'",
			Update{Table: name("t"), Set: []Assignment{
				{Column: id("a"), Expr: "CASE WHEN x THEN 1 ELSE CASE WHEN y THEN 2 END END"},
				{Column: id("b"), Expr: "3"},
			}, Where: "c = 'd, e'"}},
		{"update functions and distinct from", `UPDATE t AS u SET "A"=-1, b = coalesce(b, 0) + 1, u.c = x IS DISTINCT FROM y, d = EXTRACT(year FROM ts) WHERE u.id = 7`,
			Update{Table: name("t"), Alias: "u", Set: []Assignment{
				{Column: qid("A"), Expr: "-1"},
				{Column: id("b"), Expr: "coalesce(b, 0) + 1"},
				{Column: id("c"), Expr: "x IS DISTINCT FROM y"},
				{Column: id("d"), Expr: "EXTRACT(year FROM ts)"},
			}, Where: "u.id = 7"}},
		{"update bare alias", "UPDATE ns.t x SET v = [1, 2], w = {'k': 1, 'j': 2}", Update{Table: name("ns", "t"), Alias: "x", Set: []Assignment{
			{Column: id("v"), Expr: "[1, 2]"},
			{Column: id("w"), Expr: "{'k': 1, 'j': 2}"},
		}}},

		// MERGE.
		{"merge", `MERGE INTO ns.t AS t
			USING (SELECT * FROM staging WHERE ok) AS s
			ON t.id = s.id AND t.region = s.region
			WHEN MATCHED AND s.op = 'delete' THEN DELETE
			WHEN MATCHED AND CASE WHEN s.x THEN true END THEN UPDATE SET v = s.v, t.w = CASE s.k WHEN 1 THEN 'a' END
			WHEN MATCHED THEN DO NOTHING
			WHEN NOT MATCHED AND s.op <> 'delete' THEN INSERT (id, v) VALUES (s.id, coalesce(s.v, 0))
			WHEN NOT MATCHED BY TARGET THEN DO NOTHING;`,
			Merge{Target: name("ns", "t"), TargetAlias: "t", Source: "(SELECT * FROM staging WHERE ok)", SourceAlias: "s",
				On: "t.id = s.id AND t.region = s.region",
				Clauses: []MergeClause{
					{Matched: true, Cond: "s.op = 'delete'", Action: MergeDelete},
					{Matched: true, Cond: "CASE WHEN s.x THEN true END", Action: MergeUpdate, Set: []Assignment{
						{Column: id("v"), Expr: "s.v"},
						{Column: id("w"), Expr: "CASE s.k WHEN 1 THEN 'a' END"},
					}},
					{Matched: true, Action: MergeDoNothing},
					{Cond: "s.op <> 'delete'", Action: MergeInsert, InsertColumns: []Ident{id("id"), id("v")}, InsertValues: []string{"s.id", "coalesce(s.v, 0)"}},
					{Action: MergeDoNothing},
				}}},
		{"merge stars", "merge into t using src on t.id = src.id when matched then update set * when not matched then insert *",
			Merge{Target: name("t"), Source: "src", On: "t.id = src.id", Clauses: []MergeClause{
				{Matched: true, Action: MergeUpdate, SetStar: true},
				{Action: MergeInsert, InsertStar: true},
			}}},
		{"merge source name alias", `MERGE INTO t USING ns."Src" s ON t.k = s.k WHEN NOT MATCHED THEN INSERT VALUES (s.k, 'x, y')`,
			Merge{Target: name("t"), Source: `ns."Src"`, SourceAlias: "s", On: "t.k = s.k", Clauses: []MergeClause{
				{Action: MergeInsert, InsertValues: []string{"s.k", "'x, y'"}},
			}}},

		// SHOW and DESCRIBE.
		{"show tables", "SHOW TABLES", ShowTables{}},
		{"show tables in", "show tables in ns", ShowTables{In: name("ns")}},
		{"show tables from", "SHOW TABLES FROM \"a b\".c", ShowTables{In: Name{qid("a b"), id("c")}}},
		{"show schemas", "SHOW SCHEMAS", ShowSchemas{}},
		{"show namespaces", "show namespaces;", ShowSchemas{}},
		{"show databases", "SHOW DATABASES", ShowSchemas{}},
		{"describe", "DESCRIBE ns.t", Describe{Table: name("ns", "t")}},
		{"desc", "desc t", Describe{Table: name("t")}},
		{"show columns", "SHOW COLUMNS FROM ns.t", Describe{Table: name("ns", "t")}},
		{"show snapshots", "SHOW SNAPSHOTS t", ShowSnapshots{Table: name("t")}},
		{"show snapshots of", "SHOW SNAPSHOTS OF ns.t", ShowSnapshots{Table: name("ns", "t")}},
		{"show snapshots from", "show snapshots from t", ShowSnapshots{Table: name("t")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.sql)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.sql, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q) = %#v, want %#v", tt.sql, got, tt.want)
			}
			checkSubstrings(t, tt.sql, got)
		})
	}
}

// checkSubstrings asserts the package's promise that raw texts are exact
// substrings of the input.
func checkSubstrings(t *testing.T, sql string, st Statement) {
	t.Helper()
	for _, s := range rawTexts(st) {
		if s == "" {
			continue
		}
		if !strings.Contains(sql, s) {
			t.Errorf("Parse(%q): raw text %q is not a substring of the input", sql, s)
		}
		if strings.TrimSpace(s) != s {
			t.Errorf("Parse(%q): raw text %q is not trimmed", sql, s)
		}
		if !balanced(s) {
			t.Errorf("Parse(%q): raw text %q has unbalanced brackets", sql, s)
		}
	}
}

// balanced reports whether every bracket in s is closed by its partner,
// which is what makes raw texts safe to wrap in parentheses.
func balanced(s string) bool {
	toks, err := Tokenize(s)
	if err != nil {
		return false
	}
	var b brackets
	for _, t := range toks {
		if stray, err := b.step(t); stray || err != nil {
			return false
		}
	}
	return b.depth() == 0
}

func rawTexts(st Statement) []string {
	var out []string
	switch s := st.(type) {
	case Query:
		out = append(out, s.SQL)
	case Explain:
		out = append(out, s.Query)
	case CreateTable:
		out = append(out, s.AsQuery)
		out = append(out, s.PartitionBy...)
	case AlterTable:
		switch a := s.Action.(type) {
		case AddPartitionField:
			out = append(out, a.Expr)
		case DropPartitionField:
			out = append(out, a.Expr)
		}
	case Insert:
		out = append(out, s.Query)
	case Delete:
		out = append(out, s.Alias, s.Where)
	case Update:
		out = append(out, s.Alias, s.Where)
		for _, a := range s.Set {
			out = append(out, a.Expr)
		}
	case Merge:
		out = append(out, s.TargetAlias, s.Source, s.SourceAlias, s.On)
		for _, c := range s.Clauses {
			out = append(out, c.Cond)
			out = append(out, c.InsertValues...)
			for _, a := range c.Set {
				out = append(out, a.Expr)
			}
		}
	}
	return out
}

func TestParseKind(t *testing.T) {
	tests := []struct{ sql, kind string }{
		{"SELECT 1", "SELECT"},
		{"EXPLAIN SELECT 1", "EXPLAIN"},
		{"CREATE SCHEMA s", "CREATE SCHEMA"},
		{"DROP SCHEMA s", "DROP SCHEMA"},
		{"CREATE TABLE t (a INT)", "CREATE TABLE"},
		{"CREATE TABLE t AS SELECT 1", "CREATE TABLE"},
		{"DROP TABLE t", "DROP TABLE"},
		{"ALTER TABLE t DROP COLUMN a", "ALTER TABLE"},
		{"INSERT INTO t VALUES (1)", "INSERT"},
		{"DELETE FROM t", "DELETE"},
		{"UPDATE t SET a = 1", "UPDATE"},
		{"MERGE INTO t USING s ON a WHEN MATCHED THEN DELETE", "MERGE"},
		{"SHOW TABLES", "SHOW TABLES"},
		{"SHOW SCHEMAS", "SHOW SCHEMAS"},
		{"DESCRIBE t", "DESCRIBE"},
		{"SHOW SNAPSHOTS t", "SHOW SNAPSHOTS"},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			st, err := Parse(tt.sql)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.sql, err)
			}
			if st.Kind() != tt.kind {
				t.Errorf("Parse(%q).Kind() = %q, want %q", tt.sql, st.Kind(), tt.kind)
			}
		})
	}
}

func TestParseRefused(t *testing.T) {
	tests := []struct {
		sql     string
		keyword string
	}{
		{"COPY t TO 'out.parquet' (FORMAT parquet)", "COPY"},
		{"copy t from '/etc/passwd'", "COPY"},
		{"ATTACH 'other.db' AS o", "ATTACH"},
		{"DETACH o", "DETACH"},
		{"INSTALL httpfs", "INSTALL"},
		{"FORCE INSTALL httpfs", "FORCE INSTALL"},
		{"LOAD x", "LOAD"},
		{"SET x=1", "SET"},
		{"SET memory_limit = '1GB';", "SET"},
		{"RESET memory_limit", "RESET"},
		{"PRAGMA database_list", "PRAGMA"},
		{"EXPORT DATABASE 'dir'", "EXPORT"},
		{"IMPORT DATABASE 'dir'", "IMPORT"},
		{"CALL duckdb_settings()", "CALL"},
		{"CHECKPOINT", "CHECKPOINT"},
		{"VACUUM", "VACUUM"},
		{"CREATE VIEW v AS SELECT 1", "CREATE VIEW"},
		{"CREATE OR REPLACE VIEW v AS SELECT 1", "CREATE VIEW"},
		{"CREATE MACRO m(a) AS a + 1", "CREATE MACRO"},
		{"CREATE FUNCTION f(a) AS a", "CREATE FUNCTION"},
		{"CREATE SEQUENCE s", "CREATE SEQUENCE"},
		{"CREATE INDEX i ON t (a)", "CREATE INDEX"},
		{"CREATE UNIQUE INDEX i ON t (a)", "CREATE INDEX"},
		{"CREATE TYPE mood AS ENUM ('a')", "CREATE TYPE"},
		{"CREATE SECRET (TYPE s3, KEY_ID 'x')", "CREATE SECRET"},
		{"CREATE PERSISTENT SECRET s (TYPE s3)", "CREATE SECRET"},
		{"CREATE TEMP TABLE t (a INT)", "CREATE TEMPORARY TABLE"},
		{"CREATE MATERIALIZED VIEW v AS SELECT 1", "CREATE MATERIALIZED VIEW"},
		{"DROP VIEW v", "DROP VIEW"},
		{"DROP SECRET s", "DROP SECRET"},
		{"DROP MACRO m", "DROP MACRO"},
		{"ALTER VIEW v RENAME TO w", "ALTER VIEW"},
		{"USE memory", "USE"},
		{"BEGIN", "BEGIN"},
		{"BEGIN TRANSACTION", "BEGIN"},
		{"START TRANSACTION", "START"},
		{"COMMIT", "COMMIT"},
		{"ROLLBACK", "ROLLBACK"},
		{"ABORT", "ABORT"},
		{"END", "END"},
		{"PREPARE q AS SELECT 1", "PREPARE"},
		{"EXECUTE q", "EXECUTE"},
		{"DEALLOCATE q", "DEALLOCATE"},
		{"TRUNCATE t", "TRUNCATE"},
		{"ANALYZE", "ANALYZE"},
		{"COMMENT ON TABLE t IS 'x'", "COMMENT"},
		{"UPDATE EXTENSIONS", "UPDATE EXTENSIONS"},
		{"update extensions (httpfs)", "UPDATE EXTENSIONS"},
		{"PIVOT t ON a USING sum(b)", "PIVOT"},
		{"GRANT SELECT ON t TO u", "GRANT"},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			st, err := Parse(tt.sql)
			var ue *UnsupportedError
			if !errors.As(err, &ue) {
				t.Fatalf("Parse(%q) = %#v, %v; want *UnsupportedError", tt.sql, st, err)
			}
			if ue.Keyword != tt.keyword {
				t.Errorf("Parse(%q) keyword = %q, want %q", tt.sql, ue.Keyword, tt.keyword)
			}
			if !strings.HasPrefix(err.Error(), tt.keyword+" statements are not allowed: ") {
				t.Errorf("Parse(%q) error = %q", tt.sql, err)
			}
		})
	}
}

func TestUnsupportedErrorMessage(t *testing.T) {
	_, err := Parse("COPY t TO 'x.csv'")
	want := "COPY statements are not allowed: edp SQL reads and writes edp tables only"
	if err == nil || err.Error() != want {
		t.Errorf("Parse(COPY) error = %v, want %q", err, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name      string
		sql       string
		line, col int
		msg       string // substring of the message
	}{
		{"empty", "", 1, 1, "empty statement"},
		{"only comments", "  -- nothing\n/* here */ ;", 1, 1, "empty statement"},
		{"misspelt table", "CREATE TABEL t (a INT)", 1, 8, `expected TABLE or SCHEMA after CREATE, got "TABEL"`},
		{"misspelt after or replace", "CREATE OR REPLACE TABEL t", 1, 19, `expected TABLE after CREATE OR REPLACE, got "TABEL"`},
		{"unknown statement", "FROBNICATE t", 1, 1, `expected a statement, got "FROBNICATE"`},
		{"two statements", "SELECT 1; SELECT 2", 1, 9, "only one statement"},
		{"unterminated string", "SELECT 'abc", 1, 8, "unterminated quoted string"},
		{"unterminated identifier", "SELECT\n  \"abc", 2, 3, "unterminated quoted identifier"},
		{"unterminated comment", "SELECT 1 /* /* */", 1, 10, "unterminated block comment"},
		{"unterminated dollar", "SELECT $x$ abc $y$", 1, 8, "unterminated dollar-quoted string"},
		{"insert default values", "INSERT INTO t DEFAULT VALUES", 1, 15, "DEFAULT VALUES is not supported"},
		{"insert columns default values", "INSERT INTO t (a) DEFAULT VALUES", 1, 19, "not supported"},
		{"insert by name", "INSERT INTO t BY NAME SELECT 1", 1, 15, "not supported"},
		{"insert or replace", "INSERT OR REPLACE INTO t VALUES (1)", 1, 8, "not supported"},
		{"insert returning", "INSERT INTO t VALUES (1) RETURNING *", 1, 26, "RETURNING is not supported"},
		{"insert on conflict", "INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING", 1, 26, "ON CONFLICT is not supported"},
		{"insert not a query", "INSERT INTO t SET a = 1", 1, 15, "expected a query"},
		{"update from", "UPDATE t SET a = s.a FROM s WHERE t.id = s.id", 1, 22, "UPDATE … FROM is not supported; use MERGE INTO"},
		{"update missing set", "UPDATE t WHERE a = 1", 1, 10, "expected SET after table name"},
		{"update nested target", "UPDATE t SET s.a = 1", 1, 14, "SET takes a column of the target table"},
		{"update empty expr", "UPDATE t SET a = WHERE b", 1, 18, "expected expression after ="},
		{"update returning", "UPDATE t SET a = 1 RETURNING a", 1, 20, "RETURNING"},
		{"delete without from", "DELETE t", 1, 8, "expected FROM after DELETE"},
		{"delete using", "DELETE FROM t USING s WHERE t.a = s.a", 1, 15, "use MERGE INTO"},
		{"delete unclosed paren", "DELETE FROM t WHERE a IN (1, 2", 1, 26, `unclosed "("`},
		{"merge by source", "MERGE INTO t USING s ON t.a = s.a WHEN NOT MATCHED BY SOURCE THEN DELETE", 1, 55, "WHEN NOT MATCHED BY SOURCE is not supported"},
		{"merge no when", "MERGE INTO t USING s ON t.a = s.a", 1, 34, "expected WHEN"},
		{"merge matched insert", "MERGE INTO t USING s ON a WHEN MATCHED THEN INSERT *", 1, 45, "expected UPDATE, DELETE or DO NOTHING"},
		{"merge not matched update", "MERGE INTO t USING s ON a WHEN NOT MATCHED THEN UPDATE SET a = 1", 1, 49, "expected INSERT or DO NOTHING"},
		{"merge value count", "MERGE INTO t USING s ON a WHEN NOT MATCHED THEN INSERT (a, b) VALUES (1)", 1, 63, "lists 2 columns but VALUES lists 1"},
		{"merge table function", "MERGE INTO t USING read_csv('x') s ON a WHEN MATCHED THEN DELETE", 1, 28, "table name or a (subquery)"},
		{"with delete", "WITH x AS (SELECT 1) DELETE FROM t", 1, 22, "WITH … DELETE is not supported"},
		{"with insert", "WITH x AS (SELECT 1), y AS (SELECT 2) INSERT INTO t SELECT * FROM x", 1, 39, "WITH … INSERT is not supported"},
		{"explain dml", "EXPLAIN DELETE FROM t", 1, 9, "expected a query"},
		{"create table no columns", "CREATE TABLE t", 1, 15, "expected column definitions or AS <query>"},
		{"create table primary key", "CREATE TABLE t (a INT PRIMARY KEY)", 1, 23, "column constraint PRIMARY is not supported"},
		{"create table default", "CREATE TABLE t (a INT DEFAULT 1)", 1, 23, "column constraint DEFAULT is not supported"},
		{"create table table constraint", "CREATE TABLE t (a INT, PRIMARY KEY (a))", 1, 24, "table constraints"},
		{"create table columns and as", "CREATE TABLE t (a INT) AS SELECT 1", 1, 24, "remove the column definitions"},
		{"create table missing type", "CREATE TABLE t (a, b)", 1, 18, "expected column type"},
		{"create table bad type", "CREATE TABLE t (a INT + 1)", 1, 23, `unexpected "+" in column type`},
		{"create table unclosed type", "CREATE TABLE t (a DECIMAL(10, 2)", 1, 33, `expected ")" after column definition`},
		{"create table using parquet", "CREATE TABLE t (a INT) USING parquet", 1, 30, "expected ICEBERG after USING"},
		{"create table duplicate property", "CREATE TABLE t (a INT) WITH (k = 'a', k = 'b')", 1, 39, `duplicate property "k"`},
		{"create table reserved name", "CREATE TABLE select (a INT)", 1, 14, `expected table name, got "select"`},
		{"or replace if not exists", "CREATE OR REPLACE TABLE IF NOT EXISTS t (a INT)", 1, 25, "cannot be combined"},
		{"drop table two", "DROP TABLE a, b", 1, 13, "one table at a time"},
		{"drop table cascade", "DROP TABLE a CASCADE", 1, 14, "expected end of statement"},
		{"alter two actions", "ALTER TABLE t ADD a INT, ADD b INT", 1, 24, "one action at a time"},
		{"alter set not null", "ALTER TABLE t ALTER COLUMN a SET NOT NULL", 1, 30, "expected TYPE or SET DATA TYPE"},
		{"alter unknown action", "ALTER TABLE t FROB", 1, 15, "expected ADD, DROP, RENAME, ALTER, SET, UNSET or RESET"},
		{"alter partition alias", "ALTER TABLE t ADD PARTITION FIELD bucket(4, id) AS shard", 1, 49, "naming partition fields"},
		{"show unknown", "SHOW ALL TABLES", 1, 6, "expected TABLES, SCHEMAS, COLUMNS or SNAPSHOTS after SHOW"},
		{"describe query", "DESCRIBE SELECT 1", 1, 10, "expected table name"},
		{"query unclosed paren", "SELECT (1", 1, 8, `unclosed "(" in query`},
		{"query stray paren", "SELECT 1) UNION (SELECT 2", 1, 9, `unexpected ")"`},
		{"query mismatched bracket", "SELECT [1)", 1, 10, `")" does not match "[" at line 1, column 8`},
		{"insert query stray paren", "INSERT INTO t SELECT 1)", 1, 23, `unexpected ")"`},
		{"where mismatched bracket", "DELETE FROM t WHERE a IN (1]", 1, 28, `"]" does not match "("`},
		{"where stray paren", "DELETE FROM t WHERE a = 1)", 1, 26, `expected end of statement, got ")"`},
		{"merge source unclosed", "MERGE INTO t USING (SELECT 1", 1, 20, `unclosed "(" in MERGE source`},
		{"multi-line position", "UPDATE t\nSET a = 1\nFROM s", 3, 1, "UPDATE … FROM"},
		{"position counts characters", "UPDATE \"tä\" SET ä = 1 FROM s", 1, 23, "UPDATE … FROM"},
		{"eof position", "DROP TABLE\n", 1, 11, "expected table name, got end of input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := Parse(tt.sql)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) = %#v, %v; want *SyntaxError", tt.sql, st, err)
			}
			if se.Line != tt.line || se.Col != tt.col || !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("Parse(%q) error = %q (line %d, col %d), want line %d, col %d, message containing %q",
					tt.sql, err, se.Line, se.Col, tt.line, tt.col, tt.msg)
			}
		})
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	_, err := Parse("CREATE TABEL t")
	want := `syntax error at line 1, column 8: expected TABLE or SCHEMA after CREATE, got "TABEL"`
	if err == nil || err.Error() != want {
		t.Errorf("Parse error = %v, want %q", err, want)
	}
}

func TestNameString(t *testing.T) {
	n := Name{id("ns"), qid(`My "T"`)}
	if got, want := n.String(), `ns."My ""T"""`; got != want {
		t.Errorf("Name.String() = %q, want %q", got, want)
	}
}
