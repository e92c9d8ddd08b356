package shell

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	cases := []struct {
		name  string
		buf   string
		stmts []string
		rest  string
		open  bool
	}{
		{"two statements", "select 1; select 2;", []string{"select 1", "select 2"}, "", false},
		{"unterminated", "select 1", nil, "select 1", false},
		{"rest after terminator", "select 1; select", []string{"select 1"}, " select", false},
		{"semicolon in string", "select ';' ;", []string{"select ';'"}, "", false},
		{"doubled quote", "select 'it''s; fine';", []string{"select 'it''s; fine'"}, "", false},
		{"escape string", `select E'\'; still', 1;`, []string{`select E'\'; still', 1`}, "", false},
		{"backslash in plain string", `select 'a\'; select 2;`, []string{`select 'a\'`, "select 2"}, "", false},
		{"quoted identifier", `select "a;""b" from t;`, []string{`select "a;""b" from t`}, "", false},
		{"dollar quote", "select $$a;b$$;", []string{"select $$a;b$$"}, "", false},
		{"tagged dollar quote", "select $fn$ x; $$ ; $fn$;", []string{"select $fn$ x; $$ ; $fn$"}, "", false},
		{"positional parameters", "select $1, $2; x", []string{"select $1, $2"}, " x", false},
		{"dollar inside identifier", "select a$b; x", []string{"select a$b"}, " x", false},
		{"line comment", "select 1 -- not; the end\n;", []string{"select 1"}, "", false},
		{"comments around", "-- lead\n/* x */ select '--' /* in */ , $$ -- $$ -- trail\n;", []string{"select '--' /* in */ , $$ -- $$"}, "", false},
		{"block comment", "select /* ; */ 1;", []string{"select /* ; */ 1"}, "", false},
		{"nested block comment", "select /* a /* b; */ c; */ 1;", []string{"select /* a /* b; */ c; */ 1"}, "", false},
		{"empty statements", " ; ;\n;", nil, "", false},
		{"comment only", "-- hello;\n/* x; */;", nil, "", false},
		{"multi-line", "select\n  1,\n  'a;\nb'\n;\n", []string{"select\n  1,\n  'a;\nb'"}, "\n", false},
		{"open string", "select 'abc;", nil, "select 'abc;", true},
		{"open identifier", `select "abc;`, nil, `select "abc;`, true},
		{"open dollar", "select $$abc;", nil, "select $$abc;", true},
		{"open comment", "select /* abc;", nil, "select /* abc;", true},
		{"open nested comment", "select /* a /* b */ ;", nil, "select /* a /* b */ ;", true},
		{"unicode", "select '漢字;'; select 2;", []string{"select '漢字;'", "select 2"}, "", false},
		{"parentheses", "select (1; 2); select ')';", []string{"select (1; 2)", "select ')'"}, "", false},
		{"unclosed parenthesis", "select (1;\n", nil, "select (1;\n", false},
		{"stray parenthesis", "select 1); select 2;", []string{"select 1)", "select 2"}, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stmts, rest, open := split(c.buf)
			var texts []string
			for _, s := range stmts {
				texts = append(texts, s.text)
				if c.buf[s.offset:s.offset+len(s.text)] != s.text {
					t.Errorf("offset %d does not point at %q", s.offset, s.text)
				}
			}
			if !reflect.DeepEqual(texts, c.stmts) {
				t.Errorf("statements %q, want %q", texts, c.stmts)
			}
			if rest != c.rest {
				t.Errorf("rest %q, want %q", rest, c.rest)
			}
			if open != c.open {
				t.Errorf("open %v, want %v", open, c.open)
			}
			if got := complete(c.buf); got != (len(c.stmts) > 0) {
				t.Errorf("complete = %v", got)
			}
		})
	}
}

func TestBlank(t *testing.T) {
	for s, want := range map[string]bool{
		"":                 true,
		"  \n\t":           true,
		"-- x":             true,
		"-- x\n/* y */\n":  true,
		"/* open":          true,
		"-- x\nselect":     false,
		"/* a */ select 1": false,
		"-":                false,
	} {
		if got := blank(s); got != want {
			t.Errorf("blank(%q) = %v, want %v", s, got, want)
		}
	}
}

// Feeding a buffer line by line, as the shell does, must cut it exactly
// where scanning it whole does.
func TestScannerIncremental(t *testing.T) {
	bufs := []string{
		"select 1;\nselect\n 'a;\nb';\n",
		"select $tag$\n;\n$tag$; select /* a\n/* b */ ;\n*/ 2;\n",
		"select E'\\'\n;'; -- c;\nselect \"x\n;\";\n",
		"select 1 /* open\n",
		"select (1;\n2); select 3;\n",
	}
	for _, buf := range bufs {
		want, wantRest, wantOpen := split(buf)
		var (
			sc    scanner
			got   []statement
			start int
		)
		for end := 0; end < len(buf); {
			nl := strings.IndexByte(buf[end:], '\n')
			next := end + nl + 1
			stmts, rest := sc.cut(buf[:next], start, end)
			got = append(got, stmts...)
			start, end = rest, next
		}
		if !reflect.DeepEqual(got, want) || buf[start:] != wantRest || sc.open() != wantOpen {
			t.Errorf("%q: incremental %v %q %v, whole %v %q %v", buf, got, buf[start:], sc.open(), want, wantRest, wantOpen)
		}
	}
}
