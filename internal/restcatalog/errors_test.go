package restcatalog_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/table"

	"github.com/edp-data/edp/internal/audit"
)

// errorBody is the spec's IcebergErrorResponse.
type errorBody struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    int    `json:"code"`
	} `json:"error"`
}

// TestErrors pins the spec's error for each kind of bad request: status,
// ErrorModel type and code.
func TestErrors(t *testing.T) {
	e := startEnv(t, "")
	e.sql("CREATE SCHEMA s")
	e.sql("CREATE TABLE s.t (x BIGINT)")
	outside := t.TempDir()
	reader := e.user("rita", "reader")
	const tbl = "/iceberg/v1/edp/namespaces/s/tables/t"
	tests := []struct {
		name, method, path, token, body string
		status                          int
		typ                             string
	}{
		{"unknown namespace", "GET", "/iceberg/v1/edp/namespaces/nope", e.token, "", 404, "NoSuchNamespaceException"},
		{"unknown table", "GET", "/iceberg/v1/edp/namespaces/s/tables/nope", e.token, "", 404, "NoSuchTableException"},
		{"table in unknown namespace", "GET", "/iceberg/v1/edp/namespaces/nope/tables/t", e.token, "", 404, "NoSuchTableException"},
		{"unknown view", "GET", "/iceberg/v1/edp/namespaces/s/views/nope", e.token, "", 404, "NoSuchViewException"},
		{"unknown warehouse", "GET", "/iceberg/v1/other/namespaces", e.token, "", 404, "NoSuchWarehouseException"},
		{"unknown route", "GET", "/iceberg/v1/edp/nothing/here", e.token, "", 404, "NotFoundException"},
		{"malformed JSON", "POST", "/iceberg/v1/edp/namespaces", e.token, `{"namespace": [`, 400, "BadRequestException"},
		{"empty body", "POST", "/iceberg/v1/edp/namespaces", e.token, ``, 400, "BadRequestException"},
		{"unsupported update", "POST", tbl, e.token, `{"requirements": [], "updates": [{"action": "make-coffee"}]}`, 400, "BadRequestException"},
		{"unknown requirement", "POST", tbl, e.token, `{"requirements": [{"type": "assert-luck"}], "updates": []}`, 400, "BadRequestException"},
		{"failed requirement", "POST", tbl, e.token, `{"requirements": [{"type": "assert-current-schema-id", "current-schema-id": 7}], "updates": [{"action": "set-properties", "updates": {"a": "b"}}]}`, 409, "CommitFailedException"},
		{"assert-create on an existing table", "POST", tbl, e.token, `{"requirements": [{"type": "assert-create"}], "updates": []}`, 409, "CommitFailedException"},
		{"set-location", "POST", tbl, e.token, `{"requirements": [], "updates": [{"action": "set-location", "location": "file://` + outside + `"}]}`, 400, "BadRequestException"},
		{"path property", "POST", tbl, e.token, `{"requirements": [], "updates": [{"action": "set-properties", "updates": {"write.data.path": "file:///tmp"}}]}`, 400, "BadRequestException"},
		{"create outside the warehouse", "POST", "/iceberg/v1/edp/namespaces/s/tables", e.token,
			`{"name": "evil", "location": "file://` + outside + `", "schema": {"type": "struct", "schema-id": 0, "fields": [{"id": 1, "name": "x", "type": "long", "required": false}]}}`, 400, "BadRequestException"},
		{"namespace exists", "POST", "/iceberg/v1/edp/namespaces", e.token, `{"namespace": ["s"]}`, 409, "AlreadyExistsException"},
		{"namespace not empty", "DELETE", "/iceberg/v1/edp/namespaces/s", e.token, "", 409, "NamespaceNotEmptyException"},
		{"multi-level namespace", "POST", "/iceberg/v1/edp/namespaces", e.token, `{"namespace": ["a", "b"]}`, 400, "BadRequestException"},
		{"no token", "GET", "/iceberg/v1/edp/namespaces", "", "", 401, "NotAuthorizedException"},
		{"bad token", "GET", "/iceberg/v1/edp/namespaces", "not.a.token", "", 401, "NotAuthorizedException"},
		{"bad API key", "GET", "/iceberg/v1/edp/namespaces", "edp_000000000000000000000000000000000000", "", 401, "NotAuthorizedException"},
		{"reader creates a table", "POST", "/iceberg/v1/edp/namespaces/s/tables", reader,
			`{"name": "r", "schema": {"type": "struct", "schema-id": 0, "fields": [{"id": 1, "name": "x", "type": "long", "required": false}]}}`, 403, "ForbiddenException"},
		{"reader commits", "POST", tbl, reader, `{"requirements": [], "updates": [{"action": "set-properties", "updates": {"a": "b"}}]}`, 403, "ForbiddenException"},
		{"incremental plan", "POST", tbl + "/plan", e.token, `{"start-snapshot-id": 1, "end-snapshot-id": 2}`, 406, "UnsupportedOperationException"},
		{"unknown plan", "GET", tbl + "/plan/abc", e.token, "", 404, "NoSuchPlanIdException"},
		// Spec, createTable: an existing name is 409 for a staged create too.
		{"stage-create of an existing table", "POST", "/iceberg/v1/edp/namespaces/s/tables", e.token,
			`{"name": "t", "stage-create": true, "schema": {"type": "struct", "schema-id": 0, "fields": [{"id": 1, "name": "x", "type": "long", "required": false}]}}`, 409, "AlreadyExistsException"},
		// Spec, updateProperties: a key both removed and set is 422.
		{"property both set and removed", "POST", "/iceberg/v1/edp/namespaces/s/properties", e.token,
			`{"removals": ["a"], "updates": {"a": "b"}}`, 422, "UnprocessableEntityException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := e.do(tt.method, tt.path, tt.token, tt.body)
			var got errorBody
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("%s %s = %d %q: not an IcebergErrorResponse: %v", tt.method, tt.path, code, body, err)
			}
			if code != tt.status || got.Error.Code != tt.status || got.Error.Type != tt.typ || got.Error.Message == "" {
				t.Errorf("%s %s = %d %s, want %d %s", tt.method, tt.path, code, body, tt.status, tt.typ)
			}
		})
	}
	// Nothing the refused requests asked for happened.
	if _, err := os.Stat(filepath.Join(outside, "metadata")); !os.IsNotExist(err) {
		t.Errorf("a refused create wrote metadata outside the warehouse: %v", err)
	}
	if got := e.sql("SELECT count(*) AS n FROM s.t"); got != "n\n0\n" {
		t.Errorf("s.t after refused commits = %q", got)
	}
}

