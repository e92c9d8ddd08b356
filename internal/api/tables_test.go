package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/api"
	"github.com/edp-data/edp/internal/telemetry"
)

// TestNamespacesAndTables walks the lifecycle of a namespace and a table
// through the API.
func TestNamespacesAndTables(t *testing.T) {
	e := newEnv(t)
	r := e.post(e.admin, "/api/v1/namespaces", map[string]any{"name": "web", "properties": map[string]string{"owner": "growth"}})
	if r.status != http.StatusCreated || r.header.Get("Location") != "/api/v1/namespaces/web" {
		t.Fatalf("create namespace = %d %v %s", r.status, r.header, r.body)
	}
	e.post(e.admin, "/api/v1/namespaces", map[string]any{"name": "web"}).errorBody(t, http.StatusConflict, api.CodeAlreadyExists)
	e.post(e.admin, "/api/v1/namespaces", map[string]any{"name": "main"}).errorBody(t, http.StatusBadRequest, api.CodeInvalidArgument)
	if got := e.get(e.reader, "/api/v1/namespaces").json(t); fmt.Sprint(got["namespaces"]) != "[map[name:web]]" {
		t.Errorf("namespaces = %v", got)
	}
	r = e.post(e.admin, "/api/v1/namespaces/web/tables", map[string]any{
		"name": "visits",
		"columns": []map[string]string{{"name": "id", "type": "BIGINT"}, {"name": "ts", "type": "TIMESTAMP WITH TIME ZONE"},
			{"name": "price", "type": "DECIMAL(10,2)", "doc": "in euros"}, {"name": "tags", "type": "VARCHAR[]"}},
		"partition_by": []string{"day(ts)", "bucket(16, id)"},
	})
	if r.status != http.StatusCreated {
		t.Fatalf("create table = %d %s", r.status, r.body)
	}
	desc := r.json(t)
	cols, _ := json.Marshal(desc["columns"])
	if want := `[{"id":1,"name":"id","type":"BIGINT","iceberg_type":"long","required":false},` +
		`{"id":2,"name":"ts","type":"TIMESTAMP WITH TIME ZONE","iceberg_type":"timestamptz","required":false},` +
		`{"id":3,"name":"price","type":"DECIMAL(10,2)","iceberg_type":"decimal(10, 2)","required":false,"doc":"in euros"},` +
		`{"id":4,"name":"tags","type":"VARCHAR[]","iceberg_type":"list\u003cstring\u003e","required":false}]`; string(cols) != canonJSON(want) {
		t.Errorf("columns =\n%s\nwant\n%s", cols, want)
	}
	parts, _ := json.Marshal(desc["partition_by"])
	if !strings.Contains(string(parts), `"transform":"day(ts)"`) || !strings.Contains(string(parts), `"transform":"bucket[16](id)"`) {
		t.Errorf("partition_by = %s", parts)
	}
	if desc["location"] == nil || desc["current_snapshot"] != nil || desc["snapshot_count"] != json.Number("0") {
		t.Errorf("admin's description = %v", desc)
	}
	if d := e.get(e.reader, "/api/v1/namespaces/web/tables/visits").json(t); d["location"] != nil {
		t.Errorf("a reader sees the location %v", d["location"])
	}
	for _, bad := range []map[string]any{
		{"name": "x", "columns": []map[string]string{{"name": "a", "type": "NOSUCHTYPE"}}},
		{"name": "x", "columns": []map[string]string{}},
		{"name": "x", "columns": []map[string]string{{"name": "a", "type": "INT"}}, "partition_by": []string{"day(a)"}},
		{"name": "x", "columns": []map[string]string{{"name": "a", "type": "INT"}}, "partition_by": []string{"bogus(a)"}},
		{"name": "x", "columns": []map[string]string{{"name": "a", "type": "INT"}}, "properties": map[string]string{"location": "/tmp"}},
	} {
		e.post(e.admin, "/api/v1/namespaces/web/tables", bad).errorBody(t, http.StatusBadRequest, api.CodeInvalidArgument)
	}
	e.sql(e.writer, "INSERT INTO web.visits VALUES (1, TIMESTAMPTZ '2026-03-01 08:00:00+00', 9.99, ['a'])")
	e.sql(e.writer, "INSERT INTO web.visits VALUES (2, TIMESTAMPTZ '2026-03-02 08:00:00+00', 19.99, NULL)")

	tbl := "/api/v1/namespaces/web/tables/visits"
	snaps := e.get(e.reader, tbl+"/snapshots").json(t)["snapshots"].([]any)
	if len(snaps) != 2 || snaps[1].(map[string]any)["current"] != true || snaps[0].(map[string]any)["principal"] != "writer" {
		t.Fatalf("snapshots = %v", snaps)
	}
	first, _ := snaps[0].(map[string]any)["snapshot_id"].(json.Number).Int64()

	// Time travel through the rows route.
	rows := func(query string) []any {
		t.Helper()
		r := e.get(e.reader, tbl+"/rows"+query)
		if r.status != http.StatusOK {
			t.Fatalf("rows%s = %d %s", query, r.status, r.body)
		}
		return r.json(t)["rows"].([]any)
	}
	if n := len(rows("")); n != 2 {
		t.Errorf("current rows = %d, want 2", n)
	}
	if n := len(rows(fmt.Sprintf("?snapshot_id=%d", first))); n != 1 {
		t.Errorf("rows at the first snapshot = %d, want 1", n)
	}
	firstTime, _ := time.Parse(time.RFC3339Nano, snaps[0].(map[string]any)["timestamp"].(string))
	if n := len(rows("?as_of=" + url.QueryEscape(firstTime.Format(time.RFC3339Nano)))); n != 1 {
		t.Errorf("rows as of the first commit = %d, want 1", n)
	}
	if m := e.get(e.reader, tbl+"/rows?limit=1").json(t); len(m["rows"].([]any)) != 1 || m["truncated"] != true {
		t.Errorf("rows?limit=1 = %v", m)
	}
	for _, q := range []string{"?limit=-1", "?limit=x", "?as_of=yesterday", "?snapshot_id=1&as_of=2026-01-01T00:00:00Z", "?colour=red", "?snapshot_id=12345"} {
		e.get(e.reader, tbl+"/rows"+q).errorBody(t, http.StatusBadRequest, api.CodeInvalidArgument)
	}
	e.get(e.reader, "/api/v1/namespaces/web/tables/nope/rows").errorBody(t, http.StatusNotFound, api.CodeNotFound)

	// Schema evolution: all changes in one commit.
	r = e.post(e.admin, tbl+"/schema", map[string]any{"changes": []map[string]string{
		{"op": "add_column", "name": "country", "type": "VARCHAR", "doc": "ISO code"},
		{"op": "rename_column", "name": "tags", "new_name": "labels"},
		{"op": "alter_type", "name": "price", "type": "DECIMAL(12,2)"},
	}})
	if r.status != http.StatusOK {
		t.Fatalf("evolve = %d %s", r.status, r.body)
	}
	var names []string
	for _, c := range r.json(t)["columns"].([]any) {
		names = append(names, c.(map[string]any)["name"].(string)+" "+c.(map[string]any)["type"].(string))
	}
	if got := strings.Join(names, ", "); got != "id BIGINT, ts TIMESTAMP WITH TIME ZONE, price DECIMAL(12,2), labels VARCHAR[], country VARCHAR" {
		t.Errorf("columns after evolve = %s", got)
	}
	before := state(e)
	for _, bad := range [][]map[string]string{
		{{"op": "add_column", "name": "ok", "type": "INT"}, {"op": "drop_column", "name": "nope"}},
		{{"op": "add_column", "name": "ok", "type": "INT"}, {"op": "drop_column", "name": "ts"}},
		{{"op": "alter_type", "name": "price", "type": "VARCHAR"}},
		{{"op": "rename_column", "name": "id", "type": "INT"}},
		{{"op": "explode", "name": "id"}},
	} {
		e.post(e.admin, tbl+"/schema", map[string]any{"changes": bad}).errorBody(t, http.StatusBadRequest, api.CodeInvalidArgument)
	}
	if after := state(e); after != before {
		t.Errorf("refused schema changes changed the table:\n%s\n%s", before, after)
	}
	if got := e.sql(e.reader, "SELECT labels, country FROM web.visits WHERE id = 1")["rows"]; fmt.Sprint(got) != "[[[a] <nil>]]" {
		t.Errorf("renamed column reads %v", got)
	}

	// Properties.
	r = e.post(e.admin, tbl+"/properties", map[string]any{"set": map[string]string{"owner": "web", "tier": "gold"}})
	if p := r.json(t)["properties"].(map[string]any); p["owner"] != "web" || p["tier"] != "gold" {
		t.Errorf("properties = %v", p)
	}
	r = e.post(e.admin, tbl+"/properties", map[string]any{"remove": []string{"tier"}})
	if p := r.json(t)["properties"].(map[string]any); p["tier"] != nil || p["owner"] != "web" {
		t.Errorf("properties after remove = %v", p)
	}
	e.post(e.admin, tbl+"/properties", map[string]any{}).errorBody(t, http.StatusBadRequest, api.CodeInvalidArgument)
	e.post(e.admin, tbl+"/properties", map[string]any{"set": map[string]string{"write.data.path": "/etc"}}).errorBody(t, http.StatusBadRequest, api.CodeInvalidArgument)

	// Rollback to the first snapshot; later ones stay readable.
	if r := e.post(e.admin, tbl+"/rollback", map[string]any{"snapshot_id": first}); r.status != http.StatusOK {
		t.Fatalf("rollback = %d %s", r.status, r.body)
	}
	if n := e.count("SELECT count(*) FROM web.visits"); n != 1 {
		t.Errorf("rows after rollback = %d, want 1", n)
	}
	e.post(e.admin, tbl+"/rollback", map[string]any{"snapshot_id": 42}).errorBody(t, http.StatusBadRequest, api.CodeInvalidArgument)
	e.post(e.admin, tbl+"/rollback", map[string]any{}).errorBody(t, http.StatusBadRequest, api.CodeInvalidArgument)

	// Rename into another namespace, then drop.
	e.post(e.admin, "/api/v1/namespaces", map[string]any{"name": "archive"})
	r = e.post(e.admin, tbl+"/rename", map[string]string{"namespace": "archive", "name": "old_visits"})
	if r.status != http.StatusOK || r.json(t)["namespace"] != "archive" {
		t.Fatalf("rename = %d %s", r.status, r.body)
	}
	e.get(e.reader, tbl).errorBody(t, http.StatusNotFound, api.CodeNotFound)
	if got := e.get(e.reader, "/api/v1/namespaces/archive").json(t); fmt.Sprint(got["tables"]) != "[old_visits]" {
		t.Errorf("archive = %v", got)
	}
	e.do(request{method: "DELETE", path: "/api/v1/namespaces/archive", token: e.admin}).errorBody(t, http.StatusConflict, api.CodeConflict)
	if r := e.do(request{method: "DELETE", path: "/api/v1/namespaces/archive?cascade=true", token: e.admin}); r.status != http.StatusNoContent {
		t.Fatalf("drop cascade = %d %s", r.status, r.body)
	}
	e.get(e.reader, "/api/v1/namespaces/archive").errorBody(t, http.StatusNotFound, api.CodeNotFound)
	e.do(request{method: "DELETE", path: "/api/v1/namespaces/web/tables/gone", token: e.admin}).errorBody(t, http.StatusNotFound, api.CodeNotFound)
	e.verifyAudit()
}

