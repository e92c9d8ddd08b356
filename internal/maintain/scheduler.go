package maintain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/jobs"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/policy"
)

// JobKind is the kind of the jobs maintenance runs as.
const JobKind = "maintain"

// Scheduler defaults.
const (
	DefaultInterval       = time.Hour
	DefaultOrphanInterval = 24 * time.Hour
)

// SchedulerOptions configure NewScheduler.
type SchedulerOptions struct {
	// Interval is the time between scheduling passes; zero means
	// DefaultInterval.
	Interval time.Duration
	// OrphanInterval is how often a scheduled run of a table includes
	// orphan cleanup, which lists every file under the table; zero means
	// DefaultOrphanInterval.
	OrphanInterval time.Duration
	// Principal is whom scheduled runs act as; it needs the admin action
	// on every table it maintains. Zero means an admin named
	// "maintenance".
	Principal auth.Principal
	// Maintain is the template of every run's Options (TempDir,
	// MemoryLimit, Threads, Logger); DryRun and Job are set per run.
	Maintain Options
	Logger   *slog.Logger
	// Clock decides when orphan cleanup is due; nil means time.Now.
	Clock func() time.Time
}

// Scheduler starts maintenance jobs: on a schedule, for every table whose
// policy enables it and that needs work, and on demand through RunNow. It
// never runs two maintenance jobs on one table at once within this
// process; separate processes sharing a catalog are not coordinated (their
// commits still validate against each other, so a lost race fails cleanly
// rather than losing data).
type Scheduler struct {
	lake *lake.Lake
	jobs *jobs.Manager
	opts SchedulerOptions
	log  *slog.Logger

	mu          sync.Mutex
	running     map[lake.Ident]bool
	lastOrphans map[lake.Ident]time.Time
}

// NewScheduler returns a Scheduler that runs jobs on m.
func NewScheduler(l *lake.Lake, m *jobs.Manager, opts SchedulerOptions) *Scheduler {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.OrphanInterval <= 0 {
		opts.OrphanInterval = DefaultOrphanInterval
	}
	if opts.Principal.Name == "" {
		opts.Principal = auth.Principal{Name: "maintenance", Roles: []string{auth.RoleAdmin}}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Maintain.Logger == nil {
		opts.Maintain.Logger = opts.Logger
	}
	return &Scheduler{lake: l, jobs: m, opts: opts, log: opts.Logger,
		running: map[lake.Ident]bool{}, lastOrphans: map[lake.Ident]time.Time{}}
}

// Run makes a scheduling pass every Interval until ctx is done, then
// returns nil. Jobs it started keep running; the jobs Manager's Shutdown
// stops them.
func (s *Scheduler) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := s.Pass(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("maintenance pass failed", "err", err)
			}
		}
	}
}

// Pass looks at every table once and starts a maintenance job for each
// that its policy enables, that is not already being maintained, and that
// needs work: files to compact, manifests to merge, snapshots to expire,
// or orphan cleanup due. It returns the jobs it started.
func (s *Scheduler) Pass(ctx context.Context) ([]jobs.Job, error) {
	ctx = auth.WithPrincipal(ctx, s.opts.Principal)
	ids, err := s.lake.ListTables(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("maintenance pass: %w", err)
	}
	var started []jobs.Job
	var errs []error
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		opts, due, err := s.due(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !due {
			continue
		}
		j, err := s.start(ctx, id, opts)
		if errors.Is(err, ErrBusy) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			if errors.Is(err, jobs.ErrBusy) || errors.Is(err, jobs.ErrShuttingDown) {
				break
			}
			continue
		}
		if !opts.SkipOrphans {
			s.mu.Lock()
			s.lastOrphans[id] = s.opts.Clock()
			s.mu.Unlock()
		}
		started = append(started, j)
	}
	return started, errors.Join(errs...)
}

// due decides whether id needs a scheduled run, by planning one dry.
func (s *Scheduler) due(ctx context.Context, id lake.Ident) (Options, bool, error) {
	opts := s.opts.Maintain
	tbl, err := s.lake.LoadTable(ctx, id)
	if err != nil {
		return opts, false, err
	}
	pol, err := PolicyFor(tbl.Properties())
	if err != nil {
		return opts, false, fmt.Errorf("%s: %w", id, err)
	}
	if !pol.Enabled {
		return opts, false, nil
	}
	s.mu.Lock()
	last, busy := s.lastOrphans[id], s.running[id]
	s.mu.Unlock()
	if busy {
		return opts, false, nil
	}
	opts.SkipOrphans = !last.IsZero() && s.opts.Clock().Sub(last) < s.opts.OrphanInterval
	dry := opts
	dry.DryRun, dry.SkipOrphans = true, true
	rep, err := Run(ctx, s.lake, id, dry, nil)
	if err != nil {
		return opts, false, err
	}
	work := rep.Compaction != nil || rep.Manifests != nil || (rep.Expiry != nil && len(rep.Expiry.Expired) > 0)
	return opts, work || !opts.SkipOrphans, nil
}

// RunNow starts a maintenance job for id as the Principal in ctx, who
// needs the admin action on the table. If the table is already being
// maintained it refuses at once with ErrBusy rather than queueing: the
// running job will have done the work.
func (s *Scheduler) RunNow(ctx context.Context, id lake.Ident, dryRun bool) (jobs.Job, error) {
	opts := s.opts.Maintain
	opts.DryRun = dryRun
	return s.Start(ctx, id, opts)
}

// Start is RunNow with every option.
func (s *Scheduler) Start(ctx context.Context, id lake.Ident, opts Options) (jobs.Job, error) {
	return s.start(ctx, id, opts)
}

func (s *Scheduler) start(ctx context.Context, id lake.Ident, opts Options) (jobs.Job, error) {
	// Refused now rather than as a failed job: the caller learns at once.
	if err := s.lake.Authorize(ctx, policy.Admin, policy.Resource{Namespace: id.Namespace, Table: id.Name}); err != nil {
		return jobs.Job{}, err
	}
	if !s.acquire(id) {
		return jobs.Job{}, fmt.Errorf("maintain %s: %w", id, ErrBusy)
	}
	j, err := s.jobs.Start(ctx, JobKind, func(ctx context.Context, report func(jobs.Progress)) (any, error) {
		defer s.release(id)
		return Run(ctx, s.lake, id, opts, func(p Progress) {
			msg := p.Step
			if p.Message != "" {
				msg = p.Step + ": " + p.Message
			}
			report(jobs.Progress{Done: p.Done, Total: p.Total, Unit: p.Unit, Message: id.String() + " " + msg})
		})
	})
	if err != nil {
		s.release(id)
		return jobs.Job{}, fmt.Errorf("maintain %s: %w", id, err)
	}
	return j, nil
}

func (s *Scheduler) acquire(id lake.Ident) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[id] {
		return false
	}
	s.running[id] = true
	return true
}

func (s *Scheduler) release(id lake.Ident) {
	s.mu.Lock()
	delete(s.running, id)
	s.mu.Unlock()
}
