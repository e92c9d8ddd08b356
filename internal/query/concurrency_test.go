package query_test

import (
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentWriters runs inserts and reads on one table from several
// goroutines through one engine: every acknowledged insert must be in the
// table (commits that collide are retried, not lost), and reads never see
// a half-applied statement. Run with -race, it also checks the engine's own
// shared state. Regression: concurrent first commits to an empty table
// failed with "branch main was created concurrently", which iceberg-go does
// not retry.
func TestConcurrentWriters(t *testing.T) {
	ctx, e := newEngine(t)
	if _, _, err := collect(ctx, e, "CREATE SCHEMA c"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := collect(ctx, e, "CREATE TABLE c.t (g INT, i INT)"); err != nil {
		t.Fatal(err)
	}
	const workers, each = 4, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*2)
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, _, err := collect(ctx, e, fmt.Sprintf("INSERT INTO c.t SELECT %d, r FROM range(10) t(r)", g)); err != nil {
					errs <- fmt.Errorf("insert %d/%d: %w", g, i, err)
					return
				}
				rows, _, err := collect(ctx, e, "SELECT count(*) % 10 FROM c.t")
				if err != nil {
					errs <- err
					return
				}
				if rows[0] != "0" {
					errs <- fmt.Errorf("a read saw part of an insert: count %% 10 = %s", rows[0])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	rows, _, err := collect(ctx, e, "SELECT count(*), count(DISTINCT g) FROM c.t")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d | %d", workers*each*10, workers); rows[0] != want {
		t.Fatalf("count, groups = %s, want %s", rows[0], want)
	}
}
