package stream_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/stream"
)

// TestExactlyOnceUnderCrashes stops a pipeline at random named points —
// mid-batch, after files are written, after the dead letters or the
// snapshot are committed, before and after the group hears of it — and
// restarts it, many times, while records keep arriving. Every good record
// must be in the table exactly once, every bad one in the dead-letter
// table exactly once.
func TestExactlyOnceUnderCrashes(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	e := newEnv(t, map[string]int32{"events": 4})
	spec := stream.Spec{Name: "events", Topics: []string{"events"}, Table: lake.Ident{Namespace: "raw", Name: "events"},
		CommitInterval: 30 * time.Millisecond, MaxBatchRecords: 40}
	points := []string{stream.PointPolled, stream.PointFilesWritten, stream.PointDLQCommitted, stream.PointCommitted, stream.PointGroupCommitted}
	good, bad, next := 0, 0, 0
	produce := func(n int) {
		for i := 0; i < n; i++ {
			part := int32(rng.IntN(4))
			if rng.IntN(10) == 0 {
				e.produce("events", part, fmt.Sprintf(`{"id": %d, "broken`, next))
				bad++
			} else {
				e.produce("events", part, fmt.Sprintf(`{"id":%d,"v":"x%d"}`, next, next))
				good++
			}
			next++
		}
	}
	caughtUp := func() bool {
		return e.count("SELECT count(*) FROM raw.events") == good && e.count("SELECT count(*) FROM raw.events__dlq") == bad
	}
	crashes := map[string]int{}
	const trials = 60
	for trial := 0; trial < trials; trial++ {
		produce(20 + rng.IntN(80))
		point := points[rng.IntN(len(points))]
		nth := int64(1 + rng.IntN(3))
		var hits atomic.Int64
		crashed := make(chan struct{})
		var once sync.Once
		deps := stream.WithHook(e.deps(), func(pt string) error {
			if pt == point && hits.Add(1) == nth {
				once.Do(func() { close(crashed) })
				return errors.New("crash")
			}
			return nil
		})
		_, stop := e.start(spec, deps)
		didCrash := false
		e.waitFor("a crash or the pipeline catching up", func() bool {
			select {
			case <-crashed:
				didCrash = true
				return true
			default:
				return caughtUp()
			}
		})
		err := stop()
		// The crash may come after the table caught up (at the group
		// commit that follows the table's) and before the stop.
		select {
		case <-crashed:
			didCrash = true
		default:
		}
		if didCrash {
			crashes[point]++
			if err == nil {
				t.Fatalf("trial %d: Run = nil after a crash at %s, want an error", trial, point)
			}
		} else if err != nil {
			t.Fatalf("trial %d: Run = %v", trial, err)
		}
	}
	_, stop := e.start(spec, e.deps())
	e.waitFor("the pipeline catching up", caughtUp)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d good and %d bad records; crashes by point: %v", good, bad, crashes)
	if len(crashes) < 3 {
		t.Errorf("crashes hit only %v; the trials should cover most points", crashes)
	}
	if got := e.query("SELECT count(*), count(DISTINCT id), min(id), sum(CASE WHEN v = 'x' || id THEN 1 ELSE 0 END) FROM raw.events"); got[0] != fmt.Sprintf("%d | %d | 0 | %d", good, good, good) &&
		got[0] != fmt.Sprintf("%d | %d | 1 | %d", good, good, good) {
		t.Errorf("table = %v, want %d rows, each id once", got, good)
	}
	if got := e.query("SELECT count(*), count(DISTINCT (partition, \"offset\")) FROM raw.events__dlq"); got[0] != fmt.Sprintf("%d | %d", bad, bad) {
		t.Errorf("dead letters = %v, want %d, each once", got, bad)
	}
}
