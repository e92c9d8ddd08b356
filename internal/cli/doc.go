// Package cli implements the edp command line: it parses commands and
// flags, loads configuration, opens the lake and the SQL engine with the
// local operator's Principal, and prints results. Only cmd/edp imports it.
package cli
