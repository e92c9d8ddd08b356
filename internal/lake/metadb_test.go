package lake_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/audit"
	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/lake/laketest"
	"github.com/edp-data/edp/internal/metadb/metadbtest"
	"github.com/edp-data/edp/internal/objstore"
	"github.com/edp-data/edp/internal/query"
)

// Variables that turn TestWriterProcess into a second edp process writing
// to the parent test's catalog and warehouse.
const (
	envWriterURI       = "EDP_LAKE_TEST_WRITER_URI"
	envWriterWarehouse = "EDP_LAKE_TEST_WRITER_WAREHOUSE"
	envWriterGroup     = "EDP_LAKE_TEST_WRITER_GROUP"
	// envWriterS3 carries the S3 endpoint and keys of a remote warehouse:
	// "ENDPOINT ACCESS_KEY SECRET_KEY".
	envWriterS3 = "EDP_LAKE_TEST_WRITER_S3"
)

const (
	writers     = 8 // committing goroutines per process
	insertsEach = 4 // INSERTs per goroutine
	rowsEach    = 10
)

func adminCtx() context.Context {
	return auth.WithPrincipal(context.Background(), auth.Principal{Name: "tester", Roles: []string{auth.RoleAdmin}})
}

// openEngine opens a lake on st and a query engine over it, as one edp
// process does.
func openEngine(t testing.TB, st laketest.Storage) (*lake.Lake, *query.Engine) {
	t.Helper()
	ctx := adminCtx()
	l, err := lake.Open(ctx, st.Options(lake.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	e, err := query.New(ctx, l, query.Options{TempDir: t.TempDir()})
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(); l.Close() })
	return l, e
}

// storageOn is fresh storage as the environment selects, with the catalog
// on eng.
func storageOn(t testing.TB, eng metadbtest.Engine) laketest.Storage {
	t.Helper()
	st := laketest.New(t)
	st.CatalogURI = eng.URI(t)
	return st
}

func run(ctx context.Context, e *query.Engine, sql string) error {
	res, err := e.Exec(ctx, sql)
	if err != nil {
		return err
	}
	return res.Close()
}

func count(t testing.TB, e *query.Engine, sql string) string {
	t.Helper()
	res, err := e.Exec(adminCtx(), sql)
	if err != nil {
		t.Fatalf("Exec(%q) = %v", sql, err)
	}
	defer res.Close()
	row, err := res.Rows.Next()
	if err != nil {
		t.Fatalf("Exec(%q): %v", sql, err)
	}
	out := make([]string, len(row))
	for i, v := range row {
		out[i] = fmt.Sprint(v)
	}
	if _, err := res.Rows.Next(); err != io.EOF {
		t.Fatalf("Exec(%q) returned more than one row", sql)
	}
	return strings.Join(out, " | ")
}

