package query

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/edp-data/edp/internal/query/sqlstmt"
)

// Statement kinds, as Result.Statement and span and metric labels name
// them: a closed set.
const (
	KindSelect  = "select"
	KindExplain = "explain"
	KindInsert  = "insert" // INSERT and CREATE TABLE … AS SELECT
	KindUpdate  = "update"
	KindDelete  = "delete"
	KindMerge   = "merge"
	KindDDL     = "ddl" // everything else edp parses: schemas, tables, SHOW, DESCRIBE
)

// KindOf classifies a parsed statement.
func KindOf(st sqlstmt.Statement) string {
	switch s := st.(type) {
	case sqlstmt.Query:
		return KindSelect
	case sqlstmt.Explain:
		return KindExplain
	case sqlstmt.Insert:
		return KindInsert
	case sqlstmt.CreateTable:
		if s.AsQuery != "" {
			return KindInsert
		}
	case sqlstmt.Update:
		return KindUpdate
	case sqlstmt.Delete:
		return KindDelete
	case sqlstmt.Merge:
		return KindMerge
	}
	return KindDDL
}

// duckDB names the database system in spans; OpenTelemetry has no
// well-known value for it, so it is written as the system calls itself.
var duckDB = semconv.DBSystemNameKey.String("duckdb")

// span starts a span of the engine's tracer with the database attributes
// every span of a statement carries.
func (e *Engine) span(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return e.tracer.Start(ctx, name, trace.WithAttributes(append(attrs, duckDB)...))
}

// endSpan records err (if any) on span and ends it.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
