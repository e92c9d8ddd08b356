package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/edp-data/edp/internal/audit"
	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/policy"
	"github.com/edp-data/edp/internal/telemetry"
)

// call is one request to one route. Handlers fill in what the audit entry
// should say (resource, details) and answer through c.w; the first byte
// written — success or error, by any path — first appends the entry (see
// auditWriter), so no handler can answer without recording.
type call struct {
	api *API
	rt  *route
	r   *http.Request
	w   *auditWriter
	p   auth.Principal

	action   string // the route's operation id, or "authenticate"
	resource string
	details  map[string]any
	// auditPrincipal overrides p.Name in the entry (a login names the
	// user it authenticated).
	auditPrincipal string
	// readOnly marks a POST that changed nothing (a SELECT), for the
	// message when its audit entry cannot be written.
	readOnly bool
	// err is the error answered, for the audit details.
	err *classified
	// notes are what a mounted route's handler noted for the entry.
	notes *audit.Notes
}

func (c *call) ctx() context.Context { return c.r.Context() }

func (c *call) requestID() string { return telemetry.RequestID(c.ctx()) }

// detail adds a key to the audit entry's details.
func (c *call) detail(k string, v any) {
	if c.details == nil {
		c.details = map[string]any{}
	}
	c.details[k] = v
}

// authorize asks the one authorizer about a platform object.
func (c *call) authorize(action policy.Action, system string) error {
	if c.resource == "" {
		c.resource = "system:" + system
	}
	return c.api.authz.Authorize(c.ctx(), action, policy.Resource{System: system})
}

// endpoint wraps a route's handler: authentication, the audit recorder,
// panic recovery and the error path.
func (a *API) endpoint(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{api: a, rt: rt, r: r, action: rt.op}
		c.w = &auditWriter{ResponseWriter: w, c: c}
		if rt.mounted {
			mountNotes(c)
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.ErrorContext(r.Context(), "panic in handler", "route", rt.pattern, "panic", v, "stack", string(debug.Stack()))
				if c.w.wroteHeader {
					// Mid-response: cut the connection, so the client
					// cannot take a truncated body for a whole one.
					panic(http.ErrAbortHandler)
				}
				c.fail(fmt.Errorf("panic: %v", v))
			}
			// A handler that wrote nothing answered 200 with no body; the
			// audit entry is still due.
			if !c.w.wroteHeader {
				c.w.WriteHeader(http.StatusOK)
			}
		}()
		if !rt.public {
			p, err := a.authenticate(r)
			if err != nil {
				c.action = "authenticate"
				var af *authFailure
				if errors.As(err, &af) {
					c.detail("method", af.method)
					c.detail("reason", af.reason)
				}
				c.detail("route", rt.method+" "+rt.pattern)
				c.fail(err)
				return
			}
			stateFrom(r.Context()).principal = p.Name
			c.p = p
			c.r = c.r.WithContext(auth.WithPrincipal(c.r.Context(), p))
		}
		if err := rt.handle(c); err != nil {
			c.fail(err)
		}
	})
}

// fail answers err through the one mapping. After the response has
// started it can only log: the status is already on the wire (streaming
// handlers report such errors in the body and trailers themselves).
func (c *call) fail(err error) {
	cl := classify(err, c.requestID())
	if cl.status == http.StatusInternalServerError {
		c.api.log.ErrorContext(c.ctx(), "internal error", "route", c.rt.pattern, "err", err, "request_id", c.requestID())
	}
	if c.w.wroteHeader {
		if !c.w.failed {
			c.api.log.WarnContext(c.ctx(), "error after the response started", "route", c.rt.pattern, "err", err)
		}
		return
	}
	c.err = &cl
	c.writeError(c.w, cl)
}

// writeError writes cl in the route's error format.
func (c *call) writeError(w http.ResponseWriter, cl classified) {
	if c.rt.writeError != nil {
		c.rt.writeError(w, cl.status, cl.body.Message)
		return
	}
	writeErrorBody(w, cl)
}

// outcome is the audit outcome of a response status.
func outcome(status int) string {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return audit.OutcomeDenied
	case status < 400:
		return audit.OutcomeSuccess
	}
	return audit.OutcomeError
}

// record appends the call's audit entry for a response with status. It
// runs once, just before the status line is written.
func (c *call) record(status int) error {
	switch {
	case c.rt.audit == auditNever:
		return nil
	case c.rt.audit == auditFailures && status < 400:
		return nil
	}
	rec := audit.Record{
		Principal: c.p.Name, Action: c.action, Resource: c.resource,
		Outcome: outcome(status), Details: c.details,
	}
	if c.auditPrincipal != "" {
		rec.Principal = c.auditPrincipal
	}
	if rec.Details == nil {
		rec.Details = map[string]any{}
	}
	if c.notes != nil {
		res, principal, details := c.notes.Read()
		if res != "" {
			rec.Resource = res
		}
		if principal != "" && rec.Principal == "" {
			rec.Principal = principal
		}
		for k, v := range details {
			rec.Details[k] = v
		}
	}
	rec.Details["request_id"] = c.requestID()
	rec.Details["http_status"] = status
	if c.err != nil {
		rec.Details["error"] = map[string]any{"code": c.err.body.Code, "message": c.err.body.Message}
	}
	// The entry must be written even if the client has gone: the action
	// it records may already have happened.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx()), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.api.opts.Audit.Append(ctx, rec)
	c.api.opts.Metrics.ObserveAuditAppend(time.Since(start), err)
	return err
}

