package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/jobs"
)

// clock is a settable clock for pruning tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// logBuffer collects log output; jobs log from their own goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func as(name string) context.Context {
	return auth.WithPrincipal(context.Background(), auth.Principal{Name: name, Roles: []string{auth.RoleWriter}})
}

func wait(t *testing.T, m *jobs.Manager, id string) jobs.Job {
	t.Helper()
	j, err := m.Wait(context.Background(), id)
	if err != nil {
		t.Fatalf("Wait(%q): %v", id, err)
	}
	return j
}

func succeed(context.Context, func(jobs.Progress)) (any, error) { return "ok", nil }

var idPattern = regexp.MustCompile(`^job_[A-Za-z0-9_-]{22}$`)

func TestSuccessWithProgress(t *testing.T) {
	m := jobs.New(jobs.Options{})
	reqCtx, endRequest := context.WithCancel(as("alice"))
	reported := make(chan struct{})
	proceed := make(chan struct{})
	var seenID string
	j, err := m.Start(reqCtx, "load", func(ctx context.Context, report func(jobs.Progress)) (any, error) {
		seenID, _ = jobs.IDFromContext(ctx)
		report(jobs.Progress{Done: 1, Total: 3, Unit: "files", Message: "reading a.csv"})
		close(reported)
		<-proceed
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("job context ended with its request: %w", err)
		}
		report(jobs.Progress{Done: 3, Total: 3, Unit: "files"})
		return map[string]int{"rows": 42}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The job outlives the request that started it.
	endRequest()
	if !idPattern.MatchString(j.ID) {
		t.Errorf("ID %q does not match %s", j.ID, idPattern)
	}
	if j.Kind != "load" || j.Principal != "alice" || j.State != jobs.StateRunning || j.Finished != nil || j.Created.IsZero() {
		t.Errorf("Start = %+v, want a running load job of alice", j)
	}

	<-reported
	mid, err := m.Get(j.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := jobs.Progress{Done: 1, Total: 3, Unit: "files", Message: "reading a.csv"}
	if mid.State != jobs.StateRunning || mid.Progress != want {
		t.Errorf("Get mid-run = %s %+v, want running %+v", mid.State, mid.Progress, want)
	}

	close(proceed)
	got := wait(t, m, j.ID)
	if got.State != jobs.StateSucceeded || got.Error != "" || got.Finished == nil {
		t.Fatalf("Wait = %+v, want succeeded", got)
	}
	if r, ok := got.Result.(map[string]int); !ok || r["rows"] != 42 {
		t.Errorf("Result = %#v, want rows 42", got.Result)
	}
	if want := (jobs.Progress{Done: 3, Total: 3, Unit: "files"}); got.Progress != want {
		t.Errorf("final Progress = %+v, want %+v", got.Progress, want)
	}
	if seenID != j.ID {
		t.Errorf("IDFromContext in the job = %q, want %q", seenID, j.ID)
	}

	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"state":"succeeded"`, `"principal":"alice"`, `"result":{"rows":42}`, `"finished":"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("json %s lacks %s", b, want)
		}
	}
}

func TestNoPrincipal(t *testing.T) {
	m := jobs.New(jobs.Options{})
	j, err := m.Start(context.Background(), "load", succeed)
	if err != nil {
		t.Fatal(err)
	}
	if j.Principal != "" {
		t.Errorf("Principal = %q, want empty", j.Principal)
	}
	wait(t, m, j.ID)
}

func TestFailure(t *testing.T) {
	m := jobs.New(jobs.Options{})
	j, err := m.Start(as("alice"), "load", func(ctx context.Context, report func(jobs.Progress)) (any, error) {
		report(jobs.Progress{Done: 7})
		return "partial", fmt.Errorf("load t: %w", errors.New("disk full"))
	})
	if err != nil {
		t.Fatal(err)
	}
	got := wait(t, m, j.ID)
	if got.State != jobs.StateFailed || got.Error != "load t: disk full" || got.Result != nil || got.Progress.Done != 7 {
		t.Errorf("Wait = %+v, want failed with %q, no result, progress 7", got, "load t: disk full")
	}
}

