package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
)

// OIDC defaults.
const (
	DefaultOIDCRolesClaim = "groups"
	oidcHTTPTimeout       = 10 * time.Second
	maxOIDCUserNameLen    = 256 // bytes
)

// defaultUsernameClaims are tried in order when OIDCOptions.UsernameClaim is
// empty: the login name if the provider sends one, else the address, else
// the opaque but always present subject.
var defaultUsernameClaims = []string{"preferred_username", "email", "sub"}

// OIDCOptions configures NewOIDC.
type OIDCOptions struct {
	// Issuer is the provider's issuer URL, exactly as its discovery
	// document and its tokens spell it.
	Issuer string
	// Audience is the client id tokens must be issued to (their aud);
	// required.
	Audience string
	// UsernameClaim names the claim that becomes Principal.Name. Empty:
	// "preferred_username", falling back to "email", then "sub". A claim
	// named here has no fallback.
	UsernameClaim string
	// RolesClaim names the claim whose values RoleMap maps to edp roles
	// (DefaultOIDCRolesClaim). A dotted path such as "realm_access.roles"
	// reaches into nested objects. Its value is a string or an array of
	// strings.
	RolesClaim string
	// RoleMap maps a value of RolesClaim to an edp role (RoleAdmin,
	// RoleWriter or RoleReader). Values not in it grant nothing.
	RoleMap map[string]string
	// HTTPClient fetches the discovery document and the signing keys. Nil:
	// a client with a 10-second timeout.
	HTTPClient *http.Client
	// Clock replaces time.Now in the expiry check and the key refetch
	// limit, for tests.
	Clock func() time.Time
}

// OIDC verifies bearer JWTs (ID tokens or JWT access tokens) issued by an
// organisation's OpenID Connect provider, with edp as the resource server:
// it never sees a password, only tokens the provider has signed. The
// provider's signing keys are fetched once and refetched when a token names
// a key not yet seen, so the provider can rotate them.
//
// OIDC is safe for concurrent use.
type OIDC struct {
	issuer         string
	verifier       *oidc.IDTokenVerifier
	usernameClaims []string
	rolesClaim     string
	roleMap        map[string]string
}

// NewOIDC checks opts and fetches the provider's discovery document
// (issuer/.well-known/openid-configuration). An error names the issuer.
func NewOIDC(ctx context.Context, opts OIDCOptions) (*OIDC, error) {
	u, err := url.Parse(opts.Issuer)
	if opts.Issuer == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%w: OIDC issuer %q is not an http(s) URL", ErrInvalid, opts.Issuer)
	}
	if opts.Audience == "" {
		return nil, fmt.Errorf("%w: OIDC issuer %s: the audience (client id) is required", ErrInvalid, opts.Issuer)
	}
	if len(opts.RoleMap) == 0 {
		return nil, fmt.Errorf("%w: OIDC issuer %s: the role map is empty, so no token could be accepted", ErrInvalid, opts.Issuer)
	}
	roleMap := make(map[string]string, len(opts.RoleMap))
	for from, role := range opts.RoleMap {
		if role != RoleAdmin && role != RoleWriter && role != RoleReader {
			return nil, fmt.Errorf("%w: OIDC issuer %s: role map: %q maps to unknown role %q (want %s, %s or %s)",
				ErrInvalid, opts.Issuer, from, role, RoleAdmin, RoleWriter, RoleReader)
		}
		roleMap[from] = role
	}
	o := &OIDC{
		issuer:         opts.Issuer,
		usernameClaims: defaultUsernameClaims,
		rolesClaim:     opts.RolesClaim,
		roleMap:        roleMap,
	}
	if opts.UsernameClaim != "" {
		o.usernameClaims = []string{opts.UsernameClaim}
	}
	if o.rolesClaim == "" {
		o.rolesClaim = DefaultOIDCRolesClaim
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: oidcHTTPTimeout}
	}
	// go-oidc refetches the key set for every token naming a key it does
	// not know. Such tokens cost an attacker nothing to make, so the
	// fetches go through a limiter that answers from the last response
	// for a while instead of calling the provider again.
	limited := *client
	now := opts.Clock
	if now == nil {
		now = time.Now
	}
	limited.Transport = &fetchLimiter{base: client.Transport, every: OIDCRefetchInterval, now: now}
	client = &limited
	// The provider keeps the client for its key fetches, which therefore
	// do not depend on ctx, the context of this call only.
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), opts.Issuer)
	if err != nil {
		return nil, fmt.Errorf("OIDC discovery for issuer %s: %w", opts.Issuer, err)
	}
	o.verifier = provider.Verifier(&oidc.Config{ClientID: opts.Audience, Now: opts.Clock})
	return o, nil
}

// OIDCPrincipalPrefix starts the name of every Principal from OIDC.
const OIDCPrincipalPrefix = "oidc:"

// OIDCRefetchInterval is how often at most the provider's discovery
// document and keys are fetched. A key the provider rotates in is
// accepted at most this long after its first token arrives.
const OIDCRefetchInterval = 10 * time.Second

