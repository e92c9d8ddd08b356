package restcatalog

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edp-data/edp/internal/audit"
	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/lake"
)

// DefaultPath is where `edp serve` mounts the catalog: clients are
// configured with the URI <server>/iceberg.
const DefaultPath = "/iceberg"

// DefaultWarehouse names edp's one warehouse: the prefix of every catalog
// path (/iceberg/v1/edp/namespaces…), and what clients may pass as their
// warehouse.
const DefaultWarehouse = "edp"

// Accounts checks the credentials of an OAuth client-credentials grant:
// a user's password, or an API key. auth.Store implements it.
type Accounts interface {
	Authenticate(ctx context.Context, name, password string) (auth.Principal, error)
	AuthenticateAPIKey(ctx context.Context, key string) (auth.Principal, error)
}

// TokenIssuer issues edp access tokens. auth.Tokens implements it.
type TokenIssuer interface {
	Issue(p auth.Principal) (token string, expires time.Time, err error)
}

// Options configure New. Lake is required; Accounts and Tokens enable
// /v1/oauth/tokens.
type Options struct {
	Lake     *lake.Lake
	Accounts Accounts
	Tokens   TokenIssuer
	// Path is the mount path, DefaultPath when empty.
	Path string
	// Warehouse is the warehouse name, DefaultWarehouse when empty.
	Warehouse string
	// Credentials vends storage credentials for a table location in
	// load-table responses; nil vends none (local warehouses need none).
	Credentials CredentialVendor
	// MaxBodyBytes caps a request body; 0 means 8 MiB (commits of tables
	// with long histories carry large schemas and snapshot lists).
	MaxBodyBytes int64
	Logger       *slog.Logger
}

// Server serves the Iceberg REST catalog protocol.
type Server struct {
	opts  Options
	lake  *lake.Lake
	log   *slog.Logger
	base  string // Path + "/v1"
	plans *planStore
	// passwords bounds concurrent password checks of token requests, as
	// the API's login does: the route needs no credentials to reach.
	passwords chan struct{}
}

// New builds the server.
func New(opts Options) (*Server, error) {
	if opts.Lake == nil {
		return nil, errors.New("restcatalog: Options.Lake is required")
	}
	if opts.Path == "" {
		opts.Path = DefaultPath
	}
	opts.Path = "/" + strings.Trim(opts.Path, "/")
	if opts.Warehouse == "" {
		opts.Warehouse = DefaultWarehouse
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 8 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{opts: opts, lake: opts.Lake, log: opts.Logger, base: opts.Path + "/v1",
		plans: newPlanStore(), passwords: make(chan struct{}, 2)}, nil
}

// Route is one route of the catalog: a ServeMux pattern (without the
// method), the operation id of the spec that names it in the audit log,
// and whether it needs credentials.
type Route struct {
	Method    string
	Pattern   string
	Operation string
	Public    bool
	Handler   http.Handler
}

// handler is a route's function: it answers through w or returns an error
// for the one error mapping.
type handler func(w http.ResponseWriter, r *http.Request) error

// Routes is the route table, in the spec's order.
func (s *Server) Routes() []Route {
	p := s.base + "/{prefix}"
	ns := p + "/namespaces/{namespace}"
	tbl := ns + "/tables/{table}"
	vw := ns + "/views/{view}"
	rt := func(method, pattern, op string, h handler) Route {
		return Route{Method: method, Pattern: pattern, Operation: op, Handler: s.wrap(op, h)}
	}
	tokens := rt("POST", s.base+"/oauth/tokens", "getToken", s.token)
	tokens.Public = true
	return []Route{
		rt("GET", s.base+"/config", "getConfig", s.config),
		tokens,
		rt("GET", p+"/namespaces", "listNamespaces", s.listNamespaces),
		rt("POST", p+"/namespaces", "createNamespace", s.createNamespace),
		rt("GET", ns, "loadNamespaceMetadata", s.loadNamespace),
		rt("HEAD", ns, "namespaceExists", s.namespaceExists),
		rt("DELETE", ns, "dropNamespace", s.dropNamespace),
		rt("POST", ns+"/properties", "updateProperties", s.updateNamespace),
		rt("GET", ns+"/tables", "listTables", s.listTables),
		rt("POST", ns+"/tables", "createTable", s.createTable),
		rt("POST", ns+"/register", "registerTable", s.registerTable),
		rt("GET", tbl, "loadTable", s.loadTable),
		rt("HEAD", tbl, "tableExists", s.tableExists),
		rt("POST", tbl, "updateTable", s.commitTable),
		rt("DELETE", tbl, "dropTable", s.dropTable),
		rt("GET", tbl+"/credentials", "loadCredentials", s.loadCredentials),
		rt("POST", tbl+"/metrics", "reportMetrics", s.reportMetrics),
		rt("POST", tbl+"/plan", "planTableScan", s.planTableScan),
		rt("GET", tbl+"/plan/{plan}", "fetchPlanningResult", s.fetchPlan),
		rt("DELETE", tbl+"/plan/{plan}", "cancelPlanning", s.cancelPlan),
		rt("POST", tbl+"/tasks", "fetchScanTasks", s.fetchScanTasks),
		rt("POST", p+"/tables/rename", "renameTable", s.renameTable),
		rt("POST", p+"/transactions/commit", "commitTransaction", s.commitTransaction),
		rt("GET", ns+"/views", "listViews", s.listViews),
		rt("POST", ns+"/views", "createView", s.createView),
		rt("GET", vw, "loadView", s.loadView),
		rt("HEAD", vw, "viewExists", s.viewExists),
		rt("POST", vw, "replaceView", s.replaceView),
		rt("DELETE", vw, "dropView", s.dropView),
		rt("POST", p+"/views/rename", "renameView", s.renameView),
	}
}

// endpoints lists the routes for GET /v1/config, in the spec's
// "<METHOD> <path>" form.
func (s *Server) endpoints() []string {
	var out []string
	for _, r := range s.Routes() {
		if !strings.HasPrefix(r.Pattern, s.base+"/{prefix}") {
			continue
		}
		path := "/v1" + strings.TrimPrefix(r.Pattern, s.base)
		path = strings.ReplaceAll(path, "{plan}", "{plan-id}")
		out = append(out, r.Method+" "+path)
	}
	return out
}

// NotFound answers paths under the mount that no route serves.
func (s *Server) NotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, fmt.Errorf("%w: no route for %s %s", errNotFound, r.Method, r.URL.Path))
	})
}

