package restcatalog

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/edp-data/edp/internal/audit"
	"github.com/edp-data/edp/internal/lake"
)

type listTablesResponse struct {
	Identifiers   []identifier `json:"identifiers"`
	NextPageToken *string      `json:"next-page-token,omitempty"`
}

func (s *Server) listTables(w http.ResponseWriter, r *http.Request) error {
	ns := namespace(r)
	audit.NotesFrom(r.Context()).SetResource(ns)
	ids, err := s.lake.ListTables(r.Context(), ns)
	if err != nil {
		return err
	}
	return writeIdentifiers(w, r, ids)
}

func writeIdentifiers(w http.ResponseWriter, r *http.Request, ids []lake.Ident) error {
	ids, next, err := page(r, ids, func(id lake.Ident) string { return id.Name })
	if err != nil {
		return err
	}
	out := listTablesResponse{Identifiers: make([]identifier, 0, len(ids)), NextPageToken: next}
	for _, id := range ids {
		out.Identifiers = append(out.Identifiers, toIdentifier(id))
	}
	return writeJSON(w, out)
}

// createTableRequest is the spec's CreateTableRequest. The partition spec
// and write order arrive unbound: their source ids refer to the request's
// schema, whose ids the server reassigns (iceberg-go binds them in
// table.NewMetadata).
type createTableRequest struct {
	Name          string                        `json:"name"`
	Location      string                        `json:"location"`
	Schema        *iceberg.Schema               `json:"schema"`
	PartitionSpec *iceberg.UnboundPartitionSpec `json:"partition-spec"`
	WriteOrder    *table.UnboundSortOrder       `json:"write-order"`
	StageCreate   bool                          `json:"stage-create"`
	Properties    map[string]string             `json:"properties"`
}

// loadTableResult is the spec's LoadTableResult.
type loadTableResult struct {
	MetadataLocation   string              `json:"metadata-location,omitempty"`
	Metadata           json.RawMessage     `json:"metadata"`
	Config             map[string]string   `json:"config,omitempty"`
	StorageCredentials []StorageCredential `json:"storage-credentials,omitempty"`
}

func (s *Server) createTable(w http.ResponseWriter, r *http.Request) error {
	var req createTableRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	id := lake.Ident{Namespace: namespace(r), Name: req.Name}
	audit.NotesFrom(r.Context()).SetResource(id.String())
	if req.Name == "" || req.Schema == nil {
		return badRequest("a table needs a name and a schema")
	}
	var spec *iceberg.PartitionSpec
	if req.PartitionSpec != nil {
		spec = &req.PartitionSpec.PartitionSpec
	}
	order := table.UnsortedSortOrder
	if req.WriteOrder != nil {
		order = req.WriteOrder.SortOrder
	}
	ctx := r.Context()
	meta, err := s.lake.StageTable(ctx, id, req.Schema, spec, order, req.Location, req.Properties)
	if err != nil {
		return err
	}
	if req.StageCreate {
		// Iceberg REST spec, createTable: a staged create returns the
		// metadata without committing it; the client commits it later
		// with an assert-create requirement.
		audit.NotesFrom(ctx).Detail("stage_create", true)
		return s.writeTable(w, r, lake.TableState{Metadata: meta}, false)
	}
	st, err := s.lake.CreateTableMetadata(ctx, id, meta)
	if err != nil {
		return err
	}
	return s.writeTable(w, r, st, false)
}

type registerTableRequest struct {
	Name             string `json:"name"`
	MetadataLocation string `json:"metadata-location"`
	Overwrite        bool   `json:"overwrite"`
}

func (s *Server) registerTable(w http.ResponseWriter, r *http.Request) error {
	var req registerTableRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	id := lake.Ident{Namespace: namespace(r), Name: req.Name}
	audit.NotesFrom(r.Context()).SetResource(id.String())
	if req.Name == "" || req.MetadataLocation == "" {
		return badRequest("registering a table needs a name and a metadata-location")
	}
	if req.Overwrite {
		return fmt.Errorf("%w: overwrite: drop the table first, then register", errUnsupported)
	}
	tbl, err := s.lake.Register(r.Context(), id, req.MetadataLocation)
	if err != nil {
		return err
	}
	return s.writeTable(w, r, lake.TableState{Metadata: tbl.Metadata(), MetadataLocation: tbl.MetadataLocation()}, false)
}

