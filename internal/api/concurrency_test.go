package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// call sends one request and returns its status and body; safe to use
// from any goroutine (it reports nothing to t).
func (e *env) call(method, path, token, contentType string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// TestConcurrentMix runs 16 clients at once — queries, inserts, loads and
// describes on one table — then checks that the row count is exactly what
// the successful writes added, that every request left one audit entry,
// and that the audit log verifies.
func TestConcurrentMix(t *testing.T) {
	e := newEnv(t)
	e.sql(e.admin, "CREATE SCHEMA c")
	e.sql(e.admin, "CREATE TABLE c.t (id BIGINT, src VARCHAR)")
	e.sql(e.admin, "INSERT INTO c.t VALUES (0, 'seed')")
	const clients, rounds = 16, 3
	head := e.auditHead()
	var (
		rowsAdded atomic.Int64
		requests  atomic.Int64
		wg        sync.WaitGroup
		mu        sync.Mutex
		failures  []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				requests.Add(1)
				var (
					status int
					body   []byte
					err    error
					rows   int64
				)
				switch c % 4 {
				case 0:
					q, _ := json.Marshal(map[string]string{"sql": fmt.Sprintf("INSERT INTO c.t VALUES (%d, 'insert'), (%d, 'insert')", c*100+r, c*100+r)})
					status, body, err = e.call("POST", "/api/v1/sql", e.writer, "application/json", q)
					rows = 2
				case 1:
					form, ct := loadForm(t, []multipartFile{{"x.csv", fmt.Sprintf("id,src\n%d,load\n%d,load\n%d,load\n", c, c, c)}})
					status, body, err = e.call("POST", "/api/v1/namespaces/c/tables/t/load", e.writer, ct, form)
					rows = 3
				case 2:
					q, _ := json.Marshal(map[string]string{"sql": "SELECT count(*), max(id) FROM c.t WHERE src <> 'nothing'"})
					status, body, err = e.call("POST", "/api/v1/sql", e.reader, "application/json", q)
				case 3:
					if r%2 == 0 {
						status, body, err = e.call("GET", "/api/v1/namespaces/c/tables/t", e.reader, "", nil)
					} else {
						status, body, err = e.call("GET", "/api/v1/namespaces/c/tables/t/snapshots", e.reader, "", nil)
					}
				}
				switch {
				case err != nil:
					fail("client %d round %d: %v", c, r, err)
				case status == http.StatusOK:
					rowsAdded.Add(rows)
				case status == http.StatusConflict && rows > 0:
					// A write that lost its commit race after retries is
					// refused as a whole; it adds nothing.
					t.Logf("client %d round %d: conflict: %s", c, r, body)
				default:
					fail("client %d round %d: %d %s", c, r, status, body)
				}
			}
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d failures:\n%s", len(failures), strings.Join(failures, "\n"))
	}
	if got := int64(len(e.auditSince(head))); got != requests.Load() {
		t.Errorf("%d audit entries for %d requests", got, requests.Load())
	}
	if n := e.count("SELECT count(*) FROM c.t"); n != 1+rowsAdded.Load() {
		t.Errorf("rows = %d, want %d", n, 1+rowsAdded.Load())
	}
	e.verifyAudit()
}
