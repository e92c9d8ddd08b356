package sqlstmt

// Split splits a script into statements at each ';' that is outside
// strings, quoted identifiers, comments and parentheses. Each statement runs
// from its first token to its last, so surrounding whitespace and comments
// are trimmed (comments inside a statement are kept) and the text can be
// wrapped in another query without a trailing line comment swallowing the
// wrapper. Statements with no tokens are dropped. An unterminated string,
// quoted identifier, dollar quote or block comment is a [*SyntaxError].
func Split(script string) ([]string, error) {
	toks, err := Tokenize(script)
	if err != nil {
		return nil, err
	}
	var stmts []string
	first := -1
	depth := 0
	for i, t := range toks {
		if t.Kind == TokEOF {
			break
		}
		if t.isPunct(";") && depth == 0 {
			if first >= 0 {
				stmts = append(stmts, script[toks[first].Pos:toks[i-1].End])
			}
			first = -1
			continue
		}
		depth = nesting(t, depth)
		if first < 0 {
			first = i
		}
	}
	if first >= 0 {
		last := toks[len(toks)-2]
		stmts = append(stmts, script[toks[first].Pos:last.End])
	}
	return stmts, nil
}

// Complete reports whether buf ends with a terminated statement: its last
// token is a ';' outside parentheses, and no string or comment is left
// open. Trailing whitespace and comments are ignored. An interactive shell
// uses it to decide whether to run the buffer or read another line.
func Complete(buf string) bool {
	toks, err := Tokenize(buf)
	if err != nil {
		return false
	}
	complete := false
	depth := 0
	for _, t := range toks {
		if t.Kind == TokEOF {
			break
		}
		complete = t.isPunct(";") && depth == 0
		depth = nesting(t, depth)
	}
	return complete
}

// nesting returns the parenthesis depth after t. A stray ')' does not make
// the depth negative, so one typo cannot hide every later ';'.
func nesting(t Token, depth int) int {
	switch {
	case t.isPunct("("):
		return depth + 1
	case t.isPunct(")") && depth > 0:
		return depth - 1
	}
	return depth
}
