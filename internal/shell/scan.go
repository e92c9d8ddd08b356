package shell

import "strings"

// The scanner below follows the same rules as internal/query/sqlstmt: a
// semicolon ends a statement unless it sits inside parentheses, a '…'
// string (with '' escapes, and backslash escapes after an E prefix), a "…"
// identifier, a $$…$$ or $tag$…$tag$ string, a -- comment or a /* */
// comment (which nest, as in PostgreSQL and DuckDB). A stray ')' does not
// make the depth negative, so one typo cannot hide every later ';'.

// statement is one complete statement cut out of the input buffer.
type statement struct {
	text   string // from its first token to its last, without the semicolon
	offset int    // byte offset of text's first byte in the buffer
}

type mode int

const (
	modeTop mode = iota
	modeQuote
	modeDollar
	modeLineComment
	modeBlockComment
)

// scanner is resumable: the shell feeds it each new line as it arrives
// instead of rescanning the whole buffer, which would make a statement of
// n lines cost O(n²).
type scanner struct {
	mode    mode
	quote   byte   // in modeQuote: ' or "
	escapes bool   // in modeQuote: backslash escapes (E'…' strings)
	tag     string // in modeDollar: the closing delimiter
	depth   int    // in modeBlockComment: nesting depth
	parens  int    // open parentheses outside quotes and comments
}

// open reports whether the scanned text ends inside a string, quoted
// identifier or block comment, where a line starting with a backslash is
// data rather than a command.
func (sc *scanner) open() bool {
	return sc.mode == modeQuote || sc.mode == modeDollar || sc.mode == modeBlockComment
}

// feed scans buf[from:], calling terminator with the offset of every
// semicolon that ends a statement. buf[:from] must be what was fed before.
func (sc *scanner) feed(buf string, from int, terminator func(int)) {
	for i := from; i < len(buf); {
		switch sc.mode {
		case modeTop:
			i = sc.top(buf, i, terminator)
		case modeQuote:
			i = sc.inQuote(buf, i)
		case modeDollar:
			end := strings.Index(buf[i:], sc.tag)
			if end < 0 {
				return
			}
			i += end + len(sc.tag)
			sc.mode = modeTop
		case modeLineComment:
			nl := strings.IndexByte(buf[i:], '\n')
			if nl < 0 {
				return
			}
			i += nl + 1
			sc.mode = modeTop
		case modeBlockComment:
			i = sc.inBlockComment(buf, i)
		}
	}
}

// top handles one token outside any quoted construct and returns where the
// next one starts.
func (sc *scanner) top(buf string, i int, terminator func(int)) int {
	c := buf[i]
	switch {
	case c == ';':
		if sc.parens == 0 {
			terminator(i)
		}
	case c == '(':
		sc.parens++
	case c == ')':
		if sc.parens > 0 {
			sc.parens--
		}
	case c == '\'':
		sc.mode, sc.quote = modeQuote, '\''
		sc.escapes = i > 0 && (buf[i-1] == 'e' || buf[i-1] == 'E') && (i < 2 || !identByte(buf[i-2]))
	case c == '"':
		sc.mode, sc.quote, sc.escapes = modeQuote, '"', false
	case c == '-' && i+1 < len(buf) && buf[i+1] == '-':
		sc.mode = modeLineComment
		return i + 2
	case c == '/' && i+1 < len(buf) && buf[i+1] == '*':
		sc.mode, sc.depth = modeBlockComment, 1
		return i + 2
	case c == '$' && (i == 0 || !identByte(buf[i-1])):
		if tag, ok := dollarTag(buf[i:]); ok {
			sc.mode, sc.tag = modeDollar, tag
			return i + len(tag)
		}
	case identByte(c):
		// Skip whole words so that a $ inside an identifier such as a$b
		// is never taken for the start of a dollar quote.
		for i < len(buf) && (identByte(buf[i]) || buf[i] == '$') {
			i++
		}
		return i
	}
	return i + 1
}

