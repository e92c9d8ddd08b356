package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/policy"
)

// health is liveness: the process serves HTTP.
func (a *API) health(c *call) error {
	return c.json(http.StatusOK, map[string]string{"status": "ok", "version": a.opts.Version})
}

// ready is readiness: not draining, and the server's own check passes.
func (a *API) ready(c *call) error {
	if a.draining.Load() {
		return newError(errUnavailable, "server is shutting down")
	}
	if a.opts.Ready != nil {
		if err := a.opts.Ready(c.ctx()); err != nil {
			return newError(errUnavailable, "not ready: %v", err)
		}
	}
	return c.json(http.StatusOK, map[string]string{"status": "ready"})
}

// metrics serves the Prometheus scrape. Successful scrapes are not
// audited: they are telemetry, every few seconds.
func (a *API) metrics(c *call) error {
	if err := c.authorize(policy.Read, policy.SystemMetrics); err != nil {
		return err
	}
	a.opts.Metrics.Handler().ServeHTTP(c.w, c.r)
	return nil
}

// openAPI serves the OpenAPI 3.1 document (converted from the embedded
// YAML once, at start).
func (a *API) openAPI(c *call) error {
	c.w.Header().Set("Content-Type", "application/json")
	c.w.WriteHeader(http.StatusOK)
	c.w.Write(a.openapi)
	return nil
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type loginResponse struct {
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	ExpiresIn   int64     `json:"expires_in"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// login trades a username and password for an access token. It is the
// one route that takes credentials in its body; a wrong pair answers 401
// like a bad bearer credential does.
func (a *API) login(c *call) error {
	var req loginRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	c.detail("username", req.Username)
	c.detail("method", auth.MethodPassword)
	if req.Username == "" || req.Password == "" {
		return invalidf("username and password are required")
	}
	p, err := a.checkPassword(c.ctx(), req.Username, req.Password)
	if err != nil {
		if errors.Is(err, auth.ErrBadCredentials) {
			a.opts.Metrics.AuthFailure(auth.MethodPassword)
		}
		return err
	}
	c.auditPrincipal = p.Name
	tok, exp, err := a.opts.Tokens.Issue(p)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, loginResponse{
		AccessToken: tok, TokenType: "Bearer",
		ExpiresIn: int64(time.Until(exp).Round(time.Second) / time.Second), ExpiresAt: exp.UTC(),
	})
}

// passwordWait is how long a password check waits for its turn before the
// request is refused as unavailable.
const passwordWait = 5 * time.Second

// checkPassword verifies a password, at most GOMAXPROCS at a time.
func (a *API) checkPassword(ctx context.Context, user, password string) (auth.Principal, error) {
	wait, cancel := context.WithTimeout(ctx, passwordWait)
	defer cancel()
	select {
	case a.passwords <- struct{}{}:
	case <-wait.Done():
		if ctx.Err() != nil {
			return auth.Principal{}, ctx.Err()
		}
		return auth.Principal{}, newError(errUnavailable, "too many password checks at once; try again")
	}
	defer func() { <-a.passwords }()
	return a.opts.Users.Authenticate(ctx, user, password)
}

type whoamiResponse struct {
	Name   string   `json:"name"`
	Roles  []string `json:"roles"`
	Method string   `json:"method"`
}

func (a *API) whoami(c *call) error {
	roles := c.p.Roles
	if roles == nil {
		roles = []string{}
	}
	return c.json(http.StatusOK, whoamiResponse{Name: c.p.Name, Roles: roles, Method: c.p.Method})
}
