package shell

import "strings"

// The scanner below follows the same rules as internal/query/sqlstmt: a
// semicolon ends a statement unless it sits inside a '…' string (with ''
// escapes, and backslash escapes after an E prefix), a "…" identifier, a
// $$…$$ or $tag$…$tag$ string, a -- comment or a /* */ comment (which
// nest, as in PostgreSQL and DuckDB).

// statement is one complete statement cut out of the input buffer.
type statement struct {
	text   string // without the terminating semicolon, trimmed
	offset int    // byte offset of text's first byte in the buffer
}

// split cuts buf at every semicolon that ends a statement. It returns the
// complete statements, blank ones dropped, and the text after the last
// terminator. open reports whether buf ends inside a string, quoted
// identifier or block comment, where a line starting with a backslash is
// data rather than a command.
func split(buf string) (stmts []statement, rest string, open bool) {
	start := 0
	emit := func(end int) {
		raw := buf[start:end]
		text := strings.TrimSpace(raw)
		if !blank(text) {
			lead := len(raw) - len(strings.TrimLeft(raw, " \t\r\n\f\v"))
			stmts = append(stmts, statement{text: text, offset: start + lead})
		}
		start = end + 1
	}
	open = scan(buf, emit)
	return stmts, buf[start:], open
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
			end, closed := skipBlockComment(s, i)
			if !closed {
				return true
			}
			i = end
		default:
			return false
		}
	}
	return true
}

// scan walks buf, calling terminator with the offset of every semicolon
// that ends a statement, and reports whether buf ends inside a quoted
// construct or block comment.
func scan(buf string, terminator func(int)) (open bool) {
	for i := 0; i < len(buf); {
		c := buf[i]
		switch {
		case c == ';':
			terminator(i)
			i++
		case c == '\'':
			escapes := i > 0 && (buf[i-1] == 'e' || buf[i-1] == 'E') && (i < 2 || !identByte(buf[i-2]))
			end, closed := skipQuoted(buf, i, '\'', escapes)
			if !closed {
				return true
			}
			i = end
		case c == '"':
			end, closed := skipQuoted(buf, i, '"', false)
			if !closed {
				return true
			}
			i = end
		case c == '-' && i+1 < len(buf) && buf[i+1] == '-':
			nl := strings.IndexByte(buf[i:], '\n')
			if nl < 0 {
				return false
			}
			i += nl + 1
		case c == '/' && i+1 < len(buf) && buf[i+1] == '*':
			end, closed := skipBlockComment(buf, i)
			if !closed {
				return true
			}
			i = end
		case c == '$' && (i == 0 || !identByte(buf[i-1])):
			tag, ok := dollarTag(buf[i:])
			if !ok {
				i++
				continue
			}
			end := strings.Index(buf[i+len(tag):], tag)
			if end < 0 {
				return true
			}
			i += len(tag) + end + len(tag)
		case identByte(c):
			// Skip whole words so that a $ inside an identifier such as
			// a$b is never taken for the start of a dollar quote.
			for i < len(buf) && (identByte(buf[i]) || buf[i] == '$') {
				i++
			}
		default:
			i++
		}
	}
	return false
}

// skipQuoted returns the offset just past the quote that closes the one at
// buf[i]; a doubled quote is an escaped quote, not a close.
func skipQuoted(buf string, i int, quote byte, backslash bool) (int, bool) {
	for j := i + 1; j < len(buf); j++ {
		switch buf[j] {
		case '\\':
			if backslash {
				j++
			}
		case quote:
			if j+1 < len(buf) && buf[j+1] == quote {
				j++
				continue
			}
			return j + 1, true
		}
	}
	return len(buf), false
}

func skipBlockComment(buf string, i int) (int, bool) {
	depth := 0
	for j := i; j+1 < len(buf); {
		switch {
		case buf[j] == '/' && buf[j+1] == '*':
			depth++
			j += 2
		case buf[j] == '*' && buf[j+1] == '/':
			depth--
			j += 2
			if depth == 0 {
				return j, true
			}
		default:
			j++
		}
	}
	return len(buf), false
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
