// Package jobs runs long operations — a load now, compaction later — in the
// background as jobs: each reports its progress, can be cancelled, and its
// outcome can be fetched after the request that started it has ended.
//
// Jobs live in memory only. A restart forgets every job, finished or not;
// that loses no data, because the operations are atomic (one lake commit
// each), so one interrupted by a restart leaves nothing half-done behind and
// can simply be run again. Finished jobs are kept for [Options.Retain] and at
// most [Options.MaxJobs] of them.
//
// The HTTP API (internal/api) starts and reports jobs; internal/server
// creates the Manager, runs it and shuts it down. jobs imports only
// internal/auth, for the Principal that started a job.
package jobs

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edp-data/edp/internal/auth"
)

// State is where a job is in its life. A job starts running and ends in
// exactly one of the other states.
type State string

// The states of a job.
const (
	StateRunning   State = "running"
	StateSucceeded State = "succeeded"
	StateFailed    State = "failed"
	StateCancelled State = "cancelled"
)

// Progress is how far a job has got, as its Func last reported it.
type Progress struct {
	Done int64 `json:"done"`
	// Total is zero while the job does not know it.
	Total int64 `json:"total,omitempty"`
	// Unit names what Done and Total count: "rows", "bytes", "files".
	Unit    string `json:"unit,omitempty"`
	Message string `json:"message,omitempty"`
}

// Job is a snapshot of one job, safe to keep and to marshal: later changes
// to the job do not show in it.
type Job struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Principal is the name of the Principal that started the job, "" when
	// there was none.
	Principal string   `json:"principal"`
	State     State    `json:"state"`
	Progress  Progress `json:"progress"`
	// Result is what a succeeded job's Func returned.
	Result any `json:"result,omitempty"`
	// Error is the error of a failed or cancelled job.
	Error    string     `json:"error,omitempty"`
	Created  time.Time  `json:"created"`
	Finished *time.Time `json:"finished,omitempty"`
}

// Func is the work of a job. It must return soon after ctx is cancelled,
// with an error wrapping ctx.Err(), unless it has already committed its
// outcome. report records progress; it may be called from any goroutine
// and as often as is convenient, since it only stores the latest value.
type Func func(ctx context.Context, report func(Progress)) (result any, err error)

// Errors of the Manager.
var (
	ErrNotFound     = errors.New("no such job")
	ErrShuttingDown = errors.New("shutting down: not starting new jobs")
	// ErrBusy is returned by Start when MaxRunning jobs are running.
	ErrBusy = errors.New("too many jobs running; try again when one has finished")
)

// errInternal is what a job that panicked reports. The panic value and
// stack go to the log, not to whoever asks about the job.
const errInternal = "internal error"

// Options configure New. The zero value gives the defaults.
type Options struct {
	Logger *slog.Logger
	// Clock stamps jobs' Created and Finished times and decides when a
	// finished job is old enough to prune; nil means time.Now.
	Clock func() time.Time
	// Retain is how long a finished job is kept; zero means 24h.
	Retain time.Duration
	// MaxJobs is how many finished jobs are kept at most, the oldest
	// finished going first; zero means 1000.
	MaxJobs int
	// MaxRunning bounds the jobs running at once, each holding files and
	// memory; zero means DefaultMaxRunning.
	MaxRunning int
}

// Default option values.
const (
	DefaultRetain     = 24 * time.Hour
	DefaultMaxJobs    = 1000
	DefaultMaxRunning = 16
)

// Manager runs jobs and remembers them. Its methods are safe for
// concurrent use.
type Manager struct {
	log     *slog.Logger
	now     func() time.Time
	retain  time.Duration
	maxJobs int
	maxRun  int

	wg sync.WaitGroup // running jobs

	mu       sync.Mutex
	jobs     map[string]*entry
	seq      uint64   // orders jobs by start; Created may tie under a coarse clock
	finished []*entry // in the order they finished, for pruning
	closing  bool
	running  int
}

type entry struct {
	seq      uint64
	cancel   context.CancelFunc
	done     chan struct{} // closed when the job has finished
	progress atomic.Pointer[Progress]

	// Guarded by Manager.mu. job.Progress is filled in from progress
	// when the job finishes, so late reports cannot change a finished job.
	job             Job
	cancelRequested bool
}

func (e *entry) report(p Progress) { e.progress.Store(&p) }

// snapshot copies e's job; the caller holds Manager.mu.
func (e *entry) snapshot() Job {
	j := e.job
	if j.State == StateRunning {
		j.Progress = *e.progress.Load()
	}
	if j.Finished != nil {
		t := *j.Finished
		j.Finished = &t
	}
	return j
}

