// Package shell is the interactive SQL shell behind `edp sql` with no
// query argument.
//
// On a terminal it offers line editing, persistent history, tab completion
// of keywords and table names, and Ctrl-C to cancel a running statement or
// clear a half-typed one. With input from a pipe or file it runs the script
// silently and stops at the first error, so scripts fail loudly.
//
// Statements end with a semicolon and may span lines; semicolons inside
// parentheses, strings, quoted identifiers, dollar-quoted strings and
// comments do not count. A line starting with a backslash is a command (\d, \dn, \o,
// \timing, \q, \?) when it is not inside an open string or comment.
//
// Results are printed with package render. Status messages and timings go
// to the output next to tables, but to the error stream for the other
// formats, so that CSV or JSON on stdout stays machine-readable.
package shell