func TestCancel(t *testing.T) {
	tests := []struct {
		name string
		// fn runs after the job has been cancelled.
		fn    func(ctx context.Context) (any, error)
		state jobs.State
	}{
		{"honours ctx", func(ctx context.Context) (any, error) {
			<-ctx.Done()
			return nil, fmt.Errorf("load: %w", ctx.Err())
		}, jobs.StateCancelled},
		// An operation that had already committed when the cancel
		// arrived succeeded, and must say so.
		{"finishes anyway", func(ctx context.Context) (any, error) {
			<-ctx.Done()
			return "committed", nil
		}, jobs.StateSucceeded},
		{"other error", func(ctx context.Context) (any, error) {
			<-ctx.Done()
			return nil, errors.New("disk full")
		}, jobs.StateFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := jobs.New(jobs.Options{})
			started := make(chan struct{})
			j, err := m.Start(as("alice"), "load", func(ctx context.Context, report func(jobs.Progress)) (any, error) {
				close(started)
				return tt.fn(ctx)
			})
			if err != nil {
				t.Fatal(err)
			}
			<-started
			c, err := m.Cancel(j.ID)
			if err != nil {
				t.Fatal(err)
			}
			if c.State != jobs.StateRunning {
				t.Errorf("Cancel = %s, want running until the func returns", c.State)
			}
			got := wait(t, m, j.ID)
			if got.State != tt.state {
				t.Errorf("after Cancel: state %s (error %q), want %s", got.State, got.Error, tt.state)
			}
			again, err := m.Cancel(j.ID)
			if err != nil || again.State != tt.state || again.Finished == nil || !again.Finished.Equal(*got.Finished) {
				t.Errorf("Cancel of a finished job = %+v, %v, want it unchanged", again, err)
			}
		})
	}
}

// A context.Canceled that nobody asked for (the func cancelled something
// of its own) is a failure, not a cancellation.
func TestUnrequestedCanceledFails(t *testing.T) {
	m := jobs.New(jobs.Options{})
	j, err := m.Start(as("alice"), "load", func(ctx context.Context, report func(jobs.Progress)) (any, error) {
		return nil, fmt.Errorf("query: %w", context.Canceled)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := wait(t, m, j.ID); got.State != jobs.StateFailed {
		t.Errorf("state %s, want failed", got.State)
	}
}

func TestNotFound(t *testing.T) {
	m := jobs.New(jobs.Options{})
	if _, err := m.Get("job_nope"); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("Get(unknown) err = %v, want ErrNotFound", err)
	}
	if _, err := m.Cancel("job_nope"); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("Cancel(unknown) err = %v, want ErrNotFound", err)
	}
	if _, err := m.Wait(context.Background(), "job_nope"); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("Wait(unknown) err = %v, want ErrNotFound", err)
	}
}

