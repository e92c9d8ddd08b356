package resilience

import (
	"io"
	"net/http"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	c := New(Options{MaxBackoff: 5 * time.Second})
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	tests := []struct {
		header string
		want   time.Duration // -1: no usable header
	}{
		{"", -1},
		{"2", 2 * time.Second},
		{"0", 0},
		{"120", 5 * time.Second}, // capped by MaxBackoff
		{future, 5 * time.Second},
		{past, 0},
		{"-3", -1},
		{"soon", -1},
	}
	for _, tt := range tests {
		res := &http.Response{Header: http.Header{}}
		if tt.header != "" {
			res.Header.Set("Retry-After", tt.header)
		}
		got := time.Duration(-1)
		if ra := c.retryAfter(res); ra != nil {
			got = ra.Duration
		}
		if got != tt.want {
			t.Errorf("retryAfter(Retry-After: %q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func TestReplayable(t *testing.T) {
	tests := []struct {
		method, key string
		body        bool // a body with GetBody
		oneShot     bool // a body without GetBody
		want        bool
	}{
		{method: "GET", want: true},
		{method: "HEAD", want: true},
		{method: "OPTIONS", want: true},
		{method: "PUT", body: true, want: true},
		{method: "DELETE", want: true},
		{method: "POST", body: true, want: false},
		{method: "PATCH", body: true, want: false},
		{method: "POST", key: "k", body: true, want: true},
		{method: "PUT", oneShot: true, want: false},
		{method: "POST", key: "k", oneShot: true, want: false},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest(tt.method, "http://example.invalid/", nil)
		if tt.body || tt.oneShot {
			r.Body = nopBody{}
		}
		if tt.body {
			r.GetBody = func() (io.ReadCloser, error) { return nopBody{}, nil }
		}
		if tt.key != "" {
			r.Header.Set("Idempotency-Key", tt.key)
		}
		if got := replayable(r); got != tt.want {
			t.Errorf("replayable(%s, key %q, body %v, one-shot %v) = %v, want %v", tt.method, tt.key, tt.body, tt.oneShot, got, tt.want)
		}
	}
}

type nopBody struct{}

func (nopBody) Read([]byte) (int, error) { return 0, nil }
func (nopBody) Close() error             { return nil }