func (sc *scanner) inQuote(buf string, i int) int {
	for ; i < len(buf); i++ {
		switch buf[i] {
		case '\\':
			if sc.escapes {
				i++
			}
		case sc.quote:
			// A doubled quote is an escaped quote, not the end.
			if i+1 < len(buf) && buf[i+1] == sc.quote {
				i++
				continue
			}
			sc.mode = modeTop
			return i + 1
		}
	}
	return len(buf)
}

func (sc *scanner) inBlockComment(buf string, i int) int {
	for i < len(buf) {
		switch {
		case i+1 < len(buf) && buf[i] == '/' && buf[i+1] == '*':
			sc.depth++
			i += 2
		case i+1 < len(buf) && buf[i] == '*' && buf[i+1] == '/':
			sc.depth--
			i += 2
			if sc.depth == 0 {
				sc.mode = modeTop
				return i
			}
		default:
			i++
		}
	}
	return i
}

// cut feeds buf[from:] and returns the statements that ended there, blank
// ones dropped, and the offset where the unfinished remainder starts.
// Statements are taken to start at offset start, the end of the previous
// cut.
func (sc *scanner) cut(buf string, start, from int) (stmts []statement, rest int) {
	sc.feed(buf, from, func(end int) {
		if st, ok := makeStatement(buf, start, end); ok {
			stmts = append(stmts, st)
		}
		start = end + 1
	})
	return stmts, start
}

func makeStatement(buf string, start, end int) (statement, bool) {
	first, last := tokenSpan(buf[start:end])
	if first == last {
		return statement{}, false
	}
	return statement{text: buf[start+first : start+last], offset: start + first}, true
}

// tokenSpan returns where the first token of s starts and the last one
// ends, so that a statement drops the comments around it. A trailing line
// comment left in would swallow anything an executor appends to the text.
func tokenSpan(s string) (first, last int) {
	first = -1
	var sc scanner
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			nl := strings.IndexByte(s[i:], '\n')
			if nl < 0 {
				i = len(s)
			} else {
				i += nl + 1
			}
			continue
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			comment := scanner{mode: modeBlockComment, depth: 1}
			i = comment.inBlockComment(s, i+2)
			continue
		}
		start := i
		i = sc.top(s, i, func(int) {})
		switch sc.mode {
		case modeQuote:
			i = sc.inQuote(s, i)
		case modeDollar:
			if end := strings.Index(s[i:], sc.tag); end >= 0 {
				i += end + len(sc.tag)
			} else {
				i = len(s)
			}
			sc.mode = modeTop
		}
		if first < 0 {
			first = start
		}
		last = i
	}
	if first < 0 {
		return 0, 0
	}
	return first, last
}

// split cuts a whole buffer at every semicolon that ends a statement. It
// returns the complete statements, the text after the last terminator, and
// whether buf ends inside a quoted construct or block comment.
func split(buf string) (stmts []statement, rest string, open bool) {
	var sc scanner
	stmts, restAt := sc.cut(buf, 0, 0)
	return stmts, buf[restAt:], sc.open()
}

// complete reports whether buf holds at least one finished statement.
func complete(buf string) bool {
	stmts, _, _ := split(buf)
	return len(stmts) > 0
}

// blank reports whether s has nothing but whitespace and comments.
func blank(s string) bool {
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			nl := strings.IndexByte(s[i:], '\n')
			if nl < 0 {
				return true
			}
			i += nl + 1
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			sc := scanner{mode: modeBlockComment, depth: 1}
			i = sc.inBlockComment(s, i+2)
		default:
			return false
		}
	}
	return true
}

// dollarTag returns the opening delimiter of a dollar-quoted string at the
// start of s: $$ or $tag$. Positional parameters such as $1 are not tags.
func dollarTag(s string) (string, bool) {
	for j := 1; j < len(s); j++ {
		c := s[j]
		switch {
		case c == '$':
			return s[:j+1], true
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80:
		case c >= '0' && c <= '9' && j > 1:
		default:
			return "", false
		}
	}
	return "", false
}

func identByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
