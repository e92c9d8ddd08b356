package api

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/duckdb/duckdb-go/v2"
	"modernc.org/sqlite"

	"github.com/edp-data/edp/internal/audit"
	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/ingest"
	"github.com/edp-data/edp/internal/jobs"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/maintain"
	"github.com/edp-data/edp/internal/policy"
	"github.com/edp-data/edp/internal/query"
	"github.com/edp-data/edp/internal/query/sqlstmt"
	"github.com/edp-data/edp/internal/stream"
)

// Error codes of the error body. They are part of the API: clients switch
// on them, so they never change meaning.
const (
	CodeInvalidArgument      = "invalid_argument"
	CodeUnauthenticated      = "unauthenticated"
	CodePermissionDenied     = "permission_denied"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeNotAcceptable        = "not_acceptable"
	CodeAlreadyExists        = "already_exists"
	CodeConflict             = "conflict"
	CodePayloadTooLarge      = "payload_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeCancelled            = "cancelled"
	CodeTimeout              = "timeout"
	CodeUnavailable          = "unavailable"
	CodeInternal             = "internal"
)

// StatusClientClosedRequest is the non-standard 499 (nginx's "client closed
// request") answered for a cancelled request or query.
const StatusClientClosedRequest = 499

// Errors the API itself raises; each maps to one code below.
var (
	errInvalid          = errors.New("invalid argument")
	errUnauthenticated  = errors.New("unauthenticated")
	errNotFound         = errors.New("not found")
	errNotAcceptable    = errors.New("not acceptable")
	errUnsupportedMedia = errors.New("unsupported media type")
	errTooLarge         = errors.New("payload too large")
	errUnavailable      = errors.New("unavailable")
	errAlreadyExists    = errors.New("already exists")
	errMethod           = errors.New("method not allowed")
)

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// errorRule is one line of the error mapping: errors that match answer
// with status and code. The rules are tried in order and the first match
// wins, so the specific come before the general (a denied load is 403, not
// the 400 of its bad input).
type errorRule struct {
	code   string
	status int
	// from says, for the OpenAPI description, which errors map here.
	from  string
	match func(error) bool
}

