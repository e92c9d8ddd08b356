package api

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/edp-data/edp/internal/duck"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/policy"
)

// Namespaces and tables. Every handler calls the lake functions the CLI
// and SQL DDL call, which ask policy themselves; the API adds no second
// authorization path for data.

type namespaceInfo struct {
	Name       string            `json:"name"`
	Properties map[string]string `json:"properties"`
	Tables     []string          `json:"tables,omitempty"`
}

func (a *API) listNamespaces(c *call) error {
	p := c.params()
	if p.err != nil {
		return p.err
	}
	nss, err := a.opts.Lake.ListNamespaces(c.ctx())
	if err != nil {
		return err
	}
	out := make([]map[string]string, len(nss))
	for i, n := range nss {
		out[i] = map[string]string{"name": n}
	}
	return c.json(http.StatusOK, map[string]any{"namespaces": out})
}

type createNamespaceRequest struct {
	Name       string            `json:"name"`
	Properties map[string]string `json:"properties"`
}

func (a *API) createNamespace(c *call) error {
	var req createNamespaceRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	c.resource = req.Name
	c.detail("properties", req.Properties)
	if req.Name == "" {
		return invalidf("name is required")
	}
	if err := a.opts.Lake.CreateNamespace(c.ctx(), req.Name, req.Properties, false); err != nil {
		return err
	}
	if req.Properties == nil {
		req.Properties = map[string]string{}
	}
	c.w.Header().Set("Location", "/api/v1/namespaces/"+url.PathEscape(req.Name))
	return c.json(http.StatusCreated, namespaceInfo{Name: req.Name, Properties: req.Properties})
}

func (a *API) getNamespace(c *call) error {
	ns := c.r.PathValue("ns")
	c.resource = ns
	if p := c.params(); p.err != nil {
		return p.err
	}
	props, err := a.opts.Lake.NamespaceProperties(c.ctx(), ns)
	if err != nil {
		return err
	}
	ids, err := a.opts.Lake.ListTables(c.ctx(), ns)
	if err != nil {
		return err
	}
	info := namespaceInfo{Name: ns, Properties: props, Tables: []string{}}
	if info.Properties == nil {
		info.Properties = map[string]string{}
	}
	for _, id := range ids {
		info.Tables = append(info.Tables, id.Name)
	}
	return c.json(http.StatusOK, info)
}

func (a *API) dropNamespace(c *call) error {
	ns := c.r.PathValue("ns")
	c.resource = ns
	p := c.params("cascade")
	cascade := p.boolean("cascade")
	if p.err != nil {
		return p.err
	}
	c.detail("cascade", cascade)
	if err := a.opts.Lake.DropNamespace(c.ctx(), ns, false, cascade); err != nil {
		return err
	}
	return c.noContent()
}

// tableIdent reads {ns} and {table} and names the call's resource.
func (c *call) tableIdent() lake.Ident {
	id := lake.Ident{Namespace: c.r.PathValue("ns"), Name: c.r.PathValue("table")}
	c.resource = id.String()
	return id
}

func (a *API) listTables(c *call) error {
	ns := c.r.PathValue("ns")
	c.resource = ns
	if p := c.params(); p.err != nil {
		return p.err
	}
	ids, err := a.opts.Lake.ListTables(c.ctx(), ns)
	if err != nil {
		return err
	}
	out := make([]map[string]string, len(ids))
	for i, id := range ids {
		out[i] = map[string]string{"namespace": id.Namespace, "name": id.Name}
	}
	return c.json(http.StatusOK, map[string]any{"tables": out})
}

type columnDef struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Doc  string `json:"doc,omitempty"`
}

type createTableRequest struct {
	Name        string            `json:"name"`
	Columns     []columnDef       `json:"columns"`
	PartitionBy []string          `json:"partition_by"`
	Properties  map[string]string `json:"properties"`
}

