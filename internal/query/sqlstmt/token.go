package sqlstmt

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// TokenKind classifies a [Token].
type TokenKind int

const (
	// TokEOF ends every token list returned by [Tokenize].
	TokEOF TokenKind = iota
	// TokWord is a keyword or an unquoted identifier.
	TokWord
	// TokQuotedIdent is a double-quoted identifier; Value is unescaped.
	TokQuotedIdent
	// TokString is a string constant: '…', E'…', $$…$$ or $tag$…$tag$.
	// Value is its content with escapes resolved.
	TokString
	// TokNumber is a numeric constant.
	TokNumber
	// TokParam is a prepared-statement parameter such as $1 or $name.
	TokParam
	// TokOperator is a run of operator characters such as =, <=, ::, =>.
	TokOperator
	// TokPunct is one of ( ) [ ] { } , ; and the dot.
	TokPunct
	// TokOther is any other single character; the tokenizer leaves
	// judging it to DuckDB.
	TokOther
)

var tokenKindNames = [...]string{
	TokEOF:         "EOF",
	TokWord:        "Word",
	TokQuotedIdent: "QuotedIdent",
	TokString:      "String",
	TokNumber:      "Number",
	TokParam:       "Param",
	TokOperator:    "Operator",
	TokPunct:       "Punct",
	TokOther:       "Other",
}

func (k TokenKind) String() string {
	if k >= 0 && int(k) < len(tokenKindNames) {
		return tokenKindNames[k]
	}
	return "TokenKind(?)"
}

// Token is one lexical element of SQL text. Comments and whitespace are not
// tokens, but because every token records where it sits in the source,
// callers can always recover the exact text between two tokens.
type Token struct {
	Kind TokenKind
	// Text is the token exactly as written, quotes included.
	Text string
	// Value is Text with quoting removed and escapes resolved for strings
	// and quoted identifiers; for every other kind it equals Text.
	Value string
	// Pos and End are byte offsets: Text == src[Pos:End].
	Pos, End int
	// Line and Col are 1-based; Col counts characters, not bytes.
	Line, Col int
}

func (t Token) isPunct(s string) bool { return t.Kind == TokPunct && t.Text == s }

func (t Token) isOp(s string) bool { return t.Kind == TokOperator && t.Text == s }

// isKw reports whether t is the unquoted word kw (given in upper case).
// Quoted identifiers never match: "select" is a name, not a keyword.
func (t Token) isKw(kw string) bool { return t.Kind == TokWord && strings.EqualFold(t.Text, kw) }

// upper returns the upper-cased text of a word token and "" for anything
// else, so that switch statements on keywords cannot match quoted names.
func (t Token) upper() string {
	if t.Kind != TokWord {
		return ""
	}
	return strings.ToUpper(t.Text)
}

// Tokenize splits sql into tokens following DuckDB's (that is,
// PostgreSQL's) lexical rules. The returned slice always ends with a TokEOF
// token positioned at the end of the input. The only errors are unterminated
// strings, quoted identifiers, dollar quotes and block comments; they are
// reported as a [*SyntaxError] at the opening delimiter.
func Tokenize(sql string) ([]Token, error) {
	l := lexer{src: sql, line: 1, col: 1}
	var toks []Token
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		if t.Kind == TokEOF {
			return toks, nil
		}
	}
}

type lexer struct {
	src       string
	pos       int
	line, col int
}

// advance moves n bytes forward, keeping line and column current. Columns
// count UTF-8 sequences so that error positions match what editors show.
func (l *lexer) advance(n int) {
	for ; n > 0 && l.pos < len(l.src); n-- {
		c := l.src[l.pos]
		l.pos++
		switch {
		case c == '\n':
			l.line++
			l.col = 1
		case c&0xC0 != 0x80:
			l.col++
		}
	}
}

func (l *lexer) peekByte(off int) byte {
	if i := l.pos + off; i < len(l.src) {
		return l.src[i]
	}
	return 0
}

func (l *lexer) errorf(line, col int, msg string) *SyntaxError {
	return &SyntaxError{Line: line, Col: col, Msg: msg}
}

// skipSpace skips whitespace and comments.
func (l *lexer) skipSpace() error {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case isSpace(c):
			l.advance(1)
		case l.spaceAt(l.pos) > 0:
			l.advance(l.spaceAt(l.pos))
		case c == '-' && l.peekByte(1) == '-':
			end := strings.IndexByte(l.src[l.pos:], '\n')
			if end < 0 {
				end = len(l.src) - l.pos
			}
			l.advance(end)
		case c == '/' && l.peekByte(1) == '*':
			if err := l.skipBlockComment(); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}

