package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/duckdb/duckdb-go/v2"

	"github.com/edp-data/edp/internal/api"
	"github.com/edp-data/edp/internal/audit"
	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/ingest"
	"github.com/edp-data/edp/internal/jobs"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/policy"
	"github.com/edp-data/edp/internal/query"
	"github.com/edp-data/edp/internal/query/sqlstmt"
)

// TestErrorMapping pins the one mapping from errors to statuses and codes.
func TestErrorMapping(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("load table a.b: %w", err) }
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{wrap(policy.ErrDenied), 403, api.CodePermissionDenied},
		{wrap(query.ErrRefused), 403, api.CodePermissionDenied},
		{wrap(auth.ErrBadCredentials), 401, api.CodeUnauthenticated},
		{wrap(auth.ErrTokenExpired), 401, api.CodeUnauthenticated},
		{wrap(lake.ErrNoSuchTable), 404, api.CodeNotFound},
		{wrap(lake.ErrNoSuchNamespace), 404, api.CodeNotFound},
		{wrap(auth.ErrNotFound), 404, api.CodeNotFound},
		{wrap(jobs.ErrNotFound), 404, api.CodeNotFound},
		{wrap(lake.ErrTableExists), 409, api.CodeAlreadyExists},
		{wrap(lake.ErrNamespaceExists), 409, api.CodeAlreadyExists},
		{wrap(auth.ErrExists), 409, api.CodeAlreadyExists},
		{wrap(lake.ErrNamespaceInUse), 409, api.CodeConflict},
		{wrap(table.ErrCommitFailed), 409, api.CodeConflict},
		{wrap(table.ErrConflictingDataFiles), 409, api.CodeConflict},
		{wrap(lake.ErrInvalid), 400, api.CodeInvalidArgument},
		{wrap(auth.ErrInvalid), 400, api.CodeInvalidArgument},
		{wrap(ingest.ErrBadInput), 400, api.CodeInvalidArgument},
		{wrap(audit.ErrInvalid), 400, api.CodeInvalidArgument},
		{wrap(iceberg.ErrInvalidArgument), 400, api.CodeInvalidArgument},
		{wrap(&sqlstmt.SyntaxError{Line: 1, Col: 1, Msg: "x"}), 400, api.CodeInvalidArgument},
		{wrap(&http.MaxBytesError{Limit: 10}), 413, api.CodePayloadTooLarge},
		{wrap(context.DeadlineExceeded), 503, api.CodeTimeout},
		{wrap(context.Canceled), 499, api.CodeCancelled},
		{wrap(jobs.ErrShuttingDown), 503, api.CodeUnavailable},
		{wrap(jobs.ErrBusy), 503, api.CodeUnavailable},
		{errors.New("disk on fire at /var/lib/edp"), 500, api.CodeInternal},
	} {
		status, code, msg := api.Classify(tc.err)
		if status != tc.status || code != tc.code {
			t.Errorf("Classify(%v) = %d %s, want %d %s", tc.err, status, code, tc.status, tc.code)
		}
		if code == api.CodeInternal && strings.Contains(msg, "/var/lib") {
			t.Errorf("internal message %q leaks the error", msg)
		}
	}
	if _, _, msg := api.Classify(wrap(auth.ErrTokenExpired)); msg != "token expired" {
		t.Errorf("expired token message = %q", msg)
	}
	if _, _, msg := api.Classify(fmt.Errorf("%w: API key abc: revoked", auth.ErrBadCredentials)); msg != "invalid credentials" {
		t.Errorf("credential message = %q, want no reason", msg)
	}
}

