package resilience_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edp-data/edp/internal/resilience"
)

var errBoom = errors.New("boom")

// fast returns options that keep tests quick: tiny backoffs and a breaker
// that will not open unless a test asks for it.
func fast(name string) resilience.Options {
	return resilience.Options{
		Name:             name,
		Timeout:          5 * time.Second,
		MaxAttempts:      4,
		InitialBackoff:   time.Millisecond,
		MaxBackoff:       2 * time.Millisecond,
		FailureThreshold: 1000,
	}
}

func TestDoRetries(t *testing.T) {
	tests := []struct {
		name       string
		idempotent bool
		failures   int   // attempts that fail before one succeeds
		fail       error // what they fail with
		wantCalls  int
		wantErr    error // nil: success
	}{
		{"succeeds first time", true, 0, errBoom, 1, nil},
		{"fails twice then succeeds", true, 2, errBoom, 3, nil},
		{"always fails", true, 100, errBoom, 4, errBoom},
		{"not idempotent", false, 2, errBoom, 1, errBoom},
		{"permanent", true, 2, resilience.Permanent(errBoom), 1, errBoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := resilience.New(fast("store"))
			calls := 0
			err := c.Do(context.Background(), tt.idempotent, func(ctx context.Context) error {
				calls++
				if calls <= tt.failures {
					return tt.fail
				}
				return nil
			})
			if calls != tt.wantCalls {
				t.Errorf("Do ran fn %d times, want %d", calls, tt.wantCalls)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Errorf("Do = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Do = %v, want %v", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "store: ") {
				t.Errorf("Do = %q, want the error to name the call (store: ...)", err)
			}
		})
	}
}

// The permanent mark survives Do, so nested Callers do not retry it.
func TestPermanentSurvivesDo(t *testing.T) {
	inner := resilience.New(fast("inner"))
	outer := resilience.New(fast("outer"))
	calls := 0
	err := outer.Do(context.Background(), true, func(ctx context.Context) error {
		return inner.Do(ctx, true, func(context.Context) error {
			calls++
			return resilience.Permanent(errBoom)
		})
	})
	if calls != 1 || !resilience.IsPermanent(err) || !errors.Is(err, errBoom) {
		t.Errorf("nested Do: %d calls, err %v (permanent %v); want 1 call and a permanent boom", calls, err, resilience.IsPermanent(err))
	}
	if resilience.Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
}

// Each attempt gets its own deadline: a hanging call costs Timeout, not
// forever, and is retried when idempotent.
func TestDoAttemptTimeout(t *testing.T) {
	opts := fast("slow")
	opts.Timeout = 20 * time.Millisecond
	opts.MaxAttempts = 2
	c := resilience.New(opts)
	calls := 0
	err := c.Do(context.Background(), true, func(ctx context.Context) error {
		calls++
		<-ctx.Done() // hangs until the attempt's deadline
		return ctx.Err()
	})
	if calls != 2 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Do(hanging fn) = %v after %d calls, want DeadlineExceeded after 2", err, calls)
	}
}

// Cancelling the caller's context ends a backoff wait at once. The backoff
// here is an hour, so a Do that kept waiting would hit the test timeout.
func TestDoCancelStopsRetrying(t *testing.T) {
	opts := fast("store")
	opts.InitialBackoff, opts.MaxBackoff, opts.MaxElapsed = time.Hour, time.Hour, 2*time.Hour
	c := resilience.New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	err := c.Do(ctx, true, func(context.Context) error {
		if calls.Add(1) == 1 {
			// Cancel while Do is about to wait for the next attempt.
			time.AfterFunc(10*time.Millisecond, cancel)
		}
		return errBoom
	})
	if n := calls.Load(); n != 1 || !errors.Is(err, context.Canceled) {
		t.Errorf("Do after cancel = %v after %d calls, want context.Canceled after 1", err, n)
	}
	cancel()
}

func TestDoBreaker(t *testing.T) {
	opts := fast("kafka")
	opts.FailureThreshold = 2
	opts.MaxAttempts = 10
	opts.OpenFor = 20 * time.Millisecond
	c := resilience.New(opts)
	calls := 0
	fail := func(context.Context) error { calls++; return errBoom }

	// Two failed attempts open the breaker; the third is rejected and Do
	// stops retrying at once.
	err := c.Do(context.Background(), true, fail)
	if calls != 2 || !errors.Is(err, resilience.ErrOpen) {
		t.Fatalf("Do = %v after %d calls, want ErrOpen after 2", err, calls)
	}
	if !strings.HasPrefix(err.Error(), "kafka: ") {
		t.Errorf("Do = %q, want it to name the call", err)
	}
	if got := c.State(); got != "open" {
		t.Errorf("State() = %q, want open", got)
	}
	err = c.Do(context.Background(), true, fail)
	if calls != 2 || !errors.Is(err, resilience.ErrOpen) {
		t.Errorf("Do on an open breaker = %v, ran fn %d times; want ErrOpen without running it", err, calls-2)
	}

	waitState(t, c, "half-open")
	// The probe fails: open again.
	if err := c.Do(context.Background(), false, fail); !errors.Is(err, errBoom) {
		t.Errorf("half-open probe = %v, want boom", err)
	}
	if got := c.State(); got != "open" {
		t.Errorf("State() after a failed probe = %q, want open", got)
	}
	waitState(t, c, "half-open")
	if err := c.Do(context.Background(), true, func(context.Context) error { return nil }); err != nil {
		t.Errorf("half-open probe = %v, want nil", err)
	}
	if got := c.State(); got != "closed" {
		t.Errorf("State() after a successful probe = %q, want closed", got)
	}
}

