package api

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/edp-data/edp/internal/audit"
	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/jobs"
	"github.com/edp-data/edp/internal/policy"
)

// Jobs. A user sees and cancels their own jobs; other users' need admin
// on the jobs system resource.

// mayActOn asks policy when the caller is not the owner.
func (c *call) mayActOn(owner string, action policy.Action, system string) error {
	if owner == c.p.Name {
		return nil
	}
	return c.api.authz.Authorize(c.ctx(), action, policy.Resource{System: system})
}

func (a *API) listJobs(c *call) error {
	if p := c.params(); p.err != nil {
		return p.err
	}
	c.resource = "jobs"
	who := c.p.Name
	if a.authz.Authorize(c.ctx(), policy.Admin, policy.Resource{System: policy.SystemJobs}) == nil {
		who = ""
	}
	list := a.opts.Jobs.List(who)
	if list == nil {
		list = []jobs.Job{}
	}
	return c.json(http.StatusOK, map[string]any{"jobs": list})
}

func (a *API) job(c *call) (jobs.Job, error) {
	id := c.r.PathValue("id")
	c.resource = "job:" + id
	j, err := a.opts.Jobs.Get(id)
	if err != nil {
		return j, err
	}
	return j, c.mayActOn(j.Principal, policy.Admin, policy.SystemJobs)
}

func (a *API) getJob(c *call) error {
	if p := c.params(); p.err != nil {
		return p.err
	}
	j, err := a.job(c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, map[string]any{"job": j})
}

func (a *API) cancelJob(c *call) error {
	j, err := a.job(c)
	if err != nil {
		return err
	}
	if j, err = a.opts.Jobs.Cancel(j.ID); err != nil {
		return err
	}
	c.detail("owner", j.Principal)
	return c.json(http.StatusOK, map[string]any{"job": j})
}

// Users and API keys.

type userInfo struct {
	Name      string    `json:"name"`
	Roles     []string  `json:"roles"`
	CreatedAt time.Time `json:"created_at"`
	Disabled  bool      `json:"disabled"`
}

func (a *API) listUsers(c *call) error {
	if p := c.params(); p.err != nil {
		return p.err
	}
	if err := c.authorize(policy.Admin, policy.SystemUsers); err != nil {
		return err
	}
	users, err := a.opts.Users.ListUsers(c.ctx())
	if err != nil {
		return err
	}
	out := make([]userInfo, len(users))
	for i, u := range users {
		out[i] = userInfo{Name: u.Name, Roles: u.Roles, CreatedAt: u.CreatedAt, Disabled: u.Disabled}
	}
	return c.json(http.StatusOK, map[string]any{"users": out})
}

type createUserRequest struct {
	Name     string   `json:"name"`
	Password string   `json:"password"`
	Roles    []string `json:"roles"`
}

func (a *API) createUser(c *call) error {
	var req createUserRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	c.resource = "system:users"
	c.detail("user", req.Name)
	c.detail("roles", req.Roles)
	if err := c.authorize(policy.Admin, policy.SystemUsers); err != nil {
		return err
	}
	if err := a.opts.Users.AddUser(c.ctx(), req.Name, req.Password, req.Roles); err != nil {
		return err
	}
	roles := slices.Clone(req.Roles)
	slices.Sort(roles)
	c.w.Header().Set("Location", "/api/v1/users/"+req.Name)
	return c.json(http.StatusCreated, map[string]any{"user": userInfo{Name: req.Name, Roles: slices.Compact(roles), CreatedAt: time.Now().UTC()}})
}

func (a *API) deleteUser(c *call) error {
	name := c.r.PathValue("name")
	c.detail("user", name)
	if err := c.authorize(policy.Admin, policy.SystemUsers); err != nil {
		return err
	}
	if err := a.opts.Users.RemoveUser(c.ctx(), name); err != nil {
		return err
	}
	return c.noContent()
}

type passwordRequest struct {
	Password        string `json:"password"`
	CurrentPassword string `json:"current_password"`
}

