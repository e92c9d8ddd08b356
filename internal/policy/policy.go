// Package policy is the one decision point for authorization: every read,
// write and DDL in lake/ and query/ asks an Authorizer before it acts. The
// embedded default decides by role; an OPA-backed Authorizer can replace it
// without touching callers.
//
// Imported by lake/, query/ and the wiring in server/ and cli/.
package policy

import (
	"context"
	"errors"
	"fmt"

	"github.com/edp-data/edp/internal/auth"
)

// ErrDenied is wrapped by every refusal so callers can map it to a
// permission error in their protocol.
var ErrDenied = errors.New("permission denied")

// Action is what a principal wants to do.
type Action string

const (
	Read  Action = "read"  // select rows, list and describe
	Write Action = "write" // insert, update, delete, merge, load
	Admin Action = "admin" // create, alter, drop, rollback
)

// Resource names what is acted on: a namespace, or a table within one.
type Resource struct {
	Namespace string
	Table     string // empty for namespace-level actions
}

func (r Resource) String() string {
	if r.Table == "" {
		return r.Namespace
	}
	return r.Namespace + "." + r.Table
}

// Authorizer decides whether the principal in ctx may perform action on res.
// It returns nil to allow, or an error wrapping ErrDenied.
type Authorizer interface {
	Authorize(ctx context.Context, action Action, res Resource) error
}

// Roles is the embedded role-based Authorizer: admin may do anything,
// writer may read and write rows, reader may read. A context without a
// Principal is refused, so a caller that forgot to authenticate fails closed.
type Roles struct{}

var _ Authorizer = Roles{}

// Authorize implements Authorizer.
func (Roles) Authorize(ctx context.Context, action Action, res Resource) error {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return fmt.Errorf("%w: %s %s: no authenticated principal", ErrDenied, action, res)
	}
	switch {
	case p.HasRole(auth.RoleAdmin):
		return nil
	case p.HasRole(auth.RoleWriter) && (action == Read || action == Write):
		return nil
	case p.HasRole(auth.RoleReader) && action == Read:
		return nil
	}
	return fmt.Errorf("%w: %s may not %s %s", ErrDenied, p.Name, action, res)
}
