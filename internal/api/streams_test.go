package api_test

import (
	"fmt"
	"net/http"
	"testing"
)

func TestStreams(t *testing.T) {
	e := newEnv(t)
	spec := map[string]any{"name": "clicks", "topics": []string{"clicks"}, "table": "web.clicks", "commit_interval": "3s"}
	for _, tc := range []struct {
		name   string
		token  string
		method string
		path   string
		body   any
		status int
	}{
		{"reader may not create", e.reader, "POST", "/api/v1/streams", spec, http.StatusForbidden},
		{"no topics", e.admin, "POST", "/api/v1/streams", map[string]any{"name": "x", "table": "web.x"}, http.StatusBadRequest},
		{"bad table", e.admin, "POST", "/api/v1/streams", map[string]any{"name": "x", "topics": []string{"t"}, "table": "nodot"}, http.StatusBadRequest},
		{"bad interval", e.admin, "POST", "/api/v1/streams", map[string]any{"name": "x", "topics": []string{"t"}, "table": "a.b", "commit_interval": "soon"}, http.StatusBadRequest},
		{"bad policy", e.admin, "POST", "/api/v1/streams", map[string]any{"name": "x", "topics": []string{"t"}, "table": "a.b", "on_bad_record": "ignore"}, http.StatusBadRequest},
		{"create", e.admin, "POST", "/api/v1/streams", spec, http.StatusCreated},
		{"again", e.admin, "POST", "/api/v1/streams", spec, http.StatusConflict},
		{"reader may read", e.reader, "GET", "/api/v1/streams/clicks", nil, http.StatusOK},
		{"reader may not pause", e.reader, "POST", "/api/v1/streams/clicks/pause", nil, http.StatusForbidden},
		{"unknown", e.admin, "GET", "/api/v1/streams/nope", nil, http.StatusNotFound},
		{"pause unknown", e.admin, "POST", "/api/v1/streams/nope/pause", nil, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(request{method: tc.method, path: tc.path, token: tc.token, body: tc.body})
			if r.status != tc.status {
				t.Errorf("%s %s = %d %s, want %d", tc.method, tc.path, r.status, r.body, tc.status)
			}
		})
	}
	got := e.get(e.admin, "/api/v1/streams/clicks").json(t)["pipeline"].(map[string]any)
	s := got["spec"].(map[string]any)
	if s["commit_interval"] != "3s" || s["format"] != "json" || s["on_bad_record"] != "dlq" || s["table"] != "web.clicks" {
		t.Errorf("spec = %v, want the given interval and table with defaults filled in", s)
	}
	if st := got["status"].(map[string]any)["state"]; st != "stopped" {
		t.Errorf("state = %v, want stopped (not running in this server)", st)
	}
	e.post(e.admin, "/api/v1/streams/clicks/pause", nil)
	if st := e.get(e.admin, "/api/v1/streams/clicks").json(t)["pipeline"].(map[string]any)["status"].(map[string]any)["state"]; st != "paused" {
		t.Errorf("state after pause = %v, want paused", st)
	}
}

func TestIngest(t *testing.T) {
	e := newEnv(t)
	post := func(token, ct, key, body string) response {
		h := map[string]string{}
		if key != "" {
			h["Idempotency-Key"] = key
		}
		return e.do(request{method: "POST", path: "/api/v1/ingest/web/hits", token: token, body: body, contentType: ct, header: h})
	}
	for _, tc := range []struct {
		name, token, ct, key, body string
		status                     int
		rows                       any
		duplicate                  bool
	}{
		{"json lines", e.admin, "application/x-ndjson", "a", "{\"id\":1}\n\n{\"id\":2,\"tag\":\"x\"}\n", 200, "2", false},
		{"array", e.writer, "application/json", "b", `[{"id":3,"tag":"y"}]`, 200, "1", false},
		{"retry", e.admin, "application/x-ndjson", "a", "{\"id\":1}\n{\"id\":2,\"tag\":\"x\"}\n", 200, "2", true},
		{"bad record", e.writer, "application/json", "c", `[{"id":4},{"id":"five"}]`, 400, nil, false},
		{"not objects", e.writer, "application/json", "", `[1,2]`, 400, nil, false},
		{"reader", e.reader, "application/json", "", `[{"id":6}]`, 403, nil, false},
		{"content type", e.writer, "text/csv", "", "id\n7\n", 415, nil, false},
		{"empty", e.writer, "application/json", "", " ", 400, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(tc.token, tc.ct, tc.key, tc.body)
			if r.status != tc.status {
				t.Fatalf("POST = %d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.status != 200 {
				return
			}
			got := r.json(t)
			if fmt.Sprint(got["rows"]) != tc.rows || got["duplicate"] != tc.duplicate {
				t.Errorf("POST = %s, want rows %v, duplicate %v", r.body, tc.rows, tc.duplicate)
			}
		})
	}
	rows := e.sql(e.admin, "SELECT count(*) AS n, count(tag) AS tagged FROM web.hits")
	if got := fmt.Sprint(rows["rows"]); got != "[[3 2]]" {
		t.Errorf("table = %s, want 3 rows, 2 tagged", got)
	}
}
