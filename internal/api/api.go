package api

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/edp-data/edp/internal/audit"
	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/jobs"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/policy"
	"github.com/edp-data/edp/internal/query"
	"github.com/edp-data/edp/internal/telemetry"
)

// Options are the API's dependencies and limits. Lake, Engine, Users,
// Tokens, Audit and Jobs are required.
type Options struct {
	Lake   *lake.Lake
	Engine *query.Engine
	// Authz is the authorizer the lake asks too; nil means policy.Roles{}.
	Authz  policy.Authorizer
	Users  *auth.Store
	Tokens *auth.Tokens
	// OIDC verifies tokens of the organisation's identity provider; nil
	// when none is configured.
	OIDC  *auth.OIDC
	Audit *audit.Log
	// AuditKey verifies the audit log's signed checkpoints in
	// GET /api/v1/audit/verify.
	AuditKey ed25519.PublicKey
	Jobs     *jobs.Manager
	// Maintainer runs table maintenance on demand; nil answers 503.
	Maintainer Maintainer
	// Streams manages stream pipelines; nil answers 503.
	Streams Streams
	// Ingester commits records posted to /api/v1/ingest; nil answers 503.
	Ingester Ingester
	Metrics  *telemetry.Metrics   // nil: no metrics
	Tracer   trace.TracerProvider // nil: no tracing
	Logger   *slog.Logger
	Version  string
	// TempDir is where uploads are spooled before a load reads them. It
	// should be inside the data directory; empty means <data dir>/tmp/uploads.
	TempDir string
	// Ready reports whether the server can serve (GET /readyz); nil: ready.
	Ready  func(context.Context) error
	Limits Limits
	// Mounts are protocols served beside the API under prefixes of their
	// own (the Iceberg REST catalog), behind the same authentication and
	// audit.
	Mounts []Mount
}

// Limits bound what one request may cost.
type Limits struct {
	// MaxBodyBytes caps a JSON request body; 0 means 1 MiB.
	MaxBodyBytes int64
	// MaxUploadBytes caps the files of one load request; 0 means 10 GiB.
	MaxUploadBytes int64
	// QueryTimeout caps a query's run time; 0 means 5 minutes. A request
	// may ask for less, never more.
	QueryTimeout time.Duration
	// MaxRows caps the rows a query returns; 0 means no cap.
	MaxRows int64
	// TargetFileSize and LoadMemoryLimit are passed to loads.
	TargetFileSize  int64
	LoadMemoryLimit string
}

// Default limits.
const (
	DefaultMaxBodyBytes   = 1 << 20
	DefaultMaxUploadBytes = 10 << 30
	DefaultQueryTimeout   = 5 * time.Minute
)

// API serves edp's HTTP API.
type API struct {
	opts     Options
	log      *slog.Logger
	authz    policy.Authorizer
	routes   []*route
	mux      *http.ServeMux
	handler  http.Handler
	openapi  []byte
	draining atomic.Bool
	queries  *queryRegistry
	// passwords bounds concurrent password checks: each argon2id
	// verification takes tens of MiB and milliseconds of CPU, and the
	// login route needs no credentials to reach.
	passwords chan struct{}
}

