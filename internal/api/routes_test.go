package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/api"
	"github.com/edp-data/edp/internal/audit"
	"github.com/edp-data/edp/internal/auth"
)

// fixture is the data every route test starts from: namespace sales with
// table orders (two snapshots), a finished load job of the admin's, and an
// API key of the writer's.
type fixture struct {
	firstSnapshot int64
	jobID         string
	keyID         string
	writerKey     string
}

func seed(e *env) *fixture {
	e.t.Helper()
	fx := &fixture{}
	e.sql(e.admin, "CREATE SCHEMA sales")
	e.sql(e.admin, "CREATE TABLE sales.orders (id BIGINT, amount DOUBLE, ts TIMESTAMP WITH TIME ZONE)")
	e.sql(e.admin, "INSERT INTO sales.orders VALUES (1, 10.5, TIMESTAMPTZ '2026-01-01 10:00:00+00'), (2, 20, TIMESTAMPTZ '2026-01-02 10:00:00+00')")
	e.sql(e.admin, "INSERT INTO sales.orders VALUES (3, 30, TIMESTAMPTZ '2026-01-03 10:00:00+00')")
	snaps := e.get(e.admin, "/api/v1/namespaces/sales/tables/orders/snapshots").json(e.t)["snapshots"].([]any)
	var err error
	fx.firstSnapshot, err = snaps[0].(map[string]any)["snapshot_id"].(json.Number).Int64()
	if err != nil {
		e.t.Fatal(err)
	}
	r := e.load(e.admin, "sales.loaded", false, multipartFile{"a.csv", "k,v\n1,x\n2,y\n"})
	if r.status != http.StatusOK {
		e.t.Fatalf("seed load: %d %s", r.status, r.body)
	}
	fx.jobID = r.json(e.t)["job"].(map[string]any)["id"].(string)
	key, info, err := e.users.CreateAPIKey(context.Background(), "writer", 0)
	if err != nil {
		e.t.Fatal(err)
	}
	fx.keyID, fx.writerKey = info.ID, key
	return fx
}

// step is the request that exercises a route (by operation id) when the
// fixture is in place, and the status the admin gets for it.
type step struct {
	op     string
	req    request
	status int
}

