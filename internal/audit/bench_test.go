package audit_test

// Durable appends per second, edp's audit log beside its peer, a plain
// SQLite INSERT committed with synchronous=FULL, both on a WAL database in a
// temporary directory, with 1 and 16 concurrent clients:
//
//	go test -run '^$' -bench . -benchtime 2s ./internal/audit/
//
// Both sides pay one fsync per transaction. The peer pays it per row; the
// log, which also hashes, chains and signs, shares it among the appends
// that are waiting when a batch starts.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/edp-data/edp/internal/audit"
	"github.com/edp-data/edp/internal/metadb"
)

var benchClients = []int{1, 16}

func BenchmarkAppend(b *testing.B) {
	for _, clients := range benchClients {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			ctx := context.Background()
			// The pool is opened as lake.Open opens it (synchronous=NORMAL);
			// the Log raises its own connection to FULL.
			db := &metadb.DB{DB: openBenchDB(b, "NORMAL"), Dialect: metadb.SQLite}
			_, priv, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			l, err := audit.Open(ctx, db, audit.Options{Signer: priv})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			runClients(b, clients, func(i int) error {
				_, err := l.Append(ctx, benchRecord(i))
				return err
			})
		})
	}
}

func BenchmarkSQLiteInsertSync(b *testing.B) {
	for _, clients := range benchClients {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			ctx := context.Background()
			db := openBenchDB(b, "FULL")
			if _, err := db.Exec(`CREATE TABLE log (
				id INTEGER PRIMARY KEY, principal TEXT NOT NULL, action TEXT NOT NULL,
				resource TEXT NOT NULL, outcome TEXT NOT NULL, details TEXT NOT NULL)`); err != nil {
				b.Fatal(err)
			}
			runClients(b, clients, func(i int) error {
				// Autocommit: one transaction, so one fsync, per row.
				_, err := db.ExecContext(ctx, `INSERT INTO log (principal, action, resource, outcome, details) VALUES (?, ?, ?, ?, ?)`,
					"alice", "query", "sales.orders", audit.OutcomeSuccess, fmt.Sprintf(`{"i":%d,"tables":["sales.orders"]}`, i))
				return err
			})
		})
	}
}

func openBenchDB(b *testing.B, synchronous string) *sql.DB {
	b.Helper()
	path := filepath.Join(b.TempDir(), "meta.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous("+synchronous+")")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

func benchRecord(i int) audit.Record {
	return audit.Record{
		Principal: "alice", Action: "query", Resource: "sales.orders", Outcome: audit.OutcomeSuccess,
		Details: map[string]any{"i": i, "tables": []string{"sales.orders"}},
	}
}

// runClients runs b.N operations on exactly clients goroutines (RunParallel
// would tie the count to GOMAXPROCS) and reports their rate.
func runClients(b *testing.B, clients int, op func(i int) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	b.ResetTimer()
	for range clients {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := op(int(i)); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}
