package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/api"
	"github.com/edp-data/edp/internal/audit"
)

// TestLoginAndTokens logs in, uses the token, and checks that a role
// change or removal applies to an existing token at once.
func TestLoginAndTokens(t *testing.T) {
	e := newEnv(t)
	head := e.auditHead()
	e.post("", "/api/v1/auth/login", map[string]string{"username": "writer", "password": "wrong password!!"}).
		errorBody(t, http.StatusUnauthorized, api.CodeUnauthenticated)
	e.post("", "/api/v1/auth/login", map[string]string{"username": "nobody", "password": testPassword}).
		errorBody(t, http.StatusUnauthorized, api.CodeUnauthenticated)
	e.post("", "/api/v1/auth/login", map[string]string{"username": "writer"}).
		errorBody(t, http.StatusBadRequest, api.CodeInvalidArgument)
	en := e.auditSince(head)
	if len(en) != 3 || en[0].Action != "login" || en[0].Outcome != audit.OutcomeDenied || en[0].Principal != "" || en[0].Details["username"] != "writer" {
		t.Fatalf("audit of failed logins = %+v", en)
	}
	if n := metricValue(t, e, "edp_auth_failures_total", "method", "password"); n != 2 {
		t.Errorf("edp_auth_failures_total{method=password} = %v, want 2", n)
	}
	r := e.post("", "/api/v1/auth/login", map[string]string{"username": "writer", "password": testPassword})
	if r.status != http.StatusOK {
		t.Fatalf("login = %d %s", r.status, r.body)
	}
	m := r.json(t)
	tok := m["access_token"].(string)
	if m["token_type"] != "Bearer" || m["expires_in"] == json.Number("0") {
		t.Errorf("login = %v", m)
	}
	who := e.get(tok, "/api/v1/auth/whoami").json(t)
	if fmt.Sprint(who) != "map[method:token name:writer roles:[writer]]" {
		t.Errorf("whoami = %v", who)
	}
	if en := e.auditSince(e.auditHead() - 2); en[0].Action != "login" || en[0].Principal != "writer" || en[0].Outcome != audit.OutcomeSuccess {
		t.Errorf("login audit = %+v", en[0])
	}
	// The token carries the roles it was issued with, but the API reads
	// the user's current ones.
	ctx := context.Background()
	if err := e.users.SetDisabled(ctx, "writer", true); err != nil {
		t.Fatal(err)
	}
	e.get(tok, "/api/v1/auth/whoami").errorBody(t, http.StatusUnauthorized, api.CodeUnauthenticated)
	if err := e.users.SetDisabled(ctx, "writer", false); err != nil {
		t.Fatal(err)
	}
	if r := e.get(tok, "/api/v1/auth/whoami"); r.status != http.StatusOK {
		t.Errorf("re-enabled user's token = %d", r.status)
	}
}

