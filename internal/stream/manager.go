package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/policy"
)

// Manager runs the stored pipelines inside edp serve: it starts every
// pipeline that is not paused, stops paused and deleted ones, restarts
// one that failed for a reason that may pass (Kafka unreachable), and
// leaves one that stopped itself (a bad record under stop, a new field
// under fail) stopped until it is paused and resumed.
type Manager struct {
	store *Store
	deps  Deps
	log   *slog.Logger
	// DefaultInterval is the commit interval of pipelines that set none.
	defaultInterval time.Duration
	// Poll is how often the store is re-read, so that changes made by
	// another replica or by the CLI on the data directory take effect.
	poll time.Duration

	mu      sync.Mutex
	running map[string]*running
	failed  map[string]Status // last status of pipelines that stopped themselves
	wake    chan struct{}
}

type running struct {
	p      *Pipeline
	spec   Spec
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// NewManager makes a manager of the pipelines in store.
func NewManager(store *Store, deps Deps, defaultInterval time.Duration) *Manager {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{store: store, deps: deps, log: deps.Logger, defaultInterval: defaultInterval, poll: 5 * time.Second,
		running: map[string]*running{}, failed: map[string]Status{}, wake: make(chan struct{}, 1)}
}

// Store is the manager's pipeline store.
func (m *Manager) Store() *Store { return m.store }

// Run reconciles the running pipelines with the store until ctx ends,
// then stops them all; each commits what it buffered before returning.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.poll)
	defer t.Stop()
	for {
		if err := m.reconcile(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("stream pipelines: reading the store failed", "err", err)
		}
		select {
		case <-ctx.Done():
			m.stopAll()
			return nil
		case <-t.C:
		case <-m.wake:
		}
	}
}

