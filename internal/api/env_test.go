package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/api"
	"github.com/edp-data/edp/internal/audit"
	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/auth/oidctest"
	"github.com/edp-data/edp/internal/jobs"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/maintain"
	"github.com/edp-data/edp/internal/query"
	"github.com/edp-data/edp/internal/stream"
	"github.com/edp-data/edp/internal/telemetry"
)

const testPassword = "correct horse battery staple"

// env is a server over real components: a lake in a temporary directory,
// DuckDB, the user store and audit log in the lake's SQLite database, an
// Ed25519-signed audit log, a job manager, Prometheus metrics and an OIDC
// provider on loopback.
type env struct {
	t       testing.TB
	dir     string
	api     *api.API
	srv     *httptest.Server
	lake    *lake.Lake
	engine  *query.Engine
	users   *auth.Store
	tokens  *auth.Tokens
	audit   *audit.Log
	pub     ed25519.PublicKey
	jobs    *jobs.Manager
	metrics *telemetry.Metrics
	idp     *oidctest.Provider
	// Bearer credentials of the three role holders.
	admin, writer, reader string
}

type envOption func(*api.Options)

func withLimits(l api.Limits) envOption { return func(o *api.Options) { o.Limits = l } }

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	e := &env{t: t, dir: dir}
	var err error
	e.lake, err = lake.Open(ctx, lake.Options{CatalogURI: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: filepath.Join(dir, "warehouse")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.lake.Close() })
	e.engine, err = query.New(ctx, e.lake, query.Options{TempDir: filepath.Join(dir, "tmp"), Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.engine.Close() })
	if e.users, err = auth.OpenStore(ctx, e.lake.MetaDB()); err != nil {
		t.Fatal(err)
	}
	if e.tokens, err = auth.OpenTokens(filepath.Join(dir, "keys", "tokens.json"), auth.TokenOptions{}); err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e.pub = pub
	if e.audit, err = audit.Open(ctx, e.lake.MetaDB(), audit.Options{Signer: priv, CheckpointEvery: 10}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.audit.Close() })
	e.jobs = jobs.New(jobs.Options{})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		e.jobs.Shutdown(ctx)
	})
	e.metrics = telemetry.NewMetrics("test")
	e.idp = oidctest.New(t)
	oidc, err := auth.NewOIDC(ctx, auth.OIDCOptions{
		Issuer: e.idp.Issuer(), Audience: "edp", HTTPClient: e.idp.Client(),
		RoleMap: map[string]string{"data-readers": auth.RoleReader, "data-admins": auth.RoleAdmin},
	})
	if err != nil {
		t.Fatal(err)
	}
	o := api.Options{
		Lake: e.lake, Engine: e.engine, Users: e.users, Tokens: e.tokens, OIDC: oidc,
		Audit: e.audit, AuditKey: pub, Jobs: e.jobs, Metrics: e.metrics, Version: "test",
		TempDir: filepath.Join(dir, "uploads"),
		Maintainer: maintain.NewScheduler(e.lake, e.jobs, maintain.SchedulerOptions{
			Maintain: maintain.Options{TempDir: filepath.Join(dir, "tmp")}}),
	}
	// Pipelines are stored and managed, not run: no Kafka here.
	streams, err := stream.OpenStore(ctx, e.lake.MetaDB(), nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Streams = stream.NewManager(streams, stream.Deps{Lake: e.lake}, time.Second)
	ingester := stream.NewIngester(stream.Deps{Lake: e.lake, TempDir: filepath.Join(dir, "tmp")})
	t.Cleanup(ingester.Close)
	o.Ingester = ingester
	for _, f := range opts {
		f(&o)
	}
	if e.api, err = api.New(o); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.api.Handler())
	t.Cleanup(e.srv.Close)
	for _, u := range []struct {
		name string
		dst  *string
	}{{auth.RoleAdmin, &e.admin}, {auth.RoleWriter, &e.writer}, {auth.RoleReader, &e.reader}} {
		*u.dst = e.user(u.name, u.name)
	}
	return e
}

// user adds a user with role and returns a bearer token for them.
func (e *env) user(name, role string) string {
	e.t.Helper()
	if err := e.users.AddUser(context.Background(), name, testPassword, []string{role}); err != nil {
		e.t.Fatal(err)
	}
	return e.token(name, role)
}