// createTable builds the schema the way CREATE TABLE does: SQL types
// through duck.SchemaFromColumns, partition expressions through
// lake.BuildSpec and duck.CheckSpec.
func (a *API) createTable(c *call) error {
	var req createTableRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	id := lake.Ident{Namespace: c.r.PathValue("ns"), Name: req.Name}
	c.resource = id.String()
	c.detail("columns", req.Columns)
	c.detail("partition_by", req.PartitionBy)
	c.detail("properties", req.Properties)
	if req.Name == "" {
		return invalidf("name is required")
	}
	if len(req.Columns) == 0 {
		return invalidf("columns: a table needs at least one column")
	}
	names := make([]string, len(req.Columns))
	types := make([]string, len(req.Columns))
	for i, col := range req.Columns {
		if col.Name == "" || col.Type == "" {
			return invalidf("columns[%d]: name and type are required", i)
		}
		names[i], types[i] = col.Name, col.Type
	}
	schema, err := duck.SchemaFromColumns(names, types)
	if err != nil {
		return invalidf("columns: %v", err)
	}
	fields := schema.Fields()
	for i, col := range req.Columns {
		fields[i].Doc = col.Doc
	}
	schema = iceberg.NewSchema(0, fields...)
	spec, err := lake.BuildSpec(schema, req.PartitionBy)
	if err == nil {
		err = duck.CheckSpec(schema, *spec)
	}
	if err != nil {
		return userFault(err)
	}
	tbl, err := a.opts.Lake.CreateTable(c.ctx(), id, schema, spec, req.Properties)
	if err != nil {
		return err
	}
	c.w.Header().Set("Location", "/api/v1/namespaces/"+url.PathEscape(id.Namespace)+"/tables/"+url.PathEscape(id.Name))
	return c.json(http.StatusCreated, a.describe(c, id, tbl))
}

// Table description.
type tableColumn struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	IcebergType string `json:"iceberg_type"`
	Required    bool   `json:"required"`
	Doc         string `json:"doc,omitempty"`
}

type partitionField struct {
	FieldID   int    `json:"field_id"`
	Name      string `json:"name"`
	Source    string `json:"source"`
	Transform string `json:"transform"`
}

type snapshotInfo struct {
	SnapshotID int64             `json:"snapshot_id"`
	ParentID   *int64            `json:"parent_id,omitempty"`
	Timestamp  time.Time         `json:"timestamp"`
	Operation  string            `json:"operation"`
	Job        string            `json:"job,omitempty"`
	Principal  string            `json:"principal,omitempty"`
	Current    bool              `json:"current"`
	Summary    map[string]string `json:"summary,omitempty"`
}

type tableInfo struct {
	Namespace       string            `json:"namespace"`
	Name            string            `json:"name"`
	FormatVersion   int               `json:"format_version"`
	SchemaID        int               `json:"schema_id"`
	Columns         []tableColumn     `json:"columns"`
	PartitionSpecID int               `json:"partition_spec_id"`
	PartitionBy     []partitionField  `json:"partition_by"`
	Properties      map[string]string `json:"properties"`
	CurrentSnapshot *snapshotInfo     `json:"current_snapshot"`
	SnapshotCount   int               `json:"snapshot_count"`
	// Location is shown to those who may administer the table only: it
	// tells where the files are on the server.
	Location string `json:"location,omitempty"`
}

func (a *API) describe(c *call, id lake.Ident, tbl *table.Table) tableInfo {
	md := tbl.Metadata()
	sc := tbl.Schema()
	info := tableInfo{
		Namespace: id.Namespace, Name: id.Name, FormatVersion: md.Version(), SchemaID: sc.ID,
		Columns: []tableColumn{}, PartitionBy: []partitionField{}, Properties: map[string]string{},
		SnapshotCount: len(md.Snapshots()),
	}
	for _, f := range sc.Fields() {
		info.Columns = append(info.Columns, tableColumn{ID: f.ID, Name: f.Name, Type: duck.DuckType(f.Type),
			IcebergType: f.Type.String(), Required: f.Required, Doc: f.Doc})
	}
	spec := tbl.Spec()
	info.PartitionSpecID = spec.ID()
	for _, pf := range spec.Fields() {
		src, _ := sc.FindColumnName(pf.SourceID())
		info.PartitionBy = append(info.PartitionBy, partitionField{FieldID: pf.FieldID, Name: pf.Name, Source: src,
			Transform: fmt.Sprintf("%s(%s)", pf.Transform, src)})
	}
	maps.Copy(info.Properties, tbl.Properties())
	if s := tbl.CurrentSnapshot(); s != nil {
		si := snapshotOf(s, true)
		info.CurrentSnapshot = &si
	}
	if a.authz.Authorize(c.ctx(), policy.Admin, policy.Resource{Namespace: id.Namespace, Table: id.Name}) == nil {
		info.Location = tbl.Location()
	}
	return info
}

func snapshotOf(s *table.Snapshot, current bool) snapshotInfo {
	si := snapshotInfo{SnapshotID: s.SnapshotID, ParentID: s.ParentSnapshotID, Timestamp: time.UnixMilli(s.TimestampMs).UTC(), Current: current}
	if s.Summary != nil {
		si.Operation = string(s.Summary.Operation)
		si.Summary = s.Summary.Properties
		si.Job = s.Summary.Properties[lake.SummaryJob]
		si.Principal = s.Summary.Properties[lake.SummaryPrincipal]
	}
	return si
}