// waitState polls until OpenFor has passed and the breaker lets a probe
// through. It waits on a condition, not a duration.
func waitState(t *testing.T, c *resilience.Caller, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for c.State() != want {
		if time.Now().After(deadline) {
			t.Fatalf("State() = %q, never became %q", c.State(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// Permanent errors (the service said no) and the caller's own cancellation
// say nothing bad about the service: neither opens the breaker.
func TestDoBreakerIgnores(t *testing.T) {
	tests := []struct {
		name string
		run  func(c *resilience.Caller) error
	}{
		{"permanent", func(c *resilience.Caller) error {
			return c.Do(context.Background(), true, func(context.Context) error { return resilience.Permanent(errBoom) })
		}},
		{"caller cancelled", func(c *resilience.Caller) error {
			ctx, cancel := context.WithCancel(context.Background())
			return c.Do(ctx, true, func(context.Context) error { cancel(); return context.Canceled })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := fast("pg")
			opts.FailureThreshold = 1
			c := resilience.New(opts)
			for range 3 {
				if err := tt.run(c); errors.Is(err, resilience.ErrOpen) {
					t.Fatalf("Do = %v: the breaker opened", err)
				}
			}
			if got := c.State(); got != "closed" {
				t.Errorf("State() = %q, want closed", got)
			}
		})
	}
}

func TestDoMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	newCaller := func(name string) *resilience.Caller {
		opts := fast(name)
		opts.FailureThreshold = 2
		opts.OpenFor = time.Hour
		opts.Registerer = reg
		return resilience.New(opts)
	}
	store, embed := newCaller("object_store"), newCaller("embedding_api")

	failTwice := 0
	store.Do(context.Background(), true, func(context.Context) error {
		if failTwice++; failTwice <= 1 {
			return errBoom
		}
		return nil
	})
	embed.Do(context.Background(), false, func(context.Context) error { return errBoom })
	embed.Do(context.Background(), false, func(context.Context) error { return errBoom }) // opens
	embed.Do(context.Background(), false, func(context.Context) error { return nil })     // rejected

	err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP edp_circuit_breaker_open Circuit breaker state of an external service: 1 open, 0.5 half-open, 0 closed.
# TYPE edp_circuit_breaker_open gauge
edp_circuit_breaker_open{target="embedding_api"} 1
edp_circuit_breaker_open{target="object_store"} 0
# HELP edp_external_call_retries_total Retried attempts of calls to external services.
# TYPE edp_external_call_retries_total counter
edp_external_call_retries_total{target="embedding_api"} 0
edp_external_call_retries_total{target="object_store"} 1
# HELP edp_external_calls_total Calls to external services by outcome (ok, error, rejected by the circuit breaker); retries within a call are not counted separately.
# TYPE edp_external_calls_total counter
edp_external_calls_total{outcome="error",target="embedding_api"} 2
edp_external_calls_total{outcome="error",target="object_store"} 0
edp_external_calls_total{outcome="ok",target="embedding_api"} 0
edp_external_calls_total{outcome="ok",target="object_store"} 1
edp_external_calls_total{outcome="rejected",target="embedding_api"} 1
edp_external_calls_total{outcome="rejected",target="object_store"} 0
`))
	if err != nil {
		t.Error(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// One Caller is shared by every goroutine talking to a service.
func TestDoConcurrent(t *testing.T) {
	opts := fast("store")
	opts.Registerer = prometheus.NewRegistry()
	c := resilience.New(opts)
	var wg sync.WaitGroup
	var ok atomic.Int32
	for i := range 32 {
		wg.Go(func() {
			tries := 0
			err := c.Do(context.Background(), true, func(context.Context) error {
				if tries++; tries == 1 && i%2 == 0 {
					return errBoom
				}
				return nil
			})
			if err == nil {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 32 {
		t.Errorf("%d of 32 concurrent calls succeeded, want all", ok.Load())
	}
}

// A nil *prometheus.Registry, as a nil *telemetry.Metrics hands out, means
// no metrics rather than a panic.
func TestNilRegistry(t *testing.T) {
	opts := fast("store")
	var reg *prometheus.Registry
	opts.Registerer = reg
	c := resilience.New(opts)
	if err := c.Do(context.Background(), true, func(context.Context) error { return nil }); err != nil {
		t.Errorf("Do = %v, want nil", err)
	}
}

// TestNestedCallersKeepErrors: a Caller's Do around work that itself went
// through a Caller (an HTTP client with a Caller's Transport, say) returns
// the whole error, not the innermost one stripped of what failed.
func TestNestedCallersKeepErrors(t *testing.T) {
	boom := errors.New("boom")
	inner := resilience.New(resilience.Options{Name: "inner", MaxAttempts: 1})
	outer := resilience.New(resilience.Options{Name: "outer", MaxAttempts: 2, InitialBackoff: time.Millisecond})
	for _, idempotent := range []bool{true, false} {
		err := outer.Do(context.Background(), true, func(ctx context.Context) error {
			return fmt.Errorf("step: %w", inner.Do(ctx, idempotent, func(context.Context) error { return boom }))
		})
		if want := "outer: step: inner: boom"; err == nil || err.Error() != want || !errors.Is(err, boom) {
			t.Errorf("nested Do (inner idempotent %v) = %v, want %q wrapping boom", idempotent, err, want)
		}
	}
}
