package restcatalog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/edp-data/edp/internal/audit"
	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/lake"
)

// Server-side scan planning (the spec's planTableScan, fetchPlanningResult,
// cancelPlanning and fetchScanTasks). Plans are made synchronously with
// iceberg-go's PlanFiles, pruned by the request's filter: the answer is
// "completed" at once. Small plans carry their file scan tasks inline;
// larger ones hand out plan tasks of tasksPerPlanTask files each, fetched
// with /tasks, so no single response grows with the table.

const (
	// tasksPerPlanTask bounds the file scan tasks of one response.
	tasksPerPlanTask = 1000
	// planTTL is how long a plan's tasks can be fetched.
	planTTL = 10 * time.Minute
	// maxPlans bounds the plans kept at once, maxPlansPerPrincipal those
	// of one principal, and maxPlanTasks the file scan tasks all plans
	// hold (a task takes about a kilobyte encoded, so ~250 MB).
	maxPlans             = 1000
	maxPlansPerPrincipal = 100
	maxPlanTasks         = 250_000
)

// planTableScanRequest is the spec's PlanTableScanRequest.
type planTableScanRequest struct {
	SnapshotID        *int64          `json:"snapshot-id"`
	Select            []string        `json:"select"`
	Filter            json.RawMessage `json:"filter"`
	CaseSensitive     *bool           `json:"case-sensitive"`
	UseSnapshotSchema *bool           `json:"use-snapshot-schema"`
	StartSnapshotID   *int64          `json:"start-snapshot-id"`
	EndSnapshotID     *int64          `json:"end-snapshot-id"`
	StatsFields       []string        `json:"stats-fields"`
	MinRowsRequested  *int64          `json:"min-rows-requested"`
}

// scanTasks is the spec's ScanTasks, encoded with iceberg-go's REST wire
// types so that what its client decodes is what this server encodes.
type scanTasks struct {
	DeleteFiles   []rest.RESTDeleteFile   `json:"delete-files,omitempty"`
	FileScanTasks []rest.RESTFileScanTask `json:"file-scan-tasks,omitempty"`
	PlanTasks     []string                `json:"plan-tasks,omitempty"`
}

type planResult struct {
	Status string `json:"status"`
	PlanID string `json:"plan-id,omitempty"`
	scanTasks
}

// plan is a completed plan: its inline answer and its plan tasks' chunks.
type plan struct {
	id        string
	table     lake.Ident
	principal string
	created   time.Time
	tasks     int // file scan tasks held, inline and in chunks
	inline    scanTasks
	chunks    map[string]scanTasks // by plan task
}

func (s *Server) planTableScan(w http.ResponseWriter, r *http.Request) error {
	id := ident(r, "table")
	var req planTableScanRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	if req.StartSnapshotID != nil || req.EndSnapshotID != nil {
		return fmt.Errorf("%w: incremental scans (start-snapshot-id, end-snapshot-id) are not planned by this server", errUnsupported)
	}
	ctx := r.Context()
	tbl, err := s.lake.LoadTable(ctx, id)
	if err != nil {
		return err
	}
	opts := []table.ScanOption{}
	caseSensitive := req.CaseSensitive == nil || *req.CaseSensitive
	opts = append(opts, table.WithCaseSensitive(caseSensitive))
	if req.SnapshotID != nil {
		if tbl.SnapshotByID(*req.SnapshotID) == nil {
			return badRequest("table %s has no snapshot %d", id, *req.SnapshotID)
		}
		opts = append(opts, table.WithSnapshotID(*req.SnapshotID))
	}
	if len(req.Select) > 0 {
		opts = append(opts, table.WithSelectedFields(req.Select...))
	}
	if len(req.Filter) > 0 && string(req.Filter) != "null" {
		expr, err := iceberg.ParseExpr(req.Filter, tbl.Schema())
		if err != nil {
			return badRequest("filter: %v", err)
		}
		opts = append(opts, table.WithRowFilter(expr))
	}
	tasks, err := tbl.Scan(opts...).PlanFiles(ctx)
	if err != nil {
		return fmt.Errorf("%w: plan scan of %s: %w", errBadRequest, id, err)
	}
	p := &plan{id: newPlanID(), table: id, created: time.Now(), tasks: len(tasks), chunks: map[string]scanTasks{}}
	if pr, ok := auth.FromContext(ctx); ok {
		p.principal = pr.Name
	}
	enc := taskEncoder{meta: tbl.Metadata(), statsFields: fieldIDs(tbl.Schema(), req.StatsFields)}
	if len(tasks) <= tasksPerPlanTask {
		if p.inline, err = enc.encode(tasks); err != nil {
			return err
		}
	} else {
		for i := 0; i < len(tasks); i += tasksPerPlanTask {
			chunk, err := enc.encode(tasks[i:min(i+tasksPerPlanTask, len(tasks))])
			if err != nil {
				return err
			}
			pt := p.id + "/" + strconv.Itoa(i/tasksPerPlanTask)
			p.chunks[pt] = chunk
			p.inline.PlanTasks = append(p.inline.PlanTasks, pt)
		}
	}
	if err := s.plans.put(p); err != nil {
		return err
	}
	notes := audit.NotesFrom(ctx)
	notes.Detail("plan_id", p.id)
	notes.Detail("files", len(tasks))
	return writeJSON(w, planResult{Status: "completed", PlanID: p.id, scanTasks: p.inline})
}

