package resilience_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/resilience"
)

// flaky is a real HTTP server that answers the first len(codes) requests
// with codes (0 drops the connection without answering) and every later one
// with final.
type flaky struct {
	codes      []int
	final      atomic.Int32
	retryAfter string // Retry-After header sent with non-2xx answers
	hits       atomic.Int32
	mu         sync.Mutex
	bodies     []string // request bodies received
}

func newFlaky(final int, codes ...int) *flaky {
	f := &flaky{codes: codes}
	f.final.Store(int32(final))
	return f
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(f.hits.Add(1))
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies = append(f.bodies, string(body))
	f.mu.Unlock()
	code := int(f.final.Load())
	if n <= len(f.codes) {
		code = f.codes[n-1]
	}
	if code == 0 {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	if code >= 300 && f.retryAfter != "" {
		w.Header().Set("Retry-After", f.retryAfter)
	}
	w.WriteHeader(code)
	io.WriteString(w, http.StatusText(code))
}

// client returns an HTTP client whose transport goes through c. The base
// transport does not reuse connections, so that net/http's own retry of
// requests on reused connections cannot blur the attempt counts.
func client(c *resilience.Caller, bodies *bodyTracker) *http.Client {
	var base http.RoundTripper = &http.Transport{DisableKeepAlives: true}
	if bodies != nil {
		bodies.base = base
		base = bodies
	}
	return &http.Client{Transport: c.Transport(base)}
}

// bodyTracker records whether each response body handed out by the base
// transport was closed.
type bodyTracker struct {
	base   http.RoundTripper
	mu     sync.Mutex
	bodies []*trackedBody
}

type trackedBody struct {
	io.ReadCloser
	closed atomic.Bool
}

func (b *trackedBody) Close() error { b.closed.Store(true); return b.ReadCloser.Close() }

func (t *bodyTracker) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := t.base.RoundTrip(r)
	if err == nil {
		tb := &trackedBody{ReadCloser: res.Body}
		res.Body = tb
		t.mu.Lock()
		t.bodies = append(t.bodies, tb)
		t.mu.Unlock()
	}
	return res, err
}

func TestTransportRetries(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		header     string // Idempotency-Key
		codes      []int
		final      int
		retryAfter string
		wantHits   int32
		wantCode   int
	}{
		{"GET 503 twice then 200", "GET", "", []int{503, 503}, 200, "", 3, 200},
		{"GET 502 504 then 200", "GET", "", []int{502, 504}, 200, "", 3, 200},
		{"GET 429 with Retry-After", "GET", "", []int{429}, 200, "0", 2, 200},
		{"GET dropped connection then 200", "GET", "", []int{0, 0}, 200, "", 3, 200},
		{"HEAD 503 then 200", "HEAD", "", []int{503}, 200, "", 2, 200},
		{"PUT with replayable body", "PUT", "", []int{503}, 200, "", 2, 200},
		{"DELETE 503 then 204", "DELETE", "", []int{503}, 204, "", 2, 204},
		{"POST with Idempotency-Key", "POST", "k-1", []int{503}, 200, "", 2, 200},
		{"GET always 503: last answer returned", "GET", "", nil, 503, "", 4, 503},
		{"GET 500 not retried", "GET", "", nil, 500, "", 1, 500},
		{"GET 400 not retried", "GET", "", nil, 400, "", 1, 400},
		{"GET 404 not retried", "GET", "", nil, 404, "", 1, 404},
		{"POST 503 not retried", "POST", "", nil, 503, "", 1, 503},
		{"PATCH 503 not retried", "PATCH", "", []int{503}, 200, "", 1, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFlaky(tt.final, tt.codes...)
			srv.retryAfter = tt.retryAfter
			ts := httptest.NewServer(srv)
			defer ts.Close()
			tracker := &bodyTracker{}
			cl := client(resilience.New(fast("api")), tracker)

			var body io.Reader
			if tt.method == "PUT" || tt.method == "POST" || tt.method == "PATCH" {
				body = strings.NewReader("payload") // sets GetBody
			}
			req, _ := http.NewRequest(tt.method, ts.URL, body)
			if tt.header != "" {
				req.Header.Set("Idempotency-Key", tt.header)
			}
			res, err := cl.Do(req)
			if err != nil {
				t.Fatalf("%s = %v, want a response", tt.method, err)
			}
			got, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.wantCode {
				t.Errorf("%s: status %d, want %d", tt.method, res.StatusCode, tt.wantCode)
			}
			if tt.method != "HEAD" && tt.wantCode != 204 && string(got) != http.StatusText(tt.wantCode) {
				t.Errorf("%s: body %q, want the last answer's %q", tt.method, got, http.StatusText(tt.wantCode))
			}
			if hits := srv.hits.Load(); hits != tt.wantHits {
				t.Errorf("%s: server saw %d requests, want %d", tt.method, hits, tt.wantHits)
			}
			if body != nil {
				for i, b := range srv.bodies {
					if b != "payload" {
						t.Errorf("attempt %d sent body %q, want %q", i+1, b, "payload")
					}
				}
			}
			for i, b := range tracker.bodies {
				if !b.closed.Load() {
					t.Errorf("response body %d of %d not closed", i+1, len(tracker.bodies))
				}
			}
		})
	}
}