// TestCommitRefusesForeignFiles: a snapshot whose files lie outside the
// table's directory is refused, so a later purge cannot delete them.
func TestCommitRefusesForeignFiles(t *testing.T) {
	e := startEnv(t, "")
	ctx := context.Background()
	cat := e.client(e.token)
	if err := cat.CreateNamespace(ctx, table.Identifier{"f"}, nil); err != nil {
		t.Fatal(err)
	}
	a, _ := cat.CreateTable(ctx, table.Identifier{"f", "a"}, ordersSchema)
	a = appendRows(t, a, 1, 2)
	b, _ := cat.CreateTable(ctx, table.Identifier{"f", "b"}, ordersSchema)
	// Table b's transaction adds a's data file: a file of another table.
	tasks, err := a.Scan().PlanFiles(ctx)
	if err != nil || len(tasks) != 1 {
		t.Fatalf("plan a: %d tasks, %v", len(tasks), err)
	}
	tx := b.NewTransaction()
	if err := tx.AddDataFiles(ctx, []icebergDataFile{tasks[0].File}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Commit(ctx)
	if err == nil || !strings.Contains(err.Error(), "outside the table's directory") {
		t.Errorf("commit of another table's file = %v, want a refusal", err)
	}
}

// TestOAuthTokens: the client-credentials grant issues edp tokens for a
// password or an API key, and refuses bad credentials with OAuthError.
func TestOAuthTokens(t *testing.T) {
	e := startEnv(t, "")
	ctx := context.Background()
	// iceberg-go fetches its token from /v1/oauth/tokens with
	// credential "client_id:client_secret".
	cat, err := rest.NewCatalog(ctx, "edp", e.uri, rest.WithCredential("admin:"+adminPW))
	if err != nil {
		t.Fatalf("client with password credential: %v", err)
	}
	if err := cat.CreateNamespace(ctx, table.Identifier{"o"}, nil); err != nil {
		t.Fatalf("CreateNamespace with an OAuth token: %v", err)
	}
	key, keyID := e.apiKey()
	cat2, err := rest.NewCatalog(ctx, "edp", e.uri, rest.WithCredential(keyID+":"+key))
	if err != nil {
		t.Fatalf("client with API key credential: %v", err)
	}
	if ok, err := cat2.CheckNamespaceExists(ctx, table.Identifier{"o"}); !ok || err != nil {
		t.Errorf("CheckNamespaceExists with an API-key token = %v, %v", ok, err)
	}

	for _, tt := range []struct {
		name, form string
		status     int
		code       string
	}{
		{"wrong password", "grant_type=client_credentials&client_id=admin&client_secret=wrong", 401, "invalid_client"},
		{"key with another id", "grant_type=client_credentials&client_id=someone&client_secret=" + url.QueryEscape(key), 401, "invalid_client"},
		{"no secret", "grant_type=client_credentials&client_id=admin", 401, "invalid_client"},
		{"other grant", "grant_type=password&username=admin&password=x", 400, "unsupported_grant_type"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(e.uri+"/v1/oauth/tokens", "application/x-www-form-urlencoded", strings.NewReader(tt.form))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Error       string `json:"error"`
				AccessToken string `json:"access_token"`
			}
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tt.status || body.Error != tt.code || body.AccessToken != "" {
				t.Errorf("token %s = %d %+v, want %d %s", tt.form, resp.StatusCode, body, tt.status, tt.code)
			}
		})
	}
}

