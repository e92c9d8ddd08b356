package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/config"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/server"
)

const adminPW = "admin password for tests"

func testConfig(t *testing.T, dir string) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Listen = "127.0.0.1:0"
	return cfg
}

// lockedBuffer collects what the server prints; the server writes from
// its own goroutine while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// started is a server running in the background for one test.
type started struct {
	srv  *server.Server
	out  *lockedBuffer
	stop context.CancelFunc
	done chan error
}

func start(t *testing.T, cfg *config.Config, opts server.Options) *started {
	t.Helper()
	out := &lockedBuffer{}
	opts.Config, opts.Out = cfg, out
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err := server.New(context.Background(), opts)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &started{srv: srv, out: out, stop: cancel, done: make(chan error, 1)}
	go func() { s.done <- srv.Run(ctx) }()
	t.Cleanup(func() { s.shutdown(t) })
	return s
}

// shutdown stops the server and waits for Run to return; safe to repeat.
func (s *started) shutdown(t *testing.T) {
	t.Helper()
	if s.done == nil {
		return
	}
	s.stop()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("server did not stop within a minute")
	}
	s.done = nil
}

func login(t *testing.T, c *http.Client, base, user, pw string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": pw})
	resp, err := c.Post(base+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("login as %s: %d %s", user, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("login answer: %v %+v", err, tok)
	}
	return tok.AccessToken
}

func do(t *testing.T, c *http.Client, method, url, token, ctype string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func sqlCSV(t *testing.T, c *http.Client, base, token, q string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"sql": q})
	req, _ := http.NewRequest("POST", base+"/api/v1/sql", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/csv")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("SQL %q: %d %s", q, resp.StatusCode, b)
	}
	return string(b)
}

