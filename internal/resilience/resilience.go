package resilience

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

// ErrOpen is returned, wrapped with the Caller's name, when the circuit
// breaker rejects a call without running it: the service failed too often
// recently, or it is being probed by another call after a pause.
var ErrOpen = errors.New("circuit breaker open")

// Defaults for zero Options fields.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxAttempts      = 4
	DefaultInitialBackoff   = 100 * time.Millisecond
	DefaultMaxBackoff       = 5 * time.Second
	DefaultMaxElapsed       = 30 * time.Second
	DefaultFailureThreshold = 5
	DefaultOpenFor          = 30 * time.Second
)

// Options configures a Caller. Zero fields take the defaults above.
type Options struct {
	// Name names the external service in errors, logs and metric labels. It
	// must come from configuration or code, never from request data, because
	// it becomes a label value.
	Name string
	// Timeout bounds each attempt. For Transport it bounds the wait for the
	// response headers; reading the body is left to the caller's context, so
	// that large downloads are not cut off.
	Timeout time.Duration
	// MaxAttempts counts the first try; 1 disables retries.
	MaxAttempts int
	// InitialBackoff and MaxBackoff bound the jittered exponential wait
	// between attempts; MaxBackoff also caps a server's Retry-After.
	InitialBackoff, MaxBackoff time.Duration
	// MaxElapsed stops retrying once the next wait would end later than this
	// after the first attempt started.
	MaxElapsed time.Duration
	// FailureThreshold is the number of consecutive failures that opens the
	// breaker.
	FailureThreshold uint32
	// OpenFor is how long the open breaker rejects calls before it lets one
	// probe through (half-open).
	OpenFor time.Duration
	// Logger receives breaker state changes (Warn when opening) and retries
	// (Debug). Nil discards.
	Logger *slog.Logger
	// Registerer receives the metrics; nil means no metrics. Callers with
	// different Names may share one Registerer.
	Registerer prometheus.Registerer
}

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = "external"
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = DefaultInitialBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.MaxBackoff < o.InitialBackoff {
		o.MaxBackoff = o.InitialBackoff
	}
	if o.MaxElapsed <= 0 {
		o.MaxElapsed = DefaultMaxElapsed
	}
	if o.FailureThreshold == 0 {
		o.FailureThreshold = DefaultFailureThreshold
	}
	if o.OpenFor <= 0 {
		o.OpenFor = DefaultOpenFor
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if r, ok := o.Registerer.(*prometheus.Registry); ok && r == nil {
		// A nil *Registry in the interface, as (*telemetry.Metrics)(nil).
		// Registry() returns: no metrics, rather than a panic on Register.
		o.Registerer = nil
	}
	return o
}

// Caller protects the calls to one external service. It is safe for
// concurrent use; create one per service and share it.
type Caller struct {
	opts    Options
	breaker *gobreaker.CircuitBreaker[struct{}]
	metrics *metrics // nil without a Registerer
}

// New returns a Caller for the service opts.Name.
func New(opts Options) *Caller {
	opts = opts.withDefaults()
	c := &Caller{opts: opts}
	log := opts.Logger.With("target", opts.Name)
	c.breaker = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name: opts.Name,
		// One probe at a time while half-open: a recovering service should
		// not be hit by every waiting caller at once.
		MaxRequests: 1,
		Timeout:     opts.OpenFor,
		ReadyToTrip: func(counts gobreaker.Counts) bool {
			return counts.ConsecutiveFailures >= opts.FailureThreshold
		},
		// Called with the breaker's lock held: it must not call back into
		// the breaker.
		OnStateChange: func(_ string, from, to gobreaker.State) {
			level := slog.LevelInfo
			if to == gobreaker.StateOpen {
				level = slog.LevelWarn
			}
			log.Log(context.Background(), level, "circuit breaker state changed",
				"from", from.String(), "to", to.String())
		},
		IsSuccessful: func(err error) bool {
			// A permanent error is the service answering that the request
			// is wrong (a 4xx): the service itself is healthy.
			return err == nil || IsPermanent(err)
		},
		IsExcluded: func(err error) bool {
			var gone callerGone
			return errors.As(err, &gone)
		},
	})
	if opts.Registerer != nil {
		c.metrics = newMetrics(opts.Registerer, opts.Name, c.breaker, log)
	}
	return c
}

// Name returns the service name the Caller was created with.
func (c *Caller) Name() string { return c.opts.Name }

// State returns the breaker's state: "closed", "half-open" or "open". A
// health endpoint can report it; an open breaker after OpenFor reads as
// half-open.
func (c *Caller) State() string { return c.breaker.State().String() }

