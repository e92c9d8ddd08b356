// Package demo produces the sample data set behind edp demo: a small online
// shop whose raw exports land in bronze and are refined into silver and gold.
//
// Generate writes five files (customers, products, orders, order items and a
// web clickstream) covering the 90 days that end on 2026-06-30. They look the
// way real source systems deliver data: CSV and newline-delimited JSON,
// mixed-case emails with stray whitespace, booleans spelled six ways, prices
// with a currency symbol, re-exported customer rows and at-least-once
// duplicates in the JSON feeds. Everything derives from a seed through
// math/rand/v2 PCG streams and integer arithmetic, so a seed always yields
// the same bytes and the numbers in the gold tables are reproducible.
//
// Steps is the SQL that cleans bronze into silver and aggregates silver into
// gold, one CREATE TABLE … AS SELECT per table in DuckDB dialect. It makes no
// assumption about the column types the bronze loader inferred: ids,
// timestamps and amounts may arrive as text or typed, and timestamps are
// normalised to UTC whatever the session time zone. TryQueries are follow-up
// questions to run once the steps are done.
//
// Install puts it all together through a query engine: it loads the files
// into bronze and runs the steps. edp demo and edp serve --demo call it.
package demo