// TestBadRequests sends malformed requests: each answers its mapped error
// and changes nothing.
func TestBadRequests(t *testing.T) {
	e := newEnv(t, withLimits(api.Limits{MaxBodyBytes: 1024}))
	seed(e)
	before := state(e)
	tables := "/api/v1/namespaces/sales/tables"
	big := `{"name": "x", "properties": {"k": "` + strings.Repeat("v", 2000) + `"}}`
	for _, tc := range []struct {
		name   string
		req    request
		status int
		code   string
		msg    string
	}{
		{"malformed JSON", request{method: "POST", path: "/api/v1/namespaces", body: `{"name": `}, 400, api.CodeInvalidArgument, "malformed JSON"},
		{"not an object", request{method: "POST", path: "/api/v1/namespaces", body: `[1]`}, 400, api.CodeInvalidArgument, "want a JSON object"},
		{"empty body", request{method: "POST", path: "/api/v1/namespaces", body: ``}, 400, api.CodeInvalidArgument, "empty"},
		{"trailing data", request{method: "POST", path: "/api/v1/namespaces", body: `{"name": "a"} {"name": "b"}`}, 400, api.CodeInvalidArgument, "after the JSON object"},
		{"unknown field", request{method: "POST", path: "/api/v1/namespaces", body: `{"name": "a", "colour": "red"}`}, 400, api.CodeInvalidArgument, `"colour"`},
		{"wrong type", request{method: "POST", path: tables, body: `{"name": "a", "columns": "id BIGINT"}`}, 400, api.CodeInvalidArgument, `"columns"`},
		{"wrong content type", request{method: "POST", path: "/api/v1/namespaces", body: `{"name": "a"}`, contentType: "text/plain"}, 415, api.CodeUnsupportedMediaType, "application/json"},
		{"no content type", request{method: "POST", path: "/api/v1/namespaces", body: []byte(`{"name": "a"}`)}, 415, api.CodeUnsupportedMediaType, "application/json"},
		{"oversized body", request{method: "POST", path: "/api/v1/namespaces", body: big}, 413, api.CodePayloadTooLarge, "1024 bytes"},
		{"unknown table", request{method: "POST", path: tables + "/nope/properties", body: map[string]any{"set": map[string]string{"a": "b"}}}, 404, api.CodeNotFound, "nope"},
		{"unknown namespace", request{method: "GET", path: "/api/v1/namespaces/nope/tables"}, 404, api.CodeNotFound, "nope"},
		{"bad limit", request{method: "GET", path: "/api/v1/audit?limit=0"}, 400, api.CodeInvalidArgument, "limit"},
		{"bad since", request{method: "GET", path: "/api/v1/audit?since=monday"}, 400, api.CodeInvalidArgument, "RFC 3339"},
		{"bad bool", request{method: "DELETE", path: "/api/v1/namespaces/sales?cascade=perhaps"}, 400, api.CodeInvalidArgument, "cascade"},
		{"unknown parameter", request{method: "DELETE", path: tables + "/orders?purg=true"}, 400, api.CodeInvalidArgument, "purg"},
		{"sql limit", request{method: "POST", path: "/api/v1/sql", body: `{"sql": "SELECT 1", "limit": "ten"}`}, 400, api.CodeInvalidArgument, `"limit"`},
		{"sql timeout", request{method: "POST", path: "/api/v1/sql", body: `{"sql": "SELECT 1", "timeout_ms": -5}`}, 400, api.CodeInvalidArgument, "timeout_ms"},
		{"query id", request{method: "POST", path: "/api/v1/sql", body: `{"sql": "SELECT 1", "query_id": "a b"}`}, 400, api.CodeInvalidArgument, "query_id"},
		{"unknown route", request{method: "GET", path: "/api/v2/namespaces"}, 404, api.CodeNotFound, "no route"},
		{"wrong method", request{method: "PATCH", path: tables + "/orders"}, 405, api.CodeMethodNotAllowed, "PATCH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.token = e.admin
			b := e.do(tc.req).errorBody(t, tc.status, tc.code)
			if !strings.Contains(b.Message, tc.msg) {
				t.Errorf("message %q does not contain %q", b.Message, tc.msg)
			}
		})
	}
	if r := e.do(request{method: "PATCH", path: tables + "/orders", token: e.admin}); r.header.Get("Allow") != "GET, HEAD, DELETE" {
		t.Errorf("Allow = %q", r.header.Get("Allow"))
	}
	if after := state(e); after != before {
		t.Errorf("bad requests changed state:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestRequestID checks that a sane inbound X-Request-Id is kept and echoed,
// and anything else replaced.
func TestRequestID(t *testing.T) {
	e := newEnv(t)
	for in, keep := range map[string]bool{"abc-123_X.y~": true, "": false, "has space": false, strings.Repeat("a", 65): false, "é": false} {
		r := e.do(request{method: "GET", path: "/healthz", header: map[string]string{"X-Request-Id": in}})
		got := r.header.Get("X-Request-Id")
		if (got == in) != keep || got == "" {
			t.Errorf("X-Request-Id %q → %q, keep = %v", in, got, keep)
		}
	}
	// An internal error names the request id, and so does its audit entry.
	r := e.do(request{method: "GET", path: "/api/v1/auth/whoami", token: e.reader, header: map[string]string{"X-Request-Id": "trace-me"}})
	if r.header.Get("X-Request-Id") != "trace-me" {
		t.Errorf("X-Request-Id not echoed on an API route")
	}
	en := e.auditSince(e.auditHead() - 1)
	if len(en) != 1 || en[0].Details["request_id"] != "trace-me" {
		t.Errorf("audit entry = %+v", en)
	}
}

// TestReadiness checks /readyz: ready, then 503 when Ready fails or the
// server drains; /healthz stays 200 throughout.
func TestReadiness(t *testing.T) {
	var broken atomic.Bool
	e := newEnv(t, func(o *api.Options) {
		o.Ready = func(context.Context) error {
			if broken.Load() {
				return errors.New("catalog unreachable")
			}
			return nil
		}
	})
	if r := e.get("", "/readyz"); r.status != http.StatusOK {
		t.Fatalf("readyz = %d %s", r.status, r.body)
	}
	broken.Store(true)
	b := e.get("", "/readyz").errorBody(t, http.StatusServiceUnavailable, api.CodeUnavailable)
	if !strings.Contains(b.Message, "catalog unreachable") {
		t.Errorf("message = %q", b.Message)
	}
	broken.Store(false)
	e.api.SetDraining()
	e.get("", "/readyz").errorBody(t, http.StatusServiceUnavailable, api.CodeUnavailable)
	if r := e.get("", "/healthz"); r.status != http.StatusOK {
		t.Errorf("healthz while draining = %d", r.status)
	}
	if head := e.auditHead(); head != 0 {
		t.Errorf("probes appended %d audit entries", head)
	}
}

// canonJSON re-encodes JSON text with sorted keys, as a decoded and
// re-encoded body comes out.
func canonJSON(s string) string {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		panic(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines to write
// while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAccessLog checks the one info line per request.
func TestAccessLog(t *testing.T) {
	var buf syncBuffer
	e := newEnv(t, func(o *api.Options) { o.Logger = telemetry.NewLogger(&buf, "json", slog.LevelInfo) })
	e.do(request{method: "GET", path: "/api/v1/namespaces/x/tables", token: e.reader, header: map[string]string{"X-Request-Id": "log-1"}})
	var line map[string]any
	waitFor(t, func() bool {
		for _, l := range strings.Split(buf.String(), "\n") {
			if strings.Contains(l, `"request_id":"log-1"`) {
				return json.Unmarshal([]byte(l), &line) == nil
			}
		}
		return false
	})
	want := map[string]any{"msg": "http request", "method": "GET", "route": "GET /api/v1/namespaces/{ns}/tables",
		"status": float64(404), "principal": "reader", "level": "INFO"}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("access log %s = %v, want %v (line %v)", k, line[k], v, line)
		}
	}
	if line["bytes"] == float64(0) || line["duration"] == nil {
		t.Errorf("access log lacks size or duration: %v", line)
	}
}