// New returns a Manager with no jobs.
func New(opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Retain <= 0 {
		opts.Retain = DefaultRetain
	}
	if opts.MaxRunning <= 0 {
		opts.MaxRunning = DefaultMaxRunning
	}
	if opts.MaxJobs <= 0 {
		opts.MaxJobs = DefaultMaxJobs
	}
	return &Manager{
		log:     opts.Logger,
		now:     opts.Clock,
		retain:  opts.Retain,
		maxJobs: opts.MaxJobs,
		maxRun:  opts.MaxRunning,
		jobs:    make(map[string]*entry),
	}
}

type idKey struct{}

// IDFromContext returns the ID of the job whose Func received ctx, so the
// work can name its job, for instance in the lake commit it makes.
func IDFromContext(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(idKey{}).(string)
	return id, ok
}

// Start runs fn as a new job of the given kind ("load", "compact") and
// returns its first snapshot.
//
// The job's context keeps ctx's values, among them the Principal that
// internal/auth put there, which is recorded as the job's Principal, but
// not its cancellation or deadline: a job started by an HTTP request
// outlives the request. Only Cancel and Shutdown stop it.
func (m *Manager) Start(ctx context.Context, kind string, fn Func) (Job, error) {
	if fn == nil {
		return Job{}, fmt.Errorf("start %s job: nil Func", kind)
	}
	id, err := newID()
	if err != nil {
		return Job{}, fmt.Errorf("start %s job: %w", kind, err)
	}
	var principal string
	if p, ok := auth.FromContext(ctx); ok {
		principal = p.Name
	}
	jctx, cancel := context.WithCancel(context.WithValue(context.WithoutCancel(ctx), idKey{}, id))
	e := &entry{cancel: cancel, done: make(chan struct{})}
	e.progress.Store(&Progress{})

	m.mu.Lock()
	if m.closing {
		m.mu.Unlock()
		cancel()
		return Job{}, fmt.Errorf("start %s job: %w", kind, ErrShuttingDown)
	}
	if m.running >= m.maxRun {
		m.mu.Unlock()
		cancel()
		return Job{}, fmt.Errorf("start %s job: %w (%d running)", kind, ErrBusy, m.maxRun)
	}
	m.running++
	m.seq++
	e.seq = m.seq
	e.job = Job{ID: id, Kind: kind, Principal: principal, State: StateRunning, Created: m.now()}
	m.jobs[id] = e
	// Added under mu while not closing, so every Add happens before
	// Shutdown's Wait, as sync.WaitGroup requires.
	m.wg.Add(1)
	snap := e.snapshot()
	m.mu.Unlock()

	m.log.Info("job started", "job", id, "kind", kind, "principal", principal)
	go m.run(jctx, e, fn)
	return snap, nil
}

// newID returns "job_" and 128 random bits, URL-safe: IDs appear in paths,
// and are unguessable so that knowing one job's ID says nothing of others.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("job id: %w", err)
	}
	return "job_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func (m *Manager) run(ctx context.Context, e *entry, fn Func) {
	defer m.wg.Done()
	result, err := m.call(ctx, e, fn)
	e.cancel() // release the context's resources
	var perr *panicError
	panicked := errors.As(err, &perr)

	m.mu.Lock()
	m.running--
	now := m.now()
	j := &e.job
	j.Progress = *e.progress.Load()
	j.Finished = &now
	switch {
	case panicked:
		j.State, j.Error = StateFailed, errInternal
	case err == nil:
		j.State, j.Result = StateSucceeded, result
	case e.cancelRequested && errors.Is(err, context.Canceled):
		j.State, j.Error = StateCancelled, err.Error()
	default:
		// Includes context.Canceled nobody asked for: the Func's own
		// doing, so a failure rather than a cancellation.
		j.State, j.Error = StateFailed, err.Error()
	}
	m.finished = append(m.finished, e)
	close(e.done)
	m.pruneLocked(now)
	snap := e.snapshot()
	m.mu.Unlock()

	m.log.Info("job finished", "job", snap.ID, "kind", snap.Kind, "principal", snap.Principal,
		"state", snap.State, "duration", now.Sub(snap.Created), "error", snap.Error)
}

// panicError is what call makes of a panic in a Func.
type panicError struct{ value any }

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v", p.value) }

