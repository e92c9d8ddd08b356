package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/audit"
	"github.com/edp-data/edp/internal/metadb"
	"github.com/edp-data/edp/internal/metadb/metadbtest"
)

// gate is a batch hook that records every batch size and, when armed, holds
// the writer goroutine on the next batch until released. While it is held,
// Appends queue up behind it, so a test decides exactly which records the
// following batch takes.
type gate struct {
	mu      sync.Mutex
	armed   bool
	sizes   []int
	held    chan int
	release chan struct{}
	once    sync.Once
}

func newGate() *gate { return &gate{held: make(chan int), release: make(chan struct{})} }

func (g *gate) hook(n int) {
	g.mu.Lock()
	g.sizes = append(g.sizes, n)
	armed := g.armed
	g.armed = false
	g.mu.Unlock()
	if armed {
		g.held <- n
		<-g.release
	}
}

func (g *gate) arm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed = true
}

// open releases a held writer and lets every later batch through.
func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

func (g *gate) batchSizes() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.sizes)
}

// newGatedFixture is newFixture with a gate on the writer.
func newGatedFixture(t *testing.T, eng metadbtest.Engine, every int) (*fixture, *gate) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t, eng)
	c := &clock{t: base}
	g := newGate()
	opts := audit.WithBatchHook(audit.Options{Signer: priv, CheckpointEvery: every, Clock: c.now}, g.hook)
	l, err := audit.Open(context.Background(), db, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	t.Cleanup(g.open) // runs first: a failed test must not leave Close waiting on a held writer
	return &fixture{db: db, log: l, pub: pub, priv: priv}, g
}

type result struct {
	entry audit.Entry
	err   error
}

// start runs Append in its own goroutine.
func (f *fixture) start(ctx context.Context, rec audit.Record) <-chan result {
	ch := make(chan result, 1)
	go func() {
		e, err := f.log.Append(ctx, rec)
		ch <- result{e, err}
	}()
	return ch
}

// enqueue starts an Append and returns once its record is queued, so records
// enqueued one after another are accepted in that order.
func (f *fixture) enqueue(t *testing.T, ctx context.Context, rec audit.Record) <-chan result {
	t.Helper()
	n := audit.QueueLen(f.log)
	ch := f.start(ctx, rec)
	waitFor(t, fmt.Sprintf("queue length %d", n+1), func() bool { return audit.QueueLen(f.log) == n+1 })
	return ch
}

// hold arms g, appends anchor and returns once the writer is held on the
// batch holding it (and only it).
func (f *fixture) hold(t *testing.T, g *gate, ctx context.Context, anchor audit.Record) <-chan result {
	t.Helper()
	g.arm()
	ch := f.start(ctx, anchor)
	select {
	case n := <-g.held:
		if n != 1 {
			t.Fatalf("held batch has %d records, want 1", n)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("timed out waiting for the writer to take the anchor")
	}
	return ch
}

// waitFor polls cond. The bound only keeps a broken build from hanging; it
// is not a performance assertion.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// recv waits for an Append's result, failing the test instead of hanging
// if it never comes.
func recv(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("timed out waiting for an Append to return")
		return result{}
	}
}

