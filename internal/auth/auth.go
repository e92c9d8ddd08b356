// Package auth defines who is asking: the Principal that rides in every
// request's context, and how a server establishes it.
//
//   - Passwords: HashPassword makes argon2id hashes in PHC string format;
//     VerifyPassword also accepts PBKDF2-SHA256 hashes imported from other
//     systems (PHC, passlib and Django forms); ValidatePassword is the
//     length policy for new passwords.
//   - API keys: NewAPIKey makes "edp_" keys whose CRC-32 checksum lets
//     ParseAPIKey reject a mistyped key before any lookup; only their
//     SHA-256 is stored.
//   - Store keeps users (name, password hash, roles) and API keys in edp's
//     metadata database and turns credentials into a Principal. Every
//     refusal wraps ErrBadCredentials, so a server can answer them alike.
//   - Tokens issues and verifies short-lived access tokens: JWTs signed
//     with Ed25519 keys from a keyring file in the data directory, rotated
//     without logging anyone out. They are stateless, so a server looks the
//     user up again (Store.Principal) on every request that carries one.
//   - OIDC verifies bearer JWTs issued by an organisation's OpenID Connect
//     provider (discovery, JWKS, issuer, audience, expiry) and maps a claim
//     of the token (groups, say) to edp roles.
//
// The CLI, run by someone the file system has already authenticated, uses
// LocalOperator instead.
//
// Any internal package may import auth; auth imports nothing from internal/.
package auth

import (
	"context"
	"os/user"
	"slices"
	"time"
)

// Role names. Authorization decisions are made by package policy; these are
// only the labels a Principal carries.
const (
	RoleAdmin  = "admin"
	RoleWriter = "writer"
	RoleReader = "reader"
)

// How a Principal was authenticated: the values of Principal.Method. Audit
// records carry it, and a server may treat methods differently (only a
// password login, say, may be exchanged for a token).
const (
	MethodPassword = "password"
	MethodAPIKey   = "api_key"
	MethodToken    = "token"
	MethodOIDC     = "oidc"
	MethodLocal    = "local"
)

// Principal is an authenticated identity.
type Principal struct {
	Name  string
	Roles []string
	// IssuedAt is when the credential was issued, for access tokens
	// (MethodToken); zero otherwise.
	IssuedAt time.Time
	// Method is how the identity was established, one of the Method
	// constants.
	Method string
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
	return Principal{Name: name, Roles: []string{RoleAdmin}, Method: MethodLocal}
}