// insertAll runs writers goroutines that each INSERT insertsEach batches of
// rowsEach rows tagged with group. It returns how many INSERTs were
// acknowledged, how many failed with a conflict, and every other error.
// lake.CommitFiles retries an append that loses a race for up to a minute,
// so under this contention every INSERT is expected to succeed.
func insertAll(e *query.Engine, group int) (acked, conflicts int, errs []error) {
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for w := range writers {
		wg.Go(func() {
			for i := range insertsEach {
				sql := fmt.Sprintf("INSERT INTO c.t SELECT %d, %d, r FROM range(%d) t(r)", group, w, rowsEach)
				err := run(adminCtx(), e, sql)
				mu.Lock()
				switch {
				case err == nil:
					acked++
				case lake.IsConflict(err):
					conflicts++
				default:
					errs = append(errs, fmt.Errorf("group %d writer %d insert %d: %w", group, w, i, err))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return acked, conflicts, errs
}

// TestConcurrentCommitsFromTwoLakes runs two lakes, standing in for two edp
// processes, on one catalog database and one warehouse; each commits to the
// same table from many goroutines at once. Every acknowledged INSERT must
// be in the table: a commit that loses the race to the other process must
// be reported as a conflict (lake.IsConflict) and retried, never lost or
// applied twice.
func TestConcurrentCommitsFromTwoLakes(t *testing.T) {
	for _, eng := range metadbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			st := storageOn(t, eng)
			_, a := openEngine(t, st)
			_, b := openEngine(t, st)
			ctx := adminCtx()
			for _, sql := range []string{"CREATE SCHEMA c", "CREATE TABLE c.t (g INT, w INT, r BIGINT)"} {
				if err := run(ctx, a, sql); err != nil {
					t.Fatalf("Exec(%q) = %v", sql, err)
				}
			}
			var wg sync.WaitGroup
			var acked, conflicts [2]int
			var errs [2][]error
			for i, e := range []*query.Engine{a, b} {
				wg.Go(func() { acked[i], conflicts[i], errs[i] = insertAll(e, i) })
			}
			wg.Wait()
			for _, err := range append(errs[0], errs[1]...) {
				t.Error(err)
			}
			if n := conflicts[0] + conflicts[1]; n > 0 {
				t.Errorf("%d of %d INSERTs failed with a conflict after every retry", n, 2*writers*insertsEach)
			}
			if acked[0] != writers*insertsEach || acked[1] != writers*insertsEach {
				t.Errorf("acknowledged INSERTs per lake = %v, want %d each", acked, writers*insertsEach)
			}
			want := fmt.Sprintf("%d | 2", (acked[0]+acked[1])*rowsEach)
			for i, e := range []*query.Engine{a, b} {
				if got := count(t, e, "SELECT count(*), count(DISTINCT g) FROM c.t"); got != want {
					t.Errorf("lake %d: rows, groups = %s, want %s (%v acknowledged INSERTs)", i, got, want, acked)
				}
			}
		})
	}
}

// TestConcurrentCommitsFromTwoProcesses is the same race with a real second
// process: the test binary runs again as TestWriterProcess, with its own
// lake, DuckDB and connection pool, while this process writes too.
func TestConcurrentCommitsFromTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second process")
	}
	for _, eng := range metadbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			st := storageOn(t, eng)
			_, e := openEngine(t, st)
			ctx := adminCtx()
			for _, sql := range []string{"CREATE SCHEMA c", "CREATE TABLE c.t (g INT, w INT, r BIGINT)"} {
				if err := run(ctx, e, sql); err != nil {
					t.Fatalf("Exec(%q) = %v", sql, err)
				}
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestWriterProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), envWriterURI+"="+st.CatalogURI, envWriterWarehouse+"="+st.Warehouse, envWriterGroup+"=1")
			if st.S3 != nil {
				cmd.Env = append(cmd.Env, envWriterS3+"="+st.S3.Endpoint+" "+st.S3.AccessKey+" "+st.S3.SecretKey)
			}
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			acked, conflicts, errs := insertAll(e, 0)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("writer process: %v\n%s", err, out.String())
			}
			for _, err := range errs {
				t.Error(err)
			}
			if conflicts > 0 || acked != writers*insertsEach {
				t.Errorf("this process: %d INSERTs acknowledged, %d failed with a conflict; want all %d acknowledged", acked, conflicts, writers*insertsEach)
			}
			var childAcked int
			_, report, _ := strings.Cut(out.String(), "acknowledged=")
			if _, err := fmt.Sscanf(report, "%d", &childAcked); err != nil || childAcked != writers*insertsEach {
				t.Fatalf("writer process acknowledged %d INSERTs (%v):\n%s", childAcked, err, out.String())
			}
			want := fmt.Sprintf("%d | 2", (acked+childAcked)*rowsEach)
			if got := count(t, e, "SELECT count(*), count(DISTINCT g) FROM c.t"); got != want {
				t.Fatalf("rows, groups = %s, want %s (%d + %d acknowledged INSERTs)", got, want, acked, childAcked)
			}
		})
	}
}

// TestWriterProcess is the second process of
// TestConcurrentCommitsFromTwoProcesses; run directly, it does nothing.
func TestWriterProcess(t *testing.T) {
	uri := os.Getenv(envWriterURI)
	if uri == "" {
		t.Skip("only runs as the second process of TestConcurrentCommitsFromTwoProcesses")
	}
	group, err := strconv.Atoi(os.Getenv(envWriterGroup))
	if err != nil {
		t.Fatal(err)
	}
	st := laketest.Storage{CatalogURI: uri, Warehouse: os.Getenv(envWriterWarehouse), LocalDir: t.TempDir()}
	if s3 := strings.Fields(os.Getenv(envWriterS3)); len(s3) == 3 {
		st.Storage.Props = objstore.S3Props(s3[0], "us-east-1", s3[1], s3[2], true)
	}
	_, e := openEngine(t, st)
	acked, _, errs := insertAll(e, group)
	for _, err := range errs {
		t.Error(err)
	}
	fmt.Printf("acknowledged=%d\n", acked)
}

