// Package oidctest runs an OpenID Connect provider on loopback for tests of
// code that verifies provider-issued tokens: discovery, a JWKS endpoint,
// RS256 tokens with any claims, key rotation, and forgeries signed with a
// key it never publishes.
//
// It is test support only: import it from _test.go files, never from code
// that ships in edp.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Provider is a running test OIDC provider. Its methods are safe for
// concurrent use; Token and SignWithUnpublishedKey end the test with
// t.Fatal if signing fails, so call them from the test's goroutine.
type Provider struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	keys     []jose.JSONWebKey // private keys, oldest first; the last signs
	requests int               // JWKS fetches
	serial   int               // for key ids
}

// New starts a provider with a fresh RSA-2048 signing key. It serves
// /.well-known/openid-configuration (issuer = its URL) and /jwks, and is
// shut down when the test ends.
func New(t testing.TB) *Provider {
	t.Helper()
	p := &Provider{t: t}
	p.keys = append(p.keys, p.newKey())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.serveDiscovery)
	mux.HandleFunc("GET /jwks", p.serveJWKS)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// Issuer returns the provider's issuer URL (its server's URL).
func (p *Provider) Issuer() string { return p.srv.URL }

// Client returns an HTTP client for talking to the provider.
func (p *Provider) Client() *http.Client { return p.srv.Client() }

// Close shuts the provider down before the test ends, to test what
// happens when it cannot be reached. Closing twice is harmless.
func (p *Provider) Close() { p.srv.Close() }

// Requests returns how many times the JWKS has been fetched.
func (p *Provider) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// Token returns an RS256 JWT with claims, signed with the current key and
// naming it in its kid header. iss (the provider), iat (now) and exp (an
// hour from now) are filled in unless claims sets them.
func (p *Provider) Token(claims map[string]any) string {
	p.t.Helper()
	p.mu.Lock()
	key := p.keys[len(p.keys)-1]
	p.mu.Unlock()
	return p.sign(key, claims)
}

// SignWithUnpublishedKey returns a token like Token's, signed with a fresh
// key the JWKS never lists: a forgery that must be refused.
func (p *Provider) SignWithUnpublishedKey(claims map[string]any) string {
	p.t.Helper()
	return p.sign(p.newKey(), claims)
}

// RotateKey makes a new signing key. The JWKS then lists the old keys
// first and the new one last, as providers do while tokens signed with
// the old key are still in use.
func (p *Provider) RotateKey() {
	p.t.Helper()
	k := p.newKey()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = append(p.keys, k)
}

func (p *Provider) newKey() jose.JSONWebKey {
	p.t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		p.t.Fatalf("oidctest: generate key: %v", err)
	}
	var id [9]byte
	if _, err := rand.Read(id[:]); err != nil {
		p.t.Fatalf("oidctest: key id: %v", err)
	}
	return jose.JSONWebKey{
		Key:       priv,
		KeyID:     "oidctest-" + base64.RawURLEncoding.EncodeToString(id[:]),
		Algorithm: string(jose.RS256),
		Use:       "sig",
	}
}

func (p *Provider) sign(key jose.JSONWebKey, claims map[string]any) string {
	p.t.Helper()
	full := make(map[string]any, len(claims)+3)
	now := time.Now()
	full["iss"] = p.Issuer()
	full["iat"] = now.Unix()
	full["exp"] = now.Add(time.Hour).Unix()
	for k, v := range claims {
		full[k] = v
	}
	payload, err := json.Marshal(full)
	if err != nil {
		p.t.Fatalf("oidctest: claims: %v", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		p.t.Fatalf("oidctest: signer: %v", err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		p.t.Fatalf("oidctest: sign: %v", err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		p.t.Fatalf("oidctest: serialize: %v", err)
	}
	return tok
}

func (p *Provider) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	iss := p.Issuer()
	writeJSON(w, map[string]any{
		"issuer":                                iss,
		"jwks_uri":                              iss + "/jwks",
		"authorization_endpoint":                iss + "/authorize",
		"token_endpoint":                        iss + "/token",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{string(jose.RS256)},
	})
}

func (p *Provider) serveJWKS(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.requests++
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(p.keys))}
	for _, k := range p.keys {
		set.Keys = append(set.Keys, k.Public())
	}
	p.mu.Unlock()
	writeJSON(w, set)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
