// Package render writes query results to a writer in one of a few formats:
// an aligned text table for people, and CSV, JSON, JSON Lines, Parquet and
// the Arrow IPC stream format for programs.
//
// Results arrive as a [Rows] stream whose values are whatever database/sql
// hands back when scanning the DuckDB driver's columns into any. Every
// format except the table streams: memory stays bounded however many rows a
// query returns. The table needs column widths before it can print its first
// line, so it looks ahead at most [TableLookahead] rows and then keeps those
// widths, truncating wider cells that arrive later.
//
// Column types are DuckDB type names (BIGINT, DECIMAL(10,2), TIMESTAMP WITH
// TIME ZONE, INTEGER[], STRUCT(...)). They decide alignment in tables, how
// dates and times are spelled, which strings are JSON numbers, and the Arrow
// schema that Parquet and Arrow output share. An empty or unknown type is
// fine: values are then rendered by their Go type, and Parquet and Arrow
// store them as text.
//
// Any package that shows or serves query results may import render; it
// imports nothing from internal/.
package render
