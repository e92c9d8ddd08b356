package restcatalog

import (
	"encoding/json"
	"net/http"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/view"

	"github.com/edp-data/edp/internal/audit"
	"github.com/edp-data/edp/internal/lake"
)

type createViewRequest struct {
	Name        string            `json:"name"`
	Location    string            `json:"location"`
	Schema      *iceberg.Schema   `json:"schema"`
	ViewVersion *view.Version     `json:"view-version"`
	Properties  map[string]string `json:"properties"`
}

// loadViewResult is the spec's LoadViewResult.
type loadViewResult struct {
	MetadataLocation string            `json:"metadata-location"`
	Metadata         json.RawMessage   `json:"metadata"`
	Config           map[string]string `json:"config,omitempty"`
}

func writeView(w http.ResponseWriter, st lake.ViewState) error {
	raw, err := json.Marshal(st.Metadata)
	if err != nil {
		return err
	}
	return writeJSON(w, loadViewResult{MetadataLocation: st.MetadataLocation, Metadata: raw})
}

func (s *Server) listViews(w http.ResponseWriter, r *http.Request) error {
	ns := namespace(r)
	audit.NotesFrom(r.Context()).SetResource(ns)
	if ok, err := s.lake.NamespaceExists(r.Context(), ns); err != nil {
		return err
	} else if !ok {
		return notFoundNamespace(ns)
	}
	ids, err := s.lake.ListViews(r.Context(), ns)
	if err != nil {
		return err
	}
	return writeIdentifiers(w, r, ids)
}

func (s *Server) createView(w http.ResponseWriter, r *http.Request) error {
	var req createViewRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	id := lake.Ident{Namespace: namespace(r), Name: req.Name}
	audit.NotesFrom(r.Context()).SetResource(id.String())
	if req.Name == "" || req.Schema == nil || req.ViewVersion == nil {
		return badRequest("a view needs a name, a schema and a view-version")
	}
	st, err := s.lake.CreateView(r.Context(), id, req.Schema, req.ViewVersion, req.Location, req.Properties)
	if err != nil {
		return err
	}
	return writeView(w, st)
}

func (s *Server) loadView(w http.ResponseWriter, r *http.Request) error {
	st, err := s.lake.LoadView(r.Context(), ident(r, "view"))
	if err != nil {
		return err
	}
	return writeView(w, st)
}

func (s *Server) viewExists(w http.ResponseWriter, r *http.Request) error {
	id := ident(r, "view")
	ok, err := s.lake.ViewExists(r.Context(), id)
	if err != nil {
		return err
	}
	if !ok {
		return lakeNoSuchView(id)
	}
	return noContent(w)
}

type commitViewRequest struct {
	Identifier   *identifier       `json:"identifier"`
	Requirements view.Requirements `json:"requirements"`
	Updates      view.Updates      `json:"updates"`
}

// replaceView commits a view's requirements and updates (the spec's
// replaceView): typically add-view-version and set-current-view-version.
func (s *Server) replaceView(w http.ResponseWriter, r *http.Request) error {
	id := ident(r, "view")
	var req commitViewRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	if req.Identifier != nil {
		if got, err := req.Identifier.ident(); err != nil || got != id {
			return badRequest("the body's identifier is not the view of the path, %s", id)
		}
	}
	actions := make([]string, 0, len(req.Updates))
	for _, u := range req.Updates {
		actions = append(actions, u.Action())
	}
	audit.NotesFrom(r.Context()).Detail("updates", actions)
	st, err := s.lake.CommitView(r.Context(), id, req.Requirements, req.Updates)
	if err != nil {
		return err
	}
	return writeView(w, st)
}

func (s *Server) dropView(w http.ResponseWriter, r *http.Request) error {
	if err := s.lake.DropView(r.Context(), ident(r, "view")); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) renameView(w http.ResponseWriter, r *http.Request) error {
	from, to, err := s.decodeRename(w, r)
	if err != nil {
		return err
	}
	if err := s.lake.RenameView(r.Context(), from, to); err != nil {
		return err
	}
	return noContent(w)
}
