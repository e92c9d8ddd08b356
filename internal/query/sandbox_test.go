package query_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edp-data/edp/internal/query"
	"github.com/edp-data/edp/internal/query/sqlstmt"
)

// TestSandbox runs SQL that tries to reach past edp tables — files on the
// host or in the warehouse, DuckDB's settings and catalog, extensions,
// other databases — and expects each statement to fail without touching
// the host or any table.
func TestSandbox(t *testing.T) {
	ctx, e := newEngine(t)
	for _, q := range []string{
		"CREATE SCHEMA s",
		"CREATE TABLE s.t (id INT, v VARCHAR)",
		"INSERT INTO s.t VALUES (1, 'a')",
		"CREATE TABLE s.u (id INT, content VARCHAR)",
	} {
		mustExec(t, ctx, e, q)
	}
	out := t.TempDir() // where escapes would write; must stay empty
	// A table read puts a copy of its file in the file cache of a remote
	// warehouse; the local warehouse holds the file itself.
	mustExec(t, ctx, e, "SELECT * FROM s.t")
	var wh, whFile string
	for _, dir := range e.Lake().LocalDirs() {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && whFile == "" && strings.HasSuffix(p, ".parquet") {
				wh, whFile = dir, p
			}
			return nil
		})
	}
	if whFile == "" {
		t.Fatal("no data file in the warehouse")
	}
	expand := func(s string) string {
		return strings.NewReplacer("{out}", out, "{wh}", wh, "{whfile}", whFile).Replace(s)
	}

	// refused: query.ErrRefused; unsupported: *sqlstmt.UnsupportedError;
	// otherwise the error must contain want.
	const (
		refused     = "\x00refused"
		unsupported = "\x00unsupported"
	)
	cases := []struct {
		name, sql, want string
	}{
		// File-reading table functions, on the host and in the warehouse.
		{"read_csv", "SELECT * FROM read_csv('/etc/passwd')", refused},
		{"read_csv_auto", "SELECT * FROM read_csv_auto('/etc/passwd')", refused},
		{"read_parquet", "SELECT * FROM read_parquet('/etc/passwd')", refused},
		{"read_json", "SELECT * FROM read_json('/etc/passwd')", refused},
		{"read_json_auto", "SELECT * FROM read_json_auto('/etc/passwd')", refused},
		{"read_ndjson", "SELECT * FROM read_ndjson('/etc/passwd')", refused},
		{"read_json_objects", "SELECT * FROM read_json_objects('/etc/passwd')", refused},
		{"read_text", "SELECT * FROM read_text('/etc/passwd')", refused},
		{"read_blob", "SELECT * FROM read_blob('/etc/passwd')", refused},
		{"glob", "SELECT * FROM glob('/etc/*')", refused},
		{"parquet_metadata", "SELECT * FROM parquet_metadata('/etc/passwd')", refused},
		{"parquet_schema", "SELECT * FROM parquet_schema('/etc/passwd')", refused},
		{"parquet_file_metadata", "SELECT * FROM parquet_file_metadata('/etc/passwd')", refused},
		{"parquet_kv_metadata", "SELECT * FROM parquet_kv_metadata('/etc/passwd')", refused},
		{"sniff_csv", "SELECT * FROM sniff_csv('/etc/passwd')", refused},
		{"read_parquet warehouse file", "SELECT * FROM read_parquet('{whfile}')", refused},
		{"read_parquet warehouse glob", "SELECT * FROM read_parquet('{wh}/**/*.parquet')", refused},
		{"read_blob warehouse", "SELECT * FROM read_blob('{wh}/**')", refused},
		{"glob warehouse", "SELECT * FROM glob('{wh}/**')", refused},
		{"parquet_metadata warehouse", "SELECT * FROM parquet_metadata('{whfile}')", refused},
		{"parquet_schema warehouse", "SELECT * FROM parquet_schema('{whfile}')", refused},
		{"read_text list", "SELECT * FROM read_text(['/etc/passwd', '/etc/hosts'])", refused},
		{"quoted function name", `SELECT * FROM "read_text"('/etc/passwd')`, refused},
		{"upper-case function name", "SELECT * FROM READ_TEXT('/etc/passwd')", refused},
		{"schema-qualified function", "SELECT * FROM main.read_text('/etc/passwd')", refused},
		{"catalog-qualified function", "SELECT * FROM system.main.read_text('/etc/passwd')", refused},
		{"read_text as scalar", "SELECT read_text('/etc/passwd')", refused},
		{"iceberg_scan", "SELECT * FROM iceberg_scan('{wh}')", refused},

		// Running SQL text or reading tables by name.
		{"query table function", "SELECT * FROM query('SELECT 1')", refused},
		{"query scalar", "SELECT query('SELECT 1')", refused},
		{"query_table", "SELECT * FROM query_table('s.t')", refused},
		{"query_table scalar", "SELECT query_table('s.t')", refused},
		{"json_execute_serialized_sql", "SELECT * FROM json_execute_serialized_sql('{}')", refused},

		// Replacement scans: a file name in FROM.
		{"FROM file path", "SELECT * FROM '/etc/passwd'", "must be qualified"},
		{"FROM-first file path", "FROM '/etc/passwd'", "must be qualified"},
		{"FROM csv name", "FROM 'file.csv'", "must be qualified"},
		{"FROM parquet name", "SELECT * FROM 'data.parquet'", "must be qualified"},
		{"FROM warehouse file", "SELECT * FROM '{whfile}'", "must be qualified"},
		{"FROM quoted identifier path", `SELECT * FROM "{whfile}"`, "must be qualified"},

		// Settings, environment and DuckDB's catalog.
		{"current_setting", "SELECT current_setting('allowed_directories')", refused},
		{"current_setting in WHERE", "SELECT id FROM s.t WHERE current_setting('temp_directory') IS NOT NULL", refused},
		{"getenv", "SELECT getenv('HOME')", refused},
		{"getenv qualified", "SELECT main.getenv('HOME')", refused},
		{"getenv quoted", `SELECT "getenv"('HOME')`, refused},
		{"getenv in lambda", "SELECT list_transform([1], x -> getenv('HOME'))", refused},
		{"getenv in try", "SELECT try(getenv('HOME'))", refused},
		{"getenv in QUALIFY", "SELECT * FROM s.t QUALIFY getenv('HOME') IS NOT NULL", refused},
		{"duckdb_settings", "SELECT * FROM duckdb_settings()", refused},
		{"duckdb_tables", "SELECT * FROM duckdb_tables()", refused},
		{"duckdb_views", "SELECT * FROM duckdb_views()", refused},
		{"duckdb_databases", "SELECT * FROM duckdb_databases()", refused},
		{"duckdb_secrets", "SELECT * FROM duckdb_secrets()", refused},
		{"duckdb_extensions", "SELECT * FROM duckdb_extensions()", refused},
		{"duckdb_functions", "SELECT * FROM duckdb_functions()", refused},
		{"duckdb_temporary_files", "SELECT * FROM duckdb_temporary_files()", refused},
		{"pragma_database_list", "SELECT * FROM pragma_database_list()", refused},
		{"pragma_table_info", "SELECT * FROM pragma_table_info('s.t')", refused},
		{"which_secret", "SELECT * FROM which_secret('s3://bucket/x', 's3')", refused},
		{"test_all_types", "SELECT * FROM test_all_types()", refused},
		{"edp internal function", "SELECT __edp_bucket_long(4, 1)", refused},
		{"duckdb_tables view", "SELECT * FROM duckdb_tables", "must be qualified"},
		{"sqlite_master view", "SELECT * FROM sqlite_master", "must be qualified"},
		{"pragma_database_list view", "SELECT * FROM pragma_database_list", "must be qualified"},
		{"information_schema.tables", "SELECT * FROM information_schema.tables", "does not exist"},
		{"information_schema.schemata", "SELECT * FROM information_schema.schemata", "does not exist"},
		{"pg_catalog.pg_tables", "SELECT * FROM pg_catalog.pg_tables", "does not exist"},
		{"main schema", "SELECT * FROM main.x", "does not exist"},
		{"temp schema", "SELECT * FROM temp.x", "does not exist"},
		{"system schema", "SELECT * FROM system.x", "does not exist"},
		{"catalog-qualified table", "SELECT * FROM memory.main.x", refused},
		{"system catalog view", "SELECT * FROM system.main.duckdb_tables", refused},
		{"temp catalog", "SELECT * FROM temp.main.x", refused},

		// edp's own temporary views.
		{"temp view by name", "SELECT * FROM __edp_r1", "must be qualified"},
		{"temp view in temp schema", "SELECT * FROM temp.__edp_r1", "does not exist"},
		{"temp view in main schema", "SELECT * FROM main.__edp_r1", "does not exist"},
		{"temp view beside a table", "SELECT * FROM s.t, __edp_r1", "must be qualified"},
		{"temp view in subquery", "SELECT * FROM s.t WHERE id IN (SELECT id FROM __edp_r2)", "must be qualified"},

		// File functions hidden deeper in a query.
		{"in CTE", "WITH x AS (SELECT * FROM read_text('/etc/passwd')) SELECT * FROM x", refused},
		{"in recursive CTE", "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r, read_text('/etc/passwd') WHERE n < 2) SELECT * FROM r", refused},
		{"in FROM subquery", "SELECT * FROM (SELECT * FROM read_text('/etc/passwd'))", refused},
		{"in nested subquery", "SELECT * FROM (SELECT * FROM (SELECT content FROM read_text('/etc/passwd')))", refused},
		{"in scalar subquery", "SELECT (SELECT content FROM read_text('/etc/passwd'))", refused},
		{"in WHERE IN", "SELECT * FROM s.t WHERE v IN (SELECT content FROM read_text('/etc/passwd'))", refused},
		{"in EXISTS", "SELECT * FROM s.t WHERE EXISTS (SELECT 1 FROM read_blob('/etc/passwd'))", refused},
		{"in lateral join", "SELECT * FROM s.t, LATERAL (SELECT * FROM read_text('/etc/passwd'))", refused},
		{"in join", "SELECT * FROM s.t JOIN read_text('/etc/passwd') f ON true", refused},
		{"in comma join", "SELECT * FROM range(3) r(x), read_text('/etc/passwd')", refused},
		{"in UNION", "SELECT v FROM s.t UNION ALL SELECT content FROM read_text('/etc/passwd')", refused},
		{"in ORDER BY", "SELECT 1 ORDER BY (SELECT 1 FROM read_text('/etc/passwd'))", refused},
		{"in unnest argument", "SELECT * FROM unnest((SELECT list(content) FROM read_text('/etc/passwd')))", refused},
		{"FROM-first subquery", "SELECT * FROM s.t, (FROM read_text('/etc/passwd'))", refused},
		{"in EXPLAIN ANALYZE", "EXPLAIN ANALYZE SELECT * FROM read_text('/etc/passwd')", refused},
		{"in time-travel version", "SELECT * FROM s.t AT (VERSION => (SELECT 1 FROM read_text('/etc/passwd')))", "must be a constant"},

		// … and in edp's DML and CTAS, which run their queries in DuckDB.
		{"INSERT SELECT", "INSERT INTO s.u SELECT 1, content FROM read_text('/etc/passwd')", refused},
		{"INSERT column list", "INSERT INTO s.u (content) SELECT content FROM read_text('/etc/passwd')", refused},
		{"INSERT VALUES getenv", "INSERT INTO s.u VALUES (1, getenv('HOME'))", refused},
		{"INSERT from file name", "INSERT INTO s.u SELECT 1, * FROM '/etc/passwd'", "must be qualified"},
		{"CTAS read_text", "CREATE TABLE s.x AS SELECT * FROM read_text('/etc/passwd')", refused},
		{"CTAS glob", "CREATE TABLE s.x AS SELECT * FROM glob('/*')", refused},
		{"CTAS partitioned", "CREATE TABLE s.x PARTITIONED BY (filename) AS SELECT * FROM read_text('/etc/passwd')", refused},
		{"DELETE WHERE subquery", "DELETE FROM s.t WHERE v IN (SELECT content FROM read_text('/etc/passwd'))", refused},
		{"DELETE WHERE getenv", "DELETE FROM s.t WHERE getenv('HOME') IS NOT NULL", refused},
		{"UPDATE SET subquery", "UPDATE s.t SET v = (SELECT content FROM read_text('/etc/passwd'))", refused},
		{"UPDATE SET setting", "UPDATE s.t SET v = current_setting('temp_directory')", refused},
		{"UPDATE WHERE subquery", "UPDATE s.t SET v = 'x' WHERE EXISTS (SELECT 1 FROM read_blob('/etc/passwd'))", refused},
		{"MERGE USING file function", "MERGE INTO s.u t USING (SELECT * FROM read_text('/etc/passwd')) f ON t.content = f.content WHEN NOT MATCHED THEN INSERT VALUES (1, f.content)", refused},
		{"MERGE USING file name", "MERGE INTO s.u t USING (SELECT * FROM '/etc/passwd') f ON false WHEN NOT MATCHED THEN INSERT VALUES (1, 'x')", "must be qualified"},
		{"MERGE INSERT getenv", "MERGE INTO s.u t USING (SELECT 5 AS id) f ON t.id = f.id WHEN NOT MATCHED THEN INSERT VALUES (f.id, getenv('HOME'))", refused},
		{"MERGE ON getenv", "MERGE INTO s.u t USING s.t f ON t.id = f.id AND getenv('HOME') IS NULL WHEN NOT MATCHED THEN INSERT VALUES (1, 'x')", refused},
		{"WITH before INSERT", "WITH x AS (SELECT content FROM read_text('/etc/passwd')) INSERT INTO s.u SELECT 1, content FROM x", "WITH … INSERT is not supported"},
		{"WITH before DELETE", "WITH x AS (SELECT 1) DELETE FROM s.t", "WITH … DELETE is not supported"},

		// Statements that reach past edp tables.
		{"COPY TO", "COPY s.t TO '{out}/t.csv'", unsupported},
		{"COPY query TO", "COPY (SELECT 1 AS x) TO '{out}/q.parquet' (FORMAT parquet)", unsupported},
		{"COPY FROM", "COPY s.u FROM '/etc/passwd'", unsupported},
		{"COPY FROM DATABASE", "COPY FROM DATABASE memory TO other", unsupported},
		{"ATTACH file", "ATTACH '{out}/x.db' AS x", unsupported},
		{"ATTACH memory", "ATTACH ':memory:' AS m", unsupported},
		{"ATTACH IF NOT EXISTS", "ATTACH IF NOT EXISTS '{out}/y.db'", unsupported},
		{"DETACH", "DETACH memory", unsupported},
		{"INSTALL", "INSTALL httpfs", unsupported},
		{"FORCE INSTALL", "FORCE INSTALL httpfs", unsupported},
		{"INSTALL file", "INSTALL '{out}/evil.duckdb_extension'", unsupported},
		{"LOAD", "LOAD json", unsupported},
		{"LOAD file", "LOAD '{out}/evil.duckdb_extension'", unsupported},
		{"UPDATE EXTENSIONS", "UPDATE EXTENSIONS", unsupported},
		{"SET external access", "SET enable_external_access = true", unsupported},
		{"SET allowed directories", "SET allowed_directories = ['/']", unsupported},
		{"SET GLOBAL", "SET GLOBAL threads = 1", unsupported},
		{"SET VARIABLE", "SET VARIABLE x = 1", unsupported},
		{"RESET", "RESET threads", unsupported},
		{"PRAGMA", "PRAGMA enable_profiling", unsupported},
		{"PRAGMA call", "PRAGMA version", unsupported},
		{"EXPORT DATABASE", "EXPORT DATABASE '{out}/export'", unsupported},
		{"IMPORT DATABASE", "IMPORT DATABASE '{out}/export'", unsupported},
		{"CALL", "CALL pragma_version()", unsupported},
		{"CALL settings", "CALL duckdb_settings()", unsupported},
		{"CREATE VIEW", "CREATE VIEW s.v AS SELECT * FROM s.t", unsupported},
		{"CREATE TEMP VIEW", "CREATE TEMP VIEW v AS SELECT 1", unsupported},
		{"CREATE OR REPLACE VIEW", "CREATE OR REPLACE VIEW __edp_r1 AS SELECT * FROM read_text('/etc/passwd')", unsupported},
		{"CREATE MACRO", "CREATE MACRO m(x) AS x", unsupported},
		{"CREATE TABLE MACRO", "CREATE MACRO tm() AS TABLE SELECT * FROM read_text('/etc/passwd')", unsupported},
		{"CREATE FUNCTION", "CREATE FUNCTION f(x) AS x", unsupported},
		{"CREATE SECRET", "CREATE SECRET (TYPE s3, KEY_ID 'k', SECRET 's')", unsupported},
		{"CREATE PERSISTENT SECRET", "CREATE PERSISTENT SECRET p (TYPE s3)", unsupported},
		{"CREATE TEMP TABLE", "CREATE TEMP TABLE x AS SELECT 1", unsupported},
		{"CREATE TYPE", "CREATE TYPE e AS ENUM ('a')", unsupported},
		{"DROP VIEW", "DROP VIEW __edp_r1", unsupported},
		{"DROP SECRET", "DROP SECRET x", unsupported},
		{"USE", "USE memory", unsupported},
		{"USE schema", "USE s", unsupported},
		{"PREPARE", "PREPARE p AS SELECT * FROM read_text('/etc/passwd')", unsupported},
		{"EXECUTE", "EXECUTE p", unsupported},
		{"BEGIN", "BEGIN TRANSACTION", unsupported},
		{"CHECKPOINT", "CHECKPOINT", unsupported},
		{"VACUUM", "VACUUM", unsupported},
		{"PIVOT statement", "PIVOT s.t ON v USING count(*)", unsupported},
		{"dynamic PIVOT in subquery", "SELECT * FROM (PIVOT s.t ON v USING count(*))", "Only SELECT statements can be serialized"},
		{"SUMMARIZE", "SUMMARIZE s.t", refused},
		{"SUMMARIZE query", "SUMMARIZE SELECT * FROM s.t", refused},
		{"EXPLAIN COPY", "EXPLAIN COPY s.t TO '{out}/e.csv'", "expected a query"},
		{"DESCRIBE query", "DESCRIBE SELECT * FROM read_text('/etc/passwd')", "expected table name"},
		{"SHOW ALL TABLES", "SHOW ALL TABLES", "expected TABLES, SCHEMAS"},

		// Several statements, comments hiding keywords.
		{"second statement COPY", "SELECT 1; COPY s.t TO '{out}/m1.csv'", "only one statement"},
		{"second statement ATTACH", "SELECT * FROM s.t; ATTACH '{out}/m2.db'", "only one statement"},
		{"second statement after comment", "SELECT 1 /* ; */ ; -- x\nCOPY s.t TO '{out}/m3.csv'", "only one statement"},
		{"block comment before COPY", "/* SELECT */ COPY s.t TO '{out}/c1.csv'", unsupported},
		{"line comment before COPY", "-- SELECT\nCOPY s.t TO '{out}/c2.csv'", unsupported},
		{"comment inside COPY", "COPY/**/s.t TO '{out}/c3.csv'", unsupported},
		{"comment splitting a keyword", "CO/**/PY s.t TO '{out}/c4.csv'", "expected a statement"},
		{"nested comment", "/* /* SELECT */ */ ATTACH '{out}/c5.db'", unsupported},
		{"string looking like SELECT", "'SELECT 1'; COPY s.t TO '{out}/c6.csv'", "only one statement"},

		// Names that would escape the warehouse directory.
		{"table name with slash", `CREATE TABLE s."../../escape" (x INT)`, "must be non-empty and contain no"},
		{"namespace name with slash", `CREATE SCHEMA "../escape"`, "must be non-empty and contain no"},
		{"namespace name with backslash", `CREATE SCHEMA "a\b"`, "must be non-empty and contain no"},
		{"rename into a path", `ALTER TABLE s.t RENAME TO s."../x"`, "must be non-empty and contain no"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := expand(c.sql)
			_, _, err := collect(ctx, e, q)
			if err == nil {
				t.Fatalf("%s: succeeded, want an error", q)
			}
			switch c.want {
			case refused:
				if !errors.Is(err, query.ErrRefused) {
					t.Fatalf("%s: error %q is not a sandbox refusal", q, err)
				}
			case unsupported:
				var ue *sqlstmt.UnsupportedError
				if !errors.As(err, &ue) {
					t.Fatalf("%s: error %q is not an unsupported-statement error", q, err)
				}
			default:
				if !strings.Contains(err.Error(), c.want) {
					t.Fatalf("%s: error %q, want it to contain %q", q, err, c.want)
				}
			}
		})
	}

	// A script stops at the refused statement; the statements before it run.
	var ran []string
	err := e.ExecScript(ctx, expand("SELECT 1; COPY s.t TO '{out}/script.csv'; SELECT 2"), func(r *query.Result) error {
		ran = append(ran, r.Status)
		return nil
	})
	if err == nil || len(ran) != 1 {
		t.Errorf("script with COPY: error %v after %v", err, ran)
	}

	// Nothing reached the host and no table changed.
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		t.Errorf("escape attempt left %s", filepath.Join(out, en.Name()))
	}
	checkRows := func(q string, want ...string) {
		t.Helper()
		got, _, err := collect(ctx, e, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("%s: got %v, want %v", q, got, want)
		}
	}
	checkRows("SHOW TABLES", "s | t", "s | u")
	checkRows("SHOW SCHEMAS", "s")
	checkRows("SELECT id, v FROM s.t", "1 | a")
	checkRows("SELECT count(*) FROM s.u", "0")
}