func (s *Server) loadTable(w http.ResponseWriter, r *http.Request) error {
	id := ident(r, "table")
	refsOnly := false
	switch mode := r.URL.Query().Get("snapshots"); mode {
	case "", "all":
	case "refs":
		refsOnly = true
	default:
		return badRequest("snapshots=%q: want all or refs", mode)
	}
	tbl, err := s.lake.LoadTable(r.Context(), id)
	if err != nil {
		return err
	}
	return s.writeTable(w, r, lake.TableState{Metadata: tbl.Metadata(), MetadataLocation: tbl.MetadataLocation()}, refsOnly)
}

// writeTable answers a LoadTableResult, with storage credentials for the
// table's location when the warehouse needs them.
func (s *Server) writeTable(w http.ResponseWriter, r *http.Request, st lake.TableState, refsOnly bool) error {
	raw, err := metadataJSON(st.Metadata, refsOnly)
	if err != nil {
		return err
	}
	out := loadTableResult{MetadataLocation: st.MetadataLocation, Metadata: raw}
	if s.opts.Credentials != nil {
		out.Config, out.StorageCredentials = s.opts.Credentials(r.Context(), st.Metadata.Location())
	}
	return writeJSON(w, out)
}

// metadataJSON encodes table metadata; with refsOnly only the snapshots a
// branch or tag names are kept (loadTable's snapshots=refs).
func metadataJSON(meta table.Metadata, refsOnly bool) (json.RawMessage, error) {
	raw, err := json.Marshal(meta)
	if err != nil || !refsOnly {
		return raw, err
	}
	keep := map[int64]bool{}
	for _, ref := range meta.Refs() {
		keep[ref.SnapshotID] = true
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	var snaps []json.RawMessage
	if err := json.Unmarshal(doc["snapshots"], &snaps); err != nil || len(snaps) == 0 {
		return raw, nil
	}
	kept := make([]json.RawMessage, 0, len(snaps))
	for _, sn := range snaps {
		var head struct {
			ID int64 `json:"snapshot-id"`
		}
		if json.Unmarshal(sn, &head) == nil && keep[head.ID] {
			kept = append(kept, sn)
		}
	}
	if doc["snapshots"], err = json.Marshal(kept); err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}

func (s *Server) tableExists(w http.ResponseWriter, r *http.Request) error {
	id := ident(r, "table")
	ok, err := s.lake.TableExists(r.Context(), id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s", lake.ErrNoSuchTable, id)
	}
	return noContent(w)
}

// commitTableRequest is the spec's CommitTableRequest; the identifier is
// optional on the per-table route and required in transactions.
type commitTableRequest struct {
	Identifier   *identifier        `json:"identifier"`
	Requirements table.Requirements `json:"requirements"`
	Updates      table.Updates      `json:"updates"`
}

type commitTableResponse struct {
	MetadataLocation string          `json:"metadata-location"`
	Metadata         json.RawMessage `json:"metadata"`
}

func (s *Server) commitTable(w http.ResponseWriter, r *http.Request) error {
	id := ident(r, "table")
	var req commitTableRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	if req.Identifier != nil {
		if got, err := req.Identifier.ident(); err != nil || got != id {
			return badRequest("the body's identifier %v.%s is not the table of the path, %s", req.Identifier.Namespace, req.Identifier.Name, id)
		}
	}
	noteUpdates(r, req.Updates)
	states, err := s.lake.CommitTables(r.Context(), []lake.TableChange{{Table: id, Requirements: req.Requirements, Updates: req.Updates}})
	if err != nil {
		return err
	}
	raw, err := metadataJSON(states[0].Metadata, false)
	if err != nil {
		return err
	}
	return writeJSON(w, commitTableResponse{MetadataLocation: states[0].MetadataLocation, Metadata: raw})
}

// noteUpdates names a commit's update actions in its audit entry.
func noteUpdates(r *http.Request, updates table.Updates) {
	actions := make([]string, 0, len(updates))
	for _, u := range updates {
		actions = append(actions, u.Action())
	}
	audit.NotesFrom(r.Context()).Detail("updates", actions)
}

type commitTransactionRequest struct {
	TableChanges []commitTableRequest `json:"table-changes"`
}

// commitTransaction commits changes to several tables atomically: all or
// none (lake.CommitTables swaps every table in one catalog transaction).
func (s *Server) commitTransaction(w http.ResponseWriter, r *http.Request) error {
	var req commitTransactionRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	if len(req.TableChanges) == 0 {
		return badRequest("a transaction needs at least one table change")
	}
	changes := make([]lake.TableChange, 0, len(req.TableChanges))
	names := make([]string, 0, len(req.TableChanges))
	for _, c := range req.TableChanges {
		if c.Identifier == nil {
			return badRequest("every table change of a transaction needs an identifier")
		}
		id, err := c.Identifier.ident()
		if err != nil {
			return err
		}
		changes = append(changes, lake.TableChange{Table: id, Requirements: c.Requirements, Updates: c.Updates})
		names = append(names, id.String())
	}
	notes := audit.NotesFrom(r.Context())
	notes.SetResource(strings.Join(names, ","))
	notes.Detail("tables", names)
	if _, err := s.lake.CommitTables(r.Context(), changes); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) dropTable(w http.ResponseWriter, r *http.Request) error {
	id := ident(r, "table")
	purge := false
	if v := r.URL.Query().Get("purgeRequested"); v != "" {
		var err error
		if purge, err = strconv.ParseBool(v); err != nil {
			return badRequest("purgeRequested=%q: want true or false", v)
		}
	}
	audit.NotesFrom(r.Context()).Detail("purge", purge)
	if err := s.lake.DropTable(r.Context(), id, purge, false); err != nil {
		return err
	}
	return noContent(w)
}

type renameRequest struct {
	Source      identifier `json:"source"`
	Destination identifier `json:"destination"`
}

func (s *Server) decodeRename(w http.ResponseWriter, r *http.Request) (from, to lake.Ident, err error) {
	var req renameRequest
	if err := s.decode(w, r, &req); err != nil {
		return from, to, err
	}
	if from, err = req.Source.ident(); err != nil {
		return from, to, err
	}
	if to, err = req.Destination.ident(); err != nil {
		return from, to, err
	}
	notes := audit.NotesFrom(r.Context())
	notes.SetResource(from.String())
	notes.Detail("to", to.String())
	return from, to, nil
}

func (s *Server) renameTable(w http.ResponseWriter, r *http.Request) error {
	from, to, err := s.decodeRename(w, r)
	if err != nil {
		return err
	}
	if err := s.lake.RenameTable(r.Context(), from, to); err != nil {
		return err
	}
	return noContent(w)
}

// reportMetrics accepts a client's scan or commit report. The report is
// noted in the request's audit entry; edp keeps no other copy.
func (s *Server) reportMetrics(w http.ResponseWriter, r *http.Request) error {
	id := ident(r, "table")
	var req struct {
		ReportType string `json:"report-type"`
		SnapshotID *int64 `json:"snapshot-id"`
		Operation  string `json:"operation"`
	}
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	switch req.ReportType {
	case "scan-report", "commit-report":
	default:
		return badRequest("report-type %q: want scan-report or commit-report", req.ReportType)
	}
	// The table must exist and be readable by the reporter.
	if ok, err := s.lake.TableExists(r.Context(), id); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%w: %s", lake.ErrNoSuchTable, id)
	}
	notes := audit.NotesFrom(r.Context())
	notes.Detail("report_type", req.ReportType)
	if req.SnapshotID != nil {
		notes.Detail("snapshot_id", *req.SnapshotID)
	}
	if req.Operation != "" {
		notes.Detail("operation", req.Operation)
	}
	return noContent(w)
}
