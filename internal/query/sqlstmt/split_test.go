package sqlstmt

import (
	"errors"
	"reflect"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   []string
	}{
		{"empty", "", nil},
		{"only whitespace and semicolons", " ;\n ; ;", nil},
		{"only comments", "-- a\n/* b */", nil},
		{"one without semicolon", "SELECT 1", []string{"SELECT 1"}},
		{"one with semicolon", "  SELECT 1;  \n", []string{"SELECT 1"}},
		{"two", "SELECT 1; SELECT 2;", []string{"SELECT 1", "SELECT 2"}},
		{"empty statements dropped", ";;SELECT 1;;;SELECT 2", []string{"SELECT 1", "SELECT 2"}},
		{"multi-line", "CREATE TABLE t (\n  a INT\n);\nINSERT INTO t\nVALUES (1);\n", []string{"CREATE TABLE t (\n  a INT\n)", "INSERT INTO t\nVALUES (1)"}},
		{"semicolon in string", "SELECT 'a;b'; SELECT 'it''s;'", []string{"SELECT 'a;b'", "SELECT 'it''s;'"}},
		{"semicolon in escape string", `SELECT E'\';'; SELECT 2`, []string{`SELECT E'\';'`, "SELECT 2"}},
		{"semicolon in identifier", `SELECT 1 AS "a;""b"; SELECT 2`, []string{`SELECT 1 AS "a;""b"`, "SELECT 2"}},
		{"semicolon in dollar quote", "SELECT $$a;b$$; SELECT $t$ $$; $t$;", []string{"SELECT $$a;b$$", "SELECT $t$ $$; $t$"}},
		{"semicolon in line comment", "SELECT 1 -- not here;\n; SELECT 2", []string{"SELECT 1", "SELECT 2"}},
		{"semicolon in block comment", "SELECT /* ; /* ; */ ; */ 1; SELECT 2", []string{"SELECT /* ; /* ; */ ; */ 1", "SELECT 2"}},
		{"semicolon in parentheses", "SELECT (1;2); SELECT 3", []string{"SELECT (1;2)", "SELECT 3"}},
		{"stray close paren", "SELECT 1); SELECT 2", []string{"SELECT 1)", "SELECT 2"}},
		{"comments around statements trimmed", "-- header\nSELECT 1 /* tail */; /* lead */ SELECT 2 -- end", []string{"SELECT 1", "SELECT 2"}},
		{"comment inside kept", "SELECT 1, -- one\n 2;", []string{"SELECT 1, -- one\n 2"}},
		{"parameter is not dollar quote", "SELECT $1; SELECT $name; SELECT 2", []string{"SELECT $1", "SELECT $name", "SELECT 2"}},
		{"dollar inside identifier", "SELECT a$b$; SELECT 2", []string{"SELECT a$b$", "SELECT 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Split(tt.script)
			if err != nil {
				t.Fatalf("Split(%q) error: %v", tt.script, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Split(%q) = %#v, want %#v", tt.script, got, tt.want)
			}
		})
	}
}

func TestSplitErrors(t *testing.T) {
	tests := []struct {
		name      string
		script    string
		line, col int
		msg       string
	}{
		{"unterminated string", "SELECT 1;\nSELECT 'abc;", 2, 8, "unterminated quoted string"},
		{"unterminated escape string", `SELECT E'abc\'`, 1, 8, "unterminated quoted string"},
		{"unterminated identifier", `SELECT "abc`, 1, 8, "unterminated quoted identifier"},
		{"unterminated block comment", "SELECT 1; /* /* */", 1, 11, "unterminated block comment"},
		{"unterminated dollar quote", "SELECT $$abc;", 1, 8, "unterminated dollar-quoted string"},
		{"column counts characters", "SELECT 'é', 'x", 1, 13, "unterminated quoted string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Split(tt.script)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Split(%q) = %#v, %v; want *SyntaxError", tt.script, got, err)
			}
			if se.Line != tt.line || se.Col != tt.col || se.Msg != tt.msg {
				t.Errorf("Split(%q) error = %v, want line %d, column %d: %s", tt.script, err, tt.line, tt.col, tt.msg)
			}
		})
	}
}

func TestComplete(t *testing.T) {
	tests := []struct {
		buf  string
		want bool
	}{
		{"", false},
		{"   \n", false},
		{"SELECT 1", false},
		{"SELECT 1;", true},
		{"SELECT 1;  \n", true},
		{"SELECT 1; -- trailing comment", true},
		{"SELECT 1; /* trailing */ ", true},
		{"SELECT 1; SELECT 2", false},
		{"SELECT 1;\nSELECT 2;", true},
		{"SELECT 'a;", false},
		{"SELECT 'a;'", false},
		{"SELECT 'a;';", true},
		{"SELECT $$a;", false},
		{"SELECT $$a;$$;", true},
		{"SELECT 1 -- ;", false},
		{"SELECT 1 /* ; */", false},
		{"SELECT 1 /* ;", false},
		{"SELECT (1;", false},
		{"SELECT (1;);", true},
		{`SELECT "a;`, false},
		{";", true},
	}
	for _, tt := range tests {
		t.Run(tt.buf, func(t *testing.T) {
			if got := Complete(tt.buf); got != tt.want {
				t.Errorf("Complete(%q) = %v, want %v", tt.buf, got, tt.want)
			}
		})
	}
}
