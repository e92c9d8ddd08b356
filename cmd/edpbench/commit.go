package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/query"
)

// runCommit times one-row INSERTs through the engine, each an Iceberg
// commit, beside the same insert into a DuckDB database file made durable
// with CHECKPOINT.
func runCommit(args []string) error {
	fs := newFlags("commit")
	n := fs.Int("n", 200, "inserts per side")
	parent := fs.String("dir", "", "directory for the lake and the DuckDB file (default: the system temp dir)")
	keep := fs.Bool("keep", false, "keep the lake and the DuckDB file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n <= 0 {
		return fmt.Errorf("-n must be positive")
	}
	dir, cleanup, err := workDir(*parent, "edpbench-commit-", *keep)
	if err != nil {
		return err
	}
	defer cleanup()
	out := os.Stdout
	fmt.Fprintf(out, "edpbench commit: %d one-row inserts per side, interleaved, in %s\n", *n, dir)
	printFacts(out)

	ctx := benchContext()
	l, err := openLake(ctx, filepath.Join(dir, "lake"))
	if err != nil {
		return err
	}
	defer l.Close()
	e, err := query.New(ctx, l, query.Options{TempDir: filepath.Join(dir, "lake", "tmp")})
	if err != nil {
		return err
	}
	defer e.Close()
	for _, s := range []string{
		"CREATE SCHEMA bench",
		"CREATE TABLE bench.t (id BIGINT, ts TIMESTAMP, region VARCHAR, amount DOUBLE, note VARCHAR)",
	} {
		if err := execEdp(ctx, e, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}

	peerDB, err := openDuck(filepath.Join(dir, "peer.duckdb"))
	if err != nil {
		return err
	}
	defer peerDB.Close()
	peer, err := peerDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer peer.Close()
	for _, s := range []string{
		"CREATE TABLE t (id BIGINT, ts TIMESTAMP, region VARCHAR, amount DOUBLE, note VARCHAR)",
		"CHECKPOINT",
	} {
		if _, err := peer.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("peer %s: %w", s, err)
		}
	}

	values := func(i int) string {
		return fmt.Sprintf("(%d, TIMESTAMP '2026-01-01 00:00:00' + INTERVAL %d SECOND, 'region-%02d', %d.25, 'row %d')", i, i, i%50, i, i)
	}
	edpOne := func(i int) (time.Duration, error) {
		start := time.Now()
		err := execEdp(ctx, e, "INSERT INTO bench.t VALUES "+values(i))
		return time.Since(start), err
	}
	peerOne := func(i int) (time.Duration, error) {
		start := time.Now()
		if _, err := peer.ExecContext(ctx, "INSERT INTO t VALUES "+values(i)); err != nil {
			return 0, err
		}
		_, err := peer.ExecContext(ctx, "CHECKPOINT")
		return time.Since(start), err
	}
	var edpTimes, peerTimes []time.Duration
	for i := 0; i < *n; i++ {
		first, second := edpOne, peerOne
		if i%2 == 1 {
			first, second = peerOne, edpOne
		}
		a, err := first(i)
		if err != nil {
			return err
		}
		b, err := second(i)
		if err != nil {
			return err
		}
		if i%2 == 1 {
			a, b = b, a
		}
		edpTimes = append(edpTimes, a)
		peerTimes = append(peerTimes, b)
	}

	// Both sides must hold every row.
	var edpCount, peerCount int64
	if err := queryEdpInt(ctx, e, "SELECT count(*) FROM bench.t", &edpCount); err != nil {
		return err
	}
	if err := peer.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&peerCount); err != nil {
		return err
	}
	if edpCount != int64(*n) || peerCount != int64(*n) {
		return fmt.Errorf("row counts: edp %d, DuckDB %d, want %d", edpCount, peerCount, *n)
	}
	snaps, err := l.Snapshots(ctx, lake.Ident{Namespace: "bench", Name: "t"})
	if err != nil {
		return err
	}

	k := min(20, *n)
	rows := [][]string{
		{"edp INSERT (Iceberg commit)", ms(percentile(edpTimes, 50)), ms(percentile(edpTimes, 99)), ms(median(edpTimes[:k])), ms(median(edpTimes[*n-k:])),
			fmt.Sprintf("%.2fx", float64(percentile(edpTimes, 50))/float64(percentile(peerTimes, 50)))},
		{"duckdb INSERT + CHECKPOINT", ms(percentile(peerTimes, 50)), ms(percentile(peerTimes, 99)), ms(median(peerTimes[:k])), ms(median(peerTimes[*n-k:])), "peer"},
	}
	fmt.Fprintln(out)
	table(out, []string{"case", "p50 ms", "p99 ms", fmt.Sprintf("first %d p50", k), fmt.Sprintf("last %d p50", k), "edp/DuckDB p50"}, rows)
	fmt.Fprintf(out, "\nrows: edp %d in %d snapshots, DuckDB %d\n", edpCount, len(snaps), peerCount)
	p50 := percentile(edpTimes, 50)
	fmt.Fprintf(out, "goal: p50 <= 30 ms: %s ms %s\n", ms(p50), verdict(p50 <= 30*time.Millisecond))
	fmt.Fprintf(out, "load average after: %s\n", loadAverage())
	return nil
}

// execEdp runs one statement through the engine, reading any rows.
func execEdp(ctx context.Context, e *query.Engine, sql string) error {
	res, err := e.Exec(ctx, sql)
	if err != nil {
		return err
	}
	defer res.Close()
	if res.Rows == nil {
		return nil
	}
	for {
		if _, err := res.Rows.Next(); err == io.EOF {
			return res.Close()
		} else if err != nil {
			return err
		}
	}
}

// queryEdpInt runs a one-value query through the engine.
func queryEdpInt(ctx context.Context, e *query.Engine, sql string, dst *int64) error {
	res, err := e.Exec(ctx, sql)
	if err != nil {
		return err
	}
	defer res.Close()
	row, err := res.Rows.Next()
	if err != nil {
		return err
	}
	switch v := row[0].(type) {
	case int64:
		*dst = v
	case int32:
		*dst = int64(v)
	default:
		return fmt.Errorf("%s: unexpected %T", sql, row[0])
	}
	return nil
}
