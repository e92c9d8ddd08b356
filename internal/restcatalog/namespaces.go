package restcatalog

import (
	"net/http"
	"strings"

	"github.com/edp-data/edp/internal/audit"
)

type configResponse struct {
	Defaults  map[string]string `json:"defaults"`
	Overrides map[string]string `json:"overrides"`
	Endpoints []string          `json:"endpoints"`
}

// config answers GET /v1/config: the prefix of the one warehouse, and the
// endpoints this server implements (clients then skip what is missing).
func (s *Server) config(w http.ResponseWriter, r *http.Request) error {
	if wh := r.URL.Query().Get("warehouse"); wh != "" && wh != s.opts.Warehouse {
		return errNoSuchWarehse
	}
	audit.NotesFrom(r.Context()).SetResource("warehouse:" + s.opts.Warehouse)
	return writeJSON(w, configResponse{
		Defaults: map[string]string{},
		Overrides: map[string]string{
			"prefix": s.opts.Warehouse,
			// iceberg-go and PyIceberg use views only when told the
			// server has them.
			"view-endpoints-supported": "true",
		},
		Endpoints: s.endpoints(),
	})
}

type listNamespacesResponse struct {
	Namespaces    [][]string `json:"namespaces"`
	NextPageToken *string    `json:"next-page-token,omitempty"`
}

func (s *Server) listNamespaces(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if parent := r.URL.Query().Get("parent"); parent != "" {
		// edp namespaces have one level: a parent that exists has no
		// children.
		parent = strings.ReplaceAll(parent, "\x1f", ".")
		ok, err := s.lake.NamespaceExists(ctx, parent)
		if err != nil {
			return err
		}
		if !ok {
			return notFoundNamespace(parent)
		}
		return writeJSON(w, listNamespacesResponse{Namespaces: [][]string{}})
	}
	names, err := s.lake.ListNamespaces(ctx)
	if err != nil {
		return err
	}
	names, next, err := page(r, names, func(n string) string { return n })
	if err != nil {
		return err
	}
	out := listNamespacesResponse{Namespaces: make([][]string, 0, len(names)), NextPageToken: next}
	for _, n := range names {
		out.Namespaces = append(out.Namespaces, []string{n})
	}
	return writeJSON(w, out)
}

type createNamespaceRequest struct {
	Namespace  []string          `json:"namespace"`
	Properties map[string]string `json:"properties"`
}

type namespaceResponse struct {
	Namespace  []string          `json:"namespace"`
	Properties map[string]string `json:"properties"`
}

func (s *Server) createNamespace(w http.ResponseWriter, r *http.Request) error {
	var req createNamespaceRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	if len(req.Namespace) != 1 {
		return badRequest("namespace %v: edp namespaces have exactly one level", req.Namespace)
	}
	ns := req.Namespace[0]
	audit.NotesFrom(r.Context()).SetResource(ns)
	if err := s.lake.CreateNamespace(r.Context(), ns, req.Properties, false); err != nil {
		return err
	}
	props := req.Properties
	if props == nil {
		props = map[string]string{}
	}
	return writeJSON(w, namespaceResponse{Namespace: req.Namespace, Properties: props})
}

func (s *Server) loadNamespace(w http.ResponseWriter, r *http.Request) error {
	ns := namespace(r)
	audit.NotesFrom(r.Context()).SetResource(ns)
	props, err := s.lake.NamespaceProperties(r.Context(), ns)
	if err != nil {
		return err
	}
	if props == nil {
		props = map[string]string{}
	}
	return writeJSON(w, namespaceResponse{Namespace: []string{ns}, Properties: props})
}

func (s *Server) namespaceExists(w http.ResponseWriter, r *http.Request) error {
	ns := namespace(r)
	audit.NotesFrom(r.Context()).SetResource(ns)
	ok, err := s.lake.NamespaceExists(r.Context(), ns)
	if err != nil {
		return err
	}
	if !ok {
		return notFoundNamespace(ns)
	}
	return noContent(w)
}

func (s *Server) dropNamespace(w http.ResponseWriter, r *http.Request) error {
	ns := namespace(r)
	audit.NotesFrom(r.Context()).SetResource(ns)
	// Iceberg's drop refuses a namespace that still holds tables or
	// views (NamespaceNotEmptyException); no cascade.
	views, err := s.lake.ListViews(r.Context(), ns)
	if err != nil {
		return err
	}
	if len(views) > 0 {
		return notEmpty(ns)
	}
	if err := s.lake.DropNamespace(r.Context(), ns, false, false); err != nil {
		return err
	}
	return noContent(w)
}

type updateNamespaceRequest struct {
	Removals []string          `json:"removals"`
	Updates  map[string]string `json:"updates"`
}

type updateNamespaceResponse struct {
	Updated []string `json:"updated"`
	Removed []string `json:"removed"`
	Missing []string `json:"missing,omitempty"`
}

func (s *Server) updateNamespace(w http.ResponseWriter, r *http.Request) error {
	ns := namespace(r)
	audit.NotesFrom(r.Context()).SetResource(ns)
	var req updateNamespaceRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	sum, err := s.lake.UpdateNamespaceProperties(r.Context(), ns, req.Removals, req.Updates)
	if err != nil {
		return err
	}
	out := updateNamespaceResponse{Updated: sum.Updated, Removed: sum.Removed, Missing: sum.Missing}
	if out.Updated == nil {
		out.Updated = []string{}
	}
	if out.Removed == nil {
		out.Removed = []string{}
	}
	return writeJSON(w, out)
}
