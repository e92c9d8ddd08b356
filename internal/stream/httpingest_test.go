package stream_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/stream"
)

func lines(from, to int) [][]byte {
	var out [][]byte
	for i := from; i < to; i++ {
		out = append(out, fmt.Appendf(nil, `{"id":%d,"note":"n%d"}`, i, i))
	}
	return out
}

func TestIngestConcurrentAndIdempotent(t *testing.T) {
	e := newEnv(t, nil)
	in := stream.NewIngester(e.deps())
	defer in.Close()
	id := lake.Ident{Namespace: "web", Name: "events"}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for g := range 8 {
		wg.Go(func() {
			for r := range 5 {
				n := (g*5 + r) * 10
				if _, err := in.Ingest(e.ctx, id, fmt.Sprintf("req-%d-%d", g, r), lines(n, n+10)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := e.query("SELECT count(*), count(DISTINCT id) FROM web.events"); got[0] != "400 | 400" {
		t.Fatalf("table = %v, want 400 distinct rows", got)
	}
	// A retry of a committed request adds nothing and says so.
	res, err := in.Ingest(e.ctx, id, "req-3-2", lines(170, 180))
	if err != nil || !res.Duplicate || res.Rows != 10 {
		t.Errorf("retry = %+v, %v, want a duplicate of 10 rows", res, err)
	}
	// So does one after a restart, from the snapshot summaries.
	in2 := stream.NewIngester(e.deps())
	defer in2.Close()
	if res, err := in2.Ingest(e.ctx, id, "req-0-0", lines(0, 10)); err != nil || !res.Duplicate {
		t.Errorf("retry after restart = %+v, %v, want a duplicate", res, err)
	}
	if got := e.query("SELECT count(*) FROM web.events"); got[0] != "400" {
		t.Errorf("rows after retries = %v, want 400", got)
	}

	// A request with a bad record is refused whole; a good one alongside
	// still commits.
	var badErr error
	wg.Go(func() {
		_, badErr = in.Ingest(e.ctx, id, "bad", [][]byte{[]byte(`{"id":1000}`), []byte(`{"id":"x"}`)})
	})
	if _, err := in.Ingest(e.ctx, id, "good", lines(1000, 1005)); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if !errors.Is(badErr, stream.ErrBadRecords) {
		t.Errorf("bad request = %v, want ErrBadRecords", badErr)
	}
	if got := e.query("SELECT count(*) FROM web.events WHERE id >= 1000"); got[0] != "5" {
		t.Errorf("rows of id >= 1000 = %v, want the good request's 5", got)
	}
}

// TestIngestCrashAndRetry fails a request as a crash would — after its
// files are written, and after its commit before the answer — and retries
// it with the same idempotency key on a fresh ingester (a restarted
// server): the rows are in the table exactly once.
func TestIngestCrashAndRetry(t *testing.T) {
	for _, point := range []string{stream.PointFilesWritten, stream.PointCommitted} {
		t.Run(point, func(t *testing.T) {
			e := newEnv(t, nil)
			id := lake.Ident{Namespace: "web", Name: "orders"}
			crashing := stream.IngesterWithHook(e.deps(), func(p string) error {
				if p == point {
					return errors.New("crash")
				}
				return nil
			})
			if _, err := crashing.Ingest(e.ctx, id, "order-batch-1", lines(0, 25)); err == nil {
				t.Fatalf("Ingest with a crash at %s = nil error", point)
			}
			crashing.Close()
			in := stream.NewIngester(e.deps())
			defer in.Close()
			res, err := in.Ingest(e.ctx, id, "order-batch-1", lines(0, 25))
			if err != nil {
				t.Fatal(err)
			}
			if wantDup := point == stream.PointCommitted; res.Duplicate != wantDup || res.Rows != 25 {
				t.Errorf("retry = %+v, want 25 rows, duplicate %v", res, wantDup)
			}
			if got := e.query("SELECT count(*), count(DISTINCT id) FROM web.orders"); got[0] != "25 | 25" {
				t.Errorf("table = %v, want 25 rows once", got)
			}
		})
	}
}

// TestIngestKeyPerPrincipal is the regression test for idempotency keys
// shared across principals: bob's request with a key alice had used was
// answered as a duplicate with alice's snapshot and row count, and none
// of his rows were written. Keys belong to their principal; alice's own
// retry is still a duplicate.
func TestIngestKeyPerPrincipal(t *testing.T) {
	e := newEnv(t, nil)
	in := stream.NewIngester(e.deps())
	defer in.Close()
	id := lake.Ident{Namespace: "web", Name: "events"}
	alice := auth.WithPrincipal(context.Background(), auth.Principal{Name: "alice", Roles: []string{auth.RoleAdmin}})
	bob := auth.WithPrincipal(context.Background(), auth.Principal{Name: "bob", Roles: []string{auth.RoleAdmin}})
	first, err := in.Ingest(alice, id, "batch-0001", lines(0, 10))
	if err != nil {
		t.Fatal(err)
	}
	res, err := in.Ingest(bob, id, "batch-0001", lines(100, 105))
	if err != nil {
		t.Fatal(err)
	}
	if res.Duplicate || res.Rows != 5 || res.SnapshotID == first.SnapshotID {
		t.Errorf("bob's Ingest = %+v, want his own 5 rows in a new snapshot (alice's: %+v)", res, first)
	}
	if got := e.query("SELECT count(*) FROM web.events WHERE id >= 100"); got[0] != "5" {
		t.Errorf("bob's rows in the table = %v, want 5", got)
	}
	again, err := in.Ingest(alice, id, "batch-0001", lines(0, 10))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || again.SnapshotID != first.SnapshotID {
		t.Errorf("alice's retry = %+v, want a duplicate of %+v", again, first)
	}
	if got := e.query("SELECT count(*) FROM web.events"); got[0] != "15" {
		t.Errorf("rows = %v, want 15", got)
	}
}