// adminSteps calls every route once, in an order in which each succeeds
// (cancel_query names no running query: that route's happy path is in
// TestCancelQuery).
func adminSteps(e *env, fx *fixture) []step {
	csv, ct := loadForm(e.t, []multipartFile{{"b.csv", "k,v\n3,z\n"}})
	tbl := "/api/v1/namespaces/sales/tables/"
	return []step{
		{"health", request{method: "GET", path: "/healthz"}, 200},
		{"ready", request{method: "GET", path: "/readyz"}, 200},
		{"metrics", request{method: "GET", path: "/metrics"}, 200},
		{"openapi", request{method: "GET", path: "/api/v1/openapi.json"}, 200},
		{"login", request{method: "POST", path: "/api/v1/auth/login", body: map[string]string{"username": "admin", "password": testPassword}}, 200},
		{"whoami", request{method: "GET", path: "/api/v1/auth/whoami"}, 200},
		{"list_namespaces", request{method: "GET", path: "/api/v1/namespaces"}, 200},
		{"create_namespace", request{method: "POST", path: "/api/v1/namespaces", body: map[string]any{"name": "scratch", "properties": map[string]string{"owner": "ops"}}}, 201},
		{"get_namespace", request{method: "GET", path: "/api/v1/namespaces/sales"}, 200},
		{"list_tables", request{method: "GET", path: "/api/v1/namespaces/sales/tables"}, 200},
		{"create_table", request{method: "POST", path: "/api/v1/namespaces/sales/tables", body: map[string]any{
			"name": "events", "columns": []map[string]string{{"name": "id", "type": "BIGINT"}, {"name": "ts", "type": "TIMESTAMP WITH TIME ZONE", "doc": "when"}},
			"partition_by": []string{"day(ts)", "bucket(4, id)"}, "properties": map[string]string{"write.parquet.compression-codec": "zstd"}}}, 201},
		{"describe_table", request{method: "GET", path: tbl + "orders"}, 200},
		{"set_table_properties", request{method: "POST", path: tbl + "orders/properties", body: map[string]any{"set": map[string]string{"owner": "sales"}}}, 200},
		{"evolve_schema", request{method: "POST", path: tbl + "orders/schema", body: map[string]any{"changes": []map[string]string{{"op": "add_column", "name": "note", "type": "VARCHAR"}}}}, 200},
		{"list_snapshots", request{method: "GET", path: tbl + "orders/snapshots"}, 200},
		{"read_rows", request{method: "GET", path: tbl + "orders/rows?limit=2"}, 200},
		{"rollback_table", request{method: "POST", path: tbl + "orders/rollback", body: map[string]any{"snapshot_id": fx.firstSnapshot}}, 200},
		{"load", request{method: "POST", path: tbl + "loaded/load", body: csv, contentType: ct}, 200},
		{"maintain_table", request{method: "POST", path: tbl + "orders/maintain", body: map[string]any{"dry_run": true}}, 202},
		{"query", request{method: "POST", path: "/api/v1/sql", body: map[string]any{"sql": "SELECT count(*) FROM sales.orders"}}, 200},
		{"list_queries", request{method: "GET", path: "/api/v1/queries"}, 200},
		{"cancel_query", request{method: "POST", path: "/api/v1/queries/q_none/cancel"}, 404},
		{"list_jobs", request{method: "GET", path: "/api/v1/jobs"}, 200},
		{"get_job", request{method: "GET", path: "/api/v1/jobs/" + fx.jobID}, 200},
		{"cancel_job", request{method: "POST", path: "/api/v1/jobs/" + fx.jobID + "/cancel"}, 200},
		{"rename_table", request{method: "POST", path: tbl + "events/rename", body: map[string]string{"namespace": "scratch", "name": "events2"}}, 200},
		{"drop_table", request{method: "DELETE", path: "/api/v1/namespaces/scratch/tables/events2?purge=true"}, 204},
		{"drop_namespace", request{method: "DELETE", path: "/api/v1/namespaces/scratch"}, 204},
		{"list_users", request{method: "GET", path: "/api/v1/users"}, 200},
		{"create_user", request{method: "POST", path: "/api/v1/users", body: map[string]any{"name": "dora", "password": testPassword, "roles": []string{"reader"}}}, 201},
		{"set_password", request{method: "PUT", path: "/api/v1/users/dora/password", body: map[string]string{"password": "another long password"}}, 204},
		{"list_api_keys", request{method: "GET", path: "/api/v1/apikeys?user=writer"}, 200},
		{"create_api_key", request{method: "POST", path: "/api/v1/apikeys", body: map[string]any{"user": "dora", "ttl_seconds": 3600}}, 201},
		{"revoke_api_key", request{method: "DELETE", path: "/api/v1/apikeys/" + fx.keyID}, 204},
		{"delete_user", request{method: "DELETE", path: "/api/v1/users/dora"}, 204},
		{"ingest", request{method: "POST", path: "/api/v1/ingest/sales/clicks", body: `[{"id":1,"page":"/"},{"id":2,"page":"/a"}]`,
			contentType: "application/json", header: map[string]string{"Idempotency-Key": "k1"}}, 200},
		{"create_stream", request{method: "POST", path: "/api/v1/streams", body: map[string]any{
			"name": "orders-in", "topics": []string{"orders"}, "table": "sales.orders_stream", "commit_interval": "2s", "on_bad_record": "skip"}}, 201},
		{"list_streams", request{method: "GET", path: "/api/v1/streams"}, 200},
		{"get_stream", request{method: "GET", path: "/api/v1/streams/orders-in"}, 200},
		{"pause_stream", request{method: "POST", path: "/api/v1/streams/orders-in/pause"}, 200},
		{"resume_stream", request{method: "POST", path: "/api/v1/streams/orders-in/resume"}, 200},
		{"delete_stream", request{method: "DELETE", path: "/api/v1/streams/orders-in"}, 204},
		{"search_audit", request{method: "GET", path: "/api/v1/audit?action=query&limit=5"}, 200},
		{"verify_audit", request{method: "GET", path: "/api/v1/audit/verify"}, 200},
	}
}

