package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Token is an access token from Login.
type Token struct {
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	ExpiresIn   int64     `json:"expires_in"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// Login exchanges a user name and password for a short-lived access token.
func (c *Client) Login(ctx context.Context, user, password string) (Token, error) {
	var t Token
	err := c.call(ctx, http.MethodPost, "/api/v1/auth/login", nil,
		map[string]string{"username": user, "password": password}, &t)
	return t, err
}

// Identity is who the server takes the client to be.
type Identity struct {
	Name   string   `json:"name"`
	Roles  []string `json:"roles"`
	Method string   `json:"method"`
}

// WhoAmI asks the server who the credential belongs to.
func (c *Client) WhoAmI(ctx context.Context) (Identity, error) {
	var id Identity
	err := c.call(ctx, http.MethodGet, "/api/v1/auth/whoami", nil, nil, &id)
	return id, err
}

// APIKey is a newly created API key; Key is shown only once.
type APIKey struct {
	Key       string     `json:"key"`
	ID        string     `json:"id"`
	User      string     `json:"user"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// CreateAPIKey creates an API key for user ("" for the caller) that
// expires after ttl (0 for never). A key of one's own takes the caller's
// current password.
func (c *Client) CreateAPIKey(ctx context.Context, user string, ttl time.Duration, currentPassword string) (APIKey, error) {
	in := map[string]any{}
	if user != "" {
		in["user"] = user
	}
	if currentPassword != "" {
		in["current_password"] = currentPassword
	}
	if ttl > 0 {
		in["ttl_seconds"] = int64(ttl / time.Second)
	}
	var k APIKey
	err := c.call(ctx, http.MethodPost, "/api/v1/apikeys", nil, in, &k)
	return k, err
}

// RevokeAPIKey revokes the API key with id.
func (c *Client) RevokeAPIKey(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, "/api/v1/apikeys/"+pathEscape(id), nil, nil, nil)
}

// Result is a query result streaming from the server in the format asked
// for. Status is the statement's status ("SELECT", "INSERT 3"); a
// statement that returns no rows has an empty Body.
type Result struct {
	Body   io.ReadCloser
	Status string
}

// SQL runs one statement and returns its result rendered by the server in
// format: table, csv, json, jsonl, parquet or arrow.
func (c *Client) SQL(ctx context.Context, statement, format string) (*Result, error) {
	in := map[string]any{"sql": statement, "format": format}
	b, err := jsonBody(in)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint("/api/v1/sql", nil), b)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.do(req)
	if err != nil {
		return nil, err
	}
	return &Result{Body: &trailerCheck{resp: resp}, Status: resp.Header.Get("Edp-Status")}, nil
}

// trailerCheck turns an error the server reports after the result began
// streaming (the Edp-Error trailer) into a read error, so output that was
// cut short never looks complete.
type trailerCheck struct {
	resp *http.Response
}

func (t *trailerCheck) Read(p []byte) (int, error) {
	n, err := t.resp.Body.Read(p)
	if err == io.EOF {
		if msg := t.resp.Trailer.Get("Edp-Error"); msg != "" {
			return n, &Error{Status: t.resp.StatusCode, Code: "stream_failed", Message: msg}
		}
	}
	return n, err
}

func (t *trailerCheck) Close() error { return t.resp.Body.Close() }

// LoadOptions mirror the flags of edp load.
type LoadOptions struct {
	Format      string
	PartitionBy []string
	Evolve      bool
	BadRows     string
	Delimiter   string
	Quote       string
	Header      *bool
	Nulls       []string
	Properties  []string // KEY=VALUE
}

// LoadResult is what a committed load reports.
type LoadResult struct {
	Table    string `json:"table"`
	Created  bool   `json:"created"`
	Rows     int64  `json:"rows"`
	Rejected int64  `json:"rejected"`
	Files    int    `json:"files"`
}