func TestFirstStartCreatesAdminAndServes(t *testing.T) {
	dir := t.TempDir()
	s := start(t, testConfig(t, dir), server.Options{})
	out := s.out.String()
	if !strings.Contains(out, `Created user "admin" with password `) {
		t.Fatalf("first start did not print the admin password:\n%s", out)
	}
	pw := strings.Fields(strings.SplitN(out, "with password ", 2)[1])[0]
	base, c := s.srv.URL(), http.DefaultClient
	if code, _ := do(t, c, "GET", base+"/healthz", "", "", nil); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, _ := do(t, c, "GET", base+"/readyz", "", "", nil); code != 200 {
		t.Errorf("/readyz = %d", code)
	}
	if code, body := do(t, c, "GET", base+"/api/v1/namespaces", "", "", nil); code != 401 || !bytes.Contains(body, []byte(`"code"`)) {
		t.Errorf("/api/v1/namespaces without credentials = %d %s, want 401 with an error body", code, body)
	}
	if code, _ := do(t, c, "GET", base+"/metrics", "", "", nil); code != 401 {
		t.Errorf("/metrics without credentials = %d, want 401", code)
	}
	tok := login(t, c, base, "admin", pw)
	sqlCSV(t, c, base, tok, "CREATE SCHEMA s")
	sqlCSV(t, c, base, tok, "CREATE TABLE s.t AS SELECT * FROM range(5) r(x)")
	if got := sqlCSV(t, c, base, tok, "SELECT sum(x) AS s FROM s.t"); got != "s\n10\n" {
		t.Errorf("sum = %q, want 10", got)
	}
	code, body := do(t, c, "GET", base+"/metrics", tok, "", nil)
	for _, want := range []string{"edp_http_requests_total", "edp_commits_total", "edp_queries_total", "go_goroutines"} {
		if code != 200 || !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics (%d) lacks %s", code, want)
		}
	}
	s.shutdown(t)

	// A restart keeps the admin and says nothing about passwords.
	s2 := start(t, testConfig(t, dir), server.Options{})
	if strings.Contains(s2.out.String(), "password") {
		t.Errorf("second start printed %q", s2.out.String())
	}
	tok = login(t, c, s2.srv.URL(), "admin", pw)
	if got := sqlCSV(t, c, s2.srv.URL(), tok, "SELECT count(*) AS n FROM s.t"); got != "n\n5\n" {
		t.Errorf("count after restart = %q", got)
	}
	s2.shutdown(t)

	// Everything above is audited, commits included, and the log verifies
	// with every entry signed by the shutdown checkpoint.
	p := openPlatform(t, dir)
	pub, err := server.ReadPublicKey(server.AuditPublicKeyPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := p.Audit.Verify(context.Background(), pub)
	if err != nil || !rep.OK() {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	if rep.LastCheckpoint != rep.Head {
		t.Errorf("last checkpoint at %d, head %d: shutdown did not sign the tail", rep.LastCheckpoint, rep.Head)
	}
	es, err := p.Audit.Tail(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, e := range es {
		actions[e.Action]++
	}
	for _, a := range []string{"user_add", "login", "authenticate", "query", "commit"} {
		if actions[a] == 0 {
			t.Errorf("no %q entry in the audit log; actions: %v", a, actions)
		}
	}
}

func openPlatform(t *testing.T, dir string) *server.Platform {
	t.Helper()
	p, err := server.Open(auth.WithPrincipal(context.Background(), auth.LocalOperator()), testConfig(t, dir), server.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestAdminPasswordFromEnvironmentAndSelfSignedTLS(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.TLS.SelfSigned = true
	s := start(t, cfg, server.Options{AdminPassword: adminPW})
	if !strings.HasPrefix(s.srv.URL(), "https://") {
		t.Fatalf("URL = %s, want https", s.srv.URL())
	}
	if strings.Contains(s.out.String(), adminPW) {
		t.Error("the configured admin password was printed")
	}
	// Without trusting the certificate the handshake fails; pinning it works.
	if _, err := http.Get(s.srv.URL() + "/healthz"); err == nil {
		t.Error("plain client accepted the self-signed certificate")
	}
	pem, err := os.ReadFile(filepath.Join(server.KeysDir(dir), "tls-self-signed.crt"))
	if err != nil {
		t.Fatal(err)
	}
	c := pinnedClient(t, pem)
	tok := login(t, c, s.srv.URL(), "admin", adminPW)
	if code, _ := do(t, c, "GET", s.srv.URL()+"/api/v1/auth/whoami", tok, "", nil); code != 200 {
		t.Errorf("whoami over TLS = %d", code)
	}
	s.shutdown(t)
	// A restart reuses the certificate, so clients that trust it keep working.
	s2 := start(t, cfg, server.Options{})
	if code, _ := do(t, c, "GET", s2.srv.URL()+"/healthz", "", "", nil); code != 200 {
		t.Errorf("healthz after restart with the same certificate = %d", code)
	}
}

func pinnedClient(t *testing.T, certPEM []byte) *http.Client {
	t.Helper()
	pool := x509CertPool(t, certPEM)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func TestBadTLSConfig(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.TLS.Cert = "/nonexistent/cert.pem"
	if _, err := server.New(context.Background(), server.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)}); err == nil || !strings.Contains(err.Error(), "tls") {
		t.Errorf("New with only tls.cert = %v, want a tls error", err)
	}
	cfg.Listen = "127.0.0.1:notaport"
	cfg.TLS.Cert = ""
	if _, err := server.New(context.Background(), server.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)}); err == nil {
		t.Error("New with a bad listen address succeeded")
	}
}

// writeCSV writes rows id,name,amount and returns its path.
func writeCSV(t *testing.T, dir string, rows int) string {
	t.Helper()
	path := filepath.Join(dir, "big.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := &bytes.Buffer{}
	w.WriteString("id,name,amount\n")
	for i := range rows {
		fmt.Fprintf(w, "%d,customer-%d,%d.%02d\n", i, i%9973, i%10000, i%100)
		if w.Len() > 1<<20 {
			f.Write(w.Bytes())
			w.Reset()
		}
	}
	f.Write(w.Bytes())
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// uploadAsync starts an asynchronous load of path into ns.table and
// returns the job id.
func uploadAsync(t *testing.T, c *http.Client, base, tok, ns, table, path string) string {
	t.Helper()
	code, resp := upload(t, c, base, tok, ns, table, path, true)
	if code != 202 {
		t.Fatalf("async load = %d %s", code, resp)
	}
	var out struct {
		Job struct {
			ID string `json:"id"`
		} `json:"job"`
	}
	if err := json.Unmarshal(resp, &out); err != nil || out.Job.ID == "" {
		t.Fatalf("async load answer %s: %v", resp, err)
	}
	return out.Job.ID
}

// upload posts path as a load of ns.table and returns the answer.
func upload(t *testing.T, c *http.Client, base, tok, ns, table, path string, async bool) (int, []byte) {
	t.Helper()
	req := uploadRequest(t, base, tok, ns, table, path, async)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func uploadRequest(t *testing.T, base, tok, ns, table, path string, async bool) *http.Request {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if async {
		mw.WriteField("async", "true")
	}
	fw, _ := mw.CreateFormFile("file", filepath.Base(path))
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(fw, f)
	f.Close()
	mw.Close()
	req, err := http.NewRequest("POST", base+"/api/v1/namespaces/"+ns+"/tables/"+table+"/load", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return req
}

// waitForJob returns the id of the first job the server lists.
func waitForJob(t *testing.T, c *http.Client, base, tok string) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		code, body := do(t, c, "GET", base+"/api/v1/jobs", tok, "", nil)
		var out struct {
			Jobs []struct {
				ID string `json:"id"`
			} `json:"jobs"`
		}
		if code == 200 && json.Unmarshal(body, &out) == nil && len(out.Jobs) > 0 {
			return out.Jobs[0].ID
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no job appeared in 2 minutes")
	return ""
}

func jobState(t *testing.T, c *http.Client, base, tok, id string) (string, int64) {
	t.Helper()
	code, body := do(t, c, "GET", base+"/api/v1/jobs/"+id, tok, "", nil)
	if code != 200 {
		t.Fatalf("GET job = %d %s", code, body)
	}
	var j struct {
		State    string `json:"state"`
		Progress struct {
			Done int64 `json:"done"`
		} `json:"progress"`
	}
	if err := json.Unmarshal(body, &j); err != nil {
		t.Fatal(err)
	}
	return j.State, j.Progress.Done
}

// TestShutdownDuringLoad stops the server while a load is writing, once
// with no time to finish (the load is cancelled) and once with enough (it
// completes): either way the table holds none or all of the rows.
func TestShutdownDuringLoad(t *testing.T) {
	const rows = 1_500_000
	src := writeCSV(t, t.TempDir(), rows)
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		sync    bool
	}{{"cancelled", 0, false}, {"drained", 5 * time.Minute, false}, {"cancelled sync", 0, true}, {"drained sync", 5 * time.Minute, true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(t, dir)
			cfg.ShutdownTimeout = tc.timeout
			s := start(t, cfg, server.Options{AdminPassword: adminPW})
			c, base := http.DefaultClient, s.srv.URL()
			tok := login(t, c, base, "admin", adminPW)
			sqlCSV(t, c, base, tok, "CREATE SCHEMA raw")
			var id string
			answered := make(chan int, 1)
			if tc.sync {
				// The request itself waits for the load; find its job.
				req := uploadRequest(t, base, tok, "raw", "big", src, false)
				go func() {
					// A request cut off at shutdown ends in a transport
					// error, reported as status 0.
					code := 0
					if resp, err := c.Do(req); err == nil {
						code = resp.StatusCode
						resp.Body.Close()
					}
					answered <- code
				}()
				id = waitForJob(t, c, base, tok)
			} else {
				id = uploadAsync(t, c, base, tok, "raw", "big", src)
			}
			// Wait until the load is writing rows, then stop the server.
			deadline := time.Now().Add(2 * time.Minute)
			for {
				state, done := jobState(t, c, base, tok, id)
				if done > 0 || state != "running" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("load made no progress in 2 minutes")
				}
				time.Sleep(5 * time.Millisecond)
			}
			s.shutdown(t)
			if tc.sync {
				code := <-answered
				if tc.timeout > 0 && code != 200 {
					t.Errorf("a synchronous load drained at shutdown answered %d, want 200", code)
				}
				t.Logf("%s: the load request answered %d", tc.name, code)
			}

			p := openPlatform(t, dir)
			ctx := auth.WithPrincipal(context.Background(), auth.LocalOperator())
			id2 := lake.Ident{Namespace: "raw", Name: "big"}
			snaps, err := p.Lake.Snapshots(ctx, id2)
			var n int64
			for _, sn := range snaps {
				if sn.Current {
					fmt.Sscan(sn.Summary["total-records"], &n)
				}
			}
			switch {
			case err != nil && tc.timeout == 0:
				// cancelled before the table was created: nothing at all
			case err != nil:
				t.Fatalf("Snapshots after a drained load: %v", err)
			case n != 0 && n != rows:
				t.Fatalf("table holds %d rows after shutdown, want 0 or %d", n, rows)
			case tc.timeout > 0 && n != rows:
				t.Fatalf("drained shutdown: table holds %d rows, want all %d", n, rows)
			}
			if n == 0 {
				// Nothing committed, and nothing left behind either.
				var stray []string
				filepath.WalkDir(filepath.Join(dir, "warehouse"), func(path string, d os.DirEntry, err error) error {
					if err == nil && strings.HasSuffix(path, ".parquet") {
						stray = append(stray, path)
					}
					return nil
				})
				if len(stray) > 0 {
					t.Errorf("cancelled load left data files: %v", stray)
				}
			}
			t.Logf("%s: %d rows committed", tc.name, n)
		})
	}
}

func x509CertPool(t *testing.T, certPEM []byte) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(certPEM) {
		t.Fatal("bad certificate PEM")
	}
	return pool
}
