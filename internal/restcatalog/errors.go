package restcatalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/policy"
)

// Errors the protocol layer raises itself.
var (
	errBadRequest    = errors.New("bad request")
	errUnsupported   = errors.New("unsupported operation")
	errNoSuchPlan    = errors.New("no such plan")
	errNoSuchWarehse = errors.New("no such warehouse")
	errNotFound      = errors.New("not found")
	errPlanStoreFull = errors.New("too many scan plans held")
)

// badRequest is a 400 with a message.
func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}

// ErrorModel is the spec's ErrorModel; responses wrap it as
// {"error": ErrorModel} (IcebergErrorResponse).
type ErrorModel struct {
	Message string   `json:"message"`
	Type    string   `json:"type"`
	Code    int      `json:"code"`
	Stack   []string `json:"stack,omitempty"`
}

type errorResponse struct {
	Error ErrorModel `json:"error"`
}

// errorRule maps errors to an HTTP status and the spec's exception type.
type errorRule struct {
	status int
	typ    string
	match  func(error) bool
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

// errorRules is THE mapping from errors to the spec's responses; the first
// rule that matches wins. Types are those the spec's examples and the Java
// reference implementation use, which clients switch on.
var errorRules = []errorRule{
	{http.StatusUnauthorized, "NotAuthorizedException", is(auth.ErrBadCredentials)},
	{http.StatusForbidden, "ForbiddenException", is(policy.ErrDenied)},
	{http.StatusNotFound, "NoSuchWarehouseException", is(errNoSuchWarehse)},
	{http.StatusNotFound, "NoSuchPlanIdException", is(errNoSuchPlan)},
	{http.StatusNotFound, "NoSuchViewException", is(lake.ErrNoSuchView)},
	{http.StatusNotFound, "NoSuchTableException", is(lake.ErrNoSuchTable)},
	{http.StatusNotFound, "NoSuchNamespaceException", is(lake.ErrNoSuchNamespace)},
	{http.StatusNotFound, "NotFoundException", is(errNotFound)},
	{http.StatusConflict, "CommitFailedException", is(lake.ErrCommitFailed, table.ErrCommitDiverged)},
	{http.StatusConflict, "NamespaceNotEmptyException", is(lake.ErrNamespaceInUse)},
	{http.StatusConflict, "AlreadyExistsException", is(lake.ErrTableExists, lake.ErrNamespaceExists, lake.ErrViewExists)},
	{http.StatusNotAcceptable, "UnsupportedOperationException", is(errUnsupported, iceberg.ErrNotImplemented)},
	{http.StatusUnprocessableEntity, "UnprocessableEntityException", is(lake.ErrSetAndRemoved)},
	{http.StatusBadRequest, "BadRequestException", func(err error) bool {
		var mb *http.MaxBytesError
		return errors.Is(err, errBadRequest) || errors.Is(err, lake.ErrInvalid) ||
			errors.Is(err, iceberg.ErrInvalidArgument) || errors.As(err, &mb)
	}},
	{http.StatusServiceUnavailable, "ServiceUnavailableException", is(context.DeadlineExceeded, context.Canceled, errPlanStoreFull)},
}

// classify maps err to the response the spec prescribes. Errors no rule
// names are the server's: their text may name files or SQL, so the client
// gets a generic message and the log the whole error.
func classify(err error) (ErrorModel, bool) {
	for _, r := range errorRules {
		if r.match(err) {
			return ErrorModel{Message: err.Error(), Type: r.typ, Code: r.status}, true
		}
	}
	return ErrorModel{Message: "internal server error", Type: "InternalServerError", Code: http.StatusInternalServerError}, false
}

// WriteError writes an error response in the spec's format. The API uses
// it for the refusals it makes before a handler runs (bad credentials).
func WriteError(w http.ResponseWriter, status int, message string) {
	typ := "BadRequestException"
	for _, r := range errorRules {
		if r.status == status {
			typ = r.typ
			break
		}
	}
	if status >= 500 && status != http.StatusServiceUnavailable {
		typ = "InternalServerError"
	}
	writeModel(w, ErrorModel{Message: message, Type: typ, Code: status})
}

func writeModel(w http.ResponseWriter, m ErrorModel) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json")
	b, _ := json.Marshal(errorResponse{Error: m})
	w.WriteHeader(m.Code)
	w.Write(append(b, '\n'))
}

func notFoundNamespace(ns string) error {
	return fmt.Errorf("%w: %s", lake.ErrNoSuchNamespace, ns)
}

func notEmpty(ns string) error {
	return fmt.Errorf("%w: %s still holds views", lake.ErrNamespaceInUse, ns)
}

func lakeNoSuchView(id lake.Ident) error {
	return fmt.Errorf("%w: %s", lake.ErrNoSuchView, id)
}
