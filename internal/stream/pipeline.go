package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/edp-data/edp/internal/kafka"
	"github.com/edp-data/edp/internal/lake"
)

// Named points in a pipeline's cycle where a test can stop it as a crash
// would: nothing after the point happens.
const (
	PointPolled         = "polled"          // records fetched into the batch, nothing written
	PointFilesWritten   = "files-written"   // data files written, not committed
	PointDLQCommitted   = "dlq-committed"   // dead letters committed, data not
	PointCommitted      = "committed"       // snapshot committed, offsets not yet told to the group
	PointGroupCommitted = "group-committed" // offsets also committed to the consumer group
)

// ErrStopped is wrapped by the error Run returns when the pipeline stopped
// itself: a bad record under BadStop, a new field under SchemaFail.
var ErrStopped = errors.New("pipeline stopped")

// Deps are what a pipeline needs from the rest of edp.
type Deps struct {
	Lake    *lake.Lake
	Cluster kafka.Cluster
	// TempDir is where DuckDB may spill while staging a batch.
	TempDir string
	Logger  *slog.Logger
	// Now is the clock (time.Now when nil).
	Now     func() time.Time
	Metrics *Metrics
	// TargetFileSize bounds each data file (default 512 MB).
	TargetFileSize int64
	// KafkaOpts are extra client options (tests shorten session timeouts).
	KafkaOpts []kgo.Opt
	// Registry is the schema registry avro and json-schema pipelines
	// read schemas from; nil when none is configured.
	Registry *sr.Client

	// hook, set by tests, is called at each named point; an error stops
	// the pipeline there as a crash would.
	hook func(point string) error
}

// tp names a topic partition.
type tp struct {
	topic     string
	partition int32
}

// partState is what a pipeline holds for one assigned partition.
type partState struct {
	// base is the next offset the table says this pipeline has committed
	// for the partition (-1: none yet). A commit is valid only if the
	// table still says so: otherwise another consumer committed first.
	base int64
	// next is one past the last record taken from the partition; records
	// in [base, next) are either buffered or were consumed without
	// yielding rows and are committed with the partition's next rows.
	next    int64
	records []*kgo.Record
	bytes   int64
	// hwm is the partition's high watermark at the last fetch, for lag.
	hwm int64
}

// Pipeline is one running stream pipeline.
type Pipeline struct {
	spec Spec
	deps Deps
	log  *slog.Logger
	now  func() time.Time

	mu    sync.Mutex // guards parts against rebalance callbacks
	parts map[tp]*partState
	// records and bytes buffered across parts.
	buffered      int
	bufferedBytes int64
	// inputCols remembers the columns inferred for a transform's input.
	inputCols []column
	// keys is an upsert pipeline's key index (nil until first needed).
	keys      *keyIndex
	reg       *registry
	original  map[*kgo.Record]*kgo.Record // decoded copy → record as consumed
	cl        *kgo.Client
	valuesCtx context.Context // Run's context values, never cancelled
	stat      *statusTracker
	w         *writer
}

// New checks spec and prepares a pipeline; Run starts it.
func New(spec Spec, deps Deps) (*Pipeline, error) {
	if err := spec.Normalize(time.Second); err != nil {
		return nil, err
	}
	if deps.Lake == nil {
		return nil, errors.New("stream: a pipeline needs a lake")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	p := &Pipeline{spec: spec, deps: deps, log: deps.Logger.With("pipeline", spec.Name), now: deps.Now, parts: map[tp]*partState{}}
	p.stat = newStatusTracker(spec, deps.Metrics, deps.Now)
	if deps.Registry != nil {
		p.reg = newRegistry(deps.Registry)
	}
	return p, nil
}

// Spec returns the pipeline's normalized specification.
func (p *Pipeline) Spec() Spec { return p.spec }

// group is the consumer group of a pipeline: replicas of edp running the
// same pipeline share its partitions.
func (p *Pipeline) group() string { return "edp-stream-" + p.spec.Name }

// Run consumes and commits until ctx ends (returning nil after a final
// commit of what was buffered) or the pipeline fails.
func (p *Pipeline) Run(ctx context.Context) (err error) {
	p.stat.setState(StateRunning, nil)
	defer func() {
		if err != nil {
			p.stat.setState(StateFailed, err)
		} else {
			p.stat.setState(StateStopped, nil)
		}
	}()
	// A panic fails this pipeline, not the process: edp serve runs every
	// pipeline in one process, and each replica would crash-loop on it.
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("stream pipeline panicked", "panic", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: internal error: %v", ErrStopped, v)
		}
	}()
	w, err := newWriter(ctx, p)
	if err != nil {
		return err
	}
	p.w = w
	defer w.close()
	// Rebalance callbacks get the client's context; they read the table
	// as the pipeline's principal, so it must carry Run's values.
	p.valuesCtx = context.WithoutCancel(ctx)
	opts := append([]kgo.Opt{
		kgo.ConsumerGroup(p.group()),
		kgo.ConsumeTopics(p.spec.Topics...),
		kgo.DisableAutoCommit(),
		// Rebalances wait while a polled batch is being handled, so a
		// partition is never revoked in the middle of a commit.
		kgo.BlockRebalanceOnPoll(),
		kgo.AdjustFetchOffsetsFn(p.adjustOffsets),
		kgo.OnPartitionsRevoked(p.dropPartitions),
		kgo.OnPartitionsLost(p.dropPartitions),
		kgo.FetchMaxWait(250 * time.Millisecond),
		// Records of aborted transactions are not data.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	}, p.deps.KafkaOpts...)
	cl, err := kafka.NewClient(p.deps.Cluster, opts...)
	if err != nil {
		return err
	}
	p.cl = cl
	crashed := false
	defer func() {
		// Leaving the group waits for a blocked rebalance to be allowed.
		cl.AllowRebalance()
		if crashed {
			// A crash leaves no goodbye: the group notices by session
			// timeout. Closing without committing is the closest a test
			// can get; nothing buffered is written.
			cl.Close()
			return
		}
		cl.CloseAllowingRebalance()
	}()

	ticker := time.NewTicker(p.spec.CommitInterval)
	defer ticker.Stop()
	lastCommit := p.now()
	for {
		pollCtx, cancel := context.WithTimeout(ctx, p.spec.CommitInterval)
		fetches := cl.PollRecords(pollCtx, p.spec.MaxBatchRecords-p.bufferedCount())
		cancel()
		if ctx.Err() != nil {
			// A final commit of what was buffered, under a context of its
			// own: stopping must not lose the work already done.
			fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			err := p.commit(fctx)
			fcancel()
			crashed = isCrash(err)
			cl.AllowRebalance()
			return err
		}
		if err := p.take(fetches); err != nil {
			cl.AllowRebalance()
			return err
		}
		if err := p.hook(PointPolled); err != nil {
			crashed = true
			return err
		}
		full := p.bufferedCount() >= p.spec.MaxBatchRecords || p.bufferedBytesCount() >= p.spec.MaxBatchBytes
		if full || p.now().Sub(lastCommit) >= p.spec.CommitInterval {
			if err := p.commit(ctx); err != nil {
				crashed = isCrash(err)
				cl.AllowRebalance()
				if ctx.Err() != nil && !crashed {
					return nil
				}
				return err
			}
			lastCommit = p.now()
		}
		cl.AllowRebalance()
	}
}

// crashError marks an error a test hook returned.
type crashError struct{ point string }

func (e crashError) Error() string { return "crash at " + e.point }

func isCrash(err error) bool {
	var c crashError
	return errors.As(err, &c)
}

func (p *Pipeline) hook(point string) error {
	if p.deps.hook == nil {
		return nil
	}
	if err := p.deps.hook(point); err != nil {
		return crashError{point: point}
	}
	return nil
}

func (p *Pipeline) bufferedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buffered
}

func (p *Pipeline) bufferedBytesCount() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bufferedBytes
}