// TestAccounts manages users, passwords and API keys through the API.
func TestAccounts(t *testing.T) {
	e := newEnv(t)
	r := e.post(e.admin, "/api/v1/users", map[string]any{"name": "erin", "password": testPassword, "roles": []string{"reader", "writer"}})
	if r.status != http.StatusCreated {
		t.Fatalf("create user = %d %s", r.status, r.body)
	}
	e.post(e.admin, "/api/v1/users", map[string]any{"name": "erin", "password": testPassword, "roles": []string{"reader"}}).errorBody(t, http.StatusConflict, api.CodeAlreadyExists)
	e.post(e.admin, "/api/v1/users", map[string]any{"name": "short", "password": "x", "roles": []string{"reader"}}).errorBody(t, http.StatusBadRequest, api.CodeInvalidArgument)
	e.post(e.admin, "/api/v1/users", map[string]any{"name": "r2", "password": testPassword, "roles": []string{"god"}}).errorBody(t, http.StatusBadRequest, api.CodeInvalidArgument)
	users := e.get(e.admin, "/api/v1/users").json(t)["users"].([]any)
	if len(users) != 4 || users[1].(map[string]any)["name"] != "erin" || fmt.Sprint(users[1].(map[string]any)["roles"]) != "[reader writer]" {
		t.Errorf("users = %v", users)
	}

	// Erin logs in, changes her own password, makes herself a key.
	tok := e.post("", "/api/v1/auth/login", map[string]string{"username": "erin", "password": testPassword}).json(t)["access_token"].(string)
	// Changing one's own credentials takes the current password, so a
	// stolen token cannot be turned into a lasting credential.
	e.do(request{method: "PUT", path: "/api/v1/users/erin/password", token: tok, body: map[string]string{"password": "a brand new passphrase"}}).
		errorBody(t, http.StatusBadRequest, api.CodeInvalidArgument)
	e.do(request{method: "PUT", path: "/api/v1/users/erin/password", token: tok, body: map[string]string{"password": "a brand new passphrase", "current_password": "wrong guess at it"}}).
		errorBody(t, http.StatusForbidden, api.CodePermissionDenied)
	e.post(tok, "/api/v1/apikeys", map[string]any{"ttl_seconds": 0}).errorBody(t, http.StatusBadRequest, api.CodeInvalidArgument)
	if r := e.do(request{method: "PUT", path: "/api/v1/users/erin/password", token: tok, body: map[string]string{"password": "a brand new passphrase", "current_password": testPassword}}); r.status != http.StatusNoContent {
		t.Fatalf("own password = %d %s", r.status, r.body)
	}
	// A new password ends the sessions of the old one (tokens carry whole
	// seconds, so one from the very second of the change would stand).
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	oldTok := tok
	tok = e.post("", "/api/v1/auth/login", map[string]string{"username": "erin", "password": "a brand new passphrase"}).json(t)["access_token"].(string)
	if err := e.users.SetPassword(context.Background(), "erin", "a brand new passphrase"); err != nil {
		t.Fatal(err)
	}
	e.get(oldTok, "/api/v1/auth/whoami").errorBody(t, http.StatusUnauthorized, api.CodeUnauthenticated)
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	tok = e.post("", "/api/v1/auth/login", map[string]string{"username": "erin", "password": "a brand new passphrase"}).json(t)["access_token"].(string)
	e.post("", "/api/v1/auth/login", map[string]string{"username": "erin", "password": testPassword}).errorBody(t, http.StatusUnauthorized, api.CodeUnauthenticated)
	e.do(request{method: "PUT", path: "/api/v1/users/nobody/password", token: e.admin, body: map[string]string{"password": "a brand new passphrase"}}).errorBody(t, http.StatusNotFound, api.CodeNotFound)

	r = e.post(tok, "/api/v1/apikeys", map[string]any{"ttl_seconds": 3600, "current_password": "a brand new passphrase"})
	if r.status != http.StatusCreated {
		t.Fatalf("create key = %d %s", r.status, r.body)
	}
	k := r.json(t)
	key, id := k["key"].(string), k["id"].(string)
	if !strings.HasPrefix(key, "edp_") || k["user"] != "erin" || k["expires_at"] == nil {
		t.Errorf("key = %v", k)
	}
	who := e.get(key, "/api/v1/auth/whoami").json(t)
	if who["name"] != "erin" || who["method"] != "api_key" {
		t.Errorf("whoami with the key = %v", who)
	}
	keys := e.get(tok, "/api/v1/apikeys").json(t)["api_keys"].([]any)
	if len(keys) != 1 || keys[0].(map[string]any)["id"] != id || keys[0].(map[string]any)["revoked_at"] != nil {
		t.Errorf("keys = %v", keys)
	}
	// The key is shown once: never in a listing, never in the audit log.
	for _, en := range e.auditSince(0) {
		b, _ := json.Marshal(en)
		if strings.Contains(string(b), key) || strings.Contains(string(b), "a brand new passphrase") {
			t.Errorf("audit entry %d holds a secret", en.Seq)
		}
	}
	if r := e.do(request{method: "DELETE", path: "/api/v1/apikeys/" + id, token: key}); r.status != http.StatusNoContent {
		t.Fatalf("revoke own key = %d %s", r.status, r.body)
	}
	// Revoked at once.
	e.get(key, "/api/v1/auth/whoami").errorBody(t, http.StatusUnauthorized, api.CodeUnauthenticated)
	e.do(request{method: "DELETE", path: "/api/v1/apikeys/nosuchid", token: e.admin}).errorBody(t, http.StatusNotFound, api.CodeNotFound)
	e.post(e.admin, "/api/v1/apikeys", map[string]any{"user": "nobody"}).errorBody(t, http.StatusNotFound, api.CodeNotFound)
	e.post(e.admin, "/api/v1/apikeys", map[string]any{"ttl_seconds": -1}).errorBody(t, http.StatusBadRequest, api.CodeInvalidArgument)

	// Removing erin ends her token's use at once.
	if r := e.do(request{method: "DELETE", path: "/api/v1/users/erin", token: e.admin}); r.status != http.StatusNoContent {
		t.Fatalf("delete user = %d", r.status)
	}
	e.get(tok, "/api/v1/auth/whoami").errorBody(t, http.StatusUnauthorized, api.CodeUnauthenticated)
	e.do(request{method: "DELETE", path: "/api/v1/users/erin", token: e.admin}).errorBody(t, http.StatusNotFound, api.CodeNotFound)
	e.verifyAudit()
}