// A body that can only be read once cannot be sent twice, even with an
// Idempotency-Key.
func TestTransportUnreplayableBody(t *testing.T) {
	srv := newFlaky(200, 503)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	req, _ := http.NewRequest("PUT", ts.URL, io.NopCloser(strings.NewReader("once")))
	req.Header.Set("Idempotency-Key", "k")
	res, err := client(resilience.New(fast("api")), nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 503 || srv.hits.Load() != 1 {
		t.Errorf("PUT with a one-shot body: status %d after %d requests, want 503 after 1", res.StatusCode, srv.hits.Load())
	}
}

// A server asking for an hour's pause is capped at MaxBackoff. Were the cap
// missing, the request would wait until its generous context deadline and
// fail.
func TestTransportRetryAfterCapped(t *testing.T) {
	srv := newFlaky(200, 503)
	srv.retryAfter = "3600"
	ts := httptest.NewServer(srv)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL, nil)
	res, err := client(resilience.New(fast("api")), nil).Do(req)
	if err != nil {
		t.Fatalf("GET = %v, want 200 after a capped Retry-After", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || srv.hits.Load() != 2 {
		t.Errorf("GET: status %d after %d requests, want 200 after 2", res.StatusCode, srv.hits.Load())
	}
}

// A server that answers nothing costs Timeout per attempt.
func TestTransportAttemptTimeout(t *testing.T) {
	var hits atomic.Int32
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer ts.Close()
	defer close(release)
	opts := fast("hang")
	opts.Timeout = 30 * time.Millisecond
	opts.MaxAttempts = 2
	_, err := client(resilience.New(opts), nil).Get(ts.URL)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "hang: no response after 30ms") {
		t.Errorf("GET of a hanging server = %v, want a per-attempt timeout naming the call", err)
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("hanging server saw %d requests, want 2", n)
	}
}

// The timeout covers the wait for headers only: a slow body download after
// a prompt answer is not cut off.
func TestTransportTimeoutSparesBody(t *testing.T) {
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "start ")
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "end")
	}))
	defer ts.Close()
	opts := fast("download")
	opts.Timeout = 500 * time.Millisecond
	opts.MaxAttempts = 1
	res, err := client(resilience.New(opts), nil).Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	// Let the attempt timeout pass while the body is still being sent.
	time.Sleep(3 * opts.Timeout)
	close(release)
	body, err := io.ReadAll(res.Body)
	if err != nil || string(body) != "start end" {
		t.Errorf("body = %q, %v; want the whole body", body, err)
	}
}