// skipBlockComment skips a /* */ comment. Like PostgreSQL (and unlike C),
// block comments nest, so commenting out code that has comments works.
func (l *lexer) skipBlockComment() error {
	line, col := l.line, l.col
	depth := 0
	for l.pos < len(l.src) {
		switch {
		case l.src[l.pos] == '/' && l.peekByte(1) == '*':
			depth++
			l.advance(2)
		case l.src[l.pos] == '*' && l.peekByte(1) == '/':
			depth--
			l.advance(2)
			if depth == 0 {
				return nil
			}
		default:
			l.advance(1)
		}
	}
	return l.errorf(line, col, "unterminated block comment")
}

func (l *lexer) next() (Token, error) {
	if err := l.skipSpace(); err != nil {
		return Token{}, err
	}
	start, line, col := l.pos, l.line, l.col
	tok := func(kind TokenKind, value string) Token {
		text := l.src[start:l.pos]
		if kind != TokString && kind != TokQuotedIdent {
			value = text
		}
		return Token{Kind: kind, Text: text, Value: value, Pos: start, End: l.pos, Line: line, Col: col}
	}
	if l.pos >= len(l.src) {
		return tok(TokEOF, ""), nil
	}
	c := l.src[l.pos]
	switch {
	case c == '\'':
		v, err := l.scanString(false)
		if err != nil {
			return Token{}, err
		}
		return tok(TokString, v), nil
	case (c == 'e' || c == 'E') && l.peekByte(1) == '\'':
		l.advance(1)
		v, err := l.scanString(true)
		if err != nil {
			return Token{}, err
		}
		return tok(TokString, v), nil
	case c == '"':
		v, err := l.scanQuotedIdent()
		if err != nil {
			return Token{}, err
		}
		return tok(TokQuotedIdent, v), nil
	case c == '$':
		kind, v, err := l.scanDollar()
		if err != nil {
			return Token{}, err
		}
		return tok(kind, v), nil
	case isDigit(c) || (c == '.' && isDigit(l.peekByte(1))):
		l.scanNumber()
		return tok(TokNumber, ""), nil
	case isIdentStart(c):
		l.advance(1)
		for l.pos < len(l.src) && isIdentCont(l.src[l.pos]) && l.spaceAt(l.pos) == 0 {
			l.advance(1)
		}
		return tok(TokWord, ""), nil
	case strings.IndexByte("()[]{},;.", c) >= 0:
		l.advance(1)
		return tok(TokPunct, ""), nil
	case isOpChar(c):
		l.advance(l.operatorLen())
		return tok(TokOperator, ""), nil
	default:
		l.advance(1)
		for l.pos < len(l.src) && l.src[l.pos]&0xC0 == 0x80 {
			l.advance(1)
		}
		return tok(TokOther, ""), nil
	}
}

// scanString scans a single-quoted string starting at the opening quote
// and returns its value. Backslash escapes apply only to E'…' strings: with
// standard_conforming_strings (DuckDB's only mode) a backslash in '…' is an
// ordinary character.
func (l *lexer) scanString(escapes bool) (string, error) {
	line, col := l.line, l.col
	if escapes {
		// Report E'…' at the E, which the caller has already consumed.
		col--
	}
	l.advance(1)
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '\'' && l.peekByte(1) == '\'':
			b.WriteByte('\'')
			l.advance(2)
		case c == '\'':
			l.advance(1)
			return b.String(), nil
		case c == '\\' && escapes && l.pos+1 < len(l.src):
			b.WriteString(unescapeByte(l.src[l.pos+1]))
			l.advance(2)
		default:
			b.WriteByte(c)
			l.advance(1)
		}
	}
	return "", l.errorf(line, col, "unterminated quoted string")
}

func unescapeByte(c byte) string {
	switch c {
	case 'b':
		return "\b"
	case 'f':
		return "\f"
	case 'n':
		return "\n"
	case 'r':
		return "\r"
	case 't':
		return "\t"
	}
	return string(c)
}

func (l *lexer) scanQuotedIdent() (string, error) {
	line, col := l.line, l.col
	l.advance(1)
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '"' && l.peekByte(1) == '"':
			b.WriteByte('"')
			l.advance(2)
		case c == '"':
			l.advance(1)
			return b.String(), nil
		default:
			b.WriteByte(c)
			l.advance(1)
		}
	}
	return "", l.errorf(line, col, "unterminated quoted identifier")
}

