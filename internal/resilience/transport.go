package resilience

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Transport returns an http.RoundTripper that sends requests through base
// (http.DefaultTransport when nil) under the Caller's protections:
//
//   - Every attempt passes through the circuit breaker. Network errors and
//     5xx responses count as failures; 4xx responses do not, since they say
//     the request was wrong, not that the service is unwell.
//   - Requests that are safe to repeat are retried on network errors, 429,
//     502, 503 and 504, honouring Retry-After (capped by MaxBackoff). Safe to
//     repeat means GET, HEAD, OPTIONS or TRACE, PUT or DELETE (idempotent by
//     RFC 9110), or any request carrying an Idempotency-Key header, and in
//     each case a body that can be replayed (none, or GetBody set, as
//     http.NewRequest does for in-memory bodies). Everything else is sent
//     once.
//   - Options.Timeout bounds each attempt until the response headers
//     arrive; the body is then read under the request's own context.
//
// When the retries run out on a retryable status, the last response is
// returned as it is; the bodies of discarded responses are drained and
// closed.
func (c *Caller) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{c: c, base: base}
}

type transport struct {
	c    *Caller
	base http.RoundTripper
}

// errServerStatus marks a 5xx response for the breaker, which only sees
// errors; the response itself still goes back to the client.
var errServerStatus = errors.New("server error status")

// retryStatus is the error an attempt reports for a retryable status code.
// It wraps a *backoff.RetryAfterError when the server said how long to wait,
// which is how backoff.Retry learns of it.
type retryStatus struct {
	code  int
	after *backoff.RetryAfterError
}

func (e *retryStatus) Error() string { return fmt.Sprintf("status %d", e.code) }
func (e *retryStatus) Unwrap() error {
	if e.after == nil {
		return nil
	}
	return e.after
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.c
	ctx := req.Context()
	retryable := replayable(req)
	tries := 1
	if retryable {
		tries = c.opts.MaxAttempts
	}

	var (
		n        int            // attempts started
		bodyUsed bool           // req.Body handed to base, which closes it
		last     *http.Response // a retryable response not yet discarded
	)
	op := func() (*http.Response, error) {
		n++
		res, err := t.attempt(req, n, &bodyUsed)
		if err != nil {
			if !retryable || errors.Is(err, ErrOpen) || IsPermanent(err) || ctx.Err() != nil {
				return nil, backoff.Permanent(err)
			}
			return nil, err
		}
		if retryable && retryableStatus(res.StatusCode) {
			last = res
			return nil, &retryStatus{code: res.StatusCode, after: c.retryAfter(res)}
		}
		return res, nil
	}
	discardLast := func() {
		if last != nil {
			discard(last)
			last = nil
		}
	}
	res, err := retry(ctx, op, c.retryOptions(tries, discardLast)...)

	var rs *retryStatus
	if err != nil && errors.As(err, &rs) && last != nil {
		// Out of attempts: the caller gets the service's last answer.
		res, err, last = last, nil, nil
	}
	discardLast()
	if !bodyUsed && req.Body != nil {
		// A RoundTripper must close the body even when it sends nothing.
		req.Body.Close()
	}

	switch {
	case err != nil:
		c.metrics.observe(outcome(err))
		return nil, fmt.Errorf("%s: %w", c.opts.Name, err)
	case res.StatusCode >= 500:
		c.metrics.observe(outcomeError)
	default:
		c.metrics.observe(outcomeOK)
	}
	return res, nil
}

// attempt sends one copy of req through the breaker.
func (t *transport) attempt(req *http.Request, n int, bodyUsed *bool) (*http.Response, error) {
	c := t.c
	parent := req.Context()
	ctx, cancel := context.WithCancelCause(parent)
	timedOut := fmt.Errorf("no response after %s: %w", c.opts.Timeout, context.DeadlineExceeded)
	timer := time.AfterFunc(c.opts.Timeout, func() { cancel(timedOut) })

	var res *http.Response
	_, err := c.breaker.Execute(func() (struct{}, error) {
		r := req.WithContext(ctx)
		if n == 1 {
			*bodyUsed = true
		} else if req.Body != nil && req.Body != http.NoBody {
			body, err := req.GetBody()
			if err != nil {
				// Not the service's fault, and no later attempt can do better.
				return struct{}{}, callerGone{Permanent(fmt.Errorf("replay request body: %w", err))}
			}
			r.Body = body
		}
		var err error
		res, err = t.base.RoundTrip(r)
		switch {
		case err == nil && res.StatusCode >= 500:
			return struct{}{}, errServerStatus
		case err == nil:
			return struct{}{}, nil
		case parent.Err() != nil:
			return struct{}{}, callerGone{err}
		case context.Cause(ctx) == timedOut:
			// err only says "context canceled", which would suggest the
			// caller gave up.
			return struct{}{}, timedOut
		}
		return struct{}{}, err
	})
	fired := !timer.Stop()
	if errors.Is(err, errServerStatus) {
		err = nil
	}
	err = c.breakerError(err)
	if err != nil {
		cancel(nil)
		return nil, err
	}
	if fired {
		// The headers arrived as the timer fired; the body would fail on
		// the first read, so this counts as a timeout.
		discard(res)
		cancel(nil)
		return nil, timedOut
	}
	res.Body = &cancelOnClose{ReadCloser: res.Body, cancel: func() { cancel(nil) }}
	return res, nil
}

// replayable reports whether req may be sent more than once.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
		return true
	}
	// The header names net/http itself treats as a promise that the server
	// deduplicates the request.
	return req.Header.Get("Idempotency-Key") != "" || req.Header.Get("X-Idempotency-Key") != ""
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryAfter reads the Retry-After header, in seconds or as an HTTP date
// (RFC 9110 section 10.2.3), capped by MaxBackoff so that a server cannot
// park a caller for an hour. It returns nil when there is no usable header.
func (c *Caller) retryAfter(res *http.Response) *backoff.RetryAfterError {
	v := res.Header.Get("Retry-After")
	if v == "" {
		return nil
	}
	var d time.Duration
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return nil
		}
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = max(time.Until(at), 0)
	} else {
		return nil
	}
	return &backoff.RetryAfterError{Duration: min(d, c.opts.MaxBackoff)}
}

// discard drains a little of a response body, so the connection can be
// reused, and closes it.
func discard(res *http.Response) {
	const maxDrain = 64 << 10
	io.Copy(io.Discard, io.LimitReader(res.Body, maxDrain))
	res.Body.Close()
}

// cancelOnClose releases an attempt's context when the body is closed.
type cancelOnClose struct {
	io.ReadCloser
	once   sync.Once
	cancel func()
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.cancel)
	return err
}