// TestEveryRouteOnce calls every route of the route table once as the
// admin and checks the status and that exactly one audit entry, with the
// route's operation id as action, was appended before the response (none
// for the probes and a successful metrics scrape).
func TestEveryRouteOnce(t *testing.T) {
	e := newEnv(t)
	fx := seed(e)
	steps := adminSteps(e, fx)
	covered := map[string]bool{}
	for _, s := range steps {
		covered[s.op] = true
	}
	routes := e.api.Routes()
	for _, rt := range routes {
		if !covered[rt.Operation] {
			t.Errorf("route %s %s (%s) has no step in adminSteps", rt.Method, rt.Pattern, rt.Operation)
		}
	}
	byOp := map[string]api.Route{}
	for _, rt := range routes {
		byOp[rt.Operation] = rt
	}
	for _, s := range steps {
		t.Run(s.op, func(t *testing.T) {
			rt, ok := byOp[s.op]
			if !ok {
				t.Fatalf("step %s names no route", s.op)
			}
			if pat := strings.SplitN(s.req.path, "?", 2)[0]; !matches(rt.Pattern, pat) || rt.Method != s.req.method {
				t.Fatalf("step %s: %s %s does not match route %s %s", s.op, s.req.method, pat, rt.Method, rt.Pattern)
			}
			if rt.Auth {
				s.req.token = e.admin
			}
			head := e.auditHead()
			r := e.do(s.req)
			if r.status != s.status {
				t.Fatalf("%s %s = %d, want %d: %s", s.req.method, s.req.path, r.status, s.status, r.body)
			}
			if id := r.header.Get("X-Request-Id"); id == "" {
				t.Errorf("no X-Request-Id in the response")
			}
			got := e.auditSince(head)
			want := 1
			if !rt.Audited && r.status < 400 {
				want = 0
			}
			if len(got) != want {
				t.Fatalf("%d audit entries appended, want %d: %+v", len(got), want, got)
			}
			if want == 1 {
				en := got[0]
				outcome := audit.OutcomeSuccess
				if s.status >= 400 {
					outcome = audit.OutcomeError
				}
				if en.Action != s.op || en.Outcome != outcome || en.Principal != "admin" {
					t.Errorf("audit entry = %s/%s by %q, want %s/%s by admin", en.Action, en.Outcome, en.Principal, s.op, outcome)
				}
				if en.Details["request_id"] != r.header.Get("X-Request-Id") {
					t.Errorf("audit request_id = %v, want the response's %q", en.Details["request_id"], r.header.Get("X-Request-Id"))
				}
			}
		})
	}
	// Secrets never reach the audit log.
	for _, en := range e.auditSince(0) {
		b, _ := json.Marshal(en.Details)
		if strings.Contains(string(b), testPassword) || strings.Contains(string(b), "another long password") || strings.Contains(string(b), auth.APIKeyPrefix) {
			t.Errorf("audit entry %d (%s) carries a secret: %s", en.Seq, en.Action, b)
		}
	}
	e.verifyAudit()
}

// matches reports whether path fits a ServeMux pattern's segments.
func matches(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if !strings.HasPrefix(ps[i], "{") && ps[i] != xs[i] {
			return false
		}
	}
	return true
}

