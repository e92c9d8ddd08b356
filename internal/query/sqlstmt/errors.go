package sqlstmt

import "fmt"

// SyntaxError reports SQL that edp cannot decompose: malformed text, or a
// form of a supported statement that edp does not implement.
type SyntaxError struct {
	Line, Col int
	Msg       string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("syntax error at line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// UnsupportedError reports a statement kind that edp refuses outright.
// Most of them (COPY, ATTACH, INSTALL, SET, …) would reach past the sandbox
// to files, extensions or engine settings; the rest create objects that an
// Iceberg catalog cannot hold.
type UnsupportedError struct {
	// Keyword names the statement kind in upper case, e.g. "COPY" or
	// "CREATE VIEW".
	Keyword string
	// Reason completes the message; empty means [DefaultRefusal].
	Reason string
}

// DefaultRefusal is the reason given for statements that would let SQL
// touch something other than edp tables.
const DefaultRefusal = "edp SQL reads and writes edp tables only"

func (e *UnsupportedError) Error() string {
	reason := e.Reason
	if reason == "" {
		reason = DefaultRefusal
	}
	return e.Keyword + " statements are not allowed: " + reason
}