// Handler serves the routes on a ServeMux of its own, without the API's
// authentication: for tests of the protocol alone and for embedding.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range s.Routes() {
		mux.Handle(r.Method+" "+r.Pattern, r.Handler)
	}
	mux.Handle(s.opts.Path+"/", s.NotFound())
	return mux
}

// wrap turns a handler into an http.Handler: the prefix is checked, the
// error path is the one mapping.
func (s *Server) wrap(op string, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.PathValue("prefix"); p != "" && p != s.opts.Warehouse {
			s.fail(w, r, fmt.Errorf("%w: %q (this server has warehouse %q)", errNoSuchWarehse, p, s.opts.Warehouse))
			return
		}
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	m, known := classify(err)
	if !known {
		s.log.ErrorContext(r.Context(), "iceberg rest: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	audit.NotesFrom(r.Context()).Detail("error", map[string]any{"type": m.Type, "message": m.Message})
	if r.Method == http.MethodHead {
		w.WriteHeader(m.Code)
		return
	}
	writeModel(w, m)
}

// writeJSON answers 200 with v.
func writeJSON(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(append(b, '\n'))
	return nil
}

func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// decode reads a JSON request body into dst. Unknown fields are allowed:
// the spec grows, and clients send fields newer than this server.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, dst any) error {
	body := http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	dec := json.NewDecoder(body)
	if err := dec.Decode(dst); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return badRequest("request body is larger than %d bytes", mb.Limit)
		}
		if errors.Is(err, io.EOF) {
			return badRequest("request body is empty; want a JSON object")
		}
		return badRequest("malformed request body: %v", err)
	}
	if dec.More() {
		return badRequest("malformed request body: data after the JSON object")
	}
	return nil
}

// namespace reads the {namespace} path parameter. Levels of a multi-level
// namespace are separated by 0x1F; edp's namespaces have one level, so such
// a name is simply one that does not exist.
func namespace(r *http.Request) string {
	return strings.ReplaceAll(r.PathValue("namespace"), "\x1f", ".")
}

// ident reads the namespace and the named path parameter ("table" or
// "view") and notes it as the request's resource.
func ident(r *http.Request, param string) lake.Ident {
	id := lake.Ident{Namespace: namespace(r), Name: r.PathValue(param)}
	audit.NotesFrom(r.Context()).SetResource(id.String())
	return id
}

// identifier is the spec's TableIdentifier.
type identifier struct {
	Namespace []string `json:"namespace"`
	Name      string   `json:"name"`
}

func (i identifier) ident() (lake.Ident, error) {
	if len(i.Namespace) != 1 || i.Namespace[0] == "" || i.Name == "" {
		return lake.Ident{}, badRequest("identifier %v.%s: edp namespaces have exactly one level and names are non-empty", i.Namespace, i.Name)
	}
	return lake.Ident{Namespace: i.Namespace[0], Name: i.Name}, nil
}

func toIdentifier(id lake.Ident) identifier {
	return identifier{Namespace: []string{id.Namespace}, Name: id.Name}
}

// page applies the spec's pagination (pageToken, pageSize) to a sorted
// list of names: the token is the last name of the previous page, so a
// page stays correct while names are added or removed meanwhile.
func page[T any](r *http.Request, items []T, key func(T) string) ([]T, *string, error) {
	q := r.URL.Query()
	if tok := q.Get("pageToken"); tok != "" {
		after, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			return nil, nil, badRequest("pageToken %q is not one this server issued", tok)
		}
		i, _ := slices.BinarySearchFunc(items, string(after), func(it T, k string) int { return strings.Compare(key(it), k) })
		for i < len(items) && key(items[i]) <= string(after) {
			i++
		}
		items = items[i:]
	}
	sz := q.Get("pageSize")
	if sz == "" {
		return items, nil, nil
	}
	n, err := strconv.Atoi(sz)
	if err != nil || n < 1 {
		return nil, nil, badRequest("pageSize %q: want a positive integer", sz)
	}
	if len(items) <= n {
		return items, nil, nil
	}
	next := base64.RawURLEncoding.EncodeToString([]byte(key(items[n-1])))
	return items[:n], &next, nil
}

// planStore keeps the results of scan plans until they are fetched,
// cancelled or expire.
type planStore struct {
	mu    sync.Mutex
	plans map[string]*plan
	// Plans hold every task in memory until fetched or expired, so what
	// they hold is bounded per principal and in total; beyond that a new
	// plan is refused rather than another principal's evicted.
	maxPlans, maxPerPrincipal, maxTasks int
	tasks                               int // file scan tasks held now
}

func newPlanStore() *planStore {
	return &planStore{plans: map[string]*plan{}, maxPlans: maxPlans, maxPerPrincipal: maxPlansPerPrincipal, maxTasks: maxPlanTasks}
}