// TestUserFault pins whose fault an error of a user's statement is.
func TestUserFault(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
	}{
		{"edp's own check", errors.New("a table needs at least one column"), 400},
		{"DuckDB binder", &duckdb.Error{Type: duckdb.ErrorTypeBinder, Msg: "Binder Error: x"}, 400},
		{"DuckDB conversion", fmt.Errorf("parse: %w", &duckdb.Error{Type: duckdb.ErrorTypeConversion, Msg: "Conversion Error"}), 400},
		{"DuckDB IO", &duckdb.Error{Type: duckdb.ErrorTypeIO, Msg: "IO Error: disk"}, 500},
		{"DuckDB internal", &duckdb.Error{Type: duckdb.ErrorTypeInternal, Msg: "INTERNAL Error"}, 500},
		{"DuckDB out of memory", &duckdb.Error{Type: duckdb.ErrorTypeOutOfMemory, Msg: "OOM"}, 500},
		{"file system", fmt.Errorf("read manifest: %w", &fs.PathError{Op: "open", Path: "/x", Err: fs.ErrNotExist}), 500},
		{"denied stays denied", fmt.Errorf("x: %w", policy.ErrDenied), 403},
		{"timeout stays timeout", context.DeadlineExceeded, 503},
	} {
		status, _, _ := api.Classify(api.UserFault(tc.err))
		if status != tc.status {
			t.Errorf("%s: Classify(UserFault(%v)) = %d, want %d", tc.name, tc.err, status, tc.status)
		}
	}
}

// TestAuditFailure makes the audit log unwritable: a read is refused, and
// a change already made answers 503 saying it happened but was not
// recorded.
func TestAuditFailure(t *testing.T) {
	e := newEnv(t)
	if err := e.audit.Close(); err != nil {
		t.Fatal(err)
	}
	b := e.get(e.reader, "/api/v1/namespaces").errorBody(t, http.StatusServiceUnavailable, api.CodeUnavailable)
	if b.Details["action_done"] != false {
		t.Errorf("read: details = %v", b.Details)
	}
	b = e.post(e.admin, "/api/v1/namespaces", map[string]any{"name": "made"}).errorBody(t, http.StatusServiceUnavailable, api.CodeUnavailable)
	if b.Details["action_done"] != true || !strings.Contains(b.Message, "carried out") {
		t.Errorf("write: %+v", b)
	}
	// A streamed result is replaced whole, never half sent.
	r := e.do(request{method: "POST", path: "/api/v1/sql", token: e.reader, body: map[string]any{"sql": "SELECT range FROM range(100000)"}, header: map[string]string{"Accept": "text/csv"}})
	r.errorBody(t, http.StatusServiceUnavailable, api.CodeUnavailable)
	// Metrics scrapes are not audited, so they still work.
	if r := e.get(e.reader, "/metrics"); r.status != http.StatusOK || !strings.Contains(string(r.body), `edp_audit_appends_total{outcome="error"} 3`) {
		t.Errorf("metrics = %d; audit append failures not counted", r.status)
	}
}

// TestPanicRecovered checks that a panicking handler answers 500 with the
// error body and request id, and still leaves its audit entry.
func TestPanicRecovered(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(e.api.PanicHandler())
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/panic", nil)
	req.Header.Set("Authorization", "Bearer "+e.reader)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b api.ErrorBody
	json.NewDecoder(resp.Body).Decode(&b)
	if resp.StatusCode != 500 || b.Code != api.CodeInternal || b.Details["request_id"] != resp.Header.Get("X-Request-Id") {
		t.Errorf("panic answered %d %+v", resp.StatusCode, b)
	}
	en := e.auditSince(0)
	if len(en) != 1 || en[0].Action != "panic_test" || en[0].Outcome != audit.OutcomeError {
		t.Errorf("audit = %+v", en)
	}
}

func TestNegotiate(t *testing.T) {
	for accept, want := range map[string]string{
		"":                                       "application/json",
		"application/*":                          "application/json",
		"text/html, */*;q=0.1":                   "application/json",
		"application/x-ndjson; q=0.9":            "application/x-ndjson",
		"text/csv, application/json":             "text/csv",
		"application/json;q=0.5, text/csv;q=0.6": "text/csv",
	} {
		got, err := api.Negotiate(accept)
		if err != nil || got != want {
			t.Errorf("Negotiate(%q) = %q, %v; want %q", accept, got, err, want)
		}
	}
	for _, accept := range []string{"text/html", "application/json;q=0", "garbage"} {
		if got, err := api.Negotiate(accept); err == nil {
			t.Errorf("Negotiate(%q) = %q, want an error", accept, got)
		}
	}
}