// fetchLimiter is an http.RoundTripper that performs a GET of a URL at
// most once per interval, answering repeats in between from the last
// successful response.
type fetchLimiter struct {
	base  http.RoundTripper
	every time.Duration
	now   func() time.Time

	mu    sync.Mutex
	cache map[string]fetched
}

type fetched struct {
	at     time.Time
	status int
	header http.Header
	body   []byte
}

func (f *fetchLimiter) RoundTrip(req *http.Request) (*http.Response, error) {
	base := f.base
	if base == nil {
		base = http.DefaultTransport
	}
	if req.Method != http.MethodGet {
		return base.RoundTrip(req)
	}
	key := req.URL.String()
	f.mu.Lock()
	c, ok := f.cache[key]
	f.mu.Unlock()
	if ok && f.now().Sub(c.at) < f.every {
		return c.response(req), nil
	}
	resp, err := base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	c = fetched{at: f.now(), status: resp.StatusCode, header: resp.Header.Clone(), body: body}
	f.mu.Lock()
	if f.cache == nil {
		f.cache = map[string]fetched{}
	}
	f.cache[key] = c
	f.mu.Unlock()
	return c.response(req), nil
}

func (c fetched) response(req *http.Request) *http.Response {
	return &http.Response{StatusCode: c.status, Status: http.StatusText(c.status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: c.header.Clone(), Body: io.NopCloser(bytes.NewReader(c.body)), ContentLength: int64(len(c.body)), Request: req}
}

// Issuer returns the issuer URL tokens must come from.
func (o *OIDC) Issuer() string { return o.issuer }

// Verify checks raw's signature against the provider's keys, its issuer,
// audience and expiry, and returns the Principal its claims describe, with
// Method MethodOIDC and the edp roles RoleMap gives its roles claim, sorted
// and without duplicates. A token that maps to no edp role is refused.
// Every refusal wraps ErrBadCredentials; an expired token wraps
// ErrTokenExpired too.
func (o *OIDC) Verify(ctx context.Context, raw string) (Principal, error) {
	tok, err := o.verifier.Verify(ctx, raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		if errors.As(err, &expired) {
			return Principal{}, fmt.Errorf("%w at %s (OIDC)", ErrTokenExpired, expired.Expiry.UTC().Format(time.RFC3339))
		}
		return Principal{}, fmt.Errorf("%w: OIDC token: %v", ErrBadCredentials, err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return Principal{}, fmt.Errorf("%w: OIDC token claims: %v", ErrBadCredentials, err)
	}
	name, err := o.username(claims)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: OIDC token: %v", ErrBadCredentials, err)
	}
	values, err := claimStrings(claims, o.rolesClaim)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: OIDC token for %q: %v", ErrBadCredentials, name, err)
	}
	var roles []string
	for _, v := range values {
		if r, ok := o.roleMap[v]; ok {
			roles = append(roles, r)
		}
	}
	if len(roles) == 0 {
		return Principal{}, fmt.Errorf("%w: OIDC token for %q: no edp role mapped from claim %s (%d values, none in the role map)",
			ErrBadCredentials, name, o.rolesClaim, len(values))
	}
	slices.Sort(roles)
	// The prefix keeps identities from the provider apart from local
	// accounts (whose names cannot contain ':'): an OIDC user called
	// "admin" must not act as the local admin.
	return Principal{Name: OIDCPrincipalPrefix + name, Roles: slices.Compact(roles), Method: MethodOIDC}, nil
}

// username returns the first of o.usernameClaims the token carries as a
// non-empty string. Names end up in logs and audit records, so control
// characters and absurd lengths are refused rather than passed on.
func (o *OIDC) username(claims map[string]any) (string, error) {
	for _, c := range o.usernameClaims {
		v, ok := claims[c].(string)
		if !ok || v == "" {
			continue
		}
		if len(v) > maxOIDCUserNameLen || !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
			return "", fmt.Errorf("claim %s is not a usable user name", c)
		}
		return v, nil
	}
	return "", fmt.Errorf("no user name: claim %s missing or empty", strings.Join(o.usernameClaims, ", "))
}

// claimStrings returns the claim at path as strings; a missing claim has
// none. A claim named with dots (providers that namespace claims with URLs
// do so) is looked up whole first; only if there is none is path followed
// through nested objects, as in Keycloak's "realm_access.roles".
func claimStrings(claims map[string]any, path string) ([]string, error) {
	v, ok := claims[path]
	if !ok {
		var cur any = claims
		for part := range strings.SplitSeq(path, ".") {
			obj, isObj := cur.(map[string]any)
			if !isObj {
				return nil, nil
			}
			if cur, ok = obj[part]; !ok {
				return nil, nil
			}
		}
		v = cur
	}
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("claim %s holds %s, want strings", path, jsonKind(e))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("claim %s is %s, want a string or an array of strings", path, jsonKind(v))
}

// jsonKind names the JSON type of a decoded value, for messages read by
// whoever configures the provider.
func jsonKind(v any) string {
	switch v.(type) {
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "null"
}