// Load uploads files and loads them into ns.table in one commit. The files
// stream from disk; nothing is held in memory.
func (c *Client) Load(ctx context.Context, ns, table string, files []string, o LoadOptions) (LoadResult, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() { pw.CloseWithError(writeLoadForm(mw, files, o)) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		c.endpoint("/api/v1/namespaces/"+pathEscape(ns, "tables", table, "load"), nil), pr)
	if err != nil {
		pr.Close()
		return LoadResult{}, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	resp, err := c.do(req)
	pr.Close()
	if err != nil {
		return LoadResult{}, err
	}
	defer resp.Body.Close()
	var out struct {
		Result LoadResult `json:"result"`
	}
	if err := decodeJSON(resp.Body, &out); err != nil {
		return LoadResult{}, fmt.Errorf("load: reading the answer: %w", err)
	}
	return out.Result, nil
}

func writeLoadForm(mw *multipart.Writer, files []string, o LoadOptions) error {
	fields := [][2]string{{"format", o.Format}, {"bad_rows", o.BadRows}, {"delimiter", o.Delimiter}, {"quote", o.Quote}}
	if o.Evolve {
		fields = append(fields, [2]string{"evolve", "true"})
	}
	if o.Header != nil {
		fields = append(fields, [2]string{"header", strconv.FormatBool(*o.Header)})
	}
	for _, p := range o.PartitionBy {
		fields = append(fields, [2]string{"partition_by", p})
	}
	for _, n := range o.Nulls {
		fields = append(fields, [2]string{"null", n})
	}
	for _, p := range o.Properties {
		fields = append(fields, [2]string{"property", p})
	}
	for _, f := range fields {
		if f[1] == "" {
			continue
		}
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return err
		}
	}
	for _, path := range files {
		if err := writeFilePart(mw, path); err != nil {
			return err
		}
	}
	return mw.Close()
}

func writeFilePart(mw *multipart.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, filepath.Base(path)))
	h.Set("Content-Type", "application/octet-stream")
	w, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, f)
	return err
}

// CreateNamespace creates a namespace.
func (c *Client) CreateNamespace(ctx context.Context, ns string, ifNotExists bool) error {
	err := c.call(ctx, http.MethodPost, "/api/v1/namespaces", nil, map[string]any{"name": ns}, nil)
	if ifNotExists && isCode(err, http.StatusConflict) {
		return nil
	}
	return err
}

// DropNamespace drops a namespace; with cascade its tables too.
func (c *Client) DropNamespace(ctx context.Context, ns string, ifExists, cascade bool) error {
	err := c.call(ctx, http.MethodDelete, "/api/v1/namespaces/"+pathEscape(ns), url.Values{"cascade": {strconv.FormatBool(cascade)}}, nil, nil)
	if ifExists && isCode(err, http.StatusNotFound) {
		return nil
	}
	return err
}

// DropTable drops ns.table; with purge its files too.
func (c *Client) DropTable(ctx context.Context, ns, table string, purge, ifExists bool) error {
	err := c.call(ctx, http.MethodDelete, "/api/v1/namespaces/"+pathEscape(ns, "tables", table), url.Values{"purge": {strconv.FormatBool(purge)}}, nil, nil)
	if ifExists && isCode(err, http.StatusNotFound) {
		return nil
	}
	return err
}

// RenameTable renames ns.table to toNS.toTable.
func (c *Client) RenameTable(ctx context.Context, ns, table, toNS, toTable string) error {
	return c.call(ctx, http.MethodPost, "/api/v1/namespaces/"+pathEscape(ns, "tables", table, "rename"), nil,
		map[string]string{"namespace": toNS, "name": toTable}, nil)
}

// Rollback makes snapshot the current snapshot of ns.table again.
func (c *Client) Rollback(ctx context.Context, ns, table string, snapshot int64) error {
	return c.call(ctx, http.MethodPost, "/api/v1/namespaces/"+pathEscape(ns, "tables", table, "rollback"), nil,
		map[string]int64{"snapshot_id": snapshot}, nil)
}

func isCode(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

func jsonBody(v any) (io.Reader, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

func decodeJSON(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
