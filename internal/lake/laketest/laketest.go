// Package laketest opens lakes for tests on the storage the environment
// selects, so one suite runs over every combination edp supports: the
// warehouse on local disk or on an S3-compatible store, the catalog in
// SQLite or PostgreSQL.
//
//   - EDP_TEST_WAREHOUSE=s3 puts the warehouse on S3: the server named by
//     EDP_TEST_S3 (versitygw in CI), else gofakes3 in process (see s3test).
//     Unset or "local" means a local directory.
//   - EDP_TEST_CATALOG=postgres puts the catalog in a fresh PostgreSQL
//     database (see metadbtest); unset or "sqlite" means SQLite.
//
// test.sh runs the lake, query, ingest, maintenance and stream suites once per
// combination.
//
// Test support only: imported by _test files.
package laketest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/metadb/metadbtest"
	"github.com/edp-data/edp/internal/objstore/s3test"
)

// Environment variables choosing the storage.
const (
	EnvWarehouse = "EDP_TEST_WAREHOUSE"
	EnvCatalog   = "EDP_TEST_CATALOG"
)

// Remote reports whether the environment puts warehouses on S3.
func Remote() bool { return os.Getenv(EnvWarehouse) == "s3" }

// Storage is where a test's lake keeps its catalog and files.
type Storage struct {
	CatalogURI string
	Warehouse  string
	LocalDir   string
	Storage    lake.Storage
	// S3 is the object store of a remote warehouse, nil for a local one.
	S3 *s3test.Server
}

// Options fills a lake.Options with the storage.
func (s Storage) Options(opts lake.Options) lake.Options {
	opts.CatalogURI, opts.Warehouse, opts.LocalDir = s.CatalogURI, s.Warehouse, s.LocalDir
	opts.Storage.Props, opts.Storage.Encryption = s.Storage.Props, s.Storage.Encryption
	if opts.Storage.CacheBytes == 0 {
		opts.Storage.CacheBytes = s.Storage.CacheBytes
	}
	return opts
}

// New returns fresh storage for t as the environment selects: an empty
// catalog and warehouse, removed when t ends.
func New(t testing.TB) Storage {
	t.Helper()
	return newStorage(t, os.Getenv(EnvWarehouse))
}

// NewS3 is New with the warehouse on S3 whatever the environment says,
// for tests of object-store behaviour itself.
func NewS3(t testing.TB) Storage {
	t.Helper()
	return newStorage(t, "s3")
}

func newStorage(t testing.TB, warehouse string) Storage {
	t.Helper()
	dir := t.TempDir()
	s := Storage{LocalDir: dir}
	switch c := os.Getenv(EnvCatalog); c {
	case "", "sqlite":
		s.CatalogURI = "sqlite://" + filepath.Join(dir, "catalog.db")
	case "postgres":
		s.CatalogURI = metadbtest.PostgresURI(t)
	default:
		t.Fatalf("%s=%q: use sqlite or postgres", EnvCatalog, c)
	}
	switch w := warehouse; w {
	case "", "local":
		s.Warehouse = filepath.Join(dir, "warehouse")
	case "s3":
		s.S3 = s3test.New(t)
		s.Warehouse = s.S3.URI("warehouse")
		s.Storage.Props = s.S3.Props()
	default:
		t.Fatalf("%s=%q: use local or s3", EnvWarehouse, w)
	}
	return s
}

// Open opens a lake with opts on fresh storage (opts' own storage fields
// are replaced) and closes it when t ends.
func Open(ctx context.Context, t testing.TB, opts lake.Options) (*lake.Lake, Storage) {
	t.Helper()
	s := New(t)
	l, err := lake.Open(ctx, s.Options(opts))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, s
}
