package sqlstmt

import "testing"

func TestRewriteTimeTravel(t *testing.T) {
	tests := []struct {
		name, sql, want string
	}{
		{"version", "SELECT * FROM t FOR VERSION AS OF 123", "SELECT * FROM t AT (VERSION => 123)"},
		{"lower case", "select * from t for version as of 42 where a = 1", "select * from t AT (VERSION => 42) where a = 1"},
		{"system version", "SELECT * FROM t FOR SYSTEM_VERSION AS OF 7", "SELECT * FROM t AT (VERSION => 7)"},
		{"version parameter", "SELECT * FROM t FOR VERSION AS OF $1", "SELECT * FROM t AT (VERSION => $1)"},
		{"timestamp string", "SELECT * FROM t FOR TIMESTAMP AS OF '2024-01-01 00:00:00'", "SELECT * FROM t AT (TIMESTAMP => TIMESTAMP '2024-01-01 00:00:00')"},
		{"timestamp literal", "SELECT * FROM t FOR TIMESTAMP AS OF timestamp '2024-01-01'", "SELECT * FROM t AT (TIMESTAMP => TIMESTAMP '2024-01-01')"},
		{"timestamptz literal", "SELECT * FROM t FOR TIMESTAMP AS OF TIMESTAMPTZ '2024-01-01 00:00+02'", "SELECT * FROM t AT (TIMESTAMP => TIMESTAMPTZ '2024-01-01 00:00+02')"},
		{"system time", "SELECT * FROM t FOR SYSTEM_TIME AS OF '2024-01-01'", "SELECT * FROM t AT (TIMESTAMP => TIMESTAMP '2024-01-01')"},
		{"two tables", "SELECT * FROM a FOR VERSION AS OF 1 JOIN b FOR TIMESTAMP AS OF '2024-01-01' USING (id)",
			"SELECT * FROM a AT (VERSION => 1) JOIN b AT (TIMESTAMP => TIMESTAMP '2024-01-01') USING (id)"},
		{"multi-line keeps the rest", "SELECT *\n  FROM t\n  FOR VERSION\n  AS OF 5 -- note\n", "SELECT *\n  FROM t\n  AT (VERSION => 5) -- note\n"},
		{"inside string untouched", "SELECT 'FOR VERSION AS OF 1' FROM t", "SELECT 'FOR VERSION AS OF 1' FROM t"},
		{"inside comment untouched", "SELECT 1 -- FOR VERSION AS OF 1\n/* FOR TIMESTAMP AS OF '2024' */", "SELECT 1 -- FOR VERSION AS OF 1\n/* FOR TIMESTAMP AS OF '2024' */"},
		{"quoted identifier untouched", `SELECT "FOR" VERSION AS OF 1`, `SELECT "FOR" VERSION AS OF 1`},
		{"no expression", "SELECT * FROM t FOR VERSION AS OF", "SELECT * FROM t FOR VERSION AS OF"},
		{"not a literal", "SELECT * FROM t FOR TIMESTAMP AS OF now()", "SELECT * FROM t FOR TIMESTAMP AS OF now()"},
		{"for update untouched", "SELECT * FROM t FOR UPDATE", "SELECT * FROM t FOR UPDATE"},
		{"unterminated untouched", "SELECT * FROM t FOR VERSION AS OF 1 '", "SELECT * FROM t FOR VERSION AS OF 1 '"},
		{"bytes kept", "SELECT  'é'\t,x FROM t FOR VERSION AS OF 1", "SELECT  'é'\t,x FROM t AT (VERSION => 1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RewriteTimeTravel(tt.sql); got != tt.want {
				t.Errorf("RewriteTimeTravel(%q) = %q, want %q", tt.sql, got, tt.want)
			}
		})
	}
}