func is(targets ...error) func(error) bool {
	return func(err error) bool {
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
}

func as[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}

// errorRules is THE mapping from errors to HTTP statuses and codes. Every
// response of the API goes through classify, and the OpenAPI document's
// description lists these rules (see errorTable), so the two cannot drift.
var errorRules = []errorRule{
	{CodeUnavailable, http.StatusServiceUnavailable, "server draining, shutting down, too many jobs running, or the audit log cannot be written",
		is(errUnavailable, jobs.ErrShuttingDown, jobs.ErrBusy)},
	{CodeTimeout, http.StatusServiceUnavailable, "context.DeadlineExceeded: a query or request ran past its timeout (the message says so)",
		is(context.DeadlineExceeded)},
	{CodeCancelled, StatusClientClosedRequest, "context.Canceled: the client went away or the query was cancelled",
		is(context.Canceled)},
	{CodePayloadTooLarge, http.StatusRequestEntityTooLarge, "*http.MaxBytesError: a body or upload over its limit",
		func(err error) bool { return errors.Is(err, errTooLarge) || as[*http.MaxBytesError](err) }},
	{CodeUnauthenticated, http.StatusUnauthorized, "auth.ErrBadCredentials: missing, malformed, expired or revoked credentials",
		is(errUnauthenticated, auth.ErrBadCredentials)},
	{CodePermissionDenied, http.StatusForbidden, "policy.ErrDenied; query.ErrRefused (SQL the sandbox refuses)",
		is(policy.ErrDenied, query.ErrRefused)},
	{CodeNotFound, http.StatusNotFound, "lake.ErrNoSuchTable, lake.ErrNoSuchNamespace, auth.ErrNotFound, jobs.ErrNotFound, stream.ErrNotFound, unknown route or query",
		is(errNotFound, lake.ErrNoSuchTable, lake.ErrNoSuchNamespace, auth.ErrNotFound, jobs.ErrNotFound, stream.ErrNotFound)},
	{CodeMethodNotAllowed, http.StatusMethodNotAllowed, "a method the path does not serve (the Allow header lists those it does)",
		is(errMethod)},
	{CodeNotAcceptable, http.StatusNotAcceptable, "an Accept header naming no format the route can write",
		is(errNotAcceptable)},
	{CodeUnsupportedMediaType, http.StatusUnsupportedMediaType, "a request body of the wrong Content-Type",
		is(errUnsupportedMedia)},
	{CodeAlreadyExists, http.StatusConflict, "lake.ErrTableExists, lake.ErrNamespaceExists, auth.ErrExists, stream.ErrExists, a query id in use",
		is(errAlreadyExists, lake.ErrTableExists, lake.ErrNamespaceExists, auth.ErrExists, stream.ErrExists)},
	{CodeConflict, http.StatusConflict, "iceberg-go table.ErrCommitFailed / ErrCommitDiverged (a concurrent commit won; retry), lake.ErrNamespaceInUse",
		isConflict},
	{CodeInvalidArgument, http.StatusBadRequest, "lake.ErrInvalid, auth.ErrInvalid, ingest.ErrBadInput, audit.ErrInvalid, stream.ErrInvalid, stream.ErrBadRecords, iceberg.ErrInvalidArgument, SQL parse/binder/conversion errors, malformed JSON or parameters",
		func(err error) bool {
			return is(errInvalid, lake.ErrInvalid, auth.ErrInvalid, ingest.ErrBadInput, audit.ErrInvalid, stream.ErrInvalid, stream.ErrBadRecords,
				iceberg.ErrInvalidArgument, iceberg.ErrInvalidSchema, auth.ErrAPIKeyFormat)(err) ||
				as[*sqlstmt.SyntaxError](err) || as[*sqlstmt.UnsupportedError](err) || as[*userError](err) ||
				as[*json.SyntaxError](err) || as[*json.UnmarshalTypeError](err)
		}},
}

// internalRule answers everything the rules above do not match.
var internalRule = errorRule{CodeInternal, http.StatusInternalServerError, "anything else; the message is generic and the error is logged with the request id", nil}

// isConflict reports a commit that lost a race with another writer, a
// namespace that still holds tables, or a table already being maintained.
func isConflict(err error) bool {
	return lake.IsConflict(err) || errors.Is(err, lake.ErrNamespaceInUse) || errors.Is(err, maintain.ErrBusy)
}

// ruleFor returns the rule an error maps to.
func ruleFor(err error) errorRule {
	for _, r := range errorRules {
		if r.match(err) {
			return r
		}
	}
	return internalRule
}

// apiError is an error with an explicit place in the mapping: handlers
// build them for conditions no sentinel names, and classify reads them.
type apiError struct {
	err     error // wraps one of the API's sentinels, so ruleFor finds the code
	msg     string
	details map[string]any
	header  http.Header // extra response headers, e.g. Allow
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.err }

// newError makes an error of kind (one of the API's sentinels) with a
// message for the client.
func newError(kind error, format string, args ...any) *apiError {
	return &apiError{err: kind, msg: fmt.Sprintf(format, args...)}
}

func invalidf(format string, args ...any) error { return newError(errInvalid, format, args...) }

// userError marks an error raised while running a user's statement or
// change as the user's fault; see userFault.
type userError struct{ err error }

func (e *userError) Error() string { return e.err.Error() }
func (e *userError) Unwrap() error { return e.err }

// userFault decides whose fault an error from running a user's SQL
// statement (or a schema change or rollback they described) is.
//
// The rule: such an error is the user's — 400 invalid_argument with
// DuckDB's or edp's own message — unless the one mapping already knows it
// (denied, not found, conflict, timeout …) or it is one of the known
// internal kinds: an I/O or file-system error, a network error, a broken
// database connection, a SQLite (catalog) error, or a DuckDB error of an
// internal type (IO, Internal, Fatal, OutOfMemory, Connection, …). DuckDB
// tags parse, binder, catalog, conversion and constraint errors with types
// of their own, and edp's statement checks (sqlstmt, the sandbox, lake's
// validation) return plain or sentinel errors; listing the internal kinds
// rather than the user's keeps a new user-facing check at 400 without
// registering it here, while anything that smells of the server stays 500.
func userFault(err error) error {
	if err == nil || ruleFor(err).status != http.StatusInternalServerError || internalKind(err) {
		return err
	}
	return &userError{err: err}
}

func internalKind(err error) bool {
	var de *duckdb.Error
	if errors.As(err, &de) {
		switch de.Type {
		case duckdb.ErrorTypeParser, duckdb.ErrorTypeSyntax, duckdb.ErrorTypeBinder, duckdb.ErrorTypeCatalog,
			duckdb.ErrorTypeConversion, duckdb.ErrorTypeOutOfRange, duckdb.ErrorTypeInvalidInput,
			duckdb.ErrorTypeMismatchType, duckdb.ErrorTypeInvalidType, duckdb.ErrorTypeDivideByZero,
			duckdb.ErrorTypeConstraint, duckdb.ErrorTypeNotImplemented, duckdb.ErrorTypeDecimal,
			duckdb.ErrorTypeExpression, duckdb.ErrorTypePlanner, duckdb.ErrorTypeParameterNotResolved,
			duckdb.ErrorTypeParameterNotAllowed, duckdb.ErrorTypeUnknownType, duckdb.ErrorTypeInvalid,
			duckdb.ErrorTypeSequence, duckdb.ErrorTypeDependency:
			return false
		}
		return true
	}
	var se *sqlite.Error
	var ne net.Error
	return errors.As(err, &se) || errors.As(err, &ne) || as[*fs.PathError](err) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, sql.ErrTxDone) ||
		errors.Is(err, audit.ErrClosed) || errors.Is(err, fs.ErrPermission)
}

