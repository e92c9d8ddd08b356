package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/edp-data/edp/internal/api"
	"github.com/edp-data/edp/internal/audit"
)

func (e *env) sqlAs(token, accept string, body map[string]any) response {
	e.t.Helper()
	return e.do(request{method: "POST", path: "/api/v1/sql", token: token, body: body, header: map[string]string{"Accept": accept}})
}

// TestSQLFormats streams one result in each format and decodes it.
func TestSQLFormats(t *testing.T) {
	e := newEnv(t)
	seed(e)
	q := map[string]any{"sql": "SELECT id, amount, ts FROM sales.orders ORDER BY id"}

	t.Run("json", func(t *testing.T) {
		r := e.sqlAs(e.reader, "application/json", q)
		if r.status != http.StatusOK {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		m := r.json(t)
		if m["query_id"] != r.header.Get("Edp-Query-Id") || m["query_id"] == "" {
			t.Errorf("query_id = %v, header Edp-Query-Id = %q", m["query_id"], r.header.Get("Edp-Query-Id"))
		}
		cols, _ := json.Marshal(m["columns"])
		if string(cols) != `[{"name":"id","type":"BIGINT"},{"name":"amount","type":"DOUBLE"},{"name":"ts","type":"TIMESTAMPTZ"}]` {
			t.Errorf("columns = %s", cols)
		}
		rows, _ := json.Marshal(m["rows"])
		if want := `[[1,10.5,"2026-01-01T10:00:00Z"],[2,20,"2026-01-02T10:00:00Z"],[3,30,"2026-01-03T10:00:00Z"]]`; string(rows) != want {
			t.Errorf("rows = %s, want %s", rows, want)
		}
		if m["row_count"] != json.Number("3") || m["truncated"] != false || m["status"] != "SELECT" || m["error"] != nil {
			t.Errorf("tail = %v", m)
		}
	})
	t.Run("ndjson", func(t *testing.T) {
		r := e.sqlAs(e.reader, "application/x-ndjson", q)
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/x-ndjson" {
			t.Fatalf("status %d %v %s", r.status, r.header, r.body)
		}
		lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
		if len(lines) != 3 || lines[0] != `{"id":1,"amount":10.5,"ts":"2026-01-01T10:00:00Z"}` {
			t.Errorf("lines = %q", lines)
		}
	})
	t.Run("csv", func(t *testing.T) {
		r := e.sqlAs(e.reader, "text/csv", q)
		recs, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
		if err != nil || r.status != http.StatusOK {
			t.Fatalf("status %d, %v: %s", r.status, err, r.body)
		}
		if len(recs) != 4 || strings.Join(recs[0], ",") != "id,amount,ts" || strings.Join(recs[3], ",") != "3,30.0,2026-01-03 10:00:00+00" {
			t.Errorf("records = %q", recs)
		}
		if r.trailer.Get("Edp-Truncated") != "false" || r.trailer.Get("Edp-Error") != "" {
			t.Errorf("trailers = %v", r.trailer)
		}
	})
	t.Run("arrow", func(t *testing.T) {
		r := e.sqlAs(e.reader, "application/vnd.apache.arrow.stream", q)
		if r.status != http.StatusOK {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		rd, err := ipc.NewReader(bytes.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Release()
		if got := rd.Schema().Field(0).Name + "," + rd.Schema().Field(1).Name; got != "id,amount" {
			t.Errorf("schema fields = %s", got)
		}
		var ids []int64
		var sum float64
		for rd.Next() {
			rec := rd.RecordBatch()
			for i := 0; i < int(rec.NumRows()); i++ {
				ids = append(ids, rec.Column(0).(*array.Int64).Value(i))
				sum += rec.Column(1).(*array.Float64).Value(i)
			}
		}
		if err := rd.Err(); err != nil {
			t.Fatal(err)
		}
		if len(ids) != 3 || ids[2] != 3 || sum != 60.5 {
			t.Errorf("ids %v, sum %v; want [1 2 3], 60.5", ids, sum)
		}
	})
	t.Run("negotiation", func(t *testing.T) {
		for accept, want := range map[string]string{
			"":                                     "application/json",
			"*/*":                                  "application/json",
			"text/*":                               "text/csv",
			"text/csv;q=0.5, application/x-ndjson": "application/x-ndjson",
			"application/x-ndjson;q=0.1, text/csv": "text/csv",
			"image/png, application/json;q=0.2":    "application/json",
			"application/vnd.apache.arrow.stream":  "application/vnd.apache.arrow.stream",
		} {
			r := e.sqlAs(e.reader, accept, q)
			if got := r.header.Get("Content-Type"); r.status != http.StatusOK || got != want {
				t.Errorf("Accept %q: %d %s, want %s", accept, r.status, got, want)
			}
		}
		for _, accept := range []string{"image/png", "application/xml", "text/csv;q=0"} {
			r := e.sqlAs(e.reader, accept, q)
			r.errorBody(t, http.StatusNotAcceptable, api.CodeNotAcceptable)
		}
	})
}

// TestSQLStatus checks statements without rows: their status in JSON,
// an empty body with Edp-Status otherwise, and the audit entry's details.
func TestSQLStatus(t *testing.T) {
	e := newEnv(t)
	seed(e)
	head := e.auditHead()
	m := e.sql(e.writer, "INSERT INTO sales.orders VALUES (4, 1, NULL), (5, 2, NULL)")
	if m["status"] != "INSERT 2" || len(m["rows"].([]any)) != 0 || len(m["columns"].([]any)) != 0 {
		t.Errorf("INSERT answer = %v", m)
	}
	en := e.auditSince(head)
	if len(en) != 1 || en[0].Resource != "sales.orders" || en[0].Details["rows_written"] != json.Number("2") ||
		en[0].Details["statement"] != "insert" || en[0].Details["status"] != "INSERT 2" || en[0].Details["query_id"] != m["query_id"] {
		t.Errorf("audit = %+v", en)
	}
	r := e.sqlAs(e.writer, "text/csv", map[string]any{"sql": "DELETE FROM sales.orders WHERE id = 5"})
	if r.status != http.StatusOK || len(r.body) != 0 || r.header.Get("Edp-Status") != "DELETE 1" {
		t.Errorf("DELETE as CSV = %d %v %q", r.status, r.header, r.body)
	}
	if n := e.count("SELECT count(*) FROM sales.orders"); n != 4 {
		t.Errorf("rows = %d, want 4", n)
	}
	// A SELECT's entry names the tables it read.
	head = e.auditHead()
	e.sql(e.reader, "SELECT o.id FROM sales.orders o JOIN sales.loaded l ON o.id = l.k")
	en = e.auditSince(head)
	tables, _ := json.Marshal(en[0].Details["tables"])
	if string(tables) != `["sales.orders","sales.loaded"]` && string(tables) != `["sales.loaded","sales.orders"]` {
		t.Errorf("tables read = %s", tables)
	}
}

// TestSQLLimit checks truncation by the request's limit and by the
// server's row cap.
func TestSQLLimit(t *testing.T) {
	e := newEnv(t, withLimits(api.Limits{MaxRows: 5}))
	seed(e)
	q := "SELECT range AS n FROM range(10) ORDER BY n"
	for _, tc := range []struct {
		limit     any
		rows      int
		truncated bool
	}{{nil, 5, true}, {2, 2, true}, {0, 0, true}, {50, 5, true}} {
		body := map[string]any{"sql": q}
		if tc.limit != nil {
			body["limit"] = tc.limit
		}
		m := e.sqlAs(e.reader, "", body).json(t)
		if len(m["rows"].([]any)) != tc.rows || m["truncated"] != tc.truncated {
			t.Errorf("limit %v: %d rows, truncated %v; want %d, %v", tc.limit, len(m["rows"].([]any)), m["truncated"], tc.rows, tc.truncated)
		}
	}
	m := e.sqlAs(e.reader, "", map[string]any{"sql": "SELECT 1 AS one", "limit": 1}).json(t)
	if m["truncated"] != false || m["row_count"] != json.Number("1") {
		t.Errorf("exact limit: %v", m)
	}
	r := e.sqlAs(e.reader, "application/x-ndjson", map[string]any{"sql": q, "limit": 3})
	if n := strings.Count(string(r.body), "\n"); n != 3 || r.trailer.Get("Edp-Truncated") != "true" {
		t.Errorf("NDJSON limit 3: %d lines, trailers %v", n, r.trailer)
	}
	r = e.sqlAs(e.reader, "", map[string]any{"sql": q, "limit": -1})
	r.errorBody(t, http.StatusBadRequest, api.CodeInvalidArgument)
}

// TestSQLTimeout checks that timeout_ms bounds a query and cannot exceed
// the server's limit.
func TestSQLTimeout(t *testing.T) {
	e := newEnv(t, withLimits(api.Limits{QueryTimeout: 400 * time.Millisecond}))
	slow := "SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b"
	for _, ms := range []int{100, 600000} {
		r := e.sqlAs(e.reader, "", map[string]any{"sql": slow, "timeout_ms": ms})
		b := r.errorBody(t, http.StatusServiceUnavailable, api.CodeTimeout)
		if !strings.Contains(b.Message, "timed out") {
			t.Errorf("timeout_ms %d: message %q does not say it timed out", ms, b.Message)
		}
	}
	if !strings.Contains(string(e.sqlAs(e.reader, "", map[string]any{"sql": slow, "timeout_ms": 600000}).body), "400ms") {
		t.Errorf("a request asked for more than the server's limit and got it")
	}
}

// TestSQLErrorAfterStreaming cancels a large query after its 200 and
// first rows were sent (the client holds the rest unread, so the server is
// blocked writing and the query still runs): each format must then say so
// in its body and in the Edp-Error trailer.
func TestSQLErrorAfterStreaming(t *testing.T) {
	e := newEnv(t)
	for i, accept := range []string{"application/json", "application/x-ndjson", "text/csv", "application/vnd.apache.arrow.stream"} {
		t.Run(accept, func(t *testing.T) {
			id := fmt.Sprintf("stream-%d", i)
			body, _ := json.Marshal(map[string]any{"sql": "SELECT range AS n FROM range(100000000)", "query_id": id})
			req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/sql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+e.reader)
			req.Header.Set("Accept", accept)
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if r := e.post(e.reader, "/api/v1/queries/"+id+"/cancel", nil); r.status != http.StatusOK {
				t.Fatalf("cancel = %d %s", r.status, r.body)
			}
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Trailer.Get("Edp-Error"); !strings.HasPrefix(got, "cancelled: ") {
				t.Errorf("Edp-Error trailer = %q, want cancelled", got)
			}
			switch accept {
			case "application/json":
				var m map[string]any
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatalf("body is not one JSON object: %v", err)
				}
				if em, _ := m["error"].(map[string]any); em["code"] != api.CodeCancelled || m["row_count"] == float64(0) {
					t.Errorf("error member = %v after %v rows", m["error"], m["row_count"])
				}
			case "application/x-ndjson":
				lines := strings.Split(strings.TrimSpace(string(b)), "\n")
				if last := lines[len(lines)-1]; len(lines) < 2 || !strings.HasPrefix(last, `{"error":{"code":"cancelled"`) {
					t.Errorf("%d lines, last = %q", len(lines), last)
				}
			}
		})
	}
}