// setPassword changes a password: the caller's own under "self", anyone
// else's under "users".
func (a *API) setPassword(c *call) error {
	name := c.r.PathValue("name")
	c.detail("user", name)
	var req passwordRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	system := policy.SystemSelf
	if name != c.p.Name {
		system = policy.SystemUsers
	}
	if err := c.authorize(policy.Admin, system); err != nil {
		return err
	}
	if system == policy.SystemSelf {
		if err := a.reauthenticate(c, req.CurrentPassword); err != nil {
			return err
		}
	}
	if err := a.opts.Users.SetPassword(c.ctx(), name, req.Password); err != nil {
		return err
	}
	return c.noContent()
}

type apiKeyInfo struct {
	ID        string     `json:"id"`
	User      string     `json:"user"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// reauthenticate checks the caller's current password before a change
// to their own credentials. Whoever holds one short-lived token (or one
// API key) could otherwise turn it into a new password or a key that
// never expires, outliving the revocation of what they stole.
func (a *API) reauthenticate(c *call, password string) error {
	if c.p.Method == auth.MethodOIDC {
		return newError(policy.ErrDenied, "%s signs in through the identity provider and has no edp password or API keys of its own; ask an admin", c.p.Name)
	}
	if password == "" {
		return invalidf("current_password is required to change your own password or create your own API key")
	}
	if _, err := a.checkPassword(c.ctx(), c.p.Name, password); err != nil {
		if !errors.Is(err, auth.ErrBadCredentials) {
			return err
		}
		return newError(policy.ErrDenied, "current_password is not %s's password", c.p.Name)
	}
	return nil
}

// keyOwner picks the user an API-key request is about ("" means the
// caller) and asks policy: "self" for one's own, "users" for others'.
func (c *call) keyOwner(user string) (string, error) {
	system := policy.SystemSelf
	if user == "" {
		user = c.p.Name
	} else if user != c.p.Name {
		system = policy.SystemUsers
	}
	c.detail("user", user)
	if err := c.authorize(policy.Admin, system); err != nil {
		return user, err
	}
	return user, nil
}

func (a *API) listAPIKeys(c *call) error {
	p := c.params("user")
	if p.err != nil {
		return p.err
	}
	user, err := c.keyOwner(p.str("user"))
	if err != nil {
		return err
	}
	keys, err := a.opts.Users.ListAPIKeys(c.ctx(), user)
	if err != nil {
		return err
	}
	out := make([]apiKeyInfo, len(keys))
	for i, k := range keys {
		out[i] = apiKeyInfo{ID: k.ID, User: k.User, CreatedAt: k.CreatedAt.UTC(), ExpiresAt: optTime(k.ExpiresAt), RevokedAt: optTime(k.RevokedAt)}
	}
	return c.json(http.StatusOK, map[string]any{"api_keys": out})
}

type createAPIKeyRequest struct {
	User            string `json:"user"`
	TTLSeconds      int64  `json:"ttl_seconds"`
	CurrentPassword string `json:"current_password"`
}

// createAPIKey makes a key and shows it once. The key never enters the
// audit entry; its public id does.
func (a *API) createAPIKey(c *call) error {
	var req createAPIKeyRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	if req.TTLSeconds < 0 {
		return invalidf("ttl_seconds: want a number ≥ 0 (0: until revoked), got %d", req.TTLSeconds)
	}
	user, err := c.keyOwner(req.User)
	if err != nil {
		return err
	}
	if user == c.p.Name {
		if err := a.reauthenticate(c, req.CurrentPassword); err != nil {
			return err
		}
	}
	c.detail("ttl_seconds", req.TTLSeconds)
	key, info, err := a.opts.Users.CreateAPIKey(c.ctx(), user, time.Duration(req.TTLSeconds)*time.Second)
	if err != nil {
		return err
	}
	c.detail("key_id", info.ID)
	return c.json(http.StatusCreated, map[string]any{"key": key, "id": info.ID, "user": info.User, "expires_at": optTime(info.ExpiresAt)})
}

// revokeAPIKey revokes a key: one's own under "self", anyone else's
// under "users". The store looks keys up by user, so the caller's own keys
// are checked first; any other id needs the users grant before it is
// even looked for, so its existence is not revealed.
func (a *API) revokeAPIKey(c *call) error {
	id := c.r.PathValue("id")
	c.resource = "apikey:" + id
	own, err := a.opts.Users.ListAPIKeys(c.ctx(), c.p.Name)
	if err != nil {
		return err
	}
	system := policy.SystemUsers
	for _, k := range own {
		if k.ID == id {
			system = policy.SystemSelf
		}
	}
	if err := c.api.authz.Authorize(c.ctx(), policy.Admin, policy.Resource{System: system}); err != nil {
		return err
	}
	if err := a.opts.Users.RevokeAPIKey(c.ctx(), id); err != nil {
		return err
	}
	return c.noContent()
}

// The audit log.

type auditEntry struct {
	Seq       int64          `json:"seq"`
	Time      time.Time      `json:"time"`
	Principal string         `json:"principal"`
	Action    string         `json:"action"`
	Resource  string         `json:"resource"`
	Outcome   string         `json:"outcome"`
	Details   map[string]any `json:"details"`
}

// maxAuditScan bounds how many entries one search reads when it filters
// by outcome or pages with after, which audit.Filter cannot express.
const maxAuditScan = 100_000

// searchAudit lists entries, oldest first. principal, action, resource,
// since and until are the log's own filters; outcome and after (return
// entries with seq > after, for paging forward) are applied here over at
// most maxAuditScan of the most recent matches.
func (a *API) searchAudit(c *call) error {
	p := c.params("principal", "action", "resource", "outcome", "since", "until", "limit", "after")
	f := audit.Filter{Principal: p.str("principal"), Action: p.str("action"), Resource: p.str("resource"), Since: p.time("since"), Until: p.time("until")}
	limit, hasLimit := p.int64("limit", 1)
	after, hasAfter := p.int64("after", 0)
	outcome := p.str("outcome")
	if p.err != nil {
		return p.err
	}
	if err := c.authorize(policy.Read, policy.SystemAudit); err != nil {
		return err
	}
	if !hasLimit {
		limit = 100
	}
	if limit > audit.DefaultSearchLimit {
		return invalidf("query parameter limit=%d: at most %d", limit, audit.DefaultSearchLimit)
	}
	c.detail("filter", map[string]any{"principal": f.Principal, "action": f.Action, "resource": f.Resource,
		"outcome": outcome, "limit": limit, "after": after})
	f.Limit = int(limit)
	if outcome != "" || hasAfter {
		f.Limit = maxAuditScan
	}
	entries, err := a.opts.Audit.Search(c.ctx(), f)
	if err != nil {
		return err
	}
	out := []auditEntry{}
	for _, e := range entries {
		if (outcome != "" && e.Outcome != outcome) || (hasAfter && e.Seq <= after) {
			continue
		}
		out = append(out, auditEntry{Seq: e.Seq, Time: e.Time, Principal: e.Principal, Action: e.Action,
			Resource: e.Resource, Outcome: e.Outcome, Details: e.Details})
	}
	// Paging forward (after) wants the first entries past the cursor;
	// otherwise the most recent.
	if int64(len(out)) > limit {
		if hasAfter {
			out = out[:limit]
		} else {
			out = out[int64(len(out))-limit:]
		}
	}
	return c.json(http.StatusOK, map[string]any{"entries": out})
}

func (a *API) verifyAudit(c *call) error {
	if p := c.params(); p.err != nil {
		return p.err
	}
	if err := c.authorize(policy.Read, policy.SystemAudit); err != nil {
		return err
	}
	rep, err := a.opts.Audit.Verify(c.ctx(), a.opts.AuditKey)
	if err != nil {
		return err
	}
	body := map[string]any{"ok": rep.OK(), "entries": rep.Entries, "head": rep.Head,
		"checkpoints": rep.Checkpoints, "last_checkpoint": rep.LastCheckpoint}
	if rep.Problem != nil {
		body["problem"] = map[string]any{"kind": string(rep.Problem.Kind), "seq": rep.Problem.Seq, "message": rep.Problem.Msg}
	}
	c.detail("ok", rep.OK())
	return c.json(http.StatusOK, body)
}