func TestWaitContextEnds(t *testing.T) {
	m := jobs.New(jobs.Options{})
	release := make(chan struct{})
	j, err := m.Start(as("alice"), "load", func(ctx context.Context, report func(jobs.Progress)) (any, error) {
		report(jobs.Progress{Done: 5})
		<-release
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, err := m.Wait(ctx, j.ID)
	if !errors.Is(err, context.Canceled) || got.ID != j.ID || got.State != jobs.StateRunning {
		t.Errorf("Wait(done ctx) = %s %s, %v, want the running job and context.Canceled", got.ID, got.State, err)
	}
	close(release)
	if got := wait(t, m, j.ID); got.State != jobs.StateSucceeded {
		t.Errorf("state %s, want succeeded", got.State)
	}
}

func TestList(t *testing.T) {
	// A clock that never moves: order must come from start order, not
	// from Created.
	c := newClock()
	m := jobs.New(jobs.Options{Clock: c.Now})
	var ids []string
	for _, who := range []string{"alice", "bob", "alice", ""} {
		ctx := context.Background()
		if who != "" {
			ctx = as(who)
		}
		j, err := m.Start(ctx, "load", succeed)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	// One still running is listed too.
	release := make(chan struct{})
	defer close(release)
	running, err := m.Start(as("alice"), "compact", func(ctx context.Context, report func(jobs.Progress)) (any, error) {
		<-release
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		wait(t, m, id)
	}
	tests := []struct {
		principal string
		want      []string
	}{
		{"alice", []string{running.ID, ids[2], ids[0]}},
		{"bob", []string{ids[1]}},
		{"", []string{running.ID, ids[3], ids[2], ids[1], ids[0]}},
		{"carol", nil},
	}
	for _, tt := range tests {
		var got []string
		for _, j := range m.List(tt.principal) {
			got = append(got, j.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("List(%q) = %v, want %v", tt.principal, got, tt.want)
		}
	}
}

func TestPrune(t *testing.T) {
	t.Run("by age", func(t *testing.T) {
		c := newClock()
		m := jobs.New(jobs.Options{Clock: c.Now, Retain: time.Hour})
		old, _ := m.Start(as("alice"), "load", succeed)
		wait(t, m, old.ID)
		c.Advance(30 * time.Minute)
		young, _ := m.Start(as("alice"), "load", succeed)
		wait(t, m, young.ID)
		release := make(chan struct{})
		defer close(release)
		running, _ := m.Start(as("alice"), "load", func(ctx context.Context, report func(jobs.Progress)) (any, error) {
			<-release
			return nil, nil
		})

		if n := m.Prune(); n != 0 {
			t.Errorf("Prune before anything expired = %d, want 0", n)
		}
		c.Advance(31 * time.Minute)
		if n := m.Prune(); n != 1 {
			t.Errorf("Prune = %d, want 1", n)
		}
		if _, err := m.Get(old.ID); !errors.Is(err, jobs.ErrNotFound) {
			t.Errorf("Get(expired job) err = %v, want ErrNotFound", err)
		}
		if _, err := m.Get(young.ID); err != nil {
			t.Errorf("Get(job within Retain): %v", err)
		}
		// However long it runs, a running job is never pruned.
		c.Advance(48 * time.Hour)
		m.Prune()
		if _, err := m.Get(young.ID); !errors.Is(err, jobs.ErrNotFound) {
			t.Errorf("Get(expired job) err = %v, want ErrNotFound", err)
		}
		if j, err := m.Get(running.ID); err != nil || j.State != jobs.StateRunning {
			t.Errorf("Get(running job) = %s, %v, want it kept", j.State, err)
		}
	})

	t.Run("by count", func(t *testing.T) {
		m := jobs.New(jobs.Options{MaxJobs: 2})
		var ids []string
		for range 3 {
			j, _ := m.Start(as("alice"), "load", succeed)
			wait(t, m, j.ID)
			ids = append(ids, j.ID)
		}
		// Enforced as jobs finish, without Run or Prune.
		if _, err := m.Get(ids[0]); !errors.Is(err, jobs.ErrNotFound) {
			t.Errorf("Get(oldest of 3 with MaxJobs 2) err = %v, want ErrNotFound", err)
		}
		if got := len(m.List("")); got != 2 {
			t.Errorf("%d jobs kept, want 2", got)
		}
	})

	t.Run("Run", func(t *testing.T) {
		c := newClock()
		m := jobs.New(jobs.Options{Clock: c.Now, Retain: time.Hour})
		j, _ := m.Start(as("alice"), "load", succeed)
		wait(t, m, j.ID)
		c.Advance(2 * time.Hour)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		for {
			if _, err := m.Get(j.ID); errors.Is(err, jobs.ErrNotFound) {
				break
			}
			runtime.Gosched()
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil once ctx is done", err)
		}
	})
}

// startProbes calls Start until it reports ErrShuttingDown, which proves
// Shutdown has begun.
func startProbes(t *testing.T, m *jobs.Manager) {
	t.Helper()
	for {
		_, err := m.Start(as("alice"), "probe", succeed)
		if errors.Is(err, jobs.ErrShuttingDown) {
			return
		}
		if err != nil {
			t.Fatalf("Start during Shutdown: %v, want ErrShuttingDown", err)
		}
		runtime.Gosched()
	}
}

func TestShutdown(t *testing.T) {
	m := jobs.New(jobs.Options{})
	releaseA := make(chan struct{})
	a, err := m.Start(as("alice"), "load", func(ctx context.Context, report func(jobs.Progress)) (any, error) {
		<-releaseA
		return "a done", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	bStarted := make(chan struct{})
	b, err := m.Start(as("bob"), "load", func(ctx context.Context, report func(jobs.Progress)) (any, error) {
		close(bStarted)
		<-ctx.Done()
		return nil, fmt.Errorf("load: %w", ctx.Err())
	})
	if err != nil {
		t.Fatal(err)
	}
	<-bStarted

	ctx, expire := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Shutdown(ctx) }()
	startProbes(t, m)
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while jobs were running", err)
	default:
	}

	// A finishes within the grace period, untouched.
	close(releaseA)
	if got := wait(t, m, a.ID); got.State != jobs.StateSucceeded {
		t.Errorf("job finishing in time: state %s, want succeeded", got.State)
	}
	// B does not; when ctx expires Shutdown cancels it and waits for it.
	expire()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown = %v, want context.Canceled after cancelling a job", err)
	}
	if got, err := m.Get(b.ID); err != nil || got.State != jobs.StateCancelled {
		t.Errorf("job not finishing in time: %s, %v, want cancelled", got.State, err)
	}

	if _, err := m.Start(as("alice"), "load", succeed); !errors.Is(err, jobs.ErrShuttingDown) {
		t.Errorf("Start after Shutdown err = %v, want ErrShuttingDown", err)
	}
}

func TestShutdownIdle(t *testing.T) {
	m := jobs.New(jobs.Options{})
	j, _ := m.Start(as("alice"), "load", succeed)
	wait(t, m, j.ID)
	// Nothing to cancel, so even an expired ctx is no failure.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown with no running jobs = %v, want nil", err)
	}
	if _, err := m.Start(as("alice"), "load", succeed); !errors.Is(err, jobs.ErrShuttingDown) {
		t.Errorf("Start after Shutdown err = %v, want ErrShuttingDown", err)
	}
	if _, err := m.Get(j.ID); err != nil {
		t.Errorf("Get after Shutdown: %v", err)
	}
}

func TestPanicRecovered(t *testing.T) {
	var logs logBuffer
	m := jobs.New(jobs.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	j, err := m.Start(as("alice"), "load", func(ctx context.Context, report func(jobs.Progress)) (any, error) {
		var tables map[string]int
		tables["t"]++ // a nil-map write: a bug, not an error
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := wait(t, m, j.ID)
	if got.State != jobs.StateFailed || got.Error != "internal error" {
		t.Errorf("panicking job = %s %q, want failed %q", got.State, got.Error, "internal error")
	}
	out := logs.String()
	for _, want := range []string{"job panicked", j.ID, "assignment to entry in nil map", "TestPanicRecovered"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	// The manager carries on.
	next, err := m.Start(as("alice"), "load", succeed)
	if err != nil {
		t.Fatal(err)
	}
	if got := wait(t, m, next.ID); got.State != jobs.StateSucceeded {
		t.Errorf("job after a panic: %s, want succeeded", got.State)
	}
}

// report may be called from many goroutines at once while others read the
// job; run with -race.
func TestConcurrentReports(t *testing.T) {
	m := jobs.New(jobs.Options{})
	const workers, each = 8, 500
	j, err := m.Start(as("alice"), "load", func(ctx context.Context, report func(jobs.Progress)) (any, error) {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					report(jobs.Progress{Done: int64(w*each + i), Total: workers * each})
				}
			})
		}
		wg.Wait()
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for {
		got, err := m.Get(j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Progress.Total != 0 && got.Progress.Total != workers*each {
			t.Fatalf("Progress.Total = %d, want %d", got.Progress.Total, workers*each)
		}
		if got.State != jobs.StateRunning {
			break
		}
		runtime.Gosched()
	}
	if got := wait(t, m, j.ID); got.Progress.Total != workers*each {
		t.Errorf("final Progress = %+v, want one of the reported values", got.Progress)
	}
}

func TestIDsDistinct(t *testing.T) {
	m := jobs.New(jobs.Options{MaxRunning: 1000})
	seen := map[string]bool{}
	for range 200 {
		j, err := m.Start(context.Background(), "load", succeed)
		if err != nil {
			t.Fatal(err)
		}
		if seen[j.ID] || !idPattern.MatchString(j.ID) {
			t.Fatalf("ID %q repeated or malformed", j.ID)
		}
		seen[j.ID] = true
	}
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestMaxRunning(t *testing.T) {
	m := jobs.New(jobs.Options{MaxRunning: 2})
	release := make(chan struct{})
	block := func(ctx context.Context, _ func(jobs.Progress)) (any, error) {
		<-release
		return nil, nil
	}
	a, err := m.Start(context.Background(), "load", block)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(context.Background(), "load", block); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(context.Background(), "load", block); !errors.Is(err, jobs.ErrBusy) {
		t.Fatalf("third Start with MaxRunning 2 = %v, want ErrBusy", err)
	}
	close(release)
	if _, err := m.Wait(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	// A finished job frees its place (the other may still be finishing).
	var started bool
	for range 1000 {
		if _, err := m.Start(context.Background(), "load", block); err == nil {
			started = true
			break
		}
		runtime.Gosched()
	}
	if !started {
		t.Fatal("Start still refused after a job finished")
	}
}