// call runs fn, turning a panic into a *panicError so that one faulty job
// cannot take the server and everyone else's jobs down with it.
func (m *Manager) call(ctx context.Context, e *entry, fn Func) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			// ID and Kind are set before the job starts and never change.
			m.log.Error("job panicked", "job", e.job.ID, "kind", e.job.Kind,
				"panic", r, "stack", string(debug.Stack()))
			result, err = nil, &panicError{value: r}
		}
	}()
	return fn(ctx, e.report)
}

// Get returns a snapshot of the job with the given ID.
func (m *Manager) Get(id string) (Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.jobs[id]
	if !ok {
		return Job{}, fmt.Errorf("job %q: %w", id, ErrNotFound)
	}
	return e.snapshot(), nil
}

// List returns the jobs that principal started, newest first; "" lists
// everyone's. Jobs started with no Principal are listed only under "".
func (m *Manager) List(principal string) []Job {
	m.mu.Lock()
	defer m.mu.Unlock()
	es := make([]*entry, 0, len(m.jobs))
	for _, e := range m.jobs {
		if principal == "" || e.job.Principal == principal {
			es = append(es, e)
		}
	}
	slices.SortFunc(es, func(a, b *entry) int { return cmp.Compare(b.seq, a.seq) })
	out := make([]Job, len(es))
	for i, e := range es {
		out[i] = e.snapshot()
	}
	return out
}

// Cancel asks the job to stop and returns its snapshot, still running
// until its Func returns; Wait for the outcome. A job whose Func finishes
// anyway ends succeeded. Cancelling a finished job changes nothing.
func (m *Manager) Cancel(id string) (Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.jobs[id]
	if !ok {
		return Job{}, fmt.Errorf("job %q: %w", id, ErrNotFound)
	}
	if e.job.State == StateRunning && !e.cancelRequested {
		e.cancelRequested = true
		e.cancel()
		m.log.Info("job cancel requested", "job", id, "kind", e.job.Kind)
	}
	return e.snapshot(), nil
}

// Wait blocks until the job has finished and returns its final snapshot.
// If ctx ends first it returns the job as it is then, with ctx's error.
func (m *Manager) Wait(ctx context.Context, id string) (Job, error) {
	m.mu.Lock()
	e, ok := m.jobs[id]
	m.mu.Unlock()
	if !ok {
		return Job{}, fmt.Errorf("job %q: %w", id, ErrNotFound)
	}
	var err error
	select {
	case <-e.done:
	case <-ctx.Done():
		err = fmt.Errorf("wait for job %q: %w", id, ctx.Err())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// e stays valid even if the job was pruned meanwhile.
	return e.snapshot(), err
}

// pruneInterval bounds how long past Retain a finished job may linger
// before Run drops it, without waking often for long retention times.
func (m *Manager) pruneInterval() time.Duration {
	return min(time.Minute, max(time.Second, m.retain/10))
}

// Run prunes finished jobs older than Retain until ctx is done, then
// returns nil. Pruning to MaxJobs happens as jobs finish, Run or not.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.pruneInterval())
	defer t.Stop()
	for {
		m.Prune()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Prune forgets finished jobs that finished more than Retain ago, and the
// oldest finished ones beyond MaxJobs. It returns how many it forgot.
func (m *Manager) Prune() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pruneLocked(m.now())
}

func (m *Manager) pruneLocked(now time.Time) int {
	cutoff := now.Add(-m.retain)
	drop := max(0, len(m.finished)-m.maxJobs)
	// finished is in finishing order, so the jobs old enough to go are a
	// prefix (with a clock that never goes back).
	for drop < len(m.finished) && m.finished[drop].job.Finished.Before(cutoff) {
		drop++
	}
	for _, e := range m.finished[:drop] {
		delete(m.jobs, e.job.ID)
	}
	// Clear the dropped pointers so the backing array does not keep
	// their results alive.
	clear(m.finished[:drop])
	m.finished = m.finished[drop:]
	return drop
}

// Shutdown stops new jobs from starting (Start returns ErrShuttingDown) and
// waits for the running ones to finish. If ctx ends first, it cancels them,
// waits for their Funcs to return, and returns ctx's error. Jobs stay
// readable with Get, List and Wait afterwards.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	m.closing = true
	m.mu.Unlock()

	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}

	m.mu.Lock()
	cancelled := 0
	for _, e := range m.jobs {
		if e.job.State == StateRunning {
			e.cancelRequested = true
			e.cancel()
			cancelled++
		}
	}
	m.mu.Unlock()
	<-done
	if cancelled == 0 {
		// Every job finished on its own as ctx ended.
		return nil
	}
	m.log.Warn("shutdown cancelled running jobs", "jobs", cancelled)
	return fmt.Errorf("shut down jobs: %w", ctx.Err())
}