func (a *API) describeTable(c *call) error {
	id := c.tableIdent()
	if p := c.params(); p.err != nil {
		return p.err
	}
	tbl, err := a.opts.Lake.LoadTable(c.ctx(), id)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, a.describe(c, id, tbl))
}

func (a *API) dropTable(c *call) error {
	id := c.tableIdent()
	p := c.params("purge")
	purge := p.boolean("purge")
	if p.err != nil {
		return p.err
	}
	c.detail("purge", purge)
	if err := a.opts.Lake.DropTable(c.ctx(), id, purge, false); err != nil {
		return err
	}
	return c.noContent()
}

type renameRequest struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func (a *API) renameTable(c *call) error {
	from := c.tableIdent()
	var req renameRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	to := lake.Ident{Namespace: req.Namespace, Name: req.Name}
	if to.Namespace == "" {
		to.Namespace = from.Namespace
	}
	c.detail("to", to.String())
	if req.Name == "" {
		return invalidf("name is required")
	}
	if err := a.opts.Lake.RenameTable(c.ctx(), from, to); err != nil {
		return err
	}
	return c.json(http.StatusOK, map[string]string{"namespace": to.Namespace, "name": to.Name})
}

// schemaChange is one change of POST …/schema. Which fields an op takes:
// add_column {name, type, doc?}, rename_column {name, new_name},
// drop_column {name}, alter_type {name, type}.
type schemaChange struct {
	Op      string `json:"op"`
	Name    string `json:"name"`
	NewName string `json:"new_name,omitempty"`
	Type    string `json:"type,omitempty"`
	Doc     string `json:"doc,omitempty"`
}

type schemaRequest struct {
	Changes []schemaChange `json:"changes"`
}

// evolveSchema applies every change in one commit, or none: the changes
// are checked against the current schema first, then staged on one
// iceberg-go UpdateSchema, whose commit validates them together.
func (a *API) evolveSchema(c *call) error {
	id := c.tableIdent()
	var req schemaRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	c.detail("changes", req.Changes)
	if len(req.Changes) == 0 {
		return invalidf("changes: give at least one change")
	}
	tbl, err := a.opts.Lake.LoadTable(c.ctx(), id)
	if err != nil {
		return err
	}
	types := make([]iceberg.Type, len(req.Changes))
	for i, ch := range req.Changes {
		if types[i], err = checkChange(tbl, i, ch); err != nil {
			return err
		}
	}
	updated, err := a.opts.Lake.EvolveSchema(c.ctx(), id, func(u *table.UpdateSchema) {
		for i, ch := range req.Changes {
			switch ch.Op {
			case "add_column":
				u.AddColumn([]string{ch.Name}, types[i], ch.Doc, false, nil)
			case "rename_column":
				u.RenameColumn([]string{ch.Name}, ch.NewName)
			case "drop_column":
				u.DeleteColumn([]string{ch.Name})
			case "alter_type":
				u.UpdateColumn([]string{ch.Name}, table.ColumnUpdate{FieldType: iceberg.Optional[iceberg.Type]{Valid: true, Val: types[i]}})
			}
		}
	})
	if err != nil {
		return userFault(err)
	}
	return c.json(http.StatusOK, a.describe(c, id, updated))
}