// classified is an error's place in the mapping and the body to send.
type classified struct {
	status int
	body   ErrorBody
	header http.Header
}

// classify maps err to its status and body. Internal errors get a generic
// message: their text may name files, SQL or hosts, which is for the log.
func classify(err error, requestID string) classified {
	r := ruleFor(err)
	c := classified{status: r.status, body: ErrorBody{Code: r.code, Message: err.Error()}}
	var ae *apiError
	if errors.As(err, &ae) {
		c.body.Details, c.header = ae.details, ae.header
	}
	switch r.code {
	case CodeInternal:
		c.body.Message = "internal error; the server log has the details under this request id"
		c.body.Details = map[string]any{"request_id": requestID}
	case CodeUnauthenticated:
		c.header = http.Header{"Www-Authenticate": {`Bearer realm="edp"`}}
		if ae == nil {
			// Credential errors carry reasons (which key, why) that are for
			// the log; the client learns only what it can act on.
			c.body.Message = "invalid credentials"
			if errors.Is(err, auth.ErrTokenExpired) {
				c.body.Message = "token expired"
			}
		}
	case CodePayloadTooLarge:
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			c.body.Message = fmt.Sprintf("request body is larger than the limit of %d bytes", mb.Limit)
		}
	}
	return c
}

// writeErrorBody writes an error response on w. It is the only place that
// writes error bodies, so they all look alike.
func writeErrorBody(w http.ResponseWriter, c classified) {
	h := w.Header()
	// Headers a handler set for a success it did not reach (a stream's
	// content type, declared trailers) must not leak into the error.
	for k := range h {
		if k != "X-Request-Id" && k != "Edp-Query-Id" {
			delete(h, k)
		}
	}
	for k, v := range c.header {
		h[k] = v
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	b, _ := json.Marshal(c.body)
	w.WriteHeader(c.status)
	w.Write(append(b, '\n'))
}

// errorTable renders the mapping as a Markdown table for the OpenAPI
// description.
func errorTable() string {
	var b strings.Builder
	b.WriteString("| code | HTTP status | raised for |\n|---|---|---|\n")
	for _, r := range append(errorRules, internalRule) {
		fmt.Fprintf(&b, "| `%s` | %d | %s |\n", r.code, r.status, r.from)
	}
	return b.String()
}
