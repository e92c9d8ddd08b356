package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/edp-data/edp/internal/auth"
)

// Authentication methods as the metrics and audit name them.
const (
	methodMissing = "missing"
	methodAPIKey  = "api_key"
	methodToken   = "token"
	methodOIDC    = "oidc"
)

// authFailure is a refused credential: it answers 401 and says which
// method failed and why (the reason is for the audit log and server log
// only).
type authFailure struct {
	method string
	reason string
	err    error // wraps auth.ErrBadCredentials, or a server fault
}

func (e *authFailure) Error() string { return e.reason }
func (e *authFailure) Unwrap() error { return e.err }

// authenticate establishes the request's Principal from its Authorization
// header:
//
//   - "Bearer edp_…" is an API key (Store.AuthenticateAPIKey);
//   - any other bearer credential is a JWT. Its unverified "iss" claim only
//     chooses the verifier: the configured OIDC issuer goes to OIDC.Verify,
//     anything else to Tokens.Verify, which refuses issuers not its own.
//     A valid edp token's user is then looked up (Store.Principal), so a
//     removed or disabled user, or changed roles, apply at once although
//     tokens are stateless.
//
// Every failure is counted, and the caller audits it.
func (a *API) authenticate(r *http.Request) (auth.Principal, error) {
	p, err := a.credentials(r)
	if err == nil {
		return p, nil
	}
	var af *authFailure
	if !errors.As(err, &af) {
		af = &authFailure{method: methodMissing, reason: err.Error(), err: err}
	}
	a.opts.Metrics.AuthFailure(af.method)
	if !errors.Is(af.err, auth.ErrBadCredentials) {
		// A store or keyring fault is the server's, not the caller's.
		return auth.Principal{}, fmt.Errorf("authenticate: %w", af)
	}
	// Say expired or invalid, never which part of a credential was wrong.
	msg := "invalid credentials"
	switch {
	case af.method == methodMissing:
		msg = af.reason
	case af.method == methodAPIKey:
		msg = "invalid API key"
	case errors.Is(af.err, auth.ErrTokenExpired):
		msg = "token expired"
	case af.method == methodToken || af.method == methodOIDC:
		msg = "invalid token"
	}
	ae := newError(errUnauthenticated, "%s", msg)
	ae.err = af
	return auth.Principal{}, ae
}

func (a *API) credentials(r *http.Request) (auth.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return auth.Principal{}, &authFailure{methodMissing, "no credentials: send Authorization: Bearer <token or API key>", auth.ErrBadCredentials}
	}
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return auth.Principal{}, &authFailure{methodMissing, "unsupported authorization scheme: use Bearer", auth.ErrBadCredentials}
	}
	cred = strings.TrimSpace(cred)
	if cred == "" {
		return auth.Principal{}, &authFailure{methodMissing, "empty bearer credential", auth.ErrBadCredentials}
	}
	ctx := r.Context()
	if strings.HasPrefix(cred, auth.APIKeyPrefix) {
		p, err := a.opts.Users.AuthenticateAPIKey(ctx, cred)
		if err != nil {
			return auth.Principal{}, &authFailure{methodAPIKey, err.Error(), err}
		}
		return p, nil
	}
	iss, err := unverifiedIssuer(cred)
	if err != nil {
		return auth.Principal{}, &authFailure{methodToken, err.Error(), fmt.Errorf("%w: %v", auth.ErrBadCredentials, err)}
	}
	if a.opts.OIDC != nil && iss == a.opts.OIDC.Issuer() {
		p, err := a.opts.OIDC.Verify(ctx, cred)
		if err != nil {
			return auth.Principal{}, &authFailure{methodOIDC, err.Error(), err}
		}
		return p, nil
	}
	tp, err := a.opts.Tokens.Verify(cred)
	if err != nil {
		return auth.Principal{}, &authFailure{methodToken, err.Error(), err}
	}
	p, err := a.opts.Users.TokenPrincipal(ctx, tp.Name, tp.IssuedAt)
	if err != nil {
		return auth.Principal{}, &authFailure{methodToken, "token of an unknown or disabled user: " + err.Error(), err}
	}
	p.Method = auth.MethodToken
	return p, nil
}

// unverifiedIssuer reads a JWT's "iss" claim without checking anything.
// It only routes the token to a verifier, which then checks everything,
// the issuer included.
func unverifiedIssuer(tok string) (string, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", errors.New("malformed token: not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", errors.New("malformed token: payload is not base64url")
	}
	var claims struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		return "", errors.New("malformed token: payload is not a JSON object")
	}
	return claims.Iss, nil
}