// auditWriter appends the call's audit entry before the first byte of the
// response. If that fails the response becomes a 503 and whatever the
// handler writes next is dropped: an action that cannot be recorded is not
// acknowledged.
type auditWriter struct {
	http.ResponseWriter
	c           *call
	wroteHeader bool
	failed      bool // the audit append failed; the handler's output is discarded
	status      int
}

// errNotRecorded stops a streaming handler whose response was replaced.
var errNotRecorded = errors.New("response replaced: the audit entry could not be written")

func (w *auditWriter) WriteHeader(status int) {
	if w.wroteHeader || status < 200 {
		return
	}
	w.wroteHeader, w.status = true, status
	err := w.c.record(status)
	if err == nil {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.failed = true
	c := w.c
	done := status < 300 && c.r.Method != http.MethodGet && c.r.Method != http.MethodHead && !c.readOnly
	c.api.log.ErrorContext(c.ctx(), "audit append failed", "action", c.action, "principal", c.p.Name,
		"resource", c.resource, "status", status, "action_done", done, "err", err, "request_id", c.requestID())
	msg := "the request was refused because it could not be recorded in the audit log"
	if done {
		msg = "the action was carried out but could not be recorded in the audit log"
	}
	ae := newError(errUnavailable, "%s", msg)
	ae.details = map[string]any{"action_done": done, "request_id": c.requestID()}
	c.writeError(w.ResponseWriter, classify(ae, c.requestID()))
}

func (w *auditWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed {
		return 0, errNotRecorded
	}
	return w.ResponseWriter.Write(b)
}

func (w *auditWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.failed {
		http.NewResponseController(w.ResponseWriter).Flush()
	}
}

func (w *auditWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// json answers status with v as a JSON body.
func (c *call) json(status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	c.w.Header().Set("Content-Type", "application/json")
	c.w.WriteHeader(status)
	c.w.Write(append(b, '\n'))
	return nil
}

// noContent answers 204.
func (c *call) noContent() error {
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// decode reads a JSON request body into dst: Content-Type must be
// application/json, the body at most Limits.MaxBodyBytes, every field
// known, and nothing may follow the object. Messages name the field.
func (c *call) decode(dst any) error {
	ct := c.r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return newError(errUnsupportedMedia, "Content-Type must be application/json, got %q", ct)
	}
	body := http.MaxBytesReader(c.w, c.r.Body, c.api.opts.Limits.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return err
		}
		return invalidf("request body: unexpected data after the JSON object")
	}
	return nil
}

// jsonError turns a decoding error into a message that names the field.
func jsonError(err error) error {
	var (
		se *json.SyntaxError
		te *json.UnmarshalTypeError
		mb *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mb):
		return err
	case errors.Is(err, io.EOF):
		return invalidf("request body is empty; want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalidf("request body: malformed JSON: unexpected end of input")
	case errors.As(err, &se):
		return invalidf("request body: malformed JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		if te.Field == "" {
			return invalidf("request body: want a JSON object, got %s", te.Value)
		}
		return invalidf("request body: field %q: want %s, got %s", te.Field, te.Type, te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return invalidf("request body: unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return invalidf("request body: %v", err)
}

// Query parameters. Unknown parameters are refused, like unknown JSON
// fields: a misspelt limit must not silently mean "no limit".
type params struct {
	c   *call
	err error
}

func (c *call) params(allowed ...string) *params {
	p := &params{c: c}
	for k := range c.r.URL.Query() {
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok && p.err == nil {
			p.err = invalidf("unknown query parameter %q (this route takes %s)", k, strings.Join(allowed, ", "))
		}
	}
	return p
}

func (p *params) str(name string) string { return p.c.r.URL.Query().Get(name) }

func (p *params) boolean(name string) bool {
	v := p.str(name)
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil && p.err == nil {
		p.err = invalidf("query parameter %s=%q: want true or false", name, v)
	}
	return b
}

// int64 parses an optional integer at least min; ok is false when absent.
func (p *params) int64(name string, min int64) (v int64, ok bool) {
	s := p.str(name)
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if (err != nil || v < min) && p.err == nil {
		p.err = invalidf("query parameter %s=%q: want an integer ≥ %d", name, s, min)
	}
	return v, true
}

func (p *params) time(name string) time.Time {
	s := p.str(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil && p.err == nil {
		p.err = invalidf("query parameter %s=%q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", name, s)
	}
	return t
}