// state is what a refused request must not change.
func state(e *env) string {
	e.t.Helper()
	ctx := auth.WithPrincipal(context.Background(), auth.LocalOperator())
	var b strings.Builder
	nss, err := e.lake.ListNamespaces(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	fmt.Fprintln(&b, "namespaces", nss)
	ids, err := e.lake.ListTables(ctx, "")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, id := range ids {
		tbl, err := e.lake.LoadTable(ctx, id)
		if err != nil {
			e.t.Fatal(err)
		}
		cur := int64(0)
		if s := tbl.CurrentSnapshot(); s != nil {
			cur = s.SnapshotID
		}
		fmt.Fprintln(&b, id, len(tbl.Metadata().Snapshots()), cur, tbl.Schema().ID, len(tbl.Properties()))
	}
	users, err := e.users.ListUsers(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, u := range users {
		keys, _ := e.users.ListAPIKeys(ctx, u.Name)
		fmt.Fprintln(&b, "user", u.Name, u.Roles, u.Disabled, len(keys))
		for _, k := range keys {
			fmt.Fprintln(&b, " key", k.ID, k.RevokedAt)
		}
	}
	for _, j := range e.jobs.List("") {
		fmt.Fprintln(&b, "job", j.ID, j.State)
	}
	return b.String()
}

// badCredentials are Authorization headers that must all answer 401.
func badCredentials(e *env, fx *fixture) map[string]string {
	e.t.Helper()
	ctx := context.Background()
	expired, err := auth.OpenTokens(filepath.Join(e.dir, "keys", "tokens.json"), auth.TokenOptions{Clock: func() time.Time { return time.Now().Add(-2 * time.Hour) }})
	if err != nil {
		e.t.Fatal(err)
	}
	expiredTok, _, err := expired.Issue(auth.Principal{Name: "admin", Roles: []string{"admin"}})
	if err != nil {
		e.t.Fatal(err)
	}
	other, err := auth.OpenTokens(filepath.Join(e.dir, "otherkeys", "tokens.json"), auth.TokenOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	forged, _, err := other.Issue(auth.Principal{Name: "admin", Roles: []string{"admin"}})
	if err != nil {
		e.t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	claims, _ := json.Marshal(map[string]any{"iss": "edp", "aud": "edp-api", "sub": "admin", "roles": []string{"admin"},
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
	algNone := enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(claims) + "."
	revoked, info, err := e.users.CreateAPIKey(ctx, "admin", 0)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.users.RevokeAPIKey(ctx, info.ID); err != nil {
		e.t.Fatal(err)
	}
	last := "A"
	if strings.HasSuffix(fx.writerKey, "A") {
		last = "B"
	}
	badSum := fx.writerKey[:len(fx.writerKey)-1] + last
	removedTok := e.user("leaver", auth.RoleAdmin)
	if err := e.users.RemoveUser(ctx, "leaver"); err != nil {
		e.t.Fatal(err)
	}
	wrongAud := e.idp.Token(map[string]any{"aud": "someone-else", "sub": "u1", "preferred_username": "olga", "groups": []string{"data-admins"}})
	return map[string]string{
		"none":                "",
		"malformed header":    "Bearer",
		"not a token":         "Bearer not-a-token",
		"wrong scheme":        "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+testPassword)),
		"expired JWT":         "Bearer " + expiredTok,
		"JWT of another key":  "Bearer " + forged,
		"alg none JWT":        "Bearer " + algNone,
		"revoked API key":     "Bearer " + revoked,
		"API key bad sum":     "Bearer " + badSum,
		"removed user token":  "Bearer " + removedTok,
		"OIDC wrong audience": "Bearer " + wrongAud,
	}
}

// TestUnauthenticated sends every authenticated route every kind of bad
// credential: each answers 401 with the error body and WWW-Authenticate,
// changes nothing, and appends one "authenticate" entry with outcome
// denied.
func TestUnauthenticated(t *testing.T) {
	e := newEnv(t)
	fx := seed(e)
	creds := badCredentials(e, fx)
	steps := adminSteps(e, fx)
	before := state(e)
	for _, s := range steps {
		rt := routeOf(t, e, s.op)
		if !rt.Auth {
			continue
		}
		for name, h := range creds {
			t.Run(s.op+"/"+name, func(t *testing.T) {
				req := s.req
				req.header = map[string]string{}
				if h != "" {
					req.header["Authorization"] = h
				}
				head := e.auditHead()
				r := e.do(req)
				b := r.errorBody(t, http.StatusUnauthorized, api.CodeUnauthenticated)
				if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="edp"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				if name == "expired JWT" && b.Message != "token expired" {
					t.Errorf("message = %q, want token expired", b.Message)
				}
				if strings.Contains(name, "API key") && b.Message != "invalid API key" {
					t.Errorf("message = %q, want invalid API key (and nothing about which part)", b.Message)
				}
				got := e.auditSince(head)
				if len(got) != 1 || got[0].Action != "authenticate" || got[0].Outcome != audit.OutcomeDenied || got[0].Principal != "" {
					t.Fatalf("audit = %+v, want one authenticate/denied entry", got)
				}
				if got[0].Details["route"] != rt.Method+" "+rt.Pattern || got[0].Details["method"] == nil {
					t.Errorf("audit details = %v, want route and method", got[0].Details)
				}
			})
		}
	}
	if after := state(e); after != before {
		t.Errorf("refused requests changed state:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	e.verifyAudit()
}

func routeOf(t *testing.T, e *env, op string) api.Route {
	t.Helper()
	for _, rt := range e.api.Routes() {
		if rt.Operation == op {
			return rt
		}
	}
	t.Fatalf("no route %s", op)
	return api.Route{}
}

// TestForbidden checks that reader and writer are refused what policy
// does not grant them, with 403, an audit entry with outcome denied, and
// no change.
func TestForbidden(t *testing.T) {
	e := newEnv(t)
	fx := seed(e)
	steps := map[string]step{}
	for _, s := range adminSteps(e, fx) {
		steps[s.op] = s
	}
	// What policy.Roles refuses each role, by operation id.
	refused := map[string][]string{
		"reader": {"create_namespace", "drop_namespace", "create_table", "drop_table", "rename_table", "evolve_schema",
			"set_table_properties", "rollback_table", "load", "maintain_table", "get_job", "cancel_job", "list_users", "create_user",
			"set_password", "list_api_keys", "create_api_key", "revoke_api_key", "delete_user", "search_audit", "verify_audit"},
		"writer": {"create_namespace", "drop_namespace", "create_table", "drop_table", "rename_table", "evolve_schema",
			"set_table_properties", "rollback_table", "maintain_table", "get_job", "cancel_job", "list_users", "create_user",
			"set_password", "list_api_keys", "create_api_key", "delete_user", "search_audit", "verify_audit"},
	}
	// The writer may revoke its own key; try another user's.
	adminKey, adminKeyInfo, err := e.users.CreateAPIKey(context.Background(), "admin", 0)
	if err != nil || adminKey == "" {
		t.Fatal(err)
	}
	before := state(e)
	for role, ops := range refused {
		tok := map[string]string{"reader": e.reader, "writer": e.writer}[role]
		for _, op := range ops {
			t.Run(role+"/"+op, func(t *testing.T) {
				s := steps[op]
				req := s.req
				req.token = tok
				switch op {
				case "set_password":
					req.path = "/api/v1/users/admin/password"
				case "list_api_keys":
					req.path = "/api/v1/apikeys?user=admin"
				case "create_api_key":
					req.body = map[string]any{"user": "admin"}
				case "revoke_api_key":
					req.path = "/api/v1/apikeys/" + adminKeyInfo.ID
				case "delete_user":
					req.path = "/api/v1/users/admin"
				}
				head := e.auditHead()
				r := e.do(req)
				r.errorBody(t, http.StatusForbidden, api.CodePermissionDenied)
				got := e.auditSince(head)
				if len(got) != 1 || got[0].Action != op || got[0].Outcome != audit.OutcomeDenied || got[0].Principal != role {
					t.Fatalf("audit = %+v, want one %s/denied entry by %s", got, op, role)
				}
			})
		}
	}
	// What they may do: read, and the writer write rows.
	e.sql(e.reader, "SELECT * FROM sales.orders")
	if r := e.get(e.reader, "/metrics"); r.status != http.StatusOK {
		t.Errorf("reader GET /metrics = %d, want 200", r.status)
	}
	if after := state(e); after != before {
		t.Errorf("refused requests changed state:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// The writer's own key is its to revoke.
	if r := e.do(request{method: "DELETE", path: "/api/v1/apikeys/" + fx.keyID, token: e.writer}); r.status != http.StatusNoContent {
		t.Errorf("writer revoking its own key = %d %s, want 204", r.status, r.body)
	}
	// A reader's write through SQL is refused by the lake, as for the CLI.
	r := e.post(e.reader, "/api/v1/sql", map[string]any{"sql": "INSERT INTO sales.orders VALUES (9, 1, NULL)"})
	r.errorBody(t, http.StatusForbidden, api.CodePermissionDenied)
	if n := e.count("SELECT count(*) FROM sales.orders"); n != 3 {
		t.Errorf("rows after refused insert = %d, want 3", n)
	}
	e.verifyAudit()
}
