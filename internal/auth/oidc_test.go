package auth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/auth/oidctest"
)

const clientID = "edp-client"

var roleMap = map[string]string{
	"edp-admins":   auth.RoleAdmin,
	"engineers":    auth.RoleWriter,
	"analysts":     auth.RoleReader,
	"data-readers": auth.RoleReader,
}

// newOIDC verifies tokens of p; opts fills in what it leaves empty.
func newOIDC(t *testing.T, p *oidctest.Provider, opts auth.OIDCOptions) *auth.OIDC {
	t.Helper()
	if opts.Issuer == "" {
		opts.Issuer = p.Issuer()
	}
	if opts.Audience == "" {
		opts.Audience = clientID
	}
	if opts.RoleMap == nil {
		opts.RoleMap = roleMap
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = p.Client()
	}
	o, err := auth.NewOIDC(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestOIDCVerify(t *testing.T) {
	p := oidctest.New(t)
	o := newOIDC(t, p, auth.OIDCOptions{})
	if o.Issuer() != p.Issuer() {
		t.Errorf("Issuer() = %q, want %q", o.Issuer(), p.Issuer())
	}
	cases := []struct {
		name   string
		claims map[string]any
		want   auth.Principal
	}{
		{"groups mapped, deduplicated, sorted", map[string]any{
			"sub": "u-1", "aud": clientID, "preferred_username": "alice", "email": "alice@example.com",
			"groups": []string{"engineers", "analysts", "unrelated", "data-readers"},
		}, auth.Principal{Name: "oidc:alice", Roles: []string{"reader", "writer"}, Method: auth.MethodOIDC}},
		{"single group as a string", map[string]any{
			"sub": "u-2", "aud": clientID, "preferred_username": "bob", "groups": "edp-admins",
		}, auth.Principal{Name: "oidc:bob", Roles: []string{"admin"}, Method: auth.MethodOIDC}},
		{"audience among several", map[string]any{
			"sub": "u-3", "aud": []string{"other", clientID}, "email": "carol@example.com", "groups": []string{"analysts"},
		}, auth.Principal{Name: "oidc:carol@example.com", Roles: []string{"reader"}, Method: auth.MethodOIDC}},
		{"name falls back to sub", map[string]any{
			"sub": "u-4", "aud": clientID, "preferred_username": "", "groups": []string{"analysts"},
		}, auth.Principal{Name: "oidc:u-4", Roles: []string{"reader"}, Method: auth.MethodOIDC}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := o.Verify(context.Background(), p.Token(c.claims))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Verify = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestOIDCClaimOptions(t *testing.T) {
	p := oidctest.New(t)
	cases := []struct {
		name   string
		opts   auth.OIDCOptions
		claims map[string]any
		want   auth.Principal
		reason string // non-empty: refused, saying this
	}{
		{"dotted roles claim", auth.OIDCOptions{RolesClaim: "realm_access.roles"}, map[string]any{
			"sub": "u-1", "preferred_username": "alice",
			"realm_access": map[string]any{"roles": []string{"edp-admins", "offline_access"}},
		}, auth.Principal{Name: "oidc:alice", Roles: []string{"admin"}, Method: auth.MethodOIDC}, ""},
		{"claim name containing dots", auth.OIDCOptions{RolesClaim: "https://edp.example/roles"}, map[string]any{
			"sub": "u-1", "preferred_username": "alice", "https://edp.example/roles": []string{"engineers"},
		}, auth.Principal{Name: "oidc:alice", Roles: []string{"writer"}, Method: auth.MethodOIDC}, ""},
		{"dotted path missing", auth.OIDCOptions{RolesClaim: "realm_access.roles"}, map[string]any{
			"sub": "u-1", "realm_access": "edp-admins",
		}, auth.Principal{}, "no edp role mapped from claim realm_access.roles"},
		{"username claim chosen", auth.OIDCOptions{UsernameClaim: "email"}, map[string]any{
			"sub": "u-1", "preferred_username": "alice", "email": "alice@example.com", "groups": []string{"analysts"},
		}, auth.Principal{Name: "oidc:alice@example.com", Roles: []string{"reader"}, Method: auth.MethodOIDC}, ""},
		{"username claim chosen has no fallback", auth.OIDCOptions{UsernameClaim: "email"}, map[string]any{
			"sub": "u-1", "preferred_username": "alice", "groups": []string{"analysts"},
		}, auth.Principal{}, "claim email missing"},
		{"username with a control character", auth.OIDCOptions{}, map[string]any{
			"sub": "u-1", "preferred_username": "alice\nadmin", "groups": []string{"analysts"},
		}, auth.Principal{}, "not a usable user name"},
		{"roles claim of another type", auth.OIDCOptions{}, map[string]any{
			"sub": "u-1", "groups": 7,
		}, auth.Principal{}, "claim groups is a number"},
		{"roles claim an object", auth.OIDCOptions{}, map[string]any{
			"sub": "u-1", "groups": map[string]any{"analysts": true},
		}, auth.Principal{}, "claim groups is an object"},
		{"roles array with a non-string", auth.OIDCOptions{}, map[string]any{
			"sub": "u-1", "groups": []any{"analysts", 7},
		}, auth.Principal{}, "claim groups holds a number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := newOIDC(t, p, c.opts)
			c.claims["aud"] = clientID
			got, err := o.Verify(context.Background(), p.Token(c.claims))
			if c.reason != "" {
				wantOIDCRefused(t, err, c.reason)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Verify = %+v, want %+v", got, c.want)
			}
		})
	}
}

func wantOIDCRefused(t *testing.T, err error, reason string) {
	t.Helper()
	if !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("Verify error = %v, want ErrBadCredentials", err)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Fatalf("Verify error %q does not say %q", err, reason)
	}
}

func TestOIDCRefuses(t *testing.T) {
	p := oidctest.New(t)
	other := oidctest.New(t)
	o := newOIDC(t, p, auth.OIDCOptions{})
	good := map[string]any{"sub": "u-1", "aud": clientID, "preferred_username": "alice", "groups": []string{"analysts"}}
	with := func(k string, v any) map[string]any {
		m := make(map[string]any, len(good)+1)
		for gk, gv := range good {
			m[gk] = gv
		}
		m[k] = v
		return m
	}
	// alg none, built by hand with a well-formed payload.
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		strings.Split(p.Token(good), ".")[1] + "."

	cases := []struct {
		name, token, reason string
	}{
		{"wrong audience", p.Token(with("aud", "someone-else")), "audience"},
		{"no audience", p.Token(with("aud", nil)), "audience"},
		{"another provider's token", other.Token(good), "signature"},
		{"another provider's issuer", p.Token(with("iss", other.Issuer())), "issued by a different provider"},
		{"signed with an unpublished key", p.SignWithUnpublishedKey(good), "signature"},
		{"alg none", none, "malformed"},
		{"no mapped role", p.Token(with("groups", []string{"unrelated", "offline_access"})), "no edp role mapped from claim groups"},
		{"no roles claim", p.Token(with("groups", nil)), "no edp role mapped from claim groups"},
		{"garbage", "not-a-token", "malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := o.Verify(context.Background(), c.token)
			wantOIDCRefused(t, err, c.reason)
			if got.Name != "" {
				t.Fatalf("refused token still gave Principal %+v", got)
			}
			if errors.Is(err, auth.ErrTokenExpired) {
				t.Fatalf("error %v wraps ErrTokenExpired", err)
			}
		})
	}
}

func TestOIDCExpired(t *testing.T) {
	p := oidctest.New(t)
	claims := map[string]any{"sub": "u-1", "aud": clientID, "groups": []string{"analysts"}}
	tok := p.Token(claims)

	later := newOIDC(t, p, auth.OIDCOptions{Clock: func() time.Time { return time.Now().Add(2 * time.Hour) }})
	_, err := later.Verify(context.Background(), tok)
	wantOIDCRefused(t, err, "expired")
	if !errors.Is(err, auth.ErrTokenExpired) {
		t.Fatalf("Verify(expired) = %v, want ErrTokenExpired", err)
	}

	now := newOIDC(t, p, auth.OIDCOptions{})
	if _, err := now.Verify(context.Background(), tok); err != nil {
		t.Fatalf("Verify(same token, now) = %v", err)
	}
	claims["exp"] = time.Now().Add(-time.Minute).Unix()
	_, err = now.Verify(context.Background(), p.Token(claims))
	if !errors.Is(err, auth.ErrTokenExpired) {
		t.Fatalf("Verify(exp a minute ago) = %v, want ErrTokenExpired", err)
	}
}

// TestOIDCKeyRotation pins the JWKS caching edp relies on: keys are
// fetched once, and again only for a token naming a key not yet seen.
func TestOIDCKeyRotation(t *testing.T) {
	p := oidctest.New(t)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	o := newOIDC(t, p, auth.OIDCOptions{Clock: clock})
	claims := map[string]any{"sub": "u-1", "aud": clientID, "groups": []string{"analysts"}}
	verify := func(what, tok string, wantFetches int) {
		t.Helper()
		if _, err := o.Verify(context.Background(), tok); err != nil {
			t.Fatalf("Verify(%s) = %v", what, err)
		}
		if got := p.Requests(); got != wantFetches {
			t.Fatalf("after Verify(%s) the JWKS was fetched %d times, want %d", what, got, wantFetches)
		}
	}
	if got := p.Requests(); got != 0 {
		t.Fatalf("NewOIDC fetched the JWKS %d times, want 0 (fetched on first use)", got)
	}
	first := p.Token(claims)
	verify("first token", first, 1)
	verify("first token again", first, 1)
	verify("another token of the same key", p.Token(claims), 1)

	p.RotateKey()
	rotated := p.Token(claims)
	// Within the refetch interval the provider is not asked again, so a
	// freshly rotated-in key waits for the interval to pass.
	if _, err := o.Verify(context.Background(), rotated); err == nil || p.Requests() != 1 {
		t.Fatalf("Verify(rotated-in key, at once) = %v with %d fetches, want a refusal and no new fetch", err, p.Requests())
	}
	advance(auth.OIDCRefetchInterval + time.Second)
	// go-oidc hands a key fetch that has just finished to callers arriving
	// in the moment before it forgets it, so the first try may still see
	// the old key set; the next fetches anew.
	for try := 0; ; try++ {
		if _, err := o.Verify(context.Background(), rotated); err == nil {
			break
		} else if try == 100 {
			t.Fatalf("Verify(token of the rotated-in key) = %v after the refetch interval", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := p.Requests(); got != 2 {
		t.Fatalf("after the rotated-in key was accepted the JWKS was fetched %d times, want 2", got)
	}
	verify("token of the old key", first, 2)

	advance(auth.OIDCRefetchInterval + time.Second)
	_, err := o.Verify(context.Background(), p.SignWithUnpublishedKey(claims))
	wantOIDCRefused(t, err, "signature")
	if got := p.Requests(); got != 3 {
		t.Fatalf("an unknown key id caused %d JWKS fetches in all, want 3 (one refetch)", got)
	}
}

// TestOIDCUnknownKeysDoNotFloodTheProvider pins the refetch limit: tokens
// naming keys the provider never published cost an attacker nothing, and
// must not each make edp call the provider.
func TestOIDCUnknownKeysDoNotFloodTheProvider(t *testing.T) {
	p := oidctest.New(t)
	o := newOIDC(t, p, auth.OIDCOptions{})
	claims := map[string]any{"sub": "u-1", "aud": clientID, "groups": []string{"analysts"}}
	for range 50 {
		_, err := o.Verify(context.Background(), p.SignWithUnpublishedKey(claims))
		wantOIDCRefused(t, err, "signature")
	}
	if got := p.Requests(); got != 1 {
		t.Errorf("50 tokens of unknown keys caused %d JWKS fetches, want 1", got)
	}
	if _, err := o.Verify(context.Background(), p.Token(claims)); err != nil {
		t.Errorf("a genuine token after the flood: %v", err)
	}
}

func TestNewOIDCRejects(t *testing.T) {
	p := oidctest.New(t)
	cases := []struct {
		name   string
		opts   auth.OIDCOptions
		reason string
	}{
		{"no issuer", auth.OIDCOptions{Issuer: "-", Audience: clientID, RoleMap: roleMap}, "not an http(s) URL"},
		{"issuer without scheme", auth.OIDCOptions{Issuer: "login.example.com", Audience: clientID, RoleMap: roleMap}, "not an http(s) URL"},
		{"no audience", auth.OIDCOptions{Issuer: p.Issuer(), RoleMap: roleMap}, "audience"},
		{"no role map", auth.OIDCOptions{Issuer: p.Issuer(), Audience: clientID}, "role map is empty"},
		{"unknown role", auth.OIDCOptions{Issuer: p.Issuer(), Audience: clientID, RoleMap: map[string]string{"staff": "superuser"}}, `unknown role "superuser"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.opts.Issuer == "-" {
				c.opts.Issuer = ""
			}
			_, err := auth.NewOIDC(context.Background(), c.opts)
			if !errors.Is(err, auth.ErrInvalid) || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("NewOIDC = %v, want ErrInvalid saying %q", err, c.reason)
			}
		})
	}
}

func TestNewOIDCDiscoveryFails(t *testing.T) {
	p := oidctest.New(t)
	p.Close()
	_, err := auth.NewOIDC(context.Background(), auth.OIDCOptions{
		Issuer: p.Issuer(), Audience: clientID, RoleMap: roleMap, HTTPClient: p.Client(),
	})
	if err == nil || !strings.Contains(err.Error(), p.Issuer()) {
		t.Fatalf("NewOIDC(provider down) = %v, want an error naming %s", err, p.Issuer())
	}

	// A discovery document for another issuer is refused too.
	q := oidctest.New(t)
	_, err = auth.NewOIDC(context.Background(), auth.OIDCOptions{
		Issuer: q.Issuer() + "/", Audience: clientID, RoleMap: roleMap, HTTPClient: q.Client(),
	})
	if err == nil || !strings.Contains(err.Error(), q.Issuer()) {
		t.Fatalf("NewOIDC(issuer mismatch) = %v, want an error naming %s", err, q.Issuer())
	}
}
