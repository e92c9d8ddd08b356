package api

import (
	"context"
	"net/http"

	"github.com/edp-data/edp/internal/jobs"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/policy"
)

// Maintainer starts maintenance of a table as a job; the server's
// maintenance scheduler is one, and refuses a table already being
// maintained (maintain.ErrBusy, answered 409).
type Maintainer interface {
	RunNow(ctx context.Context, id lake.Ident, dryRun bool) (jobs.Job, error)
}

type maintainRequest struct {
	DryRun bool `json:"dry_run"`
}

// maintainTable starts compaction, manifest rewrite, snapshot expiry and
// orphan cleanup of one table, by its policy, as a job to poll.
func (a *API) maintainTable(c *call) error {
	id := c.tableIdent()
	var req maintainRequest
	if c.r.ContentLength != 0 {
		if err := c.decode(&req); err != nil {
			return err
		}
	}
	c.detail("dry_run", req.DryRun)
	if err := a.authz.Authorize(c.ctx(), policy.Admin, policy.Resource{Namespace: id.Namespace, Table: id.Name}); err != nil {
		return err
	}
	if _, err := a.opts.Lake.LoadTable(c.ctx(), id); err != nil {
		return err
	}
	if a.opts.Maintainer == nil {
		return newError(errUnavailable, "table maintenance is not running in this server")
	}
	job, err := a.opts.Maintainer.RunNow(c.ctx(), id, req.DryRun)
	if err != nil {
		return err
	}
	c.detail("job_id", job.ID)
	c.w.Header().Set("Location", "/api/v1/jobs/"+job.ID)
	return c.json(http.StatusAccepted, map[string]any{"job": job})
}