// Kick makes Run reconcile now rather than at its next poll.
func (m *Manager) Kick() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *Manager) reconcile(ctx context.Context) error {
	stored, err := m.store.List(ctx)
	if err != nil {
		return err
	}
	want := map[string]Stored{}
	for _, s := range stored {
		want[s.Spec.Name] = s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, r := range m.running {
		s, ok := want[name]
		finished := false
		select {
		case <-r.done:
			finished = true
		default:
		}
		switch {
		case !ok || s.Paused || specChanged(r.spec, s.Spec):
			r.cancel()
			<-r.done
			delete(m.running, name)
			if !ok || s.Paused {
				delete(m.failed, name)
			}
		case finished:
			delete(m.running, name)
			if errors.Is(r.err, ErrStopped) {
				m.failed[name] = r.p.Status()
				m.log.Error("stream pipeline stopped", "pipeline", name, "err", r.err)
			} else {
				m.log.Warn("stream pipeline failed; restarting", "pipeline", name, "err", r.err)
			}
		}
	}
	for name, s := range want {
		if s.Paused {
			delete(m.failed, name)
			continue
		}
		if _, ok := m.running[name]; ok {
			continue
		}
		if _, ok := m.failed[name]; ok {
			continue
		}
		m.start(ctx, s.Spec)
	}
	return nil
}

func specChanged(a, b Spec) bool {
	ja, _ := a.MarshalJSON()
	jb, _ := b.MarshalJSON()
	return string(ja) != string(jb)
}

// start runs a pipeline; the caller holds m.mu.
func (m *Manager) start(ctx context.Context, spec Spec) {
	if spec.CommitInterval <= 0 {
		spec.CommitInterval = m.defaultInterval
	}
	p, err := New(spec, m.deps)
	if err != nil {
		m.log.Error("stream pipeline cannot start", "pipeline", spec.Name, "err", err)
		return
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &running{p: p, spec: spec, cancel: cancel, done: make(chan struct{})}
	m.running[spec.Name] = r
	go func() {
		defer close(r.done)
		defer func() {
			// Run recovers its own panics; this keeps the server up if
			// anything around it panics too.
			if v := recover(); v != nil {
				r.err = fmt.Errorf("%w: internal error: %v", ErrStopped, v)
				p.stat.setState(StateFailed, r.err)
				m.log.Error("stream pipeline panicked", "pipeline", spec.Name, "panic", v, "stack", string(debug.Stack()))
			}
		}()
		r.err = p.Run(rctx)
		if r.err != nil {
			// Wake the reconciler after a pause, so a pipeline whose Kafka
			// is down is retried without spinning.
			time.AfterFunc(5*time.Second, m.Kick)
		}
	}()
	m.log.Info("stream pipeline started", "pipeline", spec.Name, "topics", spec.Topics, "table", spec.Table.String())
}

func (m *Manager) stopAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.running {
		r.cancel()
	}
	for name, r := range m.running {
		<-r.done
		delete(m.running, name)
	}
}

// Info is a stored pipeline with its live status.
type Info struct {
	Stored
	Status Status `json:"status"`
}

// List returns every pipeline with its status, if the principal in ctx
// may read its table.
func (m *Manager) List(ctx context.Context) ([]Info, error) {
	stored, err := m.store.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, s := range stored {
		if m.deps.Lake.Authorize(ctx, policy.Read, resource(s.Spec.Table)) != nil {
			continue
		}
		out = append(out, m.info(s))
	}
	return out, nil
}

// Get returns one pipeline with its status.
func (m *Manager) Get(ctx context.Context, name string) (Info, error) {
	s, err := m.store.Get(ctx, name)
	if err != nil {
		return Info{}, err
	}
	if err := m.deps.Lake.Authorize(ctx, policy.Read, resource(s.Spec.Table)); err != nil {
		return Info{}, err
	}
	return m.info(s), nil
}

func (m *Manager) info(s Stored) Info {
	m.mu.Lock()
	defer m.mu.Unlock()
	in := Info{Stored: s, Status: Status{Name: s.Spec.Name, State: StateStopped, Partitions: []PartitionStatus{}}}
	if r, ok := m.running[s.Spec.Name]; ok {
		in.Status = r.p.Status()
	} else if st, ok := m.failed[s.Spec.Name]; ok {
		in.Status = st
	}
	if s.Paused {
		in.Status.State = StatePaused
	}
	return in
}

// Create stores a new pipeline and starts it. The principal in ctx must
// be allowed to administer the target table.
func (m *Manager) Create(ctx context.Context, spec Spec) (Spec, error) {
	if err := spec.Normalize(m.defaultInterval); err != nil {
		return Spec{}, err
	}
	if err := m.deps.Lake.Authorize(ctx, policy.Admin, resource(spec.Table)); err != nil {
		return Spec{}, err
	}
	if err := m.store.Create(ctx, spec); err != nil {
		return Spec{}, err
	}
	m.Kick()
	return spec, nil
}

// SetPaused pauses or resumes a pipeline. Resuming also restarts one that
// stopped itself.
func (m *Manager) SetPaused(ctx context.Context, name string, paused bool) error {
	if err := m.authorizeAdmin(ctx, name); err != nil {
		return err
	}
	if err := m.store.SetPaused(ctx, name, paused); err != nil {
		return err
	}
	if !paused {
		m.mu.Lock()
		delete(m.failed, name)
		m.mu.Unlock()
	}
	m.Kick()
	return nil
}

// Delete removes a pipeline. Its table, dead letters and the offsets in
// the table's snapshots stay: a pipeline created again under the same
// name resumes where this one stopped.
func (m *Manager) Delete(ctx context.Context, name string) error {
	if err := m.authorizeAdmin(ctx, name); err != nil {
		return err
	}
	if err := m.store.Delete(ctx, name); err != nil {
		return err
	}
	m.Kick()
	return nil
}

func (m *Manager) authorizeAdmin(ctx context.Context, name string) error {
	s, err := m.store.Get(ctx, name)
	if err != nil {
		return err
	}
	return m.deps.Lake.Authorize(ctx, policy.Admin, resource(s.Spec.Table))
}

func resource(id lake.Ident) policy.Resource {
	return policy.Resource{Namespace: id.Namespace, Table: id.Name}
}