// take adds polled records to the batch.
func (p *Pipeline) take(fetches kgo.Fetches) error {
	var errs []error
	fetches.EachError(func(t string, part int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			errs = append(errs, fmt.Errorf("fetch %s/%d: %w", t, part, err))
		}
	})
	if len(errs) > 0 {
		// Fetch errors are retried by the client; report the first so
		// status shows it, and keep going.
		p.log.Warn("fetch error", "err", errs[0])
		p.stat.noteError(errs[0])
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		key := tp{fp.Topic, fp.Partition}
		st, ok := p.parts[key]
		if !ok {
			// Records of a partition revoked since the poll: the new
			// owner reads them from the table's offsets.
			return
		}
		st.hwm = fp.HighWatermark
		for _, r := range fp.Records {
			if r.Offset < st.next {
				continue
			}
			st.records = append(st.records, r)
			st.next = r.Offset + 1
			n := int64(len(r.Key) + len(r.Value))
			st.bytes += n
			p.buffered++
			p.bufferedBytes += n
		}
	})
	return nil
}

// adjustOffsets is called when partitions are assigned: positions come
// from the offsets in the table's snapshots, never from the group.
func (p *Pipeline) adjustOffsets(ctx context.Context, assigned map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	lctx, cancel := context.WithCancel(p.valuesCtx)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	committed, err := p.tableOffsets(lctx)
	if err != nil {
		p.stat.noteError(err)
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]map[int32]kgo.Offset{}
	for t, parts := range assigned {
		out[t] = map[int32]kgo.Offset{}
		for part := range parts {
			st := &partState{base: -1, next: -1, hwm: -1}
			if off, ok := committed.Get(t, part); ok {
				st.base, st.next = off, off
				out[t][part] = kgo.NewOffset().At(off).WithEpoch(-1)
			} else if p.spec.StartFrom == StartLatest {
				out[t][part] = kgo.NewOffset().AtEnd()
			} else {
				out[t][part] = kgo.NewOffset().AtStart()
			}
			p.parts[tp{t, part}] = st
		}
	}
	p.log.Debug("partitions assigned", "offsets", committed)
	return out, nil
}

// tableOffsets reads the pipeline's committed offsets from its table.
func (p *Pipeline) tableOffsets(ctx context.Context) (Offsets, error) {
	tbl, err := p.deps.Lake.LoadTable(ctx, p.spec.Table)
	if errors.Is(err, lake.ErrNoSuchTable) || errors.Is(err, lake.ErrNoSuchNamespace) {
		return Offsets{}, nil
	}
	if err != nil {
		return nil, err
	}
	o, _, err := committedOffsets(tbl, p.spec.Name)
	return o, err
}

// dropPartitions forgets revoked or lost partitions and whatever of them
// was buffered: it was not committed, so their next owner reads it again
// from the table's offsets.
func (p *Pipeline) dropPartitions(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for t, parts := range revoked {
		for _, part := range parts {
			key := tp{t, part}
			if st, ok := p.parts[key]; ok {
				p.buffered -= len(st.records)
				p.bufferedBytes -= st.bytes
				delete(p.parts, key)
			}
		}
	}
	p.stat.forget(revoked)
}
