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

// Resource names what is acted on: a namespace, a table within one, or a
// platform object such as the user list or the audit log.
type Resource struct {
	Namespace string
	Table     string // empty for namespace-level actions
	// System, when set, names a platform object instead of data; Namespace
	// and Table are then empty. See the System* constants.
	System string
}

// Platform objects a Resource may name in its System field.
const (
	// SystemUsers is every account: adding, removing and listing users,
	// and managing another user's password or API keys.
	SystemUsers = "users"
	// SystemSelf is the caller's own account: its password and API keys.
	SystemSelf = "self"
	// SystemAudit is the audit log: reading and verifying it.
	SystemAudit = "audit"
	// SystemMetrics is the operational telemetry at /metrics.
	SystemMetrics = "metrics"
	// SystemJobs is the list of long-running operations of every user;
	// a user's own jobs and queries need no grant beyond authentication.
	SystemJobs = "jobs"
)

func (r Resource) String() string {
	if r.System != "" {
		return "system:" + r.System
	}
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
// writer may read and write rows, reader may read. Platform objects are the
// admin's, except that every role may manage its own account and read
// metrics. A context without a Principal is refused, so a caller that forgot
// to authenticate fails closed.
type Roles struct{}

var _ Authorizer = Roles{}

// Authorize implements Authorizer.
func (Roles) Authorize(ctx context.Context, action Action, res Resource) error {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return fmt.Errorf("%w: %s %s: no authenticated principal", ErrDenied, action, res)
	}
	anyRole := p.HasRole(auth.RoleAdmin) || p.HasRole(auth.RoleWriter) || p.HasRole(auth.RoleReader)
	switch {
	case p.HasRole(auth.RoleAdmin):
		return nil
	case res.System != "":
		if anyRole && (res.System == SystemSelf || (res.System == SystemMetrics && action == Read)) {
			return nil
		}
	case p.HasRole(auth.RoleWriter) && (action == Read || action == Write):
		return nil
	case p.HasRole(auth.RoleReader) && action == Read:
		return nil
	}
	return fmt.Errorf("%w: %s may not %s %s", ErrDenied, p.Name, action, res)
}
