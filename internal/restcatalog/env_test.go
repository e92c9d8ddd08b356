package restcatalog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go/catalog/rest"

	"github.com/edp-data/edp/internal/config"
	"github.com/edp-data/edp/internal/metadb/metadbtest"
	"github.com/edp-data/edp/internal/server"
)

const adminPW = "admin password for iceberg tests"

// env is a running edp serve on loopback: the real platform, API and
// catalog, on a fresh metadata database.
type env struct {
	t       testing.TB
	srv     *server.Server
	base    string // http://127.0.0.1:port
	uri     string // the catalog URI clients are given: base + /iceberg
	token   string // the admin's access token
	dataDir string
}

// forEachEngine runs fn against a server on SQLite and, when PostgreSQL is
// available (EDP_TEST_POSTGRES), on PostgreSQL.
func forEachEngine(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, eng := range metadbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			fn(t, startEnv(t, eng.URI(t)))
		})
	}
}

func startEnv(t testing.TB, catalogURI string) *env {
	t.Helper()
	return startEnvWith(t, catalogURI, nil)
}

// startEnvWith is startEnv with the configuration changed by edit first.
func startEnvWith(t testing.TB, catalogURI string, edit func(*config.Config)) *env {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Listen = "127.0.0.1:0"
	cfg.Catalog.URI = catalogURI
	if edit != nil {
		edit(cfg)
	}
	srv, err := server.New(context.Background(), server.Options{Config: cfg, AdminPassword: adminPW,
		Logger: slog.New(slog.DiscardHandler), Out: io.Discard})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(time.Minute):
			t.Error("server did not stop within a minute")
		}
	})
	e := &env{t: t, srv: srv, base: srv.URL(), uri: srv.URL() + "/iceberg", dataDir: dir}
	e.token = e.login("admin", adminPW)
	return e
}

// login gets an access token through the API's login.
func (e *env) login(user, pw string) string {
	e.t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": pw})
	resp, err := http.Post(e.base+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		e.t.Fatalf("login %s: status %d, %v", user, resp.StatusCode, err)
	}
	return tok.AccessToken
}

// client is iceberg-go's REST catalog client on the server, with token.
func (e *env) client(token string) *rest.Catalog {
	e.t.Helper()
	cat, err := rest.NewCatalog(context.Background(), "edp", e.uri, rest.WithOAuthToken(token))
	if err != nil {
		e.t.Fatalf("rest.NewCatalog: %v", err)
	}
	e.t.Cleanup(func() { cat.Close() })
	return cat
}

// do sends a raw request to the server and returns the status and body.
func (e *env) do(method, path, token, body string) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// sql runs edp SQL through the API as the admin and returns CSV.
func (e *env) sql(q string) string {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"sql": q})
	req, _ := http.NewRequest("POST", e.base+"/api/v1/sql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/csv")
	req.Header.Set("Authorization", "Bearer "+e.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		e.t.Fatalf("sql %q = %d %s", q, resp.StatusCode, b)
	}
	return string(b)
}

// user creates a user with one role through the API and returns its token.
func (e *env) user(name, role string) string {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "password": name + " password for tests", "roles": []string{role}})
	if code, b := e.do("POST", "/api/v1/users", e.token, string(body)); code != 201 && code != 200 {
		e.t.Fatalf("create user %s = %d %s", name, code, b)
	}
	return e.login(name, name+" password for tests")
}

// apiKey creates an API key for the admin and returns it and its id.
func (e *env) apiKey() (key, id string) {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"current_password": adminPW})
	code, b := e.do("POST", "/api/v1/apikeys", e.token, string(body))
	var res struct {
		Key string `json:"key"`
		ID  string `json:"id"`
	}
	if code != 201 || json.Unmarshal(b, &res) != nil {
		e.t.Fatalf("create API key = %d %s", code, b)
	}
	return res.Key, res.ID
}
