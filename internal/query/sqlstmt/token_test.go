package sqlstmt

import (
	"reflect"
	"testing"
)

func TestTokenize(t *testing.T) {
	type tok struct {
		Kind  TokenKind
		Text  string
		Value string
	}
	tests := []struct {
		name string
		sql  string
		want []tok
	}{
		{"words and punctuation", "SELECT a.b, c FROM t;", []tok{
			{TokWord, "SELECT", "SELECT"}, {TokWord, "a", "a"}, {TokPunct, ".", "."}, {TokWord, "b", "b"},
			{TokPunct, ",", ","}, {TokWord, "c", "c"}, {TokWord, "FROM", "FROM"}, {TokWord, "t", "t"}, {TokPunct, ";", ";"},
		}},
		{"strings", `'it''s' E'a\'b\n' e'x' $$d$$ $q$ $$ $q$`, []tok{
			{TokString, `'it''s'`, "it's"}, {TokString, `E'a\'b\n'`, "a'b\n"}, {TokString, `e'x'`, "x"},
			{TokString, "$$d$$", "d"}, {TokString, "$q$ $$ $q$", " $$ "},
		}},
		{"backslash is literal in standard strings", `'a\' 'b'`, []tok{{TokString, `'a\'`, `a\`}, {TokString, "'b'", "b"}}},
		{"quoted identifiers", `"a ""b""" "É"`, []tok{{TokQuotedIdent, `"a ""b"""`, `a "b"`}, {TokQuotedIdent, `"É"`, "É"}}},
		{"numbers", "1 1.5 .5 1e10 1.5E-3 0x1F 1_000 1..2", []tok{
			{TokNumber, "1", "1"}, {TokNumber, "1.5", "1.5"}, {TokNumber, ".5", ".5"}, {TokNumber, "1e10", "1e10"},
			{TokNumber, "1.5E-3", "1.5E-3"}, {TokNumber, "0x1F", "0x1F"}, {TokNumber, "1_000", "1_000"},
			{TokNumber, "1", "1"}, {TokPunct, ".", "."}, {TokNumber, ".2", ".2"},
		}},
		{"operators", "a=-1 b>=2 c::INT d=>e f<>g h->>'k' i!=-j", []tok{
			{TokWord, "a", "a"}, {TokOperator, "=", "="}, {TokOperator, "-", "-"}, {TokNumber, "1", "1"},
			{TokWord, "b", "b"}, {TokOperator, ">=", ">="}, {TokNumber, "2", "2"},
			{TokWord, "c", "c"}, {TokOperator, "::", "::"}, {TokWord, "INT", "INT"},
			{TokWord, "d", "d"}, {TokOperator, "=>", "=>"}, {TokWord, "e", "e"},
			{TokWord, "f", "f"}, {TokOperator, "<>", "<>"}, {TokWord, "g", "g"},
			{TokWord, "h", "h"}, {TokOperator, "->>", "->>"}, {TokString, "'k'", "k"},
			{TokWord, "i", "i"}, {TokOperator, "!=-", "!=-"}, {TokWord, "j", "j"},
		}},
		{"operator stops at comment", "a=--c\n1 b+/*c*/2", []tok{
			{TokWord, "a", "a"}, {TokOperator, "=", "="}, {TokNumber, "1", "1"},
			{TokWord, "b", "b"}, {TokOperator, "+", "+"}, {TokNumber, "2", "2"},
		}},
		{"parameters", "$1 $name ? $", []tok{{TokParam, "$1", "$1"}, {TokParam, "$name", "$name"}, {TokOperator, "?", "?"}, {TokOther, "$", "$"}}},
		{"identifier with dollar and unicode", "a$1 größe _x", []tok{{TokWord, "a$1", "a$1"}, {TokWord, "größe", "größe"}, {TokWord, "_x", "_x"}}},
		{"nested comments", "a /* x /* y */ z */ b -- c", []tok{{TokWord, "a", "a"}, {TokWord, "b", "b"}}},
		{"unicode spaces", "a\u00a0b\u3000$x\u00a0'c'\u2003", []tok{{TokWord, "a", "a"}, {TokWord, "b", "b"}, {TokParam, "$x", "$x"}, {TokString, "'c'", "c"}}},
		{"other", `a \ b`, []tok{{TokWord, "a", "a"}, {TokOther, `\`, `\`}, {TokWord, "b", "b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			toks, err := Tokenize(tt.sql)
			if err != nil {
				t.Fatalf("Tokenize(%q) error: %v", tt.sql, err)
			}
			if last := toks[len(toks)-1]; last.Kind != TokEOF || last.Pos != len(tt.sql) {
				t.Fatalf("Tokenize(%q) does not end with EOF at the end: %#v", tt.sql, last)
			}
			var got []tok
			for _, x := range toks[:len(toks)-1] {
				if tt.sql[x.Pos:x.End] != x.Text {
					t.Errorf("Tokenize(%q): token %#v does not match its offsets", tt.sql, x)
				}
				got = append(got, tok{x.Kind, x.Text, x.Value})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Tokenize(%q) = %#v, want %#v", tt.sql, got, tt.want)
			}
		})
	}
}

func TestTokenPositions(t *testing.T) {
	toks, err := Tokenize("SELECT\n  'é', x\r\n/* a\nb */ y")
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]int{{1, 1}, {2, 3}, {2, 6}, {2, 8}, {4, 6}, {4, 7}}
	var got [][2]int
	for _, x := range toks {
		got = append(got, [2]int{x.Line, x.Col})
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("positions = %v, want %v", got, want)
	}
}