func TestTransportBreaker(t *testing.T) {
	srv := newFlaky(500)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	opts := fast("oidc")
	opts.FailureThreshold = 3
	opts.OpenFor = 20 * time.Millisecond
	c := resilience.New(opts)
	cl := client(c, nil)

	for i := range 3 {
		res, err := cl.Get(ts.URL)
		if err != nil {
			t.Fatalf("GET %d = %v, want 500", i+1, err)
		}
		res.Body.Close()
	}
	if got := c.State(); got != "open" {
		t.Fatalf("State() after 3 server errors = %q, want open", got)
	}
	// Rejected without reaching the server; the unsent body is closed.
	body := &closeSpy{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest("POST", ts.URL, body)
	_, err := cl.Do(req)
	if !errors.Is(err, resilience.ErrOpen) || !strings.Contains(err.Error(), "oidc: circuit breaker open") {
		t.Errorf("POST on an open breaker = %v, want ErrOpen naming the call", err)
	}
	if !body.closed {
		t.Error("request body of a rejected request not closed")
	}
	if n := srv.hits.Load(); n != 3 {
		t.Errorf("server saw %d requests, want 3 (the 4th rejected)", n)
	}

	// After OpenFor one probe goes through; a healthy answer closes the
	// breaker.
	waitState(t, c, "half-open")
	srv.final.Store(200)
	res, err := cl.Get(ts.URL)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("probe GET = %v, want 200", err)
	}
	res.Body.Close()
	if got := c.State(); got != "closed" {
		t.Errorf("State() after a good probe = %q, want closed", got)
	}
}

// 4xx answers mean the request was wrong, not that the service is down.
func TestTransportClientErrorsKeepBreakerClosed(t *testing.T) {
	for _, code := range []int{400, 401, 404, 429} {
		srv := newFlaky(code)
		ts := httptest.NewServer(srv)
		opts := fast("api")
		opts.FailureThreshold = 2
		opts.MaxAttempts = 1
		c := resilience.New(opts)
		cl := client(c, nil)
		for range 5 {
			res, err := cl.Get(ts.URL)
			if err != nil {
				t.Fatalf("GET (%d) = %v", code, err)
			}
			res.Body.Close()
		}
		if got := c.State(); got != "closed" || srv.hits.Load() != 5 {
			t.Errorf("after five %d answers: State() = %q and %d requests reached the server, want closed and 5", code, got, srv.hits.Load())
		}
		ts.Close()
	}
}

// Cancelling the request ends the retries at once: the backoff here is an
// hour.
func TestTransportCancelStopsRetrying(t *testing.T) {
	srv := newFlaky(503)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	opts := fast("api")
	opts.InitialBackoff, opts.MaxBackoff, opts.MaxElapsed = time.Hour, time.Hour, 2*time.Hour
	tracker := &bodyTracker{}
	cl := client(resilience.New(opts), tracker)

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for srv.hits.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL, nil)
	_, err := cl.Do(req)
	if !errors.Is(err, context.Canceled) || srv.hits.Load() != 1 {
		t.Errorf("cancelled GET = %v after %d requests, want context.Canceled after 1", err, srv.hits.Load())
	}
	for i, b := range tracker.bodies {
		if !b.closed.Load() {
			t.Errorf("discarded response body %d not closed", i+1)
		}
	}
}

type closeSpy struct {
	io.Reader
	closed bool
}

func (c *closeSpy) Close() error { c.closed = true; return nil }

// The request passed in must not be modified, and can be sent again.
func TestTransportLeavesRequestAlone(t *testing.T) {
	srv := newFlaky(200, 503)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	req, _ := http.NewRequest("PUT", ts.URL, bytes.NewReader([]byte("abc")))
	ctx := req.Context()
	res, err := client(resilience.New(fast("api")), nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if req.Context() != ctx {
		t.Error("Transport replaced the caller's request context")
	}
}