// TestCancelQuery cancels a running query through the queries endpoint:
// only its owner or an admin may, and the query's own request answers
// 499 cancelled.
func TestCancelQuery(t *testing.T) {
	e := newEnv(t)
	slow := "SELECT sum(a.range * b.range) FROM range(10000000) a, range(10000000) b"
	done := make(chan response, 1)
	go func() {
		done <- e.sqlAs(e.reader, "", map[string]any{"sql": slow, "query_id": "slow-1"})
	}()
	waitFor(t, func() bool {
		qs := e.get(e.reader, "/api/v1/queries").json(t)["queries"].([]any)
		return len(qs) == 1 && qs[0].(map[string]any)["query_id"] == "slow-1"
	})
	// Another user's list does not show it; an admin's does.
	if qs := e.get(e.writer, "/api/v1/queries").json(t)["queries"].([]any); len(qs) != 0 {
		t.Errorf("writer sees %v", qs)
	}
	if qs := e.get(e.admin, "/api/v1/queries").json(t)["queries"].([]any); len(qs) != 1 {
		t.Errorf("admin sees %v, want the reader's query", qs)
	}
	// A second query with the same id is refused while the first runs.
	e.sqlAs(e.reader, "", map[string]any{"sql": "SELECT 1", "query_id": "slow-1"}).errorBody(t, http.StatusConflict, api.CodeAlreadyExists)
	// Ids belong to their owner: another user may use the same one, and
	// cannot tell the reader's query exists, let alone cancel it.
	if r := e.sqlAs(e.writer, "", map[string]any{"sql": "SELECT 1", "query_id": "slow-1"}); r.status != http.StatusOK {
		t.Errorf("writer's query with the reader's running id = %d %s", r.status, r.body)
	}
	head := e.auditHead()
	e.post(e.writer, "/api/v1/queries/slow-1/cancel", nil).errorBody(t, http.StatusNotFound, api.CodeNotFound)
	if en := e.auditSince(head); len(en) != 1 || en[0].Outcome != audit.OutcomeError || en[0].Principal != "writer" {
		t.Errorf("audit of a refused cancel = %+v", en)
	}
	if r := e.post(e.reader, "/api/v1/queries/slow-1/cancel", nil); r.status != http.StatusOK {
		t.Fatalf("owner cancel = %d %s", r.status, r.body)
	}
	r := <-done
	b := r.errorBody(t, api.StatusClientClosedRequest, api.CodeCancelled)
	if !strings.Contains(b.Message, "cancelled by reader") {
		t.Errorf("message = %q", b.Message)
	}
	waitFor(t, func() bool { return len(e.get(e.admin, "/api/v1/queries").json(t)["queries"].([]any)) == 0 })
	e.post(e.reader, "/api/v1/queries/slow-1/cancel", nil).errorBody(t, http.StatusNotFound, api.CodeNotFound)

	// An admin may cancel anyone's query.
	go func() { done <- e.sqlAs(e.writer, "", map[string]any{"sql": slow, "query_id": "slow-2"}) }()
	waitFor(t, func() bool { return len(e.get(e.writer, "/api/v1/queries").json(t)["queries"].([]any)) == 1 })
	if r := e.post(e.admin, "/api/v1/queries/slow-2/cancel", nil); r.status != http.StatusOK {
		t.Fatalf("admin cancel = %d %s", r.status, r.body)
	}
	(<-done).errorBody(t, api.StatusClientClosedRequest, api.CodeCancelled)
}