// TestPostgresReconnects ends every server connection of a running edp
// (what a PostgreSQL restart does to its clients): the audit log appends
// again at once on a fresh connection, and the lake commits again as soon
// as the pool has dropped its dead connections, which it does on their
// first use. No acknowledged commit may be lost.
func TestPostgresReconnects(t *testing.T) {
	st := storageOn(t, metadbtest.Engine{Name: "postgres", URI: metadbtest.PostgresURI})
	uri := st.CatalogURI
	l, e := openEngine(t, st)
	log, err := audit.Open(context.Background(), l.MetaDB(), audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	ctx := adminCtx()
	for _, sql := range []string{"CREATE SCHEMA c", "CREATE TABLE c.t (g INT, w INT, r BIGINT)"} {
		if err := run(ctx, e, sql); err != nil {
			t.Fatalf("Exec(%q) = %v", sql, err)
		}
	}
	rec := audit.Record{Principal: "tester", Action: "probe", Outcome: audit.OutcomeSuccess}
	if _, err := log.Append(ctx, rec); err != nil {
		t.Fatal(err)
	}
	// Warm the pool with several connections, as a busy server has.
	acked, _, errs := insertAll(e, 0)
	if len(errs) > 0 {
		t.Fatal(errs)
	}

	killer := metadbtest.Open(t, uri)
	var killed int
	if err := killer.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed < 2 {
		t.Fatalf("terminated %d connections, want the audit writer's and the lake's", killed)
	}

	if _, err := log.Append(ctx, rec); err != nil {
		t.Fatalf("audit Append after the connections were cut = %v, want success on a fresh connection", err)
	}
	// Each dead pooled connection may fail the one statement that finds it
	// dead; after at most that many failures every commit succeeds.
	failures := 0
	for i := 0; i < killed+5; i++ {
		err := run(ctx, e, "INSERT INTO c.t SELECT 9, 9, r FROM range(10) t(r)")
		if err == nil {
			acked++
			continue
		}
		failures++
		if failures > killed {
			t.Fatalf("insert %d after the connections were cut: %v (failure %d, %d connections were cut)", i, err, failures, killed)
		}
		t.Logf("insert %d found a dead connection: %v", i, err)
	}
	more, _, errs := insertAll(e, 1)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	acked += more
	got := count(t, e, "SELECT count(*) FROM c.t")
	if want := strconv.Itoa(acked * rowsEach); got != want {
		// A dead connection fails the statement that first uses it, before
		// anything is committed, so the failed inserts must have left
		// nothing behind.
		t.Fatalf("rows = %s, want %s (%d acknowledged inserts)", got, want, acked)
	}
	rep, err := log.Verify(ctx, nil)
	if err != nil || !rep.OK() || rep.Entries != 2 {
		t.Fatalf("audit Verify = %+v, %v; want 2 entries, no problem", rep, err)
	}
}

// TestOpenConcurrentlyOnFreshDatabase pins that several edp processes
// starting at once on an empty PostgreSQL database all open it: iceberg-go
// creates its catalog tables outside any lock, and the losers of that
// race used to fail with "already exists".
func TestOpenConcurrentlyOnFreshDatabase(t *testing.T) {
	for _, eng := range metadbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			for round := range 3 {
				st := storageOn(t, eng)
				var wg sync.WaitGroup
				errs := make([]error, 6)
				for i := range errs {
					wg.Go(func() {
						l, err := lake.Open(adminCtx(), st.Options(lake.Options{}))
						if err == nil {
							l.Close()
						}
						errs[i] = err
					})
				}
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Errorf("round %d, opener %d: %v", round, i, err)
					}
				}
			}
		})
	}
}

// TestPostgresRestart restarts the catalog's PostgreSQL server while
// several writers commit: commits fail while it is down, edp reconnects by
// itself once it is back, and every acknowledged commit is in the table.
func TestPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server")
	}
	srv := metadbtest.StartServer(t)
	st := laketest.New(t)
	st.CatalogURI = srv.URI
	_, e := openEngine(t, st)
	ctx := adminCtx()
	for _, sql := range []string{"CREATE SCHEMA c", "CREATE TABLE c.t (g INT, w INT, r BIGINT)"} {
		if err := run(ctx, e, sql); err != nil {
			t.Fatalf("Exec(%q) = %v", sql, err)
		}
	}
	var acked, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := run(ctx, e, fmt.Sprintf("INSERT INTO c.t SELECT 0, %d, r FROM range(%d) t(r)", w, rowsEach))
				if err == nil {
					acked.Add(1)
				} else {
					failed.Add(1)
					time.Sleep(50 * time.Millisecond) // as a client backs off
				}
			}
		})
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for !cond() {
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("gave up waiting: %s (acknowledged %d, failed %d)", what, acked.Load(), failed.Load())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("commits before the restart", func() bool { return acked.Load() >= 8 })
	srv.Stop(t)
	downFailures := failed.Load()
	waitFor("commits failing while the server is down", func() bool { return failed.Load() >= downFailures+4 })
	srv.Start(t)
	afterRestart := acked.Load()
	waitFor("commits after the restart", func() bool { return acked.Load() >= afterRestart+8 })
	close(stop)
	wg.Wait()

	got := count(t, e, "SELECT count(*) FROM c.t")
	n, _ := strconv.ParseInt(got, 10, 64)
	// A commit whose answer the shutdown cut off may have landed although
	// it was reported failed; none may be lost.
	if lo, hi := acked.Load()*rowsEach, (acked.Load()+failed.Load())*rowsEach; n < lo || n > hi || n%rowsEach != 0 {
		t.Fatalf("rows = %d, want between %d (acknowledged) and %d, in whole commits", n, lo, hi)
	}
	t.Logf("%d commits acknowledged, %d failed while the server restarted; %d rows", acked.Load(), failed.Load(), n)
}