// TestSandboxAllows is the positive control: ordinary queries over edp
// tables, and the row-generating table functions, run.
func TestSandboxAllows(t *testing.T) {
	ctx, e := newEngine(t)
	mustExec(t, ctx, e, "CREATE SCHEMA s")
	mustExec(t, ctx, e, "CREATE TABLE s.t (id INT, v VARCHAR)")
	mustExec(t, ctx, e, "INSERT INTO s.t VALUES (1, 'a'), (2, 'b')")
	for q, want := range map[string]string{
		"SELECT id, v FROM s.t ORDER BY id":                                         "1 | a\n2 | b",
		"SELECT * FROM s.t AS __edp_r1 WHERE __edp_r1.id = 2":                       "2 | b",
		"WITH __edp_r9 AS (SELECT 7 AS x) SELECT x FROM __edp_r9":                   "7",
		"SELECT x FROM range(3) r(x) ORDER BY x":                                    "0\n1\n2",
		"SELECT * FROM generate_series(1, 2)":                                       "1\n2",
		"SELECT * FROM unnest(['p', 'q'])":                                          "p\nq",
		"SELECT count(*) FROM s.t a JOIN s.t b ON a.id <= b.id":                     "3",
		"SELECT v FROM s.t WHERE id IN (SELECT max(id) FROM s.t)":                   "b",
		"SELECT upper(v), length(v), v || '!' FROM s.t WHERE id = 1":                "A | 1 | a!",
		"FROM s.t SELECT v WHERE id = 1":                                            "a",
		"TABLE s.t ORDER BY id DESC LIMIT 1":                                        "2 | b",
		"SELECT * FROM s.t PIVOT (count(*) FOR v IN ('a', 'b')) ORDER BY id":        "1 | 1 | 0\n2 | 0 | 1",
		"SELECT 'read_text(''/etc/passwd'')' AS s":                                  "read_text('/etc/passwd')",
		"SELECT '/etc/passwd' AS path, 'COPY s.t TO x' AS text":                     "/etc/passwd | COPY s.t TO x",
		"SELECT v FROM s.t /* COPY s.t TO '/tmp/x' */ WHERE id = 1 -- ; ATTACH 'x'": "a",
		"VALUES (1, 'x')": "1 | x",
		"SELECT count(*) FROM (SELECT * FROM s.t UNION ALL SELECT 3, 'c')":                   "3",
		"SELECT list(v ORDER BY id) FROM s.t":                                                "[a b]",
		"SELECT getvariable('nothing')":                                                      "NULL",
		"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) FROM r": "1\n2\n3",
	} {
		got, _, err := collect(ctx, e, q)
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		if strings.Join(got, "\n") != want {
			t.Errorf("%s: got %q, want %q", q, strings.Join(got, "\n"), want)
		}
	}
}