// checkChange validates one schema change and returns the Iceberg type it
// names, if any. The rules are those of ALTER TABLE in query/ddl.go.
func checkChange(tbl *table.Table, i int, ch schemaChange) (iceberg.Type, error) {
	field := func() (iceberg.NestedField, error) {
		if ch.Name == "" {
			return iceberg.NestedField{}, invalidf("changes[%d] (%s): name is required", i, ch.Op)
		}
		f, ok := tbl.Schema().FindFieldByNameCaseInsensitive(ch.Name)
		if !ok {
			return f, invalidf("changes[%d] (%s): table has no column %q", i, ch.Op, ch.Name)
		}
		return f, nil
	}
	only := func(allowed ...string) error {
		set := map[string]bool{"name": ch.Name != "", "new_name": ch.NewName != "", "type": ch.Type != "", "doc": ch.Doc != ""}
		for k, v := range set {
			if v && !slices.Contains(allowed, k) {
				return invalidf("changes[%d] (%s): field %q does not apply", i, ch.Op, k)
			}
		}
		return nil
	}
	parseType := func() (iceberg.Type, error) {
		if ch.Type == "" {
			return nil, invalidf("changes[%d] (%s): type is required", i, ch.Op)
		}
		next := 0
		t, err := duck.IcebergType(ch.Type, func() int { next++; return next })
		if err != nil {
			return nil, invalidf("changes[%d] (%s): %v", i, ch.Op, err)
		}
		return t, nil
	}
	switch ch.Op {
	case "add_column":
		if err := only("name", "type", "doc"); err != nil {
			return nil, err
		}
		if ch.Name == "" {
			return nil, invalidf("changes[%d] (add_column): name is required", i)
		}
		if _, ok := tbl.Schema().FindFieldByNameCaseInsensitive(ch.Name); ok {
			return nil, invalidf("changes[%d] (add_column): column %q already exists", i, ch.Name)
		}
		return parseType()
	case "rename_column":
		if err := only("name", "new_name"); err != nil {
			return nil, err
		}
		if _, err := field(); err != nil {
			return nil, err
		}
		if ch.NewName == "" || strings.Contains(ch.NewName, ".") {
			return nil, invalidf("changes[%d] (rename_column): new_name must be a non-empty name without '.'", i)
		}
		return nil, nil
	case "drop_column":
		if err := only("name"); err != nil {
			return nil, err
		}
		f, err := field()
		if err != nil {
			return nil, err
		}
		for _, spec := range tbl.Metadata().PartitionSpecs() {
			for _, pf := range spec.Fields() {
				if pf.SourceID() == f.ID {
					return nil, invalidf("changes[%d] (drop_column): column %s is a partition source (field %s); drop the partition field first", i, f.Name, pf.Name)
				}
			}
		}
		return nil, nil
	case "alter_type":
		if err := only("name", "type"); err != nil {
			return nil, err
		}
		if _, err := field(); err != nil {
			return nil, err
		}
		t, err := parseType()
		if err != nil {
			return nil, err
		}
		if _, ok := t.(iceberg.PrimitiveType); !ok {
			return nil, invalidf("changes[%d] (alter_type): only primitive column types can change", i)
		}
		return t, nil
	}
	return nil, invalidf("changes[%d]: unknown op %q (use add_column, rename_column, drop_column or alter_type)", i, ch.Op)
}

type propertiesRequest struct {
	Set    map[string]string `json:"set"`
	Remove []string          `json:"remove"`
}

func (a *API) setProperties(c *call) error {
	id := c.tableIdent()
	var req propertiesRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	c.detail("set", req.Set)
	c.detail("remove", req.Remove)
	if len(req.Set) == 0 && len(req.Remove) == 0 {
		return invalidf("give properties to set or remove")
	}
	for _, k := range req.Remove {
		if _, ok := req.Set[k]; ok {
			return invalidf("property %q is both set and removed", k)
		}
	}
	if err := a.opts.Lake.SetProperties(c.ctx(), id, req.Set, req.Remove); err != nil {
		return userFault(err)
	}
	tbl, err := a.opts.Lake.LoadTable(c.ctx(), id)
	if err != nil {
		return err
	}
	props := map[string]string{}
	maps.Copy(props, tbl.Properties())
	return c.json(http.StatusOK, map[string]any{"properties": props})
}

func (a *API) listSnapshots(c *call) error {
	id := c.tableIdent()
	if p := c.params(); p.err != nil {
		return p.err
	}
	snaps, err := a.opts.Lake.Snapshots(c.ctx(), id)
	if err != nil {
		return err
	}
	out := make([]snapshotInfo, len(snaps))
	for i, s := range snaps {
		out[i] = snapshotInfo{SnapshotID: s.ID, ParentID: s.ParentID, Timestamp: s.Timestamp, Operation: s.Operation,
			Job: s.Job, Principal: s.Principal, Current: s.Current, Summary: s.Summary}
	}
	return c.json(http.StatusOK, map[string]any{"snapshots": out})
}

type rollbackRequest struct {
	SnapshotID *int64 `json:"snapshot_id"`
}

func (a *API) rollback(c *call) error {
	id := c.tableIdent()
	var req rollbackRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	if req.SnapshotID == nil {
		return invalidf("snapshot_id is required")
	}
	c.detail("snapshot_id", *req.SnapshotID)
	if err := a.opts.Lake.Rollback(c.ctx(), id, *req.SnapshotID); err != nil {
		return userFault(err)
	}
	return c.json(http.StatusOK, map[string]any{"namespace": id.Namespace, "name": id.Name, "current_snapshot_id": *req.SnapshotID})
}