// scanDollar handles everything that starts with $: positional parameters
// ($1), named parameters ($name), dollar-quoted strings ($$…$$, $tag$…$tag$)
// and a lone $, which is left for DuckDB to reject.
func (l *lexer) scanDollar() (TokenKind, string, error) {
	line, col := l.line, l.col
	if isDigit(l.peekByte(1)) {
		l.advance(1)
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.advance(1)
		}
		return TokParam, "", nil
	}
	i := l.pos + 1
	if i < len(l.src) && isIdentStart(l.src[i]) {
		for i < len(l.src) && isTagCont(l.src[i]) && l.spaceAt(i) == 0 {
			i++
		}
	}
	if i < len(l.src) && l.src[i] == '$' {
		delim := l.src[l.pos : i+1]
		body := i + 1
		end := strings.Index(l.src[body:], delim)
		if end < 0 {
			return 0, "", l.errorf(line, col, "unterminated dollar-quoted string")
		}
		value := l.src[body : body+end]
		l.advance(body + end + len(delim) - l.pos)
		return TokString, value, nil
	}
	if i > l.pos+1 {
		l.advance(i - l.pos)
		return TokParam, "", nil
	}
	l.advance(1)
	return TokOther, "", nil
}

func (l *lexer) scanNumber() {
	if l.src[l.pos] == '0' && strings.IndexByte("xXbBoO", l.peekByte(1)) >= 0 && isHexDigit(l.peekByte(2)) {
		l.advance(2)
		for l.pos < len(l.src) && (isHexDigit(l.src[l.pos]) || l.src[l.pos] == '_') {
			l.advance(1)
		}
		return
	}
	digits := func() {
		for l.pos < len(l.src) && (isDigit(l.src[l.pos]) || l.src[l.pos] == '_') {
			l.advance(1)
		}
	}
	digits()
	// "1..2" is not a number followed by ".2"; leave both dots alone.
	if l.peekByte(0) == '.' && l.peekByte(1) != '.' {
		l.advance(1)
		digits()
	}
	if c := l.peekByte(0); c == 'e' || c == 'E' {
		n := 1
		if s := l.peekByte(1); s == '+' || s == '-' {
			n = 2
		}
		if isDigit(l.peekByte(n)) {
			l.advance(n)
			digits()
		}
	}
}

// operatorLen returns the length of the operator starting at l.pos using
// PostgreSQL's rules: an operator never swallows the start of a comment,
// and a multi-character operator cannot end in + or - unless it contains
// one of ~!@#%^&|`? — which is why "a=-1" is a, =, -, 1 and not a, =-, 1.
func (l *lexer) operatorLen() int {
	s := l.src[l.pos:]
	n := 0
	for n < len(s) && isOpChar(s[n]) {
		if n > 0 && (s[n-1:n+1] == "--" || s[n-1:n+1] == "/*") {
			n--
			break
		}
		n++
	}
	if n == 0 {
		// Only reachable when s starts a comment, which skipSpace excludes.
		return 1
	}
	if n > 1 && !strings.ContainsAny(s[:n], "~!@#%^&|`?") {
		for n > 1 && (s[n-1] == '+' || s[n-1] == '-') {
			n--
		}
	}
	return n
}

// spaceAt returns the length of the non-ASCII space character at src[i],
// or 0. DuckDB treats such characters (no-break space, ideographic space…)
// outside quotes as whitespace, and text pasted from documents has them.
func (l *lexer) spaceAt(i int) int {
	if i >= len(l.src) || l.src[i] < utf8.RuneSelf {
		return 0
	}
	r, n := utf8.DecodeRuneInString(l.src[i:])
	if r != utf8.RuneError && unicode.IsSpace(r) {
		return n
	}
	return 0
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHexDigit(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// isIdentStart treats every non-ASCII byte as a letter, as PostgreSQL does,
// so identifiers in any script work without Unicode tables.
func isIdentStart(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || c == '_' || c >= 0x80
}

func isIdentCont(c byte) bool { return isIdentStart(c) || isDigit(c) || c == '$' }

// isTagCont differs from isIdentCont only in excluding $, which ends a tag.
func isTagCont(c byte) bool { return isIdentStart(c) || isDigit(c) }

func isOpChar(c byte) bool { return strings.IndexByte("+-*/<>=~!@#%^&|`?:", c) >= 0 }
