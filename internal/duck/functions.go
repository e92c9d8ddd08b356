package duck

import (
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync/atomic"

	"github.com/apache/iceberg-go"
	"github.com/duckdb/duckdb-go/v2"
)

// Function names edp registers in every DuckDB it opens. They compute the
// Iceberg bucket transform, which DuckDB has no built-in for (it needs the
// spec's 32-bit Murmur3 over a type-specific byte encoding).
const (
	bucketLongFn   = "__edp_bucket_long"
	bucketStringFn = "__edp_bucket_string"
	bucketBlobFn   = "__edp_bucket_blob"
)

type bucketFunc struct {
	arg duckdb.Type
	lit func(any) iceberg.Literal
}

func (f bucketFunc) Config() duckdb.ScalarFuncConfig {
	n, _ := duckdb.NewTypeInfo(duckdb.TYPE_INTEGER)
	v, _ := duckdb.NewTypeInfo(f.arg)
	return duckdb.ScalarFuncConfig{InputTypeInfos: []duckdb.TypeInfo{n, v}, ResultTypeInfo: n}
}

func (f bucketFunc) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowExecutor: func(values []driver.Value) (any, error) {
		n, ok := values[0].(int32)
		if !ok || n <= 0 {
			return nil, fmt.Errorf("bucket count must be a positive integer, got %v", values[0])
		}
		out := iceberg.BucketTransform{NumBuckets: int(n)}.Apply(iceberg.Optional[iceberg.Literal]{Valid: true, Val: f.lit(values[1])})
		if !out.Valid {
			return nil, nil
		}
		return out.Val.(iceberg.Int32Literal).Value(), nil
	}}
}

// progressFn counts the rows that pass through it: writes put it in their
// WHERE clause so a long load can report rows/s while DuckDB works.
const progressFn = "__edp_progress"

// With no counter it is an ordinary constant function, which DuckDB folds
// to true when it binds a write: counting costs a Go call per row (about 5%
// of a load), paid only when someone watches the progress.
type progressFunc struct{ rows *atomic.Int64 }

func (f progressFunc) Config() duckdb.ScalarFuncConfig {
	b, _ := duckdb.NewTypeInfo(duckdb.TYPE_BOOLEAN)
	// Volatile when counting, so DuckDB neither folds it nor skips rows.
	return duckdb.ScalarFuncConfig{ResultTypeInfo: b, Volatile: f.rows != nil}
}

func (f progressFunc) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowExecutor: func([]driver.Value) (any, error) {
		if f.rows != nil {
			f.rows.Add(1)
		}
		return true, nil
	}}
}

func registerFunctions(conn *sql.Conn, rows *atomic.Int64) error {
	if err := duckdb.RegisterScalarUDF(conn, progressFn, progressFunc{rows}); err != nil {
		return fmt.Errorf("register %s: %w", progressFn, err)
	}
	fns := map[string]bucketFunc{
		// Iceberg hashes int, long, date and timestamp values all as a long.
		bucketLongFn:   {duckdb.TYPE_BIGINT, func(v any) iceberg.Literal { return iceberg.Int64Literal(v.(int64)) }},
		bucketStringFn: {duckdb.TYPE_VARCHAR, func(v any) iceberg.Literal { return iceberg.StringLiteral(v.(string)) }},
		bucketBlobFn:   {duckdb.TYPE_BLOB, func(v any) iceberg.Literal { return iceberg.BinaryLiteral(v.([]byte)) }},
	}
	for name, f := range fns {
		if err := duckdb.RegisterScalarUDF(conn, name, f); err != nil {
			return fmt.Errorf("register %s: %w", name, err)
		}
	}
	return nil
}