func (f *fixture) tail(t *testing.T) []audit.Entry {
	t.Helper()
	entries, err := f.log.Tail(context.Background(), 100000)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func (f *fixture) checkpointSeqs(t *testing.T) []int64 {
	t.Helper()
	rows, err := f.db.Query(`SELECT seq FROM edp_audit_checkpoints ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := []int64{}
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func multiplesOf(every, upTo int64) []int64 {
	out := []int64{}
	for s := every; s <= upTo; s += every {
		out = append(out, s)
	}
	return out
}

func TestGroupCommitManyAppenders(t *testing.T) { eachEngine(t, testGroupCommitManyAppenders) }

func testGroupCommitManyAppenders(t *testing.T, eng metadbtest.Engine) {
	const workers, each, every = 16, 40, 7
	f, g := newGatedFixture(t, eng, every)
	got := make([][]audit.Entry, workers)
	errs := make(chan error, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				e, err := f.log.Append(context.Background(), record(w*each+i))
				if err != nil {
					errs <- err
					return
				}
				got[w] = append(got[w], e)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	const n = workers * each
	entries := f.tail(t)
	if len(entries) != n {
		t.Fatalf("Tail returned %d entries, want %d", len(entries), n)
	}
	for i, e := range entries {
		if e.Seq != int64(i+1) {
			t.Fatalf("Tail()[%d].Seq = %d, want %d", i, e.Seq, i+1)
		}
	}
	for w, es := range got {
		for i, e := range es {
			// One caller's appends are sequential, so acceptance order
			// is call order.
			if i > 0 && e.Seq <= es[i-1].Seq {
				t.Fatalf("worker %d: append %d got seq %d after seq %d", w, i, e.Seq, es[i-1].Seq)
			}
			if want := entries[e.Seq-1]; !reflect.DeepEqual(e, want) {
				t.Fatalf("Append returned %+v for seq %d, Tail has %+v", e, e.Seq, want)
			}
		}
	}
	rep := f.verify(t)
	if !rep.OK() || rep.Entries != n || rep.Checkpoints != n/every || rep.LastCheckpoint != n/every*every {
		t.Fatalf("report = %+v (%v), want %d entries, %d checkpoints", rep, rep.Problem, n, n/every)
	}
	if got, want := f.checkpointSeqs(t), multiplesOf(every, n); !slices.Equal(got, want) {
		t.Fatalf("checkpoints at %v, want %v", got, want)
	}
	sizes := g.batchSizes()
	if sum := sumInts(sizes); sum != n {
		t.Fatalf("batches %v hold %d records, want %d", sizes, sum, n)
	}
	t.Logf("%d appends in %d batches, largest %d", n, len(sizes), slices.Max(sizes))
}

// fault installs a trigger named name that fails every insert into
// edp_audit_log (those matching cond, if given) with msg.
func (f *fixture) fault(t *testing.T, name, cond, msg string) {
	t.Helper()
	if f.db.Dialect == metadb.Postgres {
		f.exec(t, fmt.Sprintf(`CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION '%s'; END $$`, name, msg))
		when := ""
		if cond != "" {
			when = "WHEN (" + cond + ")"
		}
		f.exec(t, fmt.Sprintf(`CREATE TRIGGER %s BEFORE INSERT ON edp_audit_log FOR EACH ROW %s EXECUTE FUNCTION %s()`, name, when, name))
		return
	}
	when := ""
	if cond != "" {
		when = "WHEN " + cond
	}
	f.exec(t, fmt.Sprintf(`CREATE TRIGGER %s BEFORE INSERT ON edp_audit_log %s
		BEGIN SELECT RAISE(ABORT, '%s'); END`, name, when, msg))
}

func (f *fixture) dropFault(t *testing.T, name string) {
	t.Helper()
	if f.db.Dialect == metadb.Postgres {
		f.exec(t, fmt.Sprintf(`DROP TRIGGER %s ON edp_audit_log`, name))
		f.exec(t, fmt.Sprintf(`DROP FUNCTION %s()`, name))
		return
	}
	f.exec(t, `DROP TRIGGER `+name)
}

func sumInts(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

// TestGroupCommitBatchBoundAndCheckpoints queues more records than one batch
// holds behind a held writer, so the batches and the checkpoint multiples
// inside them are known exactly.
func TestGroupCommitBatchBoundAndCheckpoints(t *testing.T) {
	eachEngine(t, testGroupCommitBatchBoundAndCheckpoints)
}

func testGroupCommitBatchBoundAndCheckpoints(t *testing.T, eng metadbtest.Engine) {
	const every, queued = 7, 300
	f, g := newGatedFixture(t, eng, every)
	ctx := context.Background()
	first := f.hold(t, g, ctx, record(0))
	chans := make([]<-chan result, queued)
	for i := range chans {
		chans[i] = f.enqueue(t, ctx, record(i+1))
	}
	g.open()
	if r := recv(t, first); r.err != nil || r.entry.Seq != 1 {
		t.Fatalf("anchor append = seq %d, %v; want seq 1", r.entry.Seq, r.err)
	}
	for i, ch := range chans {
		r := recv(t, ch)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.entry.Seq != int64(i+2) {
			t.Fatalf("queued append %d got seq %d, want %d (acceptance order)", i, r.entry.Seq, i+2)
		}
		if r.entry.Details["i"].(fmt.Stringer).String() != fmt.Sprint(i+1) {
			t.Fatalf("seq %d holds details %v, want i=%d", r.entry.Seq, r.entry.Details, i+1)
		}
	}
	if got, want := g.batchSizes(), []int{1, 256, queued - 256}; !slices.Equal(got, want) {
		t.Fatalf("batch sizes = %v, want %v", got, want)
	}
	const n = queued + 1
	if got, want := f.checkpointSeqs(t), multiplesOf(every, n); !slices.Equal(got, want) {
		t.Fatalf("checkpoints at %v, want %v", got, want)
	}
	if rep := f.verify(t); !rep.OK() || rep.Entries != n || rep.LastCheckpoint != n/every*every {
		t.Fatalf("report = %+v (%v)", rep, rep.Problem)
	}
}

func TestGroupCommitFailedBatch(t *testing.T) { eachEngine(t, testGroupCommitFailedBatch) }

func testGroupCommitFailedBatch(t *testing.T, eng metadbtest.Engine) {
	ctx := context.Background()
	f, g := newGatedFixture(t, eng, 4)
	f.appendN(t, 5)

	// A poisoned record fails its whole batch: the records queued before
	// it in the same transaction must not be written either.
	f.fault(t, "poison", "NEW.action = 'poison'", "poisoned record")
	anchor := f.hold(t, g, ctx, record(5))
	var chans []<-chan result
	for i := range 8 {
		rec := record(100 + i)
		if i == 4 {
			rec.Action = "poison"
		}
		chans = append(chans, f.enqueue(t, ctx, rec))
	}
	g.open()
	if r := recv(t, anchor); r.err != nil || r.entry.Seq != 6 {
		t.Fatalf("anchor append = seq %d, %v; want seq 6", r.entry.Seq, r.err)
	}
	for i, ch := range chans {
		if r := recv(t, ch); r.err == nil || !strings.Contains(r.err.Error(), "poisoned record") {
			t.Fatalf("append %d in the poisoned batch: entry %d, err %v; want the trigger's error", i, r.entry.Seq, r.err)
		}
	}
	if got, want := g.batchSizes()[5:], []int{1, 8}; !slices.Equal(got, want) {
		t.Fatalf("batch sizes after the first five = %v, want %v", got, want)
	}
	before := f.tail(t)
	if len(before) != 6 {
		t.Fatalf("log has %d entries after the failed batch, want 6", len(before))
	}
	f.dropFault(t, "poison")

	// A fault installed while appends run: every waiter fails and the log
	// does not move.
	f.fault(t, "readonly", "", "audit log is read-only")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			e, err := f.log.Append(ctx, record(200+i))
			if err == nil {
				err = fmt.Errorf("append succeeded with seq %d", e.Seq)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !strings.Contains(err.Error(), "audit log is read-only") {
			t.Fatalf("append under a read-only table: %v, want the trigger's error", err)
		}
	}
	if after := f.tail(t); !reflect.DeepEqual(after, before) {
		t.Fatalf("failed appends changed the log: %d entries, want %d unchanged", len(after), len(before))
	}
	if got, want := f.checkpointSeqs(t), []int64{4}; !slices.Equal(got, want) {
		t.Fatalf("checkpoints at %v, want %v", got, want)
	}

	f.dropFault(t, "readonly")
	wg = sync.WaitGroup{}
	errs = make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			if _, err := f.log.Append(ctx, record(300+i)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("append after the fault was removed: %v", err)
	}
	rep := f.verify(t)
	if !rep.OK() || rep.Entries != 14 || rep.Checkpoints != 3 || rep.LastCheckpoint != 12 {
		t.Fatalf("report = %+v (%v), want 14 entries, checkpoints at 4, 8, 12", rep, rep.Problem)
	}
}

func TestAppendCancelled(t *testing.T) { eachEngine(t, testAppendCancelled) }

func testAppendCancelled(t *testing.T, eng metadbtest.Engine) {
	f, g := newGatedFixture(t, eng, -1)

	// Cancelled before it starts: nothing is queued.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.log.Append(done, record(0)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with a cancelled ctx: err = %v, want context.Canceled", err)
	}

	// The anchor is taken into a batch, then its caller gives up: it must
	// still get the batch's outcome, which here is success.
	anchorCtx, cancelAnchor := context.WithCancel(context.Background())
	defer cancelAnchor()
	anchor := f.hold(t, g, anchorCtx, audit.Record{Principal: "alice", Action: "anchor", Outcome: audit.OutcomeSuccess})
	cancelAnchor()

	// Queued behind it, then cancelled: withdrawn, never written.
	queuedCtx, cancelQueued := context.WithCancel(context.Background())
	defer cancelQueued()
	queued := f.enqueue(t, queuedCtx, audit.Record{Principal: "bob", Action: "withdrawn", Outcome: audit.OutcomeSuccess})
	kept := f.enqueue(t, context.Background(), audit.Record{Principal: "carol", Action: "kept", Outcome: audit.OutcomeSuccess})
	cancelQueued()
	if r := recv(t, queued); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("queued append after cancel: entry %d, err %v; want context.Canceled", r.entry.Seq, r.err)
	}
	if n := audit.QueueLen(f.log); n != 1 {
		t.Fatalf("queue length after withdrawal = %d, want 1", n)
	}

	g.open()
	if r := recv(t, anchor); r.err != nil || r.entry.Seq != 1 {
		t.Fatalf("cancelled anchor append = seq %d, %v; want seq 1, nil (it was already in a batch)", r.entry.Seq, r.err)
	}
	if r := recv(t, kept); r.err != nil || r.entry.Seq != 2 {
		t.Fatalf("append queued after the withdrawn one = seq %d, %v; want seq 2", r.entry.Seq, r.err)
	}
	var actions []string
	for _, e := range f.tail(t) {
		actions = append(actions, e.Action)
	}
	if got, want := fmt.Sprint(actions), "[anchor kept]"; got != want {
		t.Fatalf("log actions = %s, want %s", got, want)
	}
	if rep := f.verify(t); !rep.OK() || rep.Entries != 2 {
		t.Fatalf("report = %+v (%v)", rep, rep.Problem)
	}
}

// TestCloseFlushesQueuedAppends pins Close's contract: records accepted
// before Close are written, and Append after Close began is refused.
func TestCloseFlushesQueuedAppends(t *testing.T) { eachEngine(t, testCloseFlushesQueuedAppends) }

func testCloseFlushesQueuedAppends(t *testing.T, eng metadbtest.Engine) {
	ctx := context.Background()
	f, g := newGatedFixture(t, eng, 3)
	anchor := f.hold(t, g, ctx, record(0))
	var chans []<-chan result
	for i := range 5 {
		chans = append(chans, f.enqueue(t, ctx, record(i+1)))
	}
	closed := make(chan error, 1)
	go func() { closed <- f.log.Close() }()
	waitFor(t, "Close to stop accepting", func() bool { return !audit.Accepting(f.log) })
	if _, err := f.log.Append(ctx, record(9)); !errors.Is(err, audit.ErrClosed) {
		t.Fatalf("Append while closing: err = %v, want ErrClosed", err)
	}
	g.open()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("timed out waiting for Close")
	}
	for i, ch := range append([]<-chan result{anchor}, chans...) {
		if r := recv(t, ch); r.err != nil || r.entry.Seq != int64(i+1) {
			t.Fatalf("append %d in flight at Close = seq %d, %v; want seq %d", i, r.entry.Seq, r.err, i+1)
		}
	}
	if err := f.log.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := f.log.Append(ctx, record(10)); !errors.Is(err, audit.ErrClosed) {
		t.Fatalf("Append after Close: err = %v, want ErrClosed", err)
	}
	if _, err := f.log.Checkpoint(ctx); !errors.Is(err, audit.ErrClosed) {
		t.Fatalf("Checkpoint after Close: err = %v, want ErrClosed", err)
	}
	rep := f.verify(t) // Verify reads through the pool, which Close leaves open
	if !rep.OK() || rep.Entries != 6 || rep.LastCheckpoint != 6 {
		t.Fatalf("report = %+v (%v), want 6 entries, last checkpoint 6", rep, rep.Problem)
	}
}

// TestCloseStopsWriter opens and closes many Logs and checks that their
// writer goroutines are gone, goleak style: the count must come back down.
func TestCloseStopsWriter(t *testing.T) { eachEngine(t, testCloseStopsWriter) }

func testCloseStopsWriter(t *testing.T, eng metadbtest.Engine) {
	ctx := context.Background()
	db := openDB(t, eng)
	if _, err := db.Exec(`SELECT 1`); err != nil { // let the pool start its own goroutines first
		t.Fatal(err)
	}
	baseline := runtime.NumGoroutine()
	for round := range 10 {
		l, err := audit.Open(ctx, db, audit.Options{CheckpointEvery: -1})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				if _, err := l.Append(ctx, record(round*4+i)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			var buf bytes.Buffer
			pprof.Lookup("goroutine").WriteTo(&buf, 1)
			t.Fatalf("%d goroutines after closing every Log, %d before:\n%s", runtime.NumGoroutine(), baseline, buf.String())
		}
		time.Sleep(time.Millisecond)
	}
}
