package restcatalog_test

import (
	"context"
	"testing"

	"github.com/apache/iceberg-go/table"

	"github.com/edp-data/edp/internal/config"
	"github.com/edp-data/edp/internal/objstore/s3test"
)

// TestS3Warehouse: on an S3 warehouse with credential vending on, an
// iceberg-go client writes data files to the store with the configuration
// the catalog hands it, edp's SQL reads them, and the client scans what
// edp wrote.
func TestS3Warehouse(t *testing.T) {
	s3 := s3test.New(t)
	e := startEnvWith(t, "", func(c *config.Config) {
		c.Warehouse = s3.URI("lake")
		c.S3 = config.S3Config{Endpoint: s3.Endpoint, Region: s3.Region(), Addressing: config.S3AddressingPath,
			AccessKeyID: s3.AccessKey, SecretAccessKey: s3.SecretKey, SSE: config.S3SSENone}
		c.Iceberg.VendCredentials = true
	})
	ctx := context.Background()
	cat := e.client(e.token)
	if err := cat.CreateNamespace(ctx, table.Identifier{"sales"}, nil); err != nil {
		t.Fatal(err)
	}
	tbl, err := cat.CreateTable(ctx, table.Identifier{"sales", "orders"}, ordersSchema)
	if err != nil {
		t.Fatal(err)
	}
	if loc := tbl.Location(); len(loc) < 5 || loc[:5] != "s3://" {
		t.Fatalf("table location %q, want one in the S3 warehouse", loc)
	}
	tbl = appendRows(t, tbl, 1, 2, 3)
	if got, want := e.sql("SELECT count(*) AS n, sum(id) AS s FROM sales.orders"), "n,s\n3,6\n"; got != want {
		t.Errorf("edp SQL after the client's append = %q, want %q", got, want)
	}
	e.sql("INSERT INTO sales.orders VALUES (10, 'r0')")
	tbl, err = cat.LoadTable(ctx, table.Identifier{"sales", "orders"})
	if err != nil {
		t.Fatal(err)
	}
	if n := scanCount(t, tbl); n != 4 {
		t.Errorf("client scan after edp's INSERT = %d rows, want 4", n)
	}
	if keys := s3.Keys(t, "lake/sales.db/"); len(keys) == 0 {
		t.Error("no objects under the warehouse prefix")
	}
}
