package stream_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/stream"
)

// TestRebalance runs one pipeline on two consumers (as two edp replicas
// would) while records arrive: the second joins mid-stream and takes
// partitions, then the first leaves and hands its partitions back. The
// table must hold every record exactly once, and both must have committed.
func TestRebalance(t *testing.T) {
	e := newEnv(t, map[string]int32{"clicks": 6})
	spec := stream.Spec{Name: "clicks", Topics: []string{"clicks"}, Table: lake.Ident{Namespace: "raw", Name: "clicks"},
		CommitInterval: 50 * time.Millisecond}
	ctx, stopProducing := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	produced := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			mu.Lock()
			e.produce("clicks", int32(i%6), fmt.Sprintf(`{"id":%d}`, i))
			produced++
			mu.Unlock()
			if i%20 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	rows := func() int { return e.count("SELECT count(*) FROM raw.clicks") }
	a, stopA := e.start(spec, e.deps())
	e.waitFor("the first consumer to commit", func() bool { return rows() > 200 })
	b, stopB := e.start(spec, e.deps())
	e.waitFor("the second consumer to commit", func() bool { return b.Status().Rows > 200 })
	aRows := a.Status().Rows
	e.waitFor("the first consumer to keep committing after the rebalance", func() bool { return a.Status().Rows > aRows+100 })
	if err := stopA(); err != nil {
		t.Fatalf("first consumer: Run = %v", err)
	}
	bRows := b.Status().Rows
	e.waitFor("the second consumer to take over", func() bool { return b.Status().Rows > bRows+300 })
	stopProducing()
	wg.Wait()
	e.waitFor("every record", func() bool { return rows() >= produced })
	if err := stopB(); err != nil {
		t.Fatalf("second consumer: Run = %v", err)
	}
	want := fmt.Sprintf("%d | %d | 0 | %d", produced, produced, produced-1)
	if got := e.query("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM raw.clicks"); got[0] != want {
		t.Errorf("table = %v, want %s (every record once)", got, want)
	}
	if a.Status().Rows+b.Status().Rows != int64(produced) {
		t.Errorf("rows committed by the consumers: %d + %d, want %d", a.Status().Rows, b.Status().Rows, produced)
	}
}
