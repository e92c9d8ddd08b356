package sqlstmt

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	"SELECT 1; SELECT 'a;b' -- c\n; /* d; */",
	"CREATE TABLE t (a DECIMAL(10,2) NOT NULL COMMENT 'x', b STRUCT(c INT[])) PARTITIONED BY (day(ts)) WITH (k = 'v')",
	"CREATE OR REPLACE TABLE t AS WITH x AS (SELECT 1) SELECT * FROM x",
	"ALTER TABLE t ADD COLUMN IF NOT EXISTS a.b INT",
	"ALTER TABLE t RENAME COLUMN a TO b",
	"ALTER TABLE t SET TBLPROPERTIES ('a' = 'b')",
	"ALTER TABLE t ADD PARTITION FIELD bucket(16, id)",
	"INSERT INTO t (a, b) VALUES (1, 2)",
	"DELETE FROM t AS x WHERE x.a = 1",
	"UPDATE t SET a = CASE WHEN x THEN 1 ELSE 2 END, b = 3 WHERE c",
	"MERGE INTO t USING (SELECT 1) s ON t.a = s.a WHEN MATCHED AND s.b THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT (a) VALUES (s.a)",
	"SHOW SNAPSHOTS FROM t",
	"SELECT * FROM t FOR VERSION AS OF 3",
	`SELECT $$x$$, $t$y$t$, E'\'', "q""i", 'é'`,
	"COPY t TO 'x'",
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		st, err := Parse(sql)
		if err != nil {
			var se *SyntaxError
			var ue *UnsupportedError
			if !errors.As(err, &se) && !errors.As(err, &ue) {
				t.Fatalf("Parse(%q) error %T: %v", sql, err, err)
			}
			if se != nil && (se.Line < 1 || se.Col < 1) {
				t.Fatalf("Parse(%q) error has no position: %v", sql, err)
			}
			return
		}
		if st == nil {
			t.Fatalf("Parse(%q) = nil, nil", sql)
		}
		checkSubstrings(t, sql, st)
		_ = RewriteTimeTravel(sql)
		_ = Complete(sql)
	})
}

func FuzzSplit(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, script string) {
		pieces, err := Split(script)
		if err != nil {
			return
		}
		for _, p := range pieces {
			if p == "" || strings.TrimSpace(p) != p || !strings.Contains(script, p) {
				t.Fatalf("Split(%q) piece %q is empty, untrimmed or not from the script", script, p)
			}
		}
		joined := strings.Join(pieces, ";\n")
		again, err := Split(joined)
		if err != nil {
			t.Fatalf("Split(%q) of rejoined pieces: %v", joined, err)
		}
		if !reflect.DeepEqual(again, pieces) {
			t.Fatalf("Split(%q) = %q, but its pieces rejoined split to %q", script, pieces, again)
		}
		_ = Complete(script)
	})
}
