// Package sqlstmt splits and decomposes the SQL text that users send to edp.
// It never executes anything and knows nothing about catalogs or DuckDB
// connections; it only reads text.
//
// User SQL runs in a sandbox. SELECT-like statements are checked elsewhere
// by DuckDB's own parser, which can only serialize SELECTs. Every other
// statement — the DDL and DML that edp turns into Iceberg commits — must be
// recognised here: [Parse] decomposes it into a [Statement] (CreateTable,
// Insert, Merge, …) or refuses it. Refusal is the default: any statement
// kind not listed among the [Statement] implementations is an error, most
// often an [*UnsupportedError] for things like COPY, ATTACH, INSTALL or SET
// that would reach past edp's tables.
//
// Parts that are expressions or queries (a WHERE condition, an INSERT's
// query, a SET right-hand side, a partition transform) are not parsed
// further. They are returned as raw text, always an exact substring of the
// input, so the caller can wrap them in a SELECT and have DuckDB check and
// evaluate them. Decomposing only needs the lexical rules — strings,
// dollar quotes, quoted identifiers, nested comments — plus parenthesis and
// CASE … END nesting to find where each part ends; [Tokenize] implements
// those rules.
//
// [Split] and [Complete] divide scripts and interactive input into
// statements, and [RewriteTimeTravel] turns FOR VERSION/TIMESTAMP AS OF into
// DuckDB's AT clause. Imported by internal/query and the interactive shell.
package sqlstmt
