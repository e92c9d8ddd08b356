package api

import (
	"net/http"

	"github.com/edp-data/edp/internal/audit"
)

// Mount is a protocol of its own served beside the API, route by route,
// behind the API's authentication, audit, metrics and tracing: the Iceberg
// REST catalog under /iceberg/. Its handlers find the Principal in the
// request context as API handlers do, and name what they acted on through
// audit.NotesFrom(ctx); each request appends one audit entry.
type Mount struct {
	Routes []MountRoute
	// Prefix (e.g. "/iceberg/") catches the requests no route matches, so
	// that NotFound answers them in the protocol's own error format.
	Prefix   string
	NotFound http.Handler
	// WriteError writes the protocol's error body for the refusals the API
	// makes itself: bad credentials (401), an audit log that cannot be
	// written (503), a panic (500).
	WriteError func(w http.ResponseWriter, status int, message string)
}

// MountRoute is one route of a Mount. Patterns are ServeMux patterns
// without the method; Operation names the route in the audit log.
type MountRoute struct {
	Method    string
	Pattern   string
	Operation string
	// Public routes need no credentials (an OAuth token endpoint); they
	// are audited all the same.
	Public  bool
	Handler http.Handler
}

// mount registers m's routes on the API's ServeMux. They stay out of the
// route table, which is the API's own and what openapi.yaml describes.
func (a *API) mount(m Mount) {
	for _, mr := range m.Routes {
		h := mr.Handler
		rt := &route{method: mr.Method, pattern: mr.Pattern, op: mr.Operation, public: mr.Public,
			audit: auditAlways, writeError: m.WriteError, mounted: true,
			handle: func(c *call) error {
				h.ServeHTTP(c.w, c.r)
				return nil
			}}
		a.mux.Handle(mr.Method+" "+mr.Pattern, a.endpoint(rt))
	}
	if m.Prefix != "" && m.NotFound != nil {
		nf := m.NotFound
		a.mux.Handle(m.Prefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Pattern = "" // counted as unmatched, like the API's own 404s
			nf.ServeHTTP(w, r)
		}))
	}
}

// mountNotes gives a mounted route's request the Notes its handler fills
// in for the audit entry.
func mountNotes(c *call) {
	ctx, n := audit.WithNotes(c.r.Context())
	c.notes = n
	c.r = c.r.WithContext(ctx)
}
