package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edp-data/edp/internal/duck"
	"github.com/edp-data/edp/internal/policy"
	"github.com/edp-data/edp/internal/query"
	"github.com/edp-data/edp/internal/query/sqlstmt"
	"github.com/edp-data/edp/internal/render"
	"github.com/edp-data/edp/internal/telemetry"
)

// Media types a query result can be streamed as, in the order a wildcard
// Accept prefers them.
var resultFormats = []struct {
	mediaType string
	format    render.Format
}{
	{"application/json", render.JSON},
	{"application/x-ndjson", render.JSONL},
	{"text/csv", render.CSV},
	{render.ArrowStreamMediaType, render.Arrow},
}

// negotiate picks the result format from an Accept header: the supported
// media type with the highest q, the first listed on a tie; a wildcard
// means JSON; no header means JSON.
func negotiate(accept string) (string, render.Format, error) {
	if strings.TrimSpace(accept) == "" {
		return resultFormats[0].mediaType, resultFormats[0].format, nil
	}
	best, bestQ := -1, 0.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(s, 64); err != nil {
				continue
			}
		}
		if q <= 0 {
			continue
		}
		for i, f := range resultFormats {
			major, _, _ := strings.Cut(f.mediaType, "/")
			if mt == f.mediaType || mt == "*/*" || mt == major+"/*" {
				if q > bestQ {
					best, bestQ = i, q
				}
				break
			}
		}
	}
	if best < 0 {
		types := make([]string, len(resultFormats))
		for i, f := range resultFormats {
			types[i] = f.mediaType
		}
		ae := newError(errNotAcceptable, "cannot answer Accept: %s; results are available as %s", accept, strings.Join(types, ", "))
		ae.details = map[string]any{"available": types}
		return "", "", ae
	}
	return resultFormats[best].mediaType, resultFormats[best].format, nil
}

// Running queries, so that they can be listed and cancelled.
type runningQuery struct {
	ID        string    `json:"query_id"`
	Principal string    `json:"principal"`
	SQL       string    `json:"sql"`
	Statement string    `json:"statement"`
	Started   time.Time `json:"started"`
	cancel    context.CancelCauseFunc
}

type queryRegistry struct {
	mu sync.Mutex
	m  map[string]*runningQuery
}

func newQueryRegistry() *queryRegistry { return &queryRegistry{m: map[string]*runningQuery{}} }

// Queries are kept by owner and id: ids may be chosen by clients, and one
// user's choice must neither collide with nor reveal another's query.
func queryKey(principal, id string) string { return principal + "\x00" + id }

func (r *queryRegistry) add(q *runningQuery) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := queryKey(q.Principal, q.ID)
	if _, ok := r.m[k]; ok {
		return false
	}
	r.m[k] = q
	return true
}

func (r *queryRegistry) remove(principal, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, queryKey(principal, id))
}

// get finds principal's query id, or with any owner anyone's (for admins).
func (r *queryRegistry) get(principal, id string, anyOwner bool) (*runningQuery, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if q, ok := r.m[queryKey(principal, id)]; ok {
		return q, true
	}
	if anyOwner {
		for _, q := range r.m {
			if q.ID == id {
				return q, true
			}
		}
	}
	return nil, false
}

