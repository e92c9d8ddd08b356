package api_test

import (
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