func (s *Server) fetchPlan(w http.ResponseWriter, r *http.Request) error {
	p, err := s.findPlan(r)
	if err != nil {
		return err
	}
	return writeJSON(w, planResult{Status: "completed", scanTasks: p.inline})
}

func (s *Server) cancelPlan(w http.ResponseWriter, r *http.Request) error {
	p, err := s.findPlan(r)
	if err != nil {
		return err
	}
	s.plans.remove(p.id)
	return noContent(w)
}

func (s *Server) fetchScanTasks(w http.ResponseWriter, r *http.Request) error {
	id := ident(r, "table")
	var req struct {
		PlanTask string `json:"plan-task"`
	}
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	planID, _, _ := strings.Cut(req.PlanTask, "/")
	p, err := s.planFor(r.Context(), id, planID)
	if err != nil {
		return err
	}
	chunk, ok := p.chunks[req.PlanTask]
	if !ok {
		return fmt.Errorf("%w: plan task %q", errNoSuchPlan, req.PlanTask)
	}
	return writeJSON(w, chunk)
}

func (s *Server) findPlan(r *http.Request) (*plan, error) {
	return s.planFor(r.Context(), ident(r, "table"), r.PathValue("plan"))
}

// planFor returns a plan of table id made by the caller. The table is
// authorized again: a plan names files, and access may have been revoked
// since it was made.
func (s *Server) planFor(ctx context.Context, id lake.Ident, planID string) (*plan, error) {
	if ok, err := s.lake.TableExists(ctx, id); err != nil {
		return nil, err
	} else if !ok {
		// The table was dropped: its plans name files a purge may have
		// deleted, and authorization can no longer be judged.
		s.plans.remove(planID)
		return nil, fmt.Errorf("%w: %s", lake.ErrNoSuchTable, id)
	}
	p := s.plans.get(planID)
	name := ""
	if pr, ok := auth.FromContext(ctx); ok {
		name = pr.Name
	}
	if p == nil || p.table != id || p.principal != name {
		return nil, fmt.Errorf("%w: %q", errNoSuchPlan, planID)
	}
	return p, nil
}

func newPlanID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// put keeps p, or refuses it with errPlanStoreFull when its principal
// holds maxPerPrincipal plans or the store would hold more than maxPlans
// plans or maxTasks tasks.
func (ps *planStore) put(p *plan) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.expire(p.created)
	mine := 0
	for _, q := range ps.plans {
		if q.principal == p.principal {
			mine++
		}
	}
	switch {
	case mine >= ps.maxPerPrincipal:
		return fmt.Errorf("%w: %d plans of yours are held; fetch or cancel them, or wait %s for them to expire", errPlanStoreFull, mine, planTTL)
	case len(ps.plans) >= ps.maxPlans || ps.tasks+p.tasks > ps.maxTasks:
		return fmt.Errorf("%w: the server holds as many planned tasks as it may; try again later", errPlanStoreFull)
	}
	ps.plans[p.id] = p
	ps.tasks += p.tasks
	return nil
}

func (ps *planStore) get(id string) *plan {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.expire(time.Now())
	return ps.plans[id]
}

func (ps *planStore) remove(id string) {
	ps.mu.Lock()
	ps.drop(id)
	ps.mu.Unlock()
}

func (ps *planStore) expire(now time.Time) {
	for id, p := range ps.plans {
		if now.Sub(p.created) > planTTL {
			ps.drop(id)
		}
	}
}

// drop forgets plan id; ps.mu is held.
func (ps *planStore) drop(id string) {
	if p, ok := ps.plans[id]; ok {
		ps.tasks -= p.tasks
		delete(ps.plans, id)
	}
}

// fieldIDs resolves the stats-fields of a request to field ids; unknown
// names are ignored (the spec makes the list a hint).
func fieldIDs(schema *iceberg.Schema, names []string) map[int]bool {
	out := map[int]bool{}
	for _, n := range names {
		if f, ok := schema.FindFieldByName(n); ok {
			out[f.ID] = true
		}
	}
	return out
}

// taskEncoder turns iceberg-go's file scan tasks into the spec's wire form.
type taskEncoder struct {
	meta        table.Metadata
	statsFields map[int]bool
}