// New checks opts and builds the API.
func New(opts Options) (*API, error) {
	switch {
	case opts.Lake == nil:
		return nil, errors.New("api: Options.Lake is required")
	case opts.Engine == nil:
		return nil, errors.New("api: Options.Engine is required")
	case opts.Users == nil:
		return nil, errors.New("api: Options.Users is required")
	case opts.Tokens == nil:
		return nil, errors.New("api: Options.Tokens is required")
	case opts.Audit == nil:
		return nil, errors.New("api: Options.Audit is required")
	case opts.Jobs == nil:
		return nil, errors.New("api: Options.Jobs is required")
	}
	if opts.Authz == nil {
		opts.Authz = policy.Roles{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Tracer == nil {
		opts.Tracer = noop.NewTracerProvider()
	}
	if opts.TempDir == "" {
		opts.TempDir = filepath.Join(opts.Lake.ScratchDir(), "uploads")
	}
	if err := os.MkdirAll(opts.TempDir, 0o700); err != nil {
		return nil, fmt.Errorf("api: upload directory: %w", err)
	}
	l := &opts.Limits
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if l.MaxUploadBytes <= 0 {
		l.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if l.QueryTimeout <= 0 {
		l.QueryTimeout = DefaultQueryTimeout
	}
	a := &API{opts: opts, log: opts.Logger, authz: opts.Authz, queries: newQueryRegistry(),
		passwords: make(chan struct{}, runtime.GOMAXPROCS(0))}
	doc, err := openAPIJSON()
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	a.openapi = doc
	a.routes = a.routeTable()
	a.mux = http.NewServeMux()
	for _, rt := range a.routes {
		a.mux.Handle(rt.method+" "+rt.pattern, a.endpoint(rt))
	}
	for _, m := range opts.Mounts {
		a.mount(m)
	}
	// The catch-all turns ServeMux's plain-text 404 and 405 into error
	// bodies; ServeMux prefers every more specific pattern over it.
	a.mux.HandleFunc("/", a.unmatched)

	// Outermost first: request id → tracing → metrics → recover → access
	// log → ServeMux → (per route) authentication → audit → handler.
	var h http.Handler = a.mux
	h = a.accessLog(h)
	h = a.recoverPanics(h)
	h = opts.Metrics.InstrumentHTTP(h)
	h = telemetry.TraceHTTP(opts.Tracer, h)
	h = requestID(h)
	a.handler = h
	return a, nil
}

// Handler is the whole server: /healthz, /readyz, /metrics and /api/v1/….
func (a *API) Handler() http.Handler { return a.handler }

// SetDraining makes /readyz answer 503 from now on, so load balancers stop
// sending new requests while the server shuts down gracefully.
func (a *API) SetDraining() { a.draining.Store(true) }

// Route describes one route of the table, for documentation and tests.
type Route struct {
	Method  string
	Pattern string // ServeMux pattern path, e.g. /api/v1/namespaces/{ns}
	// Operation is the OpenAPI operationId and the audit action.
	Operation string
	// Auth reports whether the route needs credentials.
	Auth bool
	// Audited reports whether a successful call appends an audit entry
	// (failed calls of authenticated routes always do).
	Audited bool
}

// Routes lists the route table.
func (a *API) Routes() []Route {
	out := make([]Route, len(a.routes))
	for i, rt := range a.routes {
		out[i] = Route{Method: rt.method, Pattern: rt.pattern, Operation: rt.op, Auth: !rt.public, Audited: rt.audit == auditAlways}
	}
	return out
}

// auditMode says which calls of a route append an audit entry.
type auditMode int

const (
	auditAlways   auditMode = iota
	auditFailures           // successful calls are telemetry (metrics scrapes)
	auditNever              // probes: no principal, nothing to record
)

// route is one line of the route table.
type route struct {
	method  string
	pattern string
	op      string
	public  bool // no credentials needed
	audit   auditMode
	handle  func(*call) error
	// mounted routes belong to a Mount: their handler notes the audit
	// resource, and errors the API raises are written by writeError in
	// the mount's protocol format.
	mounted    bool
	writeError func(w http.ResponseWriter, status int, message string)
}

// routeTable is THE route table: New registers it on the ServeMux, the
// OpenAPI test compares it with openapi.yaml, and the audit test calls
// every route in it.
func (a *API) routeTable() []*route {
	r := func(method, pattern, op string, h func(*call) error) *route {
		return &route{method: method, pattern: pattern, op: op, handle: h}
	}
	const ns = "/api/v1/namespaces/{ns}"
	const tbl = ns + "/tables/{table}"
	return []*route{
		{method: "GET", pattern: "/healthz", op: "health", public: true, audit: auditNever, handle: a.health},
		{method: "GET", pattern: "/readyz", op: "ready", public: true, audit: auditNever, handle: a.ready},
		{method: "GET", pattern: "/metrics", op: "metrics", audit: auditFailures, handle: a.metrics},
		r("GET", "/api/v1/openapi.json", "openapi", a.openAPI),

		{method: "POST", pattern: "/api/v1/auth/login", op: "login", public: true, audit: auditAlways, handle: a.login},
		r("GET", "/api/v1/auth/whoami", "whoami", a.whoami),

		r("GET", "/api/v1/namespaces", "list_namespaces", a.listNamespaces),
		r("POST", "/api/v1/namespaces", "create_namespace", a.createNamespace),
		r("GET", ns, "get_namespace", a.getNamespace),
		r("DELETE", ns, "drop_namespace", a.dropNamespace),

		r("GET", ns+"/tables", "list_tables", a.listTables),
		r("POST", ns+"/tables", "create_table", a.createTable),
		r("GET", tbl, "describe_table", a.describeTable),
		r("DELETE", tbl, "drop_table", a.dropTable),
		r("POST", tbl+"/rename", "rename_table", a.renameTable),
		r("POST", tbl+"/schema", "evolve_schema", a.evolveSchema),
		r("POST", tbl+"/properties", "set_table_properties", a.setProperties),
		r("GET", tbl+"/snapshots", "list_snapshots", a.listSnapshots),
		r("POST", tbl+"/rollback", "rollback_table", a.rollback),
		r("GET", tbl+"/rows", "read_rows", a.readRows),
		r("POST", tbl+"/load", "load", a.load),
		r("POST", tbl+"/maintain", "maintain_table", a.maintainTable),

		r("POST", "/api/v1/sql", "query", a.sql),
		r("GET", "/api/v1/queries", "list_queries", a.listQueries),
		r("POST", "/api/v1/queries/{id}/cancel", "cancel_query", a.cancelQuery),

		r("GET", "/api/v1/jobs", "list_jobs", a.listJobs),
		r("GET", "/api/v1/jobs/{id}", "get_job", a.getJob),
		r("POST", "/api/v1/jobs/{id}/cancel", "cancel_job", a.cancelJob),

		r("GET", "/api/v1/users", "list_users", a.listUsers),
		r("POST", "/api/v1/users", "create_user", a.createUser),
		r("DELETE", "/api/v1/users/{name}", "delete_user", a.deleteUser),
		r("PUT", "/api/v1/users/{name}/password", "set_password", a.setPassword),
		r("GET", "/api/v1/apikeys", "list_api_keys", a.listAPIKeys),
		r("POST", "/api/v1/apikeys", "create_api_key", a.createAPIKey),
		r("DELETE", "/api/v1/apikeys/{id}", "revoke_api_key", a.revokeAPIKey),

		r("POST", "/api/v1/ingest/{ns}/{table}", "ingest", a.ingest),
		r("GET", "/api/v1/streams", "list_streams", a.listStreams),
		r("POST", "/api/v1/streams", "create_stream", a.createStream),
		r("GET", "/api/v1/streams/{name}", "get_stream", a.getStream),
		r("POST", "/api/v1/streams/{name}/pause", "pause_stream", a.pauseStream),
		r("POST", "/api/v1/streams/{name}/resume", "resume_stream", a.resumeStream),
		r("DELETE", "/api/v1/streams/{name}", "delete_stream", a.deleteStream),

		r("GET", "/api/v1/audit", "search_audit", a.searchAudit),
		r("GET", "/api/v1/audit/verify", "verify_audit", a.verifyAudit),
	}
}

// unmatched answers requests no route matches: 405 with Allow when the
// path exists under other methods, else 404. Neither needs credentials
// (they do nothing), and neither is audited.
func (a *API) unmatched(w http.ResponseWriter, r *http.Request) {
	// Report the request as unmatched to the metrics and tracing around
	// the mux rather than as the catch-all pattern.
	r.Pattern = ""
	var allow []string
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pat := a.mux.Handler(probe); pat != "" && pat != "/" {
			allow = append(allow, m)
		}
	}
	var err error
	if len(allow) > 0 {
		ae := newError(errMethod, "method %s is not allowed on %s", r.Method, r.URL.Path)
		ae.header = http.Header{"Allow": {strings.Join(allow, ", ")}}
		ae.details = map[string]any{"allow": allow}
		err = ae
	} else {
		err = newError(errNotFound, "no route for %s %s", r.Method, r.URL.Path)
	}
	writeErrorBody(w, classify(err, telemetry.RequestID(r.Context())))
}
