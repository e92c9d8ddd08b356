// Package client is the Go client of edp's HTTP API (/api/v1). The CLI uses
// it to run sql, load, table and namespace commands against a server
// (`edp --server URL …`) with the same output as it gives locally: the
// server renders query results in the requested format with the same code
// the local CLI uses.
//
// Imported by cli; it imports nothing from internal/.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Error is an error answer from the server, decoded from its error body.
type Error struct {
	Status  int
	Code    string
	Message string
	Details map[string]any
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return e.Message
}

// Client talks to one edp server with one credential.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// Options configure New.
type Options struct {
	// HTTPClient sends the requests; nil means http.DefaultClient's
	// transport with no overall timeout (results and uploads stream for
	// as long as they take).
	HTTPClient *http.Client
}

// New returns a client of the server at baseURL (e.g. https://edp:8080)
// presenting token (an access token or an API key; empty for none).
func New(baseURL, token string, opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: use http://HOST:PORT or https://HOST:PORT", baseURL)
	}
	// No retries: a person runs one command and sees its outcome, and a
	// repeated write after an ambiguous failure (the server's 503 "done but
	// not audited") would do it twice or fail confusingly.
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport}
	}
	return &Client{base: u, token: token, http: hc}, nil
}

// URL is the server's base URL.
func (c *Client) URL() string { return c.base.String() }

func (c *Client) endpoint(path string, q url.Values) string {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawQuery = q.Encode()
	return u.String()
}

// do sends a request and returns the response when its status is 2xx;
// otherwise it decodes the error body into an *Error.
func (c *Client) do(req *http.Request) (*http.Response, error) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	e := &Error{Status: resp.StatusCode}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(body, e) != nil || e.Message == "" {
		e.Message = strings.TrimSpace(string(body))
		if e.Message == "" {
			e.Message = fmt.Sprintf("server answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
		}
	}
	return nil, e
}

// UnmarshalJSON reads the API's error body {code, message, details}.
func (e *Error) UnmarshalJSON(b []byte) error {
	var body struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		return err
	}
	e.Code, e.Message, e.Details = body.Code, body.Message, body.Details
	return nil
}

// call sends a JSON request (in may be nil) and decodes a JSON answer into
// out (which may be nil).
func (c *Client) call(ctx context.Context, method, path string, q url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint(path, q), body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return nil
}

func pathEscape(parts ...string) string {
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// IsUnauthenticated reports whether err is the server refusing the
// credential (401): missing, expired, revoked or wrong.
func IsUnauthenticated(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusUnauthorized
}