// TestOIDC checks tokens of the organisation's identity provider: mapped
// roles are accepted and act per their role; a wrong audience, an unknown
// signing key or no mapped role are refused.
func TestOIDC(t *testing.T) {
	e := newEnv(t)
	seed(e)
	reader := e.idp.Token(map[string]any{"aud": "edp", "sub": "u-1", "preferred_username": "olga", "groups": []string{"data-readers", "other"}})
	who := e.get(reader, "/api/v1/auth/whoami").json(t)
	if fmt.Sprint(who) != "map[method:oidc name:oidc:olga roles:[reader]]" {
		t.Errorf("whoami = %v", who)
	}
	// An identity from the provider named like a local account is not that
	// account: it cannot mint keys for it or change its password.
	impostor := e.idp.Token(map[string]any{"aud": "edp", "sub": "u-9", "preferred_username": "admin", "groups": []string{"data-readers"}})
	e.post(impostor, "/api/v1/apikeys", map[string]any{}).errorBody(t, http.StatusForbidden, api.CodePermissionDenied)
	e.do(request{method: "PUT", path: "/api/v1/users/admin/password", token: impostor, body: map[string]string{"password": "taken over now!!"}}).
		errorBody(t, http.StatusForbidden, api.CodePermissionDenied)
	e.post(impostor, "/api/v1/apikeys", map[string]any{"current_password": "anything at all"}).errorBody(t, http.StatusForbidden, api.CodePermissionDenied)
	if n := e.count("SELECT count(*) FROM sales.orders"); n != 3 {
		t.Fatalf("count = %d", n)
	}
	if m := e.sql(reader, "SELECT count(*) FROM sales.orders"); fmt.Sprint(m["rows"]) != "[[3]]" {
		t.Errorf("OIDC reader's query = %v", m["rows"])
	}
	e.post(reader, "/api/v1/sql", map[string]any{"sql": "DELETE FROM sales.orders"}).errorBody(t, http.StatusForbidden, api.CodePermissionDenied)
	admin := e.idp.Token(map[string]any{"aud": "edp", "sub": "u-2", "preferred_username": "ade", "groups": []string{"data-admins"}})
	if r := e.post(admin, "/api/v1/namespaces", map[string]any{"name": "oidc_made"}); r.status != http.StatusCreated {
		t.Errorf("OIDC admin create namespace = %d %s", r.status, r.body)
	}
	for name, tok := range map[string]string{
		"wrong audience": e.idp.Token(map[string]any{"aud": "not-edp", "sub": "u-1", "preferred_username": "olga", "groups": []string{"data-readers"}}),
		"unpublished":    e.idp.SignWithUnpublishedKey(map[string]any{"aud": "edp", "sub": "u-1", "preferred_username": "olga", "groups": []string{"data-admins"}}),
		"no role":        e.idp.Token(map[string]any{"aud": "edp", "sub": "u-3", "preferred_username": "nemo", "groups": []string{"other"}}),
	} {
		b := e.get(tok, "/api/v1/auth/whoami").errorBody(t, http.StatusUnauthorized, api.CodeUnauthenticated)
		if b.Message != "invalid token" {
			t.Errorf("%s: message %q", name, b.Message)
		}
	}
	en := e.auditSince(e.auditHead() - 1)
	if en[0].Action != "authenticate" || en[0].Details["method"] != "oidc" {
		t.Errorf("audit of an OIDC refusal = %+v", en[0])
	}
}

// TestAuditRoutes searches and verifies the audit log through the API.
func TestAuditRoutes(t *testing.T) {
	e := newEnv(t)
	seed(e)
	e.post(e.reader, "/api/v1/namespaces", map[string]any{"name": "nope"}) // denied
	r := e.get(e.admin, "/api/v1/audit?principal=reader&outcome=denied")
	entries := r.json(t)["entries"].([]any)
	if len(entries) != 1 || entries[0].(map[string]any)["action"] != "create_namespace" {
		t.Fatalf("denied entries of reader = %v", entries)
	}
	all := e.get(e.admin, "/api/v1/audit?limit=1000").json(t)["entries"].([]any)
	if len(all) < 8 {
		t.Fatalf("%d entries", len(all))
	}
	// Paging forward from a seq.
	third, _ := all[2].(map[string]any)["seq"].(json.Number).Int64()
	page := e.get(e.admin, fmt.Sprintf("/api/v1/audit?after=%d&limit=2", third)).json(t)["entries"].([]any)
	if len(page) != 2 || page[0].(map[string]any)["seq"] != json.Number(fmt.Sprint(third+1)) {
		t.Errorf("page after %d = %v", third, page)
	}
	if q := e.get(e.admin, "/api/v1/audit?action=query&limit=2").json(t)["entries"].([]any); len(q) != 2 {
		t.Errorf("last two queries = %v", q)
	}
	v := e.get(e.admin, "/api/v1/audit/verify").json(t)
	if v["ok"] != true || v["problem"] != nil || v["checkpoints"] == json.Number("0") {
		t.Errorf("verify = %v", v)
	}
	// Tampering shows.
	if _, err := e.lake.DB().Exec(`UPDATE edp_audit_log SET principal = 'mallory' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	v = e.get(e.admin, "/api/v1/audit/verify").json(t)
	if p, _ := v["problem"].(map[string]any); v["ok"] != false || p["kind"] != "modified" || p["seq"] != json.Number("2") {
		t.Errorf("verify after tampering = %v", v)
	}
}

// metricValue reads one counter of the server's registry.
func metricValue(t *testing.T, e *env, name, label, value string) float64 {
	t.Helper()
	mfs, err := e.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
