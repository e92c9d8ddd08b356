// Package auth defines who is asking: the Principal that rides in every
// request's context. Later it also holds passwords, API keys and tokens; for
// now it carries the local operator's identity from the CLI.
//
// Any internal package may import auth; auth imports nothing from internal/.
package auth

import (
	"context"
	"os/user"
	"slices"
)

// Role names. Authorization decisions are made by package policy; these are
// only the labels a Principal carries.
const (
	RoleAdmin  = "admin"
	RoleWriter = "writer"
	RoleReader = "reader"
)

// Principal is an authenticated identity.
type Principal struct {
	Name  string
	Roles []string
}

// HasRole reports whether p carries role r.
func (p Principal) HasRole(r string) bool { return slices.Contains(p.Roles, r) }

type ctxKey struct{}

// WithPrincipal returns a context that carries p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the Principal in ctx and whether there was one.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// LocalOperator is the Principal of someone running edp directly against a
// data directory they can already read and write on disk: file permissions
// have authenticated them, so they hold the admin role.
func LocalOperator() Principal {
	name := "local"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return Principal{Name: name, Roles: []string{RoleAdmin}}
}