// TestClientDisconnectCancelsQuery checks that a query dies with its
// request.
func TestClientDisconnectCancelsQuery(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	body, _ := json.Marshal(map[string]any{"sql": "SELECT sum(a.range * b.range) FROM range(10000000) a, range(10000000) b", "query_id": "gone"})
	req, _ := http.NewRequestWithContext(ctx, "POST", e.srv.URL+"/api/v1/sql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.reader)
	errc := make(chan error, 1)
	go func() {
		resp, err := e.srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	waitFor(t, func() bool { return len(e.get(e.reader, "/api/v1/queries").json(t)["queries"].([]any)) == 1 })
	cancel()
	if err := <-errc; err == nil {
		t.Errorf("request succeeded after its context was cancelled")
	}
	waitFor(t, func() bool { return len(e.get(e.reader, "/api/v1/queries").json(t)["queries"].([]any)) == 0 })
	// Its audit entry records the cancellation.
	waitFor(t, func() bool {
		for _, en := range e.auditSince(0) {
			if en.Action == "query" && en.Details["query_id"] == "gone" {
				return en.Outcome == audit.OutcomeError && en.Details["http_status"] == json.Number("499")
			}
		}
		return false
	})
}

// waitFor polls cond until it holds, failing after a generous bound.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 30s")
}

// TestSQLErrors checks that the user's SQL errors are 400 with DuckDB's
// or edp's message, sandbox refusals 403, unknown tables 404, and that
// none of them changes anything.
func TestSQLErrors(t *testing.T) {
	e := newEnv(t)
	seed(e)
	before := state(e)
	for _, tc := range []struct {
		sql    string
		status int
		code   string
		msg    string
	}{
		{"SELECT nope FROM sales.orders", 400, api.CodeInvalidArgument, "Binder Error"},
		{"SELECT CAST('x' AS INTEGER)", 400, api.CodeInvalidArgument, "Conversion Error"},
		{"SELEC 1", 400, api.CodeInvalidArgument, "syntax error"},
		{"SELECT 1; SELECT 2", 400, api.CodeInvalidArgument, "exactly one statement"},
		{"INSERT INTO sales.orders VALUES ('x', 1, NULL)", 400, api.CodeInvalidArgument, "Conversion Error"},
		{"SELECT * FROM read_csv('/etc/passwd')", 403, api.CodePermissionDenied, "not allowed"},
		{"COPY sales.orders TO '/tmp/x.csv'", 400, api.CodeInvalidArgument, "not allowed"},
		{"SELECT * FROM sales.nope", 404, api.CodeNotFound, "does not exist"},
		{"CREATE TABLE sales.orders (a INT)", 409, api.CodeAlreadyExists, "exists"},
	} {
		r := e.sqlAs(e.admin, "", map[string]any{"sql": tc.sql})
		b := r.errorBody(t, tc.status, tc.code)
		if !strings.Contains(b.Message, tc.msg) {
			t.Errorf("%s: message %q does not contain %q", tc.sql, b.Message, tc.msg)
		}
	}
	if after := state(e); after != before {
		t.Errorf("failed statements changed state:\n%s\n%s", before, after)
	}
}
