package sqlstmt

import "strings"

// RewriteTimeTravel rewrites the time-travel clauses people know from Trino
// and Spark into DuckDB's AT clause:
//
//	FOR VERSION AS OF 42               →  AT (VERSION => 42)
//	FOR TIMESTAMP AS OF '2024-01-01'   →  AT (TIMESTAMP => TIMESTAMP '2024-01-01')
//	FOR TIMESTAMP AS OF TIMESTAMP '…'  →  AT (TIMESTAMP => TIMESTAMP '…')
//
// FOR SYSTEM_VERSION and FOR SYSTEM_TIME are accepted as synonyms, and
// keywords match in any case. The version must be a single number, string
// or parameter; the timestamp a string, optionally typed TIMESTAMP or
// TIMESTAMPTZ. Only tokens are matched, so text inside strings, quoted
// identifiers and comments is never touched, and everything outside a
// rewritten clause is kept byte for byte. Input that does not tokenize is
// returned unchanged for DuckDB to report.
func RewriteTimeTravel(sql string) string {
	toks, err := Tokenize(sql)
	if err != nil {
		return sql
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(toks); i++ {
		if !toks[i].isKw("FOR") {
			continue
		}
		repl, n := timeTravel(toks[i:])
		if n == 0 {
			continue
		}
		b.WriteString(sql[last:toks[i].Pos])
		b.WriteString(repl)
		last = toks[i+n-1].End
		i += n - 1
	}
	if last == 0 {
		return sql
	}
	b.WriteString(sql[last:])
	return b.String()
}

// timeTravel matches a time-travel clause at the start of toks (which ends
// with TokEOF) and returns its replacement and how many tokens it spans, or
// 0 when there is no match.
func timeTravel(toks []Token) (string, int) {
	if len(toks) < 5 || !toks[2].isKw("AS") || !toks[3].isKw("OF") {
		return "", 0
	}
	v := toks[4]
	switch toks[1].upper() {
	case "VERSION", "SYSTEM_VERSION":
		switch v.Kind {
		case TokNumber, TokString, TokParam:
			return "AT (VERSION => " + v.Text + ")", 5
		}
	case "TIMESTAMP", "SYSTEM_TIME":
		if v.Kind == TokString {
			return "AT (TIMESTAMP => TIMESTAMP " + v.Text + ")", 5
		}
		if kw := v.upper(); (kw == "TIMESTAMP" || kw == "TIMESTAMPTZ") && len(toks) > 5 && toks[5].Kind == TokString {
			return "AT (TIMESTAMP => " + kw + " " + toks[5].Text + ")", 6
		}
	}
	return "", 0
}
