package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/auth"
)

// Run with:
//
//	go test ./internal/api/ -run '^$' -bench 'BenchmarkQuery' -benchtime 2000x
//
// Both benchmarks run the same small aggregate over a 10k-row table at 16
// concurrent clients: BenchmarkQueryAPI through the HTTP API (JSON result,
// authentication, one durable audit entry per request), and
// BenchmarkQueryInProcess through query.Engine.Exec directly. The
// difference is what the server adds per request.

const (
	benchClients = 16
	benchQuery   = "SELECT count(*), sum(x) FROM bench.t WHERE g = 3 AND x > 100"
)

func benchEnv(b *testing.B) *env {
	b.Helper()
	e := newEnv(b)
	e.sql(e.admin, "CREATE SCHEMA bench")
	e.sql(e.admin, "CREATE TABLE bench.t AS SELECT range AS x, range % 10 AS g, 'row ' || range AS label FROM range(10000)")
	return e
}

// parallel runs op at benchClients concurrent goroutines and reports
// the p50 and p99 latency of one op.
func parallel(b *testing.B, op func() error) {
	b.Helper()
	b.SetParallelism((benchClients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	var (
		mu  sync.Mutex
		all []time.Duration
	)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			start := time.Now()
			if err := op(); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		all = append(all, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	q := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

func BenchmarkQueryAPI(b *testing.B) {
	e := benchEnv(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}}
	body, _ := json.Marshal(map[string]string{"sql": benchQuery})
	parallel(b, func() error {
		req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/sql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.reader)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var res struct{ Rows [][]any }
		if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != http.StatusOK || len(res.Rows) != 1 {
			return io.ErrUnexpectedEOF
		}
		return nil
	})
}

func BenchmarkQueryInProcess(b *testing.B) {
	e := benchEnv(b)
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Name: "reader", Roles: []string{auth.RoleReader}})
	parallel(b, func() error {
		res, err := e.engine.Exec(ctx, benchQuery)
		if err != nil {
			return err
		}
		defer res.Close()
		n := 0
		for {
			if _, err := res.Rows.Next(); err != nil {
				if err == io.EOF {
					break
				}
				return err
			}
			n++
		}
		if n != 1 {
			return io.ErrUnexpectedEOF
		}
		return nil
	})
}
