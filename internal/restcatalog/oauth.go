package restcatalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/edp-data/edp/internal/audit"
	"github.com/edp-data/edp/internal/auth"
)

// tokenResponse is the spec's OAuthTokenResponse.
type tokenResponse struct {
	AccessToken     string `json:"access_token"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	IssuedTokenType string `json:"issued_token_type"`
}

// oauthError is the spec's OAuthError (RFC 6749 section 5.2).
type oauthError struct {
	status int
	Code   string `json:"error"`
	Desc   string `json:"error_description,omitempty"`
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Desc }

// passwordWait bounds how long a token request waits for a password check.
const passwordWait = 5 * time.Second

// token answers POST /v1/oauth/tokens, the client-credentials grant the
// spec keeps (deprecated) because Spark, Trino and PyIceberg still use it:
// client_id is a user name and client_secret its password, or client_id an
// API key's id and client_secret the key. It issues an edp access token,
// the same the API's login issues.
func (s *Server) token(w http.ResponseWriter, r *http.Request) error {
	err := s.issueToken(w, r)
	var oe *oauthError
	if errors.As(err, &oe) {
		audit.NotesFrom(r.Context()).Detail("error", oe.Error())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(oe.status)
		b, _ := json.Marshal(oe)
		w.Write(append(b, '\n'))
		return nil
	}
	return err
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) error {
	notes := audit.NotesFrom(r.Context())
	notes.SetResource("oauth:token")
	if s.opts.Accounts == nil || s.opts.Tokens == nil {
		return &oauthError{status: http.StatusBadRequest, Code: "unsupported_grant_type", Desc: "this server issues no tokens"}
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return &oauthError{status: http.StatusBadRequest, Code: "invalid_request", Desc: "the body must be application/x-www-form-urlencoded"}
	}
	grant := r.PostForm.Get("grant_type")
	if grant != "client_credentials" {
		return &oauthError{status: http.StatusBadRequest, Code: "unsupported_grant_type",
			Desc: fmt.Sprintf("grant_type %q: this server supports client_credentials", grant)}
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok && id == "" {
		id, secret = u, p
	}
	if secret == "" {
		return &oauthError{status: http.StatusUnauthorized, Code: "invalid_client", Desc: "client_secret is required"}
	}
	notes.SetPrincipal(id)
	notes.Detail("grant_type", grant)
	p, err := s.authenticateClient(r.Context(), id, secret)
	if errors.Is(err, auth.ErrBadCredentials) {
		return &oauthError{status: http.StatusUnauthorized, Code: "invalid_client", Desc: "invalid client credentials"}
	}
	if err != nil {
		return err
	}
	notes.SetPrincipal(p.Name)
	notes.Detail("method", p.Method)
	tok, exp, err := s.opts.Tokens.Issue(p)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, tokenResponse{AccessToken: tok, TokenType: "bearer",
		ExpiresIn:       int64(time.Until(exp).Round(time.Second) / time.Second),
		IssuedTokenType: "urn:ietf:params:oauth:token-type:access_token"})
}

// authenticateClient checks a client id and secret: an API key (whose id
// must match client_id when one is given) or a user's password.
func (s *Server) authenticateClient(ctx context.Context, id, secret string) (auth.Principal, error) {
	if strings.HasPrefix(secret, auth.APIKeyPrefix) {
		keyID, _, err := auth.ParseAPIKey(secret)
		if err != nil {
			return auth.Principal{}, fmt.Errorf("%w: %v", auth.ErrBadCredentials, err)
		}
		if id != "" && id != keyID {
			return auth.Principal{}, fmt.Errorf("%w: client_id is not the key's id", auth.ErrBadCredentials)
		}
		return s.opts.Accounts.AuthenticateAPIKey(ctx, secret)
	}
	if id == "" {
		return auth.Principal{}, fmt.Errorf("%w: client_id is required with a password", auth.ErrBadCredentials)
	}
	// Each argon2id check takes tens of MiB and milliseconds of CPU, and
	// this route needs no credentials to reach: bound them.
	wait, cancel := context.WithTimeout(ctx, passwordWait)
	defer cancel()
	select {
	case s.passwords <- struct{}{}:
	case <-wait.Done():
		return auth.Principal{}, fmt.Errorf("too many token requests at once: %w", context.DeadlineExceeded)
	}
	defer func() { <-s.passwords }()
	return s.opts.Accounts.Authenticate(ctx, id, secret)
}
