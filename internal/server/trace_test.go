package server_test

import (
	"net/http"
	"testing"

	"github.com/edp-data/edp/internal/server"
	"github.com/edp-data/edp/internal/telemetry/otlptest"
)

// TestTracesCoverTheRequest pins the span tree a SQL request produces:
// the HTTP server span, the statement with its parse, plan, authorize and
// execute children, and the commit of a write — one trace, exported over
// OTLP/HTTP.
func TestTracesCoverTheRequest(t *testing.T) {
	col := otlptest.New(t)
	cfg := testConfig(t, t.TempDir())
	cfg.OTLP.Endpoint = col.URL
	s := start(t, cfg, server.Options{AdminPassword: adminPW})
	c, base := http.DefaultClient, s.srv.URL()
	tok := login(t, c, base, "admin", adminPW)
	sqlCSV(t, c, base, tok, "CREATE SCHEMA s")
	sqlCSV(t, c, base, tok, "CREATE TABLE s.t (x BIGINT)")
	sqlCSV(t, c, base, tok, "INSERT INTO s.t VALUES (1), (2)")
	sqlCSV(t, c, base, tok, "SELECT sum(x) FROM s.t WHERE x > 0")
	s.shutdown(t) // flushes the exporter

	sel := col.Span(t, "edp.sql select")
	for _, name := range []string{"parse", "plan s.t", "execute"} {
		found := false
		for _, sp := range col.Spans() {
			if sp.GetName() == name && string(sp.GetParentSpanId()) == string(sel.GetSpanId()) {
				found = true
			}
		}
		if !found {
			t.Errorf("no %q span under the SELECT's span", name)
		}
	}
	plan := col.Span(t, "plan s.t")
	if got := otlptest.Attr(plan.GetAttributes(), "db.collection.name"); got != "s.t" {
		t.Errorf("plan span db.collection.name = %q", got)
	}
	var authorize bool
	for _, sp := range col.Spans() {
		if sp.GetName() == "authorize" && string(sp.GetParentSpanId()) == string(plan.GetSpanId()) {
			authorize = true
		}
	}
	if !authorize {
		t.Error("no authorize span under the plan span")
	}
	var inRequest bool
	for _, sp := range col.Spans() {
		if sp.GetName() == "POST /api/v1/sql" && string(sp.GetTraceId()) == string(sel.GetTraceId()) {
			inRequest = true
		}
	}
	if !inRequest {
		t.Error("the statement's span is not in an HTTP request's trace")
	}
	ops := map[string]bool{}
	for _, sp := range col.Spans() {
		if sp.GetName() == "commit s.t" {
			ops[otlptest.Attr(sp.GetAttributes(), "db.operation.name")] = true
		}
	}
	if !ops["create"] || !ops["append"] {
		t.Errorf("commit spans of s.t have operations %v, want create and append", ops)
	}
	for _, sp := range col.Spans() {
		if otlptest.Attr(sp.GetAttributes(), "db.query.text") != "" {
			t.Errorf("span %q carries the query text", sp.GetName())
		}
	}
}