// TestAudited: every catalog request leaves one audit entry naming the
// operation, the principal and the resource; commits add their own.
func TestAudited(t *testing.T) {
	e := startEnv(t, "")
	ctx := context.Background()
	cat := e.client(e.token)
	cat.CreateNamespace(ctx, table.Identifier{"au"}, nil)
	tbl, err := cat.CreateTable(ctx, table.Identifier{"au", "t"}, ordersSchema)
	if err != nil {
		t.Fatal(err)
	}
	appendRows(t, tbl, 1)
	e.do("GET", "/iceberg/v1/edp/namespaces/au/tables/t", "bad.token.here", "")

	entries, err := e.srv.Platform().Audit.Tail(ctx, 200)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]audit.Entry{}
	for _, en := range entries {
		seen[en.Action+" "+en.Resource+" "+en.Outcome] = en
	}
	for _, want := range []string{
		"iceberg.createNamespace au success",
		"iceberg.createTable au.t success",
		"iceberg.updateTable au.t success",
		"commit au.t success",
		"authenticate  denied",
	} {
		en, ok := seen[want]
		if !ok {
			t.Errorf("no audit entry %q among %v", want, keys(seen))
			continue
		}
		if en.Action != "authenticate" && en.Principal != "admin" {
			t.Errorf("entry %q names principal %q, want admin", want, en.Principal)
		}
	}
	if en := seen["commit au.t success"]; en.Details["operation"] != "append" {
		t.Errorf("commit entry details = %v, want operation append", en.Details)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

type icebergDataFile = iceberg.DataFile
