package stream_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/kafka"
	"github.com/edp-data/edp/internal/kafka/kafkatest"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/stream"
)

// benchRecord is a JSON record of exactly 100 bytes: the page string
// pads it.
func benchRecord(i int) []byte {
	r := fmt.Appendf(nil, `{"id":%d,"user":"u%d","event":"click","ts":1700000000000,"amount":%d.25,"page":"/p/`, i, i%100000, i%1000)
	for len(r) < 98 {
		r = append(r, 'x')
	}
	return append(r, `"}`...)
}

// BenchmarkStreamThroughput measures records/s from a topic into an
// Iceberg table end to end (consume, decode, stage, write Parquet, commit
// with offsets) beside raw franz-go consumption of the same topic in the
// same run. Set EDP_BENCH_RECORDS (default 1,000,000).
//
//	go test ./internal/stream/ -run '^$' -bench StreamThroughput -benchtime 1x
func BenchmarkStreamThroughput(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("EDP_BENCH_RECORDS")); err == nil && v > 0 {
		n = v
	}
	const parts = 4
	_, cluster := kafkatest.Start(b, kfake.SeedTopics(parts, "bench"))
	prod, err := kafka.NewClient(cluster, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Name: "bench", Roles: []string{auth.RoleAdmin}})
	for start := 0; start < n; start += 10_000 {
		var recs []*kgo.Record
		for i := start; i < min(n, start+10_000); i++ {
			recs = append(recs, &kgo.Record{Topic: "bench", Value: benchRecord(i)})
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	prod.Close()
	if len(benchRecord(0)) != 100 {
		b.Fatalf("record is %d bytes, want 100", len(benchRecord(0)))
	}

	var rawRate, edpRate []float64
	for rep := 0; rep < b.N; rep++ {
		// Raw: a franz-go consumer reading every record, doing nothing.
		cl, err := kafka.NewClient(cluster, kgo.ConsumeTopics("bench"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		got := 0
		for got < n {
			fs := cl.PollFetches(ctx)
			got += fs.NumRecords()
		}
		rawRate = append(rawRate, float64(n)/time.Since(t0).Seconds())
		cl.Close()

		// edp: a pipeline from the same topic into a fresh table.
		dir := b.TempDir()
		l, err := lake.Open(ctx, lake.Options{CatalogURI: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: filepath.Join(dir, "warehouse")})
		if err != nil {
			b.Fatal(err)
		}
		p, err := stream.New(stream.Spec{Name: fmt.Sprintf("bench%d", rep), Topics: []string{"bench"}, Table: lake.Ident{Namespace: "b", Name: "t"},
			CommitInterval: time.Second}, stream.Deps{Lake: l, Cluster: cluster, TempDir: filepath.Join(dir, "tmp")})
		if err != nil {
			b.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		t0 = time.Now()
		go func() { done <- p.Run(rctx) }()
		for p.Status().Records < int64(n) {
			select {
			case err := <-done:
				b.Fatalf("pipeline stopped: %v", err)
			case <-time.After(20 * time.Millisecond):
			}
		}
		edpRate = append(edpRate, float64(n)/time.Since(t0).Seconds())
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		if st := p.Status(); st.Rows != int64(n) {
			b.Fatalf("committed %d rows (%d dead letters), want %d", st.Rows, st.DeadLetters, n)
		}
		l.Close()
	}
	raw, edp := median(rawRate), median(edpRate)
	b.ReportMetric(raw, "raw-records/s")
	b.ReportMetric(edp, "edp-records/s")
	b.ReportMetric(edp/raw, "ratio")
	b.Logf("%d records of 100 bytes, %d partitions: raw franz-go %.0f records/s, edp into Iceberg %.0f records/s (%.2fx); goal >= 250000: %s",
		n, parts, raw, edp, edp/raw, met(edp >= 250_000))
}

// BenchmarkStreamFreshness produces at a steady rate for a while with a
// 1 s commit interval and reports the median, over commits, of each
// commit's p50 freshness (Kafka timestamp to committed), beside the
// commit interval itself.
//
//	go test ./internal/stream/ -run '^$' -bench StreamFreshness -benchtime 1x
func BenchmarkStreamFreshness(b *testing.B) {
	_, cluster := kafkatest.Start(b, kfake.SeedTopics(4, "fresh"))
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Name: "bench", Roles: []string{auth.RoleAdmin}})
	dir := b.TempDir()
	l, err := lake.Open(ctx, lake.Options{CatalogURI: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: filepath.Join(dir, "warehouse")})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	p, err := stream.New(stream.Spec{Name: "fresh", Topics: []string{"fresh"}, Table: lake.Ident{Namespace: "b", Name: "f"}, CommitInterval: time.Second},
		stream.Deps{Lake: l, Cluster: cluster, TempDir: filepath.Join(dir, "tmp")})
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	prod, err := kafka.NewClient(cluster)
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Close()
	const rate, seconds = 20_000, 12 // records/s, and for how long
	var p50s []float64
	var lastCommit time.Time
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	i := 0
	for end := time.Now().Add(seconds * time.Second); time.Now().Before(end); {
		<-tick.C
		var recs []*kgo.Record
		for range rate / 20 {
			recs = append(recs, &kgo.Record{Topic: "fresh", Value: benchRecord(i)})
			i++
		}
		prod.Produce(ctx, recs[0], nil)
		if err := prod.ProduceSync(ctx, recs[1:]...).FirstErr(); err != nil {
			b.Fatal(err)
		}
		if st := p.Status(); st.LastCommit != nil && !st.LastCommit.Equal(lastCommit) {
			lastCommit = *st.LastCommit
			p50s = append(p50s, st.FreshnessP50)
		}
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if len(p50s) > 2 {
		p50s = p50s[2:] // the first commits include the warm-up
	}
	f := median(p50s)
	b.ReportMetric(f, "freshness-p50-s")
	b.Logf("%d records/s for %d s, commit interval 1 s: median per-commit freshness p50 %.2f s over %d commits; goal <= 2 s: %s",
		rate, seconds, f, len(p50s), met(f <= 2))
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}
