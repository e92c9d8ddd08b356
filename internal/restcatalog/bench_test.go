package restcatalog_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
)

// BenchmarkCatalog measures load-table and commit latency through
// iceberg-go's REST client against edp serve (HTTP on loopback, bearer
// authentication, policy, one durable audit entry per request and one per
// commit), beside the same operations on iceberg-go's SQL catalog in the
// same process over the same SQLite database: the peer is the catalog edp
// wraps, without HTTP, policy or audit. It reports p50 and p99 per
// operation (docs/BENCHMARKS.md).
//
//	go test -run '^$' -bench BenchmarkCatalog -benchtime 300x ./internal/restcatalog/
func BenchmarkCatalog(b *testing.B) {
	e := startEnv(b, "")
	ctx := context.Background()
	restCat := e.client(e.token)
	if err := restCat.CreateNamespace(ctx, table.Identifier{"bench"}, nil); err != nil {
		b.Fatal(err)
	}
	ident := table.Identifier{"bench", "t"}
	if _, err := restCat.CreateTable(ctx, ident, ordersSchema); err != nil {
		b.Fatal(err)
	}
	sqlCat := e.srv.Platform().Lake.Catalog()
	for _, c := range []struct {
		name string
		cat  catalog.Catalog
	}{{"rest", restCat}, {"sql", sqlCat}} {
		b.Run("load/"+c.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				if _, err := c.cat.LoadTable(ctx, ident); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			report(b, lat)
		})
		b.Run("commit/"+c.name, func(b *testing.B) {
			tbl, err := c.cat.LoadTable(ctx, ident)
			if err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, b.N)
			i := 0
			for b.Loop() {
				i++
				start := time.Now()
				tx := tbl.NewTransaction()
				if err := tx.SetProperties(iceberg.Properties{"bench": fmt.Sprint(i)}); err != nil {
					b.Fatal(err)
				}
				if tbl, err = tx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			report(b, lat)
		})
	}
}

func report(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