// Do runs fn, giving each attempt a context that ends after Options.Timeout.
// When idempotent is true, failed attempts are retried with jittered
// exponential backoff up to MaxAttempts and MaxElapsed, unless the error is
// Permanent or ctx is done; a non-idempotent fn runs at most once, because a
// failed write may still have been applied. Every attempt passes through the
// circuit breaker; a rejected attempt ends Do at once with an error wrapping
// ErrOpen. Errors are prefixed with the Caller's name.
func (c *Caller) Do(ctx context.Context, idempotent bool, fn func(ctx context.Context) error) error {
	tries := 1
	if idempotent {
		tries = c.opts.MaxAttempts
	}
	op := func() (struct{}, error) {
		err := c.attempt(ctx, fn)
		if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			// fn ignored its context; still let the caller see why Do
			// stopped.
			err = fmt.Errorf("%w (%w)", err, context.Cause(ctx))
		}
		if err != nil && (!idempotent || errors.Is(err, ErrOpen) || IsPermanent(err) || ctx.Err() != nil) {
			// backoff.Retry strips this wrapper again; the error returned is
			// err itself, including our own permanent marker.
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}
	_, err := retry(ctx, op, c.retryOptions(tries, nil)...)
	c.metrics.observe(outcome(err))
	if err != nil {
		return fmt.Errorf("%s: %w", c.opts.Name, err)
	}
	return nil
}

// attempt runs fn once through the breaker under the per-attempt timeout.
func (c *Caller) attempt(ctx context.Context, fn func(ctx context.Context) error) error {
	_, err := c.breaker.Execute(func() (struct{}, error) {
		actx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
		err := fn(actx)
		switch {
		case err == nil:
			return struct{}{}, nil
		case ctx.Err() != nil:
			// The caller gave up; that says nothing about the service.
			return struct{}{}, callerGone{err}
		case actx.Err() != nil:
			return struct{}{}, fmt.Errorf("attempt timed out after %s: %w", c.opts.Timeout, err)
		}
		return struct{}{}, err
	})
	return c.breakerError(err)
}

// breakerError turns the breaker's own rejections into ErrOpen and removes
// the wrappers that only the breaker needs to see.
func (c *Caller) breakerError(err error) error {
	switch {
	case err == nil:
		return nil
	case err == gobreaker.ErrOpenState, err == gobreaker.ErrTooManyRequests:
		// ErrTooManyRequests means another call is already probing a
		// half-open breaker; to the caller that is the same as open.
		return ErrOpen
	}
	if gone, ok := err.(callerGone); ok {
		return gone.err
	}
	return err
}

// retry is backoff.Retry without its leak: when the last allowed try
// fails with a permanent error, Retry returns the *backoff.PermanentError
// marker itself, and a Retry further out (a Caller's Do around an HTTP
// client using a Caller's Transport) would find the marker deep in its
// own error and return the bare inner error, dropping every wrapper that
// said what failed.
func retry[T any](ctx context.Context, op backoff.Operation[T], opts ...backoff.RetryOption) (T, error) {
	res, err := backoff.Retry(ctx, op, opts...)
	if pe, ok := err.(*backoff.PermanentError); ok {
		err = pe.Unwrap()
	}
	return res, err
}

// retryOptions configures backoff.Retry; beforeRetry, when set, runs before
// each wait for another attempt.
func (c *Caller) retryOptions(tries int, beforeRetry func()) []backoff.RetryOption {
	return []backoff.RetryOption{
		backoff.WithBackOff(&backoff.ExponentialBackOff{
			InitialInterval:     c.opts.InitialBackoff,
			RandomizationFactor: 0.5,
			Multiplier:          2,
			MaxInterval:         c.opts.MaxBackoff,
		}),
		backoff.WithMaxTries(uint(tries)),
		backoff.WithMaxElapsedTime(c.opts.MaxElapsed),
		backoff.WithNotify(func(err error, wait time.Duration) {
			if beforeRetry != nil {
				beforeRetry()
			}
			c.metrics.retried()
			c.opts.Logger.Debug("retrying external call", "target", c.opts.Name, "wait", wait, "err", err)
		}),
	}
}

// callerGone marks an attempt that failed because the caller's own context
// ended; the breaker excludes it from its counts.
type callerGone struct{ err error }

func (e callerGone) Error() string { return e.err.Error() }
func (e callerGone) Unwrap() error { return e.err }

// permanentError marks an error as not worth retrying.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not retryable: the service answered and retrying
// the same request cannot succeed (a 4xx, a validation error, a missing
// object). Permanent errors are not retried and do not count as breaker
// failures. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent. The mark survives Do, so an outer Do does not retry an inner
// one's permanent failure.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// Outcome label values of edp_external_calls_total.
const (
	outcomeOK       = "ok"
	outcomeError    = "error"
	outcomeRejected = "rejected"
)

func outcome(err error) string {
	switch {
	case err == nil:
		return outcomeOK
	case errors.Is(err, ErrOpen):
		return outcomeRejected
	}
	return outcomeError
}