func (e *env) token(name string, roles ...string) string {
	e.t.Helper()
	tok, _, err := e.tokens.Issue(auth.Principal{Name: name, Roles: roles})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// response is a finished HTTP exchange.
type response struct {
	status  int
	header  http.Header
	trailer http.Header
	body    []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// errorBody checks r is an error response with the stable body and code.
func (r response) errorBody(t testing.TB, status int, code string) api.ErrorBody {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type = %q, want application/json", ct)
	}
	var b api.ErrorBody
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	if b.Code != code || b.Message == "" {
		t.Fatalf("error body = %+v, want code %q and a message", b, code)
	}
	return b
}

type request struct {
	method, path string
	token        string // bearer credential; "" for none
	header       map[string]string
	body         any // nil, []byte, string or a value to encode as JSON
	contentType  string
}

func (e *env) do(r request) response {
	e.t.Helper()
	var body io.Reader
	ct := r.contentType
	switch b := r.body.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(b)
	case string:
		body = strings.NewReader(b)
		if ct == "" {
			ct = "application/json"
		}
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		body = bytes.NewReader(j)
		if ct == "" {
			ct = "application/json"
		}
	}
	req, err := http.NewRequest(r.method, e.srv.URL+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", r.method, r.path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, trailer: resp.Trailer, body: b}
}

func (e *env) get(token, path string) response {
	e.t.Helper()
	return e.do(request{method: "GET", path: path, token: token})
}

func (e *env) post(token, path string, body any) response {
	e.t.Helper()
	return e.do(request{method: "POST", path: path, token: token, body: body})
}

// sql runs one statement as token and fails the test unless it answers 200.
func (e *env) sql(token, text string) map[string]any {
	e.t.Helper()
	r := e.post(token, "/api/v1/sql", map[string]any{"sql": text})
	if r.status != http.StatusOK {
		e.t.Fatalf("SQL %q = %d %s", text, r.status, r.body)
	}
	return r.json(e.t)
}

// count returns the single integer a COUNT query answers.
func (e *env) count(text string) int64 {
	e.t.Helper()
	m := e.sql(e.admin, text)
	rows := m["rows"].([]any)
	n, err := rows[0].([]any)[0].(json.Number).Int64()
	if err != nil {
		e.t.Fatalf("%s: %v", text, err)
	}
	return n
}

// auditHead returns the seq of the newest audit entry.
func (e *env) auditHead() int64 {
	e.t.Helper()
	es, err := e.audit.Tail(context.Background(), 1)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(es) == 0 {
		return 0
	}
	return es[0].Seq
}

// auditSince returns the entries after seq.
func (e *env) auditSince(seq int64) []audit.Entry {
	e.t.Helper()
	es, err := e.audit.Search(context.Background(), audit.Filter{Limit: 100000})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []audit.Entry
	for _, x := range es {
		if x.Seq > seq {
			out = append(out, x)
		}
	}
	return out
}

// verifyAudit fails the test unless the audit log verifies clean.
func (e *env) verifyAudit() {
	e.t.Helper()
	rep, err := e.audit.Verify(context.Background(), e.pub)
	if err != nil {
		e.t.Fatal(err)
	}
	if !rep.OK() {
		e.t.Fatalf("audit log does not verify: %v", rep.Problem)
	}
}

// multipartFile is one part of a load form.
type multipartFile struct{ name, content string }

// loadForm builds a multipart body with files and fields (name=value
// pairs; a name may repeat).
func loadForm(t testing.TB, files []multipartFile, fields ...string) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for i := 0; i+1 < len(fields); i += 2 {
		if err := mw.WriteField(fields[i], fields[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		w, err := mw.CreateFormFile("file", f.name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, f.content)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), mw.FormDataContentType()
}

func (e *env) load(token, table string, async bool, files ...multipartFile) response {
	e.t.Helper()
	var fields []string
	if async {
		fields = []string{"async", "true"}
	}
	body, ct := loadForm(e.t, files, fields...)
	ns, name, _ := strings.Cut(table, ".")
	return e.do(request{method: "POST", path: fmt.Sprintf("/api/v1/namespaces/%s/tables/%s/load", ns, name), token: token, body: body, contentType: ct})
}