func (e taskEncoder) encode(tasks []table.FileScanTask) (scanTasks, error) {
	out := scanTasks{FileScanTasks: make([]rest.RESTFileScanTask, 0, len(tasks))}
	deleteIndex := map[string]int{}
	for _, t := range tasks {
		df, err := e.dataFile(t.File)
		if err != nil {
			return scanTasks{}, err
		}
		ft := rest.RESTFileScanTask{DataFile: df}
		for _, group := range [][]iceberg.DataFile{t.DeleteFiles, t.EqualityDeleteFiles, t.DeletionVectorFiles} {
			for _, d := range group {
				i, ok := deleteIndex[d.FilePath()]
				if !ok {
					cf, err := e.contentFile(d)
					if err != nil {
						return scanTasks{}, err
					}
					i = len(out.DeleteFiles)
					deleteIndex[d.FilePath()] = i
					out.DeleteFiles = append(out.DeleteFiles, rest.RESTDeleteFile{RESTContentFile: cf,
						EqualityIDs: d.EqualityFieldIDs(), ReferencedDataFile: d.ReferencedDataFile(),
						ContentOffset: d.ContentOffset(), ContentSizeInBytes: d.ContentSizeInBytes()})
				}
				ft.DeleteFileReferences = append(ft.DeleteFileReferences, i)
			}
		}
		if t.Residual != nil {
			if raw, err := json.Marshal(t.Residual); err == nil {
				ft.ResidualFilter = raw
			}
		}
		out.FileScanTasks = append(out.FileScanTasks, ft)
	}
	return out, nil
}

func (e taskEncoder) dataFile(f iceberg.DataFile) (*rest.RESTDataFile, error) {
	cf, err := e.contentFile(f)
	if err != nil {
		return nil, err
	}
	out := &rest.RESTDataFile{RESTContentFile: cf, FirstRowID: f.FirstRowID()}
	counts := func(m map[int]int64) *rest.RESTCountMap {
		keys := statKeys(e, m)
		if len(keys) == 0 {
			return nil
		}
		cm := &rest.RESTCountMap{Keys: keys}
		for _, k := range keys {
			cm.Values = append(cm.Values, m[k])
		}
		return cm
	}
	values := func(m map[int][]byte) *rest.RESTValueMap {
		keys := statKeys(e, m)
		if len(keys) == 0 {
			return nil
		}
		vm := &rest.RESTValueMap{Keys: keys}
		for _, k := range keys {
			vm.Values = append(vm.Values, hex.EncodeToString(m[k]))
		}
		return vm
	}
	out.ColumnSizes = counts(f.ColumnSizes())
	out.ValueCounts = counts(f.ValueCounts())
	out.NullValueCounts = counts(f.NullValueCounts())
	out.NaNValueCounts = counts(f.NaNValueCounts())
	out.LowerBounds = values(f.LowerBoundValues())
	out.UpperBounds = values(f.UpperBoundValues())
	return out, nil
}

// statKeys are the sorted column ids of a stats map the client asked for
// (none unless it named stats-fields: statistics make responses large).
func statKeys[V any](e taskEncoder, m map[int]V) []int {
	var keys []int
	for k := range m {
		if e.statsFields[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func (e taskEncoder) contentFile(f iceberg.DataFile) (rest.RESTContentFile, error) {
	content := "data"
	switch f.ContentType() {
	case iceberg.EntryContentPosDeletes:
		content = "position-deletes"
	case iceberg.EntryContentEqDeletes:
		content = "equality-deletes"
	}
	cf := rest.RESTContentFile{
		SpecID: int(f.SpecID()), Content: content, FilePath: f.FilePath(),
		FileFormat: strings.ToLower(string(f.FileFormat())), FileSizeInBytes: f.FileSizeBytes(),
		RecordCount: f.Count(), SplitOffsets: f.SplitOffsets(), SortOrderID: f.SortOrderID(),
		Partition: []json.RawMessage{},
	}
	if km := f.KeyMetadata(); len(km) > 0 {
		s := hex.EncodeToString(km)
		cf.KeyMetadata = &s
	}
	spec := e.meta.PartitionSpecByID(int(f.SpecID()))
	if spec == nil {
		return cf, fmt.Errorf("file %s names partition spec %d, which the table lacks", f.FilePath(), f.SpecID())
	}
	values := f.Partition()
	for _, field := range spec.Fields() {
		raw, err := partitionValue(values[field.FieldID])
		if err != nil {
			return cf, fmt.Errorf("file %s: partition %s: %w", f.FilePath(), field.Name, err)
		}
		cf.Partition = append(cf.Partition, raw)
	}
	return cf, nil
}

// partitionValue encodes a partition value as the spec's
// PrimitiveTypeValue: numbers and booleans as JSON, binary as hex, and
// everything else (strings, dates, times, timestamps, decimals, uuids) in
// its Iceberg string form.
func partitionValue(v any) (json.RawMessage, error) {
	switch v := v.(type) {
	case nil:
		return json.RawMessage("null"), nil
	case bool, int32, int64, float32, float64, string:
		return json.Marshal(v)
	case []byte:
		return json.Marshal(hex.EncodeToString(v))
	case iceberg.Date:
		return json.Marshal(iceberg.DateLiteral(v).String())
	case iceberg.Time:
		return json.Marshal(iceberg.TimeLiteral(v).String())
	case iceberg.Timestamp:
		return json.Marshal(iceberg.TimestampLiteral(v).String())
	case iceberg.Decimal:
		return json.Marshal(iceberg.DecimalLiteral(v).String())
	case uuid.UUID:
		return json.Marshal(v.String())
	}
	return nil, fmt.Errorf("unsupported partition value of type %T", v)
}