// list returns the running queries of principal ("" for all), oldest
// first.
func (r *queryRegistry) list(principal string) []runningQuery {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []runningQuery{}
	for _, q := range r.m {
		if principal == "" || q.Principal == principal {
			out = append(out, *q)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out
}

func newQueryID() string {
	var b [12]byte
	rand.Read(b[:])
	return "q_" + base64.RawURLEncoding.EncodeToString(b[:])
}

type sqlRequest struct {
	SQL       string `json:"sql"`
	Limit     *int64 `json:"limit"`
	TimeoutMS *int64 `json:"timeout_ms"`
	QueryID   string `json:"query_id"`
	Format    string `json:"format"`
}

// cliMediaTypes are the media types of the output formats a request names
// with "format": the CLI's own, rendered exactly as `edp sql --output`
// renders them, so a command gives the same bytes against a server as
// against a local data directory.
var cliMediaTypes = map[render.Format]string{
	render.Table:   "text/plain; charset=utf-8",
	render.CSV:     "text/csv",
	render.JSON:    "application/json",
	render.JSONL:   "application/x-ndjson",
	render.Parquet: "application/vnd.apache.parquet",
	render.Arrow:   render.ArrowStreamMediaType,
}

// queryRun is one statement to run and stream.
type queryRun struct {
	id        string
	sql       string
	statement string // metrics label: select, insert, …
	target    string // what the statement writes or changes, if anything
	limit     int64  // -1: none
	timeout   time.Duration
	mediaType string
	format    render.Format
	// cli marks a format named in the request: rendered as the CLI does,
	// and a statement without rows answers an empty body.
	cli bool
}

// statementInfo returns a statement's metrics label (select, insert, …)
// and the object it writes or changes, if any ("ns.t", "ns"), for the
// audit entry.
func statementInfo(text string) (kind, target string) {
	st, err := sqlstmt.Parse(text)
	if err != nil {
		return "other", "" // Exec will report the syntax error
	}
	name := func(n sqlstmt.Name) string {
		parts := make([]string, len(n))
		for i, id := range n {
			parts[i] = id.Name
		}
		return strings.Join(parts, ".")
	}
	switch s := st.(type) {
	case sqlstmt.Insert:
		target = name(s.Table)
	case sqlstmt.Delete:
		target = name(s.Table)
	case sqlstmt.Update:
		target = name(s.Table)
	case sqlstmt.Merge:
		target = name(s.Target)
	case sqlstmt.CreateTable:
		target = name(s.Name)
	case sqlstmt.DropTable:
		target = name(s.Name)
	case sqlstmt.AlterTable:
		target = name(s.Name)
	case sqlstmt.CreateSchema:
		target = name(s.Name)
	case sqlstmt.DropSchema:
		target = name(s.Name)
	}
	return query.KindOf(st), target
}

// sql runs one statement and streams its result in the format the Accept
// header asks for.
func (a *API) sql(c *call) error {
	var req sqlRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	c.detail("sql", req.SQL)
	mediaType, format, err := negotiate(c.r.Header.Get("Accept"))
	if err != nil && req.Format == "" {
		return err
	}
	if strings.TrimSpace(req.SQL) == "" {
		return invalidf("sql is required")
	}
	stmts, err := sqlstmt.Split(req.SQL)
	if err != nil {
		return err
	}
	if len(stmts) != 1 {
		return invalidf("sql: give exactly one statement per request, got %d", len(stmts))
	}
	kind, target := statementInfo(stmts[0])
	run := queryRun{id: req.QueryID, sql: stmts[0], statement: kind, target: target, limit: -1, mediaType: mediaType, format: format}
	if req.Format != "" {
		f, err := render.ParseFormat(req.Format)
		if err != nil {
			return invalidf("format: %v", err)
		}
		run.format, run.mediaType, run.cli = f, cliMediaTypes[f], true
	}
	if req.Limit != nil {
		if *req.Limit < 0 {
			return invalidf("limit: want an integer ≥ 0, got %d", *req.Limit)
		}
		run.limit = *req.Limit
	}
	if req.TimeoutMS != nil {
		if *req.TimeoutMS <= 0 {
			return invalidf("timeout_ms: want a positive number of milliseconds, got %d", *req.TimeoutMS)
		}
		run.timeout = time.Duration(*req.TimeoutMS) * time.Millisecond
	}
	if run.id != "" && !validRequestID(run.id) {
		return invalidf("query_id: use 1 to 64 letters, digits and - _ . ~")
	}
	return a.runQuery(c, run)
}

// readRows streams a table's rows, optionally as of a snapshot or time,
// through the same engine and streaming as POST /api/v1/sql. The SQL is
// generated with quoted identifiers and literals.
func (a *API) readRows(c *call) error {
	id := c.tableIdent()
	p := c.params("limit", "snapshot_id", "as_of")
	limit, hasLimit := p.int64("limit", 0)
	snap, hasSnap := p.int64("snapshot_id", 0)
	asOf := p.time("as_of")
	if p.err != nil {
		return p.err
	}
	mediaType, format, err := negotiate(c.r.Header.Get("Accept"))
	if err != nil {
		return err
	}
	if hasSnap && !asOf.IsZero() {
		return invalidf("give snapshot_id or as_of, not both")
	}
	q := "SELECT * FROM " + duck.Ident(id.Namespace) + "." + duck.Ident(id.Name)
	switch {
	case hasSnap:
		q += " FOR VERSION AS OF " + strconv.FormatInt(snap, 10)
		c.detail("snapshot_id", snap)
	case !asOf.IsZero():
		// edp reads a timestamp without an offset as UTC.
		q += " FOR TIMESTAMP AS OF " + duck.Quote(asOf.UTC().Format("2006-01-02 15:04:05.999999"))
		c.detail("as_of", asOf.UTC().Format(time.RFC3339Nano))
	}
	run := queryRun{sql: q, statement: "select", limit: -1, mediaType: mediaType, format: format}
	if hasLimit {
		run.limit = limit
		// One row more than asked tells whether the result was cut.
		q += " LIMIT " + strconv.FormatInt(limit+1, 10)
		run.sql = q
	}
	return a.runQuery(c, run)
}

// Response headers and trailers of a streamed result.
const (
	headerQueryID   = "Edp-Query-Id"
	headerStatus    = "Edp-Status"
	trailerError    = "Edp-Error"
	trailerTruncate = "Edp-Truncated"
)

// runQuery runs one statement and streams its result.
//
// Errors before the first byte reaches the client get a proper status
// through the one mapping. Output is held back (up to 32 KiB, or 200 ms)
// so that a query failing early still does. An error after streaming began
// cannot change the 200: the JSON object then ends with an "error" member,
// NDJSON with a final {"error": …} line, and every format sets the
// Edp-Error trailer (declared up front), which Arrow and CSV clients must
// check — a cut-off Arrow stream otherwise reads like a finished one.
func (a *API) runQuery(c *call, run queryRun) error {
	if run.id == "" {
		run.id = newQueryID()
	}
	timeout := a.opts.Limits.QueryTimeout
	if run.timeout > 0 && run.timeout < timeout {
		timeout = run.timeout
	}
	if m := a.opts.Limits.MaxRows; m > 0 && (run.limit < 0 || run.limit > m) {
		run.limit = m
	}
	ctx, cancel := context.WithCancelCause(c.ctx())
	defer cancel(nil)
	ctx, stop := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("%w: query timed out after %s", context.DeadlineExceeded, timeout))
	defer stop()

	rq := &runningQuery{ID: run.id, Principal: c.p.Name, SQL: run.sql, Statement: run.statement, Started: time.Now().UTC(), cancel: cancel}
	if !a.queries.add(rq) {
		return newError(errAlreadyExists, "query id %q is already running", run.id)
	}
	defer a.queries.remove(rq.Principal, run.id)
	c.w.Header().Set(headerQueryID, run.id)
	c.detail("query_id", run.id)
	c.detail("sql", run.sql)
	c.detail("statement", run.statement)
	if run.target != "" {
		c.detail("target", run.target)
	}

	stats := telemetry.QueryStats{Statement: run.statement, Outcome: "ok"}
	start := time.Now()
	defer func() {
		stats.Duration = time.Since(start)
		a.opts.Metrics.ObserveQuery(stats)
	}()
	res, err := a.opts.Engine.Exec(ctx, run.sql)
	if err != nil {
		err = queryError(ctx, err)
		stats.Outcome = queryOutcome(err)
		return userFault(err)
	}
	defer res.Close()
	tables := []string{}
	for _, s := range res.Scans {
		stats.FilesPlanned += s.Files
		stats.FilesPruned += s.Pruned
		stats.BytesScanned += s.Bytes
		if !slices.Contains(tables, s.Table) {
			tables = append(tables, s.Table)
		}
	}
	c.detail("tables", tables)
	c.detail("status", res.Status)
	if c.resource == "" {
		// The audit resource: what the statement changed, else what it read.
		c.resource = run.target
		if c.resource == "" {
			c.resource = strings.Join(tables, ",")
		}
	}
	c.w.Header().Set(headerStatus, res.Status)

	if res.Rows == nil {
		n := rowsOfStatus(res.Status)
		stats.Rows = n
		c.detail("rows_written", n)
		if run.format == render.JSON && !run.cli {
			return c.json(http.StatusOK, map[string]any{"query_id": run.id, "status": res.Status,
				"columns": []any{}, "rows": []any{}, "row_count": 0, "truncated": false})
		}
		c.w.Header().Set("Content-Type", run.mediaType)
		c.w.WriteHeader(http.StatusOK)
		return nil
	}
	c.readOnly = true
	rows := &limitRows{rows: res.Rows, limit: run.limit}
	out := &heldWriter{w: c.w, last: time.Now()}
	h := c.w.Header()
	h.Set("Content-Type", run.mediaType)
	h.Set("Trailer", trailerError+", "+trailerTruncate)
	h.Set("X-Content-Type-Options", "nosniff")

	var werr error
	switch {
	case run.format == render.JSON && !run.cli:
		werr = writeJSONResult(out, run, res.Status, rows)
	default:
		_, werr = render.Write(out, run.format, rows, render.Options{Footer: run.format == render.Table})
	}
	streamErr := rows.err
	if streamErr == nil && werr != nil && !errors.Is(werr, errNotRecorded) && out.err == nil {
		// An error from the writer itself, not from the rows or the
		// client connection: the server's fault.
		streamErr = werr
	}
	stats.Rows = rows.n
	if streamErr == nil && out.err != nil {
		// The client went away: nothing more to tell it.
		stats.Outcome = "cancelled"
		return nil
	}
	if streamErr != nil {
		streamErr = userFault(queryError(ctx, streamErr))
		stats.Outcome = queryOutcome(streamErr)
		if !out.started {
			// Nothing reached the client yet: answer with a proper status.
			return streamErr
		}
		cl := classify(streamErr, c.requestID())
		if cl.status == http.StatusInternalServerError {
			a.log.ErrorContext(c.ctx(), "query failed while streaming", "query_id", run.id, "err", streamErr, "request_id", c.requestID())
		}
		if run.format == render.JSONL {
			// (writeJSONResult already ended the JSON object with the error.)
			line, _ := json.Marshal(map[string]any{"error": cl.body})
			out.Write(append(line, '\n'))
		}
	}
	// Flush first, so the trailers' values are sent as trailers, after
	// the body, not as headers of a response that was held back whole.
	out.flush()
	if streamErr != nil {
		cl := classify(streamErr, c.requestID())
		h.Set(trailerError, headerSafe(cl.body.Code+": "+cl.body.Message))
	}
	h.Set(trailerTruncate, strconv.FormatBool(rows.truncated))
	return nil
}

// headerSafe makes text fit in a header or trailer value.
func headerSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 1000 {
		s = s[:1000]
	}
	return s
}

// queryError replaces an error caused by the query's context ending with
// the reason it ended: a timeout, a cancellation through the API, or the
// client going away. DuckDB reports all three as an interruption.
func queryError(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	cause := context.Cause(ctx)
	if errors.Is(cause, context.Canceled) && !errors.Is(cause, errQueryCancelled) {
		return fmt.Errorf("%w: the request was cancelled", context.Canceled)
	}
	return cause
}

func queryOutcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, policy.ErrDenied):
		return "denied"
	}
	return "error"
}

// rowsOfStatus reads the row count of a status such as "INSERT 3".
func rowsOfStatus(status string) int64 {
	f := strings.Fields(status)
	if len(f) == 0 {
		return 0
	}
	n, err := strconv.ParseInt(f[len(f)-1], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// limitRows stops after limit rows and notes whether more were there. It
// keeps the rows' own error apart from the writer's.
type limitRows struct {
	rows      render.Rows
	limit     int64 // -1: none
	n         int64
	truncated bool
	done      bool
	err       error
}

func (l *limitRows) Columns() []render.Column { return l.rows.Columns() }

func (l *limitRows) Next() ([]any, error) {
	if l.done {
		return nil, io.EOF
	}
	if l.limit >= 0 && l.n >= l.limit {
		l.done = true
		// One more row tells whether the result was cut.
		if _, err := l.rows.Next(); err == nil {
			l.truncated = true
		} else if err != io.EOF {
			l.err = err
			return nil, err
		}
		return nil, io.EOF
	}
	row, err := l.rows.Next()
	if err != nil {
		l.done = true
		if err != io.EOF {
			l.err = err
		}
		return nil, err
	}
	l.n++
	return row, nil
}

// heldWriter holds output back until 32 KiB or 200 ms have gathered, then
// passes it on and flushes. Until the first pass nothing has reached the
// client, so an early error can still be answered with its own status.
type heldWriter struct {
	w       http.ResponseWriter
	buf     []byte
	last    time.Time
	started bool
	err     error // the client's connection failed
}

const (
	holdBytes = 32 << 10
	holdTime  = 200 * time.Millisecond
)

func (h *heldWriter) Write(p []byte) (int, error) {
	if h.err != nil {
		return 0, h.err
	}
	h.buf = append(h.buf, p...)
	if len(h.buf) >= holdBytes || time.Since(h.last) >= holdTime {
		h.flush()
	}
	if h.err != nil {
		return 0, h.err
	}
	return len(p), nil
}

func (h *heldWriter) flush() {
	h.last = time.Now()
	if h.err != nil {
		return
	}
	if len(h.buf) > 0 || !h.started {
		h.started = true
		if _, err := h.w.Write(h.buf); err != nil {
			h.err = err
			return
		}
		h.buf = h.buf[:0]
	}
	if err := http.NewResponseController(h.w).Flush(); err != nil {
		h.err = err
	}
}

// writeJSONResult streams the JSON object of a result:
//
//	{"query_id": …, "columns": [{"name", "type"}…], "rows": [[…]…],
//	 "row_count": n, "truncated": bool, "status": "SELECT"[, "error": {…}]}
//
// Values are encoded by render's JSON writer (one line per row), whose
// objects are turned into arrays here, so JSON results look the same in
// every format edp writes.
func writeJSONResult(w io.Writer, run queryRun, status string, rows *limitRows) error {
	cols := rows.Columns()
	type column struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	cs := make([]column, len(cols))
	for i, col := range cols {
		cs[i] = column{col.Name, col.Type}
	}
	head, _ := json.Marshal(map[string]any{"query_id": run.id, "columns": cs})
	// Reopen the object to append the rows member.
	head = append(head[:len(head)-1], `,"rows":[`...)
	if _, err := w.Write(head); err != nil {
		return err
	}
	arr := &arrayLines{w: w}
	_, err := render.Write(arr, render.JSONL, rows, render.Options{})
	if err == nil {
		err = arr.err
	}
	if arr.err != nil {
		return arr.err
	}
	tail := map[string]any{"row_count": rows.n, "truncated": rows.truncated, "status": status}
	if rows.err != nil {
		cl := classify(userFault(rows.err), "")
		tail["error"] = map[string]string{"code": cl.body.Code, "message": cl.body.Message}
	}
	t, _ := json.Marshal(tail)
	t[0] = ','
	if _, werr := w.Write(append([]byte("\n]"), append(t, '\n')...)); werr != nil {
		return werr
	}
	return err
}

// arrayLines turns JSON lines of objects into comma-separated JSON arrays
// of their values, in order.
type arrayLines struct {
	w       io.Writer
	pending []byte
	out     []byte
	n       int64
	err     error
}

func (a *arrayLines) Write(p []byte) (int, error) {
	if a.err != nil {
		return 0, a.err
	}
	a.pending = append(a.pending, p...)
	a.out = a.out[:0]
	for {
		i := bytes.IndexByte(a.pending, '\n')
		if i < 0 {
			break
		}
		if a.n > 0 {
			a.out = append(a.out, ',')
		}
		a.out = append(a.out, '\n')
		var err error
		if a.out, err = appendValues(a.out, a.pending[:i]); err != nil {
			a.err = err
			return 0, err
		}
		a.n++
		a.pending = a.pending[i+1:]
	}
	// Keep the partial line at the start of the buffer.
	a.pending = append(a.pending[:0:0], a.pending...)
	if len(a.out) > 0 {
		if _, err := a.w.Write(a.out); err != nil {
			a.err = err
			return 0, err
		}
	}
	return len(p), nil
}

// appendValues appends the values of a JSON object, as an array.
func appendValues(out, obj []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return out, fmt.Errorf("encode row: not a JSON object")
	}
	out = append(out, '[')
	first := true
	for dec.More() {
		if _, err := dec.Token(); err != nil {
			return out, fmt.Errorf("encode row: %w", err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return out, fmt.Errorf("encode row: %w", err)
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, v...)
	}
	return append(out, ']'), nil
}

// errQueryCancelled is the cause of a query cancelled through the API.
var errQueryCancelled = errors.New("query cancelled")

func (a *API) listQueries(c *call) error {
	if p := c.params(); p.err != nil {
		return p.err
	}
	who := c.p.Name
	c.resource = "queries"
	if a.authz.Authorize(c.ctx(), policy.Admin, policy.Resource{System: policy.SystemJobs}) == nil {
		who = ""
	}
	return c.json(http.StatusOK, map[string]any{"queries": a.queries.list(who)})
}

func (a *API) cancelQuery(c *call) error {
	id := c.r.PathValue("id")
	c.resource = "query:" + id
	// Only admins may cancel others' queries; for anyone else another
	// user's query is as good as missing, so ids reveal nothing.
	admin := a.authz.Authorize(c.ctx(), policy.Admin, policy.Resource{System: policy.SystemJobs}) == nil
	q, ok := a.queries.get(c.p.Name, id, admin)
	if !ok {
		return newError(errNotFound, "no running query %q of yours", id)
	}
	q.cancel(fmt.Errorf("%w: %w by %s", context.Canceled, errQueryCancelled, c.p.Name))
	c.detail("owner", q.Principal)
	return c.json(http.StatusOK, map[string]any{"query_id": id, "cancelled": true})
}
